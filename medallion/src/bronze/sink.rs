//! Kafka → Bronze Delta, exactly once.
//!
//! Reads the `{chain}.*` topics; writes one Bronze table per topic plus `_rejected`. For each
//! topic-partition the last written offset is committed as a Delta `txn` action
//! (`{sink-id}-{topic}-{partition}`) in the same commit as its rows; on start the sink reads
//! those versions and seeks just past them, so a crash at any point neither loses nor doubles
//! a record. Rejected records use their own app ids in `_rejected` and are committed first.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chainlake_ingest::config::KafkaConfig;
use chainlake_ingest::wire::{TopicKind, Topics};
use deltalake::kernel::Transaction;
use deltalake::DeltaTable;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use super::buffer::{buffer_for, Envelope, RejectBuffer, TableBuffer};
use super::schema::REJECTED_TABLE;
use crate::config::SinkConfig;
use crate::lake::{Lake, Layer};
use crate::{Error, Result};

/// When [`BronzeSink::run`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Runs until the token is cancelled (production).
    Cancelled,
    /// Returns once every partition is written up to its high watermark at start (tests, demo, backfills).
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
}

/// Consumes the topics of one chain into its Bronze tables.
pub struct BronzeSink {
    lake: Lake,
    kafka: KafkaConfig,
    cfg: SinkConfig,
    chain: String,
    topics: Topics,
}

struct TopicState {
    topic: String,
    table: DeltaTable,
    buffer: Box<dyn TableBuffer>,
    rejects: RejectBuffer,
    bytes: usize,
    oldest: Option<Instant>,
    /// Last offset per partition already in the table (from the Delta log).
    committed: HashMap<i32, i64>,
    rejects_committed: HashMap<i32, i64>,
    /// Highest offset per partition buffered since the last flush.
    pending: BTreeMap<i32, i64>,
    rejects_pending: BTreeMap<i32, i64>,
}

async fn txn_version(table: &DeltaTable, app_id: &str) -> Result<Option<i64>> {
    let Ok(state) = table.snapshot() else { return Ok(None) };
    state
        .transaction_version(table.log_store().as_ref(), app_id)
        .await
        .map_err(Error::delta("read txn", table.table_url()))
}

impl BronzeSink {
    pub fn new(lake: Lake, kafka: KafkaConfig, cfg: SinkConfig, chain: &str) -> Self {
        let topics = Topics::new(&kafka.topic_prefix, chain);
        BronzeSink { lake, kafka, cfg, chain: chain.to_owned(), topics }
    }

    fn app_id(&self, topic: &str, partition: i32) -> String {
        format!("{}-{topic}-{partition}", self.cfg.sink_id)
    }

    fn reject_app_id(&self, topic: &str, partition: i32) -> String {
        format!("{}-rejected-{topic}-{partition}", self.cfg.sink_id)
    }

    /// Runs the sink; see [`Until`].
    #[tracing::instrument(skip_all, fields(chain = %self.chain, sink = %self.cfg.sink_id))]
    pub async fn run(&self, until: Until, cancel: &CancellationToken) -> Result<SinkStats> {
        let kerr = |action, topic: Option<&str>, partition| {
            let topic = topic.map(str::to_owned);
            move |e| Error::Kafka { action, topic, partition, source: Box::new(e) }
        };
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.kafka.brokers)
            .set("group.id", &self.cfg.sink_id)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .create()
            .map_err(kerr("create consumer", None, None))?;

        let rejected_url = self.lake.table_url(&self.chain, Layer::Bronze, REJECTED_TABLE)?;
        let mut rejected_table = self.lake.open(&rejected_url).await?;
        let mut states: HashMap<String, TopicState> = HashMap::new();
        let mut tpl = TopicPartitionList::new();
        let mut next: HashMap<(String, i32), i64> = HashMap::new();
        let mut targets: HashMap<(String, i32), i64> = HashMap::new();
        for (kind, topic) in self.topics.all() {
            let md = consumer.fetch_metadata(Some(&topic), Duration::from_secs(10)).map_err(kerr(
                "fetch metadata",
                Some(&topic),
                None,
            ))?;
            let partitions: Vec<i32> =
                md.topics().iter().flat_map(|t| t.partitions().iter().map(|p| p.id())).collect();
            let table =
                self.lake.open(&self.lake.table_url(&self.chain, Layer::Bronze, kind.table_name())?).await?;
            let mut state = new_state(kind, &topic, table);
            for p in partitions {
                let done = txn_version(&state.table, &self.app_id(&topic, p)).await?;
                if let Some(v) = txn_version(&rejected_table, &self.reject_app_id(&topic, p)).await? {
                    state.rejects_committed.insert(p, v);
                }
                let offset = match done {
                    Some(v) => {
                        state.committed.insert(p, v);
                        next.insert((topic.clone(), p), v + 1);
                        Offset::Offset(v + 1)
                    }
                    None => Offset::Beginning,
                };
                tpl.add_partition_offset(&topic, p, offset).map_err(kerr("assign", Some(&topic), Some(p)))?;
                if until == Until::CaughtUp {
                    let (_, high) = consumer
                        .fetch_watermarks(&topic, p, Duration::from_secs(10))
                        .map_err(kerr("fetch watermarks", Some(&topic), Some(p)))?;
                    targets.insert((topic.clone(), p), high);
                }
            }
            states.insert(topic, state);
        }
        consumer.assign(&tpl).map_err(kerr("assign", None, None))?;
        tracing::info!(topics = states.len(), "bronze sink assigned");

