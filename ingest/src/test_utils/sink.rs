//! [`MemorySink`]: a `RecordSink` that remembers every publication in order.

use std::sync::{Arc, Mutex, MutexGuard};

use chainlake_wire::{BlockBundle, ChainEventKind, ChainEventRecord, UnverifiedRecord};

use crate::source::RecordSink;
use crate::Result;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind: keep using it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the crawler published, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    Block { number: u64, hash: String },
    Reorg { number: u64, orphaned: Vec<String>, new: Vec<String> },
    Confirmed { number: u64 },
    Unverified { number: u64, reason: String },
}

/// A sink that keeps every publication in order.
#[derive(Clone, Debug, Default)]
pub struct MemorySink {
    log: Arc<Mutex<Vec<Published>>>,
}

impl MemorySink {
    pub fn published(&self) -> Vec<Published> {
        lock(&self.log).clone()
    }

    /// Blocks and reorgs only (confirmations follow from them).
    pub fn without_confirmations(&self) -> Vec<Published> {
        self.published().into_iter().filter(|p| !matches!(p, Published::Confirmed { .. })).collect()
    }

    /// Heights of the published blocks, in publication order.
    pub fn heights(&self) -> Vec<u64> {
        let blocks = self.published().into_iter();
        blocks
            .filter_map(|p| if let Published::Block { number, .. } = p { Some(number) } else { None })
            .collect()
    }
}

impl RecordSink for MemorySink {
    async fn publish(&self, bundle: &BlockBundle) -> Result<()> {
        let b = &bundle.block;
        lock(&self.log).push(Published::Block { number: b.number, hash: b.hash.clone() });
        Ok(())
    }

    async fn publish_event(&self, e: &ChainEventRecord) -> Result<()> {
        let p = match e.kind {
            ChainEventKind::Reorg => Published::Reorg {
                number: e.number,
                orphaned: e.orphaned_hashes.clone(),
                new: e.new_hashes.clone(),
            },
            ChainEventKind::Confirmed => Published::Confirmed { number: e.number },
        };
        lock(&self.log).push(p);
        Ok(())
    }

    async fn publish_unverified(&self, r: &UnverifiedRecord) -> Result<()> {
        lock(&self.log).push(Published::Unverified { number: r.number, reason: r.reason.clone() });
        Ok(())
    }
}
