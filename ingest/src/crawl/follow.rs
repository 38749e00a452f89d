//! Head following with reorg healing.
//!
//! Reads the head and blocks from a [`BlockSource`]; writes blocks and chain events to a
//! [`RecordSink`], in height order. Every block is transformed (validated) first; its parent
//! hash, read from the validated record, must be the hash the [`CanonicalWindow`] holds for
//! the height below. On a mismatch the follower walks back to the common ancestor, publishes a
//! `reorg` chain event and re-publishes the new branch. A head below the published
//! high-water mark, with no block there, is a reorg to a shorter branch, announced the same way
//! at once. Heights that reach the configured depth are announced as `confirmed`.

use std::time::Duration;

use alloy::primitives::B256;
use chainlake_wire::{BlockBundle, ChainEventKind, ChainEventRecord, SCHEMA_VERSION};
use futures::TryStreamExt;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::crawl::canonical::CanonicalWindow;
use crate::crawl::{CrawlStats, Crawler, Prepared, Publication};
use crate::source::{BlockSource, RecordSink};
use crate::{Error, Result};

/// Parses a validated record's hash field into a [`B256`].
fn hash_of(bundle: &BlockBundle, field: &'static str, value: &str) -> Result<B256> {
    value.parse().map_err(|_| Error::BadHash {
        chain: bundle.block.chain.clone(),
        block: bundle.block.number,
        field,
        value: value.to_owned(),
    })
}