        let mut stats = SinkStats::default();
        loop {
            let caught_up = until == Until::CaughtUp
                && targets.iter().all(|(tp, high)| next.get(tp).copied().unwrap_or(0) >= *high);
            if caught_up || cancel.is_cancelled() {
                break;
            }
            let msg = tokio::select! {
                _ = cancel.cancelled() => None,
                m = tokio::time::timeout(self.cfg.flush_interval, consumer.recv()) => m.ok(),
            };
            match msg {
                Some(Ok(m)) => {
                    let topic = m.topic().to_owned();
                    let (p, offset) = (m.partition(), m.offset());
                    next.insert((topic.clone(), p), offset + 1);
                    if let Some(state) = states.get_mut(&topic) {
                        let envelope = Envelope {
                            topic: topic.clone(),
                            partition: p,
                            offset,
                            key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                            ingested_at: chrono::Utc::now().timestamp_micros(),
                        };
                        self.accept(state, envelope, m.payload(), &mut stats);
                    }
                }
                Some(Err(e)) => {
                    metrics::counter!("chainlake_sink_consumer_errors_total").increment(1);
                    tracing::warn!(error = %e, "kafka consumer error");
                }
                None => {}
            }
            for state in states.values_mut() {
                if self.due(state) {
                    self.flush(state, &mut rejected_table, &mut stats).await?;
                }
            }
        }
        for state in states.values_mut() {
            self.flush(state, &mut rejected_table, &mut stats).await?;
        }
        Ok(stats)
    }

    fn accept(
        &self,
        state: &mut TopicState,
        envelope: Envelope,
        payload: Option<&[u8]>,
        stats: &mut SinkStats,
    ) {
        let (p, offset) = (envelope.partition, envelope.offset);
        if state.committed.get(&p).is_some_and(|c| offset <= *c) {
            stats.skipped += 1;
            return;
        }
        state.oldest.get_or_insert_with(Instant::now);
        state.bytes += payload.map_or(0, <[u8]>::len);
        let reason = match payload {
            None => Some("empty payload".to_owned()),
            Some(bytes) => state.buffer.push(bytes, envelope.clone()).err(),
        };
        if let Some(reason) = reason {
            metrics::counter!("chainlake_sink_rejected_total", "topic" => state.topic.clone()).increment(1);
            tracing::warn!(topic = %state.topic, partition = p, offset, %reason, "record rejected");
            if state.rejects_committed.get(&p).is_none_or(|c| offset > *c) {
                state.rejects.push(payload, reason, envelope);
                state.rejects_pending.insert(p, offset);
                stats.rejected += 1;
            }
        }
        state.pending.insert(p, offset);
    }

    fn due(&self, s: &TopicState) -> bool {
        s.buffer.len() >= self.cfg.flush_rows
            || s.bytes >= self.cfg.flush_bytes
            || s.oldest.is_some_and(|t| t.elapsed() >= self.cfg.flush_interval)
    }

    #[tracing::instrument(skip_all, fields(topic = %state.topic))]
    async fn flush(
        &self,
        state: &mut TopicState,
        rejected: &mut DeltaTable,
        stats: &mut SinkStats,
    ) -> Result<()> {
        if !state.rejects.is_empty() {
            let batch = state.rejects.take_batch()?;
            let txns = state
                .rejects_pending
                .iter()
                .map(|(p, o)| Transaction::new(self.reject_app_id(&state.topic, *p), *o));
            *rejected = self.lake.append(rejected.clone(), vec![batch], txns.collect()).await?;
            state.rejects_committed.extend(std::mem::take(&mut state.rejects_pending));
            stats.commits += 1;
        }
        if !state.buffer.is_empty() {
            let started = Instant::now();
            let batch = state.buffer.take_batch()?;
            let rows = batch.num_rows() as u64;
            let txns = state.pending.iter().map(|(p, o)| Transaction::new(self.app_id(&state.topic, *p), *o));
            state.table = self.lake.append(state.table.clone(), vec![batch], txns.collect()).await?;
            state.committed.extend(std::mem::take(&mut state.pending));
            stats.rows += rows;
            stats.commits += 1;
            metrics::counter!("chainlake_sink_rows_total", "topic" => state.topic.clone()).increment(rows);
            metrics::counter!("chainlake_sink_commits_total", "topic" => state.topic.clone()).increment(1);
            metrics::histogram!("chainlake_sink_commit_seconds", "topic" => state.topic.clone())
                .record(started.elapsed().as_secs_f64());
        }
        // Offsets of rejected-only flushes are covered by the `_rejected` txn versions.
        state.pending.clear();
        state.bytes = 0;
        state.oldest = None;
        Ok(())
    }
}

fn new_state(kind: TopicKind, topic: &str, table: DeltaTable) -> TopicState {
    TopicState {
        topic: topic.to_owned(),
        table,
        buffer: buffer_for(kind),
        rejects: RejectBuffer::default(),
        bytes: 0,
        oldest: None,
        committed: HashMap::new(),
        rejects_committed: HashMap::new(),
        pending: BTreeMap::new(),
        rejects_pending: BTreeMap::new(),
    }
}
