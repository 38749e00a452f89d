//! The crawler: extract ([`BlockSource`]) → transform → publish ([`RecordSink`]).
//!
//! Reads blocks `from..=to` (backfill, this file) or from a height onwards as the head moves
//! ([`follow`], with reorg healing against the [`canonical`] window persisted by
//! [`window_store`]), and re-drives holes ([`redrive`]); writes every block's records, in height
//! order, numbered by [`sequence`]. A block that could not be proven becomes a hole
//! ([`crate::holes`]); a verified block resolves the hole of its height. [`backfill`] shares a
//! range among processes (the chunk-leases role; [`chunk_leases`] in Redis), with [`progress`]
//! reporting; [`transform`] turns raw answers into wire records.
//!
//! `Crawler` is one type whose behaviours live in their own files (follow.rs, redrive.rs): each
//! imports this file, this file imports none of them.

pub mod backfill;
pub mod canonical;
pub mod chunk_leases;
pub mod follow;
pub mod progress;
pub mod redrive;
#[cfg(test)]
mod redrive_tests;
pub mod sequence;
pub mod transform;
pub mod window_store;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chainlake_wire::clock::{Clock, SystemClock};
use chainlake_wire::{BlockBundle, UnverifiedRecord, SCHEMA_VERSION};
use futures::{StreamExt, TryStreamExt};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::HolesConfig;
use crate::crawl::sequence::Sequencer;
use crate::crawl::transform::transform_block;
use crate::crawl::window_store::WindowStore;
use crate::holes::{Hole, HoleStore};
use crate::publish::Publisher;
use crate::rpc::providers::Providers;
use crate::source::{BlockSource, RecordSink};
use crate::verify::raw::RawBlock;
use crate::verify::{Check, Failure, Reason};
use crate::Result;

/// One block transformed and acknowledged by Kafka.
pub(crate) struct Sent {
    number: u64,
    txs: u64,
    logs: u64,
    transforming: Duration,
    publishing: Duration,
    unverified: bool,
    /// A published block's hash and parent hash (the links of consecutive heights).
    link: Option<(String, String)>,
}

/// What a crawl did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrawlStats {
    pub blocks: u64,
    pub txs: u64,
    pub logs: u64,
    /// Highest height published verified (or flagged under `warn`).
    pub last_block: Option<u64>,
    /// Highest height handled: published, or kept as a hole.
    pub last_height: Option<u64>,
    pub reorgs: u64,
    /// Blocks that could not be verified or parsed, published to `{chain}.unverified` only
    /// (each one a hole).
    pub unverified: u64,
    /// Where the time went, summed over concurrent blocks: the node answering (block +
    /// receipts), transforming, and publishing until Kafka acknowledged.
    pub waited_for_node: Duration,
    pub transforming: Duration,
    pub publishing: Duration,
}

/// The reason of a hole left by two proven blocks that do not link.
pub const UNLINKED: &str = "unlinked";

/// Who publishes a block: its `publisher` field, and whether it announces a new head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publication {
    /// The follower: each block it publishes is the new head of the chain.
    Follow,
    Backfill,
    /// A hole re-driven (by a follower, a backfill or `chainlake repair`).
    Repair,
}

impl Publication {
    pub fn label(self) -> &'static str {
        match self {
            Publication::Follow => "follow",
            Publication::Backfill => "backfill",
            Publication::Repair => "repair",
        }
    }
}

/// Extracts, transforms and publishes the blocks of one chain: reads `S`, writes `P`.
#[derive(Clone)]
pub struct Crawler<S = Providers, P = Publisher> {
    pub(crate) rpc: S,
    pub(crate) publisher: P,
    pub(crate) confirmations: u64,
    pub(crate) reorg_window: u64,
    published: Arc<watch::Sender<Option<u64>>>,
    pub(crate) store: Option<WindowStore>,
    pub(crate) holes: Option<(Arc<dyn HoleStore>, HolesConfig)>,
    /// Holes found while their store could not be reached: recorded at its next answer.
    unrecorded: Arc<std::sync::Mutex<Vec<Hole>>>,
    /// What time it is for the holes' due times (the system clock but in tests).
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) seq: Sequencer,
}

/// A fetched block made ready to publish: its records (with the hole it leaves when only
/// flagged), or the raw answer for `{chain}.unverified` and its hole.
#[allow(clippy::large_enum_variant)] // one per block, moved once: boxing buys nothing
pub(crate) enum Prepared {
    Good(BlockBundle, Duration, Option<Hole>),
    Unverified(UnverifiedRecord, Hole),
}

