//! One replica's share of the key pool: the key it leases, the requests it may send with it.
//!
//! [`KeyPool::run`] keeps at most one lease (acquire by preference, heartbeat, rotate after
//! `keys.rotate-after`, give up a key that cools down or reaches its quota, release on
//! shutdown). [`KeyPool::admit`] stands before every HTTP request: it lets a request through
//! only on the key this replica holds, while its lease is valid by the local clock (the lease
//! is counted from *before* the renew was sent, less a margin, so it ends here before it ends
//! in Redis), after the key's rate limiter (governor) and after the request is counted in the
//! ledger. When the store is unreachable the lease runs out locally and nothing is sent
//! (fail closed) until it answers again.
//!
//! Requests are counted before they are sent, in reservations of a second's worth: the ledger
//! may count a few requests that were never sent, never the other way round.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::config::{KeysConfig, ResolvedKey};
use super::lease::KeyLeases;
use super::ledger::UsageLedger;
use super::pick::{preference, Candidate, Waiting};
use super::KeyResult;
use crate::metrics as m;

/// Why a request may not go out now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// This replica holds no valid lease on the key (yet, or any more).
    NotLeased { key: String },
    /// The key reached its daily quota (it is being given up and parked).
    Quota { key: String },
}

/// The lease this replica holds.
#[derive(Debug, Clone)]
struct Held {
    index: usize,
    token: u64,
    since: Instant,
    /// Requests may go until then (local clock).
    valid_until: Instant,
    /// Requests counted in the ledger and not yet sent.
    reserved: u64,
    /// The key's 24-hour usage when it was leased plus what was reserved since.
    used_24h: u64,
    /// Set by a 429 or by the quota: give the key up at the next turn.
    give_up: Option<GiveUp>,
}

/// Why a key is given up before its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GiveUp {
    /// Throttled: it cools down for every replica for this long.
    Cool(Duration),
    /// At its daily quota: the ledger parks it until its 24-hour window frees.
    Quota,
}

/// One replica's lease on the pool, shared by every request of the process.
pub struct KeyPool<L: KeyLeases, U: UsageLedger> {
    chain: String,
    replica: String,
    keys: Vec<ResolvedKey>,
    limiters: Vec<Option<DefaultDirectRateLimiter>>,
    cfg: KeysConfig,
    leases: L,
    ledger: U,
    held: Mutex<Option<Held>>,
    changed: Notify,
    sent: Vec<AtomicU64>,
}

impl<L: KeyLeases, U: UsageLedger> KeyPool<L, U> {
    /// `replica` names this process in leases and usage records (host and pid, say).
    pub fn new(
        chain: &str,
        replica: &str,
        keys: Vec<ResolvedKey>,
        cfg: KeysConfig,
        leases: L,
        ledger: U,
    ) -> Arc<Self> {
        let limiters = keys
            .iter()
            .map(|k| {
                let rate = std::num::NonZeroU32::new(k.per_second?)?;
                let burst = std::num::NonZeroU32::new(k.burst).unwrap_or(rate);
                Some(RateLimiter::direct(Quota::per_second(rate).allow_burst(burst)))
            })
            .collect();
        let sent = keys.iter().map(|_| AtomicU64::new(0)).collect();
        Arc::new(KeyPool {
            chain: chain.to_owned(),
            replica: replica.to_owned(),
            keys,
            limiters,
            cfg,
            leases,
            ledger,
            held: Mutex::new(None),
            changed: Notify::new(),
            sent,
        })
    }

    pub fn keys(&self) -> &[ResolvedKey] {
        &self.keys
    }

    pub fn chain(&self) -> &str {
        &self.chain
    }

    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// Why no key is held, for a log line: the store's view now (or why it cannot be read).
    pub async fn waiting(&self) -> String {
        match self.candidates().await {
            Ok(c) => match preference(&c, None) {
                Ok(_) => "a key is free; leasing it".to_owned(),
                Err(w) => w.to_string(),
            },
            Err(e) => e.to_string(),
        }
    }

    /// Every key with its lease state and usage, from the store and the ledger.
    pub async fn candidates(&self) -> KeyResult<Vec<Candidate>> {
        let names: Vec<String> = self.keys.iter().map(|k| k.pseudonym.clone()).collect();
        let states = self.leases.states(&names).await?;
        let usage = self.ledger.usage(&names, chainlake_wire::clock::now_ms() as u64).await?;
        Ok(self
            .keys
            .iter()
            .zip(states)
            .zip(usage)
            .map(|((k, state), usage)| Candidate {
                pseudonym: k.pseudonym.clone(),
                state,
                usage,
                per_day: k.per_day,
            })
            .collect())
    }

    fn lock(&self) -> MutexGuard<'_, Option<Held>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The key this replica may send on now, with its fencing token.
    pub fn current(&self) -> Option<(usize, u64)> {
        let held = self.lock();
        held.as_ref()
            .filter(|h| h.valid_until > Instant::now() && h.give_up.is_none())
            .map(|h| (h.index, h.token))
    }

