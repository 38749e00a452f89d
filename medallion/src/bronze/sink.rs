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

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chainlake_wire::schema::REJECTED_TABLE;
use chainlake_wire::{KafkaConfig, TopicPartition, Topics};
use deltalake::DeltaTable;
use futures::FutureExt;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use super::buffer::Envelope;
use super::group::{start_offset, Loader, Offsets, Rebalanced, SinkContext, Stored};
use super::idle::Watchdog;
use super::member::Member;
use super::sink_stats::SinkStats;
use super::state::{app_id, reject_app_id, TopicState};
use crate::config::SinkConfig;
use crate::lake::txn::txn_version;
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

/// Consumes the topics of one chain into its Bronze tables.
pub struct BronzeSink {
    lake: Lake,
    kafka: KafkaConfig,
    cfg: SinkConfig,
    chain: String,
    topics: Topics,
}

fn kerr(
    action: &'static str,
    topic: Option<&str>,
    partition: Option<i32>,
) -> impl FnOnce(rdkafka::error::KafkaError) -> Error {
    let topic = topic.map(str::to_owned);
    move |e| Error::Kafka { action, topic, partition, source: Box::new(e) }
}

/// How one session of the sink holds its partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Membership {
    /// The consumer group assigns them.
    Group,
    /// Every partition, assigned by this replica (`sink.consumer-group = false`).
    Alone,
    /// Partitions the group left stuck (idle.rs), assigned by this replica until they are
    /// caught up with their high watermarks at the takeover; then back to the group. Whoever
    /// else writes them, Delta's `txn` versions let only one commit per offset.
    Takeover(Vec<TopicPartition>),
}

