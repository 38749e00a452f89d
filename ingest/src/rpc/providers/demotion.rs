//! The provider-demotion decisions, apart from any I/O so they are unit-tested with a clock the
//! test controls. [`crate::rpc::providers::Providers`] feeds it call outcomes and heads, and turns
//! its decisions into log lines and metrics.
//!
//! Rules: a provider that fails `max_failures` calls in a row, or lies (answers with a block
//! that does not prove) `max_failures` times within one `cooldown` however many good answers
//! come between (a liar about a few heights is right about most), whose head lags the reference head by more than
//! `max_lag_blocks`, or whose head has not moved for `max_lag_time` while another's has, is
//! demoted for `cooldown`. The reference head is the median of the heads read when three or
//! more providers answered (else the highest): a head more than `max_lead_blocks` above it is an
//! outlier — that provider is demoted, never the others. A provider that asked to be left alone
//! (`Retry-After`) rests until then and is not called; one on the wrong chain is refused for
//! good. The most preferred provider not demoted is active. With a single provider nothing is
//! ever demoted (there is nowhere to go).

use std::time::{Duration, Instant};

/// Thresholds of the rules above (from `[rpc]`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    pub(crate) max_lag_blocks: u64,
    pub(crate) max_lead_blocks: u64,
    pub(crate) max_lag_time: Duration,
    pub(crate) max_failures: u32,
    pub(crate) check_every: Duration,
    pub(crate) cooldown: Duration,
}

/// Why a provider was demoted (a metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Demotion {
    Failing,
    /// Its answers kept failing verification.
    Lying,
    LagBlocks,
    Stale,
    /// Its head is far above the others' (a bogus head is not the new truth).
    Outlier,
}

impl Demotion {
    pub fn label(self) -> &'static str {
        match self {
            Demotion::Failing => "failing",
            Demotion::Lying => "lying",
            Demotion::LagBlocks => "lag_blocks",
            Demotion::Stale => "stale",
            Demotion::Outlier => "outlier",
        }
    }
}

#[derive(Debug, Clone)]
struct Health {
    head: Option<u64>,
    moved_at: Instant,
    failures: u32,
    /// Lies since `lies_since` (lies older than a cooldown are forgotten).
    lies: u32,
    lies_since: Option<Instant>,
    demoted_until: Option<Instant>,
    resting_until: Option<Instant>,
    refused: bool,
}

/// What one decision changed, for the caller to log and export.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Changes {
    pub(crate) demoted: Vec<(usize, Demotion)>,
    /// `(from, to)` when the active provider changed.
    pub(crate) switched: Option<(usize, usize)>,
}

impl Changes {
    fn merge(&mut self, other: Changes) {
        self.demoted.extend(other.demoted);
        self.switched = match (self.switched, other.switched) {
            (Some((from, _)), Some((_, to))) => Some((from, to)),
            (a, b) => b.or(a),
        };
    }
}

/// The health of every provider of a chain, in order of preference.
#[derive(Debug)]
pub(crate) struct HealthTable {
    policy: Policy,
    active: usize,
    health: Vec<Health>,
    last_check: Option<Instant>,
}

impl HealthTable {
    pub(crate) fn new(providers: usize, policy: Policy, now: Instant) -> Self {
        let health = Health {
            head: None,
            moved_at: now,
            failures: 0,
            lies: 0,
            lies_since: None,
            demoted_until: None,
            resting_until: None,
            refused: false,
        };
        let policy = Policy { max_failures: policy.max_failures.max(1), ..policy };
        HealthTable { policy, active: 0, health: vec![health; providers.max(1)], last_check: None }
    }

    pub(crate) fn active(&self) -> usize {
        self.active
    }

    pub(crate) fn is_demoted(&self, i: usize, now: Instant) -> bool {
        self.health[i].demoted_until.is_some_and(|u| u > now)
    }

    fn is_resting(&self, i: usize, now: Instant) -> bool {
        self.health[i].resting_until.is_some_and(|u| u > now)
    }