    /// Waits until one request of `method` may go out on key `index`; the lease's token.
    pub async fn admit(&self, index: usize, method: &str) -> Result<u64, Denied> {
        let key = &self.keys[index];
        let weight = key.weight(method);
        let not_leased = || Denied::NotLeased { key: key.pseudonym.clone() };
        if self.current().is_none_or(|(i, _)| i != index) {
            return Err(not_leased());
        }
        if let Some(Some(limiter)) = self.limiters.get(index) {
            let n = std::num::NonZeroU32::new(weight).unwrap_or(std::num::NonZeroU32::MIN);
            if limiter.until_n_ready(n).await.is_err() {
                return Err(not_leased()); // a weight above the burst can never pass
            }
        }
        self.count(index, u64::from(weight)).await
    }

    /// Takes `weight` from the reservation, reserving the next second's worth in the ledger
    /// first when it runs out; refuses past the daily quota.
    async fn count(&self, index: usize, weight: u64) -> Result<u64, Denied> {
        let key = &self.keys[index];
        let reserve = {
            let mut held = self.lock();
            let h = held.as_mut().filter(|h| h.index == index && h.valid_until > Instant::now());
            let Some(h) = h else { return Err(Denied::NotLeased { key: key.pseudonym.clone() }) };
            if h.reserved >= weight {
                h.reserved -= weight;
                self.sent[index].fetch_add(weight, Ordering::Relaxed);
                return Ok(h.token);
            }
            let want = u64::from(key.per_second.unwrap_or(10)).max(weight);
            let left = key.per_day.map_or(u64::MAX, |q| q.saturating_sub(h.used_24h));
            if left < weight {
                h.give_up = Some(GiveUp::Quota);
                self.changed.notify_one();
                return Err(Denied::Quota { key: key.pseudonym.clone() });
            }
            want.min(left)
        };
        if let Err(e) = self.ledger.add(&key.pseudonym, chainlake_wire::clock::now_ms() as u64, reserve).await
        {
            tracing::warn!(chain = %self.chain, key = %key.pseudonym, error = %e, "usage ledger unreachable: not sending");
            return Err(Denied::NotLeased { key: key.pseudonym.clone() });
        }
        let mut held = self.lock();
        let Some(h) = held.as_mut().filter(|h| h.index == index) else {
            return Err(Denied::NotLeased { key: key.pseudonym.clone() });
        };
        h.used_24h += reserve;
        h.reserved += reserve - weight;
        self.sent[index].fetch_add(weight, Ordering::Relaxed);
        Ok(h.token)
    }

    /// A 429 or quota answer on key `index`: it cools down for every replica (`retry_after`,
    /// else `keys.cooldown`) and this replica moves to another key.
    pub fn throttled(&self, index: usize, retry_after: Option<Duration>) {
        let mut held = self.lock();
        if let Some(h) = held.as_mut().filter(|h| h.index == index) {
            h.give_up =
                Some(GiveUp::Cool(retry_after.unwrap_or(self.cfg.cooldown).max(Duration::from_millis(100))));
            self.changed.notify_one();
        }
        tracing::warn!(chain = %self.chain, key = %self.keys[index].pseudonym, ?retry_after, "key throttled (429)");
        metrics::counter!(m::KEY_THROTTLED, "chain" => self.chain.clone(),
            "key" => self.keys[index].pseudonym.clone())
        .increment(1);
    }

    /// Requests sent on key `index` by this process.
    pub fn sent(&self, index: usize) -> u64 {
        self.sent[index].load(Ordering::Relaxed)
    }

    /// Holds a lease until `cancel` (then releases it): acquires, renews, rotates, gives up.
    pub async fn run(&self, cancel: &CancellationToken) {
        let mut wait = Duration::from_millis(100);
        let mut last_wait_log: Option<Instant> = None;
        loop {
            if cancel.is_cancelled() {
                self.release().await;
                return;
            }
            let holding = self.lock().clone();
            let next = match holding {
                None => match self.acquire(None).await {
                    Ok(Ok(())) => {
                        wait = Duration::from_millis(100);
                        last_wait_log = None;
                        self.cfg.heartbeat
                    }
                    Ok(Err(why)) => {
                        self.say_waiting(&why, &mut last_wait_log);
                        wait = (wait * 2).min(self.cfg.max_wait);
                        wait
                    }
                    Err(e) => {
                        tracing::warn!(chain = %self.chain, error = %e, "key store unreachable: no key leased, not sending");
                        wait = (wait * 2).min(self.cfg.max_wait);
                        wait
                    }
                },
                Some(h) => self.keep(h).await,
            };
            tokio::select! {
                () = tokio::time::sleep(next) => {}
                () = self.changed.notified() => {}
                () = cancel.cancelled() => {}
            }
        }
    }

