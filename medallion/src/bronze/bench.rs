//! The sink's own path without the broker, for `chainlake bench sink`: records already
//! fetched → parse and validate → Arrow → Delta commit with `txn` offsets, exactly as the
//! sink loop does it.

use std::time::{Duration, Instant};

use chainlake_wire::TopicKind;

use super::buffer::Envelope;
use super::sink_stats::SinkStats;
use super::state::{app_id, TopicState};
use crate::lake::txn::txn_version;
use crate::lake::{Lake, Layer};
use crate::Result;
use chainlake_wire::schema::REJECTED_TABLE;

const SINK_ID: &str = "bench";

/// What one run of the sink path did.
#[derive(Debug, Clone, Default)]
pub struct PathReport {
    pub rows: u64,
    pub bytes: u64,
    pub commits: u64,
    /// Time and process CPU spent in the sink path (record generation excluded).
    pub wall: Duration,
    pub cpu: Duration,
    /// Latency of each Delta commit (flush), in order.
    pub commit_latencies: Vec<Duration>,
}

/// Writes `rows` records of `kind` (as on the wire, made by `generate(first, n)` one flush at
/// a time so the benchmark does not hold them all) into the Bronze table of `kind` of `chain`,
/// flushing every `flush_rows`, with offsets of partition 0 of `topic` after those already in
/// the table. `cpu` reads the process CPU clock.
#[allow(clippy::too_many_arguments)]
pub async fn sink_path(
    lake: &Lake,
    chain: &str,
    kind: TopicKind,
    topic: &str,
    rows: u64,
    flush_rows: usize,
    mut generate: impl FnMut(u64, usize) -> Vec<Vec<u8>>,
    cpu: fn() -> Duration,
) -> Result<PathReport> {
    let table = lake.open(&lake.table_url(chain, Layer::Bronze, kind.table_name())?).await?;
    let mut rejected = lake.open(&lake.table_url(chain, Layer::Bronze, REJECTED_TABLE)?).await?;
    // Like an assignment: continue after the offsets an earlier run left in the table.
    let stored = txn_version(&table, &app_id(SINK_ID, topic, 0)).await?;
    let base = stored.map_or(0, |v| v + 1) as u64;
    let mut state = TopicState::new(kind, topic, table);
    state.assign(0, stored, None);
    let mut stats = SinkStats::default();
    let mut report = PathReport::default();
    let mut first = 0;
    while first < rows {
        let n = (rows - first).min(flush_rows.max(1) as u64);
        let payloads = generate(first, n as usize);
        let (started, cpu0) = (Instant::now(), cpu());
        for (i, payload) in payloads.iter().enumerate() {
            let envelope = Envelope {
                topic: topic.to_owned(),
                partition: 0,
                offset: (base + first + i as u64) as i64,
                key: None,
                ingested_at: chrono::Utc::now().timestamp_micros(),
            };
            state.accept(envelope, Some(payload), &mut stats);
            report.bytes += payload.len() as u64;
        }
        let t = Instant::now();
        state.flush(lake, SINK_ID, &mut rejected, &mut stats).await?;
        report.commit_latencies.push(t.elapsed());
        report.wall += started.elapsed();
        report.cpu += cpu().saturating_sub(cpu0);
        first += n;
    }
    report.rows = stats.rows;
    report.commits = stats.commits;
    Ok(report)
}
