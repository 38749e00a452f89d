//! Silver's canonical chain comes from the follower's publication order, whatever the reorg
//! sequence and the crash point, against real anvil, tansu, Redis and a lake:
//! - a storm of ≥ 100 reorgs of depth 1–10 on anvil, fired while the follower is mid-block,
//!   including A → B → A flips within a second: the follower reads through a front that
//!   switches from node A to a node B forked from A below its head (a longer branch B), then
//!   back to A, so the very same A hashes come back — Silver equals A at every height;
//! - a follower that dies right after Kafka acknowledged a block and before its Redis record,
//!   a reorg while it is down, and a restart — Silver equals the node.

use crate::common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::proxy::Proxy;
use alloy::rpc::client::{ClientBuilder, RpcClient};
use chainlake::config::Config;
use chainlake::pipeline;
use chainlake_ingest::crawl::window_store::WindowStore;
use chainlake_ingest::crawl::Crawler;
use chainlake_ingest::publish::Publisher;
use chainlake_ingest::rpc::providers::Providers;
use chainlake_ingest::source::RecordSink;
use chainlake_medallion::bronze::Until;
use chainlake_wire::{BlockBundle, ChainEventRecord, UnverifiedRecord};
use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::common::node::{head, reorg, send, DEV0};

async fn mine(c: &RpcClient, n: u64) {
    for _ in 0..n {
        send(c, DEV0, 1).await; // automine
    }
}

fn setup(cfg: &mut Config, anvil: &chainlake_ingest::devnet::Anvil) -> RpcClient {
    cfg.rpc.url = anvil.url();
    cfg.rpc.poll_interval = Duration::from_millis(10);
    cfg.chain.reorg_window = 64;
    ClientBuilder::default().http(anvil.url().parse().unwrap())
}

// `CHAINLAKE_TEST_LOG=path` writes the follower's debug log there (to replay a seed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silver_equals_the_node_after_a_reorg_storm() {
    if let Ok(path) = std::env::var("CHAINLAKE_TEST_LOG") {
        let file = std::fs::File::create(path).unwrap();
        let _ = tracing_subscriber::fmt()
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(false)
            .with_env_filter("chainlake_ingest=debug")
            .try_init();
    }
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("reorg-storm", dir.path().to_str().unwrap());
    let anvil = common::anvil(&cfg, &[]).await;
    let node = setup(&mut cfg, &anvil);
    mine(&node, 12).await;
    let front = Proxy::start(&anvil.url()).await;
    cfg.rpc.url = front.url.clone();
    let crawler = pipeline::connect(&cfg).await.unwrap();
    let mut progress = crawler.published();
    let (stop_tx, stop_rx) = watch::channel(None);
    let cancel = CancellationToken::new();
    let follower = {
        let (crawler, cancel) = (crawler.clone(), cancel.clone());
        tokio::spawn(async move { crawler.follow(0, stop_rx, Duration::from_millis(10), 4, &cancel).await })
    };

    let mut rng = common::Rng::new("reorg storm");
    let (mut reorgs, mut flips) = (0, 0);
    for i in 0..110u64 {
        let depth = 1 + rng.below(10);
        if head(&node).await < depth + 2 {
            mine(&node, depth + 2).await;
        }
        if i % 8 == 0 {
            flip(&cfg, &front, &node, &anvil.url(), depth, &mut rng).await;
            flips += 1;
        } else {
            reorg(&node, depth, i).await;
        }
        reorgs += 1;
        mine(&node, rng.below(3)).await; // the follower is mid-block more often than not
        if rng.below(3) == 0 {
            let h = head(&node).await;
            let caught = progress.wait_for(|p| p.is_some_and(|p| p >= h));
            tokio::time::timeout(Duration::from_secs(30), caught)
                .await
                .expect("follower reaches the head")
                .unwrap();
        }
    }
    mine(&node, 1).await; // a new block reveals the last reorg
    let final_head = head(&node).await;
    stop_tx.send(Some(final_head)).unwrap();
    let stats = tokio::time::timeout(Duration::from_secs(120), follower).await.unwrap().unwrap().unwrap();
    println!(
        "{reorgs} reorgs ({flips} A→B→A flips); follower healed {} and published {}",
        stats.reorgs, stats.blocks
    );
    assert!(reorgs >= 100 && flips >= 10);

    let last = stats.last_block.unwrap();
    let canonical = common::node::chain(&node, last).await;
    anvil.stop().await;
    pipeline::sink(&cfg, Until::CaughtUp, &CancellationToken::new()).await.unwrap();
    let (missing, wrong) = common::chain_diff(&canonical, &common::silver_blocks(&cfg).await);
    assert!(missing.is_empty() && wrong.is_empty(), "Silver vs node: missing {missing:?}, orphans {wrong:?}");
}

