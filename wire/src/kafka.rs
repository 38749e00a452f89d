//! `[kafka]`: the Kafka section both the producer (ingest) and the sink (medallion) read.

use std::time::Duration;

use serde::Deserialize;

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
