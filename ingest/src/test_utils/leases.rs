//! [`MemoryLeases`]: backfill chunk leases in memory with Redis's semantics, on tokio's clock.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use crate::crawl::backfill::ChunkLeases;
use crate::Result;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind: keep using it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug, Default)]
struct LeaseState {
    leases: HashMap<u64, (String, Instant)>,
    checkpoints: HashMap<u64, u64>,
    done: HashSet<u64>,
}

/// Chunk leases in memory with Redis's semantics (atomic claim unless done, TTL expiry).
#[derive(Clone, Debug)]
pub struct MemoryLeases {
    state: Arc<Mutex<LeaseState>>,
    worker: String,
    ttl: Duration,
}

impl MemoryLeases {
    pub fn new(ttl: Duration) -> Self {
        MemoryLeases { state: Arc::default(), worker: "w0".into(), ttl }
    }

    /// Another worker on the same leases.
    pub fn worker(&self, name: &str) -> Self {
        MemoryLeases { worker: name.to_owned(), ..self.clone() }
    }

    /// A worker that died holding `chunk` with checkpoint `next` (its lease runs out by itself).
    pub fn dead_holder(&self, chunk: u64, next: u64) {
        let mut st = lock(&self.state);
        st.leases.insert(chunk, ("dead".into(), Instant::now() + self.ttl));
        st.checkpoints.insert(chunk, next);
    }

    pub fn mark_done(&self, chunk: u64) {
        lock(&self.state).done.insert(chunk);
    }

    fn held_by_us(&self, st: &LeaseState, chunk: u64) -> bool {
        st.leases.get(&chunk).is_some_and(|(w, until)| *w == self.worker && *until > Instant::now())
    }
}

impl ChunkLeases for MemoryLeases {
    fn worker(&self) -> &str {
        &self.worker
    }

    async fn claim(&self, chunk: u64) -> Result<bool> {
        let mut st = lock(&self.state);
        let free = st.leases.get(&chunk).is_none_or(|(_, until)| *until <= Instant::now());
        if st.done.contains(&chunk) || !free {
            return Ok(false);
        }
        st.leases.insert(chunk, (self.worker.clone(), Instant::now() + self.ttl));
        Ok(true)
    }

    async fn renew(&self, chunk: u64, next: u64) -> Result<bool> {
        let mut st = lock(&self.state);
        if !self.held_by_us(&st, chunk) {
            return Ok(false);
        }
        st.leases.insert(chunk, (self.worker.clone(), Instant::now() + self.ttl));
        st.checkpoints.insert(chunk, next);
        Ok(true)
    }

    async fn release(&self, chunk: u64) -> Result<()> {
        let mut st = lock(&self.state);
        if self.held_by_us(&st, chunk) {
            st.leases.remove(&chunk);
        }
        Ok(())
    }

    async fn checkpoint(&self, chunk: u64) -> Result<Option<u64>> {
        Ok(lock(&self.state).checkpoints.get(&chunk).copied())
    }

    async fn complete(&self, chunk: u64) -> Result<()> {
        lock(&self.state).done.insert(chunk);
        self.release(chunk).await
    }

    async fn done(&self) -> Result<HashSet<u64>> {
        Ok(lock(&self.state).done.clone())
    }
}
