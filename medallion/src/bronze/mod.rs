//! The Bronze sink: one Delta table per topic, rows as received plus their Kafka envelope.

mod buffer;
mod schema;
mod sink;

pub use buffer::{buffer_for, Envelope, RejectBuffer, TableBuffer};
pub use schema::{bronze_schema, rejected_schema, REJECTED_TABLE};
pub use sink::{BronzeSink, SinkStats, Until};
