//! The key pool as the transport's [`RequestGate`]: every request of a pooled endpoint passes
//! [`KeyPool::admit`], and every answer is counted per key and status; a 429 cools the key.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::lease::KeyLeases;
use super::ledger::UsageLedger;
use super::pool::{Denied, KeyPool};
use super::RequestGate;
use crate::metrics as m;

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Denied::NotLeased { key } => write!(f, "key {key} is not leased by this replica (not sent)"),
            Denied::Quota { key } => write!(f, "key {key} reached its daily quota (not sent)"),
        }
    }
}

/// An HTTP status in the `status` label: `2xx`, `429`, `4xx`, `5xx`, or `none` (no answer).
fn status_class(status: u16) -> &'static str {
    match status {
        0 => "none",
        429 => "429",
        200..=299 => "2xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    }
}

impl<L: KeyLeases, U: UsageLedger> RequestGate for KeyPool<L, U> {
    fn admit<'a>(
        &'a self,
        index: usize,
        method: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<u64, String>> + Send + 'a>> {
        Box::pin(async move { KeyPool::admit(self, index, method).await.map_err(|d| d.to_string()) })
    }

    fn replica(&self) -> &str {
        KeyPool::replica(self)
    }

    fn answered(
        &self,
        index: usize,
        methods: &[String],
        status: u16,
        _latency: Duration,
        retry_after: Option<Duration>,
    ) {
        let Some(key) = self.keys().get(index) else { return };
        let n: u64 = methods.iter().map(|mth| u64::from(key.weight(mth))).sum();
        metrics::counter!(m::KEY_REQUESTS, "chain" => self.chain().to_owned(), "key" => key.pseudonym.clone(),
            "status" => status_class(status))
        .increment(n);
        if status == 429 {
            self.throttled(index, retry_after);
        }
    }

    fn current(&self) -> Option<usize> {
        KeyPool::current(self).map(|(i, _)| i)
    }

    fn provider(&self, index: usize) -> &str {
        self.keys().get(index).map_or("", |k| k.provider.as_str())
    }
}
