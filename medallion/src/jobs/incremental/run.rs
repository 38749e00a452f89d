//! One run of one job, like a stage that executes from its checkpoint: open the inputs at
//! their latest versions, decide the scope (scope.rs), let the SQL read only the days in
//! scope, stream its rows into the table's partitions of those days (`replaceWhere`) with the
//! inputs' versions as `txn` actions in the same commit. A run killed before its commit leaves
//! the table as it was; the next run, from the same checkpoint, does the same work again.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use deltalake::datafusion::common::{Column, ScalarValue};
use deltalake::datafusion::dataframe::DataFrame;
use deltalake::datafusion::logical_expr::{cast, Expr};
use deltalake::datafusion::prelude::{col, lit, SessionContext};
use deltalake::kernel::Transaction;

use super::scope::{app_id, scope, Input, Scope, DETECTED_DATE};
use super::slices::{rows_per_commit, slices, values_in, Bound, Slice, DAYS_PER_COMMIT};
use chainlake_decode::Registry;

use crate::bronze::{bronze_schema, REJECTED_TABLE};
use crate::jobs::catalog::{bounded_session, register_provider};
use crate::jobs::spec::{Job, TableRef};
use crate::lake::{delta_type, Lake, Layer, WritePlan};
use crate::{Error, Result};

/// Whether a run follows the checkpoints or rebuilds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// Rewrite what the inputs changed since the job's checkpoint (nothing if nothing did).
    Incremental,
    /// Rebuild every table from Bronze (`--full-refresh`).
    Full,
}

/// What one run of a job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobReport {
    pub table: String,
    /// `unchanged`, `full` or `days`.
    pub scope: &'static str,
    /// Partitions rewritten (`None` for a full rebuild or no change).
    pub partitions: Option<usize>,
    /// Rows in the input partitions the run read (from their file statistics).
    pub rows_read: u64,
    /// Rows written (0 when nothing was committed).
    pub rows: usize,
    /// The table version committed, if any.
    pub version: Option<u64>,
    /// Wall time of the run of this job, in milliseconds.
    pub millis: u64,
}

/// What bounds one run of a job (`[medallion]` config), and the ABI registry its SQL decodes
/// with (`[abi]`; the built-in ABIs unless set).
#[derive(Debug, Clone)]
pub struct RunLimits {
    /// Bytes of the DataFusion session's pool; larger sorts, aggregates and joins spill to disk.
    pub memory: usize,
    /// Days (partitions of a day) one commit writes at most: a rebuild or a backlog is split
    /// into commits of this many days, so memory and each commit are bounded by the chain's
    /// traffic of that many days, whatever the history.
    pub days_per_commit: usize,
    /// Input rows one commit reads at most (from the inputs' file statistics): a commit takes
    /// fewer days than `days_per_commit` when the chain is busy, so memory is bounded by rows,
    /// not by a calendar (a week of mainnet is ~8 M transactions; `percentile_cont` cannot
    /// spill). A day (a month, for a month table) above the bound is still one commit. `None`:
    /// derived from `memory` ([`rows_per_commit`]).
    pub rows_per_commit: Option<u64>,
    /// What `decode_call` / `decode_event` decode with; a job that calls them is rebuilt when
    /// its fingerprint changes (an ABI added: every past row of that contract decoded).
    pub registry: Arc<Registry>,
}

impl From<&crate::config::MedallionConfig> for RunLimits {
    /// What bounds one run of a job, from `[medallion]` (the built-in ABIs: set `registry`).
    fn from(cfg: &crate::config::MedallionConfig) -> Self {
        RunLimits {
            memory: cfg.memory_limit.0,
            days_per_commit: cfg.days_per_commit,
            rows_per_commit: cfg.rows_per_commit,
            ..RunLimits::default()
        }
    }
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            memory: crate::config::DEFAULT_MEMORY,
            days_per_commit: DAYS_PER_COMMIT,
            rows_per_commit: None,
            registry: crate::jobs::decode_udf::builtin_registry(),
        }
    }
}

/// The tables one run of the jobs has opened, as it opened or wrote them. The jobs of a run
/// share these snapshots instead of each loading the same Delta logs again (many jobs read
/// bronze.blocks or silver.transactions), so what a run spends opening tables grows with the
/// tables, not with jobs × inputs; and every job of a run reads the same Bronze versions.
#[derive(Default)]
pub struct Opened(BTreeMap<TableRef, deltalake::DeltaTable>);

impl Opened {
    /// `name` as this run last saw it, else opened now at its latest version.
    async fn get(&mut self, lake: &Lake, chain: &str, name: &TableRef) -> Result<deltalake::DeltaTable> {
        if let Some(table) = self.0.get(name) {
            return Ok(table.clone());
        }
        let table = lake.open(&lake.table_url(chain, name.layer, &name.name)?).await?;
        self.0.insert(name.clone(), table.clone());
        Ok(table)
    }
}

