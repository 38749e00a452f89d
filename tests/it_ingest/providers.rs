//! Provider handling against a real anvil: the receipts fallback for providers without
//! `eth_getBlockReceipts`, failover and demotion of stale or failing providers, and head
//! following over `newHeads` WebSocket (with polling when the WebSocket is unavailable). Where
//! only the provider side matters, the crawler publishes into ingest's in-process `MemorySink`
//! (feature `test-utils`).

use crate::common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::common::proxy::Proxy;
use alloy::rpc::client::{ClientBuilder, RpcClient};
use chainlake::config::Config;
use chainlake::pipeline;
use chainlake_ingest::config::ProviderConfig;
use chainlake_ingest::crawl::transform::transform_block;
use chainlake_ingest::crawl::Crawler;
use chainlake_ingest::devnet::{bulk, Anvil, Artifacts};
use chainlake_ingest::rpc::client::{ReceiptsMode, RpcSource};
use chainlake_ingest::test_utils::sink::MemorySink;
use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

fn client(url: &str) -> RpcClient {
    ClientBuilder::default().http(url.parse().unwrap())
}

async fn mine(anvil: &Anvil, blocks: u64) {
    let _: Value = client(&anvil.url()).request("anvil_mine", (format!("{blocks:#x}"),)).await.unwrap();
}

fn provider(url: &str, name: &str) -> ProviderConfig {
    ProviderConfig { url: url.into(), pseudonym: name.into(), ws_url: String::new() }
}

