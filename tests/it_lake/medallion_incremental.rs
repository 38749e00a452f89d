//! Incremental Silver and Gold equal a full refresh of the same Bronze. Random steps on a
//! followed anvil chain — new blocks, blocks days later (the next UTC day), real reorgs
//! (`anvil_reorg`), blocks re-published by a follower restarted lower — each followed by the
//! sink and an incremental medallion run; then a run with nothing new commits nothing, and
//! every Silver and Gold table, sorted, equals what `--full-refresh` builds from the same
//! Bronze. Silver equals the node. On the local lake and on S3.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use chainlake::config::Config;
use chainlake::pipeline;
use chainlake_medallion::bronze::Until;
use chainlake_medallion::jobs::schedule::Cadence;
use chainlake_medallion::jobs::{load_jobs, JobReport, Refresh};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::common::node::{client, head, reorg, send, DEV0};

/// Every Silver and Gold table: its rows as text, sorted.
async fn tables(cfg: &Config) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for job in load_jobs(None).unwrap() {
        let table = format!("{}.{}", job.layer, job.name);
        let rows =
            pipeline::rows(&pipeline::query(cfg, &format!("SELECT * FROM {table}")).await.unwrap()).unwrap();
        let mut rows: Vec<String> = rows.into_iter().map(|r| r.join("|")).collect();
        rows.sort();
        out.insert(table, rows);
    }
    out
}

/// Follows the node from `from` up to `tip`, sinks what was published into Bronze, and
/// returns the height the follower resumes at.
async fn to_bronze(cfg: &Config, crawler: &chainlake_ingest::crawl::Crawler, from: u64, tip: u64) -> u64 {
    let cancel = CancellationToken::new();
    let (_stop, stop_rx) = tokio::sync::watch::channel(Some(tip));
    crawler.follow(from, stop_rx, Duration::from_millis(20), 4, &cancel).await.unwrap();
    pipeline::sink(cfg, Until::CaughtUp, &cancel).await.unwrap();
    crawler.resume_height().await.unwrap().unwrap()
}

