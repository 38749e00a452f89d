//! The sink never sits idle unseen: a group member that holds no partition while partitions of
//! its topics are behind and have not advanced for a session timeout is stuck (after rapid
//! kill -9s the coordinator keeps assigning to members that are gone until their sessions
//! expire), so it says so and takes the partitions over itself until they are caught up
//! (sink.rs); Delta's `txn` versions keep that exactly-once whoever else writes.
//!
//! Reads: the Delta progress of every partition (the sink's txn versions), when each Bronze
//! table was last committed to, and Kafka's high watermarks — about once a second and only
//! while this member holds nothing (no fetch is in flight then, so the watermark requests do
//! not queue behind one). Writes: `chainlake_sink_assigned_partitions` and the verdict.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chainlake_wire::TopicPartition;
use rdkafka::consumer::{Consumer, StreamConsumer};

use super::group::{Loader, SinkContext};
use crate::Result;

/// Watches one membership for being stuck without partitions.
pub(crate) struct Watchdog {
    timeout: Duration,
    every: Duration,
    joined: Instant,
    last_check: Option<Instant>,
    /// Delta progress (next offset) per partition, and since when it has not moved.
    progress: HashMap<TopicPartition, (i64, Instant)>,
}

impl Watchdog {
    /// Stuck means: no partition held, and every partition that is behind has not moved for
    /// `session_timeout` (counted from its table's last commit, so a restart does not wait a
    /// whole timeout again for partitions that stopped long before).
    pub(crate) fn new(session_timeout: Duration) -> Self {
        Watchdog {
            timeout: session_timeout,
            every: session_timeout.min(Duration::from_secs(1)),
            joined: Instant::now(),
            last_check: None,
            progress: HashMap::new(),
        }
    }

    /// The partitions that are behind, when stuck; `rebalanced`: the coordinator has answered this
    /// membership at least once (before that it gets a session timeout to do so).
    pub(crate) async fn stalled(
        &mut self,
        holds: usize,
        rebalanced: bool,
        all: &[TopicPartition],
        consumer: &StreamConsumer<SinkContext>,
        loader: &Loader,
    ) -> Result<Option<Vec<TopicPartition>>> {
        metrics::gauge!(crate::metrics::SINK_ASSIGNED_PARTITIONS).set(holds as f64);
        if holds > 0 {
            self.progress.clear();
            return Ok(None);
        }
        if self.last_check.is_some_and(|t| t.elapsed() < self.every) {
            return Ok(None);
        }
        self.last_check = Some(Instant::now());
        let now = Instant::now();
        let wall_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        for (tp, stored) in loader(all.to_vec()).await? {
            let next = stored.rows.map_or(0, |v| v + 1);
            let idle_for = stored
                .committed_ms
                .map_or(Duration::ZERO, |ms| Duration::from_millis(wall_ms.saturating_sub(ms).max(0) as u64));
            let since = now.checked_sub(idle_for).unwrap_or(now);
            match self.progress.get(&tp) {
                Some((before, _)) if *before == next => {}
                Some(_) => {
                    self.progress.insert(tp, (next, now));
                }
                None => {
                    self.progress.insert(tp, (next, since));
                }
            }
        }
        let mut highs = Vec::with_capacity(all.len());
        for tp in all {
            if let Ok((_, high)) = consumer.fetch_watermarks(&tp.topic, tp.partition, Duration::from_secs(2))
            {
                highs.push((tp.clone(), high));
            }
        }
        let answered = rebalanced || self.joined.elapsed() >= self.timeout;
        Ok(stuck(&self.progress, &highs, self.timeout, now).filter(|_| answered))
    }
}

/// The partitions behind their high watermark, when every one of them has been idle for
/// `timeout` at `now`; `None` while one still moves (or none is behind).
fn stuck(
    progress: &HashMap<TopicPartition, (i64, Instant)>,
    highs: &[(TopicPartition, i64)],
    timeout: Duration,
    now: Instant,
) -> Option<Vec<TopicPartition>> {
    let mut behind = Vec::new();
    for (tp, high) in highs {
        let Some((next, since)) = progress.get(tp) else { continue };
        if next < high {
            if now.saturating_duration_since(*since) < timeout {
                return None;
            }
            behind.push(tp.clone());
        }
    }
    (!behind.is_empty()).then_some(behind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    /// Partitions 0 and 1 are behind; 2 is caught up.
    fn look(idle0: u64, idle1: u64) -> Option<Vec<TopicPartition>> {
        let now = Instant::now() + Duration::from_secs(60);
        let ago = |s: u64| now - Duration::from_secs(s);
        let progress =
            HashMap::from([(tp(0), (5, ago(idle0))), (tp(1), (7, ago(idle1))), (tp(2), (9, ago(0)))]);
        let highs = [(tp(0), 10), (tp(1), 8), (tp(2), 9)];
        stuck(&progress, &highs, Duration::from_secs(6), now)
    }

    #[test]
    fn stuck_when_every_partition_behind_is_idle_for_a_session_timeout() {
        assert_eq!(look(6, 30), Some(vec![tp(0), tp(1)]));
    }

    #[test]
    fn not_stuck_while_one_partition_behind_still_moves() {
        assert_eq!(look(30, 5), None);
    }

    #[test]
    fn not_stuck_when_nothing_is_behind() {
        let now = Instant::now();
        let progress = HashMap::from([(tp(0), (10, now))]);
        assert_eq!(stuck(&progress, &[(tp(0), 10)], Duration::ZERO, now), None);
    }
}
