//! The usage feed's Kafka sink: [`KafkaUsage`] publishes each [`Usage`] the transport records
//! to `{chain}.ops.rpc_usage`, keyed by the key's pseudonym.
//!
//! Recording never blocks a request: records queue in a bounded channel that a task drains
//! into the producer; if Kafka falls so far behind that the queue is full, the record is
//! dropped, counted (`chainlake_usage_dropped_total`) and logged — the quota itself is enforced
//! by the ledger before sending, not by this feed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use chainlake_wire::records::RpcUsageRecord;
use chainlake_wire::{KafkaConfig, TopicKind, Topics, SCHEMA_VERSION};

use crate::metrics as m;
use crate::rpc::usage::{Usage, UsageSink};
use crate::Result;

/// Records queued for the producer at most (about a minute of a busy replica).
const QUEUE: usize = 50_000;

/// Publishes usage records to `{chain}.ops.rpc_usage`, keyed by the key's pseudonym.
pub struct KafkaUsage {
    queue: mpsc::Sender<Usage>,
    chain: String,
    /// The publishing task and what stops it.
    task: tokio::sync::Mutex<Option<(CancellationToken, tokio::task::JoinHandle<()>)>>,
}

impl KafkaUsage {
    /// Starts the publishing task; it drains the queue until [`UsageSink::finish`], then
    /// flushes. (Not on the process's cancellation: requests still in flight when a shutdown
    /// starts are recorded too.)
    pub fn start(cfg: &KafkaConfig, chain: &str, replica: &str) -> Result<Arc<Self>> {
        let producer = super::producer::idempotent(cfg, 50, "create usage producer")?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let feed = Feed {
            producer,
            topic: Topics::new(&cfg.topic_prefix, chain).name(TopicKind::RpcUsage),
            chain: chain.to_owned(),
            replica: replica.to_owned(),
            started: chainlake_wire::clock::now_ms(),
            seq: AtomicU64::new(0),
        };
        let stop = CancellationToken::new();
        let task = tokio::spawn(feed.run(rx, stop.clone()));
        let task = tokio::sync::Mutex::new(Some((stop, task)));
        Ok(Arc::new(KafkaUsage { queue: tx, chain: chain.to_owned(), task }))
    }
}

impl UsageSink for KafkaUsage {
    fn record(&self, usage: Usage) {
        if let Err(e) = self.queue.try_send(usage) {
            let usage = match e {
                mpsc::error::TrySendError::Full(u) | mpsc::error::TrySendError::Closed(u) => u,
            };
            metrics::counter!(m::USAGE_DROPPED, "chain" => self.chain.clone()).increment(1);
            tracing::warn!(chain = %self.chain, key = %usage.key, method = %usage.method,
                "usage record dropped: the usage queue is full or closed");
        }
    }

    fn finish(&self) -> futures::future::BoxFuture<'_, ()> {
        Box::pin(async {
            if let Some((stop, task)) = self.task.lock().await.take() {
                stop.cancel();
                let _ = task.await;
            }
        })
    }
}

/// The publishing task's state.
struct Feed {
    producer: FutureProducer,
    topic: String,
    chain: String,
    replica: String,
    started: i64,
    seq: AtomicU64,
}

impl Feed {
    fn wire(&self, u: Usage) -> RpcUsageRecord {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        RpcUsageRecord {
            schema_version: SCHEMA_VERSION,
            chain: self.chain.clone(),
            id: format!("{}:{}:{n}", self.replica, self.started),
            outcome: u.outcome().to_owned(),
            key: u.key,
            provider: u.provider,
            method: u.method,
            http_status: u32::from(u.http_status),
            latency_ms: u64::try_from(u.latency.as_millis()).unwrap_or(u64::MAX),
            replica: self.replica.clone(),
            lease_token: u.lease_token,
            sent_at: u.sent_at,
            sent_at_secs: u.sent_at.div_euclid(1000),
        }
    }

    async fn run(self, mut rx: mpsc::Receiver<Usage>, cancel: CancellationToken) {
        loop {
            tokio::select! {
                u = rx.recv() => match u {
                    Some(u) => self.send(u),
                    None => break,
                },
                () = cancel.cancelled() => {
                    // What is queued still goes out.
                    rx.close();
                    while let Some(u) = rx.recv().await {
                        self.send(u);
                    }
                    break;
                }
            }
        }
        let producer = self.producer.clone();
        let _ = tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(5))).await;
    }

    /// Queues one record in the producer; its delivery report is awaited by a task of its own,
    /// so a slow broker never slows the requests.
    fn send(&self, u: Usage) {
        let rec = self.wire(u);
        let key = rec.key();
        let Ok(payload) = serde_json::to_vec(&rec) else { return };
        let record = FutureRecord::to(&self.topic).key(&key).payload(&payload);
        let dropped = |error: String| {
            metrics::counter!(m::USAGE_DROPPED, "chain" => self.chain.clone()).increment(1);
            tracing::warn!(chain = %self.chain, topic = %self.topic, key = %key, %error,
                "usage record not delivered");
        };
        match self.producer.send_result(record) {
            Ok(delivery) => {
                let (chain, topic, key) = (self.chain.clone(), self.topic.clone(), key.clone());
                tokio::spawn(async move {
                    let error = match delivery.await {
                        Ok(Ok(_)) => return,
                        Ok(Err((e, _))) => e.to_string(),
                        Err(_) => "the producer went away".to_owned(),
                    };
                    metrics::counter!(m::USAGE_DROPPED, "chain" => chain.clone()).increment(1);
                    tracing::warn!(%chain, %topic, %key, %error, "usage record not delivered");
                });
            }
            Err((e, _)) => dropped(e.to_string()),
        }
    }
}
