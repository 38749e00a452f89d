//! chainlake-medallion: Kafka → Bronze Delta tables (exactly-once), then Silver and Gold.
//!
//! - [`lake`] resolves table locations (local directory or `s3://`) and writes Delta tables;
//! - [`bronze`] is the sink: one Bronze table per topic, Kafka offsets in the Delta commit;
//! - [`job`] reads the SQL files of `sql/` (compiled in) and [`jobs`] runs them on DataFusion
//!   to build Silver and Gold, each job incrementally from its checkpoint ([`incremental`]);
//! - [`decode_udf`] gives the SQL chainlake-decode's `decode_call` and `decode_event`, and
//!   [`canonical`] the one canonical rule as `canonical_block(...)`;
//! - [`catalog`] registers every table of a chain by name (`bronze.x`, `silver.x`, `gold.x`);
//! - [`maintenance`] compacts, vacuums and checks tables; [`metrics`] lists every metric.

pub mod bronze;
pub mod canonical;
pub mod catalog;
pub mod config;
pub mod decode_udf;
pub mod error;
pub mod incremental;
pub mod job;
pub mod jobs;
pub mod lake;
pub mod maintenance;
pub mod metrics;
pub mod schedule;
pub mod udf;

/// Re-exported so dependants use the exact arrow/datafusion versions of the lake.
pub use deltalake;
pub use error::{Error, Result};
