//! Configuration sections read by the ingest crate (part of the one `chainlake` config).

use std::time::Duration;

use serde::Deserialize;

/// `[chain]`: which chain this deployment follows.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ChainConfig {
    /// Short name used in topics, tables and metrics (e.g. `ethereum`, `devnet`).
    pub name: String,
    /// EIP-155 chain id, checked against the node on start.
    pub chain_id: u64,
    /// Depth at which a height is announced `confirmed` on `{chain}.chain_events`.
    pub confirmations: u64,
    /// Recent canonical hashes kept to detect and heal reorgs; a deeper reorg is an error.
    pub reorg_window: u64,
    /// How fetched blocks are proven against their headers (see verify/).
    #[serde(default)]
    pub verify: VerifyMode,
    /// Fraction of each block's transactions whose sender is recovered from the signature and
    /// compared with `from` (1.0: all; docs/benchmarks.md has the cost).
    #[serde(default = "all_senders")]
    pub verify_senders: f64,
}

fn all_senders() -> f64 {
    1.0
}

impl ChainConfig {
    /// Refuses a sender fraction outside 0..=1.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        if !(0.0..=1.0).contains(&self.verify_senders) {
            return Err(InvalidConfig {
                key: "chain.verify-senders",
                reason: "must be within 0.0..=1.0".into(),
            });
        }
        Ok(())
    }
}

/// `chain.verify`: what a block must prove before it is published to `{chain}.blocks`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum VerifyMode {
    /// Header hash, transactions, receipts and withdrawals roots must match; a block that
    /// keeps failing goes to `{chain}.unverified`, never to `{chain}.blocks`.
    #[default]
    Strict,
    /// Checked and counted; a failing block is still published, with `verified = false`.
    Warn,
    /// Not checked (chains whose header format alloy does not know); `verified = false`.
    Off,
}

/// `[rpc]`: the JSON-RPC providers of the chain and how to call them. The primary provider is
/// `url`; `fallbacks` are tried in order when it is demoted. `Debug` hides every URL (API keys).
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RpcConfig {
    /// HTTP(S) endpoint of the primary provider. May embed an API key: it is never logged.
    pub url: String,
    /// Name used for the primary provider in logs and metrics instead of the URL.
    pub pseudonym: String,
    /// WebSocket endpoint of the primary provider for `newHeads`; empty: poll `eth_blockNumber`.
    #[serde(default)]
    pub ws_url: String,
    /// Further providers, in order of preference.
    #[serde(default)]
    pub fallbacks: Vec<ProviderConfig>,
    /// Poll interval of the head follower (without WebSocket, or while it is down).
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Blocks fetched concurrently during backfill.
    pub concurrency: usize,
    /// Retries of rate-limited (429) or failed requests, with backoff.
    pub max_retries: u32,
    /// First backoff step.
    #[serde(with = "humantime_serde")]
    pub initial_backoff: Duration,
    /// `eth_getTransactionReceipt` calls per JSON-RPC batch when a provider lacks
    /// `eth_getBlockReceipts`.
    pub receipts_batch_size: usize,
    /// A provider whose head is this many blocks behind the best known head is demoted.
    pub max_head_lag_blocks: u64,
    /// A provider whose head is this many blocks above the median of the others' (three or
    /// more providers) is an outlier: demoted, its head not believed.
    pub max_head_lead_blocks: u64,
    /// A provider whose head has not moved for this long while another's has is demoted;
    /// also how long a silent WebSocket subscription is trusted.
    #[serde(with = "humantime_serde")]
    pub max_head_lag_time: Duration,
    /// Consecutive failed calls (after retries) that demote a provider.
    pub max_failures: u32,
    /// How often the heads of the other providers are checked (costs one request each).
    #[serde(with = "humantime_serde")]
    pub head_check_interval: Duration,
    /// How long a demoted provider is left alone before it may be used again.
    #[serde(with = "humantime_serde")]
    pub demotion_cooldown: Duration,
    /// Bound on one HTTP request, connect to last byte (a silent server is a failure).
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Longest wait between two rounds over every provider while all of them fail.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
    /// When every provider has failed for this long, the process stops with one line.
    #[serde(with = "humantime_serde")]
    pub give_up_after: Duration,
    /// The longest `Retry-After` honoured: a provider asking for more rests this long (the
    /// others serve meanwhile).
    #[serde(with = "humantime_serde")]
    pub max_retry_after: Duration,
    /// Answers of one block that fail verification (over all providers, with backoff between
    /// rounds) before the height is kept as a hole to re-drive later.
    pub verify_attempts: u32,
}

