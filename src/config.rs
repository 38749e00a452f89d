//! The one typed configuration of chainlake, loaded in layers with figment:
//! built-in defaults (`config/defaults.toml`) → TOML file → `CHAINLAKE__SECTION__KEY` env.

use std::path::{Path, PathBuf};

use chainlake_decode::AbiConfig;
use chainlake_ingest::config::{BackfillConfig, ChainConfig, HolesConfig, InvalidConfig, RpcConfig};
use chainlake_ingest::devnet::TrafficConfig;
use chainlake_ingest::keys::config::KeysConfig;
use chainlake_ingest::keys::ledger::scylla::ScyllaConfig;
use chainlake_medallion::config::{LakeConfig, MedallionConfig, SinkConfig};
use chainlake_wire::KafkaConfig;
use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;

/// The built-in defaults.
pub const DEFAULTS: &str = include_str!("../config/defaults.toml");

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    pub chain: ChainConfig,
    pub rpc: RpcConfig,
    pub backfill: BackfillConfig,
    /// Heights not yet published verified, and how they are re-driven.
    pub holes: HolesConfig,
    pub kafka: KafkaConfig,
    pub lake: LakeConfig,
    pub sink: SinkConfig,
    pub medallion: MedallionConfig,
    pub redis: RedisConfig,
    /// The API-key pool (none by default: `[rpc]` is used as configured).
    #[serde(default)]
    pub keys: KeysConfig,
    /// The usage ledger in ScyllaDB instead of Redis (`uri` set).
    #[serde(default)]
    pub scylla: ScyllaConfig,
    /// ABIs and bindings the decoders use (the built-in ABIs always).
    #[serde(default)]
    pub abi: AbiConfig,
    pub metrics: MetricsConfig,
    /// Dremio, when `url` is set: `dremio bootstrap` and metadata refreshes.
    #[serde(default)]
    pub dremio: crate::dremio::settings::DremioConfig,
    pub devnet: DevnetConfig,
}

/// `[redis]`: coordination state (the follower's canonical window).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RedisConfig {
    pub url: String,
}

/// `[metrics]`: the Prometheus endpoint, with `/healthz` and `/readyz` beside it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MetricsConfig {
    /// `host:port` of the `/metrics`, `/healthz` and `/readyz` listener; empty disables it.
    pub listen: String,
    /// How often Kafka, Redis and the lake are probed for `/readyz` (the node is never probed:
    /// its answers to the command's own requests count).
    #[serde(with = "humantime_serde")]
    pub probe_interval: std::time::Duration,
    /// A dependency is ready while it answered within this long and has not failed since.
    #[serde(with = "humantime_serde")]
    pub ready_within: std::time::Duration,
}

/// `[devnet]`: the local chain of the demo and the tests.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DevnetConfig {
    /// Where `infra/local/install.sh` put anvil and the contract packages; empty means
    /// `$CHAINLAKE_HOME`, or `$HOME/.cache/chainlake`.
    pub home: String,
    pub traffic: TrafficConfig,
}

impl DevnetConfig {
    pub fn home_dir(&self) -> PathBuf {
        if !self.home.is_empty() {
            return PathBuf::from(&self.home);
        }
        if let Ok(h) = std::env::var("CHAINLAKE_HOME") {
            return PathBuf::from(h);
        }
        let home = std::env::var("HOME").unwrap_or_else(|_| ".".into());
        Path::new(&home).join(".cache/chainlake")
    }

