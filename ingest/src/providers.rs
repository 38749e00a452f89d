//! Several providers of one chain behind one interface, with failover and demotion.
//!
//! Reads: each provider's head (`eth_blockNumber`, or its `newHeads` WebSocket) and the outcome
//! of every call. Decides which provider is active: one that fails `max-failures` times in a
//! row, whose head lags the best known head by more than `max-head-lag-blocks`, or whose head
//! has not moved for `max-head-lag-time` while another's has, is demoted for
//! `demotion-cooldown`; the most preferred healthy provider is used. A failed call is retried
//! on the next provider at once, so one bad node never stops the crawl.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::config::RpcConfig;
use crate::heads::WsHeads;
use crate::rpc::{RawBlock, RpcSource};
use crate::{Error, Result};

/// The providers of one chain; clones share state.
#[derive(Clone)]
pub struct Providers {
    chain: String,
    sources: Arc<Vec<RpcSource>>,
    state: Arc<Mutex<State>>,
    ws: Arc<Mutex<Vec<Option<WsHeads>>>>,
    policy: Policy,
}

#[derive(Debug, Clone, Copy)]
struct Policy {
    max_lag_blocks: u64,
    max_lag_time: Duration,
    max_failures: u32,
    check_every: Duration,
    cooldown: Duration,
}

#[derive(Debug)]
struct State {
    active: usize,
    health: Vec<Health>,
    last_check: Option<Instant>,
}

#[derive(Debug, Clone)]
struct Health {
    head: Option<u64>,
    moved_at: Instant,
    failures: u32,
    demoted_until: Option<Instant>,
}

/// Why a provider was demoted (a metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Demotion {
    Failing,
    LagBlocks,
    Stale,
}

impl Demotion {
    fn label(self) -> &'static str {
        match self {
            Demotion::Failing => "failing",
            Demotion::LagBlocks => "lag_blocks",
            Demotion::Stale => "stale",
        }
    }
}

impl Providers {
    pub fn new(chain: &str, cfg: &RpcConfig) -> Result<Self> {
        let sources =
            cfg.providers().iter().map(|p| RpcSource::new(chain, p, cfg)).collect::<Result<Vec<_>>>()?;
        let now = Instant::now();
        let health =
            vec![Health { head: None, moved_at: now, failures: 0, demoted_until: None }; sources.len()];
        let p = Providers {
            chain: chain.to_owned(),
            ws: Arc::new(Mutex::new(vec![None; sources.len()])),
            sources: Arc::new(sources),
            state: Arc::new(Mutex::new(State { active: 0, health, last_check: None })),
            policy: Policy {
                max_lag_blocks: cfg.max_head_lag_blocks,
                max_lag_time: cfg.max_head_lag_time,
                max_failures: cfg.max_failures.max(1),
                check_every: cfg.head_check_interval,
                cooldown: cfg.demotion_cooldown,
            },
        };
        p.export_state(&p.lock());
        Ok(p)
    }

