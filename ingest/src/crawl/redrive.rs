//! Re-driving holes: fetch the height again (every provider, every retry of a normal fetch),
//! publish the block when it proves (`publisher = repair`, which resolves the hole), else make
//! the hole due again later ([`crate::holes::next_try`]).
//!
//! Three callers: a follower every `holes.check-interval` ([`Crawler::redrive_loop`]), a
//! backfill for its range once its chunks are done, and `chainlake repair`, which takes every
//! hole of a range at once and also the heights the lake lacks ([`Crawler::repair`]).

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::time::Duration;

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::crawl::{Crawler, Prepared, Publication};
use crate::holes::{next_try, Hole, RedriveReport, MISSING};
use crate::source::{BlockSource, RecordSink};
use crate::{Error, Result};

/// How long a claimed hole is withheld from other re-drivers (one re-drive takes at most the
/// fetch's own retries; a re-driver that dies leaves it due again after this).
const CLAIM_LEASE: Duration = Duration::from_secs(300);

/// Holes re-driven at once.
const CONCURRENCY: usize = 4;

impl<S: BlockSource, P: RecordSink> Crawler<S, P> {
    /// Re-drives up to `holes.batch` holes of `range` that are due now, taking them so that no
    /// other process re-drives them at the same time.
    pub async fn redrive_due(
        &self,
        range: RangeInclusive<u64>,
        cancel: &CancellationToken,
    ) -> Result<RedriveReport> {
        let Some((store, cfg)) = &self.holes else { return Ok(RedriveReport::default()) };
        let now = self.clock.now_ms();
        let holes = store.claim_due(range, now, CLAIM_LEASE, cfg.batch).await?;
        self.redrive(holes, false, cancel).await
    }

    /// Re-drives `heights` now, due or not: each recorded hole, and each height without one as
    /// a height the lake lacks (kept as a hole, and published to `{chain}.unverified`, when it
    /// does not prove).
    pub async fn repair(&self, heights: &[u64], cancel: &CancellationToken) -> Result<RedriveReport> {
        let (Some(first), Some(last)) = (heights.iter().min(), heights.iter().max()) else {
            return Ok(RedriveReport::default());
        };
        let mut known: BTreeMap<u64, Hole> = match &self.holes {
            Some((store, _)) => {
                store.list(*first..=*last).await?.into_iter().map(|h| (h.height, h)).collect()
            }
            None => BTreeMap::new(),
        };
        let holes = heights
            .iter()
            .map(|h| {
                known.remove(h).unwrap_or_else(|| {
                    let detail = "no verified block in the lake".to_owned();
                    self.new_hole(*h, MISSING, detail, "", "")
                })
            })
            .collect();
        self.redrive(holes, true, cancel).await
    }

    /// Every `holes.check-interval` until `cancel`: re-drives the due holes of every height.
    /// A failed pass is logged and tried again next time; the follower beside it goes on.
    pub async fn redrive_loop(&self, cancel: &CancellationToken) -> Result<()> {
        let Some((_, cfg)) = &self.holes else { return Ok(()) };
        loop {
            tokio::select! {
                () = tokio::time::sleep(cfg.check_interval) => {}
                () = cancel.cancelled() => return Ok(()),
            }
            match self.redrive_due(0..=u64::MAX, cancel).await {
                Ok(r) if r.tried > 0 => tracing::info!(
                    chain = self.rpc.chain(),
                    tried = r.tried,
                    filled = r.filled,
                    failed = r.failed,
                    "holes re-driven"
                ),
                Ok(_) => {}
                Err(Error::Cancelled { .. }) => return Ok(()),
                Err(e) => {
                    tracing::warn!(chain = self.rpc.chain(), error = %e, "re-driving holes failed: trying again later")
                }
            }
        }
    }

    /// Re-drives `holes`, a few at once; `report_missing`: a height no hole named that does
    /// not prove is published to `{chain}.unverified` too.
    async fn redrive(
        &self,
        holes: Vec<Hole>,
        report_missing: bool,
        cancel: &CancellationToken,
    ) -> Result<RedriveReport> {
        let mut report = RedriveReport::default();
        let mut done = std::pin::pin!(futures::stream::iter(holes)
            .map(|hole| self.redrive_one(hole, report_missing))
            .buffer_unordered(CONCURRENCY)
            .take_until(cancel.cancelled()));
        while let Some(filled) = done.next().await {
            report.tried += 1;
            if filled? {
                report.filled += 1;
            } else {
                report.failed += 1;
            }
        }
        Ok(report)
    }

    /// Fetches `hole`'s height again; true when its block proved and was published.
    async fn redrive_one(&self, hole: Hole, report_missing: bool) -> Result<bool> {
        let raw = match self.rpc.block(hole.height).await {
            Ok(raw) => raw,
            // The chain is shorter than that height now: due again when it may have grown back.
            Err(Error::AboveHead { head, .. }) => {
                let detail = format!("the node's chain ends at {head}");
                self.again(hole, "above_head", detail).await?;
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        match self.prepare(&raw) {
            Prepared::Good(mut bundle, took, failed) => {
                let verified = bundle.block.verified;
                self.send_bundle(&mut bundle, took, Publication::Repair, None).await?;
                match failed {
                    // Published flagged (`warn`): still a hole.
                    Some(f) => self.again(hole, &f.reason, f.detail).await?,
                    None => tracing::info!(
                        chain = self.rpc.chain(),
                        block = raw.number,
                        verified,
                        "hole filled: the block proved and was published"
                    ),
                }
                Ok(verified)
            }
            Prepared::Unverified(record, fresh) => {
                if report_missing && hole.reason == MISSING {
                    self.publisher.publish_unverified(&record).await?;
                }
                self.again(hole, &fresh.reason, fresh.detail).await?;
                Ok(false)
            }
        }
    }

    /// `hole` failed one more re-drive: due again after a longer wait.
    async fn again(&self, hole: Hole, reason: &str, detail: String) -> Result<()> {
        let Some((store, cfg)) = &self.holes else { return Ok(()) };
        let tries = hole.tries.saturating_add(1);
        let now = self.clock.now_ms();
        let hole =
            Hole { reason: reason.to_owned(), detail, tries, next_try: next_try(cfg, tries, now), ..hole };
        tracing::warn!(chain = self.rpc.chain(), block = hole.height, reason = %hole.reason, tries,
            "hole re-driven, still not proven: due again later");
        let pending = store.record(&hole).await?;
        crate::holes::export(self.rpc.chain(), pending);
        Ok(())
    }
}
