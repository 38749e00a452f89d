//! Shared set-up of the integration tests: real local services (started by
//! infra/local/up.sh), endpoints from the environment with loopback defaults, and a unique
//! namespace (topic prefix, sink id, lake prefix) per test so tests run in parallel.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose
#![allow(dead_code)]

pub mod proxy;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use chainlake::config::Config;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

pub fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_owned())
}

/// A name no other test (or earlier run) uses.
pub fn unique(name: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{name}-{}-{nanos}", std::process::id())
}

/// Defaults, pointed at the test services, namespaced by `name`, with its lake at `lake_root`.
pub fn test_config(name: &str, lake_root: &str) -> Config {
    let id = unique(name);
    let mut c = Config::defaults().expect("built-in defaults parse");
    c.kafka.brokers = env_or("CHAINLAKE_TEST_KAFKA", "127.0.0.1:9092");
    c.kafka.topic_prefix = format!("{id}.");
    c.sink.sink_id = format!("sink-{id}");
    c.sink.flush_interval = std::time::Duration::from_millis(300);
    c.lake.root = lake_root.to_owned();
    c.medallion.sql_dir = repo().join("sql");
    c.metrics.listen = String::new();
    c
}

/// The same, with the lake on the S3 server under a fresh prefix.
pub fn s3_config(name: &str) -> Config {
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
