//! Table locations and Delta writes, the same on a local directory and on S3/MinIO.
//!
//! Layout: `{root}/{chain}/{layer}/{table}/`. Every table is written with protocol
//! reader 1 / writer 2 (no deletion vectors, no timestampNtz: Dremio reads it), UTC
//! microsecond timestamps and classic checkpoints every `checkpoint_interval` commits.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use deltalake::arrow::array::RecordBatch;
use deltalake::arrow::compute::cast;
use deltalake::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use deltalake::kernel::transaction::CommitProperties;
use deltalake::kernel::Transaction;
use deltalake::operations::write::SchemaMode;
use deltalake::protocol::SaveMode;
use deltalake::DeltaTable;
use url::Url;

pub mod maintenance;
pub mod txn;

use crate::config::LakeConfig;
use crate::{Error, Result};

/// The medallion layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Layer {
    Bronze,
    Silver,
    Gold,
}

impl Layer {
    pub const ALL: [Layer; 3] = [Layer::Bronze, Layer::Silver, Layer::Gold];

    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Bronze => "bronze",
            Layer::Silver => "silver",
            Layer::Gold => "gold",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Environment variables passed to the object store when set (credentials stay out of files).
const ENV_OPTIONS: [&str; 6] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ALLOW_HTTP",
];

/// Attempts of one append at successive log versions. Appends of different `txn` app ids
/// never conflict, but on S3 every attempt re-reads the log, so writers sharing a table
/// (replicas, compaction) can lose the race for the next version many times in a row;
/// delta-rs's default of 15 gave up under 4 writers.
const COMMIT_RETRIES: usize = 100;

/// The root of the lake and how to reach it.
#[derive(Debug, Clone)]
pub struct Lake {
    root: Url,
    options: HashMap<String, String>,
    checkpoint_interval: u32,
}

impl Lake {
    pub fn new(cfg: &LakeConfig) -> Result<Self> {
        let bad = |reason: String| Error::Config { what: format!("lake root {}", cfg.root), reason };
        let mut root = if cfg.root.contains("://") {
            Url::parse(&cfg.root).map_err(|e| bad(e.to_string()))?
        } else {
            let path = std::path::Path::new(&cfg.root);
            std::fs::create_dir_all(path).map_err(|source| Error::Io { path: cfg.root.clone(), source })?;
            let abs = path.canonicalize().map_err(|source| Error::Io { path: cfg.root.clone(), source })?;
            Url::from_directory_path(&abs).map_err(|()| bad("not an absolute directory".into()))?
        };
        if !root.path().ends_with('/') {
            root.set_path(&format!("{}/", root.path()));
        }
        // `aws-endpoint-url` (env layer) and `AWS_ENDPOINT_URL` name the same option.
        let mut options: HashMap<String, String> = cfg
            .storage_options
            .iter()
            .map(|(k, v)| (k.to_uppercase().replace('-', "_"), v.clone()))
            .collect();
        if root.scheme() == "s3" || root.scheme() == "s3a" {
            for key in ENV_OPTIONS {
                if let Ok(v) = std::env::var(key) {
                    options.entry(key.to_owned()).or_insert(v);
                }
            }
            // No keys given: the AWS SDK's default chain finds them (profile files —
            // ~/.aws/credentials, AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE — web identity,
            // ECS/EC2 roles). deltalake skips that chain for a custom endpoint unless forced.
            if !options.contains_key("AWS_ACCESS_KEY_ID") {
                options.entry("AWS_FORCE_CREDENTIAL_LOAD".to_owned()).or_insert_with(|| "true".to_owned());
            }
        }
        Ok(Lake { root, options, checkpoint_interval: cfg.checkpoint_interval.max(1) })
    }

    pub fn root(&self) -> &Url {
        &self.root
    }

    pub fn table_url(&self, chain: &str, layer: Layer, name: &str) -> Result<Url> {
        self.root.join(&format!("{chain}/{layer}/{name}/")).map_err(|e| Error::Config {
            what: format!("table {chain}/{layer}/{name}"),
            reason: e.to_string(),
        })
    }

    /// Opens a table; an absent table comes back uninitialised (`version() == None`).
    pub async fn open(&self, url: &Url) -> Result<DeltaTable> {
        if url.scheme() == "file" {
            if let Ok(path) = url.to_file_path() {
                std::fs::create_dir_all(&path)
                    .map_err(|source| Error::Io { path: path.display().to_string(), source })?;
            }
        }
        let mut table = deltalake::DeltaTableBuilder::from_url(url.clone())
            .and_then(|b| b.with_storage_options(self.options.clone()).build())
            .map_err(Error::delta("open", url))?;
        // Only a table that exists is loaded (loading an absent one logs an error in delta's
        // kernel, and absent Bronze tables are normal before their first record).
        if table.log_store().is_delta_table_location().await.map_err(Error::delta("open", url))? {
            table.load().await.map_err(Error::delta("open", url))?;
        }
        Ok(table)
    }

