//! [`HoleStore`] in memory, with the Redis store's semantics (claims push the due time).

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::future::BoxFuture;

use crate::holes::{Hole, HoleStore};
use crate::Result;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind: keep using it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Holes by height, with when each is due; `down` makes every call fail as Redis would.
#[derive(Clone, Debug, Default)]
pub struct MemoryHoles {
    holes: Arc<Mutex<BTreeMap<u64, (Hole, i64)>>>,
    pub down: Arc<std::sync::atomic::AtomicBool>,
}

impl MemoryHoles {
    fn check(&self) -> Result<()> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            let e = redis::RedisError::from((redis::ErrorKind::Io, "down"));
            return Err(crate::Error::Redis { action: "memory holes", source: Box::new(e) });
        }
        Ok(())
    }

    pub fn heights(&self) -> Vec<u64> {
        lock(&self.holes).keys().copied().collect()
    }

    pub fn get(&self, height: u64) -> Option<Hole> {
        lock(&self.holes).get(&height).map(|(h, _)| h.clone())
    }
}

impl HoleStore for MemoryHoles {
    fn record<'a>(&'a self, hole: &'a Hole) -> BoxFuture<'a, Result<u64>> {
        if let Err(e) = self.check() {
            return Box::pin(async move { Err(e) });
        }
        let mut holes = lock(&self.holes);
        holes.insert(hole.height, (hole.clone(), hole.next_try));
        let n = holes.len() as u64;
        Box::pin(async move { Ok(n) })
    }

    fn resolve(&self, height: u64) -> BoxFuture<'_, Result<u64>> {
        if let Err(e) = self.check() {
            return Box::pin(async move { Err(e) });
        }
        let mut holes = lock(&self.holes);
        holes.remove(&height);
        let n = holes.len() as u64;
        Box::pin(async move { Ok(n) })
    }

    fn claim_due(
        &self,
        range: RangeInclusive<u64>,
        now: i64,
        lease: Duration,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<Hole>>> {
        let until = now + lease.as_millis() as i64;
        let mut holes = lock(&self.holes);
        let taken: Vec<Hole> = holes
            .range_mut(range)
            .filter(|(_, (_, due))| *due <= now)
            .take(limit)
            .map(|(_, (hole, due))| {
                *due = until;
                hole.clone()
            })
            .collect();
        Box::pin(async move { Ok(taken) })
    }

    fn list(&self, range: RangeInclusive<u64>) -> BoxFuture<'_, Result<Vec<Hole>>> {
        let listed: Vec<Hole> = lock(&self.holes).range(range).map(|(_, (h, _))| h.clone()).collect();
        Box::pin(async move { Ok(listed) })
    }
}
