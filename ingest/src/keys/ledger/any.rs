//! The ledger backend chosen by configuration: Redis, or ScyllaDB when `[scylla] uri` is set.

use super::redis::RedisLedger;
use super::scylla::{ScyllaConfig, ScyllaLedger};
use super::{KeyUsage, UsageLedger};
use crate::keys::KeyResult;

/// The configured backend: Redis, or ScyllaDB when `[scylla] uri` is set.
#[derive(Clone, Debug)]
pub enum AnyLedger {
    Redis(RedisLedger),
    Scylla(Box<ScyllaLedger>),
}

impl AnyLedger {
    /// Ledger `ledger` of `chain` in ScyllaDB if `scylla` is enabled, else in Redis at `redis_url`.
    pub async fn connect(
        scylla: &ScyllaConfig,
        redis_url: &str,
        namespace: &str,
        chain: &str,
        ledger: &'static str,
    ) -> KeyResult<Self> {
        Ok(if scylla.enabled() {
            AnyLedger::Scylla(Box::new(ScyllaLedger::connect(scylla, namespace, chain, ledger).await?))
        } else {
            AnyLedger::Redis(RedisLedger::connect_named(redis_url, namespace, chain, ledger).await?)
        })
    }
}

impl UsageLedger for AnyLedger {
    async fn add(&self, key: &str, at_ms: u64, requests: u64) -> KeyResult<()> {
        match self {
            AnyLedger::Redis(l) => l.add(key, at_ms, requests).await,
            AnyLedger::Scylla(l) => l.add(key, at_ms, requests).await,
        }
    }

    async fn usage(&self, keys: &[String], now_ms: u64) -> KeyResult<Vec<KeyUsage>> {
        match self {
            AnyLedger::Redis(l) => l.usage(keys, now_ms).await,
            AnyLedger::Scylla(l) => l.usage(keys, now_ms).await,
        }
    }
}
