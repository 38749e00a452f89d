//! The [`ChunkLeases`] role in Redis: chunk leases (`SET NX PX`, renewed with the checkpoint
//! in one script), checkpoints and completions of one backfill plan, under
//! `chainlake:{namespace}{chain}:backfill:{from}-{to}:{chunk}` (`:lease:{i}`, `:ckpt`, `:done`).

use std::collections::HashSet;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::AsyncCommands;

use crate::crawl::backfill::{BackfillPlan, ChunkLeases};
use crate::{Error, Result};

/// Chunk leases, checkpoints and completions of one plan in Redis.
#[derive(Clone)]
pub struct RedisChunkLeases {
    conn: MultiplexedConnection,
    base: String,
    worker: String,
    ttl: Duration,
}

const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
  return 1
end
return 0";

// Claims a chunk unless it is done: the `done` check and the lease are one step, so a chunk
// completed (SADD, then lease released) between a worker's read of `done` and its claim is
// never taken again.
const CLAIM: &str = r"
if redis.call('SISMEMBER', KEYS[2], ARGV[3]) == 1 then return 0 end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0";

const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0";

impl RedisChunkLeases {
    /// `worker` names this process in the leases (for operators: who holds what).
    pub async fn connect(
        url: &str,
        namespace: &str,
        chain: &str,
        plan: &BackfillPlan,
        worker: String,
        ttl: Duration,
    ) -> Result<Self> {
        let client = redis::Client::open(url).map_err(Error::redis("open client"))?;
        let conn = client.get_multiplexed_async_connection().await.map_err(Error::redis("connect"))?;
        let base =
            crate::redis_keys::RedisKeys::new(namespace, chain).backfill(plan.from, plan.to, plan.chunk_size);
        Ok(RedisChunkLeases { conn, base, worker, ttl })
    }

    fn lease_key(&self, chunk: u64) -> String {
        format!("{}:lease:{chunk}", self.base)
    }

    /// Forgets every lease, checkpoint and completion of the plan (`--restart`).
    pub async fn reset(&self, chunks: u64) -> Result<()> {
        let mut conn = self.conn.clone();
        let mut keys = vec![format!("{}:ckpt", self.base), format!("{}:done", self.base)];
        keys.extend((0..chunks).map(|c| self.lease_key(c)));
        conn.del::<_, ()>(keys).await.map_err(Error::redis("reset plan"))
    }
}

impl ChunkLeases for RedisChunkLeases {
    fn worker(&self) -> &str {
        &self.worker
    }

    /// Claims `chunk` if nobody holds it and it is not done.
    async fn claim(&self, chunk: u64) -> Result<bool> {
        let mut conn = self.conn.clone();
        let claimed: i64 = redis::Script::new(CLAIM)
            .key(self.lease_key(chunk))
            .key(format!("{}:done", self.base))
            .arg(&self.worker)
            .arg(self.ttl.as_millis() as u64)
            .arg(chunk)
            .invoke_async(&mut conn)
            .await
            .map_err(Error::redis("claim chunk"))?;
        Ok(claimed == 1)
    }

    /// Extends our lease and stores `next` as the chunk's checkpoint; false if the lease is gone.
    async fn renew(&self, chunk: u64, next: u64) -> Result<bool> {
        let mut conn = self.conn.clone();
        let ok: i64 = redis::Script::new(RENEW)
            .key(self.lease_key(chunk))
            .key(format!("{}:ckpt", self.base))
            .arg(&self.worker)
            .arg(self.ttl.as_millis() as u64)
            .arg(chunk)
            .arg(next)
            .invoke_async(&mut conn)
            .await
            .map_err(Error::redis("renew lease"))?;
        Ok(ok == 1)
    }

    /// Gives the chunk up (a stopped worker lets others continue at once).
    async fn release(&self, chunk: u64) -> Result<()> {
        let mut conn = self.conn.clone();
        redis::Script::new(RELEASE)
            .key(self.lease_key(chunk))
            .arg(&self.worker)
            .invoke_async::<i64>(&mut conn)
            .await
            .map_err(Error::redis("release lease"))?;
        Ok(())
    }

    /// Where work on `chunk` resumes, if it was checkpointed.
    async fn checkpoint(&self, chunk: u64) -> Result<Option<u64>> {
        let mut conn = self.conn.clone();
        conn.hget(format!("{}:ckpt", self.base), chunk).await.map_err(Error::redis("read checkpoint"))
    }

    /// Marks `chunk` done and releases it.
    async fn complete(&self, chunk: u64) -> Result<()> {
        let mut conn = self.conn.clone();
        conn.sadd::<_, _, ()>(format!("{}:done", self.base), chunk)
            .await
            .map_err(Error::redis("complete chunk"))?;
        self.release(chunk).await
    }

    async fn done(&self) -> Result<HashSet<u64>> {
        let mut conn = self.conn.clone();
        conn.smembers(format!("{}:done", self.base)).await.map_err(Error::redis("read done chunks"))
    }
}