/// One entry of `rpc.fallbacks`.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ProviderConfig {
    pub url: String,
    pub pseudonym: String,
    #[serde(default)]
    pub ws_url: String,
}

impl RpcConfig {
    /// Every provider in order of preference, the primary first.
    pub fn providers(&self) -> Vec<ProviderConfig> {
        let primary = ProviderConfig {
            url: self.url.clone(),
            pseudonym: self.pseudonym.clone(),
            ws_url: self.ws_url.clone(),
        };
        std::iter::once(primary).chain(self.fallbacks.iter().cloned()).collect()
    }

    /// Refuses values that cannot work (zero durations, zero sizes), naming the key.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        let durations = [
            ("rpc.poll-interval", self.poll_interval),
            ("rpc.initial-backoff", self.initial_backoff),
            ("rpc.max-head-lag-time", self.max_head_lag_time),
            ("rpc.request-timeout", self.request_timeout),
            ("rpc.max-backoff", self.max_backoff),
            ("rpc.give-up-after", self.give_up_after),
            ("rpc.max-retry-after", self.max_retry_after),
        ];
        for (key, d) in durations {
            if d.is_zero() {
                return Err(InvalidConfig { key, reason: "must be longer than 0s".into() });
            }
        }
        let counts = [
            ("rpc.concurrency", self.concurrency as u64),
            ("rpc.receipts-batch-size", self.receipts_batch_size as u64),
            ("rpc.max-failures", u64::from(self.max_failures)),
            ("rpc.verify-attempts", u64::from(self.verify_attempts)),
        ];
        for (key, n) in counts {
            if n == 0 {
                return Err(InvalidConfig { key, reason: "must be at least 1".into() });
            }
        }
        if self.max_backoff < self.initial_backoff {
            return Err(InvalidConfig {
                key: "rpc.max-backoff",
                reason: "must not be below rpc.initial-backoff".into(),
            });
        }
        Ok(())
    }

    /// Sets the primary provider (demo and tests point it at their own node).
    pub fn set_primary(&mut self, url: String, pseudonym: String, ws_url: String) {
        self.url = url;
        self.pseudonym = pseudonym;
        self.ws_url = ws_url;
    }
}

/// A configuration value that cannot work, refused at start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {key} {reason}")]
pub struct InvalidConfig {
    pub key: &'static str,
    pub reason: String,
}

impl BackfillConfig {
    /// Refuses a zero chunk size or duration.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        if self.chunk_size == 0 {
            return Err(InvalidConfig { key: "backfill.chunk-size", reason: "must be at least 1".into() });
        }
        for (key, d) in [
            ("backfill.lease-ttl", self.lease_ttl),
            ("backfill.checkpoint-interval", self.checkpoint_interval),
        ] {
            if d.is_zero() {
                return Err(InvalidConfig { key, reason: "must be longer than 0s".into() });
            }
        }
        Ok(())
    }
}

/// `[backfill]`: how `chainlake ingest backfill` splits a range among processes.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BackfillConfig {
    /// Blocks per chunk; a process leases one chunk at a time in Redis.
    pub chunk_size: u64,
    /// A chunk whose worker stopped renewing its lease for this long is reclaimed.
    #[serde(with = "humantime_serde")]
    pub lease_ttl: Duration,
    /// How often progress is checkpointed to Redis and logged when not on a terminal.
    #[serde(with = "humantime_serde")]
    pub checkpoint_interval: Duration,
}

