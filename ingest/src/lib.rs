//! chainlake-ingest: reads an EVM chain over JSON-RPC and publishes it to Kafka.
//!
//! Roles, one module each:
//! - [`rpc`] extracts raw blocks and receipts (2 requests per block) from one provider;
//! - [`providers`] puts several providers behind one interface (failover, demotion), with
//!   [`heads`] for `newHeads` over WebSocket;
//! - [`transform`] turns them into the wire records of [`wire`], classifying every transaction;
//! - [`publish`] writes those records to the `{chain}.*` Kafka topics;
//! - [`crawler`] drives extract → transform → publish for backfills and head following;
//! - [`backfill`] shares a backfill range among processes (Redis leases, checkpoints), with
//!   [`progress`] reporting;
//! - [`devnet`] runs a local anvil chain and generates realistic traffic with a ledger.

pub mod backfill;
pub mod canonical;
pub mod config;
pub mod crawler;
pub mod devnet;
pub mod error;
pub mod heads;
pub mod hexnum;
pub mod progress;
pub mod providers;
pub mod publish;
pub mod rpc;
pub mod transform;
pub mod window_store;
pub mod wire;

pub use error::{Error, Result};
