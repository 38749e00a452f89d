//! What a sink run wrote (shared by the sink loop, the per-topic state and the benchmark).

use super::latency::Latencies;

/// What a sink run wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkStats {
    pub rows: u64,
    pub rejected: u64,
    pub commits: u64,
    /// Records read again after a restart and skipped because the table already had them.
    pub skipped: u64,
    /// Times this replica was fenced by another's commit and rejoined.
    pub fenced: u64,
    /// Times this replica found itself stuck without partitions and rejoined.
    pub stalls: u64,
    /// How long the Delta commits of rows took.
    pub commit_latency: Latencies,
    /// Head latency: each block's timestamp on the chain → its row committed to Bronze.
    pub head_lag: Latencies,
}
