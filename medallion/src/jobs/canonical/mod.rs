//! The one canonical rule: which Bronze blocks are the chain (sql/silver_blocks.sql).
//!
//! The canonical chain is the chain of parent-hash links through the latest head the follower
//! announced — its latest block by `seq` (one scale for every publisher, ingest's
//! sequence.rs) — walked down to lower heights and up to higher ones. So an orphan is never
//! canonical whatever published it or when it arrived, and a block re-adopted after A→B→A is
//! canonical again. A block a reorg event orphaned, and that the follower did not announce
//! again after that event, is never chosen. Without any announcement (a backfill-only lake)
//! the walk starts at the highest block.
//!
//! Where the walk finds no block with the hash it needs (a hole: that block never reached
//! Bronze), the height has no canonical block and the walk starts again at the next height
//! that has candidates: going down, from the best one that no known orphan above names as its
//! parent; going up, from the best one whose parent is not in Bronze at all (a block whose
//! parent is a known non-canonical block is an orphan). "Best" is verified first, then the
//! latest `seq`. `chainlake verify` reports such heights as holes and `chainlake repair`
//! fills them, after which the walk is exact.
//!
//! [`canonical`] is the pure decision, unit-tested below; [`udwf`] makes it the SQL window
//! function `canonical_block(...) OVER (PARTITION BY chain)`.

pub mod lake;
pub mod udwf;

use std::collections::{BTreeMap, HashMap, HashSet};

/// One Bronze block (one copy per hash) as the rule sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate<'a> {
    pub number: i64,
    pub hash: &'a str,
    pub parent: &'a str,
    pub verified: bool,
    /// The copy's publication order.
    pub seq: i64,
    /// The latest `seq` at which the follower announced this block as the head, if it did.
    pub announced: Option<i64>,
    /// A reorg event orphaned it after its last announcement.
    pub orphaned: bool,
}

/// Which of `blocks` are canonical (same order).
pub fn canonical(blocks: &[Candidate<'_>]) -> Vec<bool> {
    let mut out = vec![false; blocks.len()];
    let live: Vec<usize> = (0..blocks.len()).filter(|i| !blocks[*i].orphaned).collect();
    let mut by_hash: HashMap<&str, usize> = HashMap::with_capacity(live.len());
    let mut by_height: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for &i in &live {
        if let std::collections::hash_map::Entry::Vacant(e) = by_hash.entry(blocks[i].hash) {
            e.insert(i);
            by_height.entry(blocks[i].number).or_default().push(i);
        }
    }
    let all_hashes: HashSet<&str> = blocks.iter().map(|b| b.hash).collect();
    let best = |cands: &mut dyn Iterator<Item = usize>| {
        cands.max_by_key(|i| (blocks[*i].verified, blocks[*i].seq, std::cmp::Reverse(*i)))
    };
    let announced = live.iter().copied().filter(|i| blocks[*i].announced.is_some());
    let head = announced
        .max_by_key(|i| (blocks[*i].announced, blocks[*i].seq))
        .or_else(|| best(&mut by_height.values().next_back()?.iter().copied()));
    let Some(head) = head else { return out };
    out[head] = true;
    walk_down(blocks, &by_hash, &by_height, head, &mut out, &best);
    walk_up(blocks, &by_height, &all_hashes, head, &mut out, &best);
    out
}

type Best<'b> = dyn Fn(&mut dyn Iterator<Item = usize>) -> Option<usize> + 'b;

/// Below `head`: each block's parent, by hash, at the height below; past a missing parent,
/// the best candidate of the next lower height that no block left out above names as its
/// parent.
fn walk_down(
    blocks: &[Candidate<'_>],
    by_hash: &HashMap<&str, usize>,
    by_height: &BTreeMap<i64, Vec<usize>>,
    head: usize,
    out: &mut [bool],
    best: &Best<'_>,
) {
    let mut cur = head;
    loop {
        let below = blocks[cur].number - 1;
        let parent = by_hash.get(blocks[cur].parent).copied().filter(|p| blocks[*p].number == below);
        let next = match parent {
            Some(p) => p,
            // The block `cur` names is not in Bronze: `below` has no canonical block (its
            // candidates, if any, are orphans). Start again at the next lower height.
            None => {
                let Some((&h, cands)) = by_height.range(..below).next_back() else { return };
                let left_out: HashSet<&str> = by_height
                    .get(&(h + 1))
                    .into_iter()
                    .flatten()
                    .filter(|i| !out[**i])
                    .map(|i| blocks[*i].parent)
                    .collect();
                let pick = best(&mut cands.iter().copied().filter(|i| !left_out.contains(blocks[*i].hash)))
                    .or_else(|| best(&mut cands.iter().copied()));
                let Some(p) = pick else { return };
                p
            }
        };
        out[next] = true;
        cur = next;
    }
}

/// Above `head`: the best child of the last canonical block at the next height; past a height
/// with no block, the best candidate whose parent is not in Bronze at all.
fn walk_up(
    blocks: &[Candidate<'_>],
    by_height: &BTreeMap<i64, Vec<usize>>,
    all_hashes: &HashSet<&str>,
    head: usize,
    out: &mut [bool],
    best: &Best<'_>,
) {
    let mut cur = head;
    for (&h, cands) in by_height.range(blocks[head].number + 1..) {
        let next = if h == blocks[cur].number + 1 {
            best(&mut cands.iter().copied().filter(|i| blocks[*i].parent == blocks[cur].hash))
        } else {
            best(&mut cands.iter().copied().filter(|i| !all_hashes.contains(blocks[*i].parent)))
        };
        if let Some(n) = next {
            out[n] = true;
            cur = n;
        }
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
