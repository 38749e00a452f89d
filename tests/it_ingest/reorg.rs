//! Real reorgs on anvil (`anvil_reorg`, depths 1–10) while the follower runs: afterwards the
//! blocks on `{chain}.blocks` minus those announced orphaned equal the node's canonical chain
//! at every height, and so does Silver.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use alloy::rpc::client::{ClientBuilder, RpcClient};
use chainlake::config::Config;
use chainlake::pipeline;
use chainlake_medallion::bronze::Until;
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::common::node::{hash_at, head, send, DEV0, DEV1, DEV2};

/// Depths 1..=10 in a run-dependent order (printed, so a failure can be replayed).
fn depths() -> Vec<u64> {
    let mut d: Vec<u64> = (1..=10).collect();
    common::Rng::new("reorg depths").shuffle(&mut d);
    d
}

/// Random-depth `anvil_reorg`s, each after the follower reached the head. Returns how many
/// really changed a hash, and every hash they replaced. anvil may rebuild the lowest replaced
/// block identically (same hash): only heights whose hash changed are orphaned.
async fn storm(node: &RpcClient, progress: &mut watch::Receiver<Option<u64>>) -> (u64, BTreeSet<String>) {
    let (mut changed_reorgs, mut replaced) = (0, BTreeSet::new());
    for (i, depth) in depths().into_iter().enumerate() {
        let target = head(node).await + depth + 2;
        while head(node).await < target {
            send(node, DEV0, 1).await; // automine
        }
        let h = head(node).await;
        tokio::time::timeout(Duration::from_secs(30), progress.wait_for(|p| p.is_some_and(|p| p >= h)))
            .await
            .expect("follower reaches the head")
            .unwrap();
        let mut before = Vec::new();
        for n in h + 1 - depth..=h {
            before.push(hash_at(node, n).await);
        }
        let tx = json!({"from": DEV2, "to": DEV1, "value": format!("{:#x}", 1000 + i)});
        let _: Value = node.request("anvil_reorg", (depth, vec![(tx, 0)])).await.unwrap();
        let mut changed = 0;
        for (k, n) in (h + 1 - depth..=h).enumerate() {
            if hash_at(node, n).await != before[k] {
                changed += 1;
                replaced.insert(before[k].clone());
            }
        }
        println!("reorg {i}: depth {depth} at head {h}, {changed} heights changed");
        changed_reorgs += u64::from(changed > 0);
    }
    (changed_reorgs, replaced)
}

/// Bronze minus the announced orphans, and Silver, equal the node's `canonical` chain; every
/// `replaced` hash was announced orphaned.
async fn assert_lake_is_canonical(
    cfg: &Config,
    canonical: &BTreeMap<u64, String>,
    replaced: &BTreeSet<String>,
) {
    let cancel = CancellationToken::new();
    pipeline::sink(cfg, Until::CaughtUp, &cancel).await.unwrap();
    let rows =
        |sql: &'static str| async move { pipeline::rows(&pipeline::query(cfg, sql).await.unwrap()).unwrap() };
    let orphaned: BTreeSet<String> =
        rows("SELECT unnest(orphaned_hashes) FROM bronze.chain_events WHERE kind = 'reorg'")
            .await
            .into_iter()
            .map(|r| r[0].clone())
            .collect();
    let missing: Vec<_> = replaced.difference(&orphaned).collect();
    if !missing.is_empty() {
        let sql = "SELECT number, depth, orphaned_hashes FROM bronze.chain_events WHERE kind = 'reorg' ORDER BY detected_at";
        println!("{}", pipeline::render(&pipeline::query(cfg, sql).await.unwrap()).unwrap());
    }
    assert!(missing.is_empty(), "replaced blocks never announced orphaned: {missing:?}");
    let mut published: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for r in rows("SELECT CAST(number AS VARCHAR), hash FROM bronze.blocks").await {
        if !orphaned.contains(&r[1]) {
            published.entry(r[0].parse().unwrap()).or_default().insert(r[1].clone());
        }
    }
    let expected: BTreeMap<u64, BTreeSet<String>> =
        canonical.iter().map(|(n, h)| (*n, BTreeSet::from([h.clone()]))).collect();
    assert_eq!(published, expected, "published minus orphaned = the node's canonical chain");

    pipeline::medallion(cfg).await.unwrap();
    let silver: BTreeMap<u64, String> = rows("SELECT CAST(number AS VARCHAR), hash FROM silver.blocks")
        .await
        .into_iter()
        .map(|r| (r[0].parse().unwrap(), r[1].clone()))
        .collect();
    assert_eq!(&silver, canonical, "Silver is the canonical chain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_heals_random_reorgs() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("reorg", dir.path().to_str().unwrap());
    let anvil = common::anvil(&cfg, &[]).await;
    cfg.rpc.url = anvil.url();
    cfg.rpc.poll_interval = Duration::from_millis(20);
    let node = ClientBuilder::default().http(anvil.url().parse().unwrap());
    let crawler = pipeline::connect(&cfg).await.unwrap();
    let mut progress = crawler.published();
    let (stop_tx, stop_rx) = watch::channel(None);
    let cancel = CancellationToken::new();
    let follower = {
        let (crawler, cancel) = (crawler.clone(), cancel.clone());
        tokio::spawn(async move { crawler.follow(0, stop_rx, Duration::from_millis(20), 4, &cancel).await })
    };

    let (changed_reorgs, replaced) = storm(&node, &mut progress).await;
    let final_head = head(&node).await + 1;
    while head(&node).await < final_head {
        send(&node, DEV0, 1).await; // a new block reveals the last reorg
    }
    stop_tx.send(Some(final_head)).unwrap();
    let stats = tokio::time::timeout(Duration::from_secs(60), follower).await.unwrap().unwrap().unwrap();
    assert!(changed_reorgs >= 8, "the test really reorganised the chain");
    // The follower may also see anvil mid-reorg and announce that transient branch: at least
    // every real reorg is announced, and no more reorgs than anvil performed steps.
    assert!(
        stats.reorgs >= 1 && stats.reorgs <= 2 * changed_reorgs,
        "reorgs {} for {changed_reorgs}",
        stats.reorgs
    );

    // Compare up to what the follower published (>= the stop height; a send may mine late).
    let last = stats.last_block.unwrap();
    assert!(last >= final_head && head(&node).await >= last);
    let mut canonical = BTreeMap::new();
    for n in 0..=last {
        canonical.insert(n, hash_at(&node, n).await);
    }
    assert_lake_is_canonical(&cfg, &canonical, &replaced).await;
    anvil.stop().await;
}
