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
}

/// `[rpc]`: the JSON-RPC endpoint and how to call it. `Debug` hides the URL (API keys).
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RpcConfig {
    /// HTTP(S) endpoint. May embed an API key: it is never logged (see `pseudonym`).
    pub url: String,
    /// Name used for this endpoint in logs and metrics instead of the URL.
    pub pseudonym: String,
    /// Poll interval of the head follower.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Blocks fetched concurrently during backfill.
    pub concurrency: usize,
    /// Retries of rate-limited (429) or failed requests, with backoff.
    pub max_retries: u32,
    /// First backoff step.
    #[serde(with = "humantime_serde")]
    pub initial_backoff: Duration,
}

/// `[kafka]`: where records are published.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct KafkaConfig {
    pub brokers: String,
    /// Prepended to every topic name (empty in production; tests and demos namespace with it).
    pub topic_prefix: String,
    /// Partitions of topics chainlake creates.
    pub partitions: i32,
    pub replication_factor: i32,
    /// `none`, `gzip`, `snappy`, `lz4` or `zstd`.
    pub compression: String,
    #[serde(with = "humantime_serde")]
    pub message_timeout: Duration,
}

impl std::fmt::Debug for RpcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcConfig")
            .field("url", &format_args!("<{}>", self.pseudonym))
            .field("pseudonym", &self.pseudonym)
            .field("poll_interval", &self.poll_interval)
            .field("concurrency", &self.concurrency)
            .field("max_retries", &self.max_retries)
            .field("initial_backoff", &self.initial_backoff)
            .finish()
    }
}
