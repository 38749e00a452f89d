//! chainlake: EVM chain → Kafka → Delta Lake (Bronze, Silver, Gold).
//!
//! The libraries do the work: `chainlake_ingest` (RPC → Kafka) and `chainlake_medallion`
//! (Kafka → Bronze → Silver → Gold). This crate holds the one [`config::Config`] and the
//! [`pipeline`] that wires them together for the CLI and the tests ([`error`] its failures),
//! [`repair`], [`verify_lake`], the [`demo`] and the benchmarks.

pub mod bench;
pub mod config;
pub mod demo;
pub mod dremio;
pub mod error;
pub mod health;
pub mod keys;
pub mod pipeline;
pub mod repair;
pub mod ticks;
pub mod verify_lake;
