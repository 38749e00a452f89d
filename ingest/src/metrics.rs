//! Every metric the ingest crate exports: name, type, labels, meaning. Code refers to the
//! constants; docs/operations.md is checked against [`ALL`] (tests/it_ops/docs.rs in the root crate).

use chainlake_wire::metric::MetricDef;
use chainlake_wire::metric::MetricKind::{Counter, Gauge, Histogram};

macro_rules! metrics {
    ($( $(#[$doc:meta])* $id:ident = $name:literal, $kind:expr, [$($label:literal),*], $help:literal; )*) => {
        $( $(#[$doc])* pub const $id: &str = $name; )*
        /// Every metric of this crate, in the order docs/operations.md lists them.
        pub const ALL: &[MetricDef] = &[
            $( MetricDef { name: $name, kind: $kind, labels: &[$($label),*], help: $help } ),*
        ];
    };
}

metrics! {
    RPC_REQUESTS = "chainlake_rpc_requests_total", Counter, ["chain", "provider", "method", "outcome"],
        "JSON-RPC HTTP requests by outcome (`ok`, `error_response`, `transport_error`, `failed`)";
    RPC_REQUEST_SECONDS = "chainlake_rpc_request_seconds", Histogram, ["chain", "provider", "method"],
        "request latency";
    RPC_REQUESTS_PER_BLOCK = "chainlake_rpc_requests_per_block", Gauge, ["chain"],
        "requests sent / blocks published (target 2)";
    RPC_BATCHED_CALLS = "chainlake_rpc_batched_calls_total", Counter, ["chain", "provider", "method"],
        "calls inside JSON-RPC batches (a batch is one request)";
    RPC_RECEIPTS_FALLBACK = "chainlake_rpc_receipts_fallback_total", Counter, ["chain", "provider"],
        "provider found without `eth_getBlockReceipts`";
    PROVIDER_HEAD = "chainlake_provider_head", Gauge, ["chain", "provider"], "each provider's head";
    PROVIDER_HEAD_LAG = "chainlake_provider_head_lag_blocks", Gauge, ["chain", "provider"],
        "blocks behind the best known head";
    PROVIDER_ACTIVE = "chainlake_provider_active", Gauge, ["chain", "provider"], "1 for the provider in use";
    PROVIDER_DEMOTED = "chainlake_provider_demoted", Gauge, ["chain", "provider"], "1 while demoted";
    PROVIDER_DEMOTIONS = "chainlake_provider_demotions_total", Counter, ["chain", "provider", "reason"],
        "demotions (`failing`, `lying`, `lag_blocks`, `stale`, `outlier`)";
    PROVIDER_REFUSED = "chainlake_provider_refused_total", Counter, ["chain", "provider"],
        "providers refused at start because they serve another chain id";
    WS_CONNECTED = "chainlake_ws_connected", Gauge, ["chain", "provider"], "1 while the `newHeads` WebSocket is up";
    WS_RECONNECTS = "chainlake_ws_reconnects_total", Counter, ["chain", "provider"], "`newHeads` WebSocket reconnects";
    BACKFILL_CHUNKS = "chainlake_backfill_chunks_total", Counter, ["chain"], "backfill chunks finished by this process";
    BLOCKS_PUBLISHED = "chainlake_blocks_published_total", Counter, ["chain"], "blocks published";
    LAST_PUBLISHED_BLOCK = "chainlake_last_published_block", Gauge, ["chain"], "highest height published";
    NODE_HEAD = "chainlake_node_head", Gauge, ["chain"], "the head the follower read";
    REORGS = "chainlake_reorgs_total", Counter, ["chain"], "reorgs healed";
    REORG_DEPTH = "chainlake_reorg_depth", Histogram, ["chain"], "blocks replaced per reorg";
    REORG_TOO_DEEP = "chainlake_reorg_too_deep_total", Counter, ["chain"], "reorgs beyond `chain.reorg-window`";
    REORG_BEYOND_CONFIRMATIONS = "chainlake_reorg_beyond_confirmations_total", Counter, ["chain"],
        "reorgs deeper than `chain.confirmations` (heights already announced confirmed changed)";
    FLAGGED_TXS = "chainlake_flagged_txs_total", Counter, ["chain"],
        "transactions kept with a flag (unknown type, no receipt)";
    RPC_RETRY_ROUNDS = "chainlake_rpc_retry_rounds_total", Counter, ["chain", "call"],
        "rounds in which every provider failed a call, then waited and retried";
    RPC_WAITING = "chainlake_rpc_waiting", Gauge, ["chain", "call"],
        "1 while every provider fails this call and ingest waits for one to answer";
    VERIFY_FAILURES = "chainlake_verify_failures_total", Counter, ["chain", "provider", "reason"],
        "fetched blocks that failed verification, per provider and reason (then re-fetched)";
    VERIFY_SECONDS = "chainlake_verify_seconds", Histogram, ["chain"], "time to verify one block";
    BLOCKS_VERIFIED = "chainlake_blocks_verified_total", Counter, ["chain"],
        "blocks proven against their header before publishing";
    BLOCKS_UNVERIFIED = "chainlake_blocks_unverified_total", Counter, ["chain", "reason"],
        "blocks that failed every attempt (strict: to `{chain}.unverified`; warn: published flagged), each kept as a hole";
    HOLES = "chainlake_holes", Gauge, ["chain"],
        "heights not yet published verified, pending re-drive (as of this process's last change to them)";
    KEY_LEASED = "chainlake_key_leased", Gauge, ["chain", "key"], "1 while this replica holds the key's lease";
    KEY_WAITS = "chainlake_key_waits_total", Counter, ["chain"],
        "attempts to lease a key that found none free (held, cooling or parked)";
    KEY_THROTTLED = "chainlake_key_throttled_total", Counter, ["chain", "key"],
        "429 or quota answers on a key (it cools down for every replica)";
    KEY_PARKS = "chainlake_key_parks_total", Counter, ["chain", "key"], "keys given up at their daily quota";
    KEY_REMAINING = "chainlake_key_remaining_requests", Gauge, ["chain", "key"],
        "requests left in the key's 24-hour window (from the ledger)";
    KEY_PARKED = "chainlake_key_parked", Gauge, ["chain", "key"], "1 while the key is at its daily quota";
    KEY_REQUESTS = "chainlake_key_requests_total", Counter, ["chain", "key", "status"],
        "requests sent on each key by this replica, by HTTP status class";
    KEY_OBSERVED = "chainlake_key_observed_requests_total", Counter, ["chain", "key", "provider", "outcome"],
        "requests on each key read from `ops.rpc_usage` by `keys monitor` (every replica's)";
    KEY_LATENCY = "chainlake_key_latency_seconds", Histogram, ["chain", "key"],
        "request latency per key, from `ops.rpc_usage` (`keys monitor`)";
    USAGE_MALFORMED = "chainlake_usage_malformed_total", Counter, ["chain"],
        "`ops.rpc_usage` records `keys monitor` could not parse (skipped, logged with coordinates)";
    USAGE_DROPPED = "chainlake_usage_dropped_total", Counter, ["chain"],
        "usage records (`ops.rpc_usage`) not delivered: queue full or broker refused";
    DECODED_PUBLISHED = "chainlake_decoded_published_total", Counter, ["chain", "kind", "status"],
        "decoded calls and events published (`decoded.calls` / `decoded.events`) by decode status";
    KAFKA_RECORDS = "chainlake_kafka_records_total", Counter, ["topic"], "records published";
    KAFKA_BYTES = "chainlake_kafka_bytes_total", Counter, ["topic"], "payload bytes published";
    DEPENDENCY_READY = "chainlake_dependency_ready", Gauge, ["dependency"],
        "1 while a dependency of this command answered within `metrics.ready-within` and has not failed since (`/readyz`)";
}
