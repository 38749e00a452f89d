//! `[keys]`: the API keys of the chain's hosted providers, shared by every replica.
//!
//! A provider is a URL template with `{key}` where the secret goes; a key is a pseudonym, the
//! provider it belongs to, where its secret comes from (an environment variable or a file such
//! as a Docker/Swarm secret under `/run/secrets/`) and its limits. Only the pseudonym ever
//! appears in logs, Kafka, metrics, tables or errors; `Debug` of every type here hides secrets.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::KeyError;

/// `[keys]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct KeysConfig {
    /// Hosted providers by name.
    #[serde(default)]
    pub providers: Vec<KeyProvider>,
    /// The keys, by pseudonym.
    #[serde(default)]
    pub keys: Vec<KeyConfig>,
    /// How long a lease lasts without a heartbeat (a killed replica's key is free after it).
    #[serde(default = "default_lease_ttl", with = "humantime_serde")]
    pub lease_ttl: Duration,
    /// How often a held lease is renewed (well under `lease-ttl`).
    #[serde(default = "default_heartbeat", with = "humantime_serde")]
    pub heartbeat: Duration,
    /// A replica gives its key up after holding it this long, so that usage stays even.
    #[serde(default = "default_rotate_after", with = "humantime_serde")]
    pub rotate_after: Duration,
    /// How long a key rests after a 429 or quota answer without `Retry-After`.
    #[serde(default = "default_cooldown", with = "humantime_serde")]
    pub cooldown: Duration,
    /// Longest wait between two attempts to lease a key while none is free.
    #[serde(default = "default_max_wait", with = "humantime_serde")]
    pub max_wait: Duration,
}

/// `[[keys.providers]]`: one hosted provider and the default limits of its keys.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct KeyProvider {
    pub name: String,
    /// HTTP(S) endpoint with `{key}` where the secret goes (path or query).
    pub url: String,
    /// WebSocket endpoint for `newHeads`, with `{key}`; empty: poll.
    #[serde(default)]
    pub ws_url: String,
    #[serde(flatten)]
    pub limits: Limits,
}

/// Limits of a key (a provider's defaults; a key may override each).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Limits {
    pub requests_per_second: Option<u32>,
    pub burst: Option<u32>,
    pub requests_per_day: Option<u64>,
    /// Requests (or compute units) one call of a method costs; 1 when not listed.
    #[serde(default)]
    pub method_weights: BTreeMap<String, u32>,
}

/// `[[keys.keys]]`: one key.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct KeyConfig {
    /// The only name of the key anywhere (logs, Kafka, metrics, tables, errors).
    pub pseudonym: String,
    /// `[[keys.providers]]` name.
    pub provider: String,
    /// Environment variable holding the secret.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// File holding the secret (trailing whitespace trimmed), e.g. `/run/secrets/infura_1`.
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    #[serde(flatten)]
    pub limits: Limits,
}

impl std::fmt::Debug for KeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyConfig")
            .field("pseudonym", &self.pseudonym)
            .field("provider", &self.provider)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

fn default_lease_ttl() -> Duration {
    Duration::from_secs(15)
}
fn default_heartbeat() -> Duration {
    Duration::from_secs(5)
}
fn default_rotate_after() -> Duration {
    Duration::from_secs(600)
}
fn default_cooldown() -> Duration {
    Duration::from_secs(30)
}
fn default_max_wait() -> Duration {
    Duration::from_secs(5)
}

/// A key ready to use: its endpoint with the secret in it, and its effective limits.
#[derive(Clone, PartialEq)]
pub struct ResolvedKey {
    pub pseudonym: String,
    pub provider: String,
    /// The endpoint with the secret: never logged (no `Debug` shows it).
    pub url: String,
    pub ws_url: String,
    /// Requests per second (governor's rate); `None`: unlimited.
    pub per_second: Option<u32>,
    /// Requests that may go at once above the rate.
    pub burst: u32,
    pub per_day: Option<u64>,
    pub weights: BTreeMap<String, u32>,
}

