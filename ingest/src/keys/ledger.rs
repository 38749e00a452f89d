//! The usage ledger: requests per key per minute, from which the last minute, the last 24 hours
//! and the current UTC day are summed. The least-used choice and the daily quota read it.
//!
//! One trait, two backends: Redis (default; a hash per key and UTC hour, minute → requests,
//! expiring after 26 hours) and ScyllaDB (`scylla.uri`; a counter table, see
//! infra/scylla/keys.cql and scylla.rs), chosen at start ([`AnyLedger`]). Two ledgers: the
//! replicas' reservations ([`RESERVED`], counted before each request: quotas and the least-used
//! choice read it) and what the monitor saw on `{chain}.ops.rpc_usage` ([`OBSERVED`]).
//! Counts are weighted (a method that costs 2 compute units counts 2).

use std::future::Future;

use redis::aio::MultiplexedConnection;

use super::lease::store_err;
use super::KeyResult;

pub(crate) const MINUTE_MS: u64 = 60_000;
pub(crate) const HOUR_MS: u64 = 60 * MINUTE_MS;
const DAY_MS: u64 = 24 * HOUR_MS;

/// One key's usage seen at a moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Requests in the last complete minute.
    pub last_minute: u64,
    /// Requests in the 24 hours up to now (minute resolution).
    pub last_24h: u64,
    /// Requests since 00:00 UTC.
    pub today: u64,
}

/// The ledger the replicas count into before each request (what quotas are enforced on).
pub const RESERVED: &str = "reserved";
/// The ledger `chainlake keys monitor` counts into from `{chain}.ops.rpc_usage` (the audit).
pub const OBSERVED: &str = "observed";

/// The ledger role.
pub trait UsageLedger: Clone + Send + Sync + 'static {
    /// Adds `requests` to `key`'s minute containing `at_ms`.
    fn add(&self, key: &str, at_ms: u64, requests: u64) -> impl Future<Output = KeyResult<()>> + Send;
    /// The usage of each of `keys` at `now_ms`, in order.
    fn usage(&self, keys: &[String], now_ms: u64) -> impl Future<Output = KeyResult<Vec<Usage>>> + Send;
}

/// Sums per-minute counts (`(minute start ms, requests)`) into a [`Usage`] at `now_ms`.
pub fn summarize(minutes: impl IntoIterator<Item = (u64, u64)>, now_ms: u64) -> Usage {
    let this_minute = now_ms - now_ms % MINUTE_MS;
    let midnight = now_ms - now_ms % DAY_MS;
    let mut u = Usage::default();
    for (start, n) in minutes {
        if start > now_ms {
            continue;
        }
        if start + DAY_MS > now_ms {
            u.last_24h += n;
        }
        if start >= midnight {
            u.today += n;
        }
        if start + MINUTE_MS == this_minute {
            u.last_minute += n;
        }
    }
    u
}

/// The ledger of one chain in Redis.
#[derive(Clone)]
pub struct RedisLedger {
    conn: MultiplexedConnection,
    base: String,
    chain: String,
}

impl RedisLedger {
    /// The replicas' reservations; `namespace` separates deployments (and tests) sharing one Redis.
    pub async fn connect(url: &str, namespace: &str, chain: &str) -> KeyResult<Self> {
        Self::connect_named(url, namespace, chain, RESERVED).await
    }

    /// The ledger `ledger` ([`RESERVED`] or [`OBSERVED`]).
    pub async fn connect_named(url: &str, namespace: &str, chain: &str, ledger: &str) -> KeyResult<Self> {
        let conn = super::lease::connect(url, chain).await?;
        let suffix = if ledger == RESERVED { "usage".to_owned() } else { ledger.to_owned() };
        Ok(RedisLedger {
            conn,
            base: format!("chainlake:{namespace}{chain}:{suffix}"),
            chain: chain.to_owned(),
        })
    }

