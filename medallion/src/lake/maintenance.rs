//! Table maintenance — `chainlake lake optimize | vacuum | checkpoint` — safe while the sink
//! writes: compaction commits `dataChange = false` rewrites that a concurrent append does not
//! conflict with (a conflicting compaction fails and is retried next run, never the sink);
//! vacuum deletes only unreferenced files older than the retention; a checkpoint only adds a
//! file next to the log.
//!
//! Reads and writes: the Delta tables given by URL.

use std::num::NonZeroU64;
use std::time::Duration;

use deltalake::protocol::checkpoints::create_checkpoint;
use url::Url;

use crate::lake::Lake;
use crate::{Error, Result};

/// One maintenance operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Maintenance {
    /// Compact small files into files of about `target_bytes`.
    Optimize { target_bytes: u64 },
    /// Delete files no version within `retention` references.
    Vacuum { retention: Duration },
    /// Write a classic checkpoint at the current version.
    Checkpoint,
}

/// What one operation did to one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceReport {
    pub table: String,
    pub version: Option<u64>,
    pub detail: String,
}

/// Runs `op` on every table in `tables`; a table that does not exist yet is skipped.
pub async fn run(lake: &Lake, tables: &[Url], op: Maintenance) -> Result<Vec<MaintenanceReport>> {
    let mut out = Vec::new();
    for url in tables {
        let table = lake.open(url).await?;
        if table.version().is_none() {
            continue;
        }
        let name = url.to_string();
        let started = std::time::Instant::now();
        let (version, detail) = match op {
            Maintenance::Optimize { target_bytes } => {
                let target = NonZeroU64::new(target_bytes.max(1)).unwrap_or(NonZeroU64::MIN);
                let (t, m) = table
                    .optimize()
                    .with_target_size(target)
                    .await
                    .map_err(Error::delta("optimize", &name))?;
                (t.version(), format!("{} files → {}", m.num_files_removed, m.num_files_added))
            }
            Maintenance::Vacuum { retention } => {
                let retention = chrono::Duration::from_std(retention)
                    .map_err(|e| Error::Config { what: "vacuum retention".into(), reason: e.to_string() })?;
                let (t, m) = table
                    .vacuum()
                    .with_retention_period(retention)
                    .await
                    .map_err(Error::delta("vacuum", &name))?;
                (t.version(), format!("{} files deleted", m.files_deleted.len()))
            }
            Maintenance::Checkpoint => {
                create_checkpoint(&table, None).await.map_err(Error::delta("checkpoint", &name))?;
                (table.version(), "checkpoint written".to_owned())
            }
        };
        let what = match op {
            Maintenance::Optimize { .. } => "optimize",
            Maintenance::Vacuum { .. } => "vacuum",
            Maintenance::Checkpoint => "checkpoint",
        };
        metrics::histogram!(crate::metrics::MAINTENANCE_SECONDS, "op" => what)
            .record(started.elapsed().as_secs_f64());
        tracing::info!(table = %name, op = what, %detail, "maintenance done");
        out.push(MaintenanceReport { table: name, version, detail });
    }
    Ok(out)
}

/// What a reader like Dremio needs to know about a table's Delta protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCheck {
    pub table: String,
    pub version: u64,
    pub min_reader: i32,
    pub min_writer: i32,
    pub deletion_vectors: bool,
    pub timestamp_ntz: bool,
    pub partition_columns: Vec<String>,
    pub has_checkpoint: bool,
    /// The version of the last checkpoint.
    pub checkpoint_version: Option<u64>,
}

impl TableCheck {
    /// Readable by Dremio: reader ≤ 2, no deletion vectors, no timestampNtz.
    pub fn dremio_readable(&self) -> bool {
        self.min_reader <= 2 && !self.deletion_vectors && !self.timestamp_ntz
    }
}

/// `chainlake lake check`: the protocol of every existing table in `tables`.
pub async fn check(lake: &Lake, tables: &[Url]) -> Result<Vec<TableCheck>> {
    let mut out = Vec::new();
    for url in tables {
        let table = lake.open(url).await?;
        let Some(version) = table.version() else { continue };
        let name = url.to_string();
        let snapshot = table.snapshot().map_err(Error::delta("check", &name))?;
        let protocol = snapshot.protocol();
        let features = format!("{:?} {:?}", protocol.reader_features(), protocol.writer_features());
        let ntz_column = format!("{:?}", snapshot.schema()).contains("TimestampNtz");
        let checkpoint_version = crate::lake::last_checkpoint(&table).await?;
        out.push(TableCheck {
            table: name,
            version,
            min_reader: protocol.min_reader_version(),
            min_writer: protocol.min_writer_version(),
            deletion_vectors: features.contains("DeletionVector"),
            timestamp_ntz: ntz_column || features.contains("TimestampWithoutTimezone"),
            partition_columns: snapshot.metadata().partition_columns().to_vec(),
            has_checkpoint: checkpoint_version.is_some(),
            checkpoint_version,
        });
    }
    Ok(out)
}
