//! Two `chainlake ingest backfill` processes (the real binary) share one range of 2,000+
//! blocks through Redis leases: the union of what they published holds every block exactly
//! once. A worker killed with -9 leaves its chunk to the other, which resumes it from the
//! checkpoint once the lease expires: no block missing.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use alloy::rpc::client::ClientBuilder;
use chainlake::config::Config;
use chainlake::pipeline;
use chainlake_ingest::crawl::backfill::ChunkLeases;
use chainlake_ingest::devnet::{bulk, Anvil, Artifacts};
use chainlake_medallion::bronze::Until;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

fn backfill(cfg: &Config, to: u64, extra_env: &[(&str, &str)]) -> common::Reaped {
    let mut cmd = common::backfill_command(cfg, to, 100);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    common::Reaped::new(cmd.spawn().unwrap())
}

async fn chain(cfg: &mut Config, empty_blocks: u64) -> (Anvil, u64) {
    let anvil = common::anvil(cfg, &[]).await;
    cfg.rpc.url = anvil.url();
    let artifacts = Artifacts::load(&cfg.devnet.artifacts_dir()).unwrap();
    bulk::fill(&anvil.url(), &artifacts, 40, 20).await.unwrap();
    let c = ClientBuilder::default().http(anvil.url().parse().unwrap());
    let _: Value = c.request("anvil_mine", (format!("{empty_blocks:#x}"),)).await.unwrap();
    let head: alloy::primitives::U64 = c.request_noparams("eth_blockNumber").await.unwrap();
    (anvil, head.to::<u64>())
}

/// Heights in bronze.blocks with how often each was written, and the tx count.
async fn bronze(cfg: &Config) -> (BTreeMap<u64, u64>, u64) {
    pipeline::sink(cfg, Until::CaughtUp, &CancellationToken::new()).await.unwrap();
    let heights = common::bronze_heights(cfg).await;
    let txs = pipeline::rows(&pipeline::query(cfg, "SELECT CAST((SELECT count(*) FROM bronze.txs_native_transfer) + (SELECT count(*) FROM bronze.txs_contract_call) + (SELECT count(*) FROM bronze.txs_contract_deploy) AS VARCHAR)").await.unwrap())
        .unwrap()[0][0]
        .parse()
        .unwrap();
    (heights, txs)
}

fn wait(child: common::Reaped) -> String {
    let out = child.wait_with_output();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "backfill failed: {text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_a_range_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("shared", dir.path().to_str().unwrap());
    let (anvil, head) = chain(&mut cfg, 2_000).await;
    assert!(head >= 2_000);

    let (a, b) = (backfill(&cfg, head, &[]), backfill(&cfg, head, &[]));
    let (a, b) = (wait(a), wait(b));
    println!("A: {a}B: {b}");
    for out in [&a, &b] {
        assert!(out.contains("complete: true"), "{out}");
        assert!(!out.contains("in 0 chunks"), "both processes took part: {out}");
    }
    // A third run of the same range finds it done and publishes nothing.
    let again = wait(backfill(&cfg, head, &[]));
    assert!(again.contains("published 0 blocks"), "{again}");
    anvil.stop().await;

    let (heights, txs) = bronze(&cfg).await;
    assert_eq!(heights.len() as u64, head + 1, "every height present");
    assert!(heights.iter().all(|(n, c)| *c == 1 && *n <= head), "every block exactly once");
    assert_eq!(txs, 40 * 20 + 10, "bulk txs plus the token setup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_chunk_is_reclaimed() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("reclaim", dir.path().to_str().unwrap());
    let (anvil, head) = chain(&mut cfg, 1_000).await;
    let ttl = [
        ("CHAINLAKE__BACKFILL__LEASE_TTL", "1s"),
        ("CHAINLAKE__BACKFILL__CHECKPOINT_INTERVAL", "100ms"),
        ("CHAINLAKE__RPC__CONCURRENCY", "1"),
    ];
    let mut victim = backfill(&cfg, head, &ttl);
    // Let it publish part of the range, then kill it without warning.
    let topic = format!("{}devnet.blocks", cfg.kafka.topic_prefix);
    common::eventually("the victim published 150 blocks", Duration::from_secs(60), || async {
        (end_offsets(&cfg.kafka.brokers, &topic) >= 150).then_some(())
    })
    .await;
    victim.kill().unwrap();
    victim.wait().unwrap();
    let survivor = wait(backfill(&cfg, head, &ttl));
    assert!(survivor.contains("complete: true"), "{survivor}");
    anvil.stop().await;
    let (heights, _) = bronze(&cfg).await;
    assert_eq!(heights.len() as u64, head + 1, "no height missing after kill -9: {survivor}");
}

/// Records on all partitions of `topic`.
fn end_offsets(brokers: &str, topic: &str) -> i64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let c: BaseConsumer = rdkafka::ClientConfig::new().set("bootstrap.servers", brokers).create().unwrap();
    let Ok(md) = c.fetch_metadata(Some(topic), Duration::from_secs(5)) else { return 0 };
    let mut total = 0;
    for t in md.topics() {
        for p in t.partitions() {
            if let Ok((lo, hi)) = c.fetch_watermarks(topic, p.id(), Duration::from_secs(5)) {
                total += hi - lo;
            }
        }
    }
    total
}

/// A chunk completed and released between another worker's read of the done set and its claim
/// is not claimed again (the claim checks `done` in the same step).
#[tokio::test]
async fn a_completed_chunk_cannot_be_claimed_again() {
    use chainlake_ingest::crawl::backfill::BackfillPlan;
    use chainlake_ingest::crawl::chunk_leases::RedisChunkLeases;
    let cfg = common::test_config("leases", "/tmp/unused");
    let plan = BackfillPlan { from: 0, to: 999, chunk_size: 100 };
    let ns = common::unique("leases");
    let ttl = Duration::from_secs(30);
    let a = RedisChunkLeases::connect(&cfg.redis.url, &ns, "c", &plan, "a".into(), ttl).await.unwrap();
    let b = RedisChunkLeases::connect(&cfg.redis.url, &ns, "c", &plan, "b".into(), ttl).await.unwrap();
    assert!(a.claim(3).await.unwrap());
    assert!(!b.done().await.unwrap().contains(&3)); // b's view, read before a completes
    assert!(!b.claim(3).await.unwrap(), "held by a");
    a.complete(3).await.unwrap();
    assert!(!b.claim(3).await.unwrap(), "done: must not be claimed again");
    assert!(b.claim(4).await.unwrap());
}
