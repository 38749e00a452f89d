//! Extract: the raw JSON-RPC calls of one provider, two per block (hydrated block + block
//! receipts). A provider without `eth_getBlockReceipts` is detected on its first answer and
//! remembered; its receipts then come in JSON-RPC batches of `eth_getTransactionReceipt`.
//!
//! Requests go through [`RedactedHttp`] (a per-request timeout, no URL in any span or error);
//! 429s asking for a short wait are retried on the same provider by alloy's
//! `RetryBackoffLayer` ([`ShortWaits`]); every other fault, and a longer `Retry-After`, is
//! returned typed and retryable for [`crate::rpc::providers::Providers`] to serve elsewhere. Every
//! HTTP request is counted by provider pseudonym, method and outcome.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Instant;

use alloy::primitives::{B256, U64};
use alloy::rpc::client::{ClientBuilder, RpcClient};
use alloy::transports::layers::{RateLimitRetryPolicy, RetryBackoffLayer, RetryPolicy};
use alloy::transports::{RpcError, TransportError, TransportErrorKind};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::config::{ProviderConfig, RpcConfig};
use crate::rpc::readiness::{self, Dependency};
use crate::rpc::transport::RedactedHttp;
use crate::verify::raw::RawBlock;
use crate::{Error, Result};

/// How a provider serves receipts, learned from its first answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptsMode {
    Unknown = 0,
    /// `eth_getBlockReceipts`: one request per block.
    BlockReceipts = 1,
    /// Batches of `eth_getTransactionReceipt`: ⌈txs / batch size⌉ requests per block.
    PerTxBatch = 2,
}

/// One JSON-RPC provider (HTTP) of one chain.
#[derive(Clone)]
pub struct RpcSource {
    client: RpcClient,
    /// Forms of the endpoint URLs that must never reach a log line.
    secrets: Arc<Vec<String>>,
    chain: String,
    provider: String,
    ws_url: String,
    requests: Arc<AtomicU64>,
    receipts_mode: Arc<AtomicU8>,
    batch_size: usize,
}

type RawResult<R> = std::result::Result<R, RpcError<TransportErrorKind>>;

impl RpcSource {
    pub fn new(chain: &str, provider: &ProviderConfig, rpc: &RpcConfig) -> Result<Self> {
        Self::build(chain, provider, rpc, None)
    }

    /// A source whose every request first passes `gate` as key `index` of a pool.
    pub fn gated(
        chain: &str,
        provider: &ProviderConfig,
        rpc: &RpcConfig,
        gate: Arc<dyn crate::keys::RequestGate>,
        index: usize,
    ) -> Result<Self> {
        Self::build(chain, provider, rpc, Some((gate, index)))
    }

    fn build(
        chain: &str,
        provider: &ProviderConfig,
        rpc: &RpcConfig,
        gate: Option<(Arc<dyn crate::keys::RequestGate>, usize)>,
    ) -> Result<Self> {
        let url: url::Url = provider.url.parse().map_err(|e: url::ParseError| Error::ProviderUrl {
            chain: chain.to_owned(),
            provider: provider.pseudonym.clone(),
            reason: e.to_string(),
        })?;
        let mut secrets = vec![provider.url.clone(), url.to_string()];
        if url.path().len() > 1 || url.query().is_some() {
            secrets.push(url[url::Position::BeforePath..].to_owned());
        }
        if !provider.ws_url.is_empty() {
            secrets.push(provider.ws_url.clone());
        }
        let retry = RetryBackoffLayer::new_with_policy(
            rpc.max_retries,
            rpc.initial_backoff.as_millis() as u64,
            u64::MAX,
            ShortWaits { longest: rpc.max_backoff },
        );
        let is_local = alloy::transports::utils::guess_local_url(url.as_str());
        let http = RedactedHttp::new(url, &provider.pseudonym, rpc.request_timeout).map_err(|e| {
            Error::ProviderUrl {
                chain: chain.to_owned(),
                provider: provider.pseudonym.clone(),
                reason: e.without_url().to_string(),
            }
        })?;
        let http = match gate {
            Some((gate, index)) => http.with_gate(gate, index),
            None => http,
        };
        let client = ClientBuilder::default().layer(retry).transport(http, is_local);
        Ok(RpcSource {
            client,
            secrets: Arc::new(secrets),
            chain: chain.to_owned(),
            provider: provider.pseudonym.clone(),
            ws_url: provider.ws_url.clone(),
            requests: Arc::default(),
            receipts_mode: Arc::new(AtomicU8::new(ReceiptsMode::Unknown as u8)),
            batch_size: rpc.receipts_batch_size.max(1),
        })
    }

    pub fn chain(&self) -> &str {
        &self.chain
    }

    /// The provider's pseudonym (what logs and metrics call it).
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The WebSocket endpoint for `newHeads`, if configured (a secret: never log it).
    pub fn ws_url(&self) -> Option<&str> {
        Some(self.ws_url.as_str()).filter(|u| !u.is_empty())
    }

