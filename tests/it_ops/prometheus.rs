//! The alert rules and Grafana dashboards under infra/ against chainlake's metric list and a
//! real Prometheus (the Debian package infra/local/install.sh installs): promtool accepts the
//! config and the rules; every metric they name is one chainlake exports; with a follower and
//! a sink scraped, every rule evaluates without error and every panel query parses; stopping
//! the node fires `ChainlakeNotReady` for it.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use chainlake::config::Config;
use chainlake_wire::metric::MetricKind;
use serde_json::Value;

fn infra(path: &str) -> std::path::PathBuf {
    common::repo().join("infra").join(path)
}

fn dashboards() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(infra("grafana/dashboards")).unwrap() {
        let path = entry.unwrap().path();
        let json: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        out.push((path.display().to_string(), json));
    }
    assert!(out.len() >= 4, "the four dashboards exist: {out:?}");
    out
}

/// Every panel query of every dashboard (with its variables filled in), and the template
/// variables' own queries.
fn panel_queries() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (file, d) in dashboards() {
        for p in d["panels"].as_array().unwrap() {
            for t in p["targets"].as_array().unwrap() {
                let expr =
                    t["expr"].as_str().unwrap().replace("$__rate_interval", "1m").replace("$chain", ".*");
                out.push((format!("{file}: {}", p["title"]), expr));
            }
        }
    }
    out
}

fn alert_exprs() -> Vec<(String, String)> {
    let rules: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(infra("prometheus/alerts.yml")).unwrap()).unwrap();
    let mut out = Vec::new();
    for g in rules["groups"].as_sequence().unwrap() {
        for r in g["rules"].as_sequence().unwrap() {
            out.push((r["alert"].as_str().unwrap().to_owned(), r["expr"].as_str().unwrap().to_owned()));
        }
    }
    out
}

/// The series names chainlake serves: each metric, and a histogram's `_sum` and `_count`
/// (the exporter renders histograms as summaries).
fn exported_names() -> BTreeSet<String> {
    let mut names = BTreeSet::from(["up".to_owned()]);
    for m in chainlake_ingest::metrics::ALL.iter().chain(chainlake_medallion::metrics::ALL) {
        names.insert(m.name.to_owned());
        if m.kind == MetricKind::Histogram {
            names.insert(format!("{}_sum", m.name));
            names.insert(format!("{}_count", m.name));
        }
    }
    names
}

