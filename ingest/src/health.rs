//! The provider-demotion decisions, apart from any I/O so they are unit-tested with a clock the
//! test controls. [`crate::providers::Providers`] feeds it call outcomes and heads, and turns
//! its decisions into log lines and metrics.
//!
//! Rules: a provider that fails `max_failures` calls in a row, whose head lags the best known
//! head by more than `max_lag_blocks`, or whose head has not moved for `max_lag_time` while
//! another's has, is demoted for `cooldown`. The most preferred provider not demoted is active.
//! With a single provider nothing is ever demoted (there is nowhere to go).

use std::time::{Duration, Instant};

/// Thresholds of the rules above (from `[rpc]`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    pub(crate) max_lag_blocks: u64,
    pub(crate) max_lag_time: Duration,
    pub(crate) max_failures: u32,
    pub(crate) check_every: Duration,
    pub(crate) cooldown: Duration,
}

/// Why a provider was demoted (a metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Demotion {
    Failing,
    LagBlocks,
    Stale,
}

impl Demotion {
    pub fn label(self) -> &'static str {
        match self {
            Demotion::Failing => "failing",
            Demotion::LagBlocks => "lag_blocks",
            Demotion::Stale => "stale",
        }
    }
}

#[derive(Debug, Clone)]
struct Health {
    head: Option<u64>,
    moved_at: Instant,
    failures: u32,
    demoted_until: Option<Instant>,
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
        let health = Health { head: None, moved_at: now, failures: 0, demoted_until: None };
        let policy = Policy { max_failures: policy.max_failures.max(1), ..policy };
        HealthTable { policy, active: 0, health: vec![health; providers.max(1)], last_check: None }
    }

    pub(crate) fn active(&self) -> usize {
        self.active
    }

    pub(crate) fn is_demoted(&self, i: usize, now: Instant) -> bool {
        self.health[i].demoted_until.is_some_and(|u| u > now)
    }

    /// Provider indices to try: the active one, then the eligible ones in order, then demoted ones.
    pub(crate) fn order(&self, now: Instant) -> Vec<usize> {
        let n = self.health.len();
        let mut order = vec![self.active];
        order.extend((0..n).filter(|i| *i != self.active && !self.is_demoted(*i, now)));
        order.extend((0..n).filter(|i| *i != self.active && self.is_demoted(*i, now)));
        order
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

    /// How far each provider's head is behind the best known head.
    pub(crate) fn lags(&self) -> Vec<u64> {
        let best = self.health.iter().filter_map(|h| h.head).max().unwrap_or(0);
        self.health.iter().map(|h| best.saturating_sub(h.head.unwrap_or(0))).collect()
    }

    /// After every head was read: demotes laggards, then lets the most preferred eligible
    /// provider (back from its cooldown and in step) take over.
    pub(crate) fn assess(&mut self, now: Instant) -> Changes {
        let lags = self.lags();
        let best_moved = self.health.iter().map(|h| h.moved_at).max().unwrap_or(now);
        let mut changes = Changes::default();
        for (i, lag) in lags.into_iter().enumerate() {
            if self.is_demoted(i, now) {
                continue;
            }
            let still = best_moved.saturating_duration_since(self.health[i].moved_at);
            if lag > self.policy.max_lag_blocks {
                changes.merge(self.demote(i, Demotion::LagBlocks, now));
            } else if lag > 0 && still > self.policy.max_lag_time {
                changes.merge(self.demote(i, Demotion::Stale, now));
            }
        }
        changes.merge(Changes { demoted: Vec::new(), switched: self.pick(now) });
        changes
    }

    fn demote(&mut self, i: usize, why: Demotion, now: Instant) -> Changes {
        if self.health.len() < 2 {
            return Changes::default();
        }
        let h = &mut self.health[i];
        h.demoted_until = Some(now + self.policy.cooldown);
        h.failures = 0;
        let switched = if self.active == i { self.pick(now) } else { None };
        Changes { demoted: vec![(i, why)], switched }
    }

    /// Makes the most preferred eligible provider active; `(from, to)` if that changed it.
    fn pick(&mut self, now: Instant) -> Option<(usize, usize)> {
        let best = (0..self.health.len()).find(|i| !self.is_demoted(*i, now))?;
        (best != self.active).then(|| {
            let from = std::mem::replace(&mut self.active, best);
            (from, best)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            max_lag_blocks: 5,
            max_lag_time: Duration::from_secs(60),
            max_failures: 3,
            check_every: Duration::from_secs(15),
            cooldown: Duration::from_secs(60),
        }
    }

    #[test]
    fn a_failing_provider_is_demoted_at_the_threshold_and_the_next_takes_over() {
        let t0 = Instant::now();
        let mut h = HealthTable::new(3, policy(), t0);
        assert_eq!(h.failed(0, t0), Changes::default());
        assert_eq!(h.failed(0, t0), Changes::default());
        let c = h.failed(0, t0);
        assert_eq!(c.demoted, vec![(0, Demotion::Failing)]);
        assert_eq!(c.switched, Some((0, 1)));
        assert_eq!(h.order(t0), vec![1, 2, 0], "the demoted provider is tried last");
        // A success in between resets the count.
        h.failed(1, t0);
        h.succeeded(1);
        h.failed(1, t0);
        h.failed(1, t0);
        assert_eq!(h.active(), 1);
    }

    #[test]
    fn a_lagging_provider_is_demoted_and_comes_back_after_its_cooldown() {
        let t0 = Instant::now();
        let mut h = HealthTable::new(2, policy(), t0);
        assert!(h.check_due(t0));
        h.record_head(0, 100, t0);
        h.record_head(1, 110, t0);
        let c = h.assess(t0);
        assert_eq!(c.demoted, vec![(0, Demotion::LagBlocks)]);
        assert_eq!((h.active(), c.switched), (1, Some((0, 1))));
        assert!(!h.check_due(t0 + Duration::from_secs(1)), "checks are spaced");
        // In step again, but still cooling down: stays demoted.
        let t1 = t0 + Duration::from_secs(30);
        h.record_head(0, 111, t1);
        h.record_head(1, 111, t1);
        assert_eq!(h.assess(t1), Changes::default());
        assert_eq!(h.active(), 1);
        // Past the cooldown and in step: the preferred provider takes over again.
        let t2 = t0 + Duration::from_secs(61);
        let c = h.assess(t2);
        assert_eq!((c.demoted, c.switched, h.active()), (vec![], Some((1, 0)), 0));
    }

    #[test]
    fn a_stale_head_is_demoted_when_another_moves() {
        let t0 = Instant::now();
        let mut h = HealthTable::new(2, policy(), t0);
        h.record_head(0, 100, t0);
        h.record_head(1, 100, t0);
        let later = t0 + Duration::from_secs(61);
        h.record_head(0, 100, later); // not moved
        h.record_head(1, 102, later);
        let c = h.assess(later);
        assert_eq!(c.demoted, vec![(0, Demotion::Stale)], "2 blocks behind, still for 61 s");
    }

    #[test]
    fn a_single_provider_is_never_demoted() {
        let t0 = Instant::now();
        let mut h = HealthTable::new(1, policy(), t0);
        for _ in 0..10 {
            assert_eq!(h.failed(0, t0), Changes::default());
        }
        assert!(!h.is_demoted(0, t0));
        assert!(!h.check_due(t0), "nothing to compare a single head with");
    }

    #[test]
    fn a_fallback_that_answered_becomes_active() {
        let t0 = Instant::now();
        let mut h = HealthTable::new(2, policy(), t0);
        assert_eq!(h.answered_instead(1, 0), Some((0, 1)));
        assert_eq!(h.answered_instead(1, 1), None);
        assert_eq!(h.active(), 1);
    }
}
