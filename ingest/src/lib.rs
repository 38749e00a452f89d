//! chainlake-ingest: reads an EVM chain over JSON-RPC and publishes it to Kafka.
//!
//! Roles, one module each:
//! - [`source`] names the two roles the crawler drives: a `BlockSource` and a `RecordSink`;
//! - [`rpc`] extracts raw blocks and receipts (2 requests per block) from one provider, over
//!   [`transport`] (timeouts, no URL in any span);
//! - [`verify`] proves a block and its receipts are the ones asked for and the ones the header
//!   commits to (hash, roots, senders);
//! - [`providers`] puts several providers behind one interface (failover, demotion, rests; an
//!   answer that does not prove is a fault like a 502), with [`heads`] for `newHeads`;
//! - [`holes`] keeps the heights not yet published verified, and re-drives them;
//! - [`transform`] turns them into the wire records of `chainlake_wire`, classifying every transaction;
//! - [`publish`] writes those records to the `{chain}.*` Kafka topics;
//! - [`sequence`] numbers what the follower publishes (Silver orders by it);
//! - [`crawler`] drives extract → transform → publish for backfills, and [`follow`] for the
//!   head (reorg healing against the [`canonical`] window, persisted by [`window_store`]);
//! - [`backfill`] shares a backfill range among processes (Redis leases, checkpoints), with
//!   [`progress`] reporting;
//! - [`usage`] feeds every request to `{chain}.ops.rpc_usage` (the usage ledger's audit);
//! - [`metrics`] lists every metric the crate exports;
//! - `devnet` (feature `devnet`) runs a local anvil chain and generates traffic with a ledger.

pub mod backfill;
pub mod canonical;
pub mod config;
pub mod crawler;
pub mod decoded;
#[cfg(feature = "devnet")]
pub mod devnet;
pub mod error;
pub mod follow;
pub mod heads;
pub mod holes;
pub mod keys;
pub mod metrics;
pub mod probe;
pub mod progress;
pub mod providers;
pub mod publish;
pub mod readiness;
pub mod rpc;
pub mod sequence;
pub mod source;
#[cfg(test)]
mod testing;
pub mod transform;
pub mod transport;
pub mod usage;
pub mod verify;
pub mod window_store;

pub use error::{Error, Result};