/// Runs `job` of `chain` once, within `limits`, with the tables `opened` earlier in the run.
#[tracing::instrument(skip(lake, job, limits, opened), fields(table = %job.table()))]
pub async fn run_job(
    lake: &Lake,
    chain: &str,
    job: &Job,
    refresh: Refresh,
    limits: &RunLimits,
    opened: &mut Opened,
) -> Result<JobReport> {
    let started = Instant::now();
    let table_name = job.table().to_string();
    let out = opened.get(lake, chain, &job.table()).await?;
    lake.catch_up_checkpoint(&out).await?;
    let ctx = bounded_session(limits.memory, &limits.registry)?;
    let inputs = open_inputs(lake, chain, job, &ctx, opened).await?;
    let registry = job.decodes().then(|| limits.registry.fingerprint());
    let scope = match refresh {
        Refresh::Full => Scope::Full("--full-refresh".into()),
        Refresh::Incremental => match registry_changed(&out, registry).await? {
            Some(why) => Scope::Full(why),
            None => scope(job, &out, &inputs, &ctx).await?,
        },
    };
    let label = match &scope {
        Scope::Unchanged => {
            tracing::debug!("no input changed since the last run");
            metrics::gauge!(crate::metrics::JOB_PARTITIONS, "table" => table_name.clone()).set(0.0);
            return Ok(JobReport {
                table: table_name,
                scope: "unchanged",
                partitions: None,
                rows_read: 0,
                rows: 0,
                version: None,
                millis: millis_since(started),
            });
        }
        Scope::Full(why) => {
            tracing::info!(why = %why, "rebuilding the whole table");
            "full"
        }
        Scope::Days(_) => "days",
    };
    let rows = limits.rows_per_commit.unwrap_or_else(|| rows_per_commit(limits.memory));
    let bound = Bound { days: limits.days_per_commit, rows };
    let slices = slices(job, &scope, &inputs, bound);
    tracing::debug!(slices = slices.len(), millis = millis_since(started), "inputs opened, scope decided");
    let (mut table, mut rows, mut rows_read) = (out, 0, 0);
    for slice in &slices {
        let slice_started = Instant::now();
        let (t, written, read) = write_slice(lake, &ctx, job, &inputs, table, slice, registry).await?;
        (table, rows, rows_read) = (t, rows + written, rows_read + read);
        let days = slice.values.as_ref().map(BTreeSet::len);
        tracing::debug!(
            days,
            rows_read = read,
            rows = written,
            millis = millis_since(slice_started),
            "slice committed"
        );
    }
    opened.0.insert(job.table(), table.clone());
    let partitions = match &scope {
        Scope::Days(_) => Some(slices.iter().filter_map(|s| s.values.as_ref()).map(BTreeSet::len).sum()),
        _ => None,
    };
    metrics::gauge!(crate::metrics::JOB_ROWS, "table" => table_name.clone()).set(rows as f64);
    metrics::gauge!(crate::metrics::JOB_ROWS_READ, "table" => table_name.clone()).set(rows_read as f64);
    let counted = partitions.unwrap_or_else(|| super::changes::partition_count(&table, &job.partition));
    metrics::gauge!(crate::metrics::JOB_PARTITIONS, "table" => table_name.clone()).set(counted as f64);
    metrics::histogram!(crate::metrics::JOB_SECONDS, "table" => table_name.clone())
        .record(started.elapsed().as_secs_f64());
    tracing::info!(scope = label, partitions, rows_read, rows, version = table.version(), "job done");
    let millis = millis_since(started);
    Ok(JobReport {
        table: table_name,
        scope: label,
        partitions,
        rows_read,
        rows,
        version: table.version(),
        millis,
    })
}

