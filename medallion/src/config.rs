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
    /// Directory with `silver_*.sql` and `gold_*.sql`, read at run time.
    pub sql_dir: PathBuf,
}
