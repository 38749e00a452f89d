//! One call over every provider: failover within a round, backoff between rounds.
//!
//! A round calls the providers in order of preference (health.rs) until one answers. Each
//! failure is another provider's chance: a transport fault or an error answer counts towards
//! the provider's demotion; a lie (an answer that does not prove, [`Error::Unproven`]) too,
//! as a lie; a `Retry-After` rests the provider until then (at most `rpc.max-retry-after`)
//! without counting against it; "above the head" from one provider leaves the others to try
//! (a lagging node), and only when none has the block does the round say so. When every
//! provider failed, ingest waits (backoff from `rpc.initial-backoff` to `rpc.max-backoff`, or
//! until the first rest ends when all rest), says so in a log line and `chainlake_rpc_waiting`,
//! and starts again — until `rpc.give-up-after` passed without an answer, the one fault that
//! stops ingest. Lies have their own bound: after `max_lies` answers that do not prove (or
//! `give-up-after` with one among the failures), the last lie is returned for the caller to
//! keep the height as a hole (fetch.rs), never as a stop.

use std::time::{Duration, Instant};

use super::Providers;
use crate::rpc::client::RpcSource;
use crate::{Error, Result};

/// What a round that got no answer saw.
#[derive(Default)]
struct Failed {
    /// The last retryable failure that was not a lie.
    last: Option<Error>,
    /// The last lie.
    lie: Option<Error>,
    /// A provider's chain ends below the height asked for.
    above: Option<Error>,
    lies: u32,
}

impl Providers {
    /// Calls `f` on the active provider, then on the others in order of preference until one
    /// succeeds; after a round where all failed with a retryable error, waits and starts again
    /// (see the module doc). `call` names the call in logs.
    pub async fn call<T, F, Fut>(&self, call: &'static str, f: F) -> Result<T>
    where
        F: Fn(RpcSource) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        self.call_bounded(call, u32::MAX, f).await
    }

    /// [`Self::call`], giving up with the last lie once `max_lies` answers did not prove.
    pub(crate) async fn call_bounded<T, F, Fut>(&self, call: &'static str, max_lies: u32, f: F) -> Result<T>
    where
        F: Fn(RpcSource) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let started = Instant::now();
        let mut backoff = self.retry.initial;
        let (mut rounds, mut lies) = (0u32, 0u32);
        let mut last_lie = None;
        loop {
            let failed = match self.round(call, &f, max_lies.saturating_sub(lies)).await {
                Ok(v) => {
                    if rounds > 0 {
                        tracing::info!(chain = %self.chain, call, waited = ?started.elapsed(), "a provider answered again");
                        metrics::gauge!(crate::metrics::RPC_WAITING, "chain" => self.chain.clone(), "call" => call).set(0.0);
                    }
                    return Ok(v);
                }
                Err(failed) => failed,
            };
            lies += failed.lies;
            last_lie = failed.lie.or(last_lie);
            if let Some(above) = failed.above {
                return Err(above);
            }
            let waited = started.elapsed();
            let give_up = lies >= max_lies || (waited >= self.retry.give_up_after && last_lie.is_some());
            if let (true, Some(mut lie)) = (give_up, last_lie.take()) {
                if let Error::Unproven { attempts, .. } = &mut lie {
                    *attempts = lies;
                }
                return Err(lie);
            }
            let last = match failed.last {
                Some(e) if !e.is_retryable() => return Err(e),
                Some(e) if waited >= self.retry.give_up_after => {
                    return Err(Error::ProvidersDown {
                        chain: self.chain.clone(),
                        call,
                        waited,
                        last: Box::new(e),
                    })
                }
                other => other,
            };
            rounds += 1;
            let wait = self.next_wait(backoff);
            let why = last.as_ref().or(last_lie.as_ref()).map(ToString::to_string).unwrap_or_default();
            tracing::warn!(chain = %self.chain, call, round = rounds, retry_in = ?wait, error = %why,
                "every provider failed: waiting, then trying again");
            metrics::counter!(crate::metrics::RPC_RETRY_ROUNDS, "chain" => self.chain.clone(), "call" => call).increment(1);
            metrics::gauge!(crate::metrics::RPC_WAITING, "chain" => self.chain.clone(), "call" => call)
                .set(1.0);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.cancel.cancelled() => return Err(Error::Cancelled { chain: self.chain.clone() }),
            }
            backoff = (backoff * 2).min(self.retry.max);
        }
    }

    /// The wait before the next round: the backoff, or what is left of the first rest when
    /// every provider rests (never longer than `rpc.max-retry-after`).
    fn next_wait(&self, backoff: Duration) -> Duration {
        let now = Instant::now();
        let st = self.lock();
        match st.rest_left(now) {
            Some(rest) if self.gate.is_none() && st.order(now).is_empty() => {
                rest.max(Duration::from_millis(1))
            }
            _ => backoff,
        }
    }

    /// One pass over the providers in order of preference; stops early once `lies_left` is spent.
    async fn round<T, F, Fut>(&self, call: &'static str, f: &F, lies_left: u32) -> Result<T, Failed>
    where
        F: Fn(RpcSource) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let mut failed = Failed::default();
        let order = self.order();
        if order.is_empty() {
            failed.last = Some(match &self.waiting {
                Some(waiting) => Error::NoKey { chain: self.chain.clone(), why: waiting().await },
                None => {
                    let wait = self.lock().rest_left(Instant::now()).unwrap_or_default();
                    Error::Resting { chain: self.chain.clone(), wait }
                }
            });
            return Err(failed);
        }
        for i in order {
            let e = match f(self.sources[i].clone()).await {
                Ok(v) => {
                    self.lock().succeeded(i);
                    return Ok(v);
                }
                Err(e) => e,
            };
            self.note_failure(i, call, &e);
            match e {
                Error::AboveHead { .. } => failed.above = Some(e),
                e if e.is_lie() => {
                    failed.lies += 1;
                    failed.lie = Some(e);
                    if failed.lies >= lies_left {
                        break;
                    }
                }
                e if e.is_retryable() => failed.last = Some(e),
                e => {
                    failed.last = Some(e);
                    break;
                }
            }
        }
        // "Above the head" counts only when no other provider may have the block: each one
        // said so or answered `null`; a fault or a lie elsewhere is worth another round.
        let only_missing = failed.lie.is_none()
            && failed.last.as_ref().is_none_or(|e| matches!(e, Error::BlockNotFound { .. }));
        if !only_missing {
            failed.above = None;
        }
        Err(failed)
    }

    /// Books one failed call of provider `i`: rest, lie or failure, logged and exported.
    fn note_failure(&self, i: usize, call: &'static str, e: &Error) {
        let provider = self.sources[i].provider();
        match e {
            Error::AboveHead { .. } => {}
            e if e.is_lie() => {
                let now = Instant::now();
                let mut st = self.lock();
                let changes = st.lied(i, now);
                self.report(&st, changes);
            }
            e => match e.retry_after().filter(|_| self.gate.is_none()) {
                Some(asked) => {
                    let rest = asked.min(self.retry.max_retry_after);
                    tracing::warn!(chain = %self.chain, provider, call, ?asked, ?rest,
                        "provider asked to be left alone: resting it while the others serve");
                    let now = Instant::now();
                    let mut st = self.lock();
                    let switched = st.rest(i, now + rest, now);
                    self.report(&st, super::demotion::Changes { demoted: Vec::new(), switched });
                }
                None => {
                    tracing::warn!(chain = %self.chain, provider, call, error = %e,
                        "provider call failed: trying the next provider");
                    self.failed(i);
                }
            },
        }
    }
}
