//! Typed errors of the medallion crate, with the coordinates of what failed.

use chainlake_wire::TopicPartition;
use deltalake::datafusion::error::DataFusionError;
use deltalake::DeltaTableError;
use rdkafka::error::KafkaError;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Delta operation on a table failed.
    #[error("delta {action} on table {table} failed: {source}")]
    Delta {
        action: &'static str,
        table: String,
        #[source]
        source: Box<DeltaTableError>,
    },
    /// The Kafka consumer failed.
    #[error("kafka {action} failed (topic {topic:?}, partition {partition:?}): {source}")]
    Kafka {
        action: &'static str,
        topic: Option<String>,
        partition: Option<i32>,
        #[source]
        source: Box<KafkaError>,
    },
    /// Building an Arrow batch failed (schema and records disagree: a bug, not bad input).
    #[error("arrow batch for table {table} failed: {source}")]
    Arrow {
        table: String,
        #[source]
        source: Box<deltalake::arrow::error::ArrowError>,
    },
    /// A SQL job failed.
    #[error("sql {job} failed: {source}")]
    Sql {
        job: String,
        #[source]
        source: Box<DataFusionError>,
    },
    /// A setting that cannot work (the lake's location, a maintenance argument).
    #[error("{what}: {reason}")]
    Config { what: String, reason: String },
    /// The SQL jobs cannot be loaded: a file without its partition line, jobs reading each
    /// other in a cycle, no job at all.
    #[error("sql jobs ({source_of}): {reason}")]
    Jobs { source_of: String, reason: String },
    /// A job reads a table that does not exist.
    #[error("job {job} reads {input}, which does not exist: {reason}")]
    MissingInput { job: String, input: String, reason: &'static str },
    /// A commit file of a table's Delta log does not read as Delta writes them.
    #[error("commit {version} of table {table}: {reason}")]
    CommitLog { table: String, version: u64, reason: String },
    /// A partition value is not what its column promises (a date).
    #[error("partition value {value:?} of {table} is not a date (YYYY-MM-DD)")]
    PartitionValue { table: String, value: String },
    /// The DataFusion session lacks what every session has (a bug, never input).
    #[error("datafusion session: {0}")]
    Session(&'static str),
    /// Another writer committed offsets of a partition this replica holds: it must rejoin.
    #[error(
        "fenced on {table}: {topic}/{partition} has offset {found:?} in Delta, this replica wrote {ours:?}"
    )]
    Fenced { table: String, topic: String, partition: i32, ours: Option<i64>, found: Option<i64> },
    /// A rebalance could not read the assigned partitions' offsets from Delta.
    #[error("rebalance: reading the offsets of {partitions} partitions from Delta failed: {source}")]
    RebalanceOffsets { partitions: usize, source: Box<Error> },
    /// A rebalance could not set a partition's start offset.
    #[error("rebalance: seeking {tp} past offset {offset:?} failed: {source}")]
    RebalanceSeek {
        tp: TopicPartition,
        offset: Option<i64>,
        #[source]
        source: Box<KafkaError>,
    },
    /// A rebalance could not assign the partitions.
    #[error("rebalance: assigning {partitions} partitions failed: {source}")]
    RebalanceAssign {
        partitions: usize,
        #[source]
        source: Box<KafkaError>,
    },
    /// This replica held no partition while `partitions` did not advance for a session timeout
    /// (the sink takes them over until caught up; never returned from `run`).
    #[error("sink stalled: no partition held while {} partitions are behind and not advancing", partitions.len())]
    Stalled { partitions: Vec<chainlake_wire::TopicPartition> },
    /// The sink was started on a tokio runtime it cannot run on.
    #[error("{what} needs a multi-thread tokio runtime ({why})")]
    Runtime { what: &'static str, why: &'static str },
    /// The scheduler's lease store failed (nothing runs without a lease).
    #[error("lease: {what}: {reason}")]
    Lease { what: String, reason: String },
    #[error("io on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Whether retrying later may succeed (I/O, broker and commit conflicts).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Kafka { .. } | Error::Io { .. })
            || matches!(self, Error::Delta { source, .. } if matches!(source.as_ref(), DeltaTableError::ObjectStore { .. } | DeltaTableError::Transaction { .. }))
    }

    /// A Delta commit lost to a concurrent one (same `txn` app id, metadata or protocol
    /// change), lost the race for the next version every time it tried, or found another
    /// writer's offsets for its partitions: nothing was written, and the writer must re-read
    /// the table before writing again.
    pub fn is_commit_conflict(&self) -> bool {
        use deltalake::kernel::transaction::TransactionError;
        if matches!(self, Error::Fenced { .. }) {
            return true;
        }
        let Error::Delta { source, .. } = self else { return false };
        if let DeltaTableError::Transaction { source: TransactionError::MaxCommitAttempts(_) } =
            source.as_ref()
        {
            return true;
        }
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(source.as_ref());
        while let Some(e) = cur {
            if e.downcast_ref::<deltalake::kernel::transaction::CommitConflictError>().is_some() {
                return true;
            }
            cur = e.source();
        }
        false
    }

    pub(crate) fn delta(action: &'static str, table: impl ToString) -> impl FnOnce(DeltaTableError) -> Self {
        let table = table.to_string();
        move |source| Error::Delta { action, table, source: Box::new(source) }
    }

    pub(crate) fn arrow(table: impl ToString) -> impl FnOnce(deltalake::arrow::error::ArrowError) -> Self {
        let table = table.to_string();
        move |source| Error::Arrow { table, source: Box::new(source) }
    }

    pub(crate) fn sql(job: impl ToString) -> impl FnOnce(DataFusionError) -> Self {
        let job = job.to_string();
        move |source| Error::Sql { job, source: Box::new(source) }
    }
}

#[cfg(test)]
mod tests {
    use deltalake::kernel::transaction::TransactionError;

    use super::*;

    #[test]
    fn losing_every_race_for_a_version_means_rejoin_not_exit() {
        let lost = Error::delta("append", "t")(DeltaTableError::Transaction {
            source: TransactionError::MaxCommitAttempts(100),
        });
        assert!(lost.is_commit_conflict());
        let other = Error::delta("append", "t")(DeltaTableError::Generic("disk full".into()));
        assert!(!other.is_commit_conflict());
    }
}
