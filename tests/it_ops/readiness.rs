//! `/healthz` and `/readyz` of a running sink (the real binary) against a Kafka of its own
//! (a second tansu on a free port, stopped and started again by the test; the shared one is
//! left alone): ready while Kafka and the lake answer, not ready — naming Kafka — while Kafka
//! is stopped, ready again once it is back; alive throughout.

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use chainlake::config::Config;
use chainlake_wire::Topics;
use serde_json::Value;

/// tansu on `port` with its sqlite file in `dir` (the same file across restarts).
fn tansu(cfg: &Config, dir: &Path, port: u16) -> common::Reaped {
    let bin = cfg.devnet.home_dir().join("tansu/bin/tansu");
    assert!(bin.exists(), "tansu is not installed at {}: run `bash infra/local/install.sh`", bin.display());
    let url = format!("tcp://127.0.0.1:{port}");
    let child = Command::new(bin)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
            "--storage-engine",
            "sqlite://tansu.db",
        ])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(std::fs::File::options().create(true).append(true).open(dir.join("tansu.log")).unwrap())
        .spawn()
        .unwrap();
    common::Reaped::new(child)
}

/// `GET path` on `addr`: the status code and the body.
async fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    let r = reqwest::get(format!("http://{addr}{path}")).await.ok()?;
    let status = r.status().as_u16();
    Some((status, r.text().await.ok()?))
}

fn kafka_state(body: &str) -> Option<Value> {
    let v: Value = serde_json::from_str(body).ok()?;
    v["dependencies"].as_array()?.iter().find(|d| d["dependency"] == "kafka").cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_goes_false_while_kafka_is_stopped_and_true_when_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("readiness", dir.path().join("lake").to_str().unwrap());
    let port = common::free_port();
    cfg.kafka.brokers = format!("127.0.0.1:{port}");
    let mut broker = tansu(&cfg, dir.path(), port);
    common::eventually("our tansu accepts connections", Duration::from_secs(20), || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok().map(|_| ())
    })
    .await;
    chainlake_ingest::publish::ensure_topics(
        &cfg.kafka,
        &Topics::new(&cfg.kafka.topic_prefix, &cfg.chain.name),
    )
    .await
    .unwrap();

    let addr = format!("127.0.0.1:{}", common::free_port());
    let _sink = common::Reaped::new(
        Command::new(env!("CARGO_BIN_EXE_chainlake"))
            .arg("sink")
            .env("CHAINLAKE__KAFKA__BROKERS", &cfg.kafka.brokers)
            .env("CHAINLAKE__KAFKA__TOPIC_PREFIX", &cfg.kafka.topic_prefix)
            .env("CHAINLAKE__LAKE__ROOT", &cfg.lake.root)
            .env("CHAINLAKE__SINK__SINK_ID", &cfg.sink.sink_id)
            .env("CHAINLAKE__METRICS__LISTEN", &addr)
            .env("CHAINLAKE__METRICS__PROBE_INTERVAL", "500ms")
            .env("CHAINLAKE__METRICS__READY_WITHIN", "5s")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let ready = |want: u16| {
        let addr = addr.clone();
        move || {
            let addr = addr.clone();
            async move {
                let (status, body) = get(&addr, "/readyz").await?;
                (status == want).then_some(body)
            }
        }
    };
    let body =
        common::eventually("/readyz 200 with Kafka and the lake up", Duration::from_secs(30), ready(200))
            .await;
    assert_eq!(kafka_state(&body).unwrap()["ready"], true, "{body}");
    assert!(body.contains("\"lake\""), "the sink's lake is a dependency: {body}");
    assert_eq!(get(&addr, "/healthz").await.unwrap().0, 200);
    let metrics = get(&addr, "/metrics").await.unwrap().1;
    assert!(metrics.contains("chainlake_dependency_ready{dependency=\"kafka\"} 1"), "{metrics}");

    broker.kill().unwrap();
    broker.wait().unwrap();
    let body =
        common::eventually("/readyz 503 with Kafka stopped", Duration::from_secs(30), ready(503)).await;
    let kafka = kafka_state(&body).unwrap();
    assert_eq!(kafka["ready"], false, "{body}");
    assert!(
        kafka["error"].as_str().is_some_and(|e| e.contains(&cfg.kafka.brokers)),
        "the error names the brokers: {body}"
    );
    assert_eq!(get(&addr, "/healthz").await.unwrap().0, 200, "alive while Kafka is down");

    let _broker = tansu(&cfg, dir.path(), port);
    let body =
        common::eventually("/readyz 200 once Kafka is back", Duration::from_secs(60), ready(200)).await;
    assert_eq!(kafka_state(&body).unwrap()["ready"], true, "{body}");
    assert_eq!(get(&addr, "/nope").await.unwrap().0, 404);
}
