//! The ingest loop: extract ([`RpcSource`]) → transform → publish ([`Publisher`]).
//!
//! Reads blocks `from..=to` (backfill) or from a height onwards as the head moves (follow);
//! writes every block's records to Kafka, in height order. The follower checks each block's
//! parent against a [`CanonicalWindow`]; on a mismatch it walks back to the common ancestor,
//! publishes a `reorg` chain event and re-publishes the new branch. Heights that reach the
//! configured depth are announced as `confirmed`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::canonical::CanonicalWindow;
use crate::heads::WsHeads;
use crate::providers::Providers;
use crate::publish::Publisher;
use crate::rpc::RawBlock;
use crate::transform::transform_block;
use crate::window_store::WindowStore;
use crate::wire::{ChainEventKind, ChainEventRecord, SCHEMA_VERSION};
use crate::{Error, Result};

/// One block transformed and acknowledged by Kafka.
struct Sent {
    number: u64,
    txs: u64,
    logs: u64,
    transforming: Duration,
    publishing: Duration,
}

/// What a crawl did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrawlStats {
    pub blocks: u64,
    pub txs: u64,
    pub logs: u64,
    /// Highest height published.
    pub last_block: Option<u64>,
    pub reorgs: u64,
    /// Where the time went, summed over concurrent blocks: the node answering (block +
    /// receipts), transforming, and publishing until Kafka acknowledged.
    pub waited_for_node: Duration,
    pub transforming: Duration,
    pub publishing: Duration,
}

/// Extracts, transforms and publishes the blocks of one chain.
#[derive(Clone)]
pub struct Crawler {
    rpc: Providers,
    publisher: Publisher,
    confirmations: u64,
    reorg_window: u64,
    published: Arc<watch::Sender<Option<u64>>>,
    store: Option<WindowStore>,
}

impl Crawler {
    /// `confirmations`: depth of `confirmed` events; `reorg_window`: heights kept to heal reorgs.
    pub fn new(rpc: Providers, publisher: Publisher, confirmations: u64, reorg_window: u64) -> Self {
        let reorg_window = reorg_window.max(confirmations + 1);
        Crawler {
            rpc,
            publisher,
            confirmations,
            reorg_window,
            published: Arc::new(watch::channel(None).0),
            store: None,
        }
    }

    /// Persists the canonical window, so `follow` resumes after a crash (see window_store.rs).
    pub fn with_store(mut self, store: WindowStore) -> Self {
        self.store = Some(store);
        self
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

    pub fn rpc(&self) -> &Providers {
        &self.rpc
    }

    async fn publish(&self, raw: RawBlock, stats: &mut CrawlStats) -> Result<()> {
        let done = self.send(raw).await?;
        self.account(done, stats);
        Ok(())
    }

    /// Transforms and publishes one block (until Kafka acknowledged every record).
    async fn send(&self, raw: RawBlock) -> Result<Sent> {
        let started = Instant::now();
        let bundle = transform_block(self.rpc.chain(), &raw.block, Some(&raw.receipts))?;
        let transforming = started.elapsed();
        for tx in bundle.txs.iter().filter(|t| !t.type_known || !t.has_receipt) {
            metrics::counter!("chainlake_flagged_txs_total", "chain" => self.rpc.chain().to_owned())
                .increment(1);
            tracing::warn!(chain = self.rpc.chain(), block = raw.number, tx = %tx.hash, tx_type = tx.tx_type,
                has_receipt = tx.has_receipt, "transaction kept with a flag");
        }
        let started = Instant::now();
        self.publisher.publish(&bundle).await?;
        Ok(Sent {
            number: raw.number,
            txs: bundle.txs.len() as u64,
            logs: bundle.logs.len() as u64,
            transforming,
            publishing: started.elapsed(),
        })
    }

    fn account(&self, sent: Sent, stats: &mut CrawlStats) {
        stats.transforming += sent.transforming;
        stats.publishing += sent.publishing;
        stats.blocks += 1;
        stats.txs += sent.txs;
        stats.logs += sent.logs;
        stats.last_block = Some(sent.number);
        self.published.send_replace(Some(sent.number));
        let chain = self.rpc.chain().to_owned();
        metrics::counter!("chainlake_blocks_published_total", "chain" => chain.clone()).increment(1);
        metrics::gauge!("chainlake_last_published_block", "chain" => chain.clone()).set(sent.number as f64);
        metrics::gauge!("chainlake_rpc_requests_per_block", "chain" => chain)
            .set(self.rpc.requests() as f64 / stats.blocks.max(1) as f64);
    }

    /// Blocks `from..=to`, up to `concurrency` fetched at once, yielded in height order.
    fn fetch_in_order<'a>(
        &'a self,
        from: u64,
        to: u64,
        concurrency: usize,
        cancel: &'a CancellationToken,
    ) -> impl futures::Stream<Item = Result<RawBlock>> + 'a {
        futures::stream::iter(from..=to)
            .map(|n| self.rpc.fetch_block(n))
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