async fn incremental_equals_full(cfg: Config, name: &str) {
    let mut cfg = cfg;
    let anvil = common::anvil(&cfg, &[]).await;
    cfg.rpc.url = anvil.url();
    let node = client(&anvil.url());
    let crawler = pipeline::connect(&cfg).await.unwrap();
    let mut rng = common::Rng::new(name);
    let mut from: u64 = 0;
    let mut full_runs = 0;
    for step in 0..14u64 {
        // The last step always moves to a later day: anvil_reorg resets the node's clock to
        // the common block's, so a reorg can undo an earlier jump.
        let action = if step == 13 { 0 } else { rng.below(4) };
        match action {
            0 => {
                let days = 1 + rng.below(2);
                let _: Value = node.request("evm_increaseTime", (days * 86_400,)).await.unwrap();
            }
            1 if head(&node).await > 5 => reorg(&node, 1 + rng.below(4), step).await,
            2 => from = from.saturating_sub(1 + rng.below(4)), // re-published by the follower
            _ => {}
        }
        for _ in 0..1 + rng.below(3) {
            send(&node, DEV0, 1 + step).await;
        }
        let tip = head(&node).await;
        from = to_bronze(&cfg, &crawler, from, tip).await;
        let reports = pipeline::medallion(&cfg).await.unwrap();
        let scopes: Vec<String> = reports.iter().map(|r| format!("{} {}", r.table, r.scope)).collect();
        println!("step {step}: action {action}, head {tip}: {scopes:?}");
        full_runs += reports.iter().filter(|r| r.scope == "full").count();
    }
    assert_eq!(
        full_runs,
        load_jobs(None).unwrap().len(),
        "only the first run rebuilds (the tables did not exist)"
    );

    let again = pipeline::medallion(&cfg).await.unwrap();
    assert!(
        again.iter().all(|r| r.scope == "unchanged" && r.version.is_none()),
        "nothing new, nothing committed: {again:?}"
    );

    let canonical = common::node::chain(&node, head(&node).await).await;
    let (missing, wrong) = common::chain_diff(&canonical, &common::silver_blocks(&cfg).await);
    assert!(missing.is_empty() && wrong.is_empty(), "Silver vs node: missing {missing:?}, orphans {wrong:?}");

    let incremental = tables(&cfg).await;
    let days: Vec<String> = pipeline::rows(
        &pipeline::query(&cfg, "SELECT DISTINCT CAST(block_date AS VARCHAR) FROM silver.blocks")
            .await
            .unwrap(),
    )
    .unwrap()
    .into_iter()
    .map(|r| r[0].clone())
    .collect();
    assert!(days.len() >= 2, "the steps cover several days: {days:?}");
    let one = pipeline::medallion_run(&cfg, None, Refresh::Full).await.unwrap();
    let full = tables(&cfg).await;
    for (table, rows) in &full {
        assert_eq!(incremental.get(table), Some(rows), "{table}: incremental runs vs a full refresh");
    }
    // The rows bound alone splits a rebuild: at one input row per commit, every day is a commit
    // of its own (the days bound, 7, would have made one), and the tables are the same.
    let mut split_cfg = cfg.clone();
    split_cfg.medallion.rows_per_commit = Some(1);
    let split = pipeline::medallion_run(&split_cfg, None, Refresh::Full).await.unwrap();
    let commits = |t: &str| {
        let version = |r: &[JobReport]| r.iter().find(|r| r.table == t).and_then(|r| r.version).unwrap();
        version(&split) - version(&one)
    };
    assert!(commits("silver.blocks") >= days.len() as u64, "a commit per day: {split:?}");
    assert_eq!(tables(&cfg).await, full, "rebuilt a day per commit vs a week per commit");
    for c in pipeline::check_tables(&cfg).await.unwrap() {
        assert!(c.dremio_readable(), "{c:?}");
    }
    anvil.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_equals_full_local() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("incr", dir.path().to_str().unwrap());
    cfg.sink.consumer_group = false;
    incremental_equals_full(cfg, "incremental_equals_full_local").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_equals_full_s3() {
    let mut cfg = common::s3_config("incr-s3");
    cfg.sink.consumer_group = false;
    incremental_equals_full(cfg, "incremental_equals_full_s3").await;
}

/// `chainlake medallion run [ARGS]` (the real binary) on the lake of `cfg`, a day per commit
/// (every run of several days is split: more moments to be killed between two commits).
fn medallion_process(cfg: &Config, args: &[&str]) -> common::Reaped {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_chainlake"))
        .args(["medallion", "run"])
        .args(args)
        .env("CHAINLAKE__LAKE__ROOT", &cfg.lake.root)
        .env("CHAINLAKE__MEDALLION__DAYS_PER_COMMIT", "1")
        .env("CHAINLAKE__METRICS__LISTEN", "")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::Reaped::new(child)
}

/// kill -9 of `medallion run` (incremental, and every third time `--full-refresh`) at random
/// moments while Bronze grows: every table stays readable, and once a run completes the tables
/// equal a full refresh (no row doubled or lost, no day left out by a killed rebuild).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn medallion_run_killed_eleven_times() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("incr-kill", dir.path().to_str().unwrap());
    cfg.sink.consumer_group = false;
    let anvil = common::anvil(&cfg, &[]).await;
    cfg.rpc.url = anvil.url();
    let node = client(&anvil.url());
    let crawler = pipeline::connect(&cfg).await.unwrap();
    let mut rng = common::Rng::new("medallion_run_killed_eleven_times");
    let mut from = 0;
    let mut killed = 0;
    for round in 0..11u64 {
        if round % 3 == 1 {
            let _: Value = node.request("evm_increaseTime", (86_400,)).await.unwrap();
        }
        for _ in 0..2 {
            send(&node, DEV0, 1 + round).await;
        }
        if round % 4 == 3 {
            reorg(&node, 2, round).await;
        }
        from = to_bronze(&cfg, &crawler, from, head(&node).await).await;
        // Every third run a rebuild: killed between its commits, the next run must still
        // write every day (its first commit empties the table).
        let args: &[&str] = if round % 3 == 2 { &["--full-refresh"] } else { &[] };
        let mut child = medallion_process(&cfg, args);
        tokio::time::sleep(Duration::from_millis(10 + rng.below(250))).await;
        killed += u64::from(child.try_wait().unwrap().is_none());
        let _ = child.kill(); // SIGKILL, wherever it is
        let _ = child.wait();
        for job in load_jobs(None).unwrap() {
            let sql = format!("SELECT count(*) FROM {}.{}", job.layer, job.name);
            if let Err(e) = pipeline::query(&cfg, &sql).await {
                let absent = e.to_string().contains("not found");
                assert!(absent, "round {round}: {sql} after kill -9: {e}"); // a table not yet created
            }
        }
    }
    println!("{killed} of 11 runs killed before they finished");
    assert!(killed >= 5, "the kills landed mid-run");
    let out = medallion_process(&cfg, &[]).wait_with_output();
    assert!(out.status.success(), "a run completes after the kills");
    let incremental = tables(&cfg).await;
    pipeline::medallion_run(&cfg, None, Refresh::Full).await.unwrap();
    assert_eq!(incremental, tables(&cfg).await, "after the kills, incremental equals a full refresh");
    anvil.stop().await;
}

