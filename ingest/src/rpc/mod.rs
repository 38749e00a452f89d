//! Reading one chain over JSON-RPC: everything between a provider and a proven block (the
//! proofs themselves are [`crate::verify`]).
//!
//! - [`transport`]: the HTTP transport (timeouts, no URL in any span, the key gate);
//! - [`client`]: one provider's calls, two per block ([`client::RpcSource`]);
//! - [`providers`]: several providers behind one interface (failover, lies as faults, rests,
//!   demotion), implementing the [`crate::source::BlockSource`] role;
//! - [`heads`]: `newHeads` over WebSocket;
//! - [`usage`]: one `ops.rpc_usage` record per request; [`readiness`]: what `/readyz` says of
//!   the node and the other dependencies; [`probe`]: Kafka reachability.

pub mod client;
pub mod heads;
pub mod probe;
pub mod providers;
pub mod readiness;
pub mod transport;
pub mod usage;