impl<S: BlockSource, P: RecordSink> Crawler<S, P> {
    /// `confirmations`: depth of `confirmed` events; `reorg_window`: heights kept to heal reorgs.
    pub fn new(rpc: S, publisher: P, confirmations: u64, reorg_window: u64) -> Self {
        let reorg_window = reorg_window.max(confirmations + 1);
        Crawler {
            rpc,
            publisher,
            confirmations,
            reorg_window,
            published: Arc::new(watch::channel(None).0),
            store: None,
            holes: None,
            unrecorded: Arc::default(),
            clock: Arc::new(SystemClock),
            seq: Sequencer::default(),
        }
    }

    /// Persists the canonical window, so `follow` resumes after a crash (see window_store.rs).
    pub fn with_store(mut self, store: WindowStore) -> Self {
        self.store = Some(store);
        self
    }

    /// Keeps the heights that could not be proven in `holes`, re-driven as `cfg` says.
    pub fn with_holes(mut self, holes: Arc<dyn HoleStore>, cfg: HolesConfig) -> Self {
        self.holes = Some((holes, cfg));
        self
    }

    /// Reads the time from `clock` (a test's paused clock) for the holes' due times.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Claims this run's sequence epoch (the one counter every publisher of the chain shares,
    /// see sequence.rs); without a store the epoch stays 0.
    pub async fn claim_epoch(&self) -> Result<()> {
        if let Some(store) = &self.store {
            self.seq.advance_to(store.claim_epoch(chainlake_wire::clock::unix_seconds()).await?);
        }
        Ok(())
    }

    /// Where a follower resumes: one past the highest persisted height, if any.
    pub async fn resume_height(&self) -> Result<Option<u64>> {
        match &self.store {
            Some(store) => Ok(store.load(self.reorg_window).await?.tip().map(|t| t + 1)),
            None => Ok(None),
        }
    }

    /// The last height published, as it changes.
    pub fn published(&self) -> watch::Receiver<Option<u64>> {
        self.published.subscribe()
    }

    pub fn rpc(&self) -> &S {
        &self.rpc
    }

