//! Key leases: at any instant a key is used by one replica only.
//!
//! A lease is `SET NX PX` of `{holder}|{token}` where the token comes from a per-key counter
//! (`INCR`) in the same script: it only grows, so usage records carry which lease they were
//! made under (the fencing token) and two leases of one key never share one. A holder renews
//! with a heartbeat (compare-and-`PEXPIRE`) and releases on shutdown (compare-and-`DEL`); a
//! killed holder's lease expires after its TTL. A key that answered 429 or "quota exceeded"
//! cools down for every replica (a `cool` key with the `Retry-After` as its PX) and cannot be
//! leased until it expires.
//!
//! Keys in Redis: `chainlake:{namespace}{chain}:keys:{pseudonym}:{lease|fence|cool}`.

use std::future::Future;
use std::time::Duration;

use redis::aio::MultiplexedConnection;

use super::{KeyError, KeyResult};

/// What the store says about one key now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyState {
    /// The replica holding the key's lease, and for how much longer (ms).
    pub holder: Option<(String, u64)>,
    /// How much longer the key cools down (ms), after a 429 or quota answer.
    pub cooling_ms: Option<u64>,
}

/// The lease role: Redis in production ([`RedisKeyLeases`]), in memory in unit tests.
pub trait KeyLeases: Clone + Send + Sync + 'static {
    /// Leases `key` for `holder` unless it is held or cooling; the lease's fencing token.
    fn acquire(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> impl Future<Output = KeyResult<Option<u64>>> + Send;
    /// Extends our lease; false if it is no longer ours (expired, taken).
    fn renew(
        &self,
        key: &str,
        holder: &str,
        token: u64,
        ttl: Duration,
    ) -> impl Future<Output = KeyResult<bool>> + Send;
    /// Gives our lease up (nothing if it is no longer ours).
    fn release(&self, key: &str, holder: &str, token: u64) -> impl Future<Output = KeyResult<()>> + Send;
    /// Cools `key` down for every replica for `period`.
    fn cool(&self, key: &str, period: Duration) -> impl Future<Output = KeyResult<()>> + Send;
    /// The state of each of `keys`, in order.
    fn states(&self, keys: &[String]) -> impl Future<Output = KeyResult<Vec<KeyState>>> + Send;
}

const ACQUIRE: &str = r"
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
return token";

const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0";

const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0";

/// Key leases of one chain in Redis.
#[derive(Clone)]
pub struct RedisKeyLeases {
    conn: MultiplexedConnection,
    base: String,
    chain: String,
}

impl RedisKeyLeases {
    /// `namespace` separates deployments (and tests) sharing one Redis.
    pub async fn connect(url: &str, namespace: &str, chain: &str) -> KeyResult<Self> {
        let conn = connect(url, chain).await?;
        Ok(RedisKeyLeases {
            conn,
            base: crate::redis_keys::RedisKeys::new(namespace, chain).key_leases(),
            chain: chain.to_owned(),
        })
    }

    fn key(&self, pseudonym: &str, what: &str) -> String {
        format!("{}:{pseudonym}:{what}", self.base)
    }
}

/// One multiplexed connection to the key store of `chain`.
pub(crate) async fn connect(url: &str, chain: &str) -> KeyResult<MultiplexedConnection> {
    let err = store_err(chain, "connect");
    let client = redis::Client::open(url).map_err(|e| err(&e))?;
    client.get_multiplexed_async_connection().await.map_err(|e| err(&e))
}

/// A store error with the cause in words (Redis errors never carry a provider secret).
pub(crate) fn store_err<'a>(
    chain: &'a str,
    action: &'static str,
) -> impl Fn(&redis::RedisError) -> KeyError + 'a {
    move |e| KeyError::Store { chain: chain.to_owned(), action, reason: e.to_string() }
}

fn ms(d: Duration) -> u64 {
    d.as_millis().clamp(1, u128::from(u64::MAX)) as u64
}

impl KeyLeases for RedisKeyLeases {
    async fn acquire(&self, key: &str, holder: &str, ttl: Duration) -> KeyResult<Option<u64>> {
        let mut conn = self.conn.clone();
        let token: u64 = redis::Script::new(ACQUIRE)
            .key(self.key(key, "lease"))
            .key(self.key(key, "fence"))
            .key(self.key(key, "cool"))
            .arg(holder)
            .arg(ms(ttl))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| store_err(&self.chain, "acquire key lease")(&e))?;
        Ok((token > 0).then_some(token))
    }

    async fn renew(&self, key: &str, holder: &str, token: u64, ttl: Duration) -> KeyResult<bool> {
        let mut conn = self.conn.clone();
        let ok: i64 = redis::Script::new(RENEW)
            .key(self.key(key, "lease"))
            .arg(format!("{holder}|{token}"))
            .arg(ms(ttl))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| store_err(&self.chain, "renew key lease")(&e))?;
        Ok(ok == 1)
    }

    async fn release(&self, key: &str, holder: &str, token: u64) -> KeyResult<()> {
        let mut conn = self.conn.clone();
        let _: i64 = redis::Script::new(RELEASE)
            .key(self.key(key, "lease"))
            .arg(format!("{holder}|{token}"))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| store_err(&self.chain, "release key lease")(&e))?;
        Ok(())
    }

    async fn cool(&self, key: &str, period: Duration) -> KeyResult<()> {
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(self.key(key, "cool"))
            .arg(1)
            .arg("PX")
            .arg(ms(period))
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| store_err(&self.chain, "cool key down")(&e))
    }

    async fn states(&self, keys: &[String]) -> KeyResult<Vec<KeyState>> {
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        for k in keys {
            pipe.cmd("GET").arg(self.key(k, "lease"));
            pipe.cmd("PTTL").arg(self.key(k, "lease"));
            pipe.cmd("PTTL").arg(self.key(k, "cool"));
        }
        let raw: Vec<(Option<String>, i64, i64)> = pipe
            .query_async::<Vec<redis::Value>>(&mut conn)
            .await
            .map_err(|e| store_err(&self.chain, "read key states")(&e))?
            .chunks(3)
            .map(|c| {
                let holder = redis::from_redis_value_ref(&c[0]).ok().flatten();
                let ttl = redis::from_redis_value_ref(&c[1]).unwrap_or(-2);
                let cool = redis::from_redis_value_ref(&c[2]).unwrap_or(-2);
                (holder, ttl, cool)
            })
            .collect();
        Ok(raw
            .into_iter()
            .map(|(holder, ttl, cool)| KeyState {
                holder: holder.map(|h: String| {
                    let name = h.rsplit_once('|').map_or(h.as_str(), |(n, _)| n).to_owned();
                    (name, ttl.max(0) as u64)
                }),
                cooling_ms: (cool > 0).then_some(cool as u64),
            })
            .collect())
    }
}

impl std::fmt::Debug for RedisKeyLeases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisKeyLeases").field("base", &self.base).finish_non_exhaustive()
    }
}