    fn say_waiting(&self, why: &Waiting, last: &mut Option<Instant>) {
        metrics::counter!(m::KEY_WAITS, "chain" => self.chain.clone()).increment(1);
        if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
            *last = Some(Instant::now());
            tracing::warn!(chain = %self.chain, replica = %self.replica, %why, "no key free: waiting (never sharing one)");
        }
    }

    /// Reads every key's state and usage and leases the first free one that takes.
    async fn acquire(&self, avoid: Option<&str>) -> KeyResult<Result<(), Waiting>> {
        let candidates = self.candidates().await?;
        let names: Vec<String> = candidates.iter().map(|c| c.pseudonym.clone()).collect();
        self.export(&candidates);
        let order = match preference(&candidates, avoid) {
            Ok(order) => order,
            Err(why) => return Ok(Err(why)),
        };
        for i in order {
            let asked = Instant::now();
            let Some(token) = self.leases.acquire(&names[i], &self.replica, self.cfg.lease_ttl).await? else {
                continue;
            };
            *self.lock() = Some(Held {
                index: i,
                token,
                since: asked,
                valid_until: self.valid_from(asked),
                reserved: 0,
                used_24h: candidates[i].usage.last_24h,
                give_up: None,
            });
            metrics::gauge!(m::KEY_LEASED, "chain" => self.chain.clone(), "key" => names[i].clone()).set(1.0);
            tracing::info!(chain = %self.chain, replica = %self.replica, key = %names[i], token, "key leased");
            return Ok(Ok(()));
        }
        Ok(Err(Waiting { held: names, ..Waiting::default() }))
    }

    /// A lease renewed (or taken) when `asked` is valid here until a margin before its TTL.
    fn valid_from(&self, asked: Instant) -> Instant {
        let margin = (self.cfg.lease_ttl / 10).max(Duration::from_millis(200));
        asked + self.cfg.lease_ttl.saturating_sub(margin)
    }

    /// One turn of holding `h`: give it up, rotate, or renew. Returns how long to sleep.
    async fn keep(&self, h: Held) -> Duration {
        let name = self.keys[h.index].pseudonym.clone();
        match h.give_up {
            Some(GiveUp::Cool(period)) => {
                if let Err(e) = self.leases.cool(&name, period).await {
                    tracing::warn!(chain = %self.chain, key = %name, error = %e, "could not mark the key cooling");
                }
                tracing::warn!(chain = %self.chain, key = %name, rest = ?period, "giving the cooling key up, taking another");
                self.release().await;
                return Duration::ZERO;
            }
            Some(GiveUp::Quota) => {
                metrics::counter!(m::KEY_PARKS, "chain" => self.chain.clone(), "key" => name.clone())
                    .increment(1);
                tracing::warn!(chain = %self.chain, key = %name, "key reached its daily quota: parked until its 24-hour window frees, taking another");
                self.release().await;
                return Duration::ZERO;
            }
            None => {}
        }
        if h.since.elapsed() >= self.cfg.rotate_after {
            self.release().await;
            let avoid = Some(name.as_str());
            return match self.acquire(avoid).await {
                Ok(Ok(())) => self.cfg.heartbeat,
                _ => Duration::from_millis(100),
            };
        }
        let asked = Instant::now();
        match self.leases.renew(&name, &self.replica, h.token, self.cfg.lease_ttl).await {
            Ok(true) => {
                if let Some(mine) = self.lock().as_mut().filter(|m| m.token == h.token) {
                    mine.valid_until = self.valid_from(asked);
                }
                self.cfg.heartbeat
            }
            Ok(false) => {
                tracing::warn!(chain = %self.chain, key = %name, "key lease lost (expired): taking another");
                self.drop_local();
                Duration::ZERO
            }
            Err(e) => {
                // Fail closed: the local lease runs out by itself; keep trying to renew it.
                tracing::warn!(chain = %self.chain, key = %name, error = %e, "key store unreachable: sending until the lease runs out here, then nothing");
                Duration::from_millis(500)
            }
        }
    }

    fn drop_local(&self) {
        if let Some(h) = self.lock().take() {
            metrics::gauge!(m::KEY_LEASED, "chain" => self.chain.clone(),
                "key" => self.keys[h.index].pseudonym.clone())
            .set(0.0);
        }
    }

    /// Gives the lease up in the store and here.
    async fn release(&self) {
        let Some(h) = self.lock().clone() else { return };
        self.drop_local();
        let name = &self.keys[h.index].pseudonym;
        if let Err(e) = self.leases.release(name, &self.replica, h.token).await {
            tracing::warn!(chain = %self.chain, key = %name, error = %e, "could not release the key lease (it expires by itself)");
        }
    }

    fn export(&self, candidates: &[Candidate]) {
        for c in candidates {
            let labels = [("chain", self.chain.clone()), ("key", c.pseudonym.clone())];
            if let Some(left) = c.remaining() {
                metrics::gauge!(m::KEY_REMAINING, &labels).set(left as f64);
            }
            metrics::gauge!(m::KEY_PARKED, &labels)
                .set(f64::from(u8::from(c.standing() == super::pick::Standing::Parked)));
        }
    }
}