impl std::fmt::Debug for ResolvedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedKey")
            .field("pseudonym", &self.pseudonym)
            .field("provider", &self.provider)
            .field("per_second", &self.per_second)
            .field("burst", &self.burst)
            .field("per_day", &self.per_day)
            .finish_non_exhaustive()
    }
}

impl ResolvedKey {
    /// What one call of `method` costs against the key's limits.
    pub fn weight(&self, method: &str) -> u32 {
        self.weights.get(method).copied().unwrap_or(1).max(1)
    }
}

impl KeysConfig {
    /// Whether a key pool is configured (else `rpc.url`/`rpc.fallbacks` are used as they are).
    pub fn enabled(&self) -> bool {
        !self.keys.is_empty()
    }

    /// Every key with its secret read (from `env`, or its file) and its limits merged over its
    /// provider's. Errors name the key by pseudonym and never carry the secret.
    pub fn resolve(&self, env: impl Fn(&str) -> Option<String>) -> Result<Vec<ResolvedKey>, KeyError> {
        self.validate()?;
        let mut out = Vec::with_capacity(self.keys.len());
        for k in &self.keys {
            let provider = self.providers.iter().find(|p| p.name == k.provider).ok_or_else(|| {
                KeyError::Config { key: k.pseudonym.clone(), reason: format!("no provider `{}`", k.provider) }
            })?;
            let secret = read_secret(k, &env)?;
            let limits = |own: Option<u32>, default: Option<u32>| own.or(default);
            let mut weights = provider.limits.method_weights.clone();
            weights.extend(k.limits.method_weights.clone());
            let per_second = limits(k.limits.requests_per_second, provider.limits.requests_per_second);
            out.push(ResolvedKey {
                pseudonym: k.pseudonym.clone(),
                provider: provider.name.clone(),
                url: provider.url.replace("{key}", &secret),
                ws_url: provider.ws_url.replace("{key}", &secret),
                per_second,
                burst: limits(k.limits.burst, provider.limits.burst).or(per_second).unwrap_or(1).max(1),
                per_day: k.limits.requests_per_day.or(provider.limits.requests_per_day),
                weights,
            });
        }
        Ok(out)
    }

    /// Refuses what cannot work, naming the key or the setting.
    pub fn validate(&self) -> Result<(), KeyError> {
        let setting =
            |key: &str, reason: &str| KeyError::Config { key: key.to_owned(), reason: reason.to_owned() };
        for (name, d) in [
            ("keys.lease-ttl", self.lease_ttl),
            ("keys.heartbeat", self.heartbeat),
            ("keys.rotate-after", self.rotate_after),
            ("keys.cooldown", self.cooldown),
            ("keys.max-wait", self.max_wait),
        ] {
            if d.is_zero() {
                return Err(setting(name, "must be longer than 0s"));
            }
        }
        if self.heartbeat * 2 > self.lease_ttl {
            return Err(setting("keys.heartbeat", "must be at most half of keys.lease-ttl"));
        }
        for p in &self.providers {
            if !p.url.contains("{key}") {
                return Err(setting(&p.name, "the provider's url has no `{key}` placeholder"));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for k in &self.keys {
            if !seen.insert(&k.pseudonym) {
                return Err(setting(&k.pseudonym, "two keys with one pseudonym"));
            }
            if k.secret_env.is_some() == k.secret_file.is_some() {
                return Err(setting(&k.pseudonym, "needs exactly one of secret-env and secret-file"));
            }
            if k.limits.requests_per_second == Some(0) || k.limits.requests_per_day == Some(0) {
                return Err(setting(&k.pseudonym, "a limit of 0 would never allow a request"));
            }
        }
        Ok(())
    }
}

fn read_secret(k: &KeyConfig, env: &impl Fn(&str) -> Option<String>) -> Result<String, KeyError> {
    let missing = |reason: String| KeyError::Config { key: k.pseudonym.clone(), reason };
    let secret = match (&k.secret_env, &k.secret_file) {
        (Some(var), _) => {
            env(var).ok_or_else(|| missing(format!("environment variable {var} is not set")))?
        }
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| missing(format!("secret file {}: {}", path.display(), e.kind())))?,
        (None, None) => return Err(missing("no secret-env or secret-file".into())),
    };
    let secret = secret.trim().to_owned();
    if secret.is_empty() {
        return Err(missing("the secret is empty".into()));
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests' configs are JSON (serde reads it like the TOML of a config file).
    fn config(json: &str) -> KeysConfig {
        #[derive(Deserialize)]
        struct Wrap {
            keys: KeysConfig,
        }
        serde_json::from_str::<Wrap>(json).unwrap().keys
    }

    const TWO_KEYS: &str = r#"{"keys": {
        "providers": [{"name": "infura", "url": "https://mainnet.example/v3/{key}",
                       "ws-url": "wss://mainnet.example/ws/v3/{key}",
                       "requests-per-second": 10, "requests-per-day": 100000,
                       "method-weights": {"eth_getBlockReceipts": 2}}],
        "keys": [{"pseudonym": "infura_1", "provider": "infura", "secret-env": "K1"},
                 {"pseudonym": "infura_2", "provider": "infura", "secret-env": "K2",
                  "requests-per-second": 5, "burst": 2}]
    }}"#;