    /// Like [`Crawler::backfill`], adding to `stats` and calling `on_block` after each publish.
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
        let fetch_time = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let timed = futures::stream::iter(from..=to)
            .map(|n| {
                let fetch_time = fetch_time.clone();
                async move {
                    let started = Instant::now();
                    let raw = self.rpc.fetch_block(n).await;
                    fetch_time.fetch_add(
                        started.elapsed().as_micros() as u64,
                        std::sync::atomic::Ordering::Relaxed,
                    );
                    raw
                }
            })
            .buffered(concurrency.max(1))
            .take_until(cancel.cancelled());
        let mut sent = std::pin::pin!(timed
            .map(|raw| async move { self.send(raw?).await })
            .buffered(concurrency.max(1)));
        while let Some(done) = sent.try_next().await? {
            self.account(done, stats);
            on_block(stats);
        }
        stats.waited_for_node += Duration::from_micros(fetch_time.load(std::sync::atomic::Ordering::Relaxed));
        Ok(())
    }

    /// Follows the head from `from`, until cancelled or past the height sent on `stop_at`.
    #[tracing::instrument(skip(self, stop_at, cancel), fields(chain = %self.rpc.chain()))]
    pub async fn follow(
        &self,
        from: u64,
        mut stop_at: watch::Receiver<Option<u64>>,
        poll: Duration,
        concurrency: usize,
        cancel: &CancellationToken,
    ) -> Result<CrawlStats> {
        let mut stats = CrawlStats::default();
        let mut window = match &self.store {
            Some(store) => store.load(self.reorg_window).await?,
            None => CanonicalWindow::new(self.reorg_window),
        };
        let mut next = from;
        // After a restart the blocks published before the crash may have been reorged away.
        if let Some(resume) = self.tip_reorg(next, &mut window, &mut stats).await? {
            next = resume;
        }
        let mut stop_open = true;
        let mut tick = tokio::time::interval(poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.rpc.subscribe_heads(cancel);
        let mut ws: Option<(String, WsHeads)> = None;
        loop {
            // A fresh newHeads announcement saves the eth_blockNumber poll.
            let head = match self.rpc.fresh_ws_head() {
                Some(h) => {
                    self.rpc.check_health().await;
                    h
                }
                None => self.rpc.head().await?,
            };
            metrics::gauge!("chainlake_node_head", "chain" => self.rpc.chain().to_owned()).set(head as f64);
            if head >= next {
                next = self.follow_range(next, head, concurrency, cancel, &mut window, &mut stats).await?;
            }
            let stop = *stop_at.borrow();
            if cancel.is_cancelled() {
                return Ok(stats);
            }
            if stop.is_some_and(|s| next > s) {
                // A reorg at the tip shows only in the next block: check the tip before stopping.
                match self.tip_reorg(next, &mut window, &mut stats).await? {
                    Some(resume) => next = resume,
                    None => return Ok(stats),
                }
                continue;
            }
            let active = self.rpc.active().provider().to_owned();
            if ws.as_ref().is_none_or(|(p, _)| *p != active) {
                ws = self.rpc.ws_heads().map(|mut w| {
                    w.mark_seen();
                    (active, w)
                });
            }
            tokio::select! {
                _ = tick.tick() => {}
                _ = wait_ws(&mut ws) => {}
                _ = cancel.cancelled() => return Ok(stats),
                r = stop_at.changed(), if stop_open => stop_open = r.is_ok(),
            }
        }
    }

    /// If the last published block is no longer canonical, heals and returns where to resume.
    async fn tip_reorg(
        &self,
        next: u64,
        window: &mut CanonicalWindow,
        stats: &mut CrawlStats,
    ) -> Result<Option<u64>> {
        let Some(tip) = next.checked_sub(1).filter(|t| *t > 0) else { return Ok(None) };
        let Some(known) = window.hash_at(tip).map(str::to_owned) else { return Ok(None) };
        let node = self.rpc.block_hash(tip).await?;
        if node == known {
            return Ok(None);
        }
        self.heal_reorg(tip, node, window, stats).await.map(Some)
    }

    /// Publishes `from..=to` in order, checking each parent; returns the next height to read.
    async fn follow_range(
        &self,
        from: u64,
        to: u64,
        concurrency: usize,
        cancel: &CancellationToken,
        window: &mut CanonicalWindow,
        stats: &mut CrawlStats,
    ) -> Result<u64> {
        let mut blocks = std::pin::pin!(self.fetch_in_order(from, to, concurrency, cancel));
        let mut next = from;
        while let Some(raw) = blocks.try_next().await? {
            let field =
                |k: &str| raw.block.get(k).and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
            let (hash, parent) = (field("hash"), field("parentHash"));
            if !window.extends(raw.number, &parent) {
                // Drop the prefetched blocks of the old view before walking back.
                return self.heal_reorg(raw.number, hash, window, stats).await;
            }
            self.publish(raw, stats).await?;
            let evicted = window.push(next, hash.clone());
            if let Some(store) = &self.store {
                store.record(next, &hash, &evicted).await?;
            }
            self.confirm(next, window).await?;
            next += 1;
        }
        Ok(next)
    }

    /// Walks back from `number - 1` to the last height whose hash the node still reports,
    /// publishes the reorg event and returns the first height to re-publish.
    async fn heal_reorg(
        &self,
        number: u64,
        new_hash: String,
        window: &mut CanonicalWindow,
        stats: &mut CrawlStats,
    ) -> Result<u64> {
        let chain = self.rpc.chain().to_owned();
        let oldest = window.oldest().unwrap_or(0);
        let mut height = number - 1;
        let mut new_hashes = vec![new_hash];
        let ancestor = loop {
            let node_hash = self.rpc.block_hash(height).await?;
            if window.hash_at(height) == Some(node_hash.as_str()) {
                break height;
            }
            new_hashes.push(node_hash);
            if height <= oldest {
                metrics::counter!("chainlake_reorg_too_deep_total", "chain" => chain.clone()).increment(1);
                return Err(Error::ReorgTooDeep { chain, block: number, oldest });
            }
            height -= 1;
        };
        new_hashes.reverse();
        // Heights above the one that revealed the reorg are fetched again anyway.
        let rolled_back = window.rollback_to(ancestor);
        if let Some(store) = &self.store {
            store.forget(&rolled_back.iter().map(|(n, _)| *n).collect::<Vec<_>>()).await?;
        }
        let orphaned: Vec<String> = rolled_back.into_iter().map(|(_, h)| h).collect();
        if orphaned.is_empty() {
            return Ok(number); // the node moved again while we looked: read `number` anew
        }
        new_hashes.truncate(orphaned.len());
        let event = ChainEventRecord {
            schema_version: SCHEMA_VERSION,
            chain: chain.clone(),
            kind: ChainEventKind::Reorg,
            number: ancestor + 1,
            hash: new_hashes.first().cloned().unwrap_or_default(),
            depth: orphaned.len() as u64,
            orphaned_hashes: orphaned,
            new_hashes,
            detected_at: now_millis(),
        };
        tracing::warn!(chain = %chain, fork_point = ancestor, depth = event.depth, "reorg: re-publishing the new branch");
        metrics::counter!("chainlake_reorgs_total", "chain" => chain.clone()).increment(1);
        metrics::histogram!("chainlake_reorg_depth", "chain" => chain).record(event.depth as f64);
        self.publisher.publish_event(&event).await?;
        stats.reorgs += 1;
        Ok(ancestor + 1)
    }

    /// Announces the height that just reached `confirmations` depth.
    async fn confirm(&self, tip: u64, window: &CanonicalWindow) -> Result<()> {
        let Some(height) = tip.checked_sub(self.confirmations) else { return Ok(()) };
        let Some(hash) = window.hash_at(height) else { return Ok(()) };
        let event = ChainEventRecord {
            schema_version: SCHEMA_VERSION,
            chain: self.rpc.chain().to_owned(),
            kind: ChainEventKind::Confirmed,
            number: height,
            hash: hash.to_owned(),
            depth: self.confirmations,
            orphaned_hashes: Vec::new(),
            new_hashes: Vec::new(),
            detected_at: now_millis(),
        };
        self.publisher.publish_event(&event).await
    }
}

async fn wait_ws(ws: &mut Option<(String, WsHeads)>) {
    match ws {
        Some((_, w)) => w.changed().await,
        None => std::future::pending().await,
    }
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
