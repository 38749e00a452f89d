//! Verified fetches: a block reaches the crawler only with a [`Check`] saying what was proven.
//!
//! Reads blocks and receipts through [`Providers::call_bounded`]; proves each answer with
//! [`crate::verify`] inside the provider's turn, so an answer that does not prove is a fault
//! like a 502: counted per provider and reason (`chainlake_verify_failures_total`), counted
//! towards that provider's demotion as a lie, and retried on the next provider, then in backoff
//! rounds (call.rs). When only the receipts are wrong they are first fetched again by block hash
//! from the same provider (a reorg between the two calls, a short or foreign list). After
//! `rpc.verify-attempts` answers that do not prove (or `rpc.give-up-after`) the block is given
//! up on for now: `Rejected` under `chain.verify = strict`, `Failed` (published flagged) under
//! `warn`; the crawler keeps the height as a hole to re-drive (crate::holes).

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use super::{below_head, Providers};
use crate::config::VerifyMode;
use crate::rpc::client::RpcSource;
use crate::verify::raw::RawBlock;
use crate::verify::{verify_block, Check, Failure, Reason};
use crate::{Error, Result};

/// What verifying one answer found.
type Verdict = std::result::Result<(), Failure>;

impl Providers {
    /// Block and receipts at `number`, verified as `chain.verify` says.
    pub async fn fetch_checked(&self, number: u64) -> Result<RawBlock> {
        let fetched = self
            .call_bounded("block", self.verify_attempts, |s| async move {
                let raw = below_head(&s, number, s.fetch_block(number).await).await?;
                self.prove(&s, raw).await
            })
            .await;
        match fetched {
            Err(Error::Unproven { failure, raw, attempts, .. }) => Ok(self.give_up(*raw, *failure, attempts)),
            other => other,
        }
    }

    /// Proves one provider's answer; an [`Error::Unproven`] (a lie) when it does not prove.
    async fn prove(&self, s: &RpcSource, raw: RawBlock) -> Result<RawBlock> {
        if self.verify == VerifyMode::Off {
            // Unproven contents, but the block must still be the one asked for.
            return match wrong_number(&raw) {
                None => Ok(raw),
                Some(failure) => Err(self.lie(raw, failure)),
            };
        }
        let (raw, first) = self.verify_raw(raw).await?;
        let Err(first) = first else { return Ok(verified(raw)) };
        self.count_failure(&raw, &first);
        if !first.reason.receipts_only() {
            return Err(self.lie(raw, first));
        }
        let (raw, again) = self.refetch_receipts(s, raw).await?;
        match again {
            Ok(()) => Ok(verified(raw)),
            Err(again) => {
                self.count_failure(&raw, &again);
                Err(self.lie(raw, again))
            }
        }
    }

    fn lie(&self, raw: RawBlock, failure: Failure) -> Error {
        Error::Unproven {
            chain: self.chain().to_owned(),
            block: raw.number,
            provider: raw.provider.clone(),
            failure: Box::new(failure),
            raw: Box::new(raw),
            attempts: 1,
        }
    }

    /// After the last attempt: `Rejected` (strict) or `Failed` (warn), reported once.
    fn give_up(&self, mut raw: RawBlock, failure: Failure, attempts: u32) -> RawBlock {
        metrics::counter!(crate::metrics::BLOCKS_UNVERIFIED, "chain" => self.chain().to_owned(),
            "reason" => failure.reason.label())
        .increment(1);
        tracing::error!(chain = self.chain(), block = raw.number, provider = %raw.provider, attempts,
            reason = failure.reason.label(), detail = %failure.detail,
            "block could not be verified: kept as a hole to re-drive");
        raw.check = match self.verify {
            VerifyMode::Warn => Check::Failed { failure, attempts },
            _ => Check::Rejected { failure, attempts },
        };
        raw
    }

    /// Verifies on the blocking pool: milliseconds of CPU per block that would otherwise
    /// stall every fetch, transform and ack polled by the same task (a backfill polls all of
    /// its in-flight blocks from one task), so several blocks are proven at once.
    async fn verify_raw(&self, raw: RawBlock) -> Result<(RawBlock, Verdict)> {
        let started = Instant::now();
        let options = self.verify_options;
        let done = tokio::task::spawn_blocking(move || {
            // A panic inside a decoder leaves the block unproven, never lost.
            let res = std::panic::catch_unwind(AssertUnwindSafe(|| {
                verify_block(&raw.block, &raw.receipts, raw.number, &options)
            }))
            .unwrap_or_else(|_| Err(Failure::decode("verification panicked")));
            (raw, res)
        })
        .await
        // The blocking pool only refuses work while the runtime shuts down.
        .map_err(|_| Error::Cancelled { chain: self.chain().to_owned() })?;
        metrics::histogram!(crate::metrics::VERIFY_SECONDS, "chain" => self.chain().to_owned())
            .record(started.elapsed().as_secs_f64());
        Ok(done)
    }

    /// Fetches the receipts again by the (proven) block hash from the provider that served
    /// the block, and verifies again.
    async fn refetch_receipts(&self, source: &RpcSource, mut raw: RawBlock) -> Result<(RawBlock, Verdict)> {
        let hash = raw.block.get("hash").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
        match source.receipts_by_hash(raw.number, &hash, &raw.block).await {
            Ok(receipts) => raw.receipts = receipts,
            Err(e) => tracing::warn!(chain = self.chain(), block = raw.number, provider = %raw.provider,
                error = %e, "re-fetching receipts by block hash failed"),
        }
        self.verify_raw(raw).await
    }

    fn count_failure(&self, raw: &RawBlock, f: &Failure) {
        metrics::counter!(crate::metrics::VERIFY_FAILURES, "chain" => self.chain().to_owned(),
            "provider" => raw.provider.clone(), "reason" => f.reason.label())
        .increment(1);
        tracing::warn!(chain = self.chain(), block = raw.number, provider = %raw.provider,
            reason = f.reason.label(), detail = %f.detail, "block failed verification: asking again");
    }
}

/// A [`Reason::WrongBlock`] failure when the answer's `number` is not the height asked for.
fn wrong_number(raw: &RawBlock) -> Option<Failure> {
    let number = raw.block.get("number").and_then(serde_json::Value::as_str);
    let found = number.and_then(chainlake_wire::hexnum::parse_u64);
    (found != Some(raw.number)).then(|| Failure {
        reason: Reason::WrongBlock,
        detail: format!("asked for block {}, the answer is block {number:?}", raw.number).into_boxed_str(),
        expected: None,
        computed: None,
        proven_hash: None,
    })
}

fn verified(mut raw: RawBlock) -> RawBlock {
    raw.check = Check::Verified;
    raw
}
