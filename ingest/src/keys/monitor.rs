//! `chainlake keys monitor`: reads `{chain}.ops.rpc_usage` and keeps the [`OBSERVED`] ledger
//! (per key and minute, in Redis or ScyllaDB like the replicas' reservations) and per-key
//! metrics of what the replicas really sent: requests by outcome, 429s, latency.
//!
//! The replicas enforce quotas on their own reservations, counted before each request (a key is
//! never overrun while Kafka lags); the monitor is the independent count from the wire: `keys
//! status` shows both, and a gap between them is a replica that sent without counting, or a
//! usage feed that lost records (`chainlake_usage_dropped_total`).
//!
//! Offsets are committed after the ledger has the records (at least once: a crash can count a
//! few records twice in the observed ledger, never lose them). A record that does not parse is
//! logged with its coordinates and counted, then skipped (the sink keeps it raw in `_rejected`).

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use chainlake_wire::records::RpcUsageRecord;
use chainlake_wire::{KafkaConfig, TopicKind, Topics};

use super::ledger::{UsageLedger, OBSERVED};
use crate::keys::{KeyError, KeyResult};
use crate::metrics as m;

/// What one monitor run saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonitorReport {
    pub records: u64,
    pub malformed: u64,
    /// Requests per key.
    pub per_key: BTreeMap<String, u64>,
    /// HTTP 429 answers per key.
    pub throttled: BTreeMap<String, u64>,
}

/// When a monitor run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorUntil {
    /// Runs until cancelled.
    Cancelled,
    /// Stops once it has read every record the topic held when it started.
    CaughtUp,
}

fn kerr<'a>(action: &'static str, brokers: &'a str) -> impl Fn(rdkafka::error::KafkaError) -> KeyError + 'a {
    move |e| KeyError::Kafka { action, brokers: brokers.to_owned(), source: Box::new(e) }
}

/// Reads the chain's usage topic into `ledger` (which should be the [`OBSERVED`] one).
pub async fn monitor<U: UsageLedger>(
    kafka: &KafkaConfig,
    chain: &str,
    ledger: &U,
    until: MonitorUntil,
    cancel: &CancellationToken,
) -> KeyResult<MonitorReport> {
    let topic = Topics::new(&kafka.topic_prefix, chain).name(TopicKind::RpcUsage);
    let group = format!("{}chainlake-keys-monitor-{chain}", kafka.topic_prefix);
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &kafka.brokers)
        .set("group.id", &group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .map_err(kerr("create the usage consumer", &kafka.brokers))?;
    consumer.subscribe(&[&topic]).map_err(kerr("subscribe to the usage topic", &kafka.brokers))?;
    let ends = match until {
        MonitorUntil::CaughtUp => Some(high_watermarks(&consumer, &topic, &kafka.brokers)?),
        MonitorUntil::Cancelled => None,
    };
    tracing::info!(%chain, %topic, %group, ledger = OBSERVED, "keys monitor reading the usage topic");
    let mut report = MonitorReport::default();
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    let done = |next: &BTreeMap<i32, i64>| {
        ends.as_ref()
            .is_some_and(|ends| ends.iter().all(|(p, end)| next.get(p).copied().unwrap_or(0) >= *end))
    };
    while !done(&next) {
        let msg = tokio::select! {
            m = consumer.recv() => m,
            () = cancel.cancelled() => break,
        };
        let msg = match msg {
            Ok(m) => m,
            // Broker hiccups are transient for a consumer: say so, wait a moment, read on.
            Err(e) => {
                tracing::warn!(%chain, %topic, error = %e, "reading the usage topic failed: retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let (partition, offset) = (msg.partition(), msg.offset());
        match msg.payload().map(serde_json::from_slice::<RpcUsageRecord>) {
            Some(Ok(rec)) => {
                count(chain, &rec, ledger).await?;
                report.records += 1;
                *report.per_key.entry(rec.key.clone()).or_default() += 1;
                if rec.http_status == 429 {
                    *report.throttled.entry(rec.key).or_default() += 1;
                }
            }
            Some(Err(e)) => malformed(chain, &topic, partition, offset, &e.to_string(), &mut report),
            None => malformed(chain, &topic, partition, offset, "no payload", &mut report),
        }
        next.insert(partition, offset + 1);
        consumer.store_offset(&topic, partition, offset).map_err(kerr("store the offset", &kafka.brokers))?;
        if report.records.is_multiple_of(500) {
            commit(&consumer, &kafka.brokers)?;
        }
    }
    commit(&consumer, &kafka.brokers)?;
    Ok(report)
}

/// Counts one record in the ledger and the metrics.
async fn count<U: UsageLedger>(chain: &str, rec: &RpcUsageRecord, ledger: &U) -> KeyResult<()> {
    ledger.add(&rec.key, u64::try_from(rec.sent_at).unwrap_or(0), 1).await?;
    metrics::counter!(m::KEY_OBSERVED, "chain" => chain.to_owned(), "key" => rec.key.clone(),
        "provider" => rec.provider.clone(), "outcome" => rec.outcome.clone())
    .increment(1);
    metrics::histogram!(m::KEY_LATENCY, "chain" => chain.to_owned(), "key" => rec.key.clone())
        .record(rec.latency_ms as f64 / 1000.0);
    Ok(())
}

fn malformed(chain: &str, topic: &str, partition: i32, offset: i64, why: &str, report: &mut MonitorReport) {
    report.malformed += 1;
    metrics::counter!(m::USAGE_MALFORMED, "chain" => chain.to_owned()).increment(1);
    tracing::warn!(%chain, %topic, partition, offset, reason = %why, "usage record does not parse: skipped");
}

fn commit(consumer: &StreamConsumer, brokers: &str) -> KeyResult<()> {
    match consumer.commit_consumer_state(CommitMode::Sync) {
        // Nothing stored yet (an empty topic): nothing to commit.
        Err(rdkafka::error::KafkaError::ConsumerCommit(rdkafka::types::RDKafkaErrorCode::NoOffset)) => Ok(()),
        other => other.map_err(kerr("commit the usage offsets", brokers)),
    }
}

/// The end offset of every partition of `topic` now.
fn high_watermarks(consumer: &StreamConsumer, topic: &str, brokers: &str) -> KeyResult<BTreeMap<i32, i64>> {
    let timeout = Duration::from_secs(10);
    let md = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(kerr("read the usage topic's metadata", brokers))?;
    let mut ends = BTreeMap::new();
    for t in md.topics() {
        for p in t.partitions() {
            let (_, high) = consumer
                .fetch_watermarks(topic, p.id(), timeout)
                .map_err(kerr("read the usage watermarks", brokers))?;
            ends.insert(p.id(), high);
        }
    }
    // Partitions the group already read past are done; the committed offset says where it is.
    let mut tpl = TopicPartitionList::new();
    for p in ends.keys() {
        tpl.add_partition(topic, *p);
    }
    if let Ok(committed) = consumer.committed_offsets(tpl, timeout) {
        for e in committed.elements() {
            if let (Offset::Offset(o), Some(end)) = (e.offset(), ends.get(&e.partition())) {
                if o >= *end {
                    ends.insert(e.partition(), 0);
                }
            }
        }
    }
    Ok(ends)
}
