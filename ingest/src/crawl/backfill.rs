//! A backfill range shared by any number of processes through Redis.
//!
//! The range is cut into chunks. A worker claims a chunk with a lease (`SET NX PX`), renews it
//! while it works and checkpoints the next height to publish with each renewal; a finished
//! chunk joins the `done` set. A worker that dies stops renewing: its lease expires and another
//! worker reclaims the chunk from the checkpoint (re-published blocks carry identical keys).
//!
//! Keys under `chainlake:{namespace}{chain}:backfill:{from}-{to}:{chunk}`: `:lease:{i}` (worker
//! id, with TTL), `:ckpt` (hash chunk → next height), `:done` (set of chunks).
//!
//! The scheduling ([`SharedBackfill`]) is written against the [`ChunkLeases`] role;
//! `crawl/chunk_leases.rs` is its Redis implementation, `test_utils/leases.rs` an in-process one.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::BackfillConfig;
use crate::crawl::progress::Progress;
use crate::crawl::{CrawlStats, Crawler};
use crate::holes::RedriveReport;
use crate::source::{BlockSource, RecordSink};
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

/// Chunk leases, checkpoints and completions shared by the workers of one plan.
pub trait ChunkLeases: Clone + Send + Sync + 'static {
    /// This worker's name in the leases.
    fn worker(&self) -> &str;
    /// Claims `chunk` if nobody holds it and it is not done (one atomic step).
    fn claim(&self, chunk: u64) -> impl Future<Output = Result<bool>> + Send;
    /// Extends our lease and stores `next` as the checkpoint; false if the lease is gone.
    fn renew(&self, chunk: u64, next: u64) -> impl Future<Output = Result<bool>> + Send;
    /// Gives the chunk up, if we hold it.
    fn release(&self, chunk: u64) -> impl Future<Output = Result<()>> + Send;
    /// Where work on `chunk` resumes, if it was checkpointed.
    fn checkpoint(&self, chunk: u64) -> impl Future<Output = Result<Option<u64>>> + Send;
    /// Marks `chunk` done and releases it.
    fn complete(&self, chunk: u64) -> impl Future<Output = Result<()>> + Send;
    /// Every chunk done so far, by anyone.
    fn done(&self) -> impl Future<Output = Result<HashSet<u64>>> + Send;
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
    /// Holes of the range this process re-drove once its chunks were done, and how many of
    /// them it filled.
    pub redriven: RedriveReport,
    /// Heights of the range still holes when it ended (re-run it, run `chainlake repair`, or
    /// let a follower re-drive them).
    pub holes_left: u64,
}

/// One process's part in a shared backfill: what it reads (`crawler`'s source), writes (its
/// sink), and coordinates through (`leases`).
pub struct SharedBackfill<'a, S, P, L> {
    pub crawler: &'a Crawler<S, P>,
    pub leases: &'a L,
    pub plan: BackfillPlan,
    pub cfg: &'a BackfillConfig,
    /// Blocks fetched at once.
    pub concurrency: usize,
    pub progress: &'a Progress,
}

