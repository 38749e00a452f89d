//! What the sink holds per topic between commits: the table, the row and reject buffers, and
//! the offsets already in Delta (to skip) or buffered (to commit with the rows).

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use chainlake_ingest::wire::TopicKind;
use deltalake::kernel::Transaction;
use deltalake::DeltaTable;

use super::buffer::{buffer_for, Envelope, RejectBuffer, TableBuffer};
use super::sink::SinkStats;
use crate::config::SinkConfig;
use crate::lake::Lake;
use crate::Result;

/// The Delta `txn` app id of a topic-partition's rows.
pub fn app_id(sink_id: &str, topic: &str, partition: i32) -> String {
    format!("{sink_id}-{topic}-{partition}")
}

/// The Delta `txn` app id of a topic-partition's rejects (in `_rejected`).
pub fn reject_app_id(sink_id: &str, topic: &str, partition: i32) -> String {
    format!("{sink_id}-rejected-{topic}-{partition}")
}

/// The last offset a table holds for `app_id`, from its Delta log.
pub async fn txn_version(table: &DeltaTable, app_id: &str) -> Result<Option<i64>> {
    let Ok(state) = table.snapshot() else { return Ok(None) };
    state
        .transaction_version(table.log_store().as_ref(), app_id)
        .await
        .map_err(crate::Error::delta("read txn", table.table_url()))
}

pub struct TopicState {
    pub kind: TopicKind,
    pub topic: String,
    pub table: DeltaTable,
    buffer: TableBuffer,
    rejects: RejectBuffer,
    bytes: usize,
    oldest: Option<Instant>,
    /// Last offset per partition already in the table (from the Delta log).
    pub committed: HashMap<i32, i64>,
    pub rejects_committed: HashMap<i32, i64>,
    /// Highest offset per partition buffered since the last flush.
    pending: BTreeMap<i32, i64>,
    rejects_pending: BTreeMap<i32, i64>,
}

impl TopicState {
    pub fn new(kind: TopicKind, topic: &str, table: DeltaTable) -> Self {
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
        }
    }

    /// Drops everything not yet committed (the partitions were revoked: their next owner
    /// reads those records again from the offsets in Delta).
    pub fn discard(&mut self) {
        self.buffer = buffer_for(self.kind);
        self.rejects = RejectBuffer::default();
        self.bytes = 0;
        self.oldest = None;
        self.pending.clear();
        self.rejects_pending.clear();
        self.committed.clear();
        self.rejects_committed.clear();
    }

    /// Buffers one record, or its reject; skips records the table already has.
    pub fn accept(&mut self, envelope: Envelope, payload: Option<&[u8]>, stats: &mut SinkStats) {
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
        metrics::counter!("chainlake_sink_rejected_total", "topic" => self.topic.clone()).increment(1);
        let (p, offset) = (envelope.partition, envelope.offset);
        if self.rejects_committed.get(&p).is_none_or(|c| offset > *c) {
            self.rejects.push(payload, reason, envelope);
            let pending = self.rejects_pending.entry(p).or_insert(offset);
            *pending = (*pending).max(offset);
            stats.rejected += 1;
        }
    }

    /// Due by its own rows or age; bytes are a budget of the whole sink (see the sink loop).
    pub fn due(&self, cfg: &SinkConfig) -> bool {
        self.buffer.len() >= cfg.flush_rows || self.oldest.is_some_and(|t| t.elapsed() >= cfg.flush_interval)
    }

    /// Payload bytes buffered since the last flush.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Commits rejects (to `_rejected`) then rows, each with its offsets as `txn` actions.
    /// Returns the partitions whose row offsets were committed.
    pub async fn flush(
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
            let bytes = self.bytes as u64;
            let txns =
                self.pending.iter().map(|(p, o)| Transaction::new(app_id(sink_id, &self.topic, *p), *o));
            self.table = lake
                .append(
                    self.table.clone(),
                    batches,
                    txns.collect(),
                    super::schema::partition_columns(self.kind),
                )
                .await?;
            flushed = self.pending.iter().map(|(p, o)| (*p, *o)).collect();
            self.committed.extend(std::mem::take(&mut self.pending));
            stats.rows += rows;
            stats.commits += 1;
            let topic = self.topic.clone();
            metrics::counter!("chainlake_sink_rows_total", "topic" => topic.clone()).increment(rows);
            metrics::counter!("chainlake_sink_bytes_total", "topic" => topic.clone()).increment(bytes);
            metrics::counter!("chainlake_sink_commits_total", "topic" => topic.clone()).increment(1);
            let took = started.elapsed();
            stats.commit_latency.record(took);
            metrics::histogram!("chainlake_sink_commit_seconds", "topic" => topic).record(took.as_secs_f64());
        }
        // Offsets of rejected-only flushes are covered by the `_rejected` txn versions.
        self.pending.clear();
        self.bytes = 0;
        self.oldest = None;
        Ok(flushed)
    }
}