    fn hour_key(&self, key: &str, hour: u64) -> String {
        format!("{}:{key}:{hour}", self.base)
    }
}

impl UsageLedger for RedisLedger {
    async fn add(&self, key: &str, at_ms: u64, requests: u64) -> KeyResult<()> {
        let (hour, minute) = (at_ms / HOUR_MS, (at_ms % HOUR_MS) / MINUTE_MS);
        let k = self.hour_key(key, hour);
        let mut conn = self.conn.clone();
        redis::pipe()
            .atomic()
            .cmd("HINCRBY")
            .arg(&k)
            .arg(minute)
            .arg(requests)
            .ignore()
            .cmd("PEXPIRE")
            .arg(&k)
            .arg(DAY_MS + 2 * HOUR_MS)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| store_err(&self.chain, "add key usage")(&e))
    }

    async fn usage(&self, keys: &[String], now_ms: u64) -> KeyResult<Vec<Usage>> {
        let now_hour = now_ms / HOUR_MS;
        let hours: Vec<u64> = (now_hour.saturating_sub(24)..=now_hour).collect();
        let mut pipe = redis::pipe();
        for k in keys {
            for h in &hours {
                pipe.cmd("HGETALL").arg(self.hour_key(k, *h));
            }
        }
        let mut conn = self.conn.clone();
        let all: Vec<Vec<(u64, u64)>> =
            pipe.query_async(&mut conn).await.map_err(|e| store_err(&self.chain, "read key usage")(&e))?;
        Ok(all
            .chunks(hours.len())
            .map(|per_key| {
                let minutes = per_key.iter().zip(&hours).flat_map(|(fields, hour)| {
                    fields.iter().map(move |(minute, n)| (hour * HOUR_MS + minute * MINUTE_MS, *n))
                });
                summarize(minutes, now_ms)
            })
            .collect())
    }
}

/// The configured backend: Redis, or ScyllaDB when `[scylla] uri` is set.
#[derive(Clone, Debug)]
pub enum AnyLedger {
    Redis(RedisLedger),
    Scylla(Box<super::scylla::ScyllaLedger>),
}

impl AnyLedger {
    /// Ledger `ledger` of `chain` in ScyllaDB if `scylla` is enabled, else in Redis at `redis_url`.
    pub async fn connect(
        scylla: &super::scylla::ScyllaConfig,
        redis_url: &str,
        namespace: &str,
        chain: &str,
        ledger: &'static str,
    ) -> KeyResult<Self> {
        Ok(if scylla.enabled() {
            AnyLedger::Scylla(Box::new(
                super::scylla::ScyllaLedger::connect(scylla, namespace, chain, ledger).await?,
            ))
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

    async fn usage(&self, keys: &[String], now_ms: u64) -> KeyResult<Vec<Usage>> {
        match self {
            AnyLedger::Redis(l) => l.usage(keys, now_ms).await,
            AnyLedger::Scylla(l) => l.usage(keys, now_ms).await,
        }
    }
}

impl std::fmt::Debug for RedisLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLedger").field("base", &self.base).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_sums_the_last_minute_the_last_day_and_today() {
        // now: day 10, 00:30:20 UTC.
        let now = 10 * DAY_MS + 30 * MINUTE_MS + 20_000;
        let minutes = [
            (now - now % MINUTE_MS, 7),             // this minute: 24 h and today only
            (now - now % MINUTE_MS - MINUTE_MS, 5), // the last complete minute
            (10 * DAY_MS - HOUR_MS, 100),           // yesterday 23:00: 24 h, not today
            (9 * DAY_MS + 30 * MINUTE_MS, 1_000),   // exactly 24 h before this minute: gone
            (now + MINUTE_MS, 9),                   // the future (clock skew): ignored
        ];
        let u = summarize(minutes, now);
        assert_eq!(u, Usage { last_minute: 5, last_24h: 112, today: 12 });
    }
}
