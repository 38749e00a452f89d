//! The Bronze sink: one Delta table per topic, rows as received plus their Kafka envelope.

pub mod bench;
mod buffer;
mod group;
mod schema;
mod sink;
mod state;

pub use buffer::{buffer_for, Envelope, RejectBuffer, TableBuffer};
pub use schema::{bronze_schema, partition_columns, rejected_schema, REJECTED_TABLE};
pub use sink::{BronzeSink, SinkStats, Until};
