//! Kafka → Bronze Delta, exactly once, as a member of a consumer group.
//!
//! Reads the `{chain}.*` topics; writes one Bronze table per topic plus `_rejected`. For each
//! topic-partition the last written offset is committed as a Delta `txn` action
//! (`{sink-id}-{topic}-{partition}`) in the same commit as its rows. Replicas with the same
//! `sink-id` share the partitions (one group); on every assignment each partition starts just
//! past its offset in Delta (see group.rs). A replica that lost a partition without noticing
//! (a "zombie") cannot commit it: the same app id in a newer commit makes Delta refuse the
//! write as a concurrent transaction, and the replica rejoins and re-reads from Delta.
//! Kafka's committed offsets follow each Delta commit, for lag tooling only.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chainlake_ingest::config::KafkaConfig;
use chainlake_ingest::wire::Topics;
use futures::FutureExt;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use super::buffer::Envelope;
use super::group::{Loader, Offsets, Rebalanced, SinkContext, Stored};
use super::schema::REJECTED_TABLE;
use super::state::{app_id, reject_app_id, txn_version, TopicState};
use crate::config::SinkConfig;
use crate::lake::{Lake, Layer};
use crate::{Error, Result};

/// When [`BronzeSink::run`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Runs until the token is cancelled (production).
    Cancelled,
    /// Returns once every partition of every topic is in Delta up to its high watermark at
    /// start, whichever replica wrote it (tests, demo, backfills).
    CaughtUp,
}

/// What a sink run wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkStats {
    pub rows: u64,
    pub rejected: u64,
    pub commits: u64,
    /// Records read again after a restart and skipped because the table already had them.
    pub skipped: u64,
    /// Times this replica was fenced by another's commit and rejoined.
    pub fenced: u64,
    /// How long the Delta commits of rows took.
    pub commit_latency: super::latency::Latencies,
}

/// Consumes the topics of one chain into its Bronze tables.
pub struct BronzeSink {
    lake: Lake,
    kafka: KafkaConfig,
    cfg: SinkConfig,
    chain: String,
    topics: Topics,
}

type Tp = (String, i32);

fn kerr(
    action: &'static str,
    topic: Option<&str>,
    partition: Option<i32>,
) -> impl FnOnce(rdkafka::error::KafkaError) -> Error {
    let topic = topic.map(str::to_owned);
    move |e| Error::Kafka { action, topic, partition, source: Box::new(e) }
}

impl BronzeSink {
    pub fn new(lake: Lake, kafka: KafkaConfig, cfg: SinkConfig, chain: &str) -> Self {
        let topics = Topics::new(&kafka.topic_prefix, chain);
        BronzeSink { lake, kafka, cfg, chain: chain.to_owned(), topics }
    }