/// Two schedulers on one lake, ticking every 2 s for 7 s: no tick runs twice across both
/// (Redis leases; a tick both are too busy for is skipped), and the tables end up complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_run_each_tick_once() {
    two_schedulers(Cadence::Every(Duration::from_secs(2)), "incr-sched", true).await;
}

/// The same with a cron expression (every even second; the first tick is the first fire time
/// after start).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_cron_schedulers_run_each_tick_once() {
    two_schedulers(Cadence::cron("*/2 * * * * *").unwrap(), "incr-cron", false).await;
}

/// `at_start`: the cadence also ticks when the schedulers start.
async fn two_schedulers(cadence: Cadence, name: &str, at_start: bool) {
    use chainlake::ticks::RedisTicks;
    use chainlake_medallion::jobs::schedule::Schedule;
    use chainlake_medallion::lake::Lake;

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config(name, dir.path().to_str().unwrap());
    cfg.sink.consumer_group = false;
    let anvil = common::anvil(&cfg, &[]).await;
    cfg.rpc.url = anvil.url();
    let node = client(&anvil.url());
    for _ in 0..3 {
        send(&node, DEV0, 1).await;
    }
    let crawler = pipeline::connect(&cfg).await.unwrap();
    let cancel = CancellationToken::new();
    to_bronze(&cfg, &crawler, 0, head(&node).await).await;

    let lake = Lake::new(&cfg.lake).unwrap();
    let jobs = load_jobs(None).unwrap();
    let scheduler = |holder: &str| Schedule {
        lake: &lake,
        chain: &cfg.chain.name,
        jobs: &jobs,
        layer: None,
        cadence: cadence.clone(),
        limits: pipeline::limits(&cfg).unwrap(),
        holder: holder.to_owned(),
        after_run: None,
    };
    let (a, b) = (scheduler("a"), scheduler("b"));
    let mut la = RedisTicks::connect(&cfg.redis.url).await.unwrap();
    let mut lb = RedisTicks::connect(&cfg.redis.url).await.unwrap();
    let stop = cancel.child_token();
    let started =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let stopper = {
        let stop = stop.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(7_000)).await;
            stop.cancel();
        }
    };
    let (ran_a, ran_b, ()) = tokio::join!(a.run(&mut la, &stop), b.run(&mut lb, &stop), stopper);
    let ended =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let (ran_a, ran_b) = (ran_a.unwrap(), ran_b.unwrap());
    let ticks = ended / 2000 - started / 2000 + u64::from(at_start); // ticks due in the window
    println!("scheduler a ran {ran_a} ticks, b {ran_b}, {ticks} ticks elapsed");
    assert!(ran_a + ran_b <= ticks, "a tick ran twice: {ran_a} + {ran_b} > {ticks}");
    assert!(ran_a + ran_b >= 2, "the schedulers ran: {ran_a} + {ran_b}");
    let blocks =
        pipeline::rows(&pipeline::query(&cfg, "SELECT count(*) FROM silver.blocks").await.unwrap()).unwrap();
    assert_eq!(blocks[0][0], (head(&node).await + 1).to_string());
    anvil.stop().await;
}
