//! Ingest never dies and never lies, against real anvil, tansu, Redis and a lake: two fronts
//! between chainlake and anvil answer a seeded share of calls with 429/500/502, truncated or
//! garbage bodies, `null` blocks and receipts, short/long/foreign/tampered receipt lists,
//! hangs past `rpc.request-timeout` and a lagging head. A 200-block backfill and a follow
//! through them never stop; Bronze and Silver end with every height exactly once, verified,
//! equal to the node. A front that always tampers sends the block to `{chain}.unverified`
//! and never to `{chain}.blocks`.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::proxy::Proxy;
use chainlake::config::Config;
use chainlake::pipeline;
use chainlake_ingest::config::ProviderConfig;
use chainlake_ingest::devnet::{bulk, Artifacts};
use chainlake_medallion::bronze::Until;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

fn stormy(cfg: &mut Config) {
    common::stormy(cfg);
    cfg.rpc.verify_attempts = 12;
    cfg.rpc.demotion_cooldown = Duration::from_millis(200);
}

fn provider(url: &str, name: &str) -> ProviderConfig {
    ProviderConfig { url: url.into(), pseudonym: name.into(), ws_url: String::new() }
}

/// Sinks the topics, runs the medallion, and checks Bronze and Silver against the node.
async fn assert_lake_equals_node(cfg: &Config, node: &BTreeMap<u64, String>) {
    pipeline::sink(cfg, Until::CaughtUp, &CancellationToken::new()).await.unwrap();
    pipeline::medallion(cfg).await.unwrap();
    let rows =
        |sql: &'static str| async move { pipeline::rows(&pipeline::query(cfg, sql).await.unwrap()).unwrap() };
    let bronze =
        rows("SELECT CAST(number AS VARCHAR), hash, CAST(verified AS VARCHAR) FROM bronze.blocks").await;
    let mut heights: BTreeMap<u64, String> = BTreeMap::new();
    for r in &bronze {
        assert_eq!(r[2], "true", "every published block is verified: {r:?}");
        let old = heights.insert(r[0].parse().unwrap(), r[1].clone());
        assert!(old.is_none(), "height {} published twice", r[0]);
    }
    assert_eq!(&heights, node, "Bronze holds every height once, equal to the node");
    let silver: BTreeMap<u64, String> =
        rows("SELECT CAST(number AS VARCHAR), hash FROM silver.blocks WHERE verified")
            .await
            .into_iter()
            .map(|r| (r[0].parse().unwrap(), r[1].clone()))
            .collect();
    assert_eq!(&silver, node, "Silver equals the node");
    let unverified = rows("SELECT count(*) FROM bronze.unverified").await;
    assert_eq!(unverified[0][0], "0");
    // `chainlake verify` re-checks the same from the lake alone.
    let last = *node.keys().last().unwrap();
    let report = chainlake::verify_lake::verify_lake(cfg, 0, last).await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(
        (report.blocks, report.header_ok, report.complete),
        (last + 1, last + 1, last + 1),
        "{report:?}"
    );
    assert_eq!(report.flagged_verified, last + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_and_follow_survive_a_fault_storm() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("storm", dir.path().to_str().unwrap());
    stormy(&mut cfg);
    let anvil = common::anvil(&cfg, &[]).await;
    let artifacts = Artifacts::load(&cfg.devnet.artifacts_dir()).unwrap();
    let chain = bulk::fill(&anvil.url(), &artifacts, 200, 4).await.unwrap();
    let (a, b) = (Proxy::start(&anvil.url()).await, Proxy::start(&anvil.url()).await);
    cfg.rpc.set_primary(a.url.clone(), "stormy-a".into(), String::new());
    cfg.rpc.fallbacks = vec![provider(&b.url, "stormy-b")];
    let crawler = pipeline::connect(&cfg).await.unwrap();
    a.inject_faults("storm front a", 30, Duration::from_secs(2));
    b.inject_faults("storm front b", 30, Duration::from_secs(2));

    let backfill_to = chain.last_block;
    let stats = crawler.backfill(0, backfill_to, 4, &CancellationToken::new()).await.unwrap();
    assert_eq!((stats.blocks, stats.unverified), (backfill_to + 1, 0), "{stats:?}");

    // Follow on through the same storm while the chain grows by 20 blocks.
    let (stop_tx, stop) = watch::channel(None);
    let cancel = CancellationToken::new();
    let follower = {
        let (crawler, cancel) = (crawler.clone(), cancel.clone());
        tokio::spawn(async move {
            crawler.follow(backfill_to + 1, stop, Duration::from_millis(20), 4, &cancel).await
        })
    };
    let more = bulk::fill(&anvil.url(), &artifacts, 20, 2).await.unwrap();
    stop_tx.send(Some(more.last_block)).unwrap();
    let followed = tokio::time::timeout(Duration::from_secs(300), follower).await.unwrap().unwrap().unwrap();
    assert_eq!(followed.unverified, 0, "{followed:?}");

    let injected = {
        let mut all = a.injected();
        for (k, v) in b.injected() {
            *all.entry(k).or_default() += v;
        }
        all
    };
    println!("injected faults: {injected:?}");
    for fault in ["http_500", "truncated", "garbage", "null_block", "short_receipts", "hang"] {
        assert!(injected.get(fault).copied().unwrap_or(0) > 0, "the storm injected {fault}");
    }
    a.calm();
    b.calm();
    let node = common::node::chain(&common::node::client(&anvil.url()), more.last_block).await;
    assert_lake_equals_node(&cfg, &node).await;
    anvil.stop().await;
}

/// A small bulk chain backfilled through a front that tampers with every receipts answer.
async fn backfill_through_a_tamperer(
    cfg: &mut Config,
) -> (chainlake_ingest::devnet::Anvil, bulk::BulkChain, chainlake_ingest::crawl::CrawlStats) {
    let anvil = common::anvil(cfg, &[]).await;
    let artifacts = Artifacts::load(&cfg.devnet.artifacts_dir()).unwrap();
    let chain = bulk::fill(&anvil.url(), &artifacts, 3, 4).await.unwrap();
    let front = Proxy::start(&anvil.url()).await;
    cfg.rpc.set_primary(front.url.clone(), "tamperer".into(), String::new());
    let crawler = pipeline::connect(cfg).await.unwrap();
    front.behaviour.tamper_receipts.store(true, std::sync::atomic::Ordering::Relaxed);
    let stats = crawler.backfill(0, chain.last_block, 2, &CancellationToken::new()).await.unwrap();
    (anvil, chain, stats)
}

/// A provider that tampers with every receipts answer: the block is re-fetched
/// `verify-attempts` times, then kept raw in `{chain}.unverified` with its reason and roots,
/// never in `{chain}.blocks`; the backfill goes on with the next heights.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_keeps_tampering_is_never_published_as_good() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("tamper", dir.path().to_str().unwrap());
    stormy(&mut cfg);
    cfg.rpc.verify_attempts = 3;
    let (anvil, chain, stats) = backfill_through_a_tamperer(&mut cfg).await;
    // Blocks with transactions cannot be proven; empty ones (no receipts to tamper) can.
    assert!(stats.unverified >= 3, "{stats:?}");
    assert_eq!(stats.blocks + stats.unverified, chain.last_block + 1);
    pipeline::sink(&cfg, Until::CaughtUp, &CancellationToken::new()).await.unwrap();
    let rows = pipeline::rows(
        &pipeline::query(
            &cfg,
            "SELECT number, reason, attempts, expected IS NOT NULL FROM bronze.unverified ORDER BY number",
        )
        .await
        .unwrap(),
    )
    .unwrap();
    assert_eq!(rows.len() as u64, stats.unverified);
    for r in &rows {
        assert_eq!((r[1].as_str(), r[2].as_str(), r[3].as_str()), ("receipts_root", "3", "true"), "{r:?}");
    }
    let good = pipeline::rows(
        &pipeline::query(
            &cfg,
            "SELECT b.number FROM bronze.blocks b JOIN bronze.unverified u ON b.number = u.number",
        )
        .await
        .unwrap(),
    )
    .unwrap();
    assert!(good.is_empty(), "an unverified block reached {{chain}}.blocks: {good:?}");
    // `chainlake verify` names the heights Bronze lacks, with the reason of their answers.
    let report = chainlake::verify_lake::verify_lake(&cfg, 0, chain.last_block).await.unwrap();
    assert!(!report.ok());
    assert_eq!(report.hole_heights().count() as u64, stats.unverified, "{report:?}");
    assert!(report.holes.iter().all(|h| h.reason.contains("unverified (receipts_root")), "{report:?}");
    assert_eq!(report.header_ok, stats.blocks, "{report:?}");
    anvil.stop().await;
}

