//! Sending requests to Dremio: the [`Api`] role, and [`Http`], the real Dremio.

use serde_json::Value;

use super::error::DremioError;
use super::requests::{ApiRequest, Method};
use super::settings::DremioConfig;

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