fn fast(cfg: &mut Config) {
    cfg.rpc.max_retries = 0;
    cfg.rpc.poll_interval = Duration::from_millis(20);
    cfg.rpc.head_check_interval = Duration::ZERO;
    cfg.rpc.max_head_lag_blocks = 2;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_fall_back_to_batches_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("receipts", dir.path().to_str().unwrap());
    cfg.rpc.receipts_batch_size = 7;
    let anvil = common::anvil(&cfg, &[]).await;
    let artifacts = Artifacts::load(&cfg.devnet.artifacts_dir()).unwrap();
    let chain = bulk::fill(&anvil.url(), &artifacts, 6, 30).await.unwrap();
    let proxy = Proxy::start(&anvil.url()).await;
    proxy.behaviour.no_block_receipts.store(true, Ordering::Relaxed);

    let direct = RpcSource::new("devnet", &provider(&anvil.url(), "direct"), &cfg.rpc).unwrap();
    let weak = RpcSource::new("devnet", &provider(&proxy.url, "no-block-receipts"), &cfg.rpc).unwrap();
    let mut txs = 0;
    for n in chain.first_block..=chain.last_block {
        let a = direct.fetch_block(n).await.unwrap();
        let b = weak.fetch_block(n).await.unwrap();
        let (a, b) = (
            transform_block("devnet", &a.block, Some(&a.receipts)).unwrap(),
            transform_block("devnet", &b.block, Some(&b.receipts)).unwrap(),
        );
        assert_eq!(a, b, "block {n}: batched receipts give the same records");
        assert!(b.txs.iter().all(|t| t.has_receipt) && !b.logs.is_empty());
        txs += b.txs.len() as u64;
    }
    let blocks = chain.last_block - chain.first_block + 1;
    assert_eq!(weak.receipts_mode(), ReceiptsMode::PerTxBatch);
    assert_eq!(direct.receipts_mode(), ReceiptsMode::BlockReceipts);
    assert_eq!(proxy.calls("eth_getBlockReceipts"), 1, "detected once, then remembered");
    assert_eq!(proxy.calls("eth_getTransactionReceipt"), txs);
    // Per block: the block, then ⌈30 / 7⌉ = 5 batches; plus the one refused call.
    assert_eq!(weak.requests(), blocks * (1 + 5) + 1);
    assert_eq!(direct.requests(), blocks * 2);
    anvil.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_provider_is_demoted_and_follow_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("stale", dir.path().to_str().unwrap());
    fast(&mut cfg);
    let anvil = common::anvil(&cfg, &[]).await;
    mine(&anvil, 20).await;
    let stale = Proxy::start(&anvil.url()).await;
    stale.behaviour.frozen_head.store(6, Ordering::Relaxed); // says its head is 5
    cfg.rpc.set_primary(stale.url.clone(), "stale-node".into(), String::new());
    cfg.rpc.fallbacks = vec![provider(&anvil.url(), "healthy-node")];

    let crawler = pipeline::connect(&cfg).await.unwrap();
    let (_tx, stop) = watch::channel(Some(20));
    let cancel = CancellationToken::new();
    let stats = tokio::time::timeout(
        Duration::from_secs(60),
        crawler.follow(0, stop, cfg.rpc.poll_interval, 4, &cancel),
    )
    .await
    .expect("follow finished")
    .unwrap();
    assert_eq!(stats.blocks, 21, "every height 0..=20 published once");
    assert_eq!(crawler.rpc().active().provider(), "healthy-node");
    anvil.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_provider_is_demoted_and_backfill_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("failing", dir.path().to_str().unwrap());
    fast(&mut cfg);
    let anvil = common::anvil(&cfg, &[]).await;
    mine(&anvil, 30).await;
    // Nothing listens on port 9 (discard): every call fails at once.
    cfg.rpc.set_primary("http://127.0.0.1:9/v3/SECRET".into(), "dead-node".into(), String::new());
    cfg.rpc.fallbacks = vec![provider(&anvil.url(), "healthy-node")];

    // The real providers, and a sink that remembers what the crawler published, in order.
    let cancel = CancellationToken::new();
    let rpc = chainlake::keys::providers(&cfg, &cancel).await.unwrap();
    let sink = MemorySink::default();
    let crawler = Crawler::new(rpc, sink.clone(), cfg.chain.confirmations, cfg.chain.reorg_window);
    let stats = crawler.backfill(0, 30, 4, &cancel).await.unwrap();
    assert_eq!(stats.blocks, 31);
    assert_eq!(sink.heights(), (0..=30).collect::<Vec<u64>>(), "every height once, in order");
    assert_eq!(crawler.rpc().active().provider(), "healthy-node");
    // Demoted after max-failures calls (2 requests each, 4 in flight), plus the chain id check.
    let dead = crawler.rpc().sources()[0].requests();
    assert!(dead <= 2 * (u64::from(cfg.rpc.max_failures) + 4) + 1, "{dead} requests to the dead node");
    anvil.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_new_heads_over_websocket_without_polling() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("ws", dir.path().to_str().unwrap());
    let anvil = common::anvil(&cfg, &[]).await;
    let http = Proxy::start(&anvil.url()).await; // counts the HTTP methods
    cfg.rpc.set_primary(http.url.clone(), "anvil-ws".into(), anvil.ws_url());
    cfg.rpc.poll_interval = Duration::from_secs(3600); // only newHeads can move the follower

    let crawler = pipeline::connect(&cfg).await.unwrap();
    let (stop_tx, stop) = watch::channel(None);
    let cancel = CancellationToken::new();
    let follower = {
        let (crawler, cancel) = (crawler.clone(), cancel.clone());
        tokio::spawn(async move { crawler.follow(0, stop, Duration::from_secs(3600), 4, &cancel).await })
    };
    let published = crawler.published();
    for n in 1..=10u64 {
        let _: Value = client(&anvil.url()).request_noparams("evm_mine").await.unwrap();
        let what = format!("block {n} followed");
        common::eventually(&what, Duration::from_secs(60), || async {
            (published.borrow().unwrap_or(0) >= n).then_some(())
        })
        .await;
    }
    stop_tx.send(Some(10)).unwrap();
    let stats = tokio::time::timeout(Duration::from_secs(30), follower).await.unwrap().unwrap().unwrap();
    assert_eq!(stats.blocks, 11);
    assert!(
        http.calls("eth_blockNumber") <= 2,
        "heads came over WebSocket: {}",
        http.calls("eth_blockNumber")
    );
    anvil.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_websocket_falls_back_to_polling() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("ws-down", dir.path().to_str().unwrap());
    let anvil = common::anvil(&cfg, &[]).await;
    mine(&anvil, 5).await;
    cfg.rpc.set_primary(anvil.url(), "anvil".into(), "ws://127.0.0.1:9".into());
    cfg.rpc.poll_interval = Duration::from_millis(20);
    let crawler = pipeline::connect(&cfg).await.unwrap();
    let (_tx, stop) = watch::channel(Some(5));
    let stats = tokio::time::timeout(
        Duration::from_secs(60),
        crawler.follow(0, stop, cfg.rpc.poll_interval, 4, &CancellationToken::new()),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(stats.blocks, 6);
    anvil.stop().await;
}
