//! One canonical rule for backfill and follower (issue 26), against real anvil, tansu, Redis and
//! a lake: a follower and a backfill publish the same heights while `anvil_reorg` replaces
//! them, in both orders — the backfill's stale answers (fetched before a reorg, held by the front,
//! published after the follower healed) after the follower's blocks, and a backfill's
//! pre-reorg blocks before the follower's — each restarted once: Silver equals the node, no
//! orphan is canonical.

use crate::common;

use std::time::Duration;

use crate::common::node;
use crate::common::proxy::Proxy;
use chainlake::config::Config;
use chainlake::pipeline;
use chainlake_ingest::crawl::window_store::WindowStore;
use chainlake_ingest::crawl::CrawlStats;
use chainlake_ingest::devnet::Anvil;
use chainlake_medallion::bronze::Until;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

type Follower = (CancellationToken, JoinHandle<chainlake::pipeline::Result<CrawlStats>>);

fn start_follower(cfg: &Config) -> Follower {
    let cancel = CancellationToken::new();
    let task = {
        let (cfg, cancel) = (cfg.clone(), cancel.clone());
        tokio::spawn(async move { pipeline::follow(&cfg, Some(0), &cancel).await })
    };
    (cancel, task)
}

async fn stop_follower((cancel, task): Follower) {
    cancel.cancel();
    task.await.unwrap().unwrap();
}

/// Waits until the follower's persisted tip is the node's head block.
async fn follower_caught_up(cfg: &Config, anvil: &Anvil) {
    let c = node::client(&anvil.url());
    let store = WindowStore::connect(&cfg.redis.url, &cfg.kafka.topic_prefix, &cfg.chain.name).await.unwrap();
    common::eventually("the follower published the node's head", Duration::from_secs(60), || {
        let (c, store) = (&c, &store);
        async move {
            let head = node::head(c).await;
            let window = store.load(cfg.chain.reorg_window).await.unwrap();
            let node_hash = node::hash_at(c, head).await;
            (window.tip() == Some(head) && window.hash_at(head).map(|h| h.to_string()) == Some(node_hash))
                .then_some(())
        }
    })
    .await;
}

async fn setup(name: &str, dir: &tempfile::TempDir) -> (Config, Anvil) {
    let mut cfg = common::test_config(name, dir.path().to_str().unwrap());
    cfg.rpc.poll_interval = Duration::from_millis(20);
    cfg.rpc.max_retries = 0;
    cfg.rpc.initial_backoff = Duration::from_millis(10);
    cfg.rpc.max_backoff = Duration::from_millis(50);
    cfg.holes.initial_backoff = Duration::from_millis(100);
    cfg.holes.backfill_wait = Duration::from_secs(20);
    let anvil = common::anvil(&cfg, &[]).await;
    cfg.rpc.url = anvil.url();
    let c = node::client(&anvil.url());
    for v in 1..=12 {
        node::send(&c, node::DEV0, v).await;
    }
    (cfg, anvil)
}

async fn backfill(cfg: &Config, from: u64, to: u64) {
    let r = pipeline::backfill_shared(cfg, from, to, true, false, &CancellationToken::new()).await.unwrap();
    assert!(r.complete, "{r:?}");
}

/// Blocks the backfill published that are not on the node's chain, each after (a larger `seq`
/// than) every block the follower published.
async fn orphans_published_late(cfg: &Config, anvil: &Anvil) -> usize {
    let c = node::client(&anvil.url());
    let canonical = node::chain(&c, node::head(&c).await).await;
    pipeline::sink(cfg, Until::CaughtUp, &CancellationToken::new()).await.unwrap();
    let sql = "SELECT hash, CAST(seq > (SELECT max(seq) FROM bronze.blocks WHERE publisher = 'follow') AS VARCHAR) \
               FROM bronze.blocks WHERE publisher = 'backfill'";
    let rows = pipeline::rows(&pipeline::query(cfg, sql).await.unwrap()).unwrap();
    rows.iter().filter(|r| !canonical.values().any(|h| *h == r[0]) && r[1] == "true").count()
}

async fn assert_silver_is_the_node(cfg: &Config, anvil: &Anvil) {
    let head = node::head(&node::client(&anvil.url())).await;
    pipeline::sink(cfg, Until::CaughtUp, &CancellationToken::new()).await.unwrap();
    let differ = common::silver_differs_from_node(cfg, &anvil.url(), head).await;
    assert!(differ.is_empty(), "Silver differs from the node: {differ:?}");
    let lake = chainlake::verify_lake::verify_lake(cfg, 0, head).await.unwrap();
    assert!(lake.ok(), "{lake:?}");
}

/// The follower first; a backfill's answers fetched before a reorg reach Kafka after the
/// follower published the new branch. Then each restarted, with another reorg.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_backfill_answers_after_the_follower_never_become_canonical() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, anvil) = setup("race-stale", &dir).await;
    let c = node::client(&anvil.url());
    let follower = start_follower(&cfg);
    follower_caught_up(&cfg, &anvil).await;

    // A backfill of the top heights through a front that holds its (pre-reorg) answers.
    let head = node::head(&c).await;
    let front = Proxy::start(&anvil.url()).await;
    front.behaviour.hold.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut stale_cfg = cfg.clone();
    stale_cfg.rpc.url = front.url.clone();
    stale_cfg.rpc.concurrency = 8;
    let stale = tokio::spawn(async move { backfill(&stale_cfg, head - 5, head).await });
    common::eventually("the backfill asked for every height", Duration::from_secs(30), || async {
        (front.calls("eth_getBlockReceipts") >= 6).then_some(())
    })
    .await;
    node::reorg(&c, 4, 1).await;
    node::send(&c, node::DEV0, 100).await;
    follower_caught_up(&cfg, &anvil).await;
    front.release();
    stale.await.unwrap();
    // The race happened: the backfill published orphans after the follower's new branch.
    let orphans = orphans_published_late(&cfg, &anvil).await;
    assert!(orphans >= 1, "the backfill published {orphans} stale blocks after the follower");

    // Restart both, with another reorg in between.
    stop_follower(follower).await;
    node::reorg(&c, 2, 2).await;
    let follower = start_follower(&cfg);
    backfill(&cfg, 0, node::head(&c).await).await;
    node::send(&c, node::DEV0, 101).await;
    follower_caught_up(&cfg, &anvil).await;
    stop_follower(follower).await;
    assert_silver_is_the_node(&cfg, &anvil).await;
    anvil.stop().await;
}

/// The backfill first, before reorgs; the follower after, from genesis. Then each restarted,
/// with another reorg in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_before_reorgs_and_a_follower_after_end_on_the_node_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, anvil) = setup("race-first", &dir).await;
    let c = node::client(&anvil.url());
    backfill(&cfg, 0, node::head(&c).await).await;
    node::reorg(&c, 4, 3).await;
    let follower = start_follower(&cfg);
    follower_caught_up(&cfg, &anvil).await;
    stop_follower(follower).await;

    node::reorg(&c, 3, 4).await;
    backfill(&cfg, 0, node::head(&c).await).await;
    node::reorg(&c, 2, 5).await;
    let follower = start_follower(&cfg);
    node::send(&c, node::DEV0, 102).await;
    follower_caught_up(&cfg, &anvil).await;
    stop_follower(follower).await;
    assert_silver_is_the_node(&cfg, &anvil).await;
    anvil.stop().await;
}
