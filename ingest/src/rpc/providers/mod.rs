//! Several providers of one chain behind one interface, with failover and demotion.
//!
//! Reads: each provider's head (`eth_blockNumber`, or its `newHeads` WebSocket) and the outcome
//! of every call. Which provider is active is decided by [`demotion`] (demotion after
//! `max-failures` failures or lies, `max-head-lag-blocks`, `max-head-lag-time`, or a head more
//! than `max-head-lead-blocks` above the others', for `demotion-cooldown`; rests after a
//! `Retry-After`; refusal of a provider on the wrong chain); this file does the I/O, the log
//! lines and the metrics. How one call goes over the providers, rounds and backoff, is
//! call.rs; verified fetches (a lie retried elsewhere, then kept as a hole) are fetch.rs.

mod call;
pub(crate) mod demotion;
mod fetch;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use alloy::primitives::B256;
use tokio_util::sync::CancellationToken;

use crate::config::{ProviderConfig, RpcConfig, VerifyMode};
use crate::keys::lease::KeyLeases;
use crate::keys::ledger::UsageLedger;
use crate::keys::pool::KeyPool;
use crate::keys::RequestGate;
use crate::rpc::client::RpcSource;
use crate::rpc::heads::{HeadCursor, WsHeads};
use crate::source::BlockSource;
use crate::verify::raw::RawBlock;
use crate::verify::VerifyOptions;
use crate::{Error, Result};
use demotion::{Changes, HealthTable, Policy};

pub use demotion::Demotion;

/// The providers of one chain; clones share state.
#[derive(Clone)]
pub struct Providers {
    chain: String,
    sources: Arc<Vec<RpcSource>>,
    state: Arc<Mutex<HealthTable>>,
    ws: Arc<Mutex<Vec<Option<WsHeads>>>>,
    max_lag_time: Duration,
    retry: Retry,
    pub(crate) verify: VerifyMode,
    pub(crate) verify_options: VerifyOptions,
    pub(crate) verify_attempts: u32,
    cancel: CancellationToken,
    /// With a key pool: one source per key, and only the key this replica leases is used.
    gate: Option<Arc<dyn RequestGate>>,
    /// Why no key is leased, asked of the pool when a round finds none.
    waiting: Option<WhyWaiting>,
    /// The pool's task holding the lease, stopped (and the lease released) by [`Self::release_key`].
    holder: Option<Arc<tokio::sync::Mutex<Option<Holder>>>>,
}

/// The pool's lease-holding task and what stops it.
type Holder = (CancellationToken, tokio::task::JoinHandle<()>);

type WhyWaiting = Arc<dyn Fn() -> futures::future::BoxFuture<'static, String> + Send + Sync>;

/// How long to wait between rounds over every provider, and when to stop waiting.
#[derive(Debug, Clone, Copy)]
struct Retry {
    initial: Duration,
    max: Duration,
    give_up_after: Duration,
    /// The longest `Retry-After` honoured (a provider asking for more rests this long).
    max_retry_after: Duration,
}

impl Providers {
    pub fn new(chain: &str, cfg: &RpcConfig) -> Result<Self> {
        let sources =
            cfg.providers().iter().map(|p| RpcSource::new(chain, p, cfg)).collect::<Result<Vec<_>>>()?;
        Self::from_sources(chain, cfg, sources)
    }

