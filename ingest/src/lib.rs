//! chainlake-ingest: reads an EVM chain over JSON-RPC and publishes it to Kafka.
//!
//! One folder per role; a role's trait sits in a file that imports none of its
//! implementations, and no module imports one that imports it back (tests/it_ops/layout.rs):
//! - [`source`]: the two roles the crawler drives, a `BlockSource` and a `RecordSink`;
//! - [`verify`]: the proofs, pure functions of the raw answers (the height asked for, header
//!   hash, roots, senders, positions), and `RawBlock`, a block as answered with its verdict;
//! - [`rpc`]: a `BlockSource` over JSON-RPC — transport, one provider's calls (2 per block),
//!   several providers with failover (an answer that does not prove is a fault like a 502),
//!   `newHeads`, the usage feed, readiness;
//! - [`keys`]: the API-key pool shared by replicas (leases, quotas, the usage ledgers);
//! - [`crawl`]: the crawler — backfills and their shared ranges, the head follower with its
//!   reorg window, the publication order, transform, re-driving holes;
//! - [`holes`]: heights not yet published verified (the role and its Redis store);
//! - [`publish`]: a `RecordSink` on Kafka, and the decoded records;
//! - [`config`], [`error`], [`metrics`], [`redis_keys`]: one list each of settings, failures,
//!   metrics and Redis keys;
//! - `devnet` (feature `devnet`): a local anvil chain and traffic with a ledger;
//!   `test_utils` (feature `test-utils`): in-process fakes of every role for tests.

pub mod config;
pub mod crawl;
#[cfg(feature = "devnet")]
pub mod devnet;
pub mod error;
pub mod holes;
pub mod keys;
pub mod metrics;
pub mod publish;
pub mod redis_keys;
pub mod rpc;
pub mod source;
#[cfg(any(test, feature = "test-utils"))]
pub mod test_utils;
pub mod verify;

pub use error::{Error, Result};