    /// Transforms one block, flagging what it keeps with a flag; a block that failed strict
    /// verification, or cannot be transformed, becomes an [`UnverifiedRecord`] instead.
    pub(crate) fn prepare(&self, raw: &RawBlock) -> Prepared {
        let chain = self.rpc.chain();
        if let Check::Rejected { failure, attempts } = &raw.check {
            return Prepared::Unverified(unverified(chain, raw, failure, *attempts), self.hole(raw, failure));
        }
        let started = Instant::now();
        let mut bundle = match transform_block(chain, &raw.block, Some(&raw.receipts)) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(chain, block = raw.number, provider = %raw.provider, error = %e,
                    "block cannot be transformed: kept raw in the unverified topic");
                let failure = Failure {
                    reason: Reason::Malformed,
                    detail: e.to_string().into_boxed_str(),
                    expected: None,
                    computed: None,
                    proven_hash: None,
                };
                let hole = self.hole(raw, &failure);
                return Prepared::Unverified(unverified(chain, raw, &failure, 1), hole);
            }
        };
        bundle.block.verified = raw.check.is_verified();
        if bundle.block.verified {
            metrics::counter!(crate::metrics::BLOCKS_VERIFIED, "chain" => chain.to_owned()).increment(1);
        }
        let took = started.elapsed();
        for tx in bundle.txs.iter().filter(|t| !t.type_known || !t.has_receipt) {
            metrics::counter!(crate::metrics::FLAGGED_TXS, "chain" => chain.to_owned()).increment(1);
            tracing::warn!(chain, block = raw.number, tx = %tx.hash, tx_type = tx.tx_type,
                has_receipt = tx.has_receipt, "transaction kept with a flag");
        }
        // Flagged under `warn`: a hole, unless no provider could ever prove it (a transaction
        // type this code does not know is kept and flagged, not re-driven forever).
        let hole =
            raw.check.failure().filter(|f| f.reason != Reason::UnknownTxType).map(|f| self.hole(raw, f));
        Prepared::Good(bundle, took, hole)
    }

    /// The hole `raw` leaves.
    fn hole(&self, raw: &RawBlock, failure: &Failure) -> Hole {
        let hash = raw.block.get("hash").and_then(serde_json::Value::as_str).unwrap_or_default();
        self.new_hole(raw.number, failure.reason.label(), failure.detail.to_string(), &raw.provider, hash)
    }

    /// A hole found now, due for its first re-drive.
    pub(crate) fn new_hole(
        &self,
        height: u64,
        reason: &str,
        detail: String,
        provider: &str,
        hash: &str,
    ) -> Hole {
        let now = self.clock.now_ms();
        let next_try = self.holes.as_ref().map_or(now, |(_, cfg)| crate::holes::next_try(cfg, 0, now));
        Hole {
            height,
            reason: reason.to_owned(),
            detail,
            provider: provider.to_owned(),
            hash: hash.to_owned(),
            found_at: now,
            tries: 0,
            next_try,
        }
    }

    /// After a block of `number` was published: records `hole`, or, for a verified block,
    /// resolves the height's hole if there is one. The store being out of reach never stops
    /// the line: a hole not recorded is kept here and recorded at the store's next answer (and
    /// `{chain}.unverified` has it meanwhile); a hole not resolved is re-driven once more later.
    pub(crate) async fn settle(&self, number: u64, verified: bool, hole: Option<&Hole>) {
        let Some((store, _)) = &self.holes else { return };
        let done = match hole {
            Some(h) => store.record(h).await,
            None if verified => store.resolve(number).await,
            None => return,
        };
        match done {
            Ok(pending) => {
                crate::holes::export(self.rpc.chain(), pending);
                self.record_unrecorded(store.as_ref()).await;
            }
            Err(e) => {
                tracing::warn!(chain = self.rpc.chain(), block = number, error = %e,
                    "holes store unreachable: the hole is recorded when it answers again");
                if let Some(h) = hole {
                    self.unrecorded.lock().unwrap_or_else(|e| e.into_inner()).push(h.clone());
                }
            }
        }
    }

    /// Records the holes found while the store was out of reach, until one fails again.
    async fn record_unrecorded(&self, store: &dyn HoleStore) {
        loop {
            let Some(hole) = self.unrecorded.lock().unwrap_or_else(|e| e.into_inner()).pop() else { return };
            if let Err(e) = store.record(&hole).await {
                tracing::warn!(chain = self.rpc.chain(), block = hole.height, error = %e, "holes store unreachable again");
                self.unrecorded.lock().unwrap_or_else(|e| e.into_inner()).push(hole);
                return;
            }
        }
    }

    /// Publishes one transformed block (until every record is acknowledged), numbered now.
    pub(crate) async fn send_bundle(
        &self,
        bundle: &mut BlockBundle,
        transforming: Duration,
        by: Publication,
        hole: Option<&Hole>,
    ) -> Result<Sent> {
        let started = Instant::now();
        bundle.block.seq = self.seq.next();
        bundle.block.publisher = Some(by.label().to_owned());
        self.publisher.publish(bundle).await?;
        self.settle(bundle.block.number, bundle.block.verified, hole).await;
        Ok(Sent {
            number: bundle.block.number,
            txs: bundle.txs.len() as u64,
            logs: bundle.logs.len() as u64,
            transforming,
            publishing: started.elapsed(),
            unverified: false,
            link: Some((bundle.block.hash.clone(), bundle.block.parent_hash.clone())),
        })
    }

    /// Publishes a block that could not be verified to `{chain}.unverified` only, and keeps
    /// its height as a hole.
    pub(crate) async fn send_unverified(&self, record: &UnverifiedRecord, hole: &Hole) -> Result<Sent> {
        let started = Instant::now();
        self.publisher.publish_unverified(record).await?;
        self.settle(record.number, false, Some(hole)).await;
        Ok(Sent {
            number: record.number,
            txs: 0,
            logs: 0,
            transforming: Duration::ZERO,
            publishing: started.elapsed(),
            unverified: true,
            link: None,
        })
    }

    pub(crate) async fn send(&self, raw: RawBlock, by: Publication) -> Result<Sent> {
        match self.prepare(&raw) {
            Prepared::Good(mut bundle, transforming, hole) => {
                self.send_bundle(&mut bundle, transforming, by, hole.as_ref()).await
            }
            Prepared::Unverified(record, hole) => self.send_unverified(&record, &hole).await,
        }
    }

    pub(crate) fn account(&self, sent: Sent, stats: &mut CrawlStats) {
        stats.transforming += sent.transforming;
        stats.publishing += sent.publishing;
        stats.last_height = stats.last_height.max(Some(sent.number));
        if sent.unverified {
            stats.unverified += 1;
            self.published.send_replace(Some(sent.number));
            return;
        }
        stats.blocks += 1;
        stats.txs += sent.txs;
        stats.logs += sent.logs;
        stats.last_block = Some(sent.number);
        self.published.send_replace(Some(sent.number));
        let chain = self.rpc.chain().to_owned();
        metrics::counter!(crate::metrics::BLOCKS_PUBLISHED, "chain" => chain.clone()).increment(1);
        metrics::gauge!(crate::metrics::LAST_PUBLISHED_BLOCK, "chain" => chain.clone())
            .set(sent.number as f64);
        metrics::gauge!(crate::metrics::RPC_REQUESTS_PER_BLOCK, "chain" => chain)
            .set(self.rpc.requests() as f64 / stats.blocks.max(1) as f64);
    }

    /// Blocks `from..=to`, up to `concurrency` fetched at once, yielded in height order.
    pub(crate) fn fetch_in_order<'a>(
        &'a self,
        from: u64,
        to: u64,
        concurrency: usize,
        cancel: &'a CancellationToken,
    ) -> impl futures::Stream<Item = Result<RawBlock>> + 'a {
        futures::stream::iter(from..=to)
            .map(|n| self.rpc.block(n))
            .buffered(concurrency.max(1))
            .take_until(cancel.cancelled())
    }

    /// Publishes `from..=to`, fetching up to `concurrency` blocks at once, publishing in order.
    #[tracing::instrument(skip(self, cancel), fields(chain = %self.rpc.chain()))]
    pub async fn backfill(
        &self,
        from: u64,
        to: u64,
        concurrency: usize,
        cancel: &CancellationToken,
    ) -> Result<CrawlStats> {
        let mut stats = CrawlStats::default();
        self.backfill_into(from, to, concurrency, cancel, &mut stats, |_| {}).await?;
        Ok(stats)
    }

    /// Like [`Crawler::backfill`], adding to `stats` and calling `on_block` after each height
    /// (published or kept as a hole).
    pub async fn backfill_into(
        &self,
        from: u64,
        to: u64,
        concurrency: usize,
        cancel: &CancellationToken,
        stats: &mut CrawlStats,
        mut on_block: impl FnMut(&CrawlStats),
    ) -> Result<()> {
        // A backfill has no reorg to order against: up to `concurrency` blocks are in flight to
        // Kafka at once; progress (and checkpoints) still advance in height order, on acks.
        let fetch_time = Arc::new(AtomicU64::new(0));
        let timed = futures::stream::iter(from..=to)
            .map(|n| {
                let fetch_time = fetch_time.clone();
                async move {
                    let started = Instant::now();
                    let raw = self.rpc.block(n).await;
                    fetch_time.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                    raw
                }
            })
            .buffered(concurrency.max(1))
            .take_until(cancel.cancelled());
        let mut sent = std::pin::pin!(timed
            .map(|raw| async move { self.send(raw?, Publication::Backfill).await })
            .buffered(concurrency.max(1)));
        // The previous height's hash, while it was published just before.
        let mut below: Option<(u64, String)> = None;
        while let Some(mut done) = sent.try_next().await? {
            if let Some((hash, parent)) = done.link.take() {
                if let Some((n, h)) = below.as_ref().filter(|(n, _)| *n + 1 == done.number) {
                    if *h != parent {
                        self.unlinked(*n, h, done.number, &hash, &parent).await;
                    }
                }
                below = Some((done.number, hash));
            }
            self.account(done, stats);
            on_block(stats);
        }
        stats.waited_for_node += Duration::from_micros(fetch_time.load(Ordering::Relaxed));
        Ok(())
    }
}