    pub fn anvil_bin(&self) -> PathBuf {
        self.home_dir().join("anvil/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
    }

    pub fn artifacts_dir(&self) -> PathBuf {
        self.home_dir().join("contracts/node_modules")
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(#[from] Box<figment::Error>);

impl Config {
    /// Loads defaults, then `file` (or `./chainlake.toml` if present), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut fig = Figment::from(Toml::string(DEFAULTS));
        match file {
            Some(f) => fig = fig.merge(Toml::file_exact(f)),
            None => fig = fig.merge(Toml::file("chainlake.toml")),
        }
        Self::from_figment(fig.merge(env_provider()))
    }

    /// Loads from explicit layers (tests).
    pub fn from_figment(fig: Figment) -> Result<Self, ConfigError> {
        fig.extract().map_err(|e| ConfigError(Box::new(e)))
    }

    /// Refuses values that cannot work (zero durations and sizes), naming the key; run at
    /// start, before anything connects.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        self.chain.validate()?;
        self.rpc.validate()?;
        self.backfill.validate()?;
        self.holes.validate()?;
        if self.keys.enabled() {
            self.keys.validate().map_err(|e| InvalidConfig { key: "keys", reason: e.to_string() })?;
        }
        let durations = [
            ("sink.flush-interval", self.sink.flush_interval),
            ("sink.session-timeout", self.sink.session_timeout),
            ("sink.lag-interval", self.sink.lag_interval),
            ("kafka.message-timeout", self.kafka.message_timeout),
            ("metrics.probe-interval", self.metrics.probe_interval),
            ("metrics.ready-within", self.metrics.ready_within),
        ];
        for (key, d) in durations {
            if d.is_zero() {
                return Err(InvalidConfig { key, reason: "must be longer than 0s".into() });
            }
        }
        if self.medallion.memory_limit.0 < 16 << 20 {
            return Err(InvalidConfig {
                key: "medallion.memory-limit",
                reason: "must be at least 16MiB".into(),
            });
        }
        if self.medallion.days_per_commit < 1 {
            return Err(InvalidConfig {
                key: "medallion.days-per-commit",
                reason: "must be at least 1".into(),
            });
        }
        if self.medallion.rows_per_commit == Some(0) {
            return Err(InvalidConfig {
                key: "medallion.rows-per-commit",
                reason: "must be at least 1 (leave it unset for the memory-derived default)".into(),
            });
        }
        if self.kafka.partitions < 1 {
            return Err(InvalidConfig { key: "kafka.partitions", reason: "must be at least 1".into() });
        }
        Ok(())
    }

    /// Only the built-in defaults.
    pub fn defaults() -> Result<Self, ConfigError> {
        Self::from_figment(Figment::from(Toml::string(DEFAULTS)))
    }
}

/// `CHAINLAKE__KAFKA__TOPIC_PREFIX` → `kafka.topic-prefix`.
pub fn env_provider() -> Env {
    Env::prefixed("CHAINLAKE__").map(|k| k.as_str().replace("__", ".").replace('_', "-").into())
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure type
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn defaults_parse() {
        let c = Config::defaults().unwrap();
        assert_eq!(c.chain.name, "devnet");
        assert_eq!(c.sink.flush_interval, std::time::Duration::from_secs(1));
    }

    #[test]
    fn precedence_defaults_file_env() {
        Jail::expect_with(|jail| {
            jail.create_file("c.toml", "[kafka]\nbrokers = \"file:1\"\ntopic-prefix = \"f-\"\n")?;
            jail.set_env("CHAINLAKE__KAFKA__TOPIC_PREFIX", "env-");
            let c = Config::load(Some(Path::new("c.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.kafka.brokers, "file:1");
            assert_eq!(c.kafka.topic_prefix, "env-");
            assert_eq!(c.kafka.partitions, 3);
            Ok(())
        });
    }

    #[test]
    fn fallback_providers_from_env() {
        Jail::expect_with(|jail| {
            jail.set_env(
                "CHAINLAKE__RPC__FALLBACKS",
                r#"[{pseudonym = "backup-1", url = "http://127.0.0.1:1/KEY", ws-url = "ws://127.0.0.1:1"}]"#,
            );
            let c = Config::load(None).map_err(|e| e.to_string())?;
            let p = c.rpc.providers();
            assert_eq!(p.len(), 2);
            assert_eq!(p[1].pseudonym, "backup-1");
            assert_eq!(p[1].ws_url, "ws://127.0.0.1:1");
            assert!(!format!("{c:?}").contains("KEY"));
            Ok(())
        });
    }

    #[test]
    fn values_that_cannot_work_are_refused_naming_the_key() {
        let mut c = Config::defaults().unwrap();
        assert_eq!(c.validate(), Ok(()));
        c.rpc.poll_interval = std::time::Duration::ZERO;
        let err = c.validate().unwrap_err().to_string();
        assert_eq!(err, "invalid configuration: rpc.poll-interval must be longer than 0s");
        let mut c = Config::defaults().unwrap();
        c.sink.flush_interval = std::time::Duration::ZERO;
        assert!(c.validate().unwrap_err().to_string().contains("sink.flush-interval"));
        let mut c = Config::defaults().unwrap();
        c.backfill.chunk_size = 0;
        assert!(c.validate().unwrap_err().to_string().contains("backfill.chunk-size"));
    }

    #[test]
    fn unknown_keys_are_refused() {
        Jail::expect_with(|jail| {
            jail.create_file("c.toml", "[kafka]\nbrokerz = \"x\"\n")?;
            let err =
                Config::load(Some(Path::new("c.toml"))).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("brokerz"), "{err}");
            Ok(())
        });
    }
}
