//! The canonical rule on scripted chains: reorgs, races between publishers, holes.

use super::*;

/// Block `n` of branch `b` (`"A"`, `"B"`…) whose parent is on branch `parent_branch`.
fn hash(n: i64, branch: &str) -> String {
    format!("{branch}{n}")
}

/// One publication of a block: by the follower (`announced`) or another publisher.
#[derive(Clone)]
struct Publication {
    number: i64,
    hash: String,
    parent: String,
    seq: i64,
    announced: Option<i64>,
    orphaned: bool,
}

struct Chain {
    blocks: Vec<Publication>,
    seq: i64,
}

impl Chain {
    fn new() -> Self {
        Chain { blocks: Vec::new(), seq: 0 }
    }

    /// Publishes `branch`'s blocks `from..=to` (parent of `from` on `below`), by the follower
    /// (`announce`) or another publisher.
    fn publish(&mut self, from: i64, to: i64, branch: &str, below: &str, announce: bool) -> &mut Self {
        for n in from..=to {
            self.seq += 1;
            let parent = if n == from { hash(n - 1, below) } else { hash(n - 1, branch) };
            let (seq, announced) = (self.seq, announce.then_some(self.seq));
            self.blocks.push(Publication {
                number: n,
                hash: hash(n, branch),
                parent,
                seq,
                announced,
                orphaned: false,
            });
        }
        self
    }

    /// A reorg event (after everything so far) orphaning `hashes`.
    fn orphan(&mut self, hashes: &[String]) -> &mut Self {
        self.seq += 1;
        for b in self.blocks.iter_mut().filter(|b| hashes.contains(&b.hash)) {
            b.orphaned = true;
        }
        self
    }

    /// The canonical hashes, lowest height first. Copies of one hash are merged as the SQL
    /// does: the latest `seq` and announcement, orphaned as the last copy says.
    fn canonical(&self) -> Vec<String> {
        let mut merged: BTreeMap<&str, Publication> = BTreeMap::new();
        for b in &self.blocks {
            let e = merged.entry(b.hash.as_str()).or_insert_with(|| b.clone());
            (e.seq, e.announced, e.orphaned) = (e.seq.max(b.seq), e.announced.max(b.announced), b.orphaned);
        }
        let cands: Vec<Candidate<'_>> = merged
            .values()
            .map(|b| Candidate {
                number: b.number,
                hash: &b.hash,
                parent: &b.parent,
                verified: true,
                seq: b.seq,
                announced: b.announced,
                orphaned: b.orphaned,
            })
            .collect();
        let flags = canonical(&cands);
        let mut out: Vec<(i64, String)> =
            cands.iter().zip(flags).filter(|(_, f)| *f).map(|(c, _)| (c.number, c.hash.to_owned())).collect();
        out.sort();
        out.into_iter().map(|(_, h)| h).collect()
    }
}

fn hashes(from: i64, to: i64, branch: &str) -> Vec<String> {
    (from..=to).map(|n| hash(n, branch)).collect()
}

fn chain_of(parts: &[(i64, i64, &str)]) -> Vec<String> {
    parts.iter().flat_map(|(from, to, b)| hashes(*from, *to, b)).collect()
}

#[test]
fn a_chain_without_reorgs_is_canonical_whole() {
    let mut c = Chain::new();
    c.publish(0, 9, "A", "A", true);
    assert_eq!(c.canonical(), hashes(0, 9, "A"));
}

#[test]
fn a_reorg_follows_the_new_branch() {
    let mut c = Chain::new();
    c.publish(0, 9, "A", "A", true).orphan(&hashes(7, 9, "A")).publish(7, 12, "B", "A", true);
    assert_eq!(c.canonical(), chain_of(&[(0, 6, "A"), (7, 12, "B")]));
}

/// A backfill that fetched branch A before the reorg publishes it after the follower's B:
/// the later publication does not make the orphans canonical.
#[test]
fn a_backfill_publishing_orphans_late_never_outranks_the_links() {
    let mut c = Chain::new();
    c.publish(0, 6, "A", "A", true).publish(7, 12, "B", "A", true).publish(7, 9, "A", "A", false);
    assert_eq!(c.canonical(), chain_of(&[(0, 6, "A"), (7, 12, "B")]));
    // And when the backfill's orphans came first, before the follower saw anything there.
    let mut c = Chain::new();
    c.publish(0, 6, "A", "A", true).publish(7, 9, "A", "A", false).publish(7, 12, "B", "A", true);
    assert_eq!(c.canonical(), chain_of(&[(0, 6, "A"), (7, 12, "B")]));
}

