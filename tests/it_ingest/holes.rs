//! A lake with no holes (issue 26), against real anvil, tansu, Redis and a lake: a provider
//! pinned to a lie at some heights leaves them as holes — in `{chain}.unverified`, in Redis,
//! named by `chainlake verify` (exit 1) — and never as a wrong block; once the lie stops,
//! `chainlake repair`, a re-run backfill and a follower's scheduled re-drive each fill them,
//! and Silver equals the node. A chunk ending on a hole ends, and the backfill says so.

use crate::common;

use std::process::Command;
use std::time::Duration;

use crate::common::proxy::Proxy;
use chainlake::config::Config;
use chainlake::pipeline;
use chainlake_ingest::devnet::{bulk, Anvil, Artifacts};
use chainlake_ingest::holes::redis::RedisHoles;
use chainlake_ingest::holes::HoleStore;
use chainlake_medallion::bronze::Until;
use tokio_util::sync::CancellationToken;

/// The heights the front lies about, every time, until it is calmed.
const LIES_AT: [u64; 2] = [11, 23];

fn quick(cfg: &mut Config) {
    cfg.rpc.max_retries = 0;
    cfg.rpc.initial_backoff = Duration::from_millis(10);
    cfg.rpc.max_backoff = Duration::from_millis(50);
    cfg.rpc.verify_attempts = 3;
    cfg.rpc.poll_interval = Duration::from_millis(20);
    cfg.holes.initial_backoff = Duration::from_millis(200);
    cfg.holes.max_backoff = Duration::from_millis(400);
    cfg.holes.check_interval = Duration::from_millis(200);
    cfg.holes.backfill_wait = Duration::from_millis(800);
    cfg.backfill.chunk_size = 10;
}

/// A chain of 40 blocks with transactions behind a front pinned to lie about [`LIES_AT`].
async fn lying_chain(cfg: &mut Config) -> (Anvil, Proxy, u64) {
    quick(cfg);
    let anvil = common::anvil(cfg, &[]).await;
    let artifacts = Artifacts::load(&cfg.devnet.artifacts_dir()).unwrap();
    let last = bulk::fill(&anvil.url(), &artifacts, 40, 3).await.unwrap().last_block;
    let front = Proxy::start(&anvil.url()).await;
    cfg.rpc.set_primary(front.url.clone(), "pinned".into(), String::new());
    front.pin_lie(Some(LIES_AT.to_vec()), "miner_changed");
    (anvil, front, last)
}

async fn redis_holes(cfg: &Config, to: u64) -> Vec<u64> {
    let store = RedisHoles::connect(&cfg.redis.url, &cfg.kafka.topic_prefix, &cfg.chain.name).await.unwrap();
    store.list(0..=to).await.unwrap().into_iter().map(|h| h.height).collect()
}

async fn lake_holes(cfg: &Config, to: u64) -> Vec<(u64, String)> {
    pipeline::sink(cfg, Until::CaughtUp, &CancellationToken::new()).await.unwrap();
    let r = chainlake::verify_lake::verify_lake(cfg, 0, to).await.unwrap();
    r.holes.into_iter().flat_map(|h| (h.from..=h.to).map(move |n| (n, h.reason.clone()))).collect()
}

/// Holes are recorded, named by `verify`, kept out of Silver; `repair` fills them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holes_are_named_by_verify_and_filled_by_repair() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("holes-repair", dir.path().to_str().unwrap());
    let (anvil, front, last) = lying_chain(&mut cfg).await;
    let report =
        pipeline::backfill_shared(&cfg, 0, last, true, false, &CancellationToken::new()).await.unwrap();
    assert!(report.complete, "{report:?}");
    assert_eq!(report.holes_left, 2, "{report:?}");
    assert_eq!(redis_holes(&cfg, last).await, LIES_AT);
    let named = lake_holes(&cfg, last).await;
    assert_eq!(named.iter().map(|(h, _)| *h).collect::<Vec<_>>(), LIES_AT, "{named:?}");
    for (h, why) in &named {
        assert!(why.contains("unverified (header_hash"), "height {h}: {why}");
    }
    let rows = pipeline::rows(
        &pipeline::query(&cfg, "SELECT count(*) FROM bronze.blocks WHERE number IN (11, 23)").await.unwrap(),
    )
    .unwrap();
    assert_eq!(rows[0][0], "0", "no block of a lying answer reached Bronze");

    front.calm();
    let repaired = chainlake::repair::repair(&cfg, 0, last, &CancellationToken::new()).await.unwrap();
    assert_eq!((repaired.targets, repaired.redriven.filled), (2, 2), "{repaired:?}");
    assert!(repaired.holes_left.is_empty(), "{repaired:?}");
    let left = lake_holes(&cfg, last).await;
    assert!(left.is_empty(), "holes the lake still has: {left:?}");
    let differ = common::silver_differs_from_node(&cfg, &anvil.url(), last).await;
    assert!(differ.is_empty(), "Silver differs from the node: {differ:?}");
    anvil.stop().await;
}

