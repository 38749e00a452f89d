//! The usage ledger: requests per key per minute, from which the last minute, the last 24 hours
//! and the current UTC day are summed. The least-used choice and the daily quota read it.
//!
//! One trait, two backends: Redis (default; a hash per key and UTC hour, minute → requests,
//! expiring after 26 hours) and ScyllaDB (`scylla.uri`; a counter table, see
//! infra/scylla/keys.cql and scylla.rs), chosen at start ([`any::AnyLedger`]). The trait and
//! the counting rules are here; each backend is its own file, importing this one. Two ledgers: the
//! replicas' reservations ([`RESERVED`], counted before each request: quotas and the least-used
//! choice read it) and what the monitor saw on `{chain}.ops.rpc_usage` ([`OBSERVED`]).
//! Counts are weighted (a method that costs 2 compute units counts 2).

pub mod any;
pub mod redis;
pub mod scylla;

use std::future::Future;

use crate::keys::KeyResult;

pub(crate) const MINUTE_MS: u64 = 60_000;
pub(crate) const HOUR_MS: u64 = 60 * MINUTE_MS;
pub(crate) const DAY_MS: u64 = 24 * HOUR_MS;

/// One key's usage seen at a moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyUsage {
    /// Requests in the last complete minute.
    pub last_minute: u64,
    /// Requests in the 24 hours up to now (minute resolution).
    pub last_24h: u64,
    /// Requests since 00:00 UTC.
    pub today: u64,
}

/// The ledger the replicas count into before each request (what quotas are enforced on).
pub const RESERVED: &str = "reserved";
/// The ledger `chainlake keys monitor` counts into from `{chain}.ops.rpc_usage` (the audit).
pub const OBSERVED: &str = "observed";

/// The ledger role.
pub trait UsageLedger: Clone + Send + Sync + 'static {
    /// Adds `requests` to `key`'s minute containing `at_ms`.
    fn add(&self, key: &str, at_ms: u64, requests: u64) -> impl Future<Output = KeyResult<()>> + Send;
    /// The usage of each of `keys` at `now_ms`, in order.
    fn usage(&self, keys: &[String], now_ms: u64) -> impl Future<Output = KeyResult<Vec<KeyUsage>>> + Send;
}

/// Sums per-minute counts (`(minute start ms, requests)`) into a [`KeyUsage`] at `now_ms`.
pub fn summarize(minutes: impl IntoIterator<Item = (u64, u64)>, now_ms: u64) -> KeyUsage {
    let this_minute = now_ms - now_ms % MINUTE_MS;
    let midnight = now_ms - now_ms % DAY_MS;
    let mut u = KeyUsage::default();
    for (start, n) in minutes {
        if start > now_ms {
            continue;
        }
        if start + DAY_MS > now_ms {
            u.last_24h += n;
        }
        if start >= midnight {
            u.today += n;
        }
        if start + MINUTE_MS == this_minute {
            u.last_minute += n;
        }
    }
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_sums_the_last_minute_the_last_day_and_today() {
        // now: day 10, 00:30:20 UTC.
        let now = 10 * DAY_MS + 30 * MINUTE_MS + 20_000;
        let minutes = [
            (now - now % MINUTE_MS, 7),             // this minute: 24 h and today only
            (now - now % MINUTE_MS - MINUTE_MS, 5), // the last complete minute
            (10 * DAY_MS - HOUR_MS, 100),           // yesterday 23:00: 24 h, not today
            (9 * DAY_MS + 30 * MINUTE_MS, 1_000),   // exactly 24 h before this minute: gone
            (now + MINUTE_MS, 9),                   // the future (clock skew): ignored
        ];
        let u = summarize(minutes, now);
        assert_eq!(u, KeyUsage { last_minute: 5, last_24h: 112, today: 12 });
    }
}