fn names_in(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("chainlake_") {
        let name: String =
            rest[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        rest = &rest[at + name.len()..];
        out.push(name);
    }
    out
}

#[test]
fn promtool_accepts_the_config_and_the_rules() {
    for args in
        [["check", "config", "prometheus/prometheus.yml"], ["check", "rules", "prometheus/alerts.yml"]]
    {
        let out = Command::new("promtool").args(args).current_dir(infra("")).output().unwrap_or_else(|e| {
            panic!("promtool not found ({e}): run `bash infra/local/install.sh` (Debian package prometheus)")
        });
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn every_metric_a_rule_or_panel_names_is_exported() {
    let known = exported_names();
    let mut unknown = Vec::new();
    let all = alert_exprs().into_iter().chain(panel_queries());
    let mut seen = 0;
    for (what, expr) in all {
        for name in names_in(&expr) {
            seen += 1;
            if !known.contains(&name) {
                unknown.push(format!("{what}: {name}"));
            }
        }
    }
    assert!(seen > 40, "the rules and panels name metrics ({seen})");
    assert!(unknown.is_empty(), "names chainlake does not export: {unknown:#?}");
    let used: BTreeSet<String> =
        alert_exprs().into_iter().chain(panel_queries()).flat_map(|(_, e)| names_in(&e)).collect();
    for must in [
        "chainlake_node_head",
        "chainlake_sink_lag_records",
        "chainlake_job_consecutive_failures",
        "chainlake_key_throttled_total",
        "chainlake_provider_demoted",
        "chainlake_reorg_beyond_confirmations_total",
        "chainlake_sink_last_commit_seconds",
    ] {
        assert!(used.contains(must), "{must} is watched");
    }
}

fn chainlake(cfg: &Config, args: &[&str], listen: &str) -> common::Reaped {
    let child = Command::new(env!("CARGO_BIN_EXE_chainlake"))
        .args(args)
        .env("CHAINLAKE__RPC__URL", &cfg.rpc.url)
        .env("CHAINLAKE__RPC__POLL_INTERVAL", "100ms")
        .env("CHAINLAKE__KAFKA__BROKERS", &cfg.kafka.brokers)
        .env("CHAINLAKE__KAFKA__TOPIC_PREFIX", &cfg.kafka.topic_prefix)
        .env("CHAINLAKE__REDIS__URL", &cfg.redis.url)
        .env("CHAINLAKE__LAKE__ROOT", &cfg.lake.root)
        .env("CHAINLAKE__SINK__SINK_ID", &cfg.sink.sink_id)
        .env("CHAINLAKE__METRICS__LISTEN", listen)
        .env("CHAINLAKE__METRICS__PROBE_INTERVAL", "500ms")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::Reaped::new(child)
}

/// Prometheus on a free port scraping `targets` every second, with the project's rules
/// evaluated every second and their `for` durations set to 0 (the same expressions).
fn prometheus(dir: &Path, targets: &[String]) -> (common::Reaped, String) {
    let rules = std::fs::read_to_string(infra("prometheus/alerts.yml")).unwrap();
    let rules: String = rules
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("for:") {
                l.split("for:").next().unwrap().to_owned() + "for: 0s"
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.join("alerts.yml"), rules).unwrap();
    let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
    let config = format!(
        "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nrule_files: [alerts.yml]\n\
         scrape_configs:\n  - job_name: chainlake\n    static_configs: [{{targets: [{}]}}]\n",
        targets.join(", ")
    );
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let port = common::free_port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
        .spawn()
        .expect("prometheus (Debian package) is installed by infra/local/install.sh");
    (common::Reaped::new(child), format!("http://127.0.0.1:{port}"))
}

async fn api(base: &str, path: &str, params: &[(&str, &str)]) -> Option<Value> {
    let url = url::Url::parse_with_params(&format!("{base}{path}"), params).unwrap();
    let body = reqwest::get(url).await.ok()?.text().await.ok()?;
    serde_json::from_str(&body).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_evaluate_panels_parse_and_a_stopped_node_fires() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("prometheus", dir.path().join("lake").to_str().unwrap());
    let anvil = common::anvil(&cfg, &["--block-time", "0.5"]).await;
    cfg.rpc.url = anvil.url();
    let (follow_at, sink_at) =
        (format!("127.0.0.1:{}", common::free_port()), format!("127.0.0.1:{}", common::free_port()));
    let _follower = chainlake(&cfg, &["ingest", "follow", "--from", "0"], &follow_at);
    let _sink = chainlake(&cfg, &["sink"], &sink_at);
    let (_prom, base) = prometheus(dir.path(), &[follow_at.clone(), sink_at.clone()]);

    common::eventually("both targets scraped and up", Duration::from_secs(60), || async {
        let v = api(&base, "/api/v1/query", &[("query", "sum(up)")]).await?;
        (v["data"]["result"][0]["value"][1].as_str()? == "2").then_some(())
    })
    .await;
    common::eventually("the follower published a block and the sink committed it", Duration::from_secs(60), || async {
        let v = api(&base, "/api/v1/query", &[("query", "min(chainlake_last_published_block) > 1 and on() max(chainlake_sink_last_commit_seconds) > 0")]).await?;
        (!v["data"]["result"].as_array()?.is_empty()).then_some(())
    })
    .await;
    let alerts = alert_exprs().len();
    let rules =
        common::eventually("every rule evaluated, without error", Duration::from_secs(30), || async {
            let v = api(&base, "/api/v1/rules", &[]).await?;
            let rules: Vec<Value> = v["data"]["groups"]
                .as_array()?
                .iter()
                .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
                .collect();
            let evaluated = rules
                .iter()
                .filter(|r| r["lastEvaluation"].as_str().is_some_and(|t| !t.starts_with("0001")))
                .count();
            (rules.len() == alerts && evaluated == alerts).then_some(rules)
        })
        .await;
    let broken: Vec<String> = rules
        .iter()
        .filter(|r| r["health"] != "ok")
        .map(|r| format!("{}: {} {}", r["name"], r["health"], r["lastError"]))
        .collect();
    assert!(broken.is_empty(), "rules that do not evaluate: {broken:?}");
    for (what, expr) in panel_queries() {
        let v = api(&base, "/api/v1/query", &[("query", &expr)]).await.unwrap();
        assert_eq!(v["status"], "success", "{what}: {expr}: {v}");
    }
    let firing_early: Vec<Value> = api(&base, "/api/v1/alerts", &[]).await.unwrap()["data"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["labels"]["alertname"] == "ChainlakeNotReady")
        .cloned()
        .collect();
    assert!(firing_early.is_empty(), "ready while everything runs: {firing_early:?}");

    anvil.stop().await;
    common::eventually("ChainlakeNotReady fires for the node", Duration::from_secs(60), || async {
        let v = api(&base, "/api/v1/alerts", &[]).await?;
        v["data"]["alerts"]
            .as_array()?
            .iter()
            .any(|a| {
                a["labels"]["alertname"] == "ChainlakeNotReady"
                    && a["labels"]["dependency"] == "node"
                    && a["labels"]["instance"] == follow_at.as_str()
                    && a["state"] == "firing"
            })
            .then_some(())
    })
    .await;
}
