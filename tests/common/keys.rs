//! The key pool tests' shared parts: a pool config over the nginx front's key paths, the
//! `ingest backfill` / `ingest follow` replicas they start, nginx's audit log of every request
//! (with the lease it was sent under), and the checks of what Bronze holds afterwards.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::Duration;

use chainlake::config::Config;
use chainlake::pipeline;
use chainlake_medallion::bronze::Until;
use tokio_util::sync::CancellationToken;

/// A config file with a pool of `keys` (secrets `pool_<n>` in env vars `POOL_SECRET_<n>`);
/// `quota`: the first key's requests per day.
pub fn pool_config(dir: &std::path::Path, keys: &[u32], quota: Option<u64>) -> std::path::PathBuf {
    pool_config_with(dir, keys, quota, "")
}

/// The same, with `settings` (TOML lines) added to `[keys]`.
pub fn pool_config_with(
    dir: &std::path::Path,
    keys: &[u32],
    quota: Option<u64>,
    settings: &str,
) -> std::path::PathBuf {
    let provider = super::env_or("CHAINLAKE_TEST_PROVIDER", "http://127.0.0.1:8700");
    let mut toml = format!(
        "[keys]\nlease-ttl = \"4s\"\nheartbeat = \"1s\"\n{settings}\n[[keys.providers]]\nname = \"front\"\n\
         url = \"{provider}/v3/{{key}}\"\nrequests-per-second = 10\nburst = 5\n"
    );
    for (i, k) in keys.iter().enumerate() {
        toml.push_str(&format!(
            "\n[[keys.keys]]\npseudonym = \"key-{k}\"\nprovider = \"front\"\nsecret-env = \"POOL_SECRET_{k}\"\n"
        ));
        if let (0, Some(q)) = (i, quota) {
            toml.push_str(&format!("requests-per-day = {q}\n"));
        }
    }
    let path = dir.join("pool.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

/// `chainlake ingest backfill --from 0 --to {to}` over the pool.
pub fn backfill(
    cfg: &Config,
    config: &std::path::Path,
    keys: &[u32],
    to: u64,
    log: &std::path::Path,
) -> super::Reaped {
    let to = to.to_string();
    let args = ["ingest", "backfill", "--from", "0", "--to", &to, "--chunk-size", "50", "--no-progress"];
    replica_env(cfg, config, keys, &args, log, "", &[])
}

/// `chainlake ARGS` over the pool of `config`, logging to `log`, serving `/metrics` on
/// `metrics` (empty: none), with `env` added to (or overriding) its environment.
pub fn replica_env(
    cfg: &Config,
    config: &std::path::Path,
    keys: &[u32],
    args: &[&str],
    log: &std::path::Path,
    metrics: &str,
    env: &[(&str, &str)],
) -> super::Reaped {
    let mut cmd = pool_command(cfg, config, keys, args);
    cmd.env("CHAINLAKE__LAKE__ROOT", &cfg.lake.root)
        .env("CHAINLAKE__METRICS__LISTEN", metrics)
        .env("CHAINLAKE__BACKFILL__LEASE_TTL", "3s")
        .env("CHAINLAKE__BACKFILL__CHECKPOINT_INTERVAL", "1s")
        .env("RUST_LOG", "info")
        .stdout(Stdio::from(std::fs::File::create(log.with_extension("out")).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(log).unwrap()))
        .envs(env.iter().copied());
    super::Reaped::new(cmd.spawn().unwrap())
}

/// nginx's lines for `keys`: (ms, status, key path, lease `replica|token`).
pub fn front_log(keys: &[u32]) -> Vec<(f64, u16, String, String)> {
    let log = super::env_or("CHAINLAKE_TEST_PROVIDER_LOG", "");
    let log = std::path::Path::new(&log).with_file_name("pool.log");
    let paths: BTreeSet<String> = keys.iter().map(|k| format!("/v3/pool_{k}")).collect();
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            let (ms, status, path, lease) = (f.next()?, f.next()?, f.next()?, f.next().unwrap_or("-"));
            paths
                .contains(path)
                .then(|| (ms.parse().ok(), status.parse().ok()))
                .and_then(|(m, s)| Some((m?, s?, path.to_owned(), lease.to_owned())))
        })
        .collect()
}

/// Per key, the time span of each lease; two leases' spans of one key must not overlap.
pub fn overlaps(lines: &[(f64, u16, String, String)]) -> Vec<String> {
    let mut spans: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
    for (ms, _, path, lease) in lines {
        let s = spans.entry((path.clone(), lease.clone())).or_insert((*ms, *ms));
        s.0 = s.0.min(*ms);
        s.1 = s.1.max(*ms);
    }
    let mut bad = Vec::new();
    for ((p1, l1), (a1, b1)) in &spans {
        for ((p2, l2), (a2, b2)) in &spans {
            if p1 == p2 && l1 < l2 && a1 <= b2 && a2 <= b1 {
                bad.push(format!("{p1}: {l1} [{a1}, {b1}] and {l2} [{a2}, {b2}]"));
            }
        }
    }
    bad
}

/// Bronze holds every height `0..=to` exactly once (`once`), or at least once.
pub async fn assert_every_block(cfg: &Config, to: u64, once: bool) {
    pipeline::sink(cfg, Until::CaughtUp, &CancellationToken::new()).await.unwrap();
    assert_every_block_from(cfg, 0, to, once).await;
}

/// Bronze (as the sink left it) holds every height `from..=to` exactly once (`once`), or at least once.
pub async fn assert_every_block_from(cfg: &Config, from: u64, to: u64, once: bool) {
    let heights = super::bronze_heights(cfg).await;
    assert_eq!(heights.keys().copied().collect::<Vec<_>>(), (from..=to).collect::<Vec<_>>(), "every block");
    let twice: Vec<_> = heights.iter().filter(|(_, n)| **n > 1).collect();
    assert!(!once || twice.is_empty(), "every block once; more than once: {twice:?}");
}

/// Waits until every replica exited, and that with success.
pub async fn finish(replicas: &mut [super::Reaped], logs: &[std::path::PathBuf]) {
    super::eventually("the replicas finished", Duration::from_secs(240), || {
        let done = replicas.iter_mut().all(|r| r.try_wait().unwrap().is_some());
        async move { done.then_some(()) }
    })
    .await;
    for (r, log) in replicas.iter_mut().zip(logs) {
        let status = r.try_wait().unwrap().unwrap();
        assert!(status.success(), "{status}: {}", std::fs::read_to_string(log).unwrap_or_default());
    }
}

/// `chainlake ARGS` with the pool of `config` (its secrets in the environment) and the test's
/// Kafka, topic prefix and Redis.
pub fn pool_command(cfg: &Config, config: &std::path::Path, keys: &[u32], args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chainlake"));
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .env("CHAINLAKE__KAFKA__BROKERS", &cfg.kafka.brokers)
        .env("CHAINLAKE__KAFKA__TOPIC_PREFIX", &cfg.kafka.topic_prefix)
        .env("CHAINLAKE__REDIS__URL", &cfg.redis.url)
        .env("CHAINLAKE__METRICS__LISTEN", "");
    for k in keys {
        cmd.env(format!("POOL_SECRET_{k}"), format!("pool_{k}"));
    }
    cmd
}

/// `chainlake keys status`'s table.
pub fn keys_status(config: &std::path::Path, cfg: &Config, keys: &[u32]) -> String {
    let out = pool_command(cfg, config, keys, &["keys", "status"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
