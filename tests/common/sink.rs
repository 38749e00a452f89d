//! The Bronze sink tests' shared parts: the records they produce, the sink binary they start,
//! and the exactly-once check of what Bronze holds afterwards.

use std::process::{Command, Stdio};
use std::time::Duration;

use chainlake::config::Config;
use chainlake::pipeline;
use chainlake_ingest::publish::Publisher;
use chainlake_medallion::bronze::Until;
use chainlake_medallion::lake::{checkpoint_due, Lake, Layer};
use chainlake_wire::{fixtures, BlockBundle, BlockRecord, TxRecord};
use tokio_util::sync::CancellationToken;

pub const RECORDS: u64 = 100_000;
pub const PER_BUNDLE: u64 = 100; // 1 block + 99 txs

pub fn bundle(i: u64) -> BlockBundle {
    let block =
        BlockRecord { tx_count: PER_BUNDLE - 1, ..fixtures::block("devnet", i, 1_700_000_000 + i * 12) };
    let txs = (0..PER_BUNDLE - 1)
        .map(|j| TxRecord { value: (i * 1_000 + j).to_string(), ..fixtures::tx(&block, j) })
        .collect();
    BlockBundle { block, txs, logs: Vec::new() }
}

pub fn sink_process(cfg: &Config, s3: bool, group: bool) -> super::Reaped {
    sink_logged(cfg, s3, group, None)
}

/// [`sink_process`] with its log lines (stderr) in `log`.
pub fn sink_logged(cfg: &Config, s3: bool, group: bool, log: Option<&std::path::Path>) -> super::Reaped {
    let stderr = match log {
        Some(p) => Stdio::from(std::fs::File::create(p).unwrap()),
        None => Stdio::null(),
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chainlake"));
    cmd.arg("sink")
        .env("CHAINLAKE__SINK__CONSUMER_GROUP", group.to_string())
        .env("CHAINLAKE__KAFKA__BROKERS", &cfg.kafka.brokers)
        .env("CHAINLAKE__KAFKA__TOPIC_PREFIX", &cfg.kafka.topic_prefix)
        .env("CHAINLAKE__SINK__SINK_ID", &cfg.sink.sink_id)
        .env("CHAINLAKE__SINK__FLUSH_ROWS", "4000")
        .env("CHAINLAKE__SINK__FLUSH_INTERVAL", "200ms")
        .env("CHAINLAKE__SINK__SESSION_TIMEOUT", format!("{}ms", cfg.sink.session_timeout.as_millis()))
        .env("CHAINLAKE__LAKE__ROOT", &cfg.lake.root)
        .env("CHAINLAKE__LAKE__CHECKPOINT_INTERVAL", "5")
        .env("CHAINLAKE__METRICS__LISTEN", "")
        .stdout(Stdio::null())
        .stderr(stderr);
    if s3 {
        for (k, v) in &cfg.lake.storage_options {
            cmd.env(k, v);
        }
    }
    super::Reaped::new(cmd.spawn().unwrap())
}

/// Commits to the block and native-transfer tables so far (progress of the sinks).
pub async fn written(cfg: &Config) -> u64 {
    let lake = Lake::new(&cfg.lake).unwrap();
    let mut total = 0;
    for t in ["blocks", "txs_native_transfer"] {
        let table = lake.open(&lake.table_url("devnet", Layer::Bronze, t).unwrap()).await.unwrap();
        total += table.version().map_or(0, |v| v + 1);
    }
    total
}

/// Waits until the two tables have more commits than `before`.
pub async fn committed_past(cfg: &Config, before: u64, what: &str) {
    super::eventually(what, Duration::from_secs(90), || async {
        (written(cfg).await > before).then_some(())
    })
    .await;
}

/// Produces bundles `from..to` (each 100 records).
pub async fn produce(publisher: &Publisher, from: u64, to: u64) {
    for i in from..to {
        publisher.publish(&bundle(i)).await.unwrap();
    }
}

pub async fn assert_exactly_once(cfg: &Config) {
    // A last catch-up run alone (every replica is stopped by now).
    let mut alone = cfg.clone();
    alone.sink.consumer_group = false;
    pipeline::sink(&alone, Until::CaughtUp, &CancellationToken::new()).await.unwrap();
    let sql = "SELECT _kafka_topic, CAST(_kafka_partition AS VARCHAR), CAST(count(*) AS VARCHAR), \
        CAST(count(DISTINCT _kafka_offset) AS VARCHAR), CAST(min(_kafka_offset) AS VARCHAR), \
        CAST(max(_kafka_offset) AS VARCHAR), CAST(count(DISTINCT _kafka_key) AS VARCHAR) FROM \
        (SELECT _kafka_topic, _kafka_partition, _kafka_offset, _kafka_key FROM bronze.blocks \
         UNION ALL SELECT _kafka_topic, _kafka_partition, _kafka_offset, _kafka_key FROM bronze.txs_native_transfer) \
        GROUP BY 1, 2";
    let rows = pipeline::rows(&pipeline::query(cfg, sql).await.unwrap()).unwrap();
    let mut total = 0;
    for r in &rows {
        let n: u64 = r[2].parse().unwrap();
        assert_eq!(r[2], r[3], "partition {}/{}: every offset once", r[0], r[1]);
        assert_eq!(r[4], "0", "partition {}/{} starts at 0", r[0], r[1]);
        assert_eq!(r[5].parse::<u64>().unwrap() + 1, n, "partition {}/{}: no gap", r[0], r[1]);
        assert_eq!(r[6], r[2], "partition {}/{}: every key once", r[0], r[1]);
        total += n;
    }
    assert_eq!(total, RECORDS, "{rows:?}");
    assert_eq!(rows.iter().filter(|r| r[0].ends_with("txs.native_transfer")).count(), 6, "6 partitions");
    for c in pipeline::check_tables(cfg).await.unwrap() {
        assert!(c.dremio_readable(), "{c:?}");
        if c.table.contains("/bronze/") && !c.table.contains("_rejected") {
            assert_eq!(c.partition_columns, vec!["block_date".to_owned()], "{c:?}");
        }
        // Every 5 commits, even when a kill fell between a commit and its checkpoint.
        if let Some(due) = checkpoint_due(c.version, 5) {
            assert!(c.checkpoint_version >= Some(due), "checkpoint every 5 commits: {c:?}");
        }
    }
}

/// Six partitions, a checkpoint every 5 commits, a 6 s session timeout (the kill storms).
pub fn setup(mut cfg: Config) -> Config {
    cfg.kafka.partitions = 6;
    cfg.lake.checkpoint_interval = 5;
    cfg.sink.session_timeout = Duration::from_secs(6);
    cfg
}

pub async fn rows_written(cfg: &Config) -> u64 {
    let sql = "SELECT CAST((SELECT count(*) FROM bronze.blocks) + (SELECT count(*) FROM bronze.txs_native_transfer) AS VARCHAR)";
    match pipeline::query(cfg, sql).await {
        Ok(b) => pipeline::rows(&b).unwrap()[0][0].parse().unwrap(),
        Err(_) => 0,
    }
}