impl<S: BlockSource, P: RecordSink, L: ChunkLeases> SharedBackfill<'_, S, P, L> {
    /// Runs the plan with the other processes holding the same plan, until all of it is done
    /// (or `cancel`).
    pub async fn run(&self, cancel: &CancellationToken) -> Result<SharedReport> {
        let chain = self.crawler.rpc().chain().to_owned();
        self.crawler.claim_epoch().await?;
        let mut report = SharedReport::default();
        let mut counted: HashSet<u64> = HashSet::new();
        let poll = (self.cfg.lease_ttl / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        while !cancel.is_cancelled() {
            let done = self.leases.done().await?;
            for c in done.iter().filter(|c| !counted.contains(c)) {
                let (lo, hi) = self.plan.chunk(*c);
                self.progress.skip(hi - lo + 1);
            }
            counted.extend(done.iter().copied());
            if done.len() as u64 >= self.plan.chunks() {
                report.complete = true;
                (report.redriven, report.holes_left) = self.finish_holes(cancel).await?;
                break;
            }
            let Some(chunk) = self.claim_open(&done).await? else {
                // Every open chunk is leased: wait for completions or expiries.
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = cancel.cancelled() => {}
                }
                continue;
            };
            match self.run_chunk(chunk, cancel, &mut report.stats).await {
                Ok(true) => {
                    report.chunks += 1;
                    counted.insert(chunk);
                    metrics::counter!(crate::metrics::BACKFILL_CHUNKS, "chain" => chain.clone()).increment(1);
                }
                Ok(false) => {}
                Err(Error::LeaseLost { chunk, .. }) => {
                    tracing::warn!(chain = %chain, chunk, worker = self.leases.worker(), "lease lost: chunk left to its new holder");
                    report.lost += 1;
                }
                Err(e) => {
                    let _ = self.leases.release(chunk).await;
                    return Err(e);
                }
            }
        }
        Ok(report)
    }

    /// Once every chunk is done: re-drives the range's holes as they fall due, for at most
    /// `holes.backfill-wait`; what it did, and how many holes the range still has.
    async fn finish_holes(&self, cancel: &CancellationToken) -> Result<(RedriveReport, u64)> {
        let Some((store, cfg)) = &self.crawler.holes else { return Ok((RedriveReport::default(), 0)) };
        let range = self.plan.from..=self.plan.to;
        let deadline = tokio::time::Instant::now() + cfg.backfill_wait;
        let mut done = RedriveReport::default();
        loop {
            let left = store.list(range.clone()).await?;
            let Some(first_due) = left.iter().map(|h| h.next_try).min() else { return Ok((done, 0)) };
            if tokio::time::Instant::now() >= deadline || cancel.is_cancelled() {
                return Ok((done, left.len() as u64));
            }
            let r = self.crawler.redrive_due(range.clone(), cancel).await?;
            let tried = r.tried;
            done += r;
            if tried == 0 {
                // Nothing due (or another worker re-drives them): wait for the first hole to
                // fall due, or the deadline.
                let wait = u64::try_from(first_due - chainlake_wire::clock::now_ms()).unwrap_or(0);
                let until =
                    (tokio::time::Instant::now() + Duration::from_millis(wait.max(100))).min(deadline);
                tokio::select! {
                    () = tokio::time::sleep_until(until) => {}
                    () = cancel.cancelled() => {}
                }
            }
        }
    }

    /// Claims the first open chunk nobody holds.
    async fn claim_open(&self, done: &HashSet<u64>) -> Result<Option<u64>> {
        for c in (0..self.plan.chunks()).filter(|c| !done.contains(c)) {
            if self.leases.claim(c).await? {
                return Ok(Some(c));
            }
        }
        Ok(None)
    }

    /// Publishes one leased chunk from its checkpoint; true when it finished.
    async fn run_chunk(
        &self,
        chunk: u64,
        cancel: &CancellationToken,
        stats: &mut CrawlStats,
    ) -> Result<bool> {
        let (lo, hi) = self.plan.chunk(chunk);
        let start = self.leases.checkpoint(chunk).await?.unwrap_or(lo).clamp(lo, hi + 1);
        self.progress.skip(start - lo);
        tracing::debug!(chunk, from = start, to = hi, worker = self.leases.worker(), "chunk claimed");
        let next = Arc::new(AtomicU64::new(start));
        let lost = Arc::new(AtomicBool::new(false));
        let work = cancel.child_token();
        let renewer = tokio::spawn(renew_lease(
            self.leases.clone(),
            chunk,
            self.cfg.checkpoint_interval.min(self.cfg.lease_ttl / 3),
            next.clone(),
            lost.clone(),
            work.clone(),
        ));
        let mut seen = (stats.blocks, stats.txs);
        let res = if start <= hi {
            // Past a height kept as a hole too: the hole is recorded, the chunk moves on.
            let on_block = |s: &CrawlStats| {
                if let Some(n) = s.last_height {
                    next.store(n + 1, Ordering::Relaxed);
                }
                self.progress.add(s.blocks - seen.0, s.txs - seen.1);
                seen = (s.blocks, s.txs);
            };
            self.crawler.backfill_into(start, hi, self.concurrency, &work, stats, on_block).await
        } else {
            Ok(())
        };
        work.cancel();
        let _ = renewer.await;
        res?;
        let reached = next.load(Ordering::Relaxed);
        if lost.load(Ordering::Relaxed) {
            return Err(Error::LeaseLost {
                chain: self.crawler.rpc().chain().to_owned(),
                chunk,
                worker: self.leases.worker().to_owned(),
            });
        }
        if reached > hi {
            self.leases.complete(chunk).await?;
            return Ok(true);
        }
        // Cancelled: keep the checkpoint, free the chunk for others.
        self.leases.renew(chunk, reached).await?;
        self.leases.release(chunk).await?;
        Ok(false)
    }
}

