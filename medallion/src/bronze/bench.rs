//! The sink's own path without the broker, for `chainlake bench sink`: records already
//! fetched → parse and validate → Arrow → Delta commit with `txn` offsets, exactly as the
//! sink loop does it.

use std::time::{Duration, Instant};

use chainlake_ingest::wire::TopicKind;

use super::buffer::Envelope;
use super::schema::REJECTED_TABLE;
use super::sink::SinkStats;
use super::state::TopicState;
use crate::lake::{Lake, Layer};
use crate::Result;

/// What one run of the sink path did.
#[derive(Debug, Clone, Default)]
pub struct PathReport {
    pub rows: u64,
    pub bytes: u64,
    pub commits: u64,
    pub wall: Duration,
    /// Latency of each Delta commit (flush), in order.
    pub commit_latencies: Vec<Duration>,
}

/// Writes `payloads` (records of `kind`, as on the wire) into the Bronze table of `kind` of
/// `chain`, flushing every `flush_rows`, with offsets 0.. of partition 0 of `topic`.
pub async fn sink_path(
    lake: &Lake,
    chain: &str,
    kind: TopicKind,
    topic: &str,
    payloads: &[Vec<u8>],
    flush_rows: usize,
) -> Result<PathReport> {
    let table = lake.open(&lake.table_url(chain, Layer::Bronze, kind.table_name())?).await?;
    let mut rejected = lake.open(&lake.table_url(chain, Layer::Bronze, REJECTED_TABLE)?).await?;
    let mut state = TopicState::new(kind, topic, table);
    let mut stats = SinkStats::default();
    let mut report = PathReport::default();
    let started = Instant::now();
    let mut buffered = 0;
    for (i, payload) in payloads.iter().enumerate() {
        let envelope = Envelope {
            topic: topic.to_owned(),
            partition: 0,
            offset: i as i64,
            key: None,
            ingested_at: chrono::Utc::now().timestamp_micros(),
        };
        state.accept(envelope, Some(payload), &mut stats);
        report.bytes += payload.len() as u64;
        buffered += 1;
        if buffered >= flush_rows || i + 1 == payloads.len() {
            let t = Instant::now();
            state.flush(lake, "bench", &mut rejected, &mut stats).await?;
            report.commit_latencies.push(t.elapsed());
            buffered = 0;
        }
    }
    report.wall = started.elapsed();
    report.rows = stats.rows;
    report.commits = stats.commits;
    Ok(report)
}
