//! kill -9 the follower (the real binary) at random moments while anvil mines; each restart
//! resumes from the canonical window persisted in Redis. Afterwards no height is missing and
//! every height published more than once carries the same block (same key). With reorgs while
//! it runs and while it is down (any crash point: before, between or after the Kafka ack and
//! the Redis record), and the backlog then sunk partition by partition, Silver equals the node.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::Duration;

use chainlake::config::Config;
use chainlake::pipeline;
use chainlake_medallion::bronze::{BronzeSink, Until};
use chainlake_medallion::lake::Lake;
use chainlake_wire::{TopicPartition, Topics};
use tokio_util::sync::CancellationToken;

use crate::common::node::{client, head, reorg, send, DEV0};

fn follower(cfg: &Config, from_zero: bool) -> common::Reaped {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chainlake"));
    cmd.args(["ingest", "follow"]);
    if from_zero {
        cmd.args(["--from", "0"]);
    }
    let child = cmd
        .env("CHAINLAKE__RPC__URL", &cfg.rpc.url)
        .env("CHAINLAKE__RPC__POLL_INTERVAL", "50ms")
        .env("CHAINLAKE__KAFKA__BROKERS", &cfg.kafka.brokers)
        .env("CHAINLAKE__KAFKA__TOPIC_PREFIX", &cfg.kafka.topic_prefix)
        .env("CHAINLAKE__REDIS__URL", &cfg.redis.url)
        .env("CHAINLAKE__METRICS__LISTEN", "")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::Reaped::new(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("crash", dir.path().to_str().unwrap());
    let anvil = common::anvil(&cfg, &["--block-time", "0.2"]).await;
    cfg.rpc.url = anvil.url();
    let crawler = pipeline::connect(&cfg).await.unwrap(); // same Redis window as the binary

    let mut rng = common::Rng::new("follower_survives_kill_9");
    let mut tip = 0;
    for round in 0..6 {
        let mut child = follower(&cfg, round == 0);
        let target = tip + 2 + rng.below(6);
        let what = format!("follower progress in round {round}");
        tip = common::eventually(&what, Duration::from_secs(30), || async {
            let now = crawler.resume_height().await.unwrap().unwrap_or(0);
            (now >= target).then_some(now)
        })
        .await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }

    // A last run in process, to the current head, from where the killed one stopped.
    let head = crawler.rpc().head().await.unwrap();
    let from = crawler.resume_height().await.unwrap().unwrap();
    let (_stop_tx, stop_rx) = tokio::sync::watch::channel(Some(head));
    let cancel = CancellationToken::new();
    crawler.follow(from, stop_rx, Duration::from_millis(20), 4, &cancel).await.unwrap();
    anvil.stop().await;

    pipeline::sink(&cfg, Until::CaughtUp, &cancel).await.unwrap();
    let rows = pipeline::rows(
        &pipeline::query(&cfg, "SELECT CAST(number AS VARCHAR), hash, _kafka_key FROM bronze.blocks")
            .await
            .unwrap(),
    )
    .unwrap();
    let mut by_height: BTreeMap<u64, BTreeSet<(String, String)>> = BTreeMap::new();
    for r in &rows {
        by_height.entry(r[0].parse().unwrap()).or_default().insert((r[1].clone(), r[2].clone()));
    }
    let heights: BTreeSet<u64> = by_height.keys().copied().collect();
    // The node mines on while the last run reads its head again: it may end a block or two past.
    let last = heights.last().copied().unwrap_or(0).max(head);
    assert_eq!(heights, (0..=last).collect::<BTreeSet<_>>(), "no height missing");
    for (n, versions) in &by_height {
        assert_eq!(versions.len(), 1, "height {n} published with different blocks or keys: {versions:?}");
        let (hash, key) = versions.iter().next().unwrap();
        assert_eq!(hash, key, "the key of a block record is its hash");
    }
    println!("{} rows for {} heights after 6 kill -9", rows.len(), heights.len());
}

/// kill -9 storms with reorgs: the binary follows an automining anvil that reorgs (depth 1–4)
/// while it runs and while it is down; after the last restart Silver equals the node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silver_equals_the_node_after_kill_9_and_reorgs_while_down() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("crash-reorg", dir.path().to_str().unwrap());
    cfg.sink.consumer_group = false;
    let anvil = common::anvil(&cfg, &[]).await;
    cfg.rpc.url = anvil.url();
    let node = client(&anvil.url());
    for _ in 0..6 {
        send(&node, DEV0, 1).await;
    }
    let crawler = pipeline::connect(&cfg).await.unwrap(); // same Redis window as the binary
    let mut rng = common::Rng::new("silver_equals_the_node_after_kill_9_and_reorgs_while_down");
    for round in 0..8u64 {
        let mut child = follower(&cfg, round == 0);
        for _ in 0..1 + rng.below(4) {
            send(&node, DEV0, 1).await;
        }
        if rng.below(2) == 0 {
            reorg(&node, 1 + rng.below(4), 100 + round).await; // while it runs
        }
        let target = head(&node).await.saturating_sub(rng.below(3));
        let what = format!("follower progress in round {round}");
        common::eventually(&what, Duration::from_secs(30), || async {
            let now = crawler.resume_height().await.unwrap().unwrap_or(0);
            (now >= target).then_some(now)
        })
        .await;
        child.kill().unwrap(); // SIGKILL, wherever it is
        child.wait().unwrap();
        println!("round {round}: killed at node head {}", head(&node).await);
        reorg(&node, 1 + rng.below(4), round).await; // while it is down
        send(&node, DEV0, 1).await;
    }
    let tip = head(&node).await;
    let from = crawler.resume_height().await.unwrap().unwrap();
    println!("after 8 kill -9s: node head {tip}, the follower resumes at {from}");
    let (_stop_tx, stop_rx) = tokio::sync::watch::channel(Some(tip));
    let cancel = CancellationToken::new();
    crawler.follow(from, stop_rx, Duration::from_millis(20), 4, &cancel).await.unwrap();
    let canonical = common::node::chain(&node, tip).await;
    anvil.stop().await;

    // The backlog lands partition by partition, last partition first: arrival order is then
    // far from publication order (Silver orders by the follower's seq).
    let sink =
        BronzeSink::new(Lake::new(&cfg.lake).unwrap(), cfg.kafka.clone(), cfg.sink.clone(), &cfg.chain.name);
    let topics = Topics::new(&cfg.kafka.topic_prefix, &cfg.chain.name);
    for p in (0..cfg.kafka.partitions).rev() {
        let parts = topics.all().into_iter().map(|(_, t)| TopicPartition::new(t, p)).collect();
        sink.drain(parts, &cancel).await.unwrap();
    }
    let (missing, wrong) = common::chain_diff(&canonical, &common::silver_blocks(&cfg).await);
    if !wrong.is_empty() || !missing.is_empty() {
        for sql in [
            "SELECT number, hash, CAST(seq AS VARCHAR) AS s FROM bronze.blocks WHERE number >= 20 ORDER BY number, s",
            "SELECT number, depth, CAST(seq AS VARCHAR) AS s, hash FROM bronze.chain_events WHERE kind = 'reorg' ORDER BY s",
            "SELECT number, reason FROM bronze.unverified",
        ] {
            let rows = pipeline::rows(&pipeline::query(&cfg, sql).await.unwrap()).unwrap();
            println!("{sql}:\n{}", rows.iter().map(|r| r.join(" ")).collect::<Vec<_>>().join("\n"));
        }
    }
    assert!(missing.is_empty() && wrong.is_empty(), "Silver vs node: missing {missing:?}, orphans {wrong:?}");
}
