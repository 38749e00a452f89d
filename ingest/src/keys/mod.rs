//! The API-key pool: many keys of hosted providers shared by many replicas, never overrun.
//!
//! - [`config`]: `[keys]`, providers as URL templates, keys by pseudonym with their limits and
//!   where their secrets come from;
//! - [`lease`]: at any instant a key is used by one replica only (Redis `SET NX PX` with a
//!   fencing token, heartbeats, cooldowns shared by every replica);
//! - [`ledger`]: rolling per-key request counts (per minute, last 24 h, per UTC day), in Redis
//!   or ScyllaDB ([`ledger::scylla`]);
//! - [`pick`]: which key a replica takes (the least used among the free ones that have quota
//!   left) and why it waits when none is free.
//!
//! Secrets never leave [`config::ResolvedKey::url`]: every other type, log line, metric and
//! error names a key by its pseudonym.

pub mod config;
pub mod gate;
pub mod lease;
pub mod ledger;
pub mod monitor;
pub mod pick;
pub mod pool;

#[cfg(test)]
mod pool_tests;

/// What can go wrong in the key pool; every variant names the key by pseudonym.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A `[keys]` setting or key that cannot work.
    #[error("invalid key pool config ({key}): {reason}")]
    Config { key: String, reason: String },
    /// The lease or ledger store failed: no request is sent without a lease (fail closed).
    #[error("key store: {action} failed (chain {chain}): {reason}")]
    Store { chain: String, action: &'static str, reason: String },
}

/// Result alias of the key pool.
pub type KeyResult<T> = std::result::Result<T, KeyError>;