    fn env(var: &str) -> Option<String> {
        match var {
            "K1" => Some("s3cr3t-one\n".into()),
            "K2" => Some("s3cr3t-two".into()),
            _ => None,
        }
    }

    #[test]
    fn keys_resolve_with_their_secrets_and_merged_limits() {
        let keys = config(TWO_KEYS).resolve(env).unwrap();
        assert_eq!(keys[0].url, "https://mainnet.example/v3/s3cr3t-one");
        assert_eq!(keys[0].ws_url, "wss://mainnet.example/ws/v3/s3cr3t-one");
        assert_eq!((keys[0].per_second, keys[0].burst, keys[0].per_day), (Some(10), 10, Some(100_000)));
        assert_eq!((keys[1].per_second, keys[1].burst), (Some(5), 2));
        assert_eq!(keys[1].weight("eth_getBlockReceipts"), 2);
        assert_eq!(keys[1].weight("eth_blockNumber"), 1);
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let cfg = config(TWO_KEYS);
        let keys = cfg.resolve(env).unwrap();
        let text = format!("{cfg:?} {keys:?}");
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(text.contains("infura_1"));
    }

    #[test]
    fn a_missing_secret_names_the_key_and_the_variable_only() {
        let e = config(TWO_KEYS).resolve(|_| None).unwrap_err().to_string();
        assert!(e.contains("infura_1") && e.contains("K1"), "{e}");
    }

    #[test]
    fn bad_settings_are_refused_by_name() {
        let mut cfg = config(TWO_KEYS);
        cfg.heartbeat = cfg.lease_ttl;
        assert!(cfg.validate().unwrap_err().to_string().contains("keys.heartbeat"));
        let mut cfg = config(TWO_KEYS);
        cfg.providers[0].url = "https://mainnet.example/v3/".into();
        assert!(cfg.validate().unwrap_err().to_string().contains("{key}"));
        let mut cfg = config(TWO_KEYS);
        cfg.keys[1].pseudonym = "infura_1".into();
        assert!(cfg.validate().unwrap_err().to_string().contains("one pseudonym"));
    }

    #[test]
    fn a_secret_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("infura_1");
        std::fs::write(&path, "from-a-file\n").unwrap();
        let mut cfg = config(TWO_KEYS);
        cfg.keys[0].secret_env = None;
        cfg.keys[0].secret_file = Some(path);
        let keys = cfg.resolve(env).unwrap();
        assert_eq!(keys[0].url, "https://mainnet.example/v3/from-a-file");
    }
}
