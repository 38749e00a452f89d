//! Ingest against the real node, Kafka, Redis and the rate-limited nginx: providers, keys, lies,
//! faults, holes, reorgs, shared backfills, crashes.
//! One test binary per tier (linking the whole tree once, not once per file); each file is
//! one family of tests, each test with its own topics, tables and prefixes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)] // tests fail loudly on purpose

mod backfill_shared;
mod canonical_race;
#[path = "../common/mod.rs"]
mod common;
mod crash_resume;
mod fault_storm;
mod holes;
mod key_pool;
mod key_pool_storm;
mod lies;
mod provider_limits;
mod providers;
mod reorg;
mod reorg_storm;
mod usage_ledger;
