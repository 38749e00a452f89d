//! What the sink holds per topic between commits: the table, the row and reject buffers, and
//! the offsets already in Delta (to skip) or buffered (to commit with the rows).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chainlake_wire::TopicKind;
use deltalake::arrow::array::{Int64Array, RecordBatch};
use deltalake::kernel::Transaction;
use deltalake::DeltaTable;

use super::buffer::{buffer_for, Envelope, RejectBuffer, TableBuffer};
use super::sink_stats::SinkStats;
use crate::config::SinkConfig;
use crate::lake::txn::txn_version;
use crate::lake::Lake;
use crate::Result;

/// The Delta `txn` app id of a topic-partition's rows.
pub(super) fn app_id(sink_id: &str, topic: &str, partition: i32) -> String {
    format!("{sink_id}-{topic}-{partition}")
}

/// The Delta `txn` app id of a topic-partition's rejects (in `_rejected`).
pub(super) fn reject_app_id(sink_id: &str, topic: &str, partition: i32) -> String {
    format!("{sink_id}-rejected-{topic}-{partition}")
}

/// Brings `table` to its latest version and checks that each app id's `txn` version is the
/// one this replica expects (`(partition, app id, last offset it wrote or found)`). Another
/// value means another writer took the partition meanwhile: this replica is fenced. The
/// commit that follows reads this version, so Delta's conflict check covers what comes after.
pub(super) async fn check_txns(
    table: &mut DeltaTable,
    topic: &str,
    expected: &[(i32, String, Option<i64>)],
) -> Result<()> {
    if let Err(e) = table.update_incremental(None).await {
        // No table yet (nobody wrote any partition) is fine; an unreadable one is not.
        if table.version().is_some() {
            return Err(crate::Error::delta("refresh", table.table_url())(e));
        }
    }
    for (partition, app_id, ours) in expected {
        let found = txn_version(table, app_id).await?;
        if found != *ours {
            return Err(crate::Error::Fenced {
                table: table.table_url().to_string(),
                topic: topic.to_owned(),
                partition: *partition,
                ours: *ours,
                found,
            });
        }
    }
    Ok(())
}

/// What `check_txns` expects of the partitions about to be committed.
fn expectations(
    pending: &BTreeMap<i32, i64>,
    committed: &HashMap<i32, i64>,
    app_id: impl Fn(i32) -> String,
) -> Vec<(i32, String, Option<i64>)> {
    pending.keys().map(|p| (*p, app_id(*p), committed.get(p).copied())).collect()
}

pub(super) struct TopicState {
    pub kind: TopicKind,
    pub topic: String,
    pub table: DeltaTable,
    buffer: TableBuffer,
    rejects: RejectBuffer,
    bytes: usize,
    oldest: Option<Instant>,
    /// Last offset per partition already in the table (from the Delta log).
    committed: HashMap<i32, i64>,
    rejects_committed: HashMap<i32, i64>,
    /// Highest offset per partition buffered since the last flush.
    pending: BTreeMap<i32, i64>,
    rejects_pending: BTreeMap<i32, i64>,
    /// Version of `table` at which `committed` was checked against the `txn` versions. A
    /// retried append can take in other writers' commits; then the next flush checks again.
    checked_at: Option<u64>,
}

impl TopicState {
    pub(super) fn new(kind: TopicKind, topic: &str, table: DeltaTable) -> Self {
        TopicState {
            kind,
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
            checked_at: None,
        }
    }

    /// Drops everything not yet committed (the partitions were revoked: their next owner
    /// reads those records again from the offsets in Delta).
    pub(super) fn discard(&mut self) {
        self.buffer = buffer_for(self.kind);
        self.rejects = RejectBuffer::default();
        self.bytes = 0;
        self.oldest = None;
        self.pending.clear();
        self.rejects_pending.clear();
        self.committed.clear();
        self.rejects_committed.clear();
        self.checked_at = None;
    }

    /// Takes a partition on with the offsets stored in Delta (a fresh read).
    pub(super) fn assign(&mut self, partition: i32, rows: Option<i64>, rejects: Option<i64>) {
        match rows {
            Some(v) => self.committed.insert(partition, v),
            None => self.committed.remove(&partition),
        };
        match rejects {
            Some(v) => self.rejects_committed.insert(partition, v),
            None => self.rejects_committed.remove(&partition),
        };
        self.checked_at = None;
    }

    /// Buffers one record, or its reject; skips records the table already has.
    pub(super) fn accept(&mut self, envelope: Envelope, payload: Option<&[u8]>, stats: &mut SinkStats) {
        let (p, offset) = (envelope.partition, envelope.offset);
        if self.committed.get(&p).is_some_and(|c| offset <= *c) {
            stats.skipped += 1;
            return;
        }
        self.oldest.get_or_insert_with(Instant::now);
        self.bytes += payload.map_or(0, <[u8]>::len);
        let refused = match payload {
            None => Err(("empty payload".to_owned(), envelope)),
            Some(bytes) => self.buffer.push(bytes, envelope),
        };
        if let Err((reason, envelope)) = refused {
            tracing::warn!(topic = %self.topic, partition = p, offset, %reason, "record rejected");
            self.reject(payload, reason, envelope, stats);
        }
        self.pending.insert(p, offset);
    }

