//! chainlake-medallion: Kafka → Bronze Delta tables (exactly-once), then Silver and Gold.
//!
//! One folder per role; no module imports one that imports it back (tests/it_ops/layout.rs):
//! - [`lake`]: table locations (local directory or `s3://`), writing Delta tables, the `txn`
//!   checkpoints inside commits, maintenance (compact, vacuum, checkpoint, check);
//! - [`bronze`]: the sink, one Bronze table per topic, Kafka offsets in the Delta commit;
//! - [`jobs`]: the SQL files of `sql/` run on DataFusion to build Silver and Gold — their specs,
//!   the catalog of tables by name, the SQL functions (EVM words, decoding, the canonical
//!   rule), incremental runs from each table's checkpoint, the schedule;
//! - [`config`] (importing no sibling), [`error`], [`metrics`]: one list each.

pub mod bronze;
pub mod config;
pub mod error;
pub mod jobs;
pub mod lake;
pub mod metrics;

/// Re-exported so dependants use the exact arrow/datafusion versions of the lake.
pub use deltalake;
pub use error::{Error, Result};