/// `chain.verify = warn` (for chains whose blocks cannot be proven): the same tampering
/// provider's blocks are published after the last attempt, flagged `verified = false` in
/// Bronze and Silver, and nothing goes to `{chain}.unverified`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_verify_warn_unproven_blocks_are_published_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("tamper-warn", dir.path().to_str().unwrap());
    stormy(&mut cfg);
    cfg.rpc.verify_attempts = 2;
    cfg.chain.verify = chainlake_ingest::config::VerifyMode::Warn;
    let (anvil, chain, stats) = backfill_through_a_tamperer(&mut cfg).await;
    assert_eq!((stats.unverified, stats.blocks), (0, chain.last_block + 1), "{stats:?}");
    pipeline::sink(&cfg, Until::CaughtUp, &CancellationToken::new()).await.unwrap();
    pipeline::medallion(&cfg).await.unwrap();
    // Blocks with transactions carry tampered receipts: unproven; empty blocks verify.
    let expected =
        vec![vec!["false".to_owned(), "true".to_owned()], vec!["true".to_owned(), "false".to_owned()]];
    for table in ["bronze.blocks", "silver.blocks"] {
        let sql = format!(
            "SELECT CAST(verified AS VARCHAR), CAST(tx_count > 0 AS VARCHAR) FROM {table} GROUP BY 1, 2 ORDER BY 1"
        );
        let flags = pipeline::rows(&pipeline::query(&cfg, &sql).await.unwrap()).unwrap();
        assert_eq!(flags, expected, "{table}: (verified, has txs)");
    }
    anvil.stop().await;
}
