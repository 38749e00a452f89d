//! A backfill range shared by any number of processes through Redis.
//!
//! The range is cut into chunks. A worker claims a chunk with a lease (`SET NX PX`), renews it
//! while it works and checkpoints the next height to publish with each renewal; a finished
//! chunk joins the `done` set. A worker that dies stops renewing: its lease expires and another
//! worker reclaims the chunk from the checkpoint (re-published blocks carry identical keys).
//!
//! Keys under `chainlake:{namespace}{chain}:backfill:{from}-{to}:{chunk}`: `:lease:{i}` (worker
//! id, with TTL), `:ckpt` (hash chunk → next height), `:done` (set of chunks).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::AsyncCommands;
use tokio_util::sync::CancellationToken;

use crate::config::BackfillConfig;
use crate::crawler::{CrawlStats, Crawler};
use crate::progress::Progress;
use crate::{Error, Result};

/// `from..=to` in chunks of `chunk_size` blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackfillPlan {
    pub from: u64,
    pub to: u64,
    pub chunk_size: u64,
}

impl BackfillPlan {
    pub fn chunks(&self) -> u64 {
        if self.to < self.from {
            return 0;
        }
        (self.to - self.from) / self.chunk_size.max(1) + 1
    }

    /// The heights of chunk `i`.
    pub fn chunk(&self, i: u64) -> (u64, u64) {
        let size = self.chunk_size.max(1);
        let lo = self.from + i * size;
        (lo, (lo + size - 1).min(self.to))
    }
}

fn redis_err(action: &'static str) -> impl FnOnce(redis::RedisError) -> Error {
    move |e| Error::Redis { action, source: Box::new(e) }
}

/// Chunk leases, checkpoints and completions of one plan in Redis.
#[derive(Clone)]
pub struct Leases {
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

impl Leases {
    /// `worker` names this process in the leases (for operators: who holds what).
    pub async fn connect(
        url: &str,
        namespace: &str,
        chain: &str,
        plan: &BackfillPlan,
        worker: String,
        ttl: Duration,
    ) -> Result<Self> {
        let client = redis::Client::open(url).map_err(redis_err("open client"))?;
        let conn = client.get_multiplexed_async_connection().await.map_err(redis_err("connect"))?;
        let base =
            format!("chainlake:{namespace}{chain}:backfill:{}-{}:{}", plan.from, plan.to, plan.chunk_size);
        Ok(Leases { conn, base, worker, ttl })
    }

    pub fn worker(&self) -> &str {
        &self.worker
    }

    fn lease_key(&self, chunk: u64) -> String {
        format!("{}:lease:{chunk}", self.base)
    }

    /// Claims `chunk` if nobody holds it and it is not done.
    pub async fn claim(&self, chunk: u64) -> Result<bool> {
        let mut conn = self.conn.clone();
        let claimed: i64 = redis::Script::new(CLAIM)
            .key(self.lease_key(chunk))
            .key(format!("{}:done", self.base))
            .arg(&self.worker)
            .arg(self.ttl.as_millis() as u64)
            .arg(chunk)
            .invoke_async(&mut conn)
            .await
            .map_err(redis_err("claim chunk"))?;
        Ok(claimed == 1)
    }

    /// Extends our lease and stores `next` as the chunk's checkpoint; false if the lease is gone.
    pub async fn renew(&self, chunk: u64, next: u64) -> Result<bool> {
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
            .map_err(redis_err("renew lease"))?;
        Ok(ok == 1)
    }

    /// Gives the chunk up (a stopped worker lets others continue at once).
    pub async fn release(&self, chunk: u64) -> Result<()> {
        let mut conn = self.conn.clone();
        redis::Script::new(RELEASE)
            .key(self.lease_key(chunk))
            .arg(&self.worker)
            .invoke_async::<i64>(&mut conn)
            .await
            .map_err(redis_err("release lease"))?;
        Ok(())
    }

    /// Where work on `chunk` resumes, if it was checkpointed.
    pub async fn checkpoint(&self, chunk: u64) -> Result<Option<u64>> {
        let mut conn = self.conn.clone();
        conn.hget(format!("{}:ckpt", self.base), chunk).await.map_err(redis_err("read checkpoint"))
    }

    /// Marks `chunk` done and releases it.
    pub async fn complete(&self, chunk: u64) -> Result<()> {
        let mut conn = self.conn.clone();
        conn.sadd::<_, _, ()>(format!("{}:done", self.base), chunk)
            .await
            .map_err(redis_err("complete chunk"))?;
        self.release(chunk).await
    }

    pub async fn done(&self) -> Result<HashSet<u64>> {
        let mut conn = self.conn.clone();
        conn.smembers(format!("{}:done", self.base)).await.map_err(redis_err("read done chunks"))
    }

