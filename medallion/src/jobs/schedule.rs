//! `chainlake medallion schedule`: the jobs every interval or at a cron expression's times, once
//! per tick across every scheduler of the chain (replicas on other machines).
//!
//! Ticks are wall-clock multiples of the interval (the first one at start), or the cron
//! expression's fire times in UTC (the first one after start): schedulers with the same cadence
//! agree on them without talking. Before a tick's run a scheduler takes the tick's lease ([`TickLease`]; Redis `SET NX PX` in the binary, one key per lake, chain, layer
//! and tick); whoever loses skips the tick.
//! Without the lease (the store unreachable) nothing runs: a run never happens twice. A failed
//! job is logged and counted; the next tick retries it from its checkpoint.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};

use tokio_util::sync::CancellationToken;

use crate::jobs::{run_jobs, Job, Refresh, RunLimits};
use crate::lake::{Lake, Layer};
use crate::Result;

/// Who runs a tick: the first scheduler to take its lease.
#[allow(async_fn_in_trait)]
pub trait TickLease {
    /// Takes the lease of `tick` for `ttl`; false if another scheduler holds it.
    async fn take(&mut self, key: &str, holder: &str, ttl: Duration) -> Result<bool>;
}

/// Told about each successful run (e.g. to refresh a query engine's metadata of the tables
/// that got a new version). Dyn-compatible: the schedule holds it as `&dyn AfterRun`.
pub trait AfterRun: Sync {
    fn after_run<'a>(
        &'a self,
        reports: &'a [crate::jobs::incremental::JobReport],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>;
}

/// When the ticks are.
#[derive(Debug, Clone)]
pub enum Cadence {
    /// Every wall-clock multiple of the interval (`60s`: at every whole minute), and at start.
    Every(Duration),
    /// At a cron expression's fire times (UTC).
    Cron(Box<cron::Schedule>),
}

/// One tick: its id (in its lease key) and when it is due (ms since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    pub id: u64,
    pub at_ms: u64,
}

impl Cadence {
    /// A standard 5-field expression (`*/5 * * * *`: minute hour day-of-month month
    /// day-of-week), or the 6/7-field form with seconds first (and a year last).
    pub fn cron(expr: &str) -> std::result::Result<Self, String> {
        let fields = expr.split_whitespace().count();
        let full = if fields == 5 { format!("0 {expr}") } else { expr.to_owned() };
        cron::Schedule::from_str(&full)
            .map(|s| Cadence::Cron(Box::new(s)))
            .map_err(|e| format!("cron expression `{expr}`: {e}"))
    }

    /// The first tick of a scheduler started at `now_ms`.
    pub fn first(&self, now_ms: u64) -> Option<Tick> {
        match self {
            Cadence::Every(d) => {
                let every = d.as_millis().max(1) as u64;
                Some(Tick { id: now_ms / every, at_ms: now_ms })
            }
            Cadence::Cron(_) => self.after(now_ms),
        }
    }

    /// The first tick due after `ms` (`None`: a cron expression that never fires again).
    pub fn after(&self, ms: u64) -> Option<Tick> {
        match self {
            Cadence::Every(d) => {
                let every = d.as_millis().max(1) as u64;
                let id = ms / every + 1;
                Some(Tick { id, at_ms: id * every })
            }
            Cadence::Cron(s) => {
                let from = DateTime::<Utc>::from_timestamp_millis(ms as i64)?;
                let at = s.after(&from).next()?.timestamp_millis().max(0) as u64;
                Some(Tick { id: at, at_ms: at })
            }
        }
    }

    /// How long a tick's lease lasts: twice the gap to the tick after it, so that a slow run
    /// is not joined by another scheduler and a dead scheduler's lease is gone by then.
    pub fn lease_ttl(&self, tick: Tick) -> Duration {
        let gap = self.after(tick.at_ms).map_or(60_000, |next| next.at_ms.saturating_sub(tick.at_ms));
        Duration::from_millis(gap.max(1_000) * 2)
    }
}

/// What one scheduler runs.
pub struct Schedule<'a> {
    pub lake: &'a Lake,
    pub chain: &'a str,
    pub jobs: &'a [Job],
    pub layer: Option<Layer>,
    pub cadence: Cadence,
    pub limits: RunLimits,
    /// Names this scheduler in the lease (host and pid).
    pub holder: String,
    /// Called after every successful run (Dremio's metadata refresh), if any.
    pub after_run: Option<&'a dyn AfterRun>,
}