#[test]
fn a_block_re_adopted_after_a_to_b_to_a_is_canonical_again() {
    let mut c = Chain::new();
    c.publish(0, 9, "A", "A", true)
        .orphan(&hashes(7, 9, "A"))
        .publish(7, 10, "B", "A", true)
        .orphan(&hashes(7, 10, "B"))
        .publish(7, 11, "A", "A", true);
    // The re-announced copies came after the first event: merged, they are not orphaned.
    for b in c.blocks.iter_mut().filter(|b| b.hash.starts_with('A')) {
        b.orphaned = false;
    }
    assert_eq!(c.canonical(), hashes(0, 11, "A"));
}

/// A reorg to a shorter branch: what the old branch had above the new head is not canonical.
#[test]
fn blocks_above_the_head_of_a_shorter_branch_are_orphans() {
    let mut c = Chain::new();
    c.publish(0, 9, "A", "A", true).orphan(&hashes(7, 9, "A")).publish(7, 8, "B", "A", true);
    assert_eq!(c.canonical(), chain_of(&[(0, 6, "A"), (7, 8, "B")]));
    // Without the event (a backfill's copies): the links still leave 9A out.
    let mut c = Chain::new();
    c.publish(0, 6, "A", "A", true).publish(7, 9, "A", "A", false).publish(7, 8, "B", "A", true);
    assert_eq!(c.canonical(), chain_of(&[(0, 6, "A"), (7, 8, "B")]));
}

/// The follower crashed between a reorg event and the new branch: nothing it orphaned is canonical.
#[test]
fn an_announced_reorg_without_its_new_branch_leaves_a_gap_not_orphans() {
    let mut c = Chain::new();
    c.publish(0, 9, "A", "A", true).orphan(&hashes(7, 9, "A"));
    assert_eq!(c.canonical(), hashes(0, 6, "A"));
}

/// A hole: the canonical 8B never reached Bronze, only the orphan 8A. Height 8 has no
/// canonical block, and below it the walk takes 7B (8A names 7A: an orphan's parent).
#[test]
fn a_hole_on_the_new_branch_is_no_block_and_the_walk_goes_on_below_it() {
    let mut c = Chain::new();
    c.publish(0, 6, "A", "A", true).publish(7, 8, "A", "A", false).publish(7, 7, "B", "A", false);
    c.publish(9, 10, "B", "B", true);
    assert_eq!(c.canonical(), chain_of(&[(0, 6, "A"), (7, 7, "B"), (9, 10, "B")]));
}

#[test]
fn a_backfill_only_lake_is_walked_down_from_its_highest_block() {
    let mut c = Chain::new();
    c.publish(0, 6, "A", "A", false).publish(7, 8, "B", "A", false).publish(7, 7, "A", "A", false);
    assert_eq!(c.canonical(), chain_of(&[(0, 6, "A"), (7, 8, "B")]));
}

/// A backfill ahead of the follower's last head: its blocks link up from the head, across a
/// hole too (a block whose parent is not in Bronze at all starts the chain again).
#[test]
fn blocks_published_ahead_of_the_follower_are_canonical_when_they_link() {
    let mut c = Chain::new();
    c.publish(0, 5, "A", "A", true).publish(6, 9, "A", "A", false).publish(11, 12, "A", "A", false);
    assert_eq!(c.canonical(), chain_of(&[(0, 9, "A"), (11, 12, "A")]));
}

/// Two copies of one height with nothing above to decide: the verified one, then the later.
#[test]
fn at_the_top_of_a_backfill_a_verified_copy_wins() {
    let blocks = [
        Candidate {
            number: 1,
            hash: "x",
            parent: "g",
            verified: false,
            seq: 9,
            announced: None,
            orphaned: false,
        },
        Candidate {
            number: 1,
            hash: "y",
            parent: "g",
            verified: true,
            seq: 1,
            announced: None,
            orphaned: false,
        },
        Candidate {
            number: 0,
            hash: "g",
            parent: "-",
            verified: true,
            seq: 0,
            announced: None,
            orphaned: false,
        },
    ];
    assert_eq!(canonical(&blocks), vec![false, true, true]);
    assert!(canonical(&[]).is_empty());
}
