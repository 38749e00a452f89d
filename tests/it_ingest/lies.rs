//! A lie is a fault like a 502 (issue 26), against real anvil, tansu, Redis and a lake: fronts
//! between chainlake and anvil that lie plausibly (tests/common/lies.rs) — a changed header,
//! value, sender, gas or status, a dropped or removed log, swapped receipts, another height's
//! answer, an HTML page with status 200, a reset, a trickled body — beside transport faults.
//! Every height ends verified and Silver equals the node, value for value; a liar is demoted
//! and counted per reason, never believed; a bogus head and a long `Retry-After` stall nothing.

use crate::common;

use std::time::Duration;

use crate::common::proxy::Proxy;
use chainlake::config::Config;
use chainlake::pipeline;
use chainlake_ingest::config::ProviderConfig;
use chainlake_ingest::devnet::{bulk, Anvil, Artifacts};
use chainlake_medallion::bronze::Until;
use tokio_util::sync::CancellationToken;

/// A Prometheus recorder for this test binary: what the crawler counted, as text.
fn metrics() -> &'static metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    HANDLE.get_or_init(|| metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder().unwrap())
}

/// The value of the first sample of `name` whose labels contain every one of `labels`.
fn sample(name: &str, labels: &[&str]) -> f64 {
    metrics()
        .render()
        .lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn stormy(cfg: &mut Config) {
    common::stormy(cfg);
    cfg.rpc.verify_attempts = 10;
    cfg.rpc.demotion_cooldown = Duration::from_millis(300);
    cfg.holes.initial_backoff = Duration::from_millis(200);
    cfg.holes.max_backoff = Duration::from_secs(1);
    cfg.holes.backfill_wait = Duration::from_secs(60);
    cfg.backfill.chunk_size = 50;
}

fn provider(url: &str, name: &str) -> ProviderConfig {
    ProviderConfig { url: url.into(), pseudonym: name.into(), ws_url: String::new() }
}

async fn bulk_chain(cfg: &Config, blocks: u64, txs: u64) -> (Anvil, u64) {
    let anvil = common::anvil(cfg, &[]).await;
    let artifacts = Artifacts::load(&cfg.devnet.artifacts_dir()).unwrap();
    let chain = bulk::fill(&anvil.url(), &artifacts, blocks, txs).await.unwrap();
    (anvil, chain.last_block)
}

/// One provider lying about a fifth of its answers, every kind of lie, and faulting on
/// another tenth: the backfill ends with no hole, and Silver equals the node in every value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_provider_leaves_no_hole_and_no_wrong_value() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("lies", dir.path().to_str().unwrap());
    stormy(&mut cfg);
    let (anvil, last) = bulk_chain(&cfg, 200, 4).await;
    let front = Proxy::start(&anvil.url()).await;
    cfg.rpc.set_primary(front.url.clone(), "liar".into(), String::new());
    front.inject_lies("lying front", 20);
    front.inject_faults("faulty front", 10, Duration::from_secs(2));

    let report =
        pipeline::backfill_shared(&cfg, 0, last, true, false, &CancellationToken::new()).await.unwrap();
    let injected = front.injected();
    println!("injected: {injected:?}; report: {report:?}");
    assert!(report.complete && report.holes_left == 0, "backfill ends with no hole: {report:?}");
    for lie in common::lies::all() {
        assert!(injected.get(lie).copied().unwrap_or(0) > 0, "the front told {lie}");
    }
    front.calm();
    pipeline::sink(&cfg, Until::CaughtUp, &CancellationToken::new()).await.unwrap();
    let differ = common::silver_differs_from_node(&cfg, &anvil.url(), last).await;
    assert!(differ.is_empty(), "Silver differs from the node: {differ:?}");
    let lake = chainlake::verify_lake::verify_lake(&cfg, 0, last).await.unwrap();
    assert!(lake.ok(), "{lake:?}");
    anvil.stop().await;
}