    /// `text` with every form of this provider's URLs replaced by its pseudonym.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in self.secrets.iter().filter(|s| !s.is_empty()) {
            out = out.replace(secret.as_str(), &format!("<{}>", self.provider));
        }
        out
    }

    /// HTTP requests sent so far by this source and its clones (a batch counts once).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn receipts_mode(&self) -> ReceiptsMode {
        match self.receipts_mode.load(Ordering::Relaxed) {
            1 => ReceiptsMode::BlockReceipts,
            2 => ReceiptsMode::PerTxBatch,
            _ => ReceiptsMode::Unknown,
        }
    }

    fn count<T>(&self, method: &str, res: &RawResult<T>, started: Instant) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let outcome = match res {
            Ok(_) => "ok",
            Err(RpcError::ErrorResp(_)) => "error_response",
            Err(RpcError::Transport(_)) => "transport_error",
            Err(_) => "failed",
        };
        // An error response is still the node answering; the rest says nothing came back whole.
        match outcome {
            "ok" | "error_response" => readiness::answered(Dependency::Node),
            _ => readiness::failed(Dependency::Node, format!("{} {method}: {outcome}", self.provider)),
        }
        let labels = [
            ("chain", self.chain.clone()),
            ("provider", self.provider.clone()),
            ("method", method.to_owned()),
        ];
        metrics::counter!(
            crate::metrics::RPC_REQUESTS,
            &[&labels[..], &[("outcome", outcome.to_owned())]].concat()
        )
        .increment(1);
        metrics::histogram!(crate::metrics::RPC_REQUEST_SECONDS, &labels)
            .record(started.elapsed().as_secs_f64());
    }

    fn error(&self, method: &'static str, block: Option<u64>, e: RpcError<TransportErrorKind>) -> Error {
        let code = match &e {
            RpcError::ErrorResp(p) => i32::try_from(p.code).ok(),
            _ => None,
        };
        // Every such error is worth another try, elsewhere or later (Error::is_retryable).
        Error::Rpc {
            chain: self.chain.clone(),
            provider: self.provider.clone(),
            method,
            block,
            code,
            retry_after_ms: RateLimitRetryPolicy::default()
                .backoff_hint(&e)
                .map(|d| u32::try_from(d.as_millis()).unwrap_or(u32::MAX)),
            reason: self.redact(&e.to_string()),
        }
    }

    async fn call<P, R>(&self, method: &'static str, params: P, block: Option<u64>) -> Result<R>
    where
        P: Serialize + Clone + Send + Sync + Unpin + std::fmt::Debug + 'static,
        R: DeserializeOwned + std::fmt::Debug + Send + Sync + Unpin + 'static,
    {
        let started = Instant::now();
        let res: RawResult<R> = self.client.request(method, params).await;
        self.count(method, &res, started);
        res.map_err(|e| self.error(method, block, e))
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
    pub async fn block_hash(&self, number: u64) -> Result<B256> {
        let header: Value =
            self.call("eth_getBlockByNumber", (format!("{number:#x}"), false), Some(number)).await?;
        let hash = header
            .get("hash")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::BlockNotFound { chain: self.chain.clone(), block: number })?;
        hash.parse().map_err(|_| Error::BadHash {
            chain: self.chain.clone(),
            block: number,
            field: "hash",
            value: hash.to_owned(),
        })
    }

    /// The hydrated block and its receipts: `eth_getBlockByNumber(n, true)` and
    /// `eth_getBlockReceipts(n)` concurrently, or the block then batched per-tx receipts.
    #[tracing::instrument(skip(self), fields(chain = %self.chain, provider = %self.provider))]
    pub async fn fetch_block(&self, number: u64) -> Result<RawBlock> {
        let tag = format!("{number:#x}");
        let get_block = self.call::<_, Value>("eth_getBlockByNumber", (tag.clone(), true), Some(number));
        if self.receipts_mode() == ReceiptsMode::PerTxBatch {
            let block = self.found(number, get_block.await?)?;
            let receipts = self.tx_receipts(number, &block).await?;
            return Ok(RawBlock::new(number, block, receipts, &self.provider));
        }
        let get_receipts = self.call::<_, Value>("eth_getBlockReceipts", (tag,), Some(number));
        let (block, receipts) = tokio::join!(get_block, get_receipts);
        let block = self.found(number, block?)?;
        match receipts {
            Ok(receipts) => {
                self.receipts_mode.store(ReceiptsMode::BlockReceipts as u8, Ordering::Relaxed);
                Ok(RawBlock::new(number, block, receipts, &self.provider))
            }
            // Learned on the first answer, or later from a load-balanced provider whose nodes
            // differ: this provider only is served per transaction from now on.
            Err(e) if e.is_method_missing() => {
                tracing::warn!(chain = %self.chain, provider = %self.provider, block = number, error = %e,
                    "provider lacks eth_getBlockReceipts: using batched eth_getTransactionReceipt from now on");
                metrics::counter!(crate::metrics::RPC_RECEIPTS_FALLBACK,
                    "chain" => self.chain.clone(), "provider" => self.provider.clone())
                .increment(1);
                self.receipts_mode.store(ReceiptsMode::PerTxBatch as u8, Ordering::Relaxed);
                let receipts = self.tx_receipts(number, &block).await?;
                Ok(RawBlock::new(number, block, receipts, &self.provider))
            }
            Err(e) => Err(e),
        }
    }

    /// The receipts of the block with `hash` (EIP-1898 block hash parameter), for a block
    /// whose receipts by number came from another branch or were otherwise wrong.
    pub async fn receipts_by_hash(&self, number: u64, hash: &str, block: &Value) -> Result<Value> {
        if self.receipts_mode() == ReceiptsMode::PerTxBatch {
            return self.tx_receipts(number, block).await;
        }
        let param = serde_json::json!({ "blockHash": hash, "requireCanonical": false });
        self.call::<_, Value>("eth_getBlockReceipts", (param,), Some(number)).await
    }

    fn found(&self, number: u64, block: Value) -> Result<Value> {
        if block.is_null() {
            return Err(Error::BlockNotFound { chain: self.chain.clone(), block: number });
        }
        Ok(block)
    }

    /// The receipts of `block`'s transactions, `batch_size` per JSON-RPC batch.
    async fn tx_receipts(&self, number: u64, block: &Value) -> Result<Value> {
        const METHOD: &str = "eth_getTransactionReceipt";
        let hashes: Vec<&str> = block
            .get("transactions")
            .and_then(Value::as_array)
            .map(|txs| txs.iter().filter_map(|t| t.get("hash").and_then(Value::as_str)).collect())
            .unwrap_or_default();
        let mut receipts = Vec::with_capacity(hashes.len());
        for chunk in hashes.chunks(self.batch_size) {
            let mut batch = self.client.new_batch();
            let mut waiters = Vec::with_capacity(chunk.len());
            for hash in chunk {
                let w = batch
                    .add_call::<_, Value>(METHOD, &(*hash,))
                    .map_err(|e| self.error(METHOD, Some(number), e))?;
                waiters.push(w);
            }
            let started = Instant::now();
            let sent = batch.send().await;
            self.count("batch:eth_getTransactionReceipt", &sent, started);
            metrics::counter!(crate::metrics::RPC_BATCHED_CALLS,
                "chain" => self.chain.clone(), "provider" => self.provider.clone(), "method" => METHOD)
            .increment(chunk.len() as u64);
            sent.map_err(|e| self.error(METHOD, Some(number), e))?;
            for w in waiters {
                let r = w.await.map_err(|e| self.error(METHOD, Some(number), e))?;
                // A missing receipt stays missing: the tx is flagged downstream, not dropped.
                if !r.is_null() {
                    receipts.push(r);
                }
            }
        }
        Ok(Value::Array(receipts))
    }
}