/// A → B → A: node B is forked from A `depth` below A's head and grows one block past it; the
/// front serves B for 0–300 ms (sometimes long enough for the follower to publish B), then A
/// again, which then grows past B. A's hashes are the same ones as before the flip.
async fn flip(cfg: &Config, front: &Proxy, a: &RpcClient, a_url: &str, depth: u64, rng: &mut common::Rng) {
    let h = head(a).await;
    let fork_at = (h - depth).to_string();
    let b = common::anvil(cfg, &["--fork-url", a_url, "--fork-block-number", &fork_at]).await;
    let b_node = ClientBuilder::default().http(b.url().parse().unwrap());
    let _: Value = b_node.request("anvil_mine", (format!("{:#x}", depth + 1),)).await.unwrap();
    front.switch_to(&b.url());
    tokio::time::sleep(Duration::from_millis(rng.below(300))).await;
    front.switch_to(a_url);
    mine(a, 2).await; // A is the longest chain again
    b.stop().await;
}

/// Kafka acknowledges block `crash_at`, then the follower "dies" before its Redis record.
#[derive(Clone)]
struct CrashAfterAck {
    inner: Publisher,
    crash_at: Arc<AtomicU64>,
}

impl RecordSink for CrashAfterAck {
    async fn publish(&self, bundle: &BlockBundle) -> chainlake_ingest::Result<()> {
        self.inner.publish(bundle).await?;
        if bundle.block.number == self.crash_at.load(Ordering::Relaxed) {
            return Err(chainlake_ingest::Error::Cancelled { chain: "crash between ack and record".into() });
        }
        Ok(())
    }

    async fn publish_event(&self, event: &ChainEventRecord) -> chainlake_ingest::Result<()> {
        self.inner.publish_event(event).await
    }

    async fn publish_unverified(&self, record: &UnverifiedRecord) -> chainlake_ingest::Result<()> {
        self.inner.publish_unverified(record).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silver_equals_the_node_after_a_crash_between_ack_and_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("ack-crash", dir.path().to_str().unwrap());
    cfg.sink.consumer_group = false;
    let anvil = common::anvil(&cfg, &[]).await;
    let node = setup(&mut cfg, &anvil);
    mine(&node, 10).await;
    // The first life: crashes right after block 10 was acknowledged.
    let _ = pipeline::connect(&cfg).await.unwrap(); // creates the topics
    let store = || WindowStore::connect(&cfg.redis.url, &cfg.kafka.topic_prefix, &cfg.chain.name);
    let rpc = Providers::new(&cfg.chain.name, &cfg.rpc).unwrap();
    let sink = CrashAfterAck {
        inner: Publisher::new(&cfg.kafka, &cfg.chain.name).unwrap(),
        crash_at: Arc::new(AtomicU64::new(10)),
    };
    let first = Crawler::new(rpc, sink, cfg.chain.confirmations, cfg.chain.reorg_window)
        .with_store(store().await.unwrap());
    let (_tx, stop) = watch::channel(Some(10));
    let died = first.follow(0, stop, Duration::from_millis(10), 1, &CancellationToken::new()).await;
    assert!(died.is_err(), "the first life dies after the ack of block 10");
    assert_eq!(first.resume_height().await.unwrap(), Some(10), "block 10 was never recorded");

    // While it is down the node replaces 8..=10 by a shorter-lived branch, then moves on.
    reorg(&node, 3, 1).await;
    mine(&node, 2).await;
    let second = pipeline::connect(&cfg).await.unwrap();
    let from = second.resume_height().await.unwrap().unwrap();
    let h = head(&node).await;
    let (_tx, stop) = watch::channel(Some(h));
    second.follow(from, stop, Duration::from_millis(10), 4, &CancellationToken::new()).await.unwrap();
    let canonical = common::node::chain(&node, h).await;
    anvil.stop().await;

    // Arrival order no longer matters (medallion/tests/golden_sql.rs sinks a backlog in
    // reverse); here the whole backlog is sunk at once, partitions interleaved.
    pipeline::sink(&cfg, Until::CaughtUp, &CancellationToken::new()).await.unwrap();
    assert_eq!(common::silver_blocks(&cfg).await, canonical, "Silver equals the node");
}
