//! In-process fakes of the key store and the ledger for the unit tests of the pool's
//! decisions; on tokio's clock, so lease expiries take no wall time under a paused clock.
//! `down` makes every call fail, like an unreachable Redis.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use crate::keys::lease::{KeyLeases, KeyState};
use crate::keys::ledger::{summarize, KeyUsage, UsageLedger};
use crate::keys::{KeyError, KeyResult};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn down() -> KeyError {
    KeyError::Store { chain: "test".into(), action: "fake", reason: "store down".into() }
}

#[derive(Default)]
struct KeyLeaseTable {
    /// key → (holder|token, expiry)
    leases: HashMap<String, (String, Instant)>,
    fences: HashMap<String, u64>,
    cooling: HashMap<String, Instant>,
    /// Every lease ever granted: (key, token, holder, from).
    granted: Vec<(String, u64, String, Instant)>,
}

/// Key leases in memory.
#[derive(Clone, Default)]
pub struct MemoryKeyLeases {
    inner: Arc<Mutex<KeyLeaseTable>>,
    pub down: Arc<AtomicBool>,
}

impl MemoryKeyLeases {
    fn check(&self) -> KeyResult<()> {
        if self.down.load(Ordering::SeqCst) {
            return Err(down());
        }
        Ok(())
    }

    /// Every lease granted so far, as (key, token, holder).
    pub fn granted(&self) -> Vec<(String, u64, String)> {
        lock(&self.inner).granted.iter().map(|(k, t, h, _)| (k.clone(), *t, h.clone())).collect()
    }
}

impl KeyLeases for MemoryKeyLeases {
    async fn acquire(&self, key: &str, holder: &str, ttl: Duration) -> KeyResult<Option<u64>> {
        self.check()?;
        let now = Instant::now();
        let mut st = lock(&self.inner);
        if st.cooling.get(key).is_some_and(|t| *t > now) || st.leases.get(key).is_some_and(|(_, t)| *t > now)
        {
            return Ok(None);
        }
        let token = {
            let f = st.fences.entry(key.to_owned()).or_default();
            *f += 1;
            *f
        };
        st.leases.insert(key.to_owned(), (format!("{holder}|{token}"), now + ttl));
        st.granted.push((key.to_owned(), token, holder.to_owned(), now));
        Ok(Some(token))
    }

    async fn renew(&self, key: &str, holder: &str, token: u64, ttl: Duration) -> KeyResult<bool> {
        self.check()?;
        let now = Instant::now();
        let mut st = lock(&self.inner);
        match st.leases.get_mut(key) {
            Some((v, t)) if *v == format!("{holder}|{token}") && *t > now => {
                *t = now + ttl;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release(&self, key: &str, holder: &str, token: u64) -> KeyResult<()> {
        self.check()?;
        let mut st = lock(&self.inner);
        if st.leases.get(key).is_some_and(|(v, _)| *v == format!("{holder}|{token}")) {
            st.leases.remove(key);
        }
        Ok(())
    }

    async fn cool(&self, key: &str, period: Duration) -> KeyResult<()> {
        self.check()?;
        lock(&self.inner).cooling.insert(key.to_owned(), Instant::now() + period);
        Ok(())
    }

    async fn states(&self, keys: &[String]) -> KeyResult<Vec<KeyState>> {
        self.check()?;
        let now = Instant::now();
        let st = lock(&self.inner);
        let left =
            |t: &Instant| t.checked_duration_since(now).map(|d| d.as_millis() as u64).filter(|ms| *ms > 0);
        Ok(keys
            .iter()
            .map(|k| KeyState {
                holder: st.leases.get(k).and_then(|(v, t)| {
                    let name = v.rsplit_once('|').map_or(v.as_str(), |(n, _)| n).to_owned();
                    left(t).map(|ms| (name, ms))
                }),
                cooling_ms: st.cooling.get(k).and_then(left),
            })
            .collect())
    }
}

/// A ledger in memory (minute buckets by wall-clock ms, as the callers pass them).
#[derive(Clone, Default)]
pub struct MemoryLedger {
    minutes: Arc<Mutex<HashMap<String, HashMap<u64, u64>>>>,
    pub down: Arc<AtomicBool>,
}

impl MemoryLedger {
    /// Every request counted for `key`, whenever.
    pub fn total(&self, key: &str) -> u64 {
        lock(&self.minutes).get(key).map_or(0, |m| m.values().sum())
    }
}

impl UsageLedger for MemoryLedger {
    async fn add(&self, key: &str, at_ms: u64, requests: u64) -> KeyResult<()> {
        if self.down.load(Ordering::SeqCst) {
            return Err(down());
        }
        *lock(&self.minutes).entry(key.to_owned()).or_default().entry(at_ms - at_ms % 60_000).or_default() +=
            requests;
        Ok(())
    }

    async fn usage(&self, keys: &[String], now_ms: u64) -> KeyResult<Vec<KeyUsage>> {
        if self.down.load(Ordering::SeqCst) {
            return Err(down());
        }
        let m = lock(&self.minutes);
        Ok(keys
            .iter()
            .map(|k| summarize(m.get(k).into_iter().flatten().map(|(a, b)| (*a, *b)), now_ms))
            .collect())
    }
}