    /// One source per key of `pool`, each request gated by it; only the key the replica
    /// leases is called. A task holds the lease ([`KeyPool::run`]) until `cancel` or
    /// [`Self::release_key`].
    pub fn pooled<L: KeyLeases, U: UsageLedger>(
        chain: &str,
        cfg: &RpcConfig,
        pool: Arc<KeyPool<L, U>>,
        cancel: &CancellationToken,
    ) -> Result<Self> {
        let stop = cancel.child_token();
        let task = {
            let (pool, stop) = (pool.clone(), stop.clone());
            tokio::spawn(async move { pool.run(&stop).await })
        };
        let asked = pool.clone();
        let waiting: WhyWaiting = Arc::new(move || {
            let p = asked.clone();
            Box::pin(async move { p.waiting().await })
        });
        let keys = pool.keys().to_vec();
        let gate: Arc<dyn RequestGate> = pool;
        let sources = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let p = ProviderConfig {
                    url: k.url.clone(),
                    pseudonym: k.pseudonym.clone(),
                    ws_url: k.ws_url.clone(),
                };
                RpcSource::gated(chain, &p, cfg, gate.clone(), i)
            })
            .collect::<Result<Vec<_>>>()?;
        let mut p = Self::from_sources(chain, cfg, sources)?;
        p.gate = Some(gate);
        p.waiting = Some(waiting);
        p.holder = Some(Arc::new(tokio::sync::Mutex::new(Some((stop, task)))));
        Ok(p)
    }

    /// Gives the key lease back now (at the end of a run), rather than at its TTL.
    pub async fn release_key(&self) {
        let Some(holder) = &self.holder else { return };
        if let Some((stop, task)) = holder.lock().await.take() {
            stop.cancel();
            let _ = task.await;
        }
    }

    fn from_sources(chain: &str, cfg: &RpcConfig, sources: Vec<RpcSource>) -> Result<Self> {
        if sources.is_empty() {
            return Err(Error::NoProvider { chain: chain.to_owned() });
        }
        let policy = Policy {
            max_lag_blocks: cfg.max_head_lag_blocks,
            max_lead_blocks: cfg.max_head_lead_blocks,
            max_lag_time: cfg.max_head_lag_time,
            max_failures: cfg.max_failures,
            check_every: cfg.head_check_interval,
            cooldown: cfg.demotion_cooldown,
        };
        let p = Providers {
            chain: chain.to_owned(),
            ws: Arc::new(Mutex::new(vec![None; sources.len()])),
            state: Arc::new(Mutex::new(HealthTable::new(sources.len(), policy, Instant::now()))),
            sources: Arc::new(sources),
            max_lag_time: cfg.max_head_lag_time,
            retry: Retry {
                initial: cfg.initial_backoff,
                max: cfg.max_backoff.max(cfg.initial_backoff),
                give_up_after: cfg.give_up_after,
                max_retry_after: cfg.max_retry_after,
            },
            verify: VerifyMode::Strict,
            verify_options: VerifyOptions::default(),
            verify_attempts: cfg.verify_attempts.max(1),
            cancel: CancellationToken::new(),
            gate: None,
            waiting: None,
            holder: None,
        };
        p.export_state(&p.lock());
        Ok(p)
    }

    /// Sets `chain.verify` (strict by default) and `chain.verify-senders`.
    pub fn with_verify(mut self, mode: VerifyMode, options: VerifyOptions) -> Self {
        self.verify = mode;
        self.verify_options = options;
        self
    }

    /// Ends waits for a provider when `cancel` fires (they then return [`Error::Cancelled`]).
    pub fn with_cancel(mut self, cancel: CancellationToken) -> Self {
        self.cancel = cancel;
        self
    }

    pub fn chain(&self) -> &str {
        &self.chain
    }

    fn lock(&self) -> MutexGuard<'_, HealthTable> {
        // A panic while holding the lock leaves plain data behind: keep using it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The provider in use now.
    pub fn active(&self) -> &RpcSource {
        let i = self.lock().active();
        &self.sources[i.min(self.sources.len() - 1)]
    }

    pub fn sources(&self) -> &[RpcSource] {
        &self.sources
    }

    /// HTTP requests sent so far, over every provider.
    pub fn requests(&self) -> u64 {
        self.sources.iter().map(RpcSource::requests).sum()
    }

    /// Starts `newHeads` subscriptions for the providers that have a WebSocket endpoint. With a
    /// key pool there are none: a subscription would hold every key's socket open whoever leases
    /// it, so heads are polled through the leased key like every other call.
    pub fn subscribe_heads(&self, cancel: &CancellationToken) {
        if self.gate.is_some() {
            tracing::info!(chain = %self.chain, "key pool: heads are polled through the leased key (no WebSocket)");
            return;
        }
        let mut ws = self.ws.lock().unwrap_or_else(|e| e.into_inner());
        for (slot, source) in ws.iter_mut().zip(self.sources.iter()) {
            if slot.is_none() {
                *slot = WsHeads::spawn(source, cancel.child_token());
            }
        }
    }

    /// The active provider's WebSocket head if it is fresh, recorded like a polled head.
    pub fn fresh_ws_head(&self) -> Option<u64> {
        let i = self.lock().active();
        let head = self
            .ws
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(i)?
            .as_ref()?
            .fresh_head(self.max_lag_time)?;
        if self.lock().is_outlier(i, head) {
            return None; // polled instead, where an outlier is demoted
        }
        self.record_head(i, head);
        Some(head)
    }

    /// A receiver of the active provider's WebSocket heads, if it has one.
    pub fn ws_heads(&self) -> Option<WsHeads> {
        let i = self.lock().active();
        self.ws.lock().unwrap_or_else(|e| e.into_inner()).get(i)?.clone()
    }

    /// The providers to try in turn; with a key pool, the leased key alone (or none).
    fn order(&self) -> Vec<usize> {
        match &self.gate {
            Some(gate) => gate.current().into_iter().collect(),
            None => self.lock().order(Instant::now()),
        }
    }

    pub(crate) fn failed(&self, i: usize) {
        let mut st = self.lock();
        let changes = st.failed(i, Instant::now());
        self.report(&st, changes);
    }

    fn record_head(&self, i: usize, head: u64) {
        self.lock().record_head(i, head, Instant::now());
        metrics::gauge!(crate::metrics::PROVIDER_HEAD, "chain" => self.chain.clone(),
            "provider" => self.sources[i].provider().to_owned())
        .set(head as f64);
    }

    /// Logs and exports what a health decision changed.
    fn report(&self, st: &HealthTable, changes: Changes) {
        for (i, why) in &changes.demoted {
            let provider = self.sources[*i].provider().to_owned();
            tracing::warn!(chain = %self.chain, %provider, reason = why.label(), "provider demoted");
            metrics::counter!(crate::metrics::PROVIDER_DEMOTIONS, "chain" => self.chain.clone(),
                "provider" => provider, "reason" => why.label())
            .increment(1);
        }
        if let Some((from, to)) = changes.switched {
            tracing::info!(chain = %self.chain, from = self.sources[from].provider(),
                to = self.sources[to].provider(), "switching provider");
        }
        if !changes.demoted.is_empty() || changes.switched.is_some() {
            self.export_state(st);
        }
    }

    fn export_state(&self, st: &HealthTable) {
        let now = Instant::now();
        for (i, s) in self.sources.iter().enumerate() {
            let labels = [("chain", self.chain.clone()), ("provider", s.provider().to_owned())];
            metrics::gauge!(crate::metrics::PROVIDER_ACTIVE, &labels)
                .set(f64::from(u8::from(i == st.active())));
            metrics::gauge!(crate::metrics::PROVIDER_DEMOTED, &labels)
                .set(f64::from(u8::from(st.is_demoted(i, now))));
        }
    }

    /// The active provider's head (`eth_blockNumber`, with failover), after the periodic
    /// health check of every provider when it is due. A head far above what the other
    /// providers report is not believed: its provider is demoted as an outlier and the head
    /// they agree on is used instead.
    pub async fn head(&self) -> Result<u64> {
        self.check_health().await;
        let active = self.lock().active();
        let (i, head) = self
            .call("eth_blockNumber", |s| async move {
                let idx = self.index_of(&s);
                s.head().await.map(|h| (idx, h))
            })
            .await?;
        let mut st = self.lock();
        if st.is_outlier(i, head) {
            let agreed = st.agreed_head(i).unwrap_or(head);
            tracing::warn!(chain = %self.chain, provider = self.sources[i].provider(), head, agreed,
                "a provider's head is far above the others': not believed");
            let changes = st.demote(i, Demotion::Outlier, Instant::now());
            self.report(&st, changes);
            return Ok(agreed);
        }
        drop(st);
        self.record_head(i, head);
        let mut st = self.lock();
        let switched = st.answered_instead(i, active);
        self.report(&st, Changes { demoted: Vec::new(), switched });
        Ok(head)
    }

    /// Never calls the provider `pseudonym` again (it serves another chain).
    pub fn refuse(&self, pseudonym: &str, why: &str) {
        let i = self.position(pseudonym);
        tracing::error!(chain = %self.chain, provider = pseudonym, why, "provider refused: never called again");
        metrics::counter!(crate::metrics::PROVIDER_REFUSED, "chain" => self.chain.clone(),
            "provider" => pseudonym.to_owned())
        .increment(1);
        let mut st = self.lock();
        let switched = st.refuse(i, Instant::now());
        self.report(&st, Changes { demoted: Vec::new(), switched });
        self.export_state(&st);
    }

    fn index_of(&self, s: &RpcSource) -> usize {
        self.position(s.provider())
    }

    /// Index of the provider with `pseudonym` (0 when unknown).
    pub(crate) fn position(&self, pseudonym: &str) -> usize {
        self.sources.iter().position(|x| x.provider() == pseudonym).unwrap_or(0)
    }

    /// Every `head-check-interval`: reads every provider's head and demotes the laggards.
    pub async fn check_health(&self) {
        if self.gate.is_some() {
            return; // the keys of a pool are one provider's: their heads are one head
        }
        if !self.lock().check_due(Instant::now()) {
            return;
        }
        // Refused providers are not asked, resting ones not before their rest ends.
        let now = Instant::now();
        let asked: Vec<usize> = (0..self.sources.len()).filter(|i| self.lock().callable(*i, now)).collect();
        let heads = futures::future::join_all(asked.iter().map(|i| self.sources[*i].head())).await;
        for (i, h) in asked.into_iter().zip(heads) {
            match h {
                Ok(h) => self.record_head(i, h),
                Err(_) => self.failed(i),
            }
        }
        let mut st = self.lock();
        for (lag, s) in st.lags().into_iter().zip(self.sources.iter()) {
            metrics::gauge!(crate::metrics::PROVIDER_HEAD_LAG, "chain" => self.chain.clone(),
                "provider" => s.provider().to_owned())
            .set(lag as f64);
        }
        let changes = st.assess(Instant::now());
        self.report(&st, changes);
        self.export_state(&st);
    }

    /// The head to follow: the active provider's fresh `newHeads` announcement (after the
    /// periodic health check), else `eth_blockNumber` with failover.
    pub async fn latest_head(&self) -> Result<u64> {
        match self.fresh_ws_head() {
            Some(h) => {
                self.check_health().await;
                Ok(h)
            }
            None => self.head().await,
        }
    }

    /// Hash of the canonical block at `number`, with failover.
    pub async fn block_hash(&self, number: u64) -> Result<B256> {
        self.call("block_hash", |s| async move { below_head(&s, number, s.block_hash(number).await).await })
            .await
    }

    /// Block and receipts at `number` as the first answering provider sent them (unverified).
    pub async fn fetch_block(&self, number: u64) -> Result<RawBlock> {
        self.call("block", |s| async move { below_head(&s, number, s.fetch_block(number).await).await }).await
    }

    /// Checks that the providers serve chain id `expected`: one that answers another id is
    /// refused (named in an error line, never called again). One that does not answer is asked
    /// again with backoff: a few times while another serves the chain (then it is left to the
    /// failover), until `rpc.give-up-after` while none does. Fails only when no provider
    /// serves the chain.
    pub async fn check_chain_id(&self, expected: u64) -> Result<()> {
        if self.gate.is_some() {
            // Keys of a pool are asked through the one this replica leases (waiting for it).
            let id = self.call("eth_chainId", |s| async move { s.chain_id().await }).await?;
            return match id == expected {
                true => Ok(()),
                false => Err(self.wrong_chain(expected, format!("the key pool answers {id}"))),
            };
        }
        const TRIES_BESIDE_A_RIGHT_ONE: u32 = 3;
        let started = Instant::now();
        let (mut right, mut wrong, mut backoff) = (false, Vec::new(), self.retry.initial);
        let mut unanswered: Vec<usize> = (0..self.sources.len()).collect();
        for round in 1.. {
            let ids = futures::future::join_all(unanswered.iter().map(|i| self.sources[*i].chain_id())).await;
            let mut last_err = None;
            let mut still = Vec::new();
            for (i, id) in unanswered.iter().copied().zip(ids) {
                let source = &self.sources[i];
                match id {
                    Ok(id) if id == expected => right = true,
                    Ok(id) => {
                        self.refuse(source.provider(), &format!("serves chain id {id}, not {expected}"));
                        wrong.push(format!("{} answers {id}", source.provider()));
                    }
                    Err(e) => {
                        tracing::warn!(chain = %self.chain, provider = source.provider(), error = %e,
                            "provider did not answer eth_chainId: asking again");
                        still.push(i);
                        last_err = Some(e);
                    }
                }
            }
            unanswered = still;
            let waited = started.elapsed();
            match (right, last_err) {
                (_, None) if !right => return Err(self.wrong_chain(expected, wrong.join(", "))),
                (_, None) => return Ok(()),
                (true, Some(_)) if round >= TRIES_BESIDE_A_RIGHT_ONE => return Ok(()),
                (false, Some(e)) if waited >= self.retry.give_up_after => {
                    let last = Box::new(e);
                    return Err(Error::ProvidersDown {
                        chain: self.chain.clone(),
                        call: "eth_chainId",
                        waited,
                        last,
                    });
                }
                _ => {}
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = self.cancel.cancelled() => return Err(Error::Cancelled { chain: self.chain.clone() }),
            }
            backoff = (backoff * 2).min(self.retry.max);
        }
        Ok(())
    }

    fn wrong_chain(&self, configured: u64, found: String) -> Error {
        Error::WrongChain { chain: self.chain.clone(), configured, found }
    }
}

