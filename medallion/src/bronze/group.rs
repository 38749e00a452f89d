//! Consumer-group membership of the sink. On every assignment the partitions start where the
//! Delta tables say (the `txn` versions of `{sink-id}-{topic}-{partition}`), never where
//! Kafka's committed offsets say: the offsets are read inside the rebalance callback and set on
//! the assignment before it takes effect, so no record is fetched from a wrong position.
//!
//! Reads: the Bronze tables' and `_rejected`'s txn versions. Writes: the assignment, and the
//! events the sink loop applies to its buffers (a revoke drops everything not yet committed;
//! the next owner reads it again from Delta's offsets).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use chainlake_wire::TopicPartition;

use crate::{Error, Result};

/// What the Delta log says about one topic-partition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Stored {
    /// Last offset whose row is in the Bronze table.
    pub rows: Option<i64>,
    /// Last offset whose reject is in `_rejected`.
    pub rejects: Option<i64>,
    /// When the partition's Bronze table was last committed to (ms since the epoch), if known.
    pub committed_ms: Option<i64>,
}

/// Stored offsets by topic-partition.
pub(super) type Offsets = HashMap<TopicPartition, Stored>;

/// Reads [`Offsets`] of the given partitions from the lake.
pub(super) type Loader =
    Arc<dyn Fn(Vec<TopicPartition>) -> BoxFuture<'static, Result<Offsets>> + Send + Sync>;

/// A rebalance, as the sink loop sees it.
#[derive(Debug)]
pub(super) enum Rebalanced {
    Assigned(Offsets),
    Revoked,
    /// Nothing was assigned (one of the `Error::Rebalance*` variants).
    Failed(Error),
}

/// Where a partition starts: just past its last offset in Delta, or at the beginning.
pub(super) fn start_offset(stored: &Stored) -> Offset {
    stored.rows.map_or(Offset::Beginning, |v| Offset::Offset(v + 1))
}

/// The consumer context: runs the rebalance with offsets from Delta, and keeps the high
/// watermarks librdkafka's statistics report (consumer lag without asking the broker: a
/// ListOffsets request would queue behind the fetch in flight and stall the sink loop).
pub(super) struct SinkContext {
    loader: Loader,
    handle: tokio::runtime::Handle,
    events: Mutex<Vec<Rebalanced>>,
    high: Mutex<HashMap<TopicPartition, i64>>,
}

impl SinkContext {
    /// `handle`: a multi-thread runtime (the callback blocks on the lake read).
    pub(super) fn new(loader: Loader, handle: tokio::runtime::Handle) -> Self {
        SinkContext { loader, handle, events: Mutex::new(Vec::new()), high: Mutex::new(HashMap::new()) }
    }

    /// Rebalances since the last call, oldest first.
    pub(super) fn drain(&self) -> Vec<Rebalanced> {
        std::mem::take(&mut *self.events.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn push(&self, e: Rebalanced) {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).push(e);
    }

    /// The last high watermark per partition the statistics reported.
    pub(super) fn high_watermarks(&self) -> HashMap<TopicPartition, i64> {
        self.high.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl ClientContext for SinkContext {
    fn stats(&self, statistics: Statistics) {
        let mut high = self.high.lock().unwrap_or_else(|e| e.into_inner());
        for (topic, t) in statistics.topics {
            // Partition -1 is librdkafka's internal "unassigned" queue; -1001 means unknown.
            for (p, part) in t.partitions.into_iter().filter(|(p, part)| *p >= 0 && part.hi_offset >= 0) {
                high.insert(TopicPartition::new(topic.clone(), p), part.hi_offset);
            }
        }
    }
}

impl SinkContext {
    /// Reads the partitions' offsets from Delta, seeks `tpl` to them and assigns it.
    fn assign(&self, consumer: &BaseConsumer<Self>, tpl: &mut TopicPartitionList) -> Result<Offsets> {
        let parts: Vec<TopicPartition> =
            tpl.elements().iter().map(|e| TopicPartition::new(e.topic(), e.partition())).collect();
        let partitions = parts.len();
        let load = (self.loader)(parts);
        let offsets = tokio::task::block_in_place(|| self.handle.block_on(load))
            .map_err(|e| Error::RebalanceOffsets { partitions, source: Box::new(e) })?;
        for (tp, stored) in &offsets {
            tpl.set_partition_offset(&tp.topic, tp.partition, start_offset(stored)).map_err(|e| {
                Error::RebalanceSeek { tp: tp.clone(), offset: stored.rows, source: Box::new(e) }
            })?;
        }
        consumer.assign(tpl).map_err(|e| Error::RebalanceAssign { partitions, source: Box::new(e) })?;
        Ok(offsets)
    }
}

impl ConsumerContext for SinkContext {
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => match self.assign(consumer, tpl) {
                Ok(offsets) => {
                    tracing::info!(partitions = offsets.len(), "partitions assigned at Delta offsets");
                    metrics::counter!(crate::metrics::SINK_REBALANCES, "kind" => "assign").increment(1);
                    self.push(Rebalanced::Assigned(offsets));
                }
                // Without Delta's offsets nothing may be consumed: stay unassigned.
                Err(e) => self.push(Rebalanced::Failed(e)),
            },
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                if let Err(e) = consumer.unassign() {
                    tracing::warn!(error = %e, "unassign failed");
                }
                metrics::counter!(crate::metrics::SINK_REBALANCES, "kind" => "revoke").increment(1);
                self.push(Rebalanced::Revoked);
            }
            other => tracing::warn!(error = ?other, "rebalance error"),
        }
    }
}
