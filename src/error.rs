//! The error of the wiring layer, and its result alias. Imports nothing of the crate but the
//! Dremio error it wraps.

use chainlake_medallion::deltalake::arrow::error::ArrowError;

/// Errors of the wiring layer: one of the stages failed, or the demo found a mismatch.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Ingest(Box<chainlake_ingest::Error>),
    #[error(transparent)]
    Medallion(#[from] chainlake_medallion::Error),
    /// A spawned stage panicked or was aborted.
    #[error("task {task} failed: {source}")]
    Task {
        task: &'static str,
        #[source]
        source: tokio::task::JoinError,
    },
    /// A result could not be rendered as text.
    #[error("rendering a query result failed: {source}")]
    Render {
        #[source]
        source: ArrowError,
    },
    /// A run ended with less done than it was asked for.
    #[error("{what} did {done} of {expected}")]
    Incomplete { what: &'static str, done: u64, expected: u64 },
    /// A query returned something other than the shape its caller reads.
    #[error("query {query:?}: expected {expected}, found {found}")]
    QueryShape { query: String, expected: &'static str, found: String },
    /// A benchmark could not run one of its steps.
    #[error("bench: {0}")]
    Bench(String),
    /// `--from` above `--to`.
    #[error("empty range: --from {from} is above --to {to}")]
    EmptyRange { from: u64, to: u64 },
    #[error(transparent)]
    Keys(#[from] chainlake_ingest::keys::KeyError),
    /// `[abi]`: a file, ABI or binding that does not load.
    #[error(transparent)]
    Abi(#[from] chainlake_decode::AbiError),
    /// `[dremio]`: a bootstrap step or its configuration.
    #[error(transparent)]
    Dremio(#[from] crate::dremio::error::DremioError),
}

pub type Result<T, E = PipelineError> = std::result::Result<T, E>;

impl From<chainlake_ingest::Error> for PipelineError {
    fn from(e: chainlake_ingest::Error) -> Self {
        PipelineError::Ingest(Box::new(e))
    }
}
