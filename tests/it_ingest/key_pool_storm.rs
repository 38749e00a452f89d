//! Five replicas over eight keys for more than two minutes (its own test binary: it is long):
//! one `ingest follow` on the shared anvil (one block a second, with transfers sent during the
//! run) and four `ingest backfill` processes sharing the history below it, every one leasing
//! its key from the pool through the nginx front (10 r/s per key path, 429 beyond) and
//! rotating keys every few seconds. Afterwards, from `{chain}.ops.rpc_usage` as the sink landed
//! it in Bronze:
//! - no key was used by two replicas in overlapping lease intervals;
//! - no key went past 10 r/s + its burst in any one-second window, and nginx answered 0 × 429;
//! - every request nginx saw has its usage record, `keys monitor` counts the same per key, and
//!   `gold.api_key_usage_daily` sums to the same;
//! - every block reached Bronze exactly once;
//! - no secret appears in any log line, Kafka record (Bronze), file of the lake or `/metrics`.

use crate::common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use crate::common::keys::{
    assert_every_block_from, finish, front_log, overlaps, pool_config_with, replica_env,
};
use chainlake::config::Config;
use chainlake::pipeline;
use chainlake_medallion::bronze::Until;
use chainlake_medallion::jobs::Refresh;
use tokio_util::sync::CancellationToken;

const KEYS: [u32; 8] = [51, 52, 53, 54, 55, 56, 57, 58];
/// The follower runs until the node has mined this many blocks more (one a second).
const FOLLOW_BLOCKS: u64 = 125;

