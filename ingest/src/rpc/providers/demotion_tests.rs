//! Unit tests of the demotion decisions (health.rs), on a clock the test controls.

use super::*;

fn policy() -> Policy {
    Policy {
        max_lag_blocks: 5,
        max_lead_blocks: 64,
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

#[test]
fn a_provider_that_keeps_lying_is_demoted_as_lying() {
    let t0 = Instant::now();
    let mut h = HealthTable::new(2, policy(), t0);
    h.lied(0, t0);
    h.failed(0, t0);
    let c = h.lied(0, t0);
    assert_eq!((c.demoted, c.switched), (vec![(0, Demotion::Lying)], Some((0, 1))));
}

/// A bogus head far above the others demotes its provider, not the honest ones.
#[test]
fn a_head_far_above_the_median_is_an_outlier_not_the_truth() {
    let t0 = Instant::now();
    let mut h = HealthTable::new(3, policy(), t0);
    h.record_head(0, 10_100, t0);
    h.record_head(1, 100, t0);
    h.record_head(2, 98, t0);
    assert!(h.is_outlier(0, 10_100));
    assert!(!h.is_outlier(1, 100), "98 and 10 100: the lower median is 98, 100 is in step");
    assert_eq!(h.agreed_head(0), Some(98));
    assert_eq!(h.lags(), vec![0, 0, 2], "lags count from the best head that is not an outlier");
    let c = h.assess(t0);
    assert_eq!(c.demoted, vec![(0, Demotion::Outlier)]);
    assert_eq!((h.active(), c.switched), (1, Some((0, 1))));
    // Two providers: no median to trust, the old rule (the laggard is demoted) holds.
    let mut two = HealthTable::new(2, policy(), t0);
    two.record_head(0, 10_100, t0);
    two.record_head(1, 100, t0);
    assert!(!two.is_outlier(0, 10_100), "one other head is no quorum");
    assert_eq!(two.assess(t0).demoted, vec![(1, Demotion::LagBlocks)]);
}

/// `Retry-After`: the provider is not called until then, the others serve, and the wait for
/// the next round is what is left of the rest.
#[test]
fn a_resting_provider_is_not_called_until_its_rest_ends() {
    let t0 = Instant::now();
    let mut h = HealthTable::new(2, policy(), t0);
    assert_eq!(h.rest(0, t0 + Duration::from_secs(30), t0), Some((0, 1)));
    assert_eq!(h.order(t0), vec![1]);
    assert_eq!(h.rest_left(t0 + Duration::from_secs(10)), Some(Duration::from_secs(20)));
    let later = t0 + Duration::from_secs(31);
    assert_eq!(h.order(later), vec![1, 0]);
    // A single provider resting: nobody to call, and how long to wait.
    let mut one = HealthTable::new(1, policy(), t0);
    one.rest(0, t0 + Duration::from_secs(5), t0);
    assert!(one.order(t0).is_empty());
    assert_eq!(one.rest_left(t0), Some(Duration::from_secs(5)));
}

#[test]
fn a_refused_provider_is_never_called() {
    let t0 = Instant::now();
    let mut h = HealthTable::new(3, policy(), t0);
    assert_eq!(h.refuse(0, t0), Some((0, 1)));
    h.record_head(0, 5_000, t0);
    assert_eq!(h.order(t0), vec![1, 2]);
    assert_eq!(h.order(t0 + Duration::from_secs(3600)), vec![1, 2]);
    assert!(h.assess(t0).demoted.is_empty(), "a refused provider is not assessed");
}

/// A provider lying about a few heights answers most others well: its lies add up anyway.
#[test]
fn lies_are_not_made_up_for_by_good_answers() {
    let t0 = Instant::now();
    let mut h = HealthTable::new(2, policy(), t0);
    h.lied(0, t0);
    h.succeeded(0);
    h.lied(0, t0);
    h.succeeded(0);
    assert_eq!(h.lied(0, t0).demoted, vec![(0, Demotion::Lying)]);
    // Lies a cooldown apart are forgotten.
    let mut h = HealthTable::new(2, policy(), t0);
    h.lied(1, t0);
    h.succeeded(1);
    h.lied(1, t0 + Duration::from_secs(30));
    h.succeeded(1);
    assert!(
        h.lied(1, t0 + Duration::from_secs(90)).demoted.is_empty(),
        "the first lie is over a cooldown old"
    );
}
