//! The window of recent canonical block hashes the follower checks every new block against.
//!
//! A new block at height n must name the stored hash at n-1 as its parent. When it does not,
//! the chain reorganised: the follower walks back to the common ancestor, announces the
//! orphaned hashes and re-publishes the new branch (follow.rs).

use std::collections::BTreeMap;

use alloy::primitives::B256;

/// Recent canonical (height → hash), at most `capacity` entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalWindow {
    capacity: u64,
    hashes: BTreeMap<u64, B256>,
    /// Highest height that may hold a published block no reorg event has orphaned yet: the
    /// tip, or above it when a crash fell between a Kafka ack and its record.
    high: Option<u64>,
}

impl CanonicalWindow {
    pub fn new(capacity: u64) -> Self {
        CanonicalWindow { capacity: capacity.max(2), hashes: BTreeMap::new(), high: None }
    }

    pub fn hash_at(&self, number: u64) -> Option<B256> {
        self.hashes.get(&number).copied()
    }

    /// Lowest height still remembered.
    pub fn oldest(&self) -> Option<u64> {
        self.hashes.keys().next().copied()
    }

    /// Whether a block at `number` with `parent_hash` extends the window (or cannot be checked).
    pub fn extends(&self, number: u64, parent_hash: B256) -> bool {
        match number.checked_sub(1).and_then(|p| self.hash_at(p)) {
            Some(stored) => stored == parent_hash,
            None => true,
        }
    }

    /// See [`CanonicalWindow::raise`].
    pub fn published_high(&self) -> Option<u64> {
        self.high
    }

    /// `number` may hold a published block (about to be published, or found in the store).
    pub fn raise(&mut self, number: u64) {
        self.high = Some(self.high.map_or(number, |h| h.max(number)));
    }

    /// Adds a height; returns the heights that fell out of the window.
    pub fn push(&mut self, number: u64, hash: B256) -> Vec<u64> {
        self.raise(number);
        self.hashes.insert(number, hash);
        let mut evicted = Vec::new();
        while self.hashes.len() as u64 > self.capacity {
            evicted.extend(self.hashes.pop_first().map(|(n, _)| n));
        }
        evicted
    }

    /// Highest height remembered.
    pub fn tip(&self) -> Option<u64> {
        self.hashes.keys().next_back().copied()
    }

    /// Forgets every height above `ancestor`; returns the forgotten (height, hash), lowest first.
    pub fn rollback_to(&mut self, ancestor: u64) -> Vec<(u64, B256)> {
        self.high = self.high.map(|h| h.min(ancestor));
        let orphaned = self.hashes.split_off(&(ancestor + 1));
        orphaned.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: u8) -> B256 {
        B256::repeat_byte(n)
    }

    #[test]
    fn detects_a_wrong_parent_and_rolls_back() {
        let mut w = CanonicalWindow::new(3);
        for n in 1..=4u8 {
            assert!(w.extends(u64::from(n), h(n - 1)));
            w.push(u64::from(n), h(n));
        }
        assert_eq!(w.oldest(), Some(2), "capacity keeps the newest 3");
        assert!(w.extends(5, h(4)));
        assert!(!w.extends(5, h(9)));
        assert_eq!(w.rollback_to(2), vec![(3, h(3)), (4, h(4))]);
        assert_eq!(w.hash_at(2), Some(h(2)));
        assert!(w.extends(3, h(2)));
    }

    /// The high-water mark follows pushes and store hints up, and rollbacks down.
    #[test]
    fn the_published_high_water_mark() {
        let mut w = CanonicalWindow::new(3);
        assert_eq!(w.published_high(), None);
        w.push(1, h(1));
        w.raise(4); // acknowledged by Kafka, never recorded
        assert_eq!((w.tip(), w.published_high()), (Some(1), Some(4)));
        w.push(2, h(2));
        assert_eq!(w.published_high(), Some(4));
        w.rollback_to(1);
        assert_eq!(w.published_high(), Some(1));
    }
}