    /// Whether `i` may be called now (not refused, not resting).
    pub(crate) fn callable(&self, i: usize, now: Instant) -> bool {
        !self.health[i].refused && !self.is_resting(i, now)
    }

    /// Provider indices to try: the active one, then the eligible ones in order, then demoted
    /// ones; never a refused or resting one.
    pub(crate) fn order(&self, now: Instant) -> Vec<usize> {
        let n = self.health.len();
        let mut order: Vec<usize> =
            Some(self.active).filter(|a| self.callable(*a, now)).into_iter().collect();
        let others = (0..n).filter(|i| *i != self.active && self.callable(*i, now));
        let (demoted, eligible): (Vec<usize>, Vec<usize>) = others.partition(|i| self.is_demoted(*i, now));
        order.extend(eligible);
        order.extend(demoted);
        order
    }

    /// How long until the first resting provider may be called again (`None`: none rests,
    /// or every provider is refused).
    pub(crate) fn rest_left(&self, now: Instant) -> Option<Duration> {
        self.health
            .iter()
            .filter(|h| !h.refused)
            .filter_map(|h| h.resting_until)
            .map(|u| u.saturating_duration_since(now))
            .min()
    }

    pub(crate) fn succeeded(&mut self, i: usize) {
        self.health[i].failures = 0;
    }

    /// A call failed on `i`; demotes it at the threshold.
    pub(crate) fn failed(&mut self, i: usize, now: Instant) -> Changes {
        self.health[i].failures += 1;
        if self.health[i].failures >= self.policy.max_failures {
            return self.demote(i, Demotion::Failing, now);
        }
        Changes::default()
    }

    /// `i` answered with a block that does not prove: a failure, and a lie that good answers
    /// do not make up for (forgotten only a cooldown after the first of them).
    pub(crate) fn lied(&mut self, i: usize, now: Instant) -> Changes {
        let cooldown = self.policy.cooldown;
        let h = &mut self.health[i];
        if h.lies_since.is_none_or(|since| now.duration_since(since) > cooldown) {
            (h.lies, h.lies_since) = (0, Some(now));
        }
        h.lies += 1;
        h.failures += 1;
        if h.lies >= self.policy.max_failures || h.failures >= self.policy.max_failures {
            return self.demote(i, Demotion::Lying, now);
        }
        Changes::default()
    }

    /// `i` asked to be left alone until `until` (`Retry-After`, capped by the caller).
    pub(crate) fn rest(&mut self, i: usize, until: Instant, now: Instant) -> Option<(usize, usize)> {
        let h = &mut self.health[i];
        h.resting_until = Some(h.resting_until.map_or(until, |u| u.max(until)));
        if self.active == i {
            return self.pick(now);
        }
        None
    }

    /// `i` serves another chain: never called again.
    pub(crate) fn refuse(&mut self, i: usize, now: Instant) -> Option<(usize, usize)> {
        self.health[i].refused = true;
        if self.active == i {
            return self.pick(now);
        }
        None
    }

    /// `i` answered with `head`; a higher head counts as movement.
    pub(crate) fn record_head(&mut self, i: usize, head: u64, now: Instant) {
        let h = &mut self.health[i];
        if h.head.is_none_or(|prev| head > prev) {
            h.head = Some(head);
            h.moved_at = now;
        }
    }

    /// A provider other than the active one answered a call the active one failed.
    pub(crate) fn answered_instead(&mut self, i: usize, was_active: usize) -> Option<(usize, usize)> {
        (self.active == was_active && i != was_active).then(|| {
            self.active = i;
            (was_active, i)
        })
    }

    /// Whether the periodic check of every head is due now (and marks it done).
    pub(crate) fn check_due(&mut self, now: Instant) -> bool {
        if self.health.len() < 2
            || self.last_check.is_some_and(|t| now.duration_since(t) < self.policy.check_every)
        {
            return false;
        }
        self.last_check = Some(now);
        true
    }