    pub fn chain(&self) -> &str {
        &self.chain
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind: keep using it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The provider in use now.
    pub fn active(&self) -> &RpcSource {
        let i = self.lock().active;
        &self.sources[i.min(self.sources.len() - 1)]
    }

    pub fn sources(&self) -> &[RpcSource] {
        &self.sources
    }

    /// HTTP requests sent so far, over every provider.
    pub fn requests(&self) -> u64 {
        self.sources.iter().map(RpcSource::requests).sum()
    }

    /// Starts `newHeads` subscriptions for the providers that have a WebSocket endpoint.
    pub fn subscribe_heads(&self, cancel: &CancellationToken) {
        let mut ws = self.ws.lock().unwrap_or_else(|e| e.into_inner());
        for (slot, source) in ws.iter_mut().zip(self.sources.iter()) {
            if slot.is_none() {
                *slot = WsHeads::spawn(source, cancel.child_token());
            }
        }
    }

    /// The active provider's WebSocket head if it is fresh, recorded like a polled head.
    pub fn fresh_ws_head(&self) -> Option<u64> {
        let i = self.lock().active;
        let head = self
            .ws
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(i)?
            .as_ref()?
            .fresh_head(self.policy.max_lag_time)?;
        self.record_head(i, head);
        Some(head)
    }

    /// A receiver of the active provider's WebSocket heads, if it has one.
    pub fn ws_heads(&self) -> Option<WsHeads> {
        let i = self.lock().active;
        self.ws.lock().unwrap_or_else(|e| e.into_inner()).get(i)?.clone()
    }

    /// Calls `f` on the active provider, then on the others in order of preference until one
    /// succeeds. Failures count towards demotion; the last error is returned if all fail.
    pub async fn call<T, F, Fut>(&self, f: F) -> Result<T>
    where
        F: Fn(RpcSource) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let mut last = None;
        for i in self.order() {
            match f(self.sources[i].clone()).await {
                Ok(v) => {
                    self.lock().health[i].failures = 0;
                    return Ok(v);
                }
                Err(e) if e.is_retryable() && self.sources.len() > 1 => {
                    tracing::warn!(chain = %self.chain, provider = self.sources[i].provider(), error = %e,
                        "provider call failed: trying the next provider");
                    self.failed(i);
                    last = Some(e);
                }
                Err(e) => {
                    self.failed(i);
                    return Err(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| Error::devnet("providers", "no provider configured")))
    }

    /// Provider indices: the active one, then the eligible ones in order, then demoted ones.
    fn order(&self) -> Vec<usize> {
        let st = self.lock();
        let now = Instant::now();
        let mut order = vec![st.active];
        let eligible = |i: &usize| st.health[*i].demoted_until.is_none_or(|u| u <= now);
        order.extend((0..self.sources.len()).filter(|i| *i != st.active && eligible(i)));
        order.extend((0..self.sources.len()).filter(|i| *i != st.active && !eligible(i)));
        order
    }

    fn failed(&self, i: usize) {
        let mut st = self.lock();
        st.health[i].failures += 1;
        if st.health[i].failures >= self.policy.max_failures {
            self.demote(&mut st, i, Demotion::Failing);
        }
    }

    fn record_head(&self, i: usize, head: u64) {
        let mut st = self.lock();
        let h = &mut st.health[i];
        if h.head.is_none_or(|prev| head > prev) {
            h.head = Some(head);
            h.moved_at = Instant::now();
        }
        metrics::gauge!("chainlake_provider_head", "chain" => self.chain.clone(),
            "provider" => self.sources[i].provider().to_owned())
        .set(head as f64);
    }

    fn demote(&self, st: &mut State, i: usize, why: Demotion) {
        if self.sources.len() < 2 {
            return; // nowhere to go: keep using the only provider
        }
        let h = &mut st.health[i];
        h.demoted_until = Some(Instant::now() + self.policy.cooldown);
        h.failures = 0;
        let provider = self.sources[i].provider().to_owned();
        tracing::warn!(chain = %self.chain, %provider, reason = why.label(), "provider demoted");
        metrics::counter!("chainlake_provider_demotions_total", "chain" => self.chain.clone(),
            "provider" => provider, "reason" => why.label())
        .increment(1);
        if st.active == i {
            self.pick(st);
        }
        self.export_state(st);
    }

    /// Makes the most preferred eligible provider active (the current one if none is).
    fn pick(&self, st: &mut State) {
        let now = Instant::now();
        if let Some(i) =
            (0..self.sources.len()).find(|i| st.health[*i].demoted_until.is_none_or(|u| u <= now))
        {
            if i != st.active {
                tracing::info!(chain = %self.chain, from = self.sources[st.active].provider(),
                    to = self.sources[i].provider(), "switching provider");
                st.active = i;
            }
        }
    }

    fn export_state(&self, st: &State) {
        let now = Instant::now();
        for (i, s) in self.sources.iter().enumerate() {
            let labels = [("chain", self.chain.clone()), ("provider", s.provider().to_owned())];
            metrics::gauge!("chainlake_provider_active", &labels).set(f64::from(u8::from(i == st.active)));
            let demoted = st.health[i].demoted_until.is_some_and(|u| u > now);
            metrics::gauge!("chainlake_provider_demoted", &labels).set(f64::from(u8::from(demoted)));
        }
    }

    /// The active provider's head (`eth_blockNumber`, with failover), after the periodic
    /// health check of every provider when it is due.
    pub async fn head(&self) -> Result<u64> {
        self.check_health().await;
        let active = self.lock().active;
        let (i, head) = self
            .call(|s| async move {
                let idx = self.index_of(&s);
                s.head().await.map(|h| (idx, h))
            })
            .await?;
        self.record_head(i, head);
        if i != active {
            let mut st = self.lock();
            if st.active == active {
                st.active = i;
                self.export_state(&st);
            }
        }
        Ok(head)
    }

    fn index_of(&self, s: &RpcSource) -> usize {
        self.sources.iter().position(|x| x.provider() == s.provider()).unwrap_or(0)
    }

    /// Every `head-check-interval`: reads every provider's head and demotes the laggards.
    pub async fn check_health(&self) {
        if self.sources.len() < 2 {
            return;
        }
        {
            let mut st = self.lock();
            if st.last_check.is_some_and(|t| t.elapsed() < self.policy.check_every) {
                return;
            }
            st.last_check = Some(Instant::now());
        }
        let heads = futures::future::join_all(self.sources.iter().map(RpcSource::head)).await;
        for (i, h) in heads.into_iter().enumerate() {
            match h {
                Ok(h) => self.record_head(i, h),
                Err(_) => self.failed(i),
            }
        }
        let mut st = self.lock();
        let best = st.health.iter().filter_map(|h| h.head).max().unwrap_or(0);
        let best_moved = st.health.iter().map(|h| h.moved_at).max().unwrap_or_else(Instant::now);
        for i in 0..self.sources.len() {
            let h = &st.health[i];
            let lag = best.saturating_sub(h.head.unwrap_or(0));
            metrics::gauge!("chainlake_provider_head_lag_blocks", "chain" => self.chain.clone(),
                "provider" => self.sources[i].provider().to_owned())
            .set(lag as f64);
            let demoted = h.demoted_until.is_some_and(|u| u > Instant::now());
            if demoted {
                continue;
            }
            if lag > self.policy.max_lag_blocks {
                self.demote(&mut st, i, Demotion::LagBlocks);
            } else if lag > 0 && best_moved.saturating_duration_since(h.moved_at) > self.policy.max_lag_time {
                self.demote(&mut st, i, Demotion::Stale);
            }
        }
        // A preferred provider back from its cooldown and in step takes over again.
        self.pick(&mut st);
        self.export_state(&st);
    }

    /// Hash of the canonical block at `number`, with failover.
    pub async fn block_hash(&self, number: u64) -> Result<String> {
        self.call(|s| async move { s.block_hash(number).await }).await
    }

    /// Block and receipts at `number`, with failover.
    pub async fn fetch_block(&self, number: u64) -> Result<RawBlock> {
        self.call(|s| async move { s.fetch_block(number).await }).await
    }

    /// `eth_chainId` of every provider (each must serve the configured chain).
    pub async fn chain_ids(&self) -> Vec<(String, Result<u64>)> {
        let ids = futures::future::join_all(self.sources.iter().map(RpcSource::chain_id)).await;
        self.sources.iter().map(|s| s.provider().to_owned()).zip(ids).collect()
    }
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers").field("chain", &self.chain).field("sources", &self.sources).finish()
    }
}
