//! This replica's share of the consumer group: which partitions it holds, the next offset to
//! write of each, and (for [`super::Until::CaughtUp`]) how far the other replicas got.
//!
//! Reads: rebalance events (group.rs) and, now and then, other replicas' offsets from Delta.
//! Writes: the per-topic buffers' assignments (state.rs) and the lag metric.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chainlake_wire::TopicPartition;
use rdkafka::consumer::{Consumer, StreamConsumer};

use super::group::{Loader, Rebalanced, SinkContext};
use super::state::TopicState;
use crate::Result;

#[derive(Default)]
pub(crate) struct Member {
    pub(crate) assigned: HashSet<TopicPartition>,
    /// Next offset to write per assigned partition.
    pub(crate) next: HashMap<TopicPartition, i64>,
    /// Delta progress of partitions other replicas own (next offset), read now and then.
    others: HashMap<TopicPartition, i64>,
    others_read: Option<Instant>,
    /// The coordinator has answered this membership with an assignment (maybe empty).
    pub(crate) rebalanced: bool,
}

impl Member {
    /// Applies rebalances in order: a revoke drops every buffer, an assignment starts each
    /// partition at its Delta offsets; a failed rebalance is the error.
    pub(crate) fn apply(
        &mut self,
        events: Vec<Rebalanced>,
        states: &mut HashMap<String, TopicState>,
    ) -> Result<()> {
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
                    self.rebalanced = true;
                    for (tp, stored) in offsets {
                        if let Some(s) = states.get_mut(&tp.topic) {
                            s.assign(tp.partition, stored.rows, stored.rejects);
                        }
                        self.next.insert(tp.clone(), stored.rows.map_or(0, |v| v + 1));
                        self.assigned.insert(tp);
                    }
                }
                Rebalanced::Failed(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Every partition is in Delta up to its target: ours by what we wrote, the others by
    /// what the Delta log says (read at most once a second).
    pub(crate) async fn caught_up(
        &mut self,
        targets: &HashMap<TopicPartition, i64>,
        loader: &Loader,
    ) -> Result<bool> {
        let behind = |tp: &TopicPartition, high: i64, progress: &HashMap<TopicPartition, i64>| {
            progress.get(tp).copied().unwrap_or(0) < high && high > 0
        };
        if targets.iter().any(|(tp, high)| self.assigned.contains(tp) && behind(tp, *high, &self.next)) {
            return Ok(false);
        }
        let others: Vec<TopicPartition> = targets
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
        Ok(!others.iter().any(|tp| targets.get(tp).is_some_and(|high| behind(tp, *high, &self.others))))
    }

    pub(crate) fn export_lag(&self, consumer: &StreamConsumer<SinkContext>) {
        let high = consumer.context().high_watermarks();
        for (tp, next) in &self.next {
            if let Some(high) = high.get(tp) {
                metrics::gauge!(crate::metrics::SINK_LAG_RECORDS, "topic" => tp.topic.clone(),
                    "partition" => tp.partition.to_string())
                .set((high - next).max(0) as f64);
            }
        }
    }
}