    /// The head the others' heads agree on: the (lower) median of the known heads of every
    /// callable provider but `except`, when at least `quorum` are known; else none.
    fn reference(&self, except: Option<usize>, quorum: usize) -> Option<u64> {
        let mut heads: Vec<u64> = (0..self.health.len())
            .filter(|i| Some(*i) != except && !self.health[*i].refused)
            .filter_map(|i| self.health[i].head)
            .collect();
        if heads.len() < quorum {
            return None;
        }
        heads.sort_unstable();
        heads.get((heads.len() - 1) / 2).copied()
    }

    /// Whether `head`, answered by `i`, is far above what the other providers report (at
    /// least two of them known): then it is not believed.
    pub(crate) fn is_outlier(&self, i: usize, head: u64) -> bool {
        self.reference(Some(i), 2).is_some_and(|r| head > r.saturating_add(self.policy.max_lead_blocks))
    }

    /// The head to believe instead of an outlier's: what the others agree on.
    pub(crate) fn agreed_head(&self, except: usize) -> Option<u64> {
        self.reference(Some(except), 1)
    }

    /// Providers whose head is more than `max_lead_blocks` above the median of three or more.
    fn outliers(&self) -> Vec<usize> {
        let Some(median) = self.reference(None, 3) else { return Vec::new() };
        let limit = median.saturating_add(self.policy.max_lead_blocks);
        (0..self.health.len()).filter(|i| self.health[*i].head.is_some_and(|h| h > limit)).collect()
    }

    /// How far each provider's head is behind the best head that is not an outlier (nor a
    /// refused provider's).
    pub(crate) fn lags(&self) -> Vec<u64> {
        let outliers = self.outliers();
        let best = (0..self.health.len())
            .filter(|i| !outliers.contains(i) && !self.health[*i].refused)
            .filter_map(|i| self.health[i].head)
            .max()
            .unwrap_or(0);
        self.health.iter().map(|h| best.saturating_sub(h.head.unwrap_or(0))).collect()
    }

    /// After every head was read: demotes outliers and laggards, then lets the most preferred
    /// eligible provider (back from its cooldown and in step) take over.
    pub(crate) fn assess(&mut self, now: Instant) -> Changes {
        let outliers = self.outliers();
        let lags = self.lags();
        let best_moved = (0..self.health.len())
            .filter(|i| !outliers.contains(i) && !self.health[*i].refused)
            .map(|i| self.health[i].moved_at)
            .max()
            .unwrap_or(now);
        let mut changes = Changes::default();
        for (i, lag) in lags.into_iter().enumerate() {
            if self.is_demoted(i, now) || self.health[i].refused {
                continue;
            }
            let still = best_moved.saturating_duration_since(self.health[i].moved_at);
            if outliers.contains(&i) {
                changes.merge(self.demote(i, Demotion::Outlier, now));
            } else if lag > self.policy.max_lag_blocks {
                changes.merge(self.demote(i, Demotion::LagBlocks, now));
            } else if lag > 0 && still > self.policy.max_lag_time {
                changes.merge(self.demote(i, Demotion::Stale, now));
            }
        }
        changes.merge(Changes { demoted: Vec::new(), switched: self.pick(now) });
        changes
    }

    /// Demotes `i` for the cooldown (`why` says for what).
    pub(crate) fn demote(&mut self, i: usize, why: Demotion, now: Instant) -> Changes {
        if self.health.len() < 2 {
            return Changes::default();
        }
        let h = &mut self.health[i];
        h.demoted_until = Some(now + self.policy.cooldown);
        h.failures = 0;
        (h.lies, h.lies_since) = (0, None);
        let switched = if self.active == i { self.pick(now) } else { None };
        Changes { demoted: vec![(i, why)], switched }
    }

    /// Makes the most preferred eligible provider active; `(from, to)` if that changed it.
    fn pick(&mut self, now: Instant) -> Option<(usize, usize)> {
        let n = self.health.len();
        let best = (0..n)
            .find(|i| !self.is_demoted(*i, now) && self.callable(*i, now))
            .or_else(|| (0..n).find(|i| self.callable(*i, now)))?;
        (best != self.active).then(|| {
            let from = std::mem::replace(&mut self.active, best);
            (from, best)
        })
    }
}

#[cfg(test)]
#[path = "demotion_tests.rs"]
mod tests;
