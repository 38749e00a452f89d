//! Dremio: `chainlake dremio bootstrap` makes a fresh Dremio read the lake (first user, login,
//! the S3 source over the lake's bucket, the Nessie source, every Silver and Gold table folder
//! promoted as Delta), idempotent on re-run; after each medallion run that committed, the
//! tables it wrote get `ALTER TABLE … REFRESH METADATA` ([`Refresher`]). Reads `[dremio]` and
//! `[lake]`; writes nothing but Dremio's catalog. Passwords and S3 secrets never reach a log
//! line or an error (requests' `Debug` shows method and path only).

pub mod requests;
mod session;

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

pub use requests::{ApiRequest, Method, S3Access};
pub use session::{bootstrap, BootstrapPlan, Outcome, Refresher};

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

/// Why a Dremio step failed (no secret in any variant).
#[derive(Debug, thiserror::Error)]
pub enum DremioError {
    #[error("{key}: {reason}")]
    Config { key: &'static str, reason: String },
    #[error("dremio {request}: {reason}")]
    Http { request: String, reason: String },
    #[error("dremio {request}: HTTP {status}: {body}")]
    Status { request: String, status: u16, body: String },
    #[error("dremio {request}: unexpected answer: {reason}")]
    Answer { request: String, reason: String },
}

/// One answer: the status and the JSON body (`Null` when empty or not JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    pub status: u16,
    pub body: Value,
}

/// Sends requests to Dremio (HTTP in production, a script in unit tests).
pub trait Api: Sync {
    fn send(
        &self,
        req: &ApiRequest,
        auth: Option<&str>,
    ) -> impl std::future::Future<Output = Result<ApiResponse, DremioError>> + Send;
}

/// The real Dremio over HTTP.
pub struct Http {
    base: String,
    client: reqwest::Client,
}

impl Http {
    pub fn new(cfg: &DremioConfig) -> Result<Self, DremioError> {
        let client = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .build()
            .map_err(|e| DremioError::Config { key: "dremio.url", reason: e.to_string() })?;
        Ok(Http { base: cfg.url.trim_end_matches('/').to_owned(), client })
    }
}

impl Api for Http {
    async fn send(&self, req: &ApiRequest, auth: Option<&str>) -> Result<ApiResponse, DremioError> {
        let url = format!("{}{}", self.base, req.path);
        let mut builder = match req.method {
            Method::Get => self.client.get(&url),
            Method::Post => self.client.post(&url),
            Method::Put => self.client.put(&url),
        };
        if let Some(a) = auth {
            builder = builder.header("Authorization", a);
        }
        if let Some(body) = &req.body {
            builder = builder.header("Content-Type", "application/json").body(body.to_string());
        }
        // reqwest's error text names the URL, never a body; our URLs carry no secret.
        let http =
            |e: reqwest::Error| DremioError::Http { request: format!("{req:?}"), reason: e.to_string() };
        let response = builder.send().await.map_err(http)?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(http)?;
        Ok(ApiResponse { status, body: serde_json::from_str(&text).unwrap_or(Value::Null) })
    }
}