/// The same holes filled by a follower's scheduled re-drive, with no command run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_re_drives_holes_on_its_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("holes-follow", dir.path().to_str().unwrap());
    let (anvil, front, last) = lying_chain(&mut cfg).await;
    let cancel = CancellationToken::new();
    let follower = {
        let (cfg, cancel) = (cfg.clone(), cancel.clone());
        tokio::spawn(async move { pipeline::follow(&cfg, Some(0), &cancel).await })
    };
    common::eventually("both lies kept as holes", Duration::from_secs(60), || async {
        (redis_holes(&cfg, last).await == LIES_AT).then_some(())
    })
    .await;
    front.calm();
    common::eventually("the follower re-drove both holes", Duration::from_secs(60), || async {
        redis_holes(&cfg, last).await.is_empty().then_some(())
    })
    .await;
    // The follower may still be on its way to the tip when the holes behind it are filled.
    common::eventually("every height in the lake", Duration::from_secs(60), || async {
        lake_holes(&cfg, last).await.is_empty().then_some(())
    })
    .await;
    cancel.cancel();
    follower.await.unwrap().unwrap();
    let differ = common::silver_differs_from_node(&cfg, &anvil.url(), last).await;
    assert!(differ.is_empty(), "Silver differs from the node: {differ:?}");
    anvil.stop().await;
}

fn backfill_command(cfg: &Config, to: u64) -> Command {
    let mut cmd = common::backfill_command(cfg, to, 10);
    cmd.env("CHAINLAKE__RPC__MAX_RETRIES", "0")
        .env("CHAINLAKE__RPC__VERIFY_ATTEMPTS", "2")
        .env("CHAINLAKE__RPC__INITIAL_BACKOFF", "10ms")
        .env("CHAINLAKE__RPC__MAX_BACKOFF", "50ms")
        .env("CHAINLAKE__HOLES__INITIAL_BACKOFF", "100ms")
        .env("CHAINLAKE__HOLES__MAX_BACKOFF", "200ms")
        .env("CHAINLAKE__HOLES__BACKFILL_WAIT", "3s");
    cmd
}

/// A chunk whose last height is a hole: the backfill (the real binary) ends, exits 4 and says
/// how many heights are left; run again once the lie stops, it fills them and exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_ending_on_a_hole_ends_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("holes-chunk", dir.path().to_str().unwrap());
    quick(&mut cfg);
    let anvil = common::anvil(&cfg, &[]).await;
    let artifacts = Artifacts::load(&cfg.devnet.artifacts_dir()).unwrap();
    let last = bulk::fill(&anvil.url(), &artifacts, 25, 2).await.unwrap().last_block;
    let front = Proxy::start(&anvil.url()).await;
    cfg.rpc.set_primary(front.url.clone(), "chunk-liar".into(), String::new());
    front.pin_lie(Some(vec![9, 19]), "miner_changed"); // the last height of chunks 0 and 1
    let out = {
        let mut child = common::Reaped::new(backfill_command(&cfg, last).spawn().unwrap());
        let done = common::eventually("the backfill ended", Duration::from_secs(120), || {
            let status = child.try_wait().unwrap();
            async move { status }
        })
        .await;
        (done, String::from_utf8_lossy(&child.wait_with_output().stdout).into_owned())
    };
    assert_eq!(out.0.code(), Some(4), "exit 4: holes left; {}", out.1);
    assert!(out.1.contains("holes left in the range: 2"), "{}", out.1);
    assert!(out.1.contains("complete: true"), "{}", out.1);
    front.calm();
    let again = backfill_command(&cfg, last).output().unwrap();
    let text = String::from_utf8_lossy(&again.stdout);
    assert_eq!(again.status.code(), Some(0), "{text}");
    assert!(text.contains("holes left in the range: 0"), "{text}");
    assert!(redis_holes(&cfg, last).await.is_empty());
    pipeline::sink(&cfg, Until::CaughtUp, &CancellationToken::new()).await.unwrap();
    let differ = common::silver_differs_from_node(&cfg, &anvil.url(), last).await;
    assert!(differ.is_empty(), "Silver differs from the node: {differ:?}");
    anvil.stop().await;
}
