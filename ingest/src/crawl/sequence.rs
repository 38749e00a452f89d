//! Publication order: the sequence number every block and chain event carries (`seq`).
//!
//! `seq = epoch << 32 | counter`. The epoch is claimed once per process start by every
//! publisher — follower, backfill, repair — from one Redis counter beside the canonical window
//! (`chainlake:{namespace}{chain}:seq-epoch`, always above the last claim, whatever the clock
//! does). So everything published after a claim orders after everything published before it,
//! without one write per block. Without Redis the epoch is 0: below every claimed epoch, so such
//! a process can never outrank one that claimed. Silver takes the latest head the follower
//! announced, and which of its copies of a block came after a reorg event, by `seq`, never by
//! arrival time (a backlog sunk partition by partition arrives in no useful order).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Hands out increasing sequence numbers; clones share the counter.
#[derive(Debug, Clone)]
pub struct Sequencer {
    next: Arc<AtomicU64>,
}

impl Default for Sequencer {
    /// Epoch 0, until a claim moves it ([`Sequencer::advance_to`]).
    fn default() -> Self {
        Sequencer::starting_at(0)
    }
}

impl Sequencer {
    /// Numbers from `epoch << 32` on.
    pub fn starting_at(epoch: u64) -> Self {
        Sequencer { next: Arc::new(AtomicU64::new(epoch << 32)) }
    }

    /// Moves to `epoch` (claimed from Redis) if that is later than the current one.
    pub fn advance_to(&self, epoch: u64) {
        self.next.fetch_max(epoch << 32, Ordering::SeqCst);
    }

    /// The next number.
    pub fn next(&self) -> u64 {
        self.next.fetch_add(1, Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_epoch_orders_after_everything_before_it() {
        let s = Sequencer::starting_at(5);
        let a = s.next();
        let b = s.next();
        assert!(b > a);
        s.advance_to(4); // an older epoch never moves it back
        assert!(s.next() > b);
        s.advance_to(6);
        let c = s.next();
        assert_eq!(c, 6 << 32);
        assert!(c > b);
    }
}