/// A primary pinned to lies at several heights, an honest fallback: every height verified
/// (from the fallback where the primary lies), the liar demoted as lying and its lies counted
/// per reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_liar_is_demoted_and_never_believed() {
    metrics();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("liar", dir.path().to_str().unwrap());
    stormy(&mut cfg);
    // Demoted at its fourth lie, so it tells each kind once: lies add up between good answers.
    cfg.rpc.max_failures = 4;
    cfg.rpc.demotion_cooldown = Duration::from_secs(600);
    let (anvil, last) = bulk_chain(&cfg, 60, 4).await;
    let (liar, honest) = (Proxy::start(&anvil.url()).await, Proxy::start(&anvil.url()).await);
    cfg.rpc.set_primary(liar.url.clone(), "pinned-liar".into(), String::new());
    cfg.rpc.fallbacks = vec![provider(&honest.url, "pinned-honest")];
    for (height, lie) in
        [(10, "miner_changed"), (20, "value_changed"), (30, "from_changed"), (40, "another_block")]
    {
        liar.pin_lie(Some(vec![height]), lie);
    }
    let stats =
        pipeline::connect(&cfg).await.unwrap().backfill(0, last, 1, &CancellationToken::new()).await.unwrap();
    assert_eq!((stats.blocks, stats.unverified), (last + 1, 0), "{stats:?}");
    for reason in ["header_hash", "tx_hash", "sender", "wrong_block"] {
        let n = sample(
            "chainlake_verify_failures_total",
            &["provider=\"pinned-liar\"", &format!("reason=\"{reason}\"")],
        );
        assert!(n >= 1.0, "the liar's {reason} counted: {n}");
    }
    let demoted =
        sample("chainlake_provider_demotions_total", &["provider=\"pinned-liar\"", "reason=\"lying\""]);
    assert!(demoted >= 1.0, "the liar is demoted as lying");
    let honest_demotions = sample("chainlake_provider_demotions_total", &["provider=\"pinned-honest\""]);
    assert_eq!(honest_demotions, 0.0);
    pipeline::sink(&cfg, Until::CaughtUp, &CancellationToken::new()).await.unwrap();
    let differ = common::silver_differs_from_node(&cfg, &anvil.url(), last).await;
    assert!(differ.is_empty(), "Silver differs from the node: {differ:?}");
    anvil.stop().await;
}

/// A front answering height h + 1 for h, one changing every sender: each beside an honest
/// provider, no wrong block is published and the honest provider is never demoted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_height_or_a_changed_sender_is_never_published() {
    metrics();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("shifted", dir.path().to_str().unwrap());
    stormy(&mut cfg);
    let (anvil, last) = bulk_chain(&cfg, 30, 4).await;
    for (lie, name) in [("another_block", "shifted"), ("from_changed", "sender-changer")] {
        let (liar, honest) = (Proxy::start(&anvil.url()).await, Proxy::start(&anvil.url()).await);
        let mut cfg = cfg.clone();
        cfg.kafka.topic_prefix = format!("{}{name}.", cfg.kafka.topic_prefix);
        cfg.lake.root = format!("{}/{name}", cfg.lake.root);
        cfg.rpc.set_primary(liar.url.clone(), name.into(), String::new());
        let honest_name = format!("{name}-honest");
        cfg.rpc.fallbacks = vec![provider(&honest.url, &honest_name)];
        liar.pin_lie(None, lie);
        let stats = pipeline::connect(&cfg)
            .await
            .unwrap()
            .backfill(0, last, 2, &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!((stats.blocks, stats.unverified), (last + 1, 0), "{lie}: {stats:?}");
        let honest_demotions =
            sample("chainlake_provider_demotions_total", &[&format!("provider=\"{honest_name}\"")]);
        assert_eq!(honest_demotions, 0.0, "{lie}: the honest provider is not demoted");
        pipeline::sink(&cfg, Until::CaughtUp, &CancellationToken::new()).await.unwrap();
        let differ = common::silver_differs_from_node(&cfg, &anvil.url(), last).await;
        assert!(differ.is_empty(), "{lie}: Silver differs from the node: {differ:?}");
    }
    anvil.stop().await;
}