async fn strings(cfg: &Config, sql: &str) -> Vec<Vec<String>> {
    pipeline::rows(&pipeline::query(cfg, sql).await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_replicas_eight_keys_for_two_minutes_never_share_never_overrun() {
    common::require(&[common::Service::Provider]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::test_config("keystorm", dir.path().to_str().unwrap());
    let config = pool_config_with(dir.path(), &KEYS, None, "rotate-after = \"15s\"\n");
    let anvil = common::node::client(&common::env_or("CHAINLAKE_TEST_ANVIL", "http://127.0.0.1:8545"));
    common::node::reach(common::node::head(&anvil).await.max(900)).await;
    let start = common::node::head(&anvil).await;
    let before = front_log(&KEYS).len();

    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let metrics = format!("127.0.0.1:{metrics_port}");
    let log = |name: &str| dir.path().join(format!("{name}.log"));
    let from = (start + 1).to_string();
    // Chunk leases at the default TTL: a 3 s one can run out on this 2-core machine with five
    // debug-build replicas verifying blocks, and a lost chunk lease re-publishes (by design).
    let env = [("CHAINLAKE__BACKFILL__LEASE_TTL", "30s")];
    let follow = ["ingest", "follow", "--from", &from];
    let mut follower = replica_env(&cfg, &config, &KEYS, &follow, &log("follower"), &metrics, &env);
    let to = start.to_string();
    let args = ["ingest", "backfill", "--from", "0", "--to", &to, "--chunk-size", "50", "--no-progress"];
    let logs: Vec<_> = (0..4).map(|i| log(&format!("backfill-{i}"))).collect();
    let mut backfills: Vec<_> =
        logs.iter().map(|l| replica_env(&cfg, &config, &KEYS, &args, l, "", &env)).collect();

    // Traffic on the followed chain while the replicas run, until it has grown enough.
    let mut scraped = String::new();
    while common::node::head(&anvil).await < start + FOLLOW_BLOCKS {
        common::node::send(&anvil, common::node::DEV0, 1_000).await;
        if scraped.is_empty() {
            scraped = scrape(&metrics)
                .await
                .filter(|m| m.contains("chainlake_key_requests_total"))
                .unwrap_or_default();
        }
    }
    finish(&mut backfills, &logs).await;
    // SIGINT: the follower stops as on Ctrl-C (releases its key, flushes its usage records).
    Command::new("kill").args(["-INT", &follower.id().to_string()]).status().unwrap();
    common::eventually("the follower stopped", Duration::from_secs(60), || {
        let done = follower.try_wait().unwrap();
        async move { done }
    })
    .await;

    // nginx: nothing throttled, no two leases of one key at once.
    let lines: Vec<_> = front_log(&KEYS).into_iter().skip(before).collect();
    assert_eq!(lines.iter().filter(|l| l.1 == 429).count(), 0, "no key went past 10 requests/s");
    assert_eq!(overlaps(&lines), Vec::<String>::new(), "two leases of one key at once (nginx)");

    // Bronze: every height once, the follower's too.
    pipeline::sink(&cfg, Until::CaughtUp, &CancellationToken::new()).await.unwrap();
    let top: u64 =
        strings(&cfg, "SELECT CAST(max(number) AS VARCHAR) FROM bronze.blocks").await[0][0].parse().unwrap();
    assert!(
        top >= start + FOLLOW_BLOCKS / 2,
        "the follower published the new blocks (top {top}, start {start})"
    );
    for l in logs.iter().chain([&log("follower")]) {
        let text = std::fs::read_to_string(l).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        if let Some(i) = lines.iter().position(|x| x.contains("lease lost")) {
            eprintln!(
                "{}:\n{}",
                l.display(),
                lines[i.saturating_sub(25)..(i + 3).min(lines.len())].join("\n")
            );
        }
    }
    assert_every_block_from(&cfg, 0, top, true).await;

    let usage = check_usage(&cfg, lines.len()).await;
    check_monitor(&cfg, &config, &usage);
    check_gold(&cfg, &usage).await;
    check_secrets(&cfg, dir.path(), &scraped).await;
}

/// The usage records: one per request nginx saw, leases that never overlap per key, no
/// one-second window past 10 + burst 5. Returns the requests per key.
async fn check_usage(cfg: &Config, front_requests: usize) -> BTreeMap<String, u64> {
    let rows = strings(
        cfg,
        "SELECT key, replica, CAST(lease_token AS VARCHAR), CAST(sent_at AS VARCHAR), CAST(http_status AS VARCHAR) \
         FROM bronze.rpc_usage",
    )
    .await;
    let mut rows = rows;
    rows.sort_by_key(|r| (r[0].clone(), r[3].parse::<i64>().unwrap()));
    assert_eq!(rows.len(), front_requests, "one usage record per request nginx saw");
    let mut per_key: BTreeMap<String, u64> = BTreeMap::new();
    let mut spans: BTreeMap<(String, String, String), (i64, i64)> = BTreeMap::new();
    let mut sent: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in &rows {
        let at: i64 = r[3].parse().unwrap();
        *per_key.entry(r[0].clone()).or_default() += 1;
        let s = spans.entry((r[0].clone(), r[1].clone(), r[2].clone())).or_insert((at, at));
        s.1 = s.1.max(at);
        sent.entry(r[0].clone()).or_default().push(at);
        assert_eq!(r[4], "200", "every request answered 200: {r:?}");
    }
    let spans: Vec<_> = spans.into_iter().collect();
    for (i, ((k1, r1, t1), (a1, b1))) in spans.iter().enumerate() {
        for ((k2, r2, t2), (a2, b2)) in &spans[i + 1..] {
            let disjoint = b1 < a2 || b2 < a1;
            assert!(
                k1 != k2 || disjoint,
                "{k1}: leases {r1}|{t1} [{a1}, {b1}] and {r2}|{t2} [{a2}, {b2}] overlap"
            );
        }
    }
    for (key, times) in &sent {
        let worst = times
            .iter()
            .enumerate()
            .map(|(i, t)| times[i..].iter().take_while(|u| **u < t + 1000).count())
            .max();
        assert!(worst.unwrap_or(0) <= 15, "{key}: {worst:?} requests in one second (limit 10 + burst 5)");
    }
    assert!(per_key.len() >= 5, "the replicas used the pool's keys: {per_key:?}");
    per_key
}

/// `keys monitor --until-caught-up` counts what Bronze holds, per key; `keys status` shows it.
fn check_monitor(cfg: &Config, config: &std::path::Path, usage: &BTreeMap<String, u64>) {
    let out = common::keys::pool_command(cfg, config, &KEYS, &["keys", "monitor", "--until-caught-up"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    for (key, n) in usage {
        assert!(
            text.contains(&format!("  {key}: {n} requests, 0 throttled")),
            "monitor counted {key}: {text}"
        );
    }
    let status = common::keys::keys_status(config, cfg, &KEYS);
    for (key, n) in usage {
        let line = status.lines().find(|l| l.starts_with(key.as_str())).unwrap_or_default();
        assert!(
            line.trim_end().ends_with(&format!(" {n}")),
            "keys status shows {key}'s observed {n}: {status}"
        );
    }
}

/// `gold.api_key_usage_daily` holds the same requests per key.
async fn check_gold(cfg: &Config, usage: &BTreeMap<String, u64>) {
    pipeline::medallion_run(cfg, None, Refresh::Incremental).await.unwrap();
    let rows = strings(
        cfg,
        "SELECT key, CAST(sum(requests) AS VARCHAR), CAST(sum(throttled) AS VARCHAR) \
         FROM gold.api_key_usage_daily GROUP BY key ORDER BY key",
    )
    .await;
    let gold: BTreeMap<String, u64> = rows.iter().map(|r| (r[0].clone(), r[1].parse().unwrap())).collect();
    assert_eq!(&gold, usage, "gold.api_key_usage_daily per key");
    assert!(rows.iter().all(|r| r[2] == "0"));
}

/// No secret in the replicas' logs, any Bronze table (every Kafka record), any file of the lake,
/// or the follower's `/metrics`.
async fn check_secrets(cfg: &Config, dir: &std::path::Path, scraped: &str) {
    assert!(scraped.contains("chainlake_key_requests_total"), "the follower's /metrics was read");
    let secrets: Vec<String> = KEYS.iter().map(|k| format!("pool_{k}")).collect();
    let mut found = Vec::new();
    let mut look = |what: &str, text: &str| {
        found.extend(secrets.iter().filter(|s| text.contains(s.as_str())).map(|s| format!("{s} in {what}")));
    };
    look("/metrics", scraped);
    for entry in walk(dir) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        look(&entry.display().to_string(), &String::from_utf8_lossy(&bytes));
    }
    let mut tables: Vec<String> =
        chainlake_wire::TopicKind::ALL.iter().map(|k| k.table_name().to_owned()).collect();
    tables.push("_rejected".into());
    for t in tables {
        let rows = pipeline::query(cfg, &format!("SELECT * FROM bronze.\"{t}\"")).await.unwrap();
        let text = chainlake_medallion::deltalake::arrow::util::pretty::pretty_format_batches(&rows)
            .unwrap()
            .to_string();
        look(&format!("bronze.{t}"), &text);
    }
    assert_eq!(found, Vec::<String>::new(), "secrets found");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.file_name().is_some_and(|n| n != "pool.toml") {
            out.push(p);
        }
    }
    out
}

/// GET /metrics of `addr`, if it answers.
async fn scrape(addr: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    s.write_all(format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes()).await.ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).await.ok()?;
    Some(body)
}