    /// The object store of the chain's folder (what the readiness probe lists; built once,
    /// no table read).
    pub fn folder_store(&self, chain: &str) -> Result<Arc<dyn deltalake::ObjectStore>> {
        let url = self
            .root
            .join(&format!("{chain}/"))
            .map_err(|e| Error::Config { what: format!("lake folder of {chain}"), reason: e.to_string() })?;
        Ok(deltalake::DeltaTableBuilder::from_url(url.clone())
            .and_then(|b| b.with_storage_options(self.options.clone()).build_storage())
            .map_err(Error::delta("probe", &url))?
            .object_store(None))
    }

    /// Writes the checkpoint a crash skipped. delta-rs checkpoints right after every
    /// `interval`-th commit; a writer killed between that commit and its checkpoint leaves
    /// none until the next one. Writers call this when they open a table. Returns the
    /// version checkpointed, if one was due.
    pub async fn catch_up_checkpoint(&self, table: &DeltaTable) -> Result<Option<u64>> {
        let Some(version) = table.version() else { return Ok(None) };
        let Some(due) = checkpoint_due(version, u64::from(self.checkpoint_interval)) else {
            return Ok(None);
        };
        if last_checkpoint(table).await?.is_some_and(|last| last >= due) {
            return Ok(None);
        }
        deltalake::protocol::checkpoints::create_checkpoint(table, None)
            .await
            .map_err(Error::delta("checkpoint", table.table_url()))?;
        tracing::info!(table = %table.table_url(), version, "wrote a checkpoint a crash skipped");
        Ok(Some(version))
    }

    fn table_config(&self) -> Vec<(String, Option<String>)> {
        vec![("delta.checkpointInterval".to_owned(), Some(self.checkpoint_interval.to_string()))]
    }

    /// Appends `batches` and records `txns` (app id → version) in the same commit. A new
    /// table is created partitioned by `partition_by`; new nullable columns are merged into
    /// the schema (a record with an added field adds a column).
    pub async fn append(
        &self,
        table: DeltaTable,
        batches: Vec<RecordBatch>,
        txns: Vec<Transaction>,
        partition_by: &[&str],
    ) -> Result<DeltaTable> {
        let name = table.table_url().to_string();
        let batches = batches.into_iter().map(normalize_for_delta).collect::<Result<Vec<_>>>()?;
        let mut write = table.write(batches);
        if !partition_by.is_empty() {
            write = write.with_partition_columns(partition_by.iter().map(|c| (*c).to_owned()));
        }
        write
            .with_save_mode(SaveMode::Append)
            .with_schema_mode(SchemaMode::Merge)
            .with_configuration(self.table_config())
            .with_commit_properties(
                CommitProperties::default()
                    .with_application_transactions(txns)
                    .with_max_retries(COMMIT_RETRIES),
            )
            .await
            .map_err(Error::delta("append", name))
    }

    /// Writes the rows of `plan` (streamed, never collected) into `table`: every row when
    /// `replace` is `None` (the table's content, schema and partitioning replaced), else the
    /// rows matching the predicate `replace` (a SQL expression over partition columns), which
    /// every row of `plan` must match. `txns` go into the same commit.
    pub async fn write_plan(&self, table: DeltaTable, plan: WritePlan) -> Result<DeltaTable> {
        let name = table.table_url().to_string();
        let mut write = table
            .write(Vec::<RecordBatch>::new())
            .with_input_plan(plan.plan)
            .with_session_state(plan.session)
            .with_save_mode(SaveMode::Overwrite)
            .with_partition_columns(plan.partition_by)
            .with_configuration(self.table_config())
            .with_commit_properties(
                CommitProperties::default()
                    .with_application_transactions(plan.txns)
                    .with_max_retries(COMMIT_RETRIES),
            );
        write = match plan.replace {
            Some(predicate) => write.with_replace_where(predicate).with_schema_mode(SchemaMode::Merge),
            None => write.with_schema_mode(SchemaMode::Overwrite),
        };
        write.await.map_err(Error::delta("write", name))
    }