fn millis_since(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Writes one slice: the SQL over the inputs restricted to the slice's days, its rows of the
/// slice's partitions. Returns the table, the rows written and the rows read.
async fn write_slice(
    lake: &Lake,
    ctx: &SessionContext,
    job: &Job,
    inputs: &BTreeMap<TableRef, Input>,
    out: deltalake::DeltaTable,
    slice: &Slice,
    registry: Option<i64>,
) -> Result<(deltalake::DeltaTable, usize, u64)> {
    // Without days to read (a single whole-table slice) the inputs stay as open_inputs
    // registered them.
    if let Some(days) = &slice.read {
        restrict_inputs(ctx, inputs, days, job.partition == DETECTED_DATE)?;
    }
    let rows_read: u64 = inputs.values().map(|i| rows_read(i, slice.read.as_ref())).sum();
    let df = ctx.sql(&job.sql).await.map_err(Error::sql(job.path.display()))?;
    let predicate = slice.values.as_ref().map(|values| in_list(&job.partition, values));
    let df = match &predicate {
        Some(p) => df.filter(p.clone()).map_err(Error::sql(job.path.display()))?,
        None => df,
    };
    let df = delta_compatible(df).map_err(Error::sql(job.path.display()))?;
    let versions: Vec<(&TableRef, Option<u64>)> = inputs.iter().map(|(n, i)| (n, i.version())).collect();
    let mut txns = slice_txns(slice, &versions);
    if let (true, Some(fingerprint)) = (slice.last, registry) {
        txns.push(Transaction::new(REGISTRY_APP, fingerprint));
    }
    let plan = WritePlan {
        plan: df.into_unoptimized_plan(),
        session: Arc::new(ctx.state()),
        partition_by: vec![job.partition.clone()],
        replace: if slice.replace_all { None } else { predicate },
        txns,
    };
    let table = lake.write_plan(out, plan).await?;
    let rows = super::changes::added_rows(&table).await?;
    Ok((table, rows, rows_read))
}

/// The checkpoint a slice's commit carries: the inputs' versions on the last slice; on the first
/// slice of a split rebuild, "nothing read yet" (version -1) for every input, because that
/// commit empties the table: a rebuild killed after it leaves no older checkpoint behind, and
/// the next run reads every input from its first commit and writes every day again.
fn slice_txns(slice: &Slice, versions: &[(&TableRef, Option<u64>)]) -> Vec<Transaction> {
    let version = |v: Option<u64>| match (slice.last, slice.replace_all) {
        (true, _) => v.and_then(|v| i64::try_from(v).ok()),
        (false, true) => Some(NOTHING_READ),
        (false, false) => None,
    };
    versions.iter().filter_map(|(name, v)| version(*v).map(|v| Transaction::new(app_id(name), v))).collect()
}

/// The `txn` version of an input no completed run has read (below every Delta version).
pub const NOTHING_READ: i64 = -1;

/// The `txn` app id under which a decoding job records the ABI registry's fingerprint.
pub const REGISTRY_APP: &str = "chainlake-medallion:abi-registry";

/// Why a decoding job must be rebuilt: the registry it last decoded with is not `now`'s.
async fn registry_changed(out: &deltalake::DeltaTable, now: Option<i64>) -> Result<Option<String>> {
    let Some(now) = now else { return Ok(None) };
    if out.version().is_none() {
        return Ok(None);
    }
    Ok(match crate::lake::txn::txn_version(out, REGISTRY_APP).await? {
        Some(seen) if seen == now => None,
        Some(_) => Some("the ABI registry changed (an ABI or a binding added or changed)".into()),
        None => Some("no ABI registry recorded by the last run".into()),
    })
}

/// Opens every input of `job` and registers it whole in `ctx` (a Bronze table no record has
/// reached is an empty table of its schema, so SQL never fails on a missing table).
async fn open_inputs(
    lake: &Lake,
    chain: &str,
    job: &Job,
    ctx: &SessionContext,
    opened: &mut Opened,
) -> Result<BTreeMap<TableRef, Input>> {
    let mut inputs = BTreeMap::new();
    for name in &job.inputs {
        let url = lake.table_url(chain, name.layer, &name.name)?;
        let table = opened.get(lake, chain, name).await?;
        let input = if table.version().is_some() {
            table
                .update_datafusion_session(&ctx.state())
                .map_err(Error::delta("register object store", &url))?;
            let provider =
                table.table_provider().await.map_err(Error::sql(format!("table provider {url}")))?;
            let partition = table
                .snapshot()
                .map_err(Error::delta("snapshot", &url))?
                .metadata()
                .partition_columns()
                .first()
                .cloned();
            Input { table: Some(table), partition, provider }
        } else if name.layer == Layer::Bronze {
            Input { table: None, partition: None, provider: empty_bronze(&name.name)? }
        } else {
            return Err(Error::MissingInput {
                job: job.table().to_string(),
                input: name.to_string(),
                reason: "its job runs first?",
            });
        };
        register_provider(ctx, name.layer, &name.name, input.provider.clone())?;
        inputs.insert(name.clone(), input);
    }
    Ok(inputs)
}

fn empty_bronze(name: &str) -> Result<Arc<dyn deltalake::datafusion::catalog::TableProvider>> {
    let schema = chainlake_wire::TopicKind::ALL
        .into_iter()
        .find(|k| k.table_name() == name)
        .map(bronze_schema)
        .or_else(|| (name == REJECTED_TABLE).then(crate::bronze::rejected_schema))
        .ok_or_else(|| Error::MissingInput {
            job: "a job".into(),
            input: format!("bronze.{name}"),
            reason: "no topic has such a Bronze table",
        })?;
    let mem = deltalake::datafusion::catalog::MemTable::try_new(schema, vec![Vec::new()])
        .map_err(Error::sql(format!("bronze.{name}")))?;
    Ok(Arc::new(mem))
}

/// Rows of `input` a run reads: its partitions of `days` (a `month`-partitioned input: of
/// their months), or all of it for a full run or an unpartitioned input.
fn rows_read(input: &Input, days: Option<&BTreeSet<NaiveDate>>) -> u64 {
    let Some(table) = &input.table else { return 0 };
    let partition = input.partition.as_deref();
    let values = partition.zip(days).map(|(p, d)| values_in(p, d));
    super::changes::rows_in(table, partition, values.as_ref())
}

/// Re-registers every partitioned input as a view of the days in `days` (a `month`-partitioned
/// input: of their months). Partition pruning means only those days' files are read.
fn restrict_inputs(
    ctx: &SessionContext,
    inputs: &BTreeMap<TableRef, Input>,
    days: &BTreeSet<NaiveDate>,
    by_detection: bool,
) -> Result<()> {
    for (name, input) in inputs {
        let Some(partition) = &input.partition else {
            if by_detection {
                register_provider(ctx, name.layer, &name.name, detected_within(ctx, name, input, days)?)?;
            }
            continue;
        };
        let view = ctx
            .read_table(input.provider.clone())
            .and_then(|df| df.filter(in_list(partition, &values_in(partition, days))))
            .map_err(Error::sql(format!("restrict {name}")))?
            .into_view();
        register_provider(ctx, name.layer, &name.name, view)?;
    }
    Ok(())
}

/// An unpartitioned input (chain events) seen by a job dated by detection: its rows detected
/// within the days' span (`detected_at`, Unix ms; file statistics prune the rest).
fn detected_within(
    ctx: &SessionContext,
    name: &TableRef,
    input: &Input,
    days: &BTreeSet<NaiveDate>,
) -> Result<Arc<dyn deltalake::datafusion::catalog::TableProvider>> {
    let ms = |d: &NaiveDate| d.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp_millis());
    let (Some(first), Some(last)) = (days.first(), days.last()) else { return Ok(input.provider.clone()) };
    let end = last.succ_opt().map_or(i64::MAX, |d| ms(&d));
    let df = ctx
        .read_table(input.provider.clone())
        .and_then(|df| {
            df.filter(col("detected_at").gt_eq(lit(ms(first))).and(col("detected_at").lt(lit(end))))
        })
        .map_err(Error::sql(format!("restrict {name}")))?;
    Ok(df.into_view())
}

