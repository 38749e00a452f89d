//! `[dremio]`: where Dremio is and how chainlake logs in. Imports no sibling but the error.

use std::path::PathBuf;

use serde::Deserialize;

use super::error::DremioError;

/// `[dremio]`.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct DremioConfig {
    /// `http://dremio:9047`; empty: no Dremio (no bootstrap, no refresh).
    pub url: String,
    /// The Dremio user chainlake creates on a fresh server and logs in as.
    pub user: String,
    /// Environment variable holding the user's password (used when `password-file` is unset).
    pub password_env: String,
    /// File holding the password (e.g. `/run/secrets/dremio_password`).
    pub password_file: Option<PathBuf>,
    /// Name of the S3 source over the lake's bucket.
    pub source: String,
    /// The lake's S3 endpoint as Dremio reaches it (`host:port`); empty: the host and port of
    /// `lake.storage-options.aws-endpoint-url`.
    pub s3_endpoint: String,
    /// Nessie's API (`http://nessie:19120/api/v2`); empty: no Nessie source.
    pub nessie_url: String,
    pub nessie_source: String,
    /// Refresh each table's metadata after a medallion run committed to it.
    pub refresh: bool,
    /// Per request.
    #[serde(with = "humantime_serde")]
    pub timeout: std::time::Duration,
}

impl Default for DremioConfig {
    fn default() -> Self {
        DremioConfig {
            url: String::new(),
            user: "chainlake".into(),
            password_env: "DREMIO_PASSWORD".into(),
            password_file: None,
            source: "chainlake".into(),
            s3_endpoint: String::new(),
            nessie_url: String::new(),
            nessie_source: "nessie".into(),
            refresh: true,
            timeout: std::time::Duration::from_secs(30),
        }
    }
}

impl std::fmt::Debug for DremioConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DremioConfig")
            .field("url", &self.url)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl DremioConfig {
    pub fn enabled(&self) -> bool {
        !self.url.trim().is_empty()
    }

    /// The password, from its file or its environment variable.
    pub fn password(&self) -> Result<String, DremioError> {
        let missing = |reason: String| DremioError::Config { key: "dremio.password", reason };
        let secret = match &self.password_file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| missing(format!("password file {}: {}", path.display(), e.kind())))?,
            None => std::env::var(&self.password_env)
                .map_err(|_| missing(format!("environment variable {} is not set", self.password_env)))?,
        };
        let secret = secret.trim().to_owned();
        if secret.is_empty() {
            return Err(missing("the password is empty".into()));
        }
        Ok(secret)
    }
}