    /// Replaces the table's content (and schema) with `batches`.
    pub async fn overwrite(
        &self,
        table: DeltaTable,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<DeltaTable> {
        let name = table.table_url().to_string();
        let mut batches = batches.into_iter().map(normalize_for_delta).collect::<Result<Vec<_>>>()?;
        if batches.is_empty() {
            batches.push(normalize_for_delta(RecordBatch::new_empty(schema))?);
        }
        table
            .write(batches)
            .with_save_mode(SaveMode::Overwrite)
            .with_schema_mode(SchemaMode::Overwrite)
            .with_configuration(self.table_config())
            .await
            .map_err(Error::delta("overwrite", name))
    }
}

/// What [`Lake::write_plan`] writes.
pub struct WritePlan {
    pub plan: deltalake::datafusion::logical_expr::LogicalPlan,
    pub session: Arc<dyn deltalake::datafusion::catalog::Session>,
    pub partition_by: Vec<String>,
    /// `None`: the whole table; else the predicate of the partitions replaced.
    pub replace: Option<deltalake::datafusion::prelude::Expr>,
    pub txns: Vec<Transaction>,
}

/// The latest version at or below `version` after which delta-rs writes a checkpoint
/// (every `interval`-th commit: versions interval-1, 2·interval-1, …).
pub fn checkpoint_due(version: u64, interval: u64) -> Option<u64> {
    let interval = interval.max(1);
    ((version + 1) / interval * interval).checked_sub(1)
}

/// The version of the table's last checkpoint (`_delta_log/_last_checkpoint`), if any.
pub async fn last_checkpoint(table: &DeltaTable) -> Result<Option<u64>> {
    use deltalake::logstore::object_store::{self, ObjectStoreExt};
    let store = table.log_store().object_store(None);
    let bytes = match store.get(&deltalake::Path::from("_delta_log/_last_checkpoint")).await {
        Ok(got) => got.bytes().await,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => Err(e),
    }
    .map_err(|e| Error::delta("read _last_checkpoint", table.table_url())(e.into()))?;
    // An unreadable pointer counts as none: the next checkpoint rewrites it.
    Ok(serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("version").and_then(serde_json::Value::as_u64)))
}

/// The type Delta/Dremio needs instead of `dt`, if `dt` is not one they take as is: any
/// timestamp becomes UTC microseconds, unsigned integers become signed 64-bit.
pub fn delta_type(dt: &DataType) -> Option<DataType> {
    match dt {
        DataType::Timestamp(unit, tz) if *unit != TimeUnit::Microsecond || tz.as_deref() != Some("UTC") => {
            Some(DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())))
        }
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => Some(DataType::Int64),
        _ => None,
    }
}

/// Casts what Delta/Dremio cannot take as is: any timestamp becomes UTC microseconds,
/// unsigned integers become signed 64-bit.
pub fn normalize_for_delta(batch: RecordBatch) -> Result<RecordBatch> {
    let schema = batch.schema();
    let target = delta_type;
    if !schema.fields().iter().any(|f| target(f.data_type()).is_some()) {
        return Ok(batch);
    }
    let arrow_err = |e| Error::arrow("normalize")(e);
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns = Vec::with_capacity(schema.fields().len());
    for (f, col) in schema.fields().iter().zip(batch.columns()) {
        match target(f.data_type()) {
            Some(dt) => {
                columns.push(cast(col, &dt).map_err(arrow_err)?);
                fields.push(Field::new(f.name(), dt, f.is_nullable()));
            }
            None => {
                columns.push(col.clone());
                fields.push(f.as_ref().clone());
            }
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(arrow_err)
}

/// A lake in a local directory, for unit tests.
#[cfg(test)]
pub(crate) fn local_lake(root: &std::path::Path, checkpoint_interval: u32) -> Lake {
    let cfg = LakeConfig {
        root: root.display().to_string(),
        checkpoint_interval,
        storage_options: Default::default(),
    };
    Lake::new(&cfg).unwrap_or_else(|e| panic!("local lake at {}: {e}", root.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use deltalake::arrow::array::Int64Array;

    #[test]
    fn checkpoints_fall_after_every_interval_th_commit() {
        assert_eq!(checkpoint_due(0, 5), None);
        assert_eq!(checkpoint_due(3, 5), None);
        assert_eq!(checkpoint_due(4, 5), Some(4));
        assert_eq!(checkpoint_due(8, 5), Some(4));
        assert_eq!(checkpoint_due(9, 5), Some(9));
        assert_eq!(checkpoint_due(0, 1), Some(0));
        assert_eq!(checkpoint_due(7, 0), Some(7));
    }

    #[tokio::test]
    async fn a_checkpoint_skipped_by_a_crash_is_written_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let lake = local_lake(dir.path(), 2);
        let url = lake.table_url("c", Layer::Bronze, "t").unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let mut table = lake.open(&url).await.unwrap();
        for n in 0..3 {
            let batch =
                RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![n]))]).unwrap();
            table = lake.append(table, vec![batch], vec![], &[]).await.unwrap();
        }
        assert_eq!(table.version(), Some(2));
        assert_eq!(last_checkpoint(&table).await.unwrap(), Some(1), "delta-rs checkpoints every 2nd commit");
        assert_eq!(lake.catch_up_checkpoint(&table).await.unwrap(), None, "nothing due");

        // A writer killed after commit 1 and before its checkpoint leaves none.
        let log = dir.path().join("c/bronze/t/_delta_log");
        for entry in std::fs::read_dir(&log).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.contains("checkpoint") {
                std::fs::remove_file(path).unwrap();
            }
        }
        let table = lake.open(&url).await.unwrap();
        assert_eq!(last_checkpoint(&table).await.unwrap(), None);
        assert_eq!(lake.catch_up_checkpoint(&table).await.unwrap(), Some(2));
        assert_eq!(last_checkpoint(&table).await.unwrap(), Some(2));
    }
}