    /// Forgets every lease, checkpoint and completion of the plan (`--restart`).
    pub async fn reset(&self, chunks: u64) -> Result<()> {
        let mut conn = self.conn.clone();
        let mut keys = vec![format!("{}:ckpt", self.base), format!("{}:done", self.base)];
        keys.extend((0..chunks).map(|c| self.lease_key(c)));
        conn.del::<_, ()>(keys).await.map_err(redis_err("reset plan"))
    }
}

/// What this process did of a shared backfill.
#[derive(Debug, Clone, Default)]
pub struct SharedReport {
    pub stats: CrawlStats,
    /// Chunks this process finished.
    pub chunks: u64,
    /// Chunks lost to another worker after our lease expired.
    pub lost: u64,
    /// Every chunk of the plan is done (by anyone).
    pub complete: bool,
}

/// Runs `plan` with the other processes holding the same plan, until all of it is done.
pub async fn run_shared(
    crawler: &Crawler,
    leases: &Leases,
    plan: &BackfillPlan,
    cfg: &BackfillConfig,
    concurrency: usize,
    progress: &Progress,
    cancel: &CancellationToken,
) -> Result<SharedReport> {
    let chain = crawler.rpc().chain().to_owned();
    let mut report = SharedReport::default();
    let mut counted: HashSet<u64> = HashSet::new();
    let poll = (cfg.lease_ttl / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    while !cancel.is_cancelled() {
        let done = leases.done().await?;
        for c in done.iter().filter(|c| !counted.contains(c)) {
            let (lo, hi) = plan.chunk(*c);
            progress.skip(hi - lo + 1);
        }
        counted.extend(done.iter().copied());
        if done.len() as u64 >= plan.chunks() {
            report.complete = true;
            break;
        }
        let mut claimed = None;
        for c in (0..plan.chunks()).filter(|c| !done.contains(c)) {
            if leases.claim(c).await? {
                claimed = Some(c);
                break;
            }
        }
        let Some(chunk) = claimed else {
            // Every open chunk is leased: wait for completions or expiries.
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = cancel.cancelled() => {}
            }
            continue;
        };
        match run_chunk(crawler, leases, plan, chunk, cfg, concurrency, progress, cancel, &mut report.stats)
            .await
        {
            Ok(true) => {
                report.chunks += 1;
                counted.insert(chunk);
                metrics::counter!("chainlake_backfill_chunks_total", "chain" => chain.clone()).increment(1);
            }
            Ok(false) => {}
            Err(Error::LeaseLost { chunk, .. }) => {
                tracing::warn!(chain = %chain, chunk, worker = leases.worker(), "lease lost: chunk left to its new holder");
                report.lost += 1;
            }
            Err(e) => {
                let _ = leases.release(chunk).await;
                return Err(e);
            }
        }
    }
    Ok(report)
}

/// Publishes one leased chunk from its checkpoint; true when it finished.
#[allow(clippy::too_many_arguments)]
async fn run_chunk(
    crawler: &Crawler,
    leases: &Leases,
    plan: &BackfillPlan,
    chunk: u64,
    cfg: &BackfillConfig,
    concurrency: usize,
    progress: &Progress,
    cancel: &CancellationToken,
    stats: &mut CrawlStats,
) -> Result<bool> {
    let (lo, hi) = plan.chunk(chunk);
    let start = leases.checkpoint(chunk).await?.unwrap_or(lo).clamp(lo, hi + 1);
    progress.skip(start - lo);
    tracing::debug!(chunk, from = start, to = hi, worker = leases.worker(), "chunk claimed");
    let next = Arc::new(AtomicU64::new(start));
    let lost = Arc::new(AtomicBool::new(false));
    let work = cancel.child_token();
    let renewer = {
        let (leases, next, lost, work) = (leases.clone(), next.clone(), lost.clone(), work.clone());
        let every = cfg.checkpoint_interval.min(cfg.lease_ttl / 3);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = work.cancelled() => return,
                }
                match leases.renew(chunk, next.load(Ordering::Relaxed)).await {
                    Ok(true) => {}
                    Ok(false) => {
                        lost.store(true, Ordering::Relaxed);
                        work.cancel();
                        return;
                    }
                    // Redis hiccup: the lease has ttl/3 * 2 left; try again next round.
                    Err(e) => tracing::warn!(error = %e, chunk, "lease renewal failed"),
                }
            }
        })
    };
    let before = (stats.blocks, stats.txs);
    let mut seen = before;
    let res = if start <= hi {
        crawler
            .backfill_into(start, hi, concurrency, &work, stats, |s| {
                if let Some(n) = s.last_block {
                    next.store(n + 1, Ordering::Relaxed);
                }
                progress.add(s.blocks - seen.0, s.txs - seen.1);
                seen = (s.blocks, s.txs);
            })
            .await
    } else {
        Ok(())
    };
    work.cancel();
    let _ = renewer.await;
    res?;
    let reached = next.load(Ordering::Relaxed);
    if lost.load(Ordering::Relaxed) {
        return Err(Error::LeaseLost {
            chain: crawler.rpc().chain().to_owned(),
            chunk,
            worker: leases.worker().to_owned(),
        });
    }
    if reached > hi {
        leases.complete(chunk).await?;
        return Ok(true);
    }
    // Cancelled: keep the checkpoint, free the chunk for others.
    leases.renew(chunk, reached).await?;
    leases.release(chunk).await?;
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_range_once() {
        let plan = BackfillPlan { from: 10, to: 2_034, chunk_size: 100 };
        let mut heights = Vec::new();
        for c in 0..plan.chunks() {
            let (lo, hi) = plan.chunk(c);
            heights.extend(lo..=hi);
        }
        assert_eq!(heights, (10..=2_034).collect::<Vec<_>>());
        assert_eq!(BackfillPlan { from: 5, to: 4, chunk_size: 10 }.chunks(), 0);
        assert_eq!(BackfillPlan { from: 5, to: 5, chunk_size: 10 }.chunks(), 1);
    }
}
