//! The API-key pool: many keys of hosted providers shared by many replicas, never overrun.
//!
//! - [`config`]: `[keys]`, providers as URL templates, keys by pseudonym with their limits and
//!   where their secrets come from;
//! - [`lease`]: at any instant a key is used by one replica only (Redis `SET NX PX` with a
//!   fencing token, heartbeats, cooldowns shared by every replica);
//! - [`ledger`]: rolling per-key request counts (per minute, last 24 h, per UTC day), in Redis
//!   or ScyllaDB ([`ledger::scylla`]);
//! - [`RequestGate`]: what the transport asks of the pool before and after each request
//!   (implemented by [`pool::KeyPool`] in [`gate`]);
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

/// What stands before every request of a key-pool endpoint (the replica's key lease, its rate
/// limit and the ledger: [`pool::KeyPool`], in gate.rs) and hears every answer.
pub trait RequestGate: Send + Sync {
    /// Waits until one call of `method` may go out on key `index`; the lease's fencing token,
    /// or why not.
    fn admit<'a>(
        &'a self,
        index: usize,
        method: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64, String>> + Send + 'a>>;
    /// This replica's name (sent with each request, with the lease token: an audit trail of
    /// who used a key when, on the provider's side).
    fn replica(&self) -> &str;
    /// The answer to a request of `methods` on key `index` (`status` 0: no HTTP answer).
    fn answered(
        &self,
        index: usize,
        methods: &[String],
        status: u16,
        latency: std::time::Duration,
        retry_after: Option<std::time::Duration>,
    );
    /// The key this replica may send on now, if any.
    fn current(&self) -> Option<usize>;
    /// The name of the provider key `index` belongs to.
    fn provider(&self, index: usize) -> &str;
}

/// What can go wrong in the key pool; every variant names the key by pseudonym.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A `[keys]` setting or key that cannot work.
    #[error("invalid key pool config ({key}): {reason}")]
    Config { key: String, reason: String },
    /// The lease or ledger store failed: no request is sent without a lease (fail closed).
    #[error("key store: {action} failed (chain {chain}): {reason}")]
    Store { chain: String, action: &'static str, reason: String },
    /// Reading the usage topic failed (`chainlake keys monitor`).
    #[error("kafka: {action} failed (brokers {brokers}): {source}")]
    Kafka { action: &'static str, brokers: String, source: Box<rdkafka::error::KafkaError> },
}

/// Result alias of the key pool.
pub type KeyResult<T> = std::result::Result<T, KeyError>;
