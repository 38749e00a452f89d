//! `chainlake medallion schedule`: the jobs every interval, once per tick across every
//! scheduler of the chain (replicas on other machines).
//!
//! Ticks are wall-clock multiples of the interval. Before a tick's run a scheduler takes the
//! tick's lease ([`TickLease`]; Redis `SET NX PX` in the binary, one key per lake, chain, layer
//! and tick); whoever loses skips the tick.
//! Without the lease (the store unreachable) nothing runs: a run never happens twice. A failed
//! job is logged and counted; the next tick retries it from its checkpoint.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

use crate::jobs::{run_jobs, Job, Refresh};
use crate::lake::{Lake, Layer};
use crate::Result;

/// Who runs a tick: the first scheduler to take its lease.
#[allow(async_fn_in_trait)]
pub trait TickLease {
    /// Takes the lease of `tick` for `ttl`; false if another scheduler holds it.
    async fn take(&mut self, key: &str, holder: &str, ttl: Duration) -> Result<bool>;
}

/// What one scheduler runs.
pub struct Schedule<'a> {
    pub lake: &'a Lake,
    pub chain: &'a str,
    pub jobs: &'a [Job],
    pub layer: Option<Layer>,
    pub every: Duration,
    pub memory: usize,
    /// Names this scheduler in the lease (host and pid).
    pub holder: String,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl Schedule<'_> {
    /// The lease key of tick `tick`: per lake, chain and layer (schedulers of other lakes or
    /// chains on the same Redis never wait for each other).
    pub fn key(&self, tick: u64) -> String {
        let layer = self.layer.map_or("all", Layer::as_str);
        format!("chainlake:medallion:{}:{}:{layer}:tick:{tick}", self.lake.root(), self.chain)
    }

    /// Runs every tick until `cancel`; returns the ticks this scheduler ran.
    pub async fn run(&self, leases: &mut impl TickLease, cancel: &CancellationToken) -> Result<u64> {
        let every = self.every.as_millis().max(1) as u64;
        let mut ran = 0;
        let mut failures = 0u64;
        loop {
            let tick = now_ms() / every;
            match leases.take(&self.key(tick), &self.holder, self.every * 2).await {
                Ok(true) => {
                    ran += 1;
                    match run_jobs(
                        self.lake,
                        self.chain,
                        self.jobs,
                        self.layer,
                        Refresh::Incremental,
                        self.memory,
                    )
                    .await
                    {
                        Ok(reports) => {
                            failures = 0;
                            let now = now_ms() as f64 / 1000.0;
                            for r in &reports {
                                metrics::gauge!(crate::metrics::JOB_LAST_SUCCESS, "table" => r.table.clone())
                                    .set(now);
                            }
                        }
                        Err(e) => {
                            failures += 1;
                            tracing::error!(error = %e, tick, consecutive = failures, "medallion run failed; the next tick retries from the checkpoints");
                        }
                    }
                    metrics::gauge!(crate::metrics::JOB_CONSECUTIVE_FAILURES).set(failures as f64);
                }
                Ok(false) => tracing::debug!(tick, "another scheduler runs this tick"),
                Err(e) => {
                    tracing::warn!(error = %e, tick, "no tick lease (store unreachable?): not running this tick")
                }
            }
            let next = (tick + 1) * every;
            let wait = Duration::from_millis(next.saturating_sub(now_ms()));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = cancel.cancelled() => return Ok(ran),
            }
        }
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

    #[tokio::test]
    async fn a_tick_is_taken_once() {
        let mut f = Fake(HashSet::new());
        assert!(f.take("k1", "a", Duration::from_secs(1)).await.unwrap());
        assert!(!f.take("k1", "b", Duration::from_secs(1)).await.unwrap());
    }
}