impl Schedule<'_> {
    /// The lease key of tick `tick`: per lake, chain and layer (schedulers of other lakes or
    /// chains on the same Redis never wait for each other).
    pub fn key(&self, tick: u64) -> String {
        let layer = self.layer.map_or("all", Layer::as_str);
        format!("chainlake:medallion:{}:{}:{layer}:tick:{tick}", self.lake.root(), self.chain)
    }

    /// Runs every tick until `cancel` (or a cron expression's last fire time); returns the
    /// ticks this scheduler ran.
    pub async fn run(&self, leases: &mut impl TickLease, cancel: &CancellationToken) -> Result<u64> {
        let mut ran = 0;
        let mut failures = 0u64;
        let mut due = self.cadence.first(chainlake_wire::clock::now_ms() as u64);
        while let Some(tick) = due {
            let wait =
                Duration::from_millis(tick.at_ms.saturating_sub(chainlake_wire::clock::now_ms() as u64));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = cancel.cancelled() => return Ok(ran),
            }
            match leases.take(&self.key(tick.id), &self.holder, self.cadence.lease_ttl(tick)).await {
                Ok(true) => {
                    ran += 1;
                    failures = self.run_tick(tick.id, failures).await;
                }
                Ok(false) => tracing::debug!(tick = tick.id, "another scheduler runs this tick"),
                Err(e) => {
                    tracing::warn!(error = %e, tick = tick.id, "no tick lease (store unreachable?): not running this tick")
                }
            }
            // A run longer than the gap skips the ticks it overlapped (their schedulers ran them).
            due = self.cadence.after((chainlake_wire::clock::now_ms() as u64).max(tick.at_ms));
        }
        Ok(ran)
    }

    /// Runs the jobs of one tick; returns the consecutive failures after it.
    async fn run_tick(&self, tick: u64, failures: u64) -> u64 {
        let result =
            run_jobs(self.lake, self.chain, self.jobs, self.layer, Refresh::Incremental, self.limits.clone())
                .await;
        let failures = match result {
            Ok(reports) => {
                let now = (chainlake_wire::clock::now_ms() as u64) as f64 / 1000.0;
                for r in &reports {
                    metrics::gauge!(crate::metrics::JOB_LAST_SUCCESS, "table" => r.table.clone()).set(now);
                }
                if let Some(after) = self.after_run {
                    after.after_run(&reports).await;
                }
                0
            }
            Err(e) => {
                tracing::error!(error = %e, tick, consecutive = failures + 1, "medallion run failed; the next tick retries from the checkpoints");
                failures + 1
            }
        };
        metrics::gauge!(crate::metrics::JOB_CONSECUTIVE_FAILURES).set(failures as f64);
        failures
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// Leases of an in-process store.
    struct Fake(HashSet<String>);

    impl TickLease for Fake {
        async fn take(&mut self, key: &str, _: &str, _: Duration) -> Result<bool> {
            Ok(self.0.insert(key.to_owned()))
        }
    }

    const MIN: u64 = 60_000;

    #[test]
    fn every_runs_at_start_then_at_whole_multiples() {
        let c = Cadence::Every(Duration::from_secs(60));
        let t0 = 1_000 * MIN + 7_000;
        assert_eq!(c.first(t0), Some(Tick { id: 1_000, at_ms: t0 }));
        assert_eq!(c.after(t0), Some(Tick { id: 1_001, at_ms: 1_001 * MIN }));
        assert_eq!(c.lease_ttl(Tick { id: 1_001, at_ms: 1_001 * MIN }), Duration::from_secs(120));
    }

    #[test]
    fn a_five_field_cron_fires_on_its_minutes_and_two_schedulers_agree() {
        let c = Cadence::cron("*/5 * * * *").unwrap();
        // 2026-12-01 20:03:10 UTC: the next fire is 20:05:00, whoever asks.
        let now = 1_796_155_390_000;
        let first = c.first(now).unwrap();
        assert_eq!(first.at_ms % (5 * MIN), 0);
        assert!(first.at_ms > now && first.at_ms - now <= 5 * MIN);
        assert_eq!(Cadence::cron("*/5 * * * *").unwrap().first(now + 1_000), Some(first));
        assert_eq!(first.id, first.at_ms);
        assert_eq!(c.after(first.at_ms).unwrap().at_ms, first.at_ms + 5 * MIN);
        assert_eq!(c.lease_ttl(first), Duration::from_secs(600));
    }

    #[test]
    fn a_bad_cron_expression_is_refused_with_its_text() {
        let e = Cadence::cron("every tuesday").unwrap_err();
        assert!(e.contains("every tuesday"), "{e}");
    }

    #[tokio::test]
    async fn a_tick_is_taken_once() {
        let mut f = Fake(HashSet::new());
        assert!(f.take("k1", "a", Duration::from_secs(1)).await.unwrap());
        assert!(!f.take("k1", "b", Duration::from_secs(1)).await.unwrap());
    }
}
