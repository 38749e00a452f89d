//! chainlake: EVM chain → Kafka → Delta Lake (Bronze, Silver, Gold).
//!
//! The libraries do the work: `chainlake_ingest` (RPC → Kafka) and `chainlake_medallion`
//! (Kafka → Bronze → Silver → Gold). This crate holds the one [`config::Config`] and the
//! [`pipeline`] that wires them together for the CLI and the tests, and the [`demo`].

pub mod bench;
pub mod config;
pub mod demo;
pub mod dremio;
pub mod health;
pub mod keys;
pub mod pipeline;
pub mod ticks;
pub mod verify_lake;

/// Seconds since the Unix epoch (names of demo and bench namespaces).
pub fn unix_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
