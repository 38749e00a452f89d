//! [`UsageLedger`] in Redis: a hash per key and UTC hour, minute → requests, expiring after 26
//! hours.

use redis::aio::MultiplexedConnection;

use super::{summarize, KeyUsage, UsageLedger, DAY_MS, HOUR_MS, MINUTE_MS, RESERVED};
use crate::keys::lease::store_err;
use crate::keys::KeyResult;

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
        let conn = crate::keys::lease::connect(url, chain).await?;
        let suffix = if ledger == RESERVED { "usage".to_owned() } else { ledger.to_owned() };
        Ok(RedisLedger {
            conn,
            base: crate::redis_keys::RedisKeys::new(namespace, chain).ledger(&suffix),
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

    async fn usage(&self, keys: &[String], now_ms: u64) -> KeyResult<Vec<KeyUsage>> {
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

impl std::fmt::Debug for RedisLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLedger").field("base", &self.base).finish_non_exhaustive()
    }
}
