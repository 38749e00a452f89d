//! docker-compose.yml and infra/swarm/stack.yml cannot run here (no Docker engine), so they
//! are checked for consistency: valid YAML, the expected services, pinned image tags, health
//! checks, declared volumes, secrets and configs, files that exist, every variable in
//! .env.example, and every chainlake service's environment (and config file) loads into the
//! typed config and its command parses with the real binary. Both files are also loaded by
//! Docker's own tools, which need no engine: `docker-compose config` (Compose's schema,
//! installed by infra/local/install.sh) and, where the Docker CLI has it, `docker stack config`
//! (the loader `docker stack deploy` uses).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chainlake::config::Config;
use figment::Jail;
use serde_yaml_ng::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn yaml(path: &str) -> Value {
    let mut v: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(repo().join(path)).unwrap()).unwrap();
    v.apply_merge().unwrap(); // the `<<: *anchor` service templates
    v
}

/// `${VAR:-default}` / `${VAR-default}` → `default`, as compose would without VAR, anywhere in `v`.
fn resolve(v: &str) -> String {
    let mut out = String::new();
    let mut rest = v;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let end = rest[at..].find('}').map_or(rest.len(), |e| at + e);
        let inner = &rest[at + 2..end];
        let default = inner.split_once(":-").or_else(|| inner.split_once('-')).map_or("", |(_, d)| d);
        out.push_str(default);
        rest = &rest[(end + 1).min(rest.len())..];
    }
    out.push_str(rest);
    out
}

fn variables(text: &str) -> BTreeSet<String> {
    text.split("${").skip(1).map(|s| s.split(['}', ':', '-']).next().unwrap_or("").to_owned()).collect()
}

fn services(doc: &Value) -> Vec<(String, Value)> {
    doc["services"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_owned(), v.clone()))
        .collect()
}

fn image_is_pinned(name: &str, svc: &Value) {
    let image = resolve(svc["image"].as_str().unwrap_or_else(|| panic!("{name}: no image")));
    let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
    assert!(!tag.is_empty() && tag != "latest" && !tag.contains('/'), "{name}: image {image} is not pinned");
}

fn env_of(svc: &Value) -> BTreeMap<String, String> {
    svc["environment"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_owned(), resolve(v.as_str().unwrap())))
        .collect()
}

/// The service's config (its environment over `file`, if any) loads; returns it.
fn load(name: &str, env: &BTreeMap<String, String>, file: Option<&Path>) -> Config {
    let mut loaded = None;
    Jail::expect_with(|jail| {
        for (k, v) in env {
            jail.set_env(k, v);
        }
        let cfg = Config::load(file).map_err(|e| format!("{name}: {e}"))?;
        cfg.validate().map_err(|e| format!("{name}: {e}"))?;
        chainlake_medallion::lake::Lake::new(&cfg.lake).map_err(|e| e.to_string())?;
        loaded = Some(cfg);
        Ok(())
    });
    loaded.unwrap()
}

fn command_parses(name: &str, svc: &Value) {
    let args: Vec<String> =
        svc["command"].as_sequence().unwrap().iter().map(|a| resolve(a.as_str().unwrap())).collect();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chainlake"))
        .args(&args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name}: `chainlake {}` does not parse: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn compose_has_the_full_stack_pinned_and_checked() {
    let c = yaml("docker-compose.yml");
    let names: BTreeSet<String> = services(&c).into_iter().map(|(n, _)| n).collect();
    for s in [
        "kafka",
        "minio",
        "minio-init",
        "redis",
        "scylla",
        "scylla-init",
        "nessie",
        "dremio",
        "prometheus",
        "grafana",
        "chainlake-follow",
        "chainlake-backfill",
        "chainlake-sink",
        "chainlake-medallion",
        "chainlake-keys-monitor",
    ] {
        assert!(names.contains(s), "service {s} missing");
    }
    assert_eq!(
        c["services"]["kafka"]["environment"]["KAFKA_PROCESS_ROLES"].as_str(),
        Some("broker,controller")
    );
    let declared: BTreeSet<&str> =
        c["volumes"].as_mapping().unwrap().keys().map(|k| k.as_str().unwrap()).collect();
    for (name, svc) in services(&c) {
        image_is_pinned(&name, &svc);
        if !name.ends_with("-init") {
            assert!(svc["healthcheck"]["test"].is_sequence(), "{name}: no health check");
        }
        for v in svc["volumes"].as_sequence().cloned().unwrap_or_default() {
            let source = v.as_str().unwrap().split(':').next().unwrap().to_owned();
            if let Some(path) = source.strip_prefix("./") {
                assert!(repo().join(path).exists(), "{name}: mounts {source}, which does not exist");
            } else {
                assert!(declared.contains(source.as_str()), "{name}: volume {source} is not declared");
            }
        }
    }
    let example = std::fs::read_to_string(repo().join(".env.example")).unwrap();
    let listed: BTreeSet<String> = example
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_owned()))
        .filter(|k| !k.starts_with('#'))
        .collect();
    let used = variables(&std::fs::read_to_string(repo().join("docker-compose.yml")).unwrap());
    let missing: Vec<&String> = used.difference(&listed).collect();
    assert!(missing.is_empty(), ".env.example lacks {missing:?}");
}