/// One membership of the group: the consumer, the tables it writes and its share.
struct Session {
    consumer: StreamConsumer<SinkContext>,
    loader: Loader,
    rejected: DeltaTable,
    states: HashMap<String, TopicState>,
    member: Member,
    /// High watermarks at start ([`Until::CaughtUp`], or the partitions of a takeover).
    targets: HashMap<TopicPartition, i64>,
    /// Every partition of the topics.
    all: Vec<TopicPartition>,
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
            return Err(Error::Runtime {
                what: "the sink",
                why: "rebalances read Delta inside librdkafka's callback",
            });
        }
        let mut stats = SinkStats::default();
        let group = if self.cfg.consumer_group { Membership::Group } else { Membership::Alone };
        let mut membership = group.clone();
        loop {
            match self.run_member(until, &membership, cancel, &mut stats).await {
                Err(e) if e.is_commit_conflict() => {
                    stats.fenced += 1;
                    metrics::counter!(crate::metrics::SINK_FENCED).increment(1);
                    tracing::warn!(error = %e, "another writer committed first: rejoining from Delta's offsets");
                    membership = group.clone();
                }
                Err(Error::Stalled { partitions }) => {
                    stats.stalls += 1;
                    metrics::counter!(crate::metrics::SINK_STALLS).increment(1);
                    tracing::warn!(behind = partitions.len(), timeout = ?self.cfg.session_timeout,
                        "sink holds no partition while partitions are behind and not advancing: taking them over until they are caught up");
                    membership = Membership::Takeover(partitions);
                }
                Err(e) => return Err(e),
                Ok(()) if matches!(membership, Membership::Takeover(_)) && !cancel.is_cancelled() => {
                    tracing::info!("stuck partitions caught up: rejoining the group");
                    membership = group.clone();
                }
                Ok(()) => return Ok(stats),
            }
        }
    }

    /// Sinks only `partitions`, without a group, up to their high watermarks now; then
    /// returns. For draining a backlog by hand, one partition at a time if need be (the
    /// order in which a backlog lands never changes Silver: it orders by the follower's `seq`).
    #[tracing::instrument(skip_all, fields(chain = %self.chain, sink = %self.cfg.sink_id, partitions = partitions.len()))]
    pub async fn drain(
        &self,
        partitions: Vec<TopicPartition>,
        cancel: &CancellationToken,
    ) -> Result<SinkStats> {
        let mut stats = SinkStats::default();
        self.run_member(Until::CaughtUp, &Membership::Takeover(partitions), cancel, &mut stats).await?;
        Ok(stats)
    }

    /// Reads the stored offsets of partitions from the lake (fresh table state).
    fn loader(&self) -> Loader {
        let (lake, chain, sink_id) = (self.lake.clone(), self.chain.clone(), self.cfg.sink_id.clone());
        let tables: Arc<HashMap<String, &'static str>> =
            Arc::new(self.topics.all().into_iter().map(|(k, t)| (t, k.table_name())).collect());
        Arc::new(move |parts: Vec<TopicPartition>| {
            let (lake, chain, sink_id, tables) =
                (lake.clone(), chain.clone(), sink_id.clone(), tables.clone());
            async move {
                let rejected = lake.open(&lake.table_url(&chain, Layer::Bronze, REJECTED_TABLE)?).await?;
                let mut opened = HashMap::new();
                let mut out = Offsets::new();
                for tp in parts {
                    let Some(name) = tables.get(&tp.topic) else { continue };
                    if !opened.contains_key(name) {
                        let t = lake.open(&lake.table_url(&chain, Layer::Bronze, name)?).await?;
                        opened.insert(*name, t);
                    }
                    let (rows, committed_ms) = match opened.get(name) {
                        Some(t) => (
                            txn_version(t, &app_id(&sink_id, &tp.topic, tp.partition)).await?,
                            last_commit_ms(t),
                        ),
                        None => (None, None),
                    };
                    let rejects =
                        txn_version(&rejected, &reject_app_id(&sink_id, &tp.topic, tp.partition)).await?;
                    out.insert(tp, Stored { rows, rejects, committed_ms });
                }
                Ok(out)
            }
            .boxed()
        })
    }

    fn consumer(&self, loader: Loader) -> Result<StreamConsumer<SinkContext>> {
        let context = SinkContext::new(loader, tokio::runtime::Handle::current());
        ClientConfig::new()
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
            .map_err(kerr("create consumer", None, None))
    }

    /// Connects, opens every Bronze table (checkpoint caught up) and reads the partitions.
    async fn open_session(
        &self,
        until: Until,
        membership: &Membership,
    ) -> Result<(Session, Vec<TopicPartition>)> {
        let loader = self.loader();
        let consumer = self.consumer(loader.clone())?;
        let rejected =
            self.lake.open(&self.lake.table_url(&self.chain, Layer::Bronze, REJECTED_TABLE)?).await?;
        self.lake.catch_up_checkpoint(&rejected).await?;
        let mut states = HashMap::new();
        let mut all = Vec::new();
        for (kind, topic) in self.topics.all() {
            let md = consumer.fetch_metadata(Some(&topic), Duration::from_secs(10)).map_err(kerr(
                "fetch metadata",
                Some(&topic),
                None,
            ))?;
            all.extend(
                md.topics()
                    .iter()
                    .flat_map(|t| t.partitions().iter().map(|p| TopicPartition::new(&topic, p.id()))),
            );
            let table =
                self.lake.open(&self.lake.table_url(&self.chain, Layer::Bronze, kind.table_name())?).await?;
            self.lake.catch_up_checkpoint(&table).await?;
            states.insert(topic.clone(), TopicState::new(kind, &topic, table));
        }
        let mut targets = HashMap::new();
        let targeted: &[TopicPartition] = match membership {
            Membership::Takeover(parts) => parts,
            _ if until == Until::CaughtUp => &all,
            _ => &[],
        };
        for tp in targeted {
            let (_, high) = consumer
                .fetch_watermarks(&tp.topic, tp.partition, Duration::from_secs(10))
                .map_err(kerr("fetch watermarks", Some(&tp.topic), Some(tp.partition)))?;
            targets.insert(tp.clone(), high);
        }
        let session = Session {
            consumer,
            loader,
            rejected,
            states,
            member: Member::default(),
            targets,
            all: all.clone(),
        };
        Ok((session, all))
    }

    /// Joins the group, or assigns the partitions (every one, or a takeover's) at their Delta
    /// offsets.
    async fn join(&self, s: &mut Session, all: Vec<TopicPartition>, membership: &Membership) -> Result<()> {
        let all = match membership {
            Membership::Takeover(parts) => parts.clone(),
            _ => all,
        };
        let partitions = all.len();
        if *membership == Membership::Group {
            let names: Vec<&str> = s.states.keys().map(String::as_str).collect();
            s.consumer.subscribe(&names).map_err(kerr("subscribe", None, None))?;
            tracing::info!(topics = s.states.len(), partitions, "bronze sink joined the group");
            return Ok(());
        }
        let offsets = (s.loader)(all).await?;
        let mut tpl = TopicPartitionList::new();
        for (tp, stored) in &offsets {
            tpl.add_partition_offset(&tp.topic, tp.partition, start_offset(stored)).map_err(kerr(
                "assign",
                Some(&tp.topic),
                Some(tp.partition),
            ))?;
        }
        s.consumer.assign(&tpl).map_err(kerr("assign", None, None))?;
        s.member.apply(vec![Rebalanced::Assigned(offsets)], &mut s.states)?;
        tracing::info!(topics = s.states.len(), partitions, "bronze sink assigned its partitions");
        Ok(())
    }

    async fn run_member(
        &self,
        until: Until,
        membership: &Membership,
        cancel: &CancellationToken,
        stats: &mut SinkStats,
    ) -> Result<()> {
        let (mut s, all) = self.open_session(until, membership).await?;
        self.join(&mut s, all, membership).await?;
        let targeted = until == Until::CaughtUp || matches!(membership, Membership::Takeover(_));
        let mut last_lag = Instant::now();
        let mut watchdog = Watchdog::new(self.cfg.session_timeout);
        loop {
            s.member.apply(s.consumer.context().drain(), &mut s.states)?;
            if *membership == Membership::Group {
                let (held, rebalanced) = (s.member.assigned.len(), s.member.rebalanced);
                if let Some(partitions) =
                    watchdog.stalled(held, rebalanced, &s.all, &s.consumer, &s.loader).await?
                {
                    return Err(Error::Stalled { partitions });
                }
            }
            if targeted && s.member.caught_up(&s.targets, &s.loader).await? {
                break;
            }
            if cancel.is_cancelled() {
                break;
            }
            let msg = tokio::select! {
                _ = cancel.cancelled() => None,
                m = tokio::time::timeout(self.cfg.flush_interval, s.consumer.recv()) => m.ok(),
            };
            // A rebalance runs inside recv(): apply it before the message it may precede.
            s.member.apply(s.consumer.context().drain(), &mut s.states)?;
            match msg {
                Some(Ok(m)) => accept(&mut s.member, &mut s.states, &m, stats),
                Some(Err(e)) => {
                    metrics::counter!(crate::metrics::SINK_CONSUMER_ERRORS).increment(1);
                    tracing::warn!(error = %e, "kafka consumer error");
                }
                None => {}
            }
            self.flush_due(&mut s, stats, false).await?;
            if last_lag.elapsed() >= self.cfg.lag_interval {
                last_lag = Instant::now();
                s.member.export_lag(&s.consumer);
            }
        }
        self.flush_due(&mut s, stats, true).await
    }

    /// Flushes the tables that are due (or all, with `all`). Bytes bound the memory of all
    /// tables together: over budget, the largest flushes too.
    async fn flush_due(&self, s: &mut Session, stats: &mut SinkStats, all: bool) -> Result<()> {
        let total: usize = s.states.values().map(TopicState::bytes).sum();
        let largest = (total >= self.cfg.flush_bytes)
            .then(|| s.states.values().max_by_key(|t| t.bytes()).map(|t| t.topic.clone()))
            .flatten();
        for state in s.states.values_mut() {
            if all || state.due(&self.cfg) || largest.as_ref() == Some(&state.topic) {
                let flushed = state.flush(&self.lake, &self.cfg.sink_id, &mut s.rejected, stats).await?;
                commit_kafka(&s.consumer, &state.topic, &flushed);
            }
        }
        Ok(())
    }
}

/// When the table's latest version was committed (its commit file's time, ms since the epoch).
fn last_commit_ms(table: &DeltaTable) -> Option<i64> {
    let version = table.version()?;
    table.snapshot().ok()?.version_timestamp(version)
}

/// Buffers one message of an assigned partition.
fn accept(
    member: &mut Member,
    states: &mut HashMap<String, TopicState>,
    m: &BorrowedMessage<'_>,
    stats: &mut SinkStats,
) {
    let tp = TopicPartition::new(m.topic(), m.partition());
    if !member.assigned.contains(&tp) {
        return; // fetched before a revoke: its new owner reads it again
    }
    member.next.insert(tp.clone(), m.offset() + 1);
    if let Some(state) = states.get_mut(&tp.topic) {
        let envelope = Envelope {
            topic: tp.topic,
            partition: tp.partition,
            offset: m.offset(),
            key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
            ingested_at: chrono::Utc::now().timestamp_micros(),
        };
        state.accept(envelope, m.payload(), stats);
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
