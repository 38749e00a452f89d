//! The sink never sits idle unseen: a group member that holds no partition while partitions of
//! its topics are behind and not advancing is stuck (after rapid kill -9s the coordinator can
//! keep assigning to members that are gone), so it says so and rejoins the group.
//!
//! Reads: the Delta progress of every partition (the sink's txn versions) and Kafka's high
//! watermarks, once per session timeout and only while this member holds nothing (no fetch is
//! in flight then, so the watermark request does not queue behind one). Writes: a log line,
//! `chainlake_sink_stalls_total`, and the verdict the sink loop acts on.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chainlake_wire::TopicPartition;
use rdkafka::consumer::{Consumer, StreamConsumer};

use super::group::{Loader, SinkContext};
use crate::Result;

/// Watches one membership for being stuck without partitions.
pub(crate) struct Watchdog {
    every: Duration,
    last_check: Instant,
    /// Delta progress (next offset) per partition at the last check.
    progress: HashMap<TopicPartition, i64>,
}

impl Watchdog {
    /// Checks every `session_timeout`, the first time at once (a baseline); stuck means no
    /// progress from one look to the next.
    pub(crate) fn new(session_timeout: Duration) -> Self {
        let last_check = Instant::now().checked_sub(session_timeout).unwrap_or_else(Instant::now);
        Watchdog { every: session_timeout, last_check, progress: HashMap::new() }
    }

    /// Some(partitions behind) when this member has held nothing while they did not move for
    /// a whole session timeout; None otherwise (or when it is not time to look).
    pub(crate) async fn stalled(
        &mut self,
        holds: usize,
        all: &[TopicPartition],
        consumer: &StreamConsumer<SinkContext>,
        loader: &Loader,
    ) -> Result<Option<usize>> {
        metrics::gauge!(crate::metrics::SINK_ASSIGNED_PARTITIONS).set(holds as f64);
        if holds > 0 {
            self.progress.clear();
            return Ok(None);
        }
        if self.last_check.elapsed() < self.every {
            return Ok(None);
        }
        self.last_check = Instant::now();
        let progress: HashMap<TopicPartition, i64> = loader(all.to_vec())
            .await?
            .into_iter()
            .map(|(tp, s)| (tp, s.rows.map_or(0, |v| v + 1)))
            .collect();
        let mut behind = 0;
        let mut moved = false;
        for tp in all {
            let Ok((_, high)) = consumer.fetch_watermarks(&tp.topic, tp.partition, Duration::from_secs(2))
            else {
                continue;
            };
            let now = progress.get(tp).copied().unwrap_or(0);
            if now < high {
                behind += 1;
                moved |= self.progress.get(tp).is_some_and(|before| now > *before);
            }
        }
        let first_look = self.progress.is_empty();
        self.progress = progress;
        // Two looks a session timeout apart, nothing held and nothing moved: stuck.
        Ok((behind > 0 && !moved && !first_look).then_some(behind))
    }
}
