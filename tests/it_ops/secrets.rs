//! No secret at any log level: the real binary follows a chain through a provider whose URL
//! carries an API key, at `RUST_LOG=trace`, with the Prometheus exporter on; then the sink
//! writes the lake. Every log line (stderr of both), every Kafka record (what the sink wrote
//! to the lake, including `_rejected`), every lake file and /metrics are grepped for the key:
//! 0 hits. A provider that fails (a dead URL with a key) is included, so error lines are too.

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::proxy::Proxy;
use chainlake::config::Config;

const KEY: &str = "sk_live_9f8e7d6c5b4a";

/// Runs the binary with its stdout and stderr going to `log` (a pipe would fill up at trace).
fn chainlake(cfg: &Config, args: &[&str], metrics: &str, fallback: &str, log: &Path) -> common::Reaped {
    let out = std::fs::File::create(log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_chainlake"))
        .args(args)
        .env("RUST_LOG", "trace")
        .env("CHAINLAKE__RPC__URL", &cfg.rpc.url)
        .env("CHAINLAKE__RPC__PSEUDONYM", "keyed-provider")
        .env("CHAINLAKE__RPC__FALLBACKS", format!("[{{pseudonym = \"dead-keyed\", url = \"{fallback}\"}}]"))
        .env("CHAINLAKE__RPC__POLL_INTERVAL", "50ms")
        .env("CHAINLAKE__RPC__HEAD_CHECK_INTERVAL", "100ms")
        .env("CHAINLAKE__KAFKA__BROKERS", &cfg.kafka.brokers)
        .env("CHAINLAKE__KAFKA__TOPIC_PREFIX", &cfg.kafka.topic_prefix)
        .env("CHAINLAKE__REDIS__URL", &cfg.redis.url)
        .env("CHAINLAKE__LAKE__ROOT", &cfg.lake.root)
        .env("CHAINLAKE__SINK__SINK_ID", &cfg.sink.sink_id)
        .env("CHAINLAKE__METRICS__LISTEN", metrics)
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .unwrap();
    common::Reaped::new(child)
}

async fn scrape(addr: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    s.write_all(format!("GET /metrics HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).await.ok()?;
    out.contains("chainlake_blocks_published_total").then_some(out)
}

fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            hits.extend(files_containing(&path, needle));
        } else if std::fs::read(&path).unwrap().windows(needle.len()).any(|w| w == needle) {
            hits.push(path.display().to_string());
        }
    }
    hits
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_at_trace_level_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let (follow_log, sink_log) = (logs.path().join("follow.log"), logs.path().join("sink.log"));
    let mut cfg = common::test_config("secrets", dir.path().to_str().unwrap());
    let anvil = common::anvil(&cfg, &["--block-time", "0.2"]).await;
    let front = Proxy::start(&anvil.url()).await; // serves any path, like a keyed provider
    cfg.rpc.url = format!("{}/v3/{KEY}", front.url);
    let dead = format!("http://127.0.0.1:9/v3/{KEY}?apikey={KEY}");
    let addr = format!("127.0.0.1:{}", common::free_port());

    let mut follower = chainlake(&cfg, &["ingest", "follow", "--from", "0"], &addr, &dead, &follow_log);
    let metrics =
        common::eventually("metrics with published blocks", Duration::from_secs(60), || scrape(&addr)).await;
    // Let it publish a few more blocks (and fail over from the dead provider at least once).
    common::eventually("a few blocks", Duration::from_secs(60), || async {
        let m = scrape(&addr).await?;
        m.lines()
            .any(|l| {
                l.starts_with("chainlake_last_published_block") && !l.ends_with(" 0") && !l.ends_with(" 1")
            })
            .then_some(())
    })
    .await;
    follower.kill().unwrap();
    follower.wait().unwrap();
    let mut sink = chainlake(&cfg, &["sink", "--until-caught-up"], "", &dead, &sink_log);
    assert!(sink.wait().unwrap().success(), "{}", std::fs::read_to_string(&sink_log).unwrap_or_default());
    anvil.stop().await;

    let logs = [std::fs::read(&follow_log).unwrap(), std::fs::read(&sink_log).unwrap()].concat();
    let text = String::from_utf8_lossy(&logs);
    assert!(text.lines().count() > 100, "trace logging produced output");
    assert!(text.contains("keyed-provider"), "logs name the provider by pseudonym");
    assert!(
        text.contains("dead-keyed") && text.contains("connection refused"),
        "the dead provider's errors are logged"
    );
    println!("{} log lines, {} bytes of /metrics grepped", text.lines().count(), metrics.len());
    let leaks: Vec<&str> = text.lines().filter(|l| l.contains(KEY)).take(5).collect();
    assert!(leaks.is_empty(), "the key leaked into logs: {leaks:?}");
    assert!(!metrics.contains(KEY), "the key leaked into /metrics");
    let lake_hits = files_containing(dir.path(), KEY.as_bytes());
    assert!(lake_hits.is_empty(), "the key leaked into lake files: {lake_hits:?}");
    assert!(!text.contains("\u{1b}["), "logs to a pipe carry no ANSI colours");
}
