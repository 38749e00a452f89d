//! Shared set-up of the integration tests: real local services (started by
//! infra/local/up.sh), endpoints from the environment with loopback defaults, and a unique
//! namespace (topic prefix, sink id, lake prefix) per test so tests run in parallel.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose
#![allow(dead_code, unreachable_pub)] // shared by test crates that each use a part

pub mod keys;
pub mod lies;
pub mod node;
pub mod proxy;
pub mod sink;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chainlake::config::Config;
use chainlake::pipeline;
use chainlake_ingest::devnet::Anvil;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

pub fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_owned())
}

/// A loopback port nothing listens on now (for a process the test starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A name no other test (or earlier run) uses.
pub fn unique(name: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{name}-{}-{nanos}", std::process::id())
}

/// A real service an integration test needs.
#[derive(Debug, Clone, Copy)]
pub enum Service {
    Kafka,
    Redis,
    S3,
    S3Auth,
    Provider,
}

impl Service {
    fn endpoint(self) -> (&'static str, String) {
        match self {
            Service::Kafka => ("Kafka (tansu)", env_or("CHAINLAKE_TEST_KAFKA", "127.0.0.1:9092")),
            Service::Redis => ("Redis", env_or("CHAINLAKE_TEST_REDIS", "redis://127.0.0.1:6379")),
            Service::S3 => ("S3 (moto)", env_or("CHAINLAKE_TEST_S3", "http://127.0.0.1:9000")),
            Service::S3Auth => {
                ("S3 with IAM (moto)", env_or("CHAINLAKE_TEST_S3_AUTH", "http://127.0.0.1:9001"))
            }
            Service::Provider => {
                ("the provider front (nginx)", env_or("CHAINLAKE_TEST_PROVIDER", "http://127.0.0.1:8700"))
            }
        }
    }
}

/// Fails at once, with one line naming the service and how to start it, when one of
/// `services` does not accept connections.
pub fn require(services: &[Service]) {
    for s in services {
        let (name, endpoint) = s.endpoint();
        let hostport =
            endpoint.split("://").last().unwrap_or(&endpoint).split('/').next().unwrap_or("").to_owned();
        let up = hostport
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok());
        assert!(
            up,
            "{name} is not running at {endpoint}: start the test services with `bash infra/local/up.sh`"
        );
    }
}

/// A fresh anvil (the binary infra/local/install.sh installs), or one line saying how to get it.
pub async fn anvil(cfg: &Config, args: &[&str]) -> Anvil {
    let bin = cfg.devnet.anvil_bin();
    assert!(bin.exists(), "anvil is not installed at {}: run `bash infra/local/up.sh`", bin.display());
    Anvil::spawn(&bin, args).await.unwrap()
}

/// Polls `check` until it yields a value; fails with `what` once `deadline` has passed.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let until = Instant::now() + deadline;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < until, "{what}: not within {deadline:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A seeded random source (SplitMix64). The seed is printed, and `CHAINLAKE_TEST_SEED`
/// replays a run.
pub struct Rng(u64);

impl Rng {
    pub fn new(test: &str) -> Self {
        let seed =
            std::env::var("CHAINLAKE_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
                SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
                    ^ u64::from(std::process::id())
            });
        println!("{test}: seed {seed} (replay with CHAINLAKE_TEST_SEED={seed})");
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

/// Defaults, pointed at the test services, namespaced by `name`, with its lake at `lake_root`.
/// `chainlake ingest backfill --from 0 --to {to} --chunk-size {chunk}` (the real binary) on
/// `cfg`'s node, Kafka and Redis, without metrics or progress bar; stdout piped.
pub fn backfill_command(cfg: &Config, to: u64, chunk: u64) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_chainlake"));
    cmd.args(["ingest", "backfill", "--from", "0", "--to", &to.to_string()])
        .args(["--chunk-size", &chunk.to_string(), "--no-progress"])
        .env("CHAINLAKE__RPC__URL", &cfg.rpc.url)
        .env("CHAINLAKE__KAFKA__BROKERS", &cfg.kafka.brokers)
        .env("CHAINLAKE__KAFKA__TOPIC_PREFIX", &cfg.kafka.topic_prefix)
        .env("CHAINLAKE__REDIS__URL", &cfg.redis.url)
        .env("CHAINLAKE__METRICS__LISTEN", "")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    cmd
}

pub fn test_config(name: &str, lake_root: &str) -> Config {
    require(&[Service::Kafka, Service::Redis]);
    let id = unique(name);
    let mut c = Config::defaults().expect("built-in defaults parse");
    c.kafka.brokers = env_or("CHAINLAKE_TEST_KAFKA", "127.0.0.1:9092");
    c.redis.url = env_or("CHAINLAKE_TEST_REDIS", &c.redis.url);
    c.kafka.topic_prefix = format!("{id}.");
    c.sink.sink_id = format!("sink-{id}");
    c.sink.flush_interval = std::time::Duration::from_millis(300);
    c.lake.root = lake_root.to_owned();
    c.medallion.sql_dir = None; // the SQL compiled into the binary
    c.metrics.listen = String::new();
    c
}

/// A provider policy for fronts that fault and lie: every fault reaches chainlake's own
/// policy (no retries in the transport layer), short timeouts and backoffs.
pub fn stormy(cfg: &mut Config) {
    cfg.rpc.max_retries = 0;
    cfg.rpc.request_timeout = Duration::from_millis(800);
    cfg.rpc.initial_backoff = Duration::from_millis(10);
    cfg.rpc.max_backoff = Duration::from_millis(100);
    cfg.rpc.give_up_after = Duration::from_secs(120);
    cfg.rpc.max_failures = 3;
    cfg.rpc.poll_interval = Duration::from_millis(20);
}

