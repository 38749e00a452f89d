//! A local devnet for demos and tests: an anvil process, real contract artifacts from npm,
//! and a traffic generator that records what it sent in a [`Ledger`].

mod anvil;
mod artifacts;
pub mod bulk;
mod ledger;
mod node;
mod traffic;

pub use anvil::Anvil;
pub use artifacts::{Artifact, Artifacts};
pub use ledger::Ledger;
pub use traffic::{generate, TrafficConfig};