/// `column IN (DATE 'd1', …)`.
fn in_list(column: &str, days: &BTreeSet<NaiveDate>) -> Expr {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let values =
        days.iter().map(|d| lit(ScalarValue::Date32(i32::try_from((*d - epoch).num_days()).ok()))).collect();
    col(Column::new_unqualified(column)).in_list(values, false)
}

/// Casts the columns Delta/Dremio cannot take as is (see [`delta_type`]).
fn delta_compatible(df: DataFrame) -> deltalake::datafusion::error::Result<DataFrame> {
    let schema = df.schema().clone();
    if !schema.fields().iter().any(|f| delta_type(f.data_type()).is_some()) {
        return Ok(df);
    }
    let exprs: Vec<Expr> = schema
        .iter()
        .map(|(q, f)| {
            let c = Expr::Column(Column::from((q, f)));
            match delta_type(f.data_type()) {
                Some(t) => cast(c, t).alias(f.name()),
                None => c,
            }
        })
        .collect();
    df.select(exprs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::incremental::slices::tests::{days, job, WEEK};

    #[test]
    fn a_split_rebuild_resets_the_checkpoint_first_and_sets_it_last() {
        let input = TableRef { layer: Layer::Bronze, name: "blocks".into() };
        let versions = [(&input, Some(9))];
        let s = slices(&job("block_date"), &Scope::Days(days(1, 10)), &BTreeMap::new(), WEEK);
        let first = Slice { replace_all: true, ..s[0].clone() };
        let v = |t: Vec<Transaction>| t.into_iter().map(|t| (t.app_id, t.version)).collect::<Vec<_>>();
        let id = app_id(&input);
        assert_eq!(
            v(slice_txns(&first, &versions)),
            [(id.clone(), NOTHING_READ)],
            "the emptied table read nothing"
        );
        assert_eq!(v(slice_txns(&s[0], &versions)), [], "a middle slice leaves the checkpoint as it is");
        assert_eq!(v(slice_txns(&s[1], &versions)), [(id, 9)], "the last slice carries the versions read");
    }
}
