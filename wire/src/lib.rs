//! chainlake-wire: the contract between ingest and medallion.
//!
//! - [`records`]: the JSON records of every `{chain}.*` topic, with [`records::SCHEMA_VERSION`];
//! - [`topics`]: topic names and kinds of a chain, and [`TopicPartition`];
//! - [`schema`]: the Arrow schema of each Bronze table, derived from the record types
//!   ([`columns`]), plus the Kafka envelope and the `block_date` partition;
//! - [`hexnum`]: lossless readers of JSON-RPC hex quantities;
//! - [`kafka`]: the `[kafka]` config section;
//! - [`metric`]: the shape of the metric lists each crate keeps in its `metrics.rs`;
//! - `fixtures` (feature `fixtures`): record builders for tests and benchmarks.
//!
//! It depends on neither alloy nor Kafka nor Delta, so both sides build against it alone.

pub mod clock;
pub mod columns;
pub mod hexnum;
pub mod kafka;
pub mod metric;
pub mod records;
pub mod schema;
pub mod topics;

#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;

pub use kafka::KafkaConfig;
pub use records::{
    BlockBundle, BlockRecord, ChainEventKind, ChainEventRecord, DecodedBundle, DecodedCallRecord,
    DecodedEventRecord, LogRecord, RpcUsageRecord, TxClass, TxRecord, UnverifiedRecord, SCHEMA_VERSION,
};
pub use topics::{TopicKind, TopicPartition, Topics};