    /// Runs the sink; see [`Until`]. Needs a multi-thread tokio runtime.
    #[tracing::instrument(skip_all, fields(chain = %self.chain, sink = %self.cfg.sink_id))]
    pub async fn run(&self, until: Until, cancel: &CancellationToken) -> Result<SinkStats> {
        let handle = tokio::runtime::Handle::current();
        if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            return Err(Error::Config {
                what: "sink runtime".into(),
                reason: "the sink needs a multi-thread tokio runtime (rebalances read Delta)".into(),
            });
        }
        let mut stats = SinkStats::default();
        loop {
            match self.run_member(until, cancel, &mut stats).await {
                Err(e) if e.is_commit_conflict() => {
                    stats.fenced += 1;
                    metrics::counter!("chainlake_sink_fenced_total").increment(1);
                    tracing::warn!(error = %e, "another writer committed first: rejoining from Delta's offsets");
                }
                Err(e) => return Err(e),
                Ok(()) => return Ok(stats),
            }
        }
    }

    /// Reads the stored offsets of partitions from the lake (fresh table state).
    fn loader(&self) -> Loader {
        let (lake, chain, sink_id) = (self.lake.clone(), self.chain.clone(), self.cfg.sink_id.clone());
        let tables: Arc<HashMap<String, &'static str>> =
            Arc::new(self.topics.all().into_iter().map(|(k, t)| (t, k.table_name())).collect());
        Arc::new(move |parts: Vec<Tp>| {
            let (lake, chain, sink_id, tables) =
                (lake.clone(), chain.clone(), sink_id.clone(), tables.clone());
            async move {
                let rejected = lake.open(&lake.table_url(&chain, Layer::Bronze, REJECTED_TABLE)?).await?;
                let mut opened = HashMap::new();
                let mut out = Offsets::new();
                for (topic, p) in parts {
                    let Some(name) = tables.get(&topic) else { continue };
                    if !opened.contains_key(name) {
                        let t = lake.open(&lake.table_url(&chain, Layer::Bronze, name)?).await?;
                        opened.insert(*name, t);
                    }
                    let rows = match opened.get(name) {
                        Some(t) => txn_version(t, &app_id(&sink_id, &topic, p)).await?,
                        None => None,
                    };
                    let rejects = txn_version(&rejected, &reject_app_id(&sink_id, &topic, p)).await?;
                    out.insert((topic, p), Stored { rows, rejects });
                }
                Ok(out)
            }
            .boxed()
        })
    }

    async fn run_member(
        &self,
        until: Until,
        cancel: &CancellationToken,
        stats: &mut SinkStats,
    ) -> Result<()> {
        let loader = self.loader();
        let context = SinkContext::new(loader.clone(), tokio::runtime::Handle::current());
        let consumer: StreamConsumer<SinkContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.kafka.brokers)
            .set("group.id", &self.cfg.sink_id)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "roundrobin")
            .set("session.timeout.ms", self.cfg.session_timeout.as_millis().to_string())
            // Bounds librdkafka's prefetch (default 64 MiB queued, 50 MiB fetches) next to the
            // sink's own buffers.
            .set("queued.max.messages.kbytes", "16384")
            .set("fetch.max.bytes", "8388608")
            .set("statistics.interval.ms", self.cfg.lag_interval.as_millis().max(1000).to_string())
            .create_with_context(context)
            .map_err(kerr("create consumer", None, None))?;

        let mut rejected =
            self.lake.open(&self.lake.table_url(&self.chain, Layer::Bronze, REJECTED_TABLE)?).await?;
        self.lake.catch_up_checkpoint(&rejected).await?;
        let mut states: HashMap<String, TopicState> = HashMap::new();
        let mut all: Vec<Tp> = Vec::new();
        for (kind, topic) in self.topics.all() {
            let md = consumer.fetch_metadata(Some(&topic), Duration::from_secs(10)).map_err(kerr(
                "fetch metadata",
                Some(&topic),
                None,
            ))?;
            all.extend(
                md.topics().iter().flat_map(|t| t.partitions().iter().map(|p| (topic.clone(), p.id()))),
            );
            let table =
                self.lake.open(&self.lake.table_url(&self.chain, Layer::Bronze, kind.table_name())?).await?;
            self.lake.catch_up_checkpoint(&table).await?;
            states.insert(topic.clone(), TopicState::new(kind, &topic, table));
        }
        let mut targets: HashMap<Tp, i64> = HashMap::new();
        if until == Until::CaughtUp {
            for (topic, p) in &all {
                let (_, high) = consumer
                    .fetch_watermarks(topic, *p, Duration::from_secs(10))
                    .map_err(kerr("fetch watermarks", Some(topic), Some(*p)))?;
                targets.insert((topic.clone(), *p), high);
            }
        }
        let mut member = Member::default();
        if self.cfg.consumer_group {
            let names: Vec<&str> = states.keys().map(String::as_str).collect();
            consumer.subscribe(&names).map_err(kerr("subscribe", None, None))?;
            tracing::info!(topics = states.len(), partitions = all.len(), "bronze sink joined the group");
        } else {
            let offsets = loader(all.clone()).await?;
            let mut tpl = TopicPartitionList::new();
            for ((topic, p), stored) in &offsets {
                let at = stored.rows.map_or(Offset::Beginning, |v| Offset::Offset(v + 1));
                tpl.add_partition_offset(topic, *p, at).map_err(kerr("assign", Some(topic), Some(*p)))?;
            }
            consumer.assign(&tpl).map_err(kerr("assign", None, None))?;
            member.apply(vec![Rebalanced::Assigned(offsets)], &mut states)?;
            tracing::info!(
                topics = states.len(),
                partitions = all.len(),
                "bronze sink assigned every partition"
            );
        }
        let mut last_lag = Instant::now();
        loop {
            member.apply(consumer.context().drain(), &mut states)?;
            if until == Until::CaughtUp && member.caught_up(&targets, &loader).await? {
                break;
            }
            if cancel.is_cancelled() {
                break;
            }
            let msg = tokio::select! {
                _ = cancel.cancelled() => None,
                m = tokio::time::timeout(self.cfg.flush_interval, consumer.recv()) => m.ok(),
            };
            // A rebalance runs inside recv(): apply it before the message it may precede.
            member.apply(consumer.context().drain(), &mut states)?;
            match msg {
                Some(Ok(m)) => {
                    let tp = (m.topic().to_owned(), m.partition());
                    if !member.assigned.contains(&tp) {
                        continue; // fetched before a revoke: its new owner reads it again
                    }
                    member.next.insert(tp.clone(), m.offset() + 1);
                    if let Some(state) = states.get_mut(&tp.0) {
                        let envelope = Envelope {
                            topic: tp.0,
                            partition: tp.1,
                            offset: m.offset(),
                            key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                            ingested_at: chrono::Utc::now().timestamp_micros(),
                        };
                        state.accept(envelope, m.payload(), stats);
                    }
                }
                Some(Err(e)) => {
                    metrics::counter!("chainlake_sink_consumer_errors_total").increment(1);
                    tracing::warn!(error = %e, "kafka consumer error");
                }
                None => {}
            }
            // Bytes bound the memory of all tables together: over budget, the largest flushes.
            let total: usize = states.values().map(TopicState::bytes).sum();
            let largest = (total >= self.cfg.flush_bytes)
                .then(|| states.values().max_by_key(|s| s.bytes()).map(|s| s.topic.clone()))
                .flatten();
            for state in states.values_mut() {
                if state.due(&self.cfg) || largest.as_ref() == Some(&state.topic) {
                    let flushed = state.flush(&self.lake, &self.cfg.sink_id, &mut rejected, stats).await?;
                    commit_kafka(&consumer, &state.topic, &flushed);
                }
            }
            if last_lag.elapsed() >= self.cfg.lag_interval {
                last_lag = Instant::now();
                member.export_lag(&consumer);
            }
        }
        for state in states.values_mut() {
            let flushed = state.flush(&self.lake, &self.cfg.sink_id, &mut rejected, stats).await?;
            commit_kafka(&consumer, &state.topic, &flushed);
        }
        Ok(())
    }
}