    /// Keeps a refused record for `_rejected`, unless that table already has it.
    fn reject(&mut self, payload: Option<&[u8]>, reason: String, envelope: Envelope, stats: &mut SinkStats) {
        metrics::counter!(crate::metrics::SINK_REJECTED, "topic" => self.topic.clone()).increment(1);
        let (p, offset) = (envelope.partition, envelope.offset);
        if self.rejects_committed.get(&p).is_none_or(|c| offset > *c) {
            self.rejects.push(payload, reason, envelope);
            let pending = self.rejects_pending.entry(p).or_insert(offset);
            *pending = (*pending).max(offset);
            stats.rejected += 1;
        }
    }

    /// Due by its own rows or age; bytes are a budget of the whole sink (see the sink loop).
    pub(super) fn due(&self, cfg: &SinkConfig) -> bool {
        self.buffer.len() >= cfg.flush_rows || self.oldest.is_some_and(|t| t.elapsed() >= cfg.flush_interval)
    }

    /// Payload bytes buffered since the last flush.
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Commits rejects (to `_rejected`) then rows, each with its offsets as `txn` actions.
    /// Returns the partitions whose row offsets were committed.
    pub(super) async fn flush(
        &mut self,
        lake: &Lake,
        sink_id: &str,
        rejected: &mut DeltaTable,
        stats: &mut SinkStats,
    ) -> Result<Vec<(i32, i64)>> {
        // Rows first: a record Arrow refuses (a bug in the check) still goes to `_rejected`.
        let batches = if self.buffer.is_empty() {
            Vec::new()
        } else {
            let (batches, late) = self.buffer.take_batches()?;
            for r in late {
                let (p, offset) = (r.envelope.partition, r.envelope.offset);
                tracing::error!(topic = %self.topic, partition = p, offset, reason = %r.reason, "record rejected at decode");
                self.reject(Some(&r.payload), r.reason, r.envelope, stats);
            }
            batches
        };
        if !self.rejects.is_empty() {
            // Rejects are rare: check the shared `_rejected` table every time.
            let expected = expectations(&self.rejects_pending, &self.rejects_committed, |p| {
                reject_app_id(sink_id, &self.topic, p)
            });
            check_txns(rejected, &self.topic, &expected).await?;
            let batch = self.rejects.take_batch()?;
            let txns = self
                .rejects_pending
                .iter()
                .map(|(p, o)| Transaction::new(reject_app_id(sink_id, &self.topic, *p), *o));
            *rejected = lake.append(rejected.clone(), vec![batch], txns.collect(), &[]).await?;
            self.rejects_committed.extend(std::mem::take(&mut self.rejects_pending));
            stats.commits += 1;
        }
        let mut flushed = Vec::new();
        let rows: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
        if rows > 0 {
            let started = Instant::now();
            if self.checked_at.is_none_or(|c| self.table.version() != Some(c)) {
                let expected =
                    expectations(&self.pending, &self.committed, |p| app_id(sink_id, &self.topic, p));
                check_txns(&mut self.table, &self.topic, &expected).await?;
            }
            let next = self.table.version().map_or(0, |v| v + 1);
            let block_times =
                if self.kind == TopicKind::Blocks { block_timestamps(&batches) } else { Vec::new() };
            let bytes = self.bytes as u64;
            let txns =
                self.pending.iter().map(|(p, o)| Transaction::new(app_id(sink_id, &self.topic, *p), *o));
            self.table = lake
                .append(
                    self.table.clone(),
                    batches,
                    txns.collect(),
                    &chainlake_wire::schema::partition_columns(self.kind),
                )
                .await?;
            // Only our own commit on top of the checked version: still checked.
            self.checked_at = (self.table.version() == Some(next)).then_some(next);
            flushed = self.pending.iter().map(|(p, o)| (*p, *o)).collect();
            self.committed.extend(std::mem::take(&mut self.pending));
            stats.rows += rows;
            stats.commits += 1;
            let topic = self.topic.clone();
            metrics::counter!(crate::metrics::SINK_ROWS, "topic" => topic.clone()).increment(rows);
            metrics::counter!(crate::metrics::SINK_BYTES, "topic" => topic.clone()).increment(bytes);
            metrics::counter!(crate::metrics::SINK_COMMITS, "topic" => topic.clone()).increment(1);
            let took = started.elapsed();
            stats.commit_latency.record(took);
            metrics::histogram!(crate::metrics::SINK_COMMIT_SECONDS, "topic" => topic.clone())
                .record(took.as_secs_f64());
            let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
            metrics::gauge!(crate::metrics::SINK_LAST_COMMIT, "topic" => topic).set(now);
            for t in block_times {
                // A clock skewed behind the chain's would give negative lags: counted as 0.
                let lag = (now - t as f64).max(0.0);
                stats.head_lag.record(Duration::from_secs_f64(lag));
                metrics::histogram!(crate::metrics::SINK_HEAD_LAG).record(lag);
            }
        }
        // Offsets of rejected-only flushes are covered by the `_rejected` txn versions.
        self.pending.clear();
        self.bytes = 0;
        self.oldest = None;
        Ok(flushed)
    }
}