impl<S: BlockSource, P: RecordSink> Crawler<S, P> {
    /// Blocks `n` and `n + 1`, both proven, do not link (a reorg between the two fetches, or a
    /// provider serving another branch): both heights become holes, so each is fetched again
    /// later and the node's canonical block of each reaches Bronze; Silver follows the links.
    async fn unlinked(&self, n: u64, hash: &str, above: u64, above_hash: &str, parent: &str) {
        let chain = self.rpc.chain();
        tracing::warn!(chain, block = n, %hash, above, %above_hash, %parent,
            "consecutive blocks do not link: both heights re-driven");
        let detail = format!("block {above} ({above_hash}) names parent {parent}, block {n} is {hash}");
        for (height, h) in [(n, hash), (above, above_hash)] {
            let hole = self.new_hole(height, UNLINKED, detail.clone(), "", h);
            self.settle(height, false, Some(&hole)).await;
        }
    }
}

/// The raw answer of a block given up on, with the reason and the two roots.
fn unverified(chain: &str, raw: &RawBlock, failure: &Failure, attempts: u32) -> UnverifiedRecord {
    UnverifiedRecord {
        schema_version: SCHEMA_VERSION,
        chain: chain.to_owned(),
        number: raw.number,
        hash: raw.block.get("hash").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned(),
        provider: raw.provider.clone(),
        reason: failure.reason.label().to_owned(),
        detail: failure.detail.to_string(),
        expected: failure.expected.map(|h| h.to_string()),
        computed: failure.computed.map(|h| h.to_string()),
        attempts: u64::from(attempts),
        block_json: raw.block.to_string(),
        receipts_json: raw.receipts.to_string(),
        detected_at: chainlake_wire::clock::now_ms(),
    }
}