/// Kafka's committed offsets follow Delta (for lag tooling); Delta stays the truth.
fn commit_kafka(consumer: &StreamConsumer<SinkContext>, topic: &str, flushed: &[(i32, i64)]) {
    if flushed.is_empty() {
        return;
    }
    let mut tpl = TopicPartitionList::new();
    for (p, o) in flushed {
        let _ = tpl.add_partition_offset(topic, *p, Offset::Offset(o + 1));
    }
    if let Err(e) = consumer.commit(&tpl, CommitMode::Async) {
        tracing::debug!(error = %e, topic, "kafka offset commit failed (Delta holds the offsets)");
    }
}

/// This replica's share of the group.
#[derive(Default)]
struct Member {
    assigned: HashSet<Tp>,
    /// Next offset to write per assigned partition.
    next: HashMap<Tp, i64>,
    /// Delta progress of partitions other replicas own (next offset), read now and then.
    others: HashMap<Tp, i64>,
    others_read: Option<Instant>,
}

impl Member {
    fn apply(&mut self, events: Vec<Rebalanced>, states: &mut HashMap<String, TopicState>) -> Result<()> {
        for e in events {
            match e {
                Rebalanced::Revoked => {
                    for s in states.values_mut() {
                        s.discard();
                    }
                    self.assigned.clear();
                    self.next.clear();
                }
                Rebalanced::Assigned(offsets) => {
                    for ((topic, p), stored) in offsets {
                        if let Some(s) = states.get_mut(&topic) {
                            s.assign(p, stored.rows, stored.rejects);
                        }
                        self.next.insert((topic.clone(), p), stored.rows.map_or(0, |v| v + 1));
                        self.assigned.insert((topic, p));
                    }
                }
                Rebalanced::Failed(reason) => return Err(Error::Rebalance { reason }),
            }
        }
        Ok(())
    }

    /// Every partition is in Delta up to its target: ours by what we wrote, the others by
    /// what the Delta log says (read at most once a second).
    async fn caught_up(&mut self, targets: &HashMap<Tp, i64>, loader: &Loader) -> Result<bool> {
        let behind = |tp: &Tp, high: i64, progress: &HashMap<Tp, i64>| {
            progress.get(tp).copied().unwrap_or(0) < high && high > 0
        };
        if targets.iter().any(|(tp, high)| self.assigned.contains(tp) && behind(tp, *high, &self.next)) {
            return Ok(false);
        }
        let others: Vec<Tp> = targets
            .iter()
            .filter(|(tp, high)| !self.assigned.contains(*tp) && behind(tp, **high, &self.others))
            .map(|(tp, _)| tp.clone())
            .collect();
        if others.is_empty() {
            return Ok(true);
        }
        if self.others_read.is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
            return Ok(false);
        }
        self.others_read = Some(Instant::now());
        for (tp, stored) in loader(others.clone()).await? {
            self.others.insert(tp, stored.rows.map_or(0, |v| v + 1));
        }
        Ok(!others.iter().any(|tp| behind(tp, targets[tp], &self.others)))
    }

    fn export_lag(&self, consumer: &StreamConsumer<SinkContext>) {
        let high = consumer.context().high_watermarks();
        for (tp, next) in &self.next {
            if let Some(high) = high.get(tp) {
                metrics::gauge!("chainlake_sink_lag_records", "topic" => tp.0.clone(), "partition" => tp.1.to_string())
                    .set((high - next).max(0) as f64);
            }
        }
    }
}
