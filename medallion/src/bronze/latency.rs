//! Commit latencies in a fixed-size log histogram, so a sink that runs for months keeps a
//! constant footprint and can still report p50/p99 when it stops.

use std::time::Duration;

/// Buckets of 2^(1/4) width (±19 %) from 1 ms up to about 4.6 hours.
const BUCKETS: usize = 96;

#[derive(Clone, PartialEq, Eq)]
pub struct Latencies {
    counts: [u64; BUCKETS],
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies { counts: [0; BUCKETS] }
    }
}

fn upper_bound(i: usize) -> Duration {
    Duration::from_secs_f64(1e-3 * 2f64.powf(i as f64 / 4.0))
}

impl std::fmt::Debug for Latencies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Latencies")
            .field("count", &self.count())
            .field("p50", &self.quantile(0.5))
            .field("p99", &self.quantile(0.99))
            .finish()
    }
}

impl Latencies {
    pub fn record(&mut self, d: Duration) {
        let ms = d.as_secs_f64() * 1e3;
        let i = if ms <= 1.0 { 0 } else { (ms.log2() * 4.0).ceil() as usize };
        self.counts[i.min(BUCKETS - 1)] += 1;
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The upper bound of the bucket holding quantile `q` (0..=1); zero when empty.
    pub fn quantile(&self, q: f64) -> Duration {
        let total = self.count();
        if total == 0 {
            return Duration::ZERO;
        }
        let rank = ((total as f64 * q).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return upper_bound(i);
            }
        }
        upper_bound(BUCKETS - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_a_bucket() {
        let mut l = Latencies::default();
        assert_eq!(l.quantile(0.5), Duration::ZERO);
        for ms in 1..=100u64 {
            l.record(Duration::from_millis(ms));
        }
        assert_eq!(l.count(), 100);
        let p50 = l.quantile(0.5).as_secs_f64() * 1e3;
        assert!((50.0..=50.0 * 1.19).contains(&p50), "{p50}");
        let p99 = l.quantile(0.99).as_secs_f64() * 1e3;
        assert!((99.0..=99.0 * 1.19).contains(&p99), "{p99}");
        l.record(Duration::from_secs(1_000_000));
        assert!(l.quantile(1.0) > Duration::from_secs(3600));
    }
}
