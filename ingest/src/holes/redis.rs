//! [`HoleStore`] in Redis, beside the backfill claims and the canonical window.
//!
//! Keys under `chainlake:{namespace}{chain}:holes`: the sorted set itself (member = height,
//! score = height: ranges by height), `…:holes:due` (member = height, score = when it is due,
//! Unix ms) and `…:holes:info` (hash height → the [`Hole`] as JSON). Every change is one Lua
//! script, so the three never disagree and a claim is taken by one process only.

use std::ops::RangeInclusive;
use std::time::Duration;

use futures::future::BoxFuture;
use redis::aio::MultiplexedConnection;

use super::{Hole, HoleStore};
use crate::{Error, Result};

/// The holes of one chain and namespace in Redis.
#[derive(Clone)]
pub struct RedisHoles {
    conn: MultiplexedConnection,
    base: String,
}

const RECORD: &str = r"
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
return redis.call('ZCARD', KEYS[1])";

const RESOLVE: &str = r"
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
end
return redis.call('ZCARD', KEYS[1])";

// Due holes of the range, lowest height first, pushed to `now + lease` as they are taken.
const CLAIM: &str = r"
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
local heights = {}
for _, h in ipairs(due) do
  local n = tonumber(h)
  if n >= tonumber(ARGV[1]) and n <= tonumber(ARGV[2]) then table.insert(heights, n) end
end
table.sort(heights)
local out = {}
for i, n in ipairs(heights) do
  if i > tonumber(ARGV[5]) then break end
  redis.call('ZADD', KEYS[2], ARGV[4], n)
  local info = redis.call('HGET', KEYS[3], n)
  if info then table.insert(out, info) end
end
return out";

impl RedisHoles {
    /// `namespace` separates deployments (tests, demos) that follow the same chain name.
    pub async fn connect(url: &str, namespace: &str, chain: &str) -> Result<Self> {
        let client = redis::Client::open(url).map_err(Error::redis("open client"))?;
        let conn = client.get_multiplexed_async_connection().await.map_err(Error::redis("connect"))?;
        Ok(RedisHoles { conn, base: crate::redis_keys::RedisKeys::new(namespace, chain).holes() })
    }

    fn keys(&self, script: &mut redis::ScriptInvocation<'_>) {
        script.key(&self.base).key(format!("{}:due", self.base)).key(format!("{}:info", self.base));
    }

    fn parse(infos: Vec<String>) -> Result<Vec<Hole>> {
        infos
            .into_iter()
            .map(|j| serde_json::from_str(&j).map_err(|source| Error::Encode { what: "hole", source }))
            .collect()
    }
}

impl HoleStore for RedisHoles {
    fn record<'a>(&'a self, hole: &'a Hole) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let info =
                serde_json::to_string(hole).map_err(|source| Error::Encode { what: "hole", source })?;
            let script = redis::Script::new(RECORD);
            let mut call = script.prepare_invoke();
            self.keys(&mut call);
            call.arg(hole.height).arg(hole.next_try).arg(info);
            call.invoke_async(&mut self.conn.clone()).await.map_err(Error::redis("record hole"))
        })
    }

    fn resolve(&self, height: u64) -> BoxFuture<'_, Result<u64>> {
        Box::pin(async move {
            let script = redis::Script::new(RESOLVE);
            let mut call = script.prepare_invoke();
            self.keys(&mut call);
            call.arg(height);
            call.invoke_async(&mut self.conn.clone()).await.map_err(Error::redis("resolve hole"))
        })
    }

    fn claim_due(
        &self,
        range: RangeInclusive<u64>,
        now: i64,
        lease: Duration,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<Hole>>> {
        Box::pin(async move {
            let until = now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
            let script = redis::Script::new(CLAIM);
            let mut call = script.prepare_invoke();
            self.keys(&mut call);
            call.arg(*range.start()).arg(*range.end()).arg(now).arg(until).arg(limit);
            let infos: Vec<String> =
                call.invoke_async(&mut self.conn.clone()).await.map_err(Error::redis("claim holes"))?;
            Self::parse(infos)
        })
    }

    fn list(&self, range: RangeInclusive<u64>) -> BoxFuture<'_, Result<Vec<Hole>>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let heights: Vec<u64> = redis::cmd("ZRANGEBYSCORE")
                .arg(&self.base)
                .arg(*range.start())
                .arg(*range.end())
                .query_async(&mut conn)
                .await
                .map_err(Error::redis("list holes"))?;
            if heights.is_empty() {
                return Ok(Vec::new());
            }
            let infos: Vec<Option<String>> = redis::cmd("HMGET")
                .arg(format!("{}:info", self.base))
                .arg(&heights)
                .query_async(&mut conn)
                .await
                .map_err(Error::redis("read holes"))?;
            Self::parse(infos.into_iter().flatten().collect())
        })
    }
}