impl<S: BlockSource, P: RecordSink> Crawler<S, P> {
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
        self.claim_epoch().await?;
        let mut next = from;
        // After a restart the blocks published before the crash may have been reorged away.
        match self.tip_reorg(&mut window, &mut stats).await {
            Ok(Some(resume)) => next = resume,
            Err(e) if !moved(&e) => return Err(e),
            _ => {} // nothing to heal, or the chain is shorter now: the loop sees it
        }
        let mut stop_open = true;
        let mut tick = tokio::time::interval(poll.max(Duration::from_millis(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.rpc.start_heads(cancel);
        let mut heads = S::HeadCursor::default();
        loop {
            let head = self.rpc.head().await?;
            metrics::gauge!(crate::metrics::NODE_HEAD, "chain" => self.rpc.chain().to_owned())
                .set(head as f64);
            match self.shrunk(head, &mut window, &mut stats).await {
                Ok(Some(resume)) => next = resume,
                Ok(None) => {}
                Err(e) if moved(&e) => continue,
                Err(e) => return Err(e),
            }
            if head >= next {
                next = self.follow_range(next, head, concurrency, cancel, &mut window, &mut stats).await?;
            }
            let stop = *stop_at.borrow();
            if cancel.is_cancelled() {
                return Ok(stats);
            }
            if stop.is_some_and(|s| next > s) {
                // A reorg at the tip shows only in the next block: check the tip before stopping.
                match self.tip_reorg(&mut window, &mut stats).await {
                    Ok(Some(resume)) => next = resume,
                    Ok(None) => return Ok(stats),
                    Err(e) if moved(&e) => {}
                    Err(e) => return Err(e),
                }
                continue;
            }
            tokio::select! {
                _ = tick.tick() => {}
                _ = self.rpc.next_head(&mut heads) => {}
                _ = cancel.cancelled() => return Ok(stats),
                r = stop_at.changed(), if stop_open => stop_open = r.is_ok(),
            }
        }
    }

    /// If the last published block is no longer canonical (or the node's chain now ends below
    /// it), heals and returns where to resume.
    async fn tip_reorg(&self, window: &mut CanonicalWindow, stats: &mut CrawlStats) -> Result<Option<u64>> {
        let Some(high) = window.published_high().filter(|h| *h > 0) else { return Ok(None) };
        // A node may still answer a height above its head (the kill -9 test found orphans left
        // there when this trusted the answer): above the head nothing published is canonical.
        let head = self.rpc.head().await?;
        if head < high {
            return self.heal_from(head, Vec::new(), window, stats).await.map(Some);
        }
        let Some(node) = self.rpc.hash_if_any(high).await? else {
            return self.heal_from(high - 1, Vec::new(), window, stats).await.map(Some);
        };
        match window.hash_at(high) {
            Some(known) if known != node => {
                self.heal_from(high - 1, vec![node.to_string()], window, stats).await.map(Some)
            }
            // The same block; or one acknowledged but never recorded, re-published from the tip.
            _ => Ok(None),
        }
    }

    /// When the node's head is below the highest published height and the node has no block
    /// there, its chain became shorter (a reorg to a shorter branch): the heights above the
    /// common ancestor are announced orphaned at once rather than when the chain grows back.
    async fn shrunk(
        &self,
        head: u64,
        window: &mut CanonicalWindow,
        stats: &mut CrawlStats,
    ) -> Result<Option<u64>> {
        let Some(high) = window.published_high().filter(|h| *h > head) else { return Ok(None) };
        let below = match window.hash_at(head) {
            Some(known) => self.rpc.hash_if_any(head).await? != Some(known),
            None => false,
        };
        if !below && self.rpc.hash_if_any(high).await?.is_some() {
            return Ok(None); // a head report that lags: the node has the block (the tip check decides)
        }
        tracing::warn!(chain = %self.rpc.chain(), head, published = high,
            "the node's chain ends below the published blocks: announcing them orphaned");
        self.heal_from(head, Vec::new(), window, stats).await.map(Some)
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
        loop {
            let raw = match blocks.try_next().await {
                Ok(Some(raw)) => raw,
                Ok(None) => break,
                // The chain got shorter while we read it: the caller looks at the head again.
                Err(e) if moved(&e) => return Ok(next),
                Err(e) => return Err(e),
            };
            let (mut bundle, transforming, hole) = match self.prepare(&raw) {
                Prepared::Good(bundle, took, hole) => (bundle, took, hole),
                Prepared::Unverified(record, hole) => {
                    // The line goes on: the height is a hole, never published as good.
                    self.raise_high(next, window).await?;
                    let sent = self.send_unverified(&record, &hole).await?;
                    self.account(sent, stats);
                    // Its hash is remembered only when its header was proven to be the block
                    // asked for (a lie about the contents); otherwise the next block's parent
                    // cannot be checked against it.
                    if let Some(hash) = raw.check.failure().and_then(|f| f.proven_hash) {
                        self.remember(next, hash, window).await?;
                    }
                    next += 1;
                    continue;
                }
            };
            let hash = hash_of(&bundle, "hash", &bundle.block.hash)?;
            let parent = hash_of(&bundle, "parent_hash", &bundle.block.parent_hash)?;
            let number = bundle.block.number;
            if !window.extends(number, parent) {
                // Drop the prefetched blocks of the old view before walking back.
                return match self
                    .heal_from(number.saturating_sub(1), vec![hash.to_string()], window, stats)
                    .await
                {
                    Err(e) if moved(&e) => Ok(next),
                    healed => healed,
                };
            }
            self.raise_high(number, window).await?;
            let sent =
                self.send_bundle(&mut bundle, transforming, Publication::Follow, hole.as_ref()).await?;
            self.account(sent, stats);
            // Under its own number: the fetch proved it is the height asked for.
            self.remember(number, hash, window).await?;
            self.confirm(number, window).await?;
            next = number + 1;
        }
        Ok(next)
    }

    /// Records a published height in the window and its store.
    async fn remember(&self, number: u64, hash: B256, window: &mut CanonicalWindow) -> Result<()> {
        let evicted = window.push(number, hash);
        if let Some(store) = &self.store {
            store.record(number, hash, &evicted).await?;
        }
        Ok(())
    }

    /// Before a block above every earlier one is published: persists how far published blocks
    /// may reach (see window_store.rs).
    async fn raise_high(&self, number: u64, window: &mut CanonicalWindow) -> Result<()> {
        if window.published_high().is_some_and(|h| h >= number) {
            return Ok(());
        }
        if let Some(store) = &self.store {
            store.raise_high(number).await?;
        }
        window.raise(number);
        Ok(())
    }

    /// Walks back from `from` to the last height whose hash the node still reports (`above`:
    /// the node's hashes above `from`, highest first), announces every published height above
    /// it orphaned, and returns the first height to re-publish.
    async fn heal_from(
        &self,
        from: u64,
        above: Vec<String>,
        window: &mut CanonicalWindow,
        stats: &mut CrawlStats,
    ) -> Result<u64> {
        let reach = window.published_high();
        let (ancestor, mut new_hashes) = self.common_ancestor(from, above, window).await?;
        // Heights above the one that revealed the reorg are fetched again anyway.
        let rolled_back = window.rollback_to(ancestor);
        let heights: Vec<u64> = rolled_back.iter().map(|(n, _)| *n).collect();
        let orphaned: Vec<String> = rolled_back.into_iter().map(|(_, h)| h.to_string()).collect();
        // Published heights above the ancestor, recorded or not (a crash after an ack).
        let depth = reach.map_or(0, |r| r.saturating_sub(ancestor)).max(orphaned.len() as u64);
        if depth == 0 {
            return Ok(ancestor + 1); // the node moved again while we looked: read on from there
        }
        new_hashes.truncate(depth as usize);
        let event = ChainEventRecord {
            schema_version: SCHEMA_VERSION,
            chain: self.rpc.chain().to_owned(),
            kind: ChainEventKind::Reorg,
            number: ancestor + 1,
            hash: new_hashes.first().cloned().unwrap_or_default(),
            depth,
            orphaned_hashes: orphaned,
            new_hashes,
            detected_at: chainlake_wire::clock::now_ms(),
            seq: self.seq.next(),
        };
        let chain = event.chain.clone();
        tracing::warn!(chain = %chain, fork_point = ancestor, depth = event.depth, "reorg: re-publishing the new branch");
        metrics::counter!(crate::metrics::REORGS, "chain" => chain.clone()).increment(1);
        metrics::histogram!(crate::metrics::REORG_DEPTH, "chain" => chain.clone()).record(event.depth as f64);
        if event.depth > self.confirmations {
            // Heights already announced `confirmed` changed: what downstream trusted moved.
            tracing::error!(chain = %chain, depth = event.depth, confirmations = self.confirmations, "reorg deeper than the confirmation depth");
            metrics::counter!(crate::metrics::REORG_BEYOND_CONFIRMATIONS, "chain" => chain).increment(1);
        }
        // The event first, then the store: a crash in between finds the old hashes again and
        // announces the reorg once more, never re-publishes a shorter branch unannounced.
        self.publisher.publish_event(&event).await?;
        if let Some(store) = &self.store {
            store.forget(&heights, ancestor).await?;
        }
        stats.reorgs += 1;
        Ok(ancestor + 1)
    }

    /// The highest height at or below `from` where the node and the window agree, and the
    /// node's hashes above it (lowest first), or [`Error::ReorgTooDeep`] past the window.
    async fn common_ancestor(
        &self,
        from: u64,
        mut new_hashes: Vec<String>,
        window: &CanonicalWindow,
    ) -> Result<(u64, Vec<String>)> {
        let oldest = window.oldest().unwrap_or(0);
        let mut height = from;
        loop {
            let node_hash = self.rpc.block_hash(height).await?;
            if window.hash_at(height) == Some(node_hash) {
                new_hashes.reverse();
                return Ok((height, new_hashes));
            }
            new_hashes.push(node_hash.to_string());
            if height <= oldest {
                let chain = self.rpc.chain().to_owned();
                metrics::counter!(crate::metrics::REORG_TOO_DEEP, "chain" => chain.clone()).increment(1);
                return Err(Error::ReorgTooDeep { chain, block: from + 1, oldest });
            }
            height -= 1;
        }
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
            hash: hash.to_string(),
            depth: self.confirmations,
            orphaned_hashes: Vec::new(),
            new_hashes: Vec::new(),
            detected_at: chainlake_wire::clock::now_ms(),
            seq: self.seq.next(),
        };
        self.publisher.publish_event(&event).await
    }
}

/// The node's chain changed under a read (see [`Error::AboveHead`]): look at the head again.
fn moved(e: &Error) -> bool {
    matches!(e, Error::AboveHead { .. })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_utils::chain::{block_hash, ScriptedChain, Step};
    use crate::test_utils::sink::{MemorySink, Published};

    fn crawler(chain: &ScriptedChain, sink: &MemorySink, window: u64) -> Crawler<ScriptedChain, MemorySink> {
        Crawler::new(chain.clone(), sink.clone(), 2, window)
    }

    async fn follow_until(c: &Crawler<ScriptedChain, MemorySink>, stop: u64) -> Result<CrawlStats> {
        follow_with(c, stop, 4).await
    }

    async fn follow_with(
        c: &Crawler<ScriptedChain, MemorySink>,
        stop: u64,
        concurrency: usize,
    ) -> Result<CrawlStats> {
        let (_tx, rx) = watch::channel(Some(stop));
        c.follow(0, rx, Duration::from_millis(10), concurrency, &CancellationToken::new()).await
    }

    fn blocks(range: std::ops::RangeInclusive<u64>, branch: u64) -> Vec<Published> {
        range.map(|n| Published::Block { number: n, hash: block_hash(n, branch).to_string() }).collect()
    }

    fn hashes(range: std::ops::RangeInclusive<u64>, branch: u64) -> Vec<String> {
        range.map(|n| block_hash(n, branch).to_string()).collect()
    }

    /// A reorg of heights 7..=9 seen at height 10: walk back to 6, announce, re-publish 7..=12.
    #[tokio::test(start_paused = true)]
    async fn a_reorg_is_announced_then_the_new_branch_republished_in_order() {
        let chain = ScriptedChain::new(9).on_head([None, Some(Step::Reorg { from: 7, to: 12 })]);
        let sink = MemorySink::default();
        let stats = follow_until(&crawler(&chain, &sink, 8), 12).await.unwrap();
        let mut expected = blocks(0..=9, 0);
        expected.push(Published::Reorg { number: 7, orphaned: hashes(7..=9, 0), new: hashes(7..=9, 1) });
        expected.extend(blocks(7..=12, 1));
        assert_eq!(sink.without_confirmations(), expected);
        assert_eq!((stats.reorgs, stats.blocks, stats.last_block), (1, 16, Some(12)));
    }

    /// Confirmations name the canonical hash `confirmations` below each new tip, and only
    /// blocks that were still canonical then.
    #[tokio::test(start_paused = true)]
    async fn confirmations_follow_the_canonical_branch() {
        let chain = ScriptedChain::new(3).on_head([
            None,
            Some(Step::Grow { to: 5 }),
            Some(Step::Reorg { from: 5, to: 6 }),
        ]);
        let sink = MemorySink::default();
        follow_until(&crawler(&chain, &sink, 8), 6).await.unwrap();
        let confirmed: Vec<u64> = sink
            .published()
            .into_iter()
            .filter_map(|p| if let Published::Confirmed { number } = p { Some(number) } else { None })
            .collect();
        // Tips 2..=5 confirm 0..=3; after the reorg, tips 5' and 6' confirm 3 (again) and 4.
        assert_eq!(confirmed, vec![0, 1, 2, 3, 3, 4]);
    }

    /// A reorg of the last published block before stopping shows only at the tip check.
    #[tokio::test(start_paused = true)]
    async fn a_reorg_at_the_tip_is_healed_before_stopping() {
        let chain = ScriptedChain::new(5).after_fetch(5, Step::Reorg { from: 4, to: 5 });
        let sink = MemorySink::default();
        // One block at a time: block 4 is read before the reorg that follows the read of 5.
        follow_with(&crawler(&chain, &sink, 8), 5, 1).await.unwrap();
        let mut expected = blocks(0..=5, 0);
        expected.push(Published::Reorg { number: 4, orphaned: hashes(4..=5, 0), new: hashes(4..=5, 1) });
        expected.extend(blocks(4..=5, 1));
        assert_eq!(sink.without_confirmations(), expected);
    }

    /// Past the window there is no common ancestor to heal from: a typed error, nothing
    /// published for the new branch.
    #[tokio::test(start_paused = true)]
    async fn a_reorg_deeper_than_the_window_is_an_error() {
        let chain = ScriptedChain::new(9).on_head([None, Some(Step::Reorg { from: 3, to: 10 })]);
        let sink = MemorySink::default();
        let err = follow_until(&crawler(&chain, &sink, 4), 10).await.unwrap_err();
        assert!(matches!(err, Error::ReorgTooDeep { block: 10, oldest: 6, .. }), "{err}");
        assert_eq!(sink.heights(), (0..=9).collect::<Vec<_>>());
    }

    /// A → B → A: the follower ends on the branch the node reports, every height once more.
    #[tokio::test(start_paused = true)]
    async fn two_reorgs_in_a_row_end_on_the_last_branch() {
        let chain = ScriptedChain::new(6).on_head([
            None,
            Some(Step::Reorg { from: 5, to: 7 }),
            Some(Step::Reorg { from: 4, to: 8 }),
        ]);
        let sink = MemorySink::default();
        let c = crawler(&chain, &sink, 8);
        let stats = follow_until(&c, 8).await.unwrap();
        assert_eq!(stats.reorgs, 2);
        let tail: Vec<Published> = sink.without_confirmations().into_iter().rev().take(5).collect();
        assert_eq!(tail.into_iter().rev().collect::<Vec<_>>(), blocks(4..=8, 2));
    }

    /// 0..=9 published, then the chain ends at 8 on a new branch: heights 7..=9 announced
    /// orphaned (the new branch's 7' and 8'), then 7'..=`last` published.
    fn shrunk_to_8_then(last: u64) -> Vec<Published> {
        let mut expected = blocks(0..=9, 0);
        expected.push(Published::Reorg { number: 7, orphaned: hashes(7..=9, 0), new: hashes(7..=8, 1) });
        expected.extend(blocks(7..=last, 1));
        expected
    }

    /// The chain becomes shorter right after its tip was read (a reorg to a shorter branch):
    /// the follower does not wait for the chain to grow back, and does not stop with an
    /// orphan published: the tip check announces heights 7..=9 orphaned, 7' and 8' follow.
    #[tokio::test(start_paused = true)]
    async fn a_reorg_to_a_shorter_branch_is_healed_before_stopping() {
        let chain = ScriptedChain::new(9).after_fetch(9, Step::Reorg { from: 7, to: 8 });
        let sink = MemorySink::default();
        follow_with(&crawler(&chain, &sink, 8), 8, 1).await.unwrap();
        assert_eq!(sink.without_confirmations(), shrunk_to_8_then(8));
    }

    /// A head below the published tip while following: announced at once, then the new branch.
    #[tokio::test(start_paused = true)]
    async fn a_head_below_the_published_tip_is_a_reorg() {
        let chain = ScriptedChain::new(9).on_head([
            None,
            Some(Step::Reorg { from: 7, to: 8 }),
            Some(Step::Grow { to: 10 }),
        ]);
        let sink = MemorySink::default();
        follow_until(&crawler(&chain, &sink, 8), 10).await.unwrap();
        assert_eq!(sink.without_confirmations(), shrunk_to_8_then(10));
    }
}