#[test]
fn compose_chainlake_services_load_their_config_and_parse_their_commands() {
    let c = yaml("docker-compose.yml");
    let mut seen = 0;
    for (name, svc) in services(&c) {
        if !name.starts_with("chainlake-") {
            continue;
        }
        seen += 1;
        assert_eq!(svc["build"]["dockerfile"].as_str(), Some("infra/Dockerfile"));
        let test = svc["healthcheck"]["test"].as_sequence().unwrap();
        assert!(
            test.iter().any(|t| t.as_str().is_some_and(|t| t.ends_with(":9898/readyz"))),
            "{name}: checks /readyz"
        );
        let cfg = load(&name, &env_of(&svc), None);
        assert_eq!(cfg.kafka.brokers, "kafka:9092");
        assert_eq!(cfg.metrics.listen, "0.0.0.0:9898");
        assert!(cfg.lake.root.starts_with("s3://"));
        assert!(cfg.lake.storage_options.contains_key("aws-endpoint-url"));
        command_parses(&name, &svc);
    }
    assert_eq!(seen, 5);
    assert!(repo().join("infra/Dockerfile").exists());
}

#[test]
fn swarm_stack_declares_what_it_uses_and_its_services_load() {
    let s = yaml("infra/swarm/stack.yml");
    let dir = repo().join("infra/swarm");
    let secrets: BTreeSet<&str> =
        s["secrets"].as_mapping().unwrap().keys().map(|k| k.as_str().unwrap()).collect();
    let configs = s["configs"].as_mapping().unwrap();
    for (name, c) in configs {
        let file = dir.join(c["file"].as_str().unwrap());
        assert!(file.exists(), "config {name:?}: {} does not exist", file.display());
    }
    assert_eq!(s["networks"]["chainlake"]["driver"].as_str(), Some("overlay"));
    let mut chainlake_services = 0;
    for (name, svc) in services(&s) {
        image_is_pinned(&name, &svc);
        assert!(svc["deploy"]["replicas"].as_u64().is_some(), "{name}: replicas");
        for used in svc["secrets"].as_sequence().cloned().unwrap_or_default() {
            assert!(secrets.contains(used.as_str().unwrap()), "{name}: secret {used:?} is not declared");
        }
        let mut toml = None;
        for used in svc["configs"].as_sequence().cloned().unwrap_or_default() {
            let source = used["source"].as_str().unwrap();
            assert!(configs.contains_key(source), "{name}: config {source} is not declared");
            if used["target"].as_str().is_some_and(|t| t.ends_with(".toml")) {
                toml = Some(dir.join(s["configs"][source]["file"].as_str().unwrap()));
            }
        }
        if svc["image"].as_str().is_some_and(|i| i.starts_with("chainlake:")) {
            chainlake_services += 1;
            assert!(svc["deploy"]["restart_policy"]["condition"].is_string(), "{name}: restart policy");
            assert!(svc["deploy"]["resources"]["limits"]["memory"].is_string(), "{name}: memory limit");
            let test = svc["healthcheck"]["test"].as_sequence().unwrap();
            assert!(
                test.iter().any(|t| t.as_str().is_some_and(|t| t.ends_with(":9898/healthz"))),
                "{name}: checks /healthz"
            );
            let cfg = load(&name, &env_of(&svc), toml.as_deref());
            assert!(cfg.keys.enabled(), "{name}: the key pool is configured");
            for k in &cfg.keys.keys {
                let file = k.secret_file.as_ref().unwrap_or_else(|| panic!("{}: a secret file", k.pseudonym));
                let secret = file.strip_prefix("/run/secrets/").unwrap().to_str().unwrap();
                assert!(
                    secrets.contains(secret),
                    "{name}: key {} reads secret {secret}, not declared",
                    k.pseudonym
                );
                assert_eq!(secret, k.pseudonym, "a key's secret is named by its pseudonym");
            }
            command_parses(&name, &svc);
        }
    }
    assert_eq!(chainlake_services, 5);
    let text = std::fs::read_to_string(dir.join("stack.yml")).unwrap()
        + &std::fs::read_to_string(dir.join("chainlake.toml")).unwrap();
    assert!(!text.contains("${"), "the stack takes no compose-style variables");
}

/// Runs a Docker tool in the repository; its failure names the file and what the tool said.
fn docker_tool(program: &str, args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new(program)
        .args(args)
        .current_dir(repo())
        .env_remove("COMPOSE_PROJECT_NAME")
        .output()
        .unwrap_or_else(|e| panic!("{program} (infra/local/install.sh installs it): {e}"));
    assert!(
        out.status.success(),
        "`{program} {}` refused it:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn compose_file_loads_in_docker_compose_with_the_example_env() {
    // `config` validates as it resolves: the resolved file is also read back below.
    let out =
        docker_tool("docker-compose", &["--env-file", ".env.example", "-f", "docker-compose.yml", "config"]);
    let resolved: Value = serde_yaml_ng::from_slice(&out.stdout).unwrap();
    let follow = &resolved["services"]["chainlake-follow"];
    assert!(follow["healthcheck"]["test"].is_sequence(), "compose kept the health check: {follow:?}");
    let services = resolved["services"].as_mapping().unwrap().len();
    assert_eq!(services, services_of("docker-compose.yml"), "compose dropped no service");
}

#[test]
fn swarm_stack_loads_in_compose_schema() {
    // Compose's v3 schema covers `deploy`, secrets and configs (compose warns that it would
    // ignore configs: only `docker stack deploy` uses them).
    docker_tool("docker-compose", &["-f", "infra/swarm/stack.yml", "config", "-q"]);
}

#[test]
#[ignore = "needs the docker CLI 23.0 or later (`docker stack config`): run with --ignored"]
fn swarm_stack_loads_in_docker_stack_config() {
    let out = docker_tool("docker", &["stack", "config", "-c", "infra/swarm/stack.yml"]);
    let resolved: Value = serde_yaml_ng::from_slice(&out.stdout).unwrap();
    assert_eq!(
        resolved["services"].as_mapping().unwrap().len(),
        services_of("infra/swarm/stack.yml"),
        "the swarm loader dropped no service"
    );
}

fn services_of(path: &str) -> usize {
    services(&yaml(path)).len()
}