/// The `timestamp` (seconds) of every block row of `batches`.
fn block_timestamps(batches: &[RecordBatch]) -> Vec<i64> {
    batches
        .iter()
        .filter_map(|b| b.column_by_name("timestamp")?.as_any().downcast_ref::<Int64Array>())
        .flat_map(|a| a.iter().flatten())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bronze::REJECTED_TABLE;
    use crate::lake::{local_lake, Layer};
    use chainlake_wire::fixtures::full_block;

    fn block() -> Vec<u8> {
        serde_json::to_vec(&full_block()).unwrap()
    }

    /// A replica that still holds partition 0 (say it missed the rebalance) and buffered the
    /// records another replica already committed.
    async fn buffered(lake: &Lake, offsets: std::ops::Range<i64>, stats: &mut SinkStats) -> TopicState {
        let url = lake.table_url("c", Layer::Bronze, "blocks").unwrap();
        let mut state = TopicState::new(TopicKind::Blocks, "t", lake.open(&url).await.unwrap());
        state.assign(0, None, None);
        for offset in offsets {
            let envelope = Envelope { topic: "t".into(), partition: 0, offset, key: None, ingested_at: 0 };
            state.accept(envelope, Some(&block()), stats);
        }
        state
    }

    /// Each committed block's head latency is counted once, from its own timestamp.
    #[tokio::test]
    async fn a_commit_records_each_blocks_head_latency() {
        let dir = tempfile::tempdir().unwrap();
        let lake = local_lake(dir.path(), 10);
        let rejected_url = lake.table_url("c", Layer::Bronze, REJECTED_TABLE).unwrap();
        let mut rejected = lake.open(&rejected_url).await.unwrap();
        let mut stats = SinkStats::default();
        let mut state = buffered(&lake, 0..3, &mut stats).await;
        state.flush(&lake, "s", &mut rejected, &mut stats).await.unwrap();
        assert_eq!(stats.head_lag.count(), 3);
        let age = chrono::Utc::now().timestamp() - full_block().timestamp as i64;
        // The fixture's block is old: its lag is its age (or the histogram's last bucket).
        let p50 = stats.head_lag.quantile(0.5).as_secs_f64();
        assert!(p50 >= (age as f64).min(4.0 * 3600.0) * 0.8, "p50 {p50} s, block age {age} s");
    }

    #[tokio::test]
    async fn a_replica_whose_partition_another_wrote_is_fenced() {
        let dir = tempfile::tempdir().unwrap();
        let lake = local_lake(dir.path(), 10);
        let rejected_url = lake.table_url("c", Layer::Bronze, REJECTED_TABLE).unwrap();
        let mut rejected = lake.open(&rejected_url).await.unwrap();
        let mut stats = SinkStats::default();

        // Both replicas believe they own partition 0 from its start.
        let mut zombie = buffered(&lake, 0..10, &mut stats).await;
        let mut owner = buffered(&lake, 0..10, &mut stats).await;
        assert_eq!(owner.flush(&lake, "s", &mut rejected, &mut stats).await.unwrap(), vec![(0, 9)]);

        // The zombie's table handle already holds the owner's commit (a retried append takes
        // other writers' commits in), so Delta's conflict check alone would let it through.
        zombie.table.update_incremental(None).await.unwrap();
        let err = zombie.flush(&lake, "s", &mut rejected, &mut stats).await.unwrap_err();
        assert!(err.is_commit_conflict(), "{err}");
        assert!(
            matches!(err, crate::Error::Fenced { partition: 0, ours: None, found: Some(9), .. }),
            "{err}"
        );

        let table = lake.open(&lake.table_url("c", Layer::Bronze, "blocks").unwrap()).await.unwrap();
        assert_eq!(table.version(), Some(0), "one commit: the owner's");
        assert_eq!(txn_version(&table, &app_id("s", "t", 0)).await.unwrap(), Some(9));

        // The owner goes on without checking again: its handle only holds its own commits.
        let mut stats2 = SinkStats::default();
        owner.accept(
            Envelope { topic: "t".into(), partition: 0, offset: 10, key: None, ingested_at: 0 },
            Some(&block()),
            &mut stats2,
        );
        assert_eq!(owner.flush(&lake, "s", &mut rejected, &mut stats2).await.unwrap(), vec![(0, 10)]);
        assert_eq!(owner.checked_at, Some(1));
    }
}