/// The same, with the lake on the S3 server under a fresh prefix.
pub fn s3_config(name: &str) -> Config {
    require(&[Service::S3]);
    let bucket = env_or("CHAINLAKE_TEST_BUCKET", "chainlake");
    let mut c = test_config(name, &format!("s3://{bucket}/{}", unique(name)));
    let opts = &mut c.lake.storage_options;
    opts.insert("AWS_ENDPOINT_URL".into(), env_or("CHAINLAKE_TEST_S3", "http://127.0.0.1:9000"));
    opts.insert("AWS_REGION".into(), "us-east-1".into());
    opts.insert("AWS_ALLOW_HTTP".into(), "true".into());
    // moto accepts any credentials; real deployments pass them through the environment.
    opts.insert("AWS_ACCESS_KEY_ID".into(), "test".into());
    opts.insert("AWS_SECRET_ACCESS_KEY".into(), "test".into());
    c
}

pub fn mainnet(file: &str) -> serde_json::Value {
    let path = repo().join("testdata/mainnet").join(file);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture exists")).expect("fixture is JSON")
}

/// A child process killed when dropped: a failing test leaves no orphan sink or follower.
pub struct Reaped(Option<std::process::Child>);

impl Reaped {
    pub fn new(child: std::process::Child) -> Self {
        Reaped(Some(child))
    }

    pub fn wait_with_output(mut self) -> std::process::Output {
        self.0.take().unwrap().wait_with_output().unwrap()
    }
}

impl Reaped {
    /// SIGINT, then waits up to `deadline` for a graceful exit; a process still running then is
    /// killed (SIGKILL) and reported on stdout, so a stuck shutdown never hangs a test run.
    /// Returns whether it stopped by itself.
    pub fn interrupt_within(&mut self, deadline: Duration) -> bool {
        let child = self.0.as_mut().unwrap();
        let _ = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status();
        let until = Instant::now() + deadline;
        while Instant::now() < until {
            if child.try_wait().unwrap().is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        println!("WARNING: pid {} did not stop within {deadline:?} of SIGINT: killed", child.id());
        let _ = child.kill();
        let _ = child.wait();
        false
    }
}

impl std::ops::Deref for Reaped {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        self.0.as_ref().unwrap()
    }
}

impl std::ops::DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.0.as_mut().unwrap()
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Silver's canonical chain after a medallion run: height → block hash.
pub async fn silver_blocks(cfg: &Config) -> BTreeMap<u64, String> {
    pipeline::medallion(cfg).await.unwrap();
    let sql = "SELECT CAST(number AS VARCHAR), hash FROM silver.blocks";
    let rows = pipeline::rows(&pipeline::query(cfg, sql).await.unwrap()).unwrap();
    rows.into_iter().map(|r| (r[0].parse().unwrap(), r[1].clone())).collect()
}

/// Heights of `canonical` that `silver` lacks, and heights where it holds another block.
pub fn chain_diff(canonical: &BTreeMap<u64, String>, silver: &BTreeMap<u64, String>) -> (Vec<u64>, Vec<u64>) {
    let missing = canonical.keys().filter(|n| !silver.contains_key(n)).copied().collect();
    let wrong = silver.iter().filter(|(n, h)| canonical.get(n) != Some(h)).map(|(n, _)| *n).collect();
    (missing, wrong)
}

/// Heights in `bronze.blocks` (as the sink left it) with how often each was written.
pub async fn bronze_heights(cfg: &Config) -> BTreeMap<u64, u64> {
    let sql = "SELECT CAST(number AS VARCHAR), CAST(count(*) AS VARCHAR) FROM bronze.blocks GROUP BY number";
    let rows = pipeline::rows(&pipeline::query(cfg, sql).await.unwrap()).unwrap();
    rows.iter().map(|r| (r[0].parse().unwrap(), r[1].parse().unwrap())).collect()
}

/// Silver's transactions as [`node::transactions`] describes the node's (after a medallion run).
pub async fn silver_transactions(cfg: &Config) -> BTreeMap<String, Vec<String>> {
    let sql = "SELECT lower(hash), CAST(block_number AS VARCHAR), lower(from_address), \
               coalesce(lower(to_address), ''), CAST(value_wei AS VARCHAR), CAST(status AS VARCHAR), \
               CAST(gas_used AS VARCHAR), CAST(effective_gas_price AS VARCHAR), \
               coalesce(lower(contract_address), ''), CAST(logs_count AS VARCHAR) FROM silver.transactions";
    let rows = pipeline::rows(&pipeline::query(cfg, sql).await.unwrap()).unwrap();
    rows.into_iter().map(|mut r| (r.remove(0), r)).collect()
}

/// Every value of Silver (blocks and transactions) differing from the node's, up to `to`:
/// heights missing or holding another block, and transactions missing, extra or different.
pub async fn silver_differs_from_node(cfg: &Config, node_url: &str, to: u64) -> Vec<String> {
    let c = node::client(node_url);
    let (missing, wrong) = chain_diff(&node::chain(&c, to).await, &silver_blocks(cfg).await);
    let mut out: Vec<String> = missing.iter().map(|n| format!("height {n} missing")).collect();
    out.extend(wrong.iter().map(|n| format!("height {n} holds another block")));
    let (truth, silver) = (node::transactions(&c, to).await, silver_transactions(cfg).await);
    for (hash, facts) in &truth {
        match silver.get(hash) {
            None => out.push(format!("tx {hash} missing")),
            Some(s) if s != facts => out.push(format!("tx {hash}: silver {s:?}, node {facts:?}")),
            Some(_) => {}
        }
    }
    out.extend(
        silver.keys().filter(|h| !truth.contains_key(*h)).map(|h| format!("tx {h} not on the node's chain")),
    );
    out
}