/// alloy's rate-limit policy, retrying in place only when the wait asked for is at most
/// `longest` (`rpc.max-backoff`): a provider asking for more is rested by
/// [`crate::rpc::providers::Providers`] while the others serve.
#[derive(Debug, Clone, Copy)]
struct ShortWaits {
    longest: std::time::Duration,
}

impl RetryPolicy for ShortWaits {
    fn should_retry(&self, error: &TransportError) -> bool {
        let base = RateLimitRetryPolicy::default();
        base.should_retry(error) && base.backoff_hint(error).is_none_or(|wait| wait <= self.longest)
    }

    fn backoff_hint(&self, error: &TransportError) -> Option<std::time::Duration> {
        RateLimitRetryPolicy::default().backoff_hint(error)
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

    pub(crate) fn test_config(url: &str, pseudonym: &str) -> (ProviderConfig, RpcConfig) {
        let p = ProviderConfig { url: url.into(), pseudonym: pseudonym.into(), ws_url: String::new() };
        let mut rpc: RpcConfig = crate::config::tests::defaults();
        rpc.url = url.into();
        rpc.pseudonym = pseudonym.into();
        rpc.max_retries = 0;
        (p, rpc)
    }

    #[tokio::test]
    async fn errors_never_show_the_endpoint_url() {
        let (p, rpc) = test_config("http://127.0.0.1:9/v3/SECRETKEY123", "infura-1");
        let src = RpcSource::new("c", &p, &rpc).unwrap();
        let err = src.head().await.err().map(|e| format!("{e} {e:?}")).unwrap_or_default();
        assert!(err.contains("infura-1"), "{err}");
        assert!(!err.contains("SECRETKEY123"), "{err}");
        assert!(!format!("{src:?}").contains("SECRETKEY123"));
    }
}
