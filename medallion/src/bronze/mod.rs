//! The Bronze sink: one Delta table per topic, rows as received plus their Kafka envelope.
//!
//! - [`sink`]'s `BronzeSink` runs the consumer loop; `member` tracks this replica's share of
//!   the group, `group` applies rebalances at Delta's offsets and `idle` notices a member
//!   stuck without partitions;
//! - `state` holds each topic's buffers and commits them with their offsets (`txn` actions);
//! - `buffer` and `shape` check and decode records against the schemas of `chainlake_wire`.

pub mod bench;
mod buffer;
mod group;
mod idle;
mod latency;
mod member;
mod shape;
mod sink;
mod sink_stats;
mod state;

pub use buffer::{buffer_for, Envelope, LateReject, RejectBuffer, TableBuffer};
pub use chainlake_wire::schema::{
    bronze_schema, partition_columns, payload_schema, rejected_schema, REJECTED_TABLE,
};
pub use latency::Latencies;
pub use sink::{BronzeSink, Until};
pub use sink_stats::SinkStats;
