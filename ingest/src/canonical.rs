//! The window of recent canonical block hashes the follower checks every new block against.
//!
//! A new block at height n must name the stored hash at n-1 as its parent. When it does not,
//! the chain reorganised: the follower walks back to the common ancestor, announces the
//! orphaned hashes and re-publishes the new branch (crawler.rs).

use std::collections::BTreeMap;

/// Recent canonical (height → hash), at most `capacity` entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalWindow {
    capacity: u64,
    hashes: BTreeMap<u64, String>,
}

impl CanonicalWindow {
    pub fn new(capacity: u64) -> Self {
        CanonicalWindow { capacity: capacity.max(2), hashes: BTreeMap::new() }
    }

    pub fn hash_at(&self, number: u64) -> Option<&str> {
        self.hashes.get(&number).map(String::as_str)
    }

    /// Lowest height still remembered.
    pub fn oldest(&self) -> Option<u64> {
        self.hashes.keys().next().copied()
    }

    /// Whether a block at `number` with `parent_hash` extends the window (or cannot be checked).
    pub fn extends(&self, number: u64, parent_hash: &str) -> bool {
        match number.checked_sub(1).and_then(|p| self.hash_at(p)) {
            Some(stored) => stored == parent_hash,
            None => true,
        }
    }

    /// Adds a height; returns the heights that fell out of the window.
    pub fn push(&mut self, number: u64, hash: String) -> Vec<u64> {
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
    pub fn rollback_to(&mut self, ancestor: u64) -> Vec<(u64, String)> {
        let orphaned = self.hashes.split_off(&(ancestor + 1));
        orphaned.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_a_wrong_parent_and_rolls_back() {
        let mut w = CanonicalWindow::new(3);
        for (n, h) in [(1, "a"), (2, "b"), (3, "c"), (4, "d")] {
            assert!(w.extends(n, if n == 1 { "genesis" } else { ["", "a", "b", "c"][n as usize - 1] }));
            w.push(n, h.into());
        }
        assert_eq!(w.oldest(), Some(2), "capacity keeps the newest 3");
        assert!(w.extends(5, "d"));
        assert!(!w.extends(5, "x"));
        assert_eq!(w.rollback_to(2), vec![(3, "c".to_owned()), (4, "d".to_owned())]);
        assert_eq!(w.hash_at(2), Some("b"));
        assert!(w.extends(3, "b"));
    }
}
