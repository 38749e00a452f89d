//! Incremental Silver and Gold: each job rewrites only the partitions its inputs changed
//! since its checkpoint (the input versions it read, as `txn` actions in its own commits).
//!
//! - [`changes`] reads what changed in a table between two versions from its commit files;
//! - [`scope`] decides what a run rewrites (nothing, everything, some days);
//! - [`slices`] splits a run into commits bounded by days and by input rows;
//! - [`run`] runs one job: restricted inputs, streamed rows, `replaceWhere` commit.

pub mod changes;
pub mod run;
pub mod scope;
pub mod slices;

pub use run::{run_job, JobReport, Opened, Refresh, RunLimits};
pub use scope::Scope;
