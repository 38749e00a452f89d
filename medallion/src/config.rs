//! Configuration sections read by the medallion crate.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// `[lake]`: where the Delta tables live.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LakeConfig {
    /// A local directory (`./lake`, `file:///…`) or `s3://bucket/prefix`.
    pub root: String,
    /// Commits between classic checkpoints of each table.
    pub checkpoint_interval: u32,
    /// Object store options (e.g. `AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ALLOW_HTTP`).
    /// Credentials come from the environment (`AWS_ACCESS_KEY_ID`, …), never from this file.
    #[serde(default, deserialize_with = "scalars_as_strings")]
    pub storage_options: BTreeMap<String, String>,
}

/// Environment layers type `true` and `9000` as bool and number; object stores want strings.
fn scalars_as_strings<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        S(String),
        B(bool),
        I(i64),
        F(f64),
    }
    let raw = BTreeMap::<String, Scalar>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Scalar::S(s) => s,
                Scalar::B(b) => b.to_string(),
                Scalar::I(i) => i.to_string(),
                Scalar::F(f) => f.to_string(),
            };
            (k, v)
        })
        .collect())
}

/// `[sink]`: the Kafka → Bronze sink.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SinkConfig {
    /// Identifies this sink in the `txn` app ids of the Delta log (`{sink-id}-{topic}-{partition}`).
    pub sink_id: String,
    /// Flush a table when it has buffered this many rows…
    pub flush_rows: usize,
    /// …or when the sink's tables together buffer this many payload bytes (the largest
    /// flushes; this bounds memory however many topics there are)…
    pub flush_bytes: usize,
    /// …or its oldest buffered row is this old.
    #[serde(with = "humantime_serde")]
    pub flush_interval: Duration,
    /// Join a consumer group (replicas share partitions) or, when false, read every partition
    /// alone (one replica; restarts need no group rebalance). Offsets come from Delta either way.
    pub consumer_group: bool,
    /// Consumer-group session timeout: how soon a dead replica's partitions move to the others.
    #[serde(with = "humantime_serde")]
    pub session_timeout: Duration,
    /// How often consumer lag per partition is measured (one broker request per partition).
    #[serde(with = "humantime_serde")]
    pub lag_interval: Duration,
}

/// `[medallion]`: the Silver and Gold jobs.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MedallionConfig {
    /// A directory of `silver_*.sql` and `gold_*.sql` read at run time instead of the SQL
    /// compiled into the binary.
    #[serde(default)]
    pub sql_dir: Option<PathBuf>,
    /// Memory one job may use before DataFusion spills sorts and aggregates to disk.
    #[serde(default = "default_memory")]
    pub memory_limit: ByteSize,
    /// Days one commit of a job writes at most (a rebuild or a backlog is split).
    #[serde(default = "default_days_per_commit")]
    pub days_per_commit: usize,
    /// Input rows one commit reads at most, from the inputs' file statistics (fewer days per
    /// commit when the chain is busy); unset: one row per 128 bytes of `memory-limit`.
    #[serde(default)]
    pub rows_per_commit: Option<u64>,
}

/// Memory a medallion run may use before it spills (bytes), unless configured.
pub const DEFAULT_MEMORY: usize = 512 * 1024 * 1024;

/// Days one commit writes at most, unless configured (a week: Gold's week-long windows).
pub const DAYS_PER_COMMIT: usize = 7;

fn default_days_per_commit() -> usize {
    DAYS_PER_COMMIT
}

/// A size in bytes, written `512MiB`, `1GiB`, `1048576`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub usize);

fn default_memory() -> ByteSize {
    ByteSize(DEFAULT_MEMORY)
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        let parse = |s: &str| -> Option<usize> {
            let s = s.trim();
            let at = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            let n: usize = s[..at].parse().ok()?;
            let unit = match s[at..].trim() {
                "" | "B" => 1,
                "KiB" => 1 << 10,
                "MiB" => 1 << 20,
                "GiB" => 1 << 30,
                _ => return None,
            };
            n.checked_mul(unit)
        };
        match Raw::deserialize(d)? {
            Raw::N(n) => usize::try_from(n).map(ByteSize).map_err(serde::de::Error::custom),
            Raw::S(s) => parse(&s)
                .map(ByteSize)
                .ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not a size like 512MiB or 1GiB"))),
        }
    }
}
