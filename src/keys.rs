//! The key pool in the binary: the pooled providers of `ingest follow | backfill` (a lease held
//! by a task of this process until it stops) and `chainlake keys status`.

use std::sync::Arc;

use chainlake_ingest::keys::lease::RedisKeyLeases;
use chainlake_ingest::keys::ledger::{any::AnyLedger, UsageLedger, OBSERVED, RESERVED};
use chainlake_ingest::keys::monitor::{MonitorReport, MonitorUntil};
use chainlake_ingest::keys::pool::KeyPool;
use chainlake_ingest::keys::KeyError;
use chainlake_ingest::rpc::providers::Providers;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::Result;

/// This process in leases: host and pid.
pub fn replica_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
    format!("{host}:{}", std::process::id())
}

type Pool = KeyPool<RedisKeyLeases, AnyLedger>;

/// The pool of `[keys]` in Redis (secrets read from the environment or their files).
pub async fn pool(cfg: &Config) -> Result<Arc<Pool>> {
    let keys = cfg.keys.resolve(|var| std::env::var(var).ok())?;
    let ns = &cfg.kafka.topic_prefix;
    let leases = RedisKeyLeases::connect(&cfg.redis.url, ns, &cfg.chain.name).await?;
    let ledger = AnyLedger::connect(&cfg.scylla, &cfg.redis.url, ns, &cfg.chain.name, RESERVED).await?;
    Ok(KeyPool::new(&cfg.chain.name, &replica_name(), keys, cfg.keys.clone(), leases, ledger))
}

/// The chain's providers: `[rpc]` as configured, or with `[keys]` one per key of the pool, of
/// which only the one this process leases is called. The lease is held until `cancel`.
pub async fn providers(cfg: &Config, cancel: &CancellationToken) -> Result<Providers> {
    if !cfg.keys.enabled() {
        return Ok(Providers::new(&cfg.chain.name, &cfg.rpc)?);
    }
    Ok(Providers::pooled(&cfg.chain.name, &cfg.rpc, pool_when_reachable(cfg, cancel).await?, cancel)?)
}

/// [`pool`], waiting (with backoff, saying so) while the key store does not answer: a replica
/// started before Redis sends nothing, and starts once Redis is up. Config errors end it at once.
async fn pool_when_reachable(cfg: &Config, cancel: &CancellationToken) -> Result<Arc<Pool>> {
    let mut wait = std::time::Duration::from_millis(200);
    loop {
        match pool(cfg).await {
            Err(crate::error::PipelineError::Keys(e @ KeyError::Store { .. })) => {
                tracing::warn!(chain = %cfg.chain.name, error = %e, retry_in = ?wait,
                    "key store unreachable at start: no request is sent until it answers");
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = cancel.cancelled() => return Err(e.into()),
                }
                wait = (wait * 2).min(std::time::Duration::from_secs(5));
            }
            other => return other,
        }
    }
}

/// One line of `chainlake keys status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStatus {
    pub key: String,
    pub provider: String,
    pub holder: Option<String>,
    pub state: &'static str,
    pub last_minute: u64,
    pub last_24h: u64,
    /// Requests left today (`None`: no daily quota).
    pub remaining: Option<u64>,
    /// Requests in the last 24 h that `keys monitor` read from `ops.rpc_usage`.
    pub observed_24h: u64,
}

/// Every key of the pool as the store and the ledger see it now.
pub async fn status(cfg: &Config) -> Result<Vec<KeyStatus>> {
    let pool = pool(cfg).await?;
    let candidates = pool.candidates().await?;
    let names: Vec<String> = pool.keys().iter().map(|k| k.pseudonym.clone()).collect();
    let observed = observed_ledger(cfg).await?.usage(&names, chainlake_wire::clock::now_ms() as u64).await?;
    Ok(pool
        .keys()
        .iter()
        .zip(candidates)
        .zip(observed)
        .map(|((k, c), o)| KeyStatus {
            key: k.pseudonym.clone(),
            provider: k.provider.clone(),
            holder: c.state.holder.as_ref().map(|(h, _)| h.clone()),
            state: c.standing().as_str(),
            last_minute: c.usage.last_minute,
            last_24h: c.usage.last_24h,
            remaining: c.remaining(),
            observed_24h: o.last_24h,
        })
        .collect())
}

/// The ledger `keys monitor` keeps (Redis, or ScyllaDB with `[scylla] uri`).
async fn observed_ledger(cfg: &Config) -> Result<AnyLedger> {
    let ns = &cfg.kafka.topic_prefix;
    Ok(AnyLedger::connect(&cfg.scylla, &cfg.redis.url, ns, &cfg.chain.name, OBSERVED).await?)
}

/// `chainlake keys monitor`: `{chain}.ops.rpc_usage` into the observed ledger and the metrics.
pub async fn monitor(cfg: &Config, until: MonitorUntil, cancel: &CancellationToken) -> Result<MonitorReport> {
    let ledger = observed_ledger(cfg).await?;
    Ok(chainlake_ingest::keys::monitor::monitor(&cfg.kafka, &cfg.chain.name, &ledger, until, cancel).await?)
}

/// The status lines as an aligned table.
pub fn render(rows: &[KeyStatus]) -> String {
    let mut out = format!(
        "{:<16} {:<12} {:<24} {:<8} {:>10} {:>10} {:>12} {:>13}\n",
        "key", "provider", "holder", "state", "last min", "last 24h", "left today", "observed 24h"
    );
    for r in rows {
        out.push_str(&format!(
            "{:<16} {:<12} {:<24} {:<8} {:>10} {:>10} {:>12} {:>13}\n",
            r.key,
            r.provider,
            r.holder.as_deref().unwrap_or("-"),
            r.state,
            r.last_minute,
            r.last_24h,
            r.remaining.map_or("unlimited".to_owned(), |n| n.to_string()),
            r.observed_24h
        ));
    }
    out
}