/// A `null` block is retried (a load-balanced provider's node may lag behind the one that
/// announced it) unless the provider's head is below it: then the chain is shorter than that
/// height now, and waiting would only stall the follower ([`Error::AboveHead`]).
pub(super) async fn below_head<T>(s: &RpcSource, number: u64, res: Result<T>) -> Result<T> {
    match res {
        Err(Error::BlockNotFound { chain, block }) => match s.head().await {
            Ok(head) if head < number => Err(Error::AboveHead { chain, block, head }),
            _ => Err(Error::BlockNotFound { chain, block }),
        },
        other => other,
    }
}

impl BlockSource for Providers {
    type HeadCursor = HeadCursor;

    fn chain(&self) -> &str {
        &self.chain
    }

    async fn head(&self) -> Result<u64> {
        self.latest_head().await
    }

    async fn block(&self, number: u64) -> Result<RawBlock> {
        self.fetch_checked(number).await
    }

    async fn block_hash(&self, number: u64) -> Result<B256> {
        Providers::block_hash(self, number).await
    }

    fn requests(&self) -> u64 {
        Providers::requests(self)
    }

    fn start_heads(&self, cancel: &CancellationToken) {
        self.subscribe_heads(cancel);
    }

    async fn next_head<'a>(&'a self, cursor: &'a mut HeadCursor) {
        let active = self.active().provider().to_owned();
        cursor.target(&active, || self.ws_heads());
        cursor.changed().await;
    }
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers").field("chain", &self.chain).field("sources", &self.sources).finish()
    }
}

#[cfg(test)]
mod tests;
