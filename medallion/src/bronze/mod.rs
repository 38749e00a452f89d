//! The Bronze sink: one Delta table per topic, rows as received plus their Kafka envelope.

pub mod bench;
mod buffer;
mod group;
mod latency;
mod schema;
mod shape;
mod sink;
mod state;

pub use buffer::{buffer_for, Envelope, LateReject, RejectBuffer, TableBuffer};
pub use latency::Latencies;
pub use schema::{bronze_schema, partition_columns, payload_schema, rejected_schema, REJECTED_TABLE};
pub use sink::{BronzeSink, SinkStats, Until};
pub use state::txn_version;
