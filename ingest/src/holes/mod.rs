//! Holes: heights not yet published verified, kept until a verified block for them is.
//!
//! A height becomes a hole when its block could not be proven after `rpc.verify-attempts`
//! (strict: published to `{chain}.unverified` only; warn: published flagged), whoever fetched
//! it — follower, backfill or repair. The hole names the reason, the provider and the claimed
//! hash, and when it is due to be fetched again: `holes.initial-backoff` after it was found,
//! doubling with every failed re-drive up to `holes.max-backoff` ([`next_try`]). Followers
//! re-drive the due holes every `holes.check-interval`, a backfill those of its range before it
//! ends, `chainlake repair` every hole of a range at once (redrive.rs); a verified block
//! published for the height, by anyone, resolves it. `chainlake_holes` is how many are pending.
//!
//! [`HoleStore`] is the role; [`redis::RedisHoles`] its implementation (beside the backfill
//! claims, so it survives restarts and is shared by replicas); the unit tests use an in-process
//! one (test_utils/holes.rs).

pub mod redis;

use std::ops::RangeInclusive;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::config::HolesConfig;
use crate::Result;

/// One height not yet published verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hole {
    pub height: u64,
    /// Why the last attempt failed (a [`crate::verify::Reason`] label).
    pub reason: String,
    pub detail: String,
    /// The provider of the last answer (pseudonym).
    pub provider: String,
    /// The hash the last answer claimed (empty when it had none).
    pub hash: String,
    /// Unix milliseconds when it was first found.
    pub found_at: i64,
    /// Re-drives that failed so far.
    pub tries: u32,
    /// Unix milliseconds when it is due to be fetched again.
    pub next_try: i64,
}

/// Where holes are kept: shared by every process of a chain and namespace.
pub trait HoleStore: Send + Sync + 'static {
    /// Records `hole` (replacing what was known of its height); returns how many are pending.
    fn record<'a>(&'a self, hole: &'a Hole) -> BoxFuture<'a, Result<u64>>;
    /// Forgets the hole at `height`, if any (a verified block was published for it); returns
    /// how many are pending.
    fn resolve(&self, height: u64) -> BoxFuture<'_, Result<u64>>;
    /// Takes up to `limit` holes of `range` due at `now` (Unix ms), lowest first, and makes
    /// them due again only after `lease`, so no other process re-drives them meanwhile.
    fn claim_due(
        &self,
        range: RangeInclusive<u64>,
        now: i64,
        lease: Duration,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<Hole>>>;
    /// Every hole of `range`, lowest first.
    fn list(&self, range: RangeInclusive<u64>) -> BoxFuture<'_, Result<Vec<Hole>>>;
}

/// What re-driving holes did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedriveReport {
    /// Heights fetched again.
    pub tried: u64,
    /// Heights whose block proved and was published (their holes resolved).
    pub filled: u64,
    /// Heights still holes after this pass (due again later).
    pub failed: u64,
}

impl std::ops::AddAssign for RedriveReport {
    fn add_assign(&mut self, other: Self) {
        self.tried += other.tried;
        self.filled += other.filled;
        self.failed += other.failed;
    }
}

/// The reason of a height the lake lacks and no hole names (`chainlake repair`).
pub const MISSING: &str = "missing";

/// When a hole that failed `tries` re-drives is due again: `initial-backoff × 2^tries`, at
/// most `max-backoff`, after `now` (Unix ms).
pub fn next_try(cfg: &HolesConfig, tries: u32, now: i64) -> i64 {
    let wait = cfg.initial_backoff.saturating_mul(1 << tries.min(20)).min(cfg.max_backoff);
    now.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX))
}

/// Exports how many holes are pending.
pub(crate) fn export(chain: &str, pending: u64) {
    metrics::gauge!(crate::metrics::HOLES, "chain" => chain.to_owned()).set(pending as f64);
}

#[cfg(test)]
mod backoff {
    use super::*;

    #[test]
    fn re_drives_back_off_up_to_the_maximum() {
        let cfg = HolesConfig {
            initial_backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(60),
            check_interval: Duration::from_secs(1),
            batch: 10,
            backfill_wait: Duration::from_secs(1),
        };
        let waits: Vec<i64> = (0..5).map(|t| next_try(&cfg, t, 1_000) - 1_000).collect();
        assert_eq!(waits, [10_000, 20_000, 40_000, 60_000, 60_000]);
        assert_eq!(next_try(&cfg, u32::MAX, 0), 60_000, "no overflow");
    }
}
