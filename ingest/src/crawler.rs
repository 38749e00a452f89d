//! The ingest loop: extract ([`RpcSource`]) → transform → publish ([`Publisher`]).
//!
//! Reads blocks `from..=to` (backfill) or from a height onwards as the head moves (follow);
//! writes every block's records to Kafka, in height order.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::publish::Publisher;
use crate::rpc::{RawBlock, RpcSource};
use crate::transform::transform_block;
use crate::Result;

/// What a crawl did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrawlStats {
    pub blocks: u64,
    pub txs: u64,
    pub logs: u64,
    /// Highest height published.
    pub last_block: Option<u64>,
}

/// Extracts, transforms and publishes the blocks of one chain.
#[derive(Clone)]
pub struct Crawler {
    rpc: RpcSource,
    publisher: Publisher,
}

impl Crawler {
    pub fn new(rpc: RpcSource, publisher: Publisher) -> Self {
        Crawler { rpc, publisher }
    }

    pub fn rpc(&self) -> &RpcSource {
        &self.rpc
    }

    async fn publish(&self, raw: RawBlock, stats: &mut CrawlStats) -> Result<()> {
        let bundle = transform_block(self.rpc.chain(), &raw.block, Some(&raw.receipts))?;
        for tx in bundle.txs.iter().filter(|t| !t.type_known || !t.has_receipt) {
            metrics::counter!("chainlake_flagged_txs_total", "chain" => self.rpc.chain().to_owned())
                .increment(1);
            tracing::warn!(chain = self.rpc.chain(), block = raw.number, tx = %tx.hash, tx_type = tx.tx_type,
                has_receipt = tx.has_receipt, "transaction kept with a flag");
        }
        self.publisher.publish(&bundle).await?;
        stats.blocks += 1;
        stats.txs += bundle.txs.len() as u64;
        stats.logs += bundle.logs.len() as u64;
        stats.last_block = Some(raw.number);
        let chain = self.rpc.chain().to_owned();
        metrics::counter!("chainlake_blocks_published_total", "chain" => chain.clone()).increment(1);
        metrics::gauge!("chainlake_last_published_block", "chain" => chain.clone()).set(raw.number as f64);
        metrics::gauge!("chainlake_rpc_requests_per_block", "chain" => chain)
            .set(self.rpc.requests() as f64 / stats.blocks.max(1) as f64);
        Ok(())
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
        self.backfill_into(from, to, concurrency, cancel, &mut stats).await?;
        Ok(stats)
    }

    async fn backfill_into(
        &self,
        from: u64,
        to: u64,
        concurrency: usize,
        cancel: &CancellationToken,
        stats: &mut CrawlStats,
    ) -> Result<()> {
        let mut blocks = std::pin::pin!(futures::stream::iter(from..=to)
            .map(|n| self.rpc.fetch_block(n))
            .buffered(concurrency.max(1))
            .take_until(cancel.cancelled()));
        while let Some(raw) = blocks.try_next().await? {
            self.publish(raw, stats).await?;
        }
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
        let mut next = from;
        let mut stop_open = true;
        let mut tick = tokio::time::interval(poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let head = self.rpc.head().await?;
            metrics::gauge!("chainlake_node_head", "chain" => self.rpc.chain().to_owned()).set(head as f64);
            if head >= next {
                self.backfill_into(next, head, concurrency, cancel, &mut stats).await?;
                next = stats.last_block.map_or(next, |b| b + 1);
            }
            let stop = *stop_at.borrow();
            if cancel.is_cancelled() || stop.is_some_and(|s| next > s) {
                return Ok(stats);
            }
            tokio::select! {
                _ = tick.tick() => {}
                _ = cancel.cancelled() => return Ok(stats),
                r = stop_at.changed(), if stop_open => stop_open = r.is_ok(),
            }
        }
    }
}