/// One of three providers announces a head 10,000 blocks above the others': it is demoted as
/// an outlier, no honest provider is, and the follower never asks beyond the real head.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bogus_head_from_one_of_three_is_not_the_truth() {
    metrics();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("bogus-head", dir.path().to_str().unwrap());
    stormy(&mut cfg);
    cfg.rpc.head_check_interval = Duration::from_millis(200);
    let (anvil, last) = bulk_chain(&cfg, 20, 2).await;
    let fronts = [
        Proxy::start(&anvil.url()).await,
        Proxy::start(&anvil.url()).await,
        Proxy::start(&anvil.url()).await,
    ];
    fronts[0].behaviour.head_offset.store(10_000, std::sync::atomic::Ordering::Relaxed);
    cfg.rpc.set_primary(fronts[0].url.clone(), "bogus".into(), String::new());
    cfg.rpc.fallbacks = vec![provider(&fronts[1].url, "true-1"), provider(&fronts[2].url, "true-2")];
    let crawler = pipeline::connect(&cfg).await.unwrap();
    let (_stop_tx, stop) = tokio::sync::watch::channel(Some(last));
    let stats = tokio::time::timeout(
        Duration::from_secs(120),
        crawler.follow(0, stop, Duration::from_millis(20), 4, &CancellationToken::new()),
    )
    .await
    .expect("the follower reached the real head without stalling")
    .unwrap();
    assert_eq!((stats.last_block, stats.unverified), (Some(last), 0), "{stats:?}");
    assert!(
        sample("chainlake_provider_demotions_total", &["provider=\"bogus\"", "reason=\"outlier\""]) >= 1.0
    );
    for honest in ["true-1", "true-2"] {
        assert_eq!(sample("chainlake_provider_demotions_total", &[&format!("provider=\"{honest}\"")]), 0.0);
    }
    let beyond: u64 = fronts.iter().map(|f| f.calls("eth_getBlockByNumber")).sum();
    assert!(beyond <= 3 * (last + 1) + 50, "no storm of requests beyond the head: {beyond}");
    pipeline::sink(&cfg, Until::CaughtUp, &CancellationToken::new()).await.unwrap();
    let differ = common::silver_differs_from_node(&cfg, &anvil.url(), last).await;
    assert!(differ.is_empty(), "Silver differs from the node: {differ:?}");
    anvil.stop().await;
}

/// `Retry-After: 3000` from one of two providers: the other serves at once; alone, the wait is
/// `rpc.max-retry-after`, not 50 minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_retry_after_rests_one_provider_and_stalls_nothing() {
    metrics();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("retry-after", dir.path().to_str().unwrap());
    stormy(&mut cfg);
    cfg.rpc.max_retry_after = Duration::from_secs(2);
    let (anvil, last) = bulk_chain(&cfg, 20, 2).await;
    let (resting, serving) = (Proxy::start(&anvil.url()).await, Proxy::start(&anvil.url()).await);
    cfg.rpc.set_primary(resting.url.clone(), "resting".into(), String::new());
    cfg.rpc.fallbacks = vec![provider(&serving.url, "serving")];
    let crawler = pipeline::connect(&cfg).await.unwrap();
    resting.behaviour.retry_after.store(3000, std::sync::atomic::Ordering::Relaxed);
    let before = resting.calls("eth_getBlockByNumber") + resting.calls("eth_getBlockReceipts");
    let stats = tokio::time::timeout(
        Duration::from_secs(60),
        crawler.backfill(0, last, 2, &CancellationToken::new()),
    )
    .await
    .expect("the other provider served while one rested")
    .unwrap();
    assert_eq!(stats.blocks, last + 1);
    assert_eq!(sample("chainlake_provider_demotions_total", &["provider=\"serving\""]), 0.0);
    let asked = resting.calls("eth_getBlockByNumber") + resting.calls("eth_getBlockReceipts") - before;
    assert!(asked <= 4, "the resting provider was left alone ({asked} calls)");

    // Alone: the wait is the cap, then it is asked again.
    let mut alone = cfg.clone();
    alone.rpc.fallbacks.clear();
    alone.rpc.set_primary(resting.url.clone(), "resting-alone".into(), String::new());
    resting.behaviour.retry_after.store(0, std::sync::atomic::Ordering::Relaxed);
    let crawler = pipeline::connect(&alone).await.unwrap();
    resting.behaviour.retry_after.store(3000, std::sync::atomic::Ordering::Relaxed);
    let calm = {
        let resting = resting.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            resting.behaviour.retry_after.store(0, std::sync::atomic::Ordering::Relaxed);
        })
    };
    let started = std::time::Instant::now();
    let head = tokio::time::timeout(Duration::from_secs(30), crawler.rpc().head())
        .await
        .expect("a lone provider's Retry-After is honoured up to the cap")
        .unwrap();
    calm.await.unwrap();
    assert!(head >= last);
    assert!(started.elapsed() >= Duration::from_millis(300), "the rest was honoured");
    anvil.stop().await;
}
