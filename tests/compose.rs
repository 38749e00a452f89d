//! docker-compose.yml cannot run here (no Docker engine), so it is checked for consistency:
//! valid YAML, the expected services, and every chainlake service's environment loads into
//! the typed config and its command parses with the real binary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)] // tests fail loudly on purpose

use std::collections::BTreeMap;
use std::path::Path;

use chainlake::config::Config;
use figment::Jail;
use serde_yaml_ng::Value;

fn compose() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docker-compose.yml");
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `${VAR:-default}` → `default`, as compose would without VAR.
fn resolve(v: &str) -> String {
    match v.strip_prefix("${").and_then(|s| s.strip_suffix('}')).and_then(|s| s.split_once(":-")) {
        Some((_, default)) => default.to_owned(),
        None => v.to_owned(),
    }
}

#[test]
fn compose_has_the_stack() {
    let c = compose();
    let services = c["services"].as_mapping().unwrap();
    for s in
        ["kafka", "minio", "minio-init", "redis", "chainlake-ingest", "chainlake-sink", "chainlake-medallion"]
    {
        assert!(services.contains_key(s), "service {s} missing");
    }
    assert_eq!(
        c["services"]["kafka"]["environment"]["KAFKA_PROCESS_ROLES"].as_str(),
        Some("broker,controller")
    );
}

#[test]
fn chainlake_services_have_valid_config_and_commands() {
    let c = compose();
    for (name, svc) in c["services"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        if !name.starts_with("chainlake-") {
            continue;
        }
        assert_eq!(svc["build"]["dockerfile"].as_str(), Some("infra/Dockerfile"));
        let env: BTreeMap<String, String> = svc["environment"]
            .as_mapping()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.as_str().unwrap().to_owned(), resolve(v.as_str().unwrap())))
            .collect();
        Jail::expect_with(|jail| {
            for (k, v) in &env {
                jail.set_env(k, v);
            }
            let cfg = Config::load(None).map_err(|e| format!("{name}: {e}"))?;
            assert_eq!(cfg.kafka.brokers, "kafka:9092");
            assert!(cfg.lake.root.starts_with("s3://"));
            assert!(cfg.lake.storage_options.contains_key("aws-endpoint-url"));
            chainlake_medallion::lake::Lake::new(&cfg.lake).map_err(|e| e.to_string())?;
            Ok(())
        });
        let args: Vec<String> =
            svc["command"].as_sequence().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_chainlake"))
            .args(&args)
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: `chainlake {}` does not parse", args.join(" "));
    }
    assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join("infra/Dockerfile").exists());
}
