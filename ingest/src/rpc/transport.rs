//! The HTTP transport of every JSON-RPC provider: reqwest with a per-request timeout, and no
//! URL anywhere in its spans, events or errors.
//!
//! alloy's own `Http` transport opens a `ReqwestTransport` span with the endpoint URL as a
//! field, so every log line below `debug` would carry the API key. This transport names the
//! provider by its pseudonym only, and errors are built from reqwest's error *without* the URL.
//! It also classifies what went wrong (timeout, refused, TLS, DNS, HTTP status, truncated or
//! non-JSON body) so the retry policy and the operator see the cause.

use std::sync::Arc;
use std::task;
use std::time::{Duration, Instant};

use alloy::rpc::json_rpc::{RequestPacket, ResponsePacket};
use alloy::transports::{TransportError, TransportErrorKind, TransportFut};
use tower::Service;
use tracing::Instrument;

use crate::keys::RequestGate;

/// One provider's HTTP endpoint; clones share the connection pool.
#[derive(Clone)]
pub struct RedactedHttp {
    client: reqwest::Client,
    url: url::Url,
    provider: String,
    gate: Option<(Arc<dyn RequestGate>, usize)>,
}

impl RedactedHttp {
    /// `timeout` bounds each request from connect to the last body byte.
    pub fn new(url: url::Url, provider: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder().timeout(timeout).connect_timeout(timeout).build()?;
        Ok(RedactedHttp { client, url, provider: provider.to_owned(), gate: None })
    }

    /// Every request first passes `gate` as key `index` of its pool.
    pub fn with_gate(mut self, gate: Arc<dyn RequestGate>, index: usize) -> Self {
        self.gate = Some((gate, index));
        self
    }

    async fn send(self, req: RequestPacket) -> Result<ResponsePacket, TransportError> {
        let methods: Vec<String> = req.method_names().map(str::to_owned).collect();
        let mut post = self.client.post(self.url.clone());
        let mut token = 0;
        if let Some((gate, index)) = &self.gate {
            for m in &methods {
                token = gate.admit(*index, m).await.map_err(|why| TransportErrorKind::custom_str(&why))?;
            }
            post = post.header("x-chainlake-lease", format!("{}|{token}", gate.replica()));
        }
        let body = serde_json::to_vec(&req).map_err(TransportError::ser_err)?;
        let started = Instant::now();
        let sent_at = chainlake_wire::clock::now_ms();
        let sent = post.header(reqwest::header::CONTENT_TYPE, "application/json").body(body).send().await;
        let heard = |status: u16, retry_after: Option<Duration>| {
            let latency = started.elapsed();
            let provider = match &self.gate {
                Some((gate, index)) => {
                    gate.answered(*index, &methods, status, latency, retry_after);
                    gate.provider(*index)
                }
                None => self.provider.as_str(),
            };
            for method in &methods {
                crate::rpc::usage::record(crate::rpc::usage::Usage {
                    key: self.provider.clone(),
                    provider: provider.to_owned(),
                    method: method.clone(),
                    http_status: status,
                    latency,
                    lease_token: token,
                    sent_at,
                });
            }
        };
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                heard(0, None);
                return Err(TransportErrorKind::custom_str(&describe(&e)));
            }
        };
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
            .map(Duration::from_secs);
        heard(status.as_u16(), retry_after);
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => {
                let why = format!("reading the response body failed: {}", describe(&e));
                return Err(if status.is_success() {
                    TransportErrorKind::custom_str(&why)
                } else {
                    TransportErrorKind::http_error_with_retry_after(status.as_u16(), why, retry_after)
                });
            }
        };
        tracing::trace!(%status, bytes = body.len(), "response");
        if !status.is_success() {
            // A JSON-RPC error object in a non-2xx answer is still the node's answer.
            if let Ok(packet) = serde_json::from_slice::<ResponsePacket>(&body) {
                return Ok(packet);
            }
            return Err(TransportErrorKind::http_error_with_retry_after(
                status.as_u16(),
                snippet(&body),
                retry_after,
            ));
        }
        serde_json::from_slice(&body).map_err(|e| TransportError::deser_err(e, snippet(&body)))
    }
}

/// The cause of a failed request in words, with the URL removed.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        connect_cause(e)
    } else if e.is_body() || e.is_decode() {
        "truncated or unreadable body"
    } else if e.is_request() {
        "request failed"
    } else {
        "http error"
    };
    let mut chain = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if chain.last() != Some(&text) {
            chain.push(text);
        }
        source = s.source();
    }
    if chain.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {}", chain.join(": "))
    }
}

/// Refused, DNS or TLS, from the connect error's sources.
fn connect_cause(e: &reqwest::Error) -> &'static str {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return "connection refused",
                std::io::ErrorKind::ConnectionReset => return "connection reset",
                std::io::ErrorKind::TimedOut => return "connect timeout",
                _ => {}
            }
        }
        let text = s.to_string().to_ascii_lowercase();
        if text.contains("dns") || text.contains("resolve") || text.contains("lookup") {
            return "dns failure";
        }
        if text.contains("tls") || text.contains("certificate") || text.contains("handshake") {
            return "tls failure";
        }
        source = s.source();
    }
    "connect failed"
}

/// The start of a body for an error message (bodies can be megabytes).
fn snippet(body: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX)]).into_owned();
    if body.len() > MAX {
        format!("{text}… ({} bytes)", body.len())
    } else {
        text
    }
}

impl Service<RequestPacket> for RedactedHttp {
    type Response = ResponsePacket;
    type Error = TransportError;
    type Future = TransportFut<'static>;

    fn poll_ready(&mut self, _cx: &mut task::Context<'_>) -> task::Poll<Result<(), Self::Error>> {
        task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: RequestPacket) -> Self::Future {
        let span = tracing::debug_span!("rpc_http", provider = %self.provider);
        Box::pin(self.clone().send(req).instrument(span))
    }
}

impl std::fmt::Debug for RedactedHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedactedHttp").field("provider", &self.provider).finish()
    }
}
