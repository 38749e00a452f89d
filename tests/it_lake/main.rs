//! Kafka into the lake (local disk and the S3 server) and the medallion over it: Bronze exactly
//! once, concurrent commits, incremental Silver/Gold, decoding history, the demo end to end.
//! One test binary per tier (linking the whole tree once, not once per file); each file is
//! one family of tests, each test with its own topics, tables and prefixes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)] // tests fail loudly on purpose

mod bronze_storage;
#[path = "../common/mod.rs"]
mod common;
mod concurrent_commits;
mod decode_history;
mod e2e_demo;
mod medallion_incremental;
mod s3_credentials;
mod sink_exactly_once;
mod sink_group_catchup;
