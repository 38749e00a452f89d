//! Extract: the raw JSON-RPC calls, two per block (hydrated block + block receipts).
//!
//! Retries with backoff on 429 and transient errors come from alloy's `RetryBackoffLayer`;
//! every call is counted by provider pseudonym, method and outcome.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use alloy::primitives::U64;
use alloy::rpc::client::{ClientBuilder, RpcClient};
use alloy::transports::layers::RetryBackoffLayer;
use alloy::transports::{RpcError, TransportErrorKind};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::config::RpcConfig;
use crate::{Error, Result};

/// The raw responses for one block, as the node sent them.
#[derive(Debug, Clone)]
pub struct RawBlock {
    pub number: u64,
    pub block: Value,
    pub receipts: Value,
}

/// A JSON-RPC endpoint of one chain.
#[derive(Clone)]
pub struct RpcSource {
    client: RpcClient,
    /// Forms of the endpoint URL that must never reach a log line.
    secrets: Arc<Vec<String>>,
    chain: String,
    provider: String,
    requests: Arc<AtomicU64>,
}

impl RpcSource {
    pub fn new(chain: &str, cfg: &RpcConfig) -> Result<Self> {
        let url: url::Url = cfg.url.parse().map_err(|e: url::ParseError| Error::Devnet {
            what: format!("rpc url of provider {}", cfg.pseudonym),
            reason: e.to_string(),
        })?;
        let mut secrets = vec![cfg.url.clone(), url.to_string()];
        if url.path().len() > 1 || url.query().is_some() {
            secrets.push(url[url::Position::BeforePath..].to_owned());
        }
        let retry = RetryBackoffLayer::new(cfg.max_retries, cfg.initial_backoff.as_millis() as u64, u64::MAX);
        let client = ClientBuilder::default().layer(retry).http(url);
        Ok(RpcSource {
            client,
            secrets: Arc::new(secrets),
            chain: chain.to_owned(),
            provider: cfg.pseudonym.clone(),
            requests: Arc::default(),
        })
    }

    pub fn chain(&self) -> &str {
        &self.chain
    }

    fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in self.secrets.iter().filter(|s| !s.is_empty()) {
            out = out.replace(secret.as_str(), &format!("<{}>", self.provider));
        }
        out
    }

    /// Requests sent so far by this source and its clones.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    async fn call<P, R>(&self, method: &'static str, params: P, block: Option<u64>) -> Result<R>
    where
        P: Serialize + Clone + Send + Sync + Unpin + std::fmt::Debug + 'static,
        R: DeserializeOwned + std::fmt::Debug + Send + Sync + Unpin + 'static,
    {
        let started = Instant::now();
        self.requests.fetch_add(1, Ordering::Relaxed);
        let res: std::result::Result<R, RpcError<TransportErrorKind>> =
            self.client.request(method, params).await;
        let outcome = match &res {
            Ok(_) => "ok",
            Err(RpcError::ErrorResp(_)) => "error_response",
            Err(RpcError::Transport(_)) => "transport_error",
            Err(_) => "failed",
        };
        let labels = [
            ("chain", self.chain.clone()),
            ("provider", self.provider.clone()),
            ("method", method.to_owned()),
        ];
        metrics::counter!(
            "chainlake_rpc_requests_total",
            &[&labels[..], &[("outcome", outcome.to_owned())]].concat()
        )
        .increment(1);
        metrics::histogram!("chainlake_rpc_request_seconds", &labels).record(started.elapsed().as_secs_f64());
        res.map_err(|e| Error::Rpc {
            chain: self.chain.clone(),
            provider: self.provider.clone(),
            method,
            block,
            reason: self.redact(&e.to_string()),
            retryable: !matches!(e, RpcError::ErrorResp(_) | RpcError::DeserError { .. }),
        })
    }

    /// `eth_chainId`.
    pub async fn chain_id(&self) -> Result<u64> {
        let id: U64 = self.call("eth_chainId", (), None).await?;
        Ok(id.to::<u64>())
    }

    /// `eth_blockNumber`: the node's head height.
    pub async fn head(&self) -> Result<u64> {
        let n: U64 = self.call("eth_blockNumber", (), None).await?;
        Ok(n.to::<u64>())
    }

    /// The hash of the canonical block at `number` (`eth_getBlockByNumber(n, false)`).
    pub async fn block_hash(&self, number: u64) -> Result<String> {
        let header: Value =
            self.call("eth_getBlockByNumber", (format!("{number:#x}"), false), Some(number)).await?;
        header
            .get("hash")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Error::BlockNotFound { chain: self.chain.clone(), block: number })
    }

    /// `eth_getBlockByNumber(n, true)` and `eth_getBlockReceipts(n)`, concurrently.
    #[tracing::instrument(skip(self), fields(chain = %self.chain))]
    pub async fn fetch_block(&self, number: u64) -> Result<RawBlock> {
        let tag = format!("{number:#x}");
        let (block, receipts) = tokio::try_join!(
            self.call::<_, Value>("eth_getBlockByNumber", (tag.clone(), true), Some(number)),
            self.call::<_, Value>("eth_getBlockReceipts", (tag,), Some(number)),
        )?;
        if block.is_null() {
            return Err(Error::BlockNotFound { chain: self.chain.clone(), block: number });
        }
        Ok(RawBlock { number, block, receipts })
    }
}

impl std::fmt::Debug for RpcSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcSource").field("chain", &self.chain).field("provider", &self.provider).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn errors_never_show_the_endpoint_url() {
        let cfg = RpcConfig {
            url: "http://127.0.0.1:9/v3/SECRETKEY123".into(),
            pseudonym: "infura-1".into(),
            poll_interval: Duration::from_secs(1),
            concurrency: 1,
            max_retries: 0,
            initial_backoff: Duration::from_millis(1),
        };
        let rpc = RpcSource::new("c", &cfg).unwrap();
        let err = rpc.head().await.err().map(|e| format!("{e} {e:?}")).unwrap_or_default();
        assert!(err.contains("infura-1"), "{err}");
        assert!(!err.contains("SECRETKEY123"), "{err}");
        assert!(!format!("{rpc:?}").contains("SECRETKEY123"));
    }
}
