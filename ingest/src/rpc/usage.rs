//! The usage ledger's feed: every RPC request this process sends becomes one record on
//! `{chain}.ops.rpc_usage` (key pseudonym, provider, method, HTTP status, latency, replica,
//! lease token; never the secret), which the sink lands in Bronze and `chainlake keys monitor`
//! aggregates.
//!
//! The transport calls [`record`] after each answer; where no sink is installed (tests,
//! `chainlake keys status`) that is a no-op. The Kafka sink is `crate::publish::usage`.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// One answered (or unanswered) request, as the transport saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub key: String,
    pub provider: String,
    pub method: String,
    /// 0: no HTTP answer.
    pub http_status: u16,
    pub latency: Duration,
    pub lease_token: u64,
    /// Unix milliseconds when it was sent.
    pub sent_at: i64,
}

impl Usage {
    /// `ok`, `throttled`, `http_error` or `no_answer`.
    pub fn outcome(&self) -> &'static str {
        match self.http_status {
            0 => "no_answer",
            429 => "throttled",
            200..=299 => "ok",
            _ => "http_error",
        }
    }
}

/// Where usage records go.
pub trait UsageSink: Send + Sync {
    fn record(&self, usage: Usage);
    /// Delivers what is queued (at the end of a run).
    fn finish(&self) -> futures::future::BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

static SINK: OnceLock<Arc<dyn UsageSink>> = OnceLock::new();

/// Installs this process's sink (once; later calls are ignored and return false).
pub fn install(sink: Arc<dyn UsageSink>) -> bool {
    SINK.set(sink).is_ok()
}

/// Hands `usage` to the installed sink, if any.
pub fn record(usage: Usage) {
    if let Some(sink) = SINK.get() {
        sink.record(usage);
    }
}

/// Delivers the installed sink's queued records (before the process exits).
pub async fn finish() {
    if let Some(sink) = SINK.get() {
        sink.finish().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_name_the_answer() {
        let u = |s| Usage {
            key: "k".into(),
            provider: "p".into(),
            method: "eth_chainId".into(),
            http_status: s,
            latency: Duration::ZERO,
            lease_token: 1,
            sent_at: 0,
        };
        assert_eq!(u(200).outcome(), "ok");
        assert_eq!(u(429).outcome(), "throttled");
        assert_eq!(u(502).outcome(), "http_error");
        assert_eq!(u(0).outcome(), "no_answer");
    }
}
