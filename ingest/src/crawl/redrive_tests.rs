//! Unit tests of the hole decisions on scripted chains (test_utils/): a height that does not
//! prove is kept as a hole and the line goes on; a backfill ends, re-driving its range's holes
//! first; two proven blocks that do not link leave both heights to re-drive; a verified block
//! resolves its height's hole.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::{BackfillConfig, HolesConfig};
use crate::crawl::backfill::{BackfillPlan, SharedBackfill, SharedReport};
use crate::crawl::progress::Progress;
use crate::crawl::Crawler;
use crate::test_utils::chain::{block_hash, ScriptedChain, Step};
use crate::test_utils::clock::eventually_paused;
use crate::test_utils::holes::MemoryHoles;
use crate::test_utils::leases::MemoryLeases;
use crate::test_utils::sink::{MemorySink, Published};

fn holes_cfg() -> HolesConfig {
    HolesConfig {
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(2),
        check_interval: Duration::from_millis(10),
        batch: 10,
        // Virtual time (the clock is paused): long enough for the 1 ms backoffs, measured on
        // the wall clock, to pass.
        backfill_wait: Duration::from_secs(3600),
    }
}

fn crawler(
    chain: &ScriptedChain,
    sink: &MemorySink,
    holes: &MemoryHoles,
) -> Crawler<ScriptedChain, MemorySink> {
    Crawler::new(chain.clone(), sink.clone(), 2, 8).with_holes(Arc::new(holes.clone()), holes_cfg())
}

async fn backfill(crawler: &Crawler<ScriptedChain, MemorySink>, to: u64, concurrency: usize) -> SharedReport {
    let cfg = BackfillConfig {
        chunk_size: 10,
        lease_ttl: Duration::from_secs(3),
        checkpoint_interval: Duration::from_millis(500),
    };
    let progress = Progress::new(to + 1, false, Duration::from_secs(3600));
    let leases = MemoryLeases::new(cfg.lease_ttl);
    let job = SharedBackfill {
        crawler,
        leases: &leases,
        plan: BackfillPlan { from: 0, to, chunk_size: 10 },
        cfg: &cfg,
        concurrency,
        progress: &progress,
    };
    job.run(&CancellationToken::new()).await.unwrap_or_else(|e| panic!("{e}"))
}

fn unverified(sink: &MemorySink) -> Vec<u64> {
    let published = sink.published().into_iter();
    published
        .filter_map(|p| if let Published::Unverified { number, .. } = p { Some(number) } else { None })
        .collect()
}

/// The last height of a chunk never proves: the chunk (and the backfill) still ends, the
/// height is a hole in `{chain}.unverified` and in the store, and the report says so.
#[tokio::test(start_paused = true)]
async fn a_chunk_ending_on_a_hole_ends_and_keeps_the_hole() {
    let (chain, sink, holes) =
        (ScriptedChain::new(29).lie_at(9, usize::MAX), MemorySink::default(), MemoryHoles::default());
    let report = backfill(&crawler(&chain, &sink, &holes), 29, 4).await;
    assert!(report.complete, "{report:?}");
    assert_eq!((report.holes_left, report.stats.unverified), (1, 1), "{report:?}");
    assert!(report.redriven.tried >= 1 && report.redriven.filled == 0, "{report:?}");
    assert_eq!(holes.heights(), vec![9]);
    let hole = holes.get(9).unwrap_or_else(|| panic!("hole 9"));
    assert!(hole.tries >= 1 && hole.reason == "decode", "{hole:?}");
    let mut heights = sink.heights();
    heights.sort_unstable();
    assert_eq!(heights, (0..=29).filter(|h| *h != 9).collect::<Vec<_>>());
    assert_eq!(unverified(&sink), vec![9], "published to the unverified topic once, not per re-drive");
}

/// A lie told once: the backfill's own re-drive publishes the block before it ends.
#[tokio::test(start_paused = true)]
async fn a_transient_hole_is_filled_before_the_backfill_ends() {
    let (chain, sink, holes) =
        (ScriptedChain::new(19).lie_at(5, 1), MemorySink::default(), MemoryHoles::default());
    let report = backfill(&crawler(&chain, &sink, &holes), 19, 4).await;
    assert_eq!((report.complete, report.holes_left, report.redriven.filled), (true, 0, 1), "{report:?}");
    assert!(holes.heights().is_empty());
    let mut heights = sink.heights();
    heights.sort_unstable();
    assert_eq!(heights, (0..=19).collect::<Vec<_>>());
}

/// A reorg between two fetches of a backfill: blocks 7 (old branch) and 8 (new) do not link;
/// both heights are re-driven and the node's blocks of both published.
#[tokio::test(start_paused = true)]
async fn blocks_that_do_not_link_are_both_re_driven() {
    let chain = ScriptedChain::new(15).after_fetch(7, Step::Reorg { from: 7, to: 15 });
    let (sink, holes) = (MemorySink::default(), MemoryHoles::default());
    let report = backfill(&crawler(&chain, &sink, &holes), 15, 1).await;
    assert_eq!((report.holes_left, report.redriven.filled), (0, 2), "{report:?}");
    let at = |n: u64| {
        sink.published()
            .into_iter()
            .filter_map(move |p| match p {
                Published::Block { number, hash } if number == n => Some(hash),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let new7 = block_hash(7, 1).to_string();
    assert_eq!(at(7).last(), Some(&new7), "height 7 published again from the new branch");
    assert_eq!(at(8).len(), 2, "height 8 published, then re-driven");
}

/// The follower keeps a height that does not prove as a hole, goes on with the next, and its
/// re-drive fills the hole once the lie stops.
#[tokio::test(start_paused = true)]
async fn the_follower_goes_on_past_a_hole_and_re_drives_it() {
    let (chain, sink, holes) =
        (ScriptedChain::new(12).lie_at(4, 1), MemorySink::default(), MemoryHoles::default());
    let c = crawler(&chain, &sink, &holes);
    let (_tx, stop) = tokio::sync::watch::channel(Some(12));
    let stats = c.follow(0, stop, Duration::from_millis(10), 2, &CancellationToken::new()).await;
    let stats = stats.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((stats.unverified, stats.last_block), (1, Some(12)), "{stats:?}");
    assert_eq!(holes.heights(), vec![4]);
    let filled = eventually_paused(|| async {
        let r =
            c.redrive_due(0..=u64::MAX, &CancellationToken::new()).await.unwrap_or_else(|e| panic!("{e}"));
        (r.filled == 1).then_some(r)
    })
    .await;
    assert_eq!(filled.tried, 1);
    assert!(holes.heights().is_empty(), "a verified block resolves the hole");
    assert_eq!(sink.heights().iter().filter(|h| **h == 4).count(), 1);
}

/// The holes store out of reach never stops the line: the hole found meanwhile is recorded at
/// its next answer.
#[tokio::test(start_paused = true)]
async fn a_hole_found_while_the_store_is_down_is_recorded_when_it_answers() {
    let (chain, sink, holes) =
        (ScriptedChain::new(9).lie_at(3, usize::MAX), MemorySink::default(), MemoryHoles::default());
    let c = crawler(&chain, &sink, &holes);
    holes.down.store(true, std::sync::atomic::Ordering::SeqCst);
    let stats = c.backfill(0, 5, 2, &CancellationToken::new()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((stats.blocks, stats.unverified), (5, 1), "{stats:?}");
    assert!(holes.heights().is_empty());
    holes.down.store(false, std::sync::atomic::Ordering::SeqCst);
    c.backfill(6, 9, 2, &CancellationToken::new()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(holes.heights(), vec![3], "recorded at the store's next answer");
}