/// Renews the lease of `chunk` every `every` with the checkpoint `next`, until `work` is
/// cancelled; a lost lease sets `lost` and cancels `work`.
async fn renew_lease<L: ChunkLeases>(
    leases: L,
    chunk: u64,
    every: Duration,
    next: Arc<AtomicU64>,
    lost: Arc<AtomicBool>,
    work: CancellationToken,
) {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_utils::chain::ScriptedChain;
    use crate::test_utils::leases::MemoryLeases;
    use crate::test_utils::sink::MemorySink;

    fn cfg() -> BackfillConfig {
        BackfillConfig {
            chunk_size: 10,
            lease_ttl: Duration::from_secs(3),
            checkpoint_interval: Duration::from_millis(500),
        }
    }

    async fn run_worker(
        chain: &ScriptedChain,
        sink: &MemorySink,
        leases: MemoryLeases,
        plan: BackfillPlan,
    ) -> SharedReport {
        let crawler = Crawler::new(chain.clone(), sink.clone(), 2, 8);
        let (cfg, progress) =
            (cfg(), Progress::new(plan.to - plan.from + 1, false, Duration::from_secs(3600)));
        let job = SharedBackfill {
            crawler: &crawler,
            leases: &leases,
            plan,
            cfg: &cfg,
            concurrency: 4,
            progress: &progress,
        };
        job.run(&CancellationToken::new()).await.unwrap()
    }

    fn sorted(mut v: Vec<u64>) -> Vec<u64> {
        v.sort_unstable();
        v
    }

    /// Two workers on one plan split the chunks between them; every height is published once.
    #[tokio::test(start_paused = true)]
    async fn workers_share_the_chunks_and_publish_every_height_once() {
        let (chain, sink) = (ScriptedChain::new(99), MemorySink::default());
        let leases = MemoryLeases::new(cfg().lease_ttl);
        let plan = BackfillPlan { from: 0, to: 99, chunk_size: 10 };
        let (a, b) = tokio::join!(
            run_worker(&chain, &sink, leases.worker("a"), plan),
            run_worker(&chain, &sink, leases.worker("b"), plan)
        );
        assert!(a.complete && b.complete);
        assert_eq!(a.chunks + b.chunks, 10);
        assert!(a.chunks > 0 && b.chunks > 0, "both took part: {} / {}", a.chunks, b.chunks);
        assert_eq!(sorted(sink.heights()), (0..=99).collect::<Vec<_>>());
    }

    /// A chunk whose worker died is taken over once its lease expires, from its checkpoint.
    #[tokio::test(start_paused = true)]
    async fn a_dead_workers_chunk_is_resumed_from_its_checkpoint_after_the_ttl() {
        let (chain, sink) = (ScriptedChain::new(39), MemorySink::default());
        let leases = MemoryLeases::new(cfg().lease_ttl);
        leases.dead_holder(1, 14);
        let started = tokio::time::Instant::now();
        let plan = BackfillPlan { from: 0, to: 39, chunk_size: 10 };
        let report = run_worker(&chain, &sink, leases.worker("a"), plan).await;
        assert!(report.complete);
        assert!(started.elapsed() >= cfg().lease_ttl, "the dead lease was honoured until it expired");
        let expected: Vec<u64> = (0..=9).chain(14..=39).collect();
        assert_eq!(sorted(sink.heights()), expected, "heights 10..14 were published before the crash");
    }

    /// A chunk another worker completed is never claimed again.
    #[tokio::test(start_paused = true)]
    async fn done_chunks_are_skipped() {
        let (chain, sink) = (ScriptedChain::new(29), MemorySink::default());
        let leases = MemoryLeases::new(cfg().lease_ttl);
        leases.mark_done(0);
        let plan = BackfillPlan { from: 0, to: 29, chunk_size: 10 };
        let report = run_worker(&chain, &sink, leases.worker("a"), plan).await;
        assert_eq!((report.complete, report.chunks), (true, 2));
        assert_eq!(sorted(sink.heights()), (10..=29).collect::<Vec<_>>());
        assert!(!leases.worker("b").claim(0).await.unwrap(), "a done chunk cannot be leased");
    }

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
