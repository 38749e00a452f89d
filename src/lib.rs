//! chainlake: EVM chain → Kafka → Delta Lake (Bronze, Silver, Gold).
//!
//! The libraries do the work: `chainlake_ingest` (RPC → Kafka) and `chainlake_medallion`
//! (Kafka → Bronze → Silver → Gold). This crate holds the one [`config::Config`] and the
//! [`pipeline`] that wires them together for the CLI, the demo and the end-to-end tests.

pub mod config;
pub mod pipeline;
