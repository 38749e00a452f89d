//! The Bronze sink (the real binary) against real tansu and the real lake, local and S3:
//! - 100,000 records over 6 partitions, the sink killed with -9 twenty times while it ingests;
//! - two replicas in one group, stopped and started alternately (rebalances), local and S3;
//! - optimize, checkpoint and vacuum run while the sink writes.
//!
//! Afterwards Bronze holds every record exactly once: per partition, offsets 0..high each
//! once, and every key once. Every table passes the Dremio protocol check. (The group-mode kill
//! storm, with its time bound, is tests/sink_group_catchup.rs: alone in its binary, so that no
//! other test's load is in its measurement.)

use crate::common;

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use crate::common::sink::{
    assert_exactly_once, committed_past, produce, setup, sink_process, written, PER_BUNDLE, RECORDS,
};
use chainlake::config::Config;
use chainlake::pipeline;
use chainlake_ingest::publish::{ensure_topics, Publisher};
use chainlake_medallion::lake::maintenance::Maintenance;
use chainlake_wire::Topics;

async fn kill_9_twenty_times(cfg: Config, s3: bool) {
    let cfg = setup(cfg);
    ensure_topics(&cfg.kafka, &Topics::new(&cfg.kafka.topic_prefix, "devnet")).await.unwrap();
    let publisher = Publisher::new(&cfg.kafka, "devnet").unwrap();
    let bundles = RECORDS / PER_BUNDLE;
    let per_round = bundles / 20;
    let mut rng = common::Rng::new("kill_9_twenty_times");
    for round in 0..20 {
        produce(&publisher, round * per_round, (round + 1) * per_round).await;
        let before = written(&cfg).await;
        let mut child = sink_process(&cfg, s3, false);
        // Kill while it ingests: after it committed something new, plus a random extra delay
        // (the moment of the kill is what is random, not a wait for readiness).
        committed_past(&cfg, before, &format!("round {round}: the sink committed")).await;
        tokio::time::sleep(Duration::from_millis(rng.below(400))).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    assert_exactly_once(&cfg).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_killed_twenty_times_local() {
    let dir = tempfile::tempdir().unwrap();
    kill_9_twenty_times(common::test_config("kill20", dir.path().to_str().unwrap()), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_killed_twenty_times_s3() {
    kill_9_twenty_times(common::s3_config("kill20-s3"), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_with_rebalances_local() {
    let dir = tempfile::tempdir().unwrap();
    two_replicas_with_rebalances(common::test_config("replicas", dir.path().to_str().unwrap()), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_with_rebalances_s3() {
    two_replicas_with_rebalances(common::s3_config("replicas-s3"), true).await;
}

async fn two_replicas_with_rebalances(cfg: Config, s3: bool) {
    let cfg = setup(cfg);
    ensure_topics(&cfg.kafka, &Topics::new(&cfg.kafka.topic_prefix, "devnet")).await.unwrap();
    let publisher = Publisher::new(&cfg.kafka, "devnet").unwrap();
    let bundles = RECORDS / PER_BUNDLE;
    let mut replicas: HashMap<usize, common::Reaped> = HashMap::new();
    replicas.insert(0, sink_process(&cfg, s3, true));
    replicas.insert(1, sink_process(&cfg, s3, true));
    // Alternately stop one replica (gracefully or with -9) and start it again, producing meanwhile.
    for round in 0..8u64 {
        produce(&publisher, round * bundles / 8, (round + 1) * bundles / 8).await;
        let before = written(&cfg).await;
        committed_past(&cfg, before, &format!("round {round}: a replica committed")).await;
        let who = (round % 2) as usize;
        let mut child = replicas.remove(&who).unwrap();
        if round % 4 == 3 {
            child.kill().unwrap();
            child.wait().unwrap();
        } else {
            child.interrupt_within(Duration::from_secs(60));
        }
        replicas.insert(who, sink_process(&cfg, s3, true));
    }
    for (_, mut c) in replicas {
        c.interrupt_within(Duration::from_secs(60));
    }
    assert_exactly_once(&cfg).await;
}

/// Rows in the two tables now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_while_the_sink_writes() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = setup(common::test_config("maint", dir.path().to_str().unwrap()));
    cfg.sink.consumer_group = false;
    ensure_topics(&cfg.kafka, &Topics::new(&cfg.kafka.topic_prefix, "devnet")).await.unwrap();
    let publisher = Publisher::new(&cfg.kafka, "devnet").unwrap();
    let bundles = RECORDS / PER_BUNDLE;
    let mut sink = sink_process(&cfg, false, false);
    for round in 0..4 {
        produce(&publisher, round * bundles / 4, (round + 1) * bundles / 4).await;
        let before = written(&cfg).await;
        committed_past(&cfg, before, &format!("round {round}: the sink committed")).await;
        // Compaction, checkpoints and vacuum run concurrently with the sink's appends.
        let op = match round {
            0 | 2 => Maintenance::Optimize { target_bytes: 64 * 1024 * 1024 },
            1 => Maintenance::Checkpoint,
            _ => Maintenance::Vacuum { retention: Duration::from_secs(7 * 24 * 3600) },
        };
        match pipeline::maintain(&cfg, op).await {
            Ok(reports) => assert!(!reports.is_empty()),
            // A compaction that lost to a concurrent append is retried next run, never harmful.
            Err(e) => {
                assert!(e.to_string().contains("onflict") || e.to_string().contains("oncurrent"), "{e}")
            }
        }
    }
    let _ = Command::new("kill").args(["-INT", &sink.id().to_string()]).status();
    sink.wait().unwrap();
    assert_exactly_once(&cfg).await;

    // The operator's view of the same: `chainlake lake check` lists every table as readable.
    let out = Command::new(env!("CARGO_BIN_EXE_chainlake"))
        .args(["lake", "check"])
        .env("CHAINLAKE__LAKE__ROOT", &cfg.lake.root)
        .env("CHAINLAKE__METRICS__LISTEN", "")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let tables: Vec<&str> = text.lines().filter(|l| l.contains("/bronze/")).collect();
    assert_eq!(tables.len(), 2, "blocks and txs_native_transfer: {text}");
    for line in tables {
        assert!(line.contains("reader 1 writer 2") && line.ends_with("dremio-readable true"), "{line}");
        assert!(!line.contains("checkpoint none"), "checkpoints after 5 commits: {line}");
    }
}
