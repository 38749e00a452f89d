//! Every metric the medallion crate exports: name, type, labels, meaning. Code refers to the
//! constants; docs/operations.md is checked against [`ALL`] (tests/it_ops/docs.rs in the root crate).

use chainlake_wire::metric::MetricDef;
use chainlake_wire::metric::MetricKind::{Counter, Gauge, Histogram};

macro_rules! metrics {
    ($( $id:ident = $name:literal, $kind:expr, [$($label:literal),*], $help:literal; )*) => {
        $( pub const $id: &str = $name; )*
        /// Every metric of this crate, in the order docs/operations.md lists them.
        pub const ALL: &[MetricDef] = &[
            $( MetricDef { name: $name, kind: $kind, labels: &[$($label),*], help: $help } ),*
        ];
    };
}

metrics! {
    SINK_ROWS = "chainlake_sink_rows_total", Counter, ["topic"], "rows committed to Bronze";
    SINK_BYTES = "chainlake_sink_bytes_total", Counter, ["topic"], "payload bytes committed to Bronze";
    SINK_COMMITS = "chainlake_sink_commits_total", Counter, ["topic"], "Delta commits of rows";
    SINK_COMMIT_SECONDS = "chainlake_sink_commit_seconds", Histogram, ["topic"], "Delta commit latency";
    SINK_HEAD_LAG = "chainlake_sink_head_lag_seconds", Histogram, [],
        "head latency: a block's timestamp on the chain → its row committed to `bronze.blocks`";
    SINK_LAST_COMMIT = "chainlake_sink_last_commit_seconds", Gauge, ["topic"],
        "Unix time of this replica's last Delta commit of rows to a topic's Bronze table";
    SINK_LAG_RECORDS = "chainlake_sink_lag_records", Gauge, ["topic", "partition"],
        "high watermark (librdkafka statistics, every `sink.lag-interval`) minus the next offset to write";
    SINK_REBALANCES = "chainlake_sink_rebalances_total", Counter, ["kind"],
        "consumer-group rebalances (`assign`, `revoke`)";
    SINK_FENCED = "chainlake_sink_fenced_total", Counter, [],
        "commits refused because another replica wrote the partition first, or that lost the race for a log version 100 times; the sink rejoins from Delta's offsets";
    SINK_REJECTED = "chainlake_sink_rejected_total", Counter, ["topic"], "records sent to `_rejected`";
    SINK_ASSIGNED_PARTITIONS = "chainlake_sink_assigned_partitions", Gauge, [],
        "partitions this sink replica holds now";
    SINK_STALLS = "chainlake_sink_stalls_total", Counter, [],
        "times this replica held no partition while partitions were behind and not advancing for a session timeout; it takes them over until they are caught up, then rejoins";
    SINK_CONSUMER_ERRORS = "chainlake_sink_consumer_errors_total", Counter, [], "Kafka consumer errors";
    MAINTENANCE_SECONDS = "chainlake_maintenance_seconds", Histogram, ["op"],
        "`lake optimize / vacuum / checkpoint` durations";
    JOB_ROWS = "chainlake_job_rows", Gauge, ["table"], "rows a Silver/Gold job wrote";
    JOB_ROWS_READ = "chainlake_job_rows_read", Gauge, ["table"],
        "rows in the input partitions the last run of a job read (from their file statistics)";
    JOB_SECONDS = "chainlake_job_seconds", Histogram, ["table"], "Silver/Gold job duration";
    JOB_PARTITIONS = "chainlake_job_partitions", Gauge, ["table"],
        "partitions the last run of a job rewrote (0: nothing changed; a full rebuild counts every one)";
    JOB_LAST_SUCCESS = "chainlake_job_last_success_seconds", Gauge, ["table"],
        "Unix time of a job's last successful scheduled run";
    JOB_CONSECUTIVE_FAILURES = "chainlake_job_consecutive_failures", Gauge, [],
        "scheduled medallion runs that failed in a row (0 after a success)";
    DREMIO_REFRESHES = "chainlake_dremio_refreshes_total", Counter, ["table", "outcome"],
        "`ALTER TABLE … REFRESH METADATA` sent to Dremio after a run committed to a table (`ok`, `failed`)";
    DECODE_RESULTS = "chainlake_decode_results_total", Counter, ["kind", "status"],
        "calls and logs `decode_call` / `decode_event` did not fully decode (`kind` call or event; `status` named, ambiguous, unknown or failed)";
}
