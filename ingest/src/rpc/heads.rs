//! Head notifications over WebSocket: `eth_subscribe("newHeads")` on a provider's `ws-url`.
//!
//! Reads: the subscription's header notifications. Writes: the latest announced height into a
//! watch channel. The follower trusts it only while fresh (a hosted provider's WebSocket drops
//! or goes silent without notice); otherwise it polls `eth_blockNumber`. A dropped connection
//! is re-established with backoff until cancelled.

use std::time::{Duration, Instant};

use alloy::network::Ethereum;
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::client::ClientBuilder;
use alloy::transports::ws::WsConnect;
use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::rpc::client::RpcSource;

/// The latest head a `newHeads` subscription announced, and when.
#[derive(Debug, Clone)]
pub struct WsHeads {
    rx: watch::Receiver<Option<(u64, Instant)>>,
}

impl WsHeads {
    /// Subscribes in the background when `source` has a WebSocket endpoint; `None` otherwise.
    pub fn spawn(source: &RpcSource, cancel: CancellationToken) -> Option<Self> {
        let url = source.ws_url()?.to_owned();
        let (tx, rx) = watch::channel(None);
        let source = source.clone();
        tokio::spawn(async move { run(source, url, tx, cancel).await });
        Some(WsHeads { rx })
    }

    /// The announced head, if one arrived within `fresh`.
    pub fn fresh_head(&self, fresh: Duration) -> Option<u64> {
        (*self.rx.borrow()).filter(|(_, at)| at.elapsed() <= fresh).map(|(n, _)| n)
    }

    /// Treats the current announcement as seen: [`WsHeads::changed`] waits for a newer one.
    pub fn mark_seen(&mut self) {
        self.rx.borrow_and_update();
    }

    /// Waits for the next announcement (never returns once the subscriber task is gone).
    pub async fn changed(&mut self) {
        if self.rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

async fn run(
    source: RpcSource,
    url: String,
    tx: watch::Sender<Option<(u64, Instant)>>,
    cancel: CancellationToken,
) {
    let (chain, provider) = (source.chain().to_owned(), source.provider().to_owned());
    let up = metrics::gauge!(crate::metrics::WS_CONNECTED, "chain" => chain.clone(), "provider" => provider.clone());
    let mut backoff = Duration::from_millis(250);
    while !cancel.is_cancelled() {
        let res = tokio::select! {
            r = subscribe(&url, &tx, &up) => r,
            _ = cancel.cancelled() => return,
        };
        up.set(0.0);
        let reason = match res {
            Ok(()) => "subscription ended".to_owned(),
            Err(e) => source.redact(&e),
        };
        tracing::warn!(chain = %chain, provider = %provider, %reason, retry_in = ?backoff,
            "newHeads WebSocket down: polling eth_blockNumber meanwhile");
        metrics::counter!(crate::metrics::WS_RECONNECTS, "chain" => chain.clone(), "provider" => provider.clone())
            .increment(1);
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = cancel.cancelled() => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

async fn subscribe(
    url: &str,
    tx: &watch::Sender<Option<(u64, Instant)>>,
    up: &metrics::Gauge,
) -> Result<(), String> {
    let client = ClientBuilder::default().ws(WsConnect::new(url)).await.map_err(|e| e.to_string())?;
    let provider = RootProvider::<Ethereum>::new(client);
    let mut sub = provider.subscribe::<_, Value>(("newHeads",)).await.map_err(|e| e.to_string())?;
    up.set(1.0);
    // Heads mined while (re)connecting are never announced: announce the current one, or the
    // follower would wait for the next block to learn of them.
    let head = provider.get_block_number().await.map_err(|e| e.to_string())?;
    tx.send_replace(Some((head, Instant::now())));
    loop {
        let header = sub.recv().await.map_err(|e| e.to_string())?;
        let number = header
            .get("number")
            .and_then(Value::as_str)
            .and_then(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok());
        if let Some(n) = number {
            tx.send_replace(Some((n, Instant::now())));
        }
    }
}

/// Where a follower is in a provider's announcements: the subscription of the provider that
/// was active when it last looked, with the announcements it has seen marked.
#[derive(Debug, Default)]
pub struct HeadCursor {
    current: Option<(String, WsHeads)>,
}

impl HeadCursor {
    /// Follows `provider`'s subscription `heads` (from now on) unless it already does.
    pub(crate) fn target(&mut self, provider: &str, heads: impl FnOnce() -> Option<WsHeads>) {
        if self.current.as_ref().is_none_or(|(p, _)| p != provider) {
            self.current = heads().map(|mut w| {
                w.mark_seen();
                (provider.to_owned(), w)
            });
        }
    }

    /// Waits for the next announcement of the followed subscription (never, without one).
    pub(crate) async fn changed(&mut self) {
        match &mut self.current {
            Some((_, w)) => w.changed().await,
            None => std::future::pending().await,
        }
    }
}