/// `[holes]`: heights not yet published verified, and how they are re-driven (crate::holes).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HolesConfig {
    /// First re-drive of a hole this long after it was found, doubling each time it fails.
    #[serde(with = "humantime_serde")]
    pub initial_backoff: Duration,
    /// Longest wait between two re-drives of one hole.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
    /// How often a follower re-drives the holes that are due.
    #[serde(with = "humantime_serde")]
    pub check_interval: Duration,
    /// Holes re-driven at most per check.
    pub batch: usize,
    /// How long a backfill re-drives its range's holes once its chunks are done, before it
    /// ends saying how many are left.
    #[serde(with = "humantime_serde")]
    pub backfill_wait: Duration,
}

impl HolesConfig {
    /// Refuses zero durations and batches.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        for (key, d) in [
            ("holes.initial-backoff", self.initial_backoff),
            ("holes.max-backoff", self.max_backoff),
            ("holes.check-interval", self.check_interval),
        ] {
            if d.is_zero() {
                return Err(InvalidConfig { key, reason: "must be longer than 0s".into() });
            }
        }
        if self.batch == 0 {
            return Err(InvalidConfig { key: "holes.batch", reason: "must be at least 1".into() });
        }
        Ok(())
    }
}

fn redacted(pseudonym: &str) -> String {
    format!("<{pseudonym}>")
}

impl std::fmt::Debug for RpcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcConfig")
            .field("url", &redacted(&self.pseudonym))
            .field("pseudonym", &self.pseudonym)
            .field("ws_url", &redacted(&self.pseudonym))
            .field("fallbacks", &self.fallbacks)
            .field("poll_interval", &self.poll_interval)
            .field("concurrency", &self.concurrency)
            .field("max_retries", &self.max_retries)
            .field("initial_backoff", &self.initial_backoff)
            .field("receipts_batch_size", &self.receipts_batch_size)
            .field("max_head_lag_blocks", &self.max_head_lag_blocks)
            .field("max_head_lead_blocks", &self.max_head_lead_blocks)
            .field("max_head_lag_time", &self.max_head_lag_time)
            .field("max_failures", &self.max_failures)
            .field("head_check_interval", &self.head_check_interval)
            .field("demotion_cooldown", &self.demotion_cooldown)
            .field("request_timeout", &self.request_timeout)
            .field("max_backoff", &self.max_backoff)
            .field("give_up_after", &self.give_up_after)
            .field("max_retry_after", &self.max_retry_after)
            .field("verify_attempts", &self.verify_attempts)
            .finish()
    }
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("url", &redacted(&self.pseudonym))
            .field("pseudonym", &self.pseudonym)
            .field("ws_url", &redacted(&self.pseudonym))
            .finish()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The shipped defaults of `[rpc]` (config/defaults.toml), for unit tests of this crate.
    pub(crate) fn defaults() -> RpcConfig {
        RpcConfig {
            url: "http://127.0.0.1:8545".into(),
            pseudonym: "local-anvil".into(),
            ws_url: String::new(),
            fallbacks: Vec::new(),
            poll_interval: Duration::from_millis(500),
            concurrency: 8,
            max_retries: 10,
            initial_backoff: Duration::from_millis(200),
            receipts_batch_size: 100,
            max_head_lag_blocks: 5,
            max_head_lead_blocks: 64,
            max_head_lag_time: Duration::from_secs(60),
            max_failures: 3,
            head_check_interval: Duration::from_secs(15),
            demotion_cooldown: Duration::from_secs(60),
            request_timeout: Duration::from_secs(10),
            max_backoff: Duration::from_secs(5),
            give_up_after: Duration::from_secs(600),
            max_retry_after: Duration::from_secs(60),
            verify_attempts: 5,
        }
    }
}
