//! What an operator relies on: readiness, no secret in any output, Prometheus rules and
//! dashboards, compose and Swarm files, Dremio, docs that match the code, the crate layout.
//! One test binary per tier (linking the whole tree once, not once per file); each file is
//! one family of tests, each test with its own topics, tables and prefixes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)] // tests fail loudly on purpose

#[path = "../common/mod.rs"]
mod common;
mod compose;
mod docs;
mod dremio;
mod layout;
mod prometheus;
mod readiness;
mod secrets;
