//! Silver and Gold: the SQL files of `sql/` run on DataFusion, each writing one Delta table.
//!
//! `sql/silver_<name>.sql` writes `silver.<name>`, `sql/gold_<name>.sql` writes `gold.<name>`.
//! Silver runs before Gold; within a layer, files run in name order. Each job rewrites only
//! the partitions its inputs changed since its last run (see [`crate::jobs::incremental`]).

use deltalake::arrow::array::RecordBatch;
use deltalake::arrow::datatypes::SchemaRef;
use deltalake::datafusion::prelude::SessionContext;

use std::sync::Arc;

use chainlake_decode::Registry;

pub mod canonical;
pub mod catalog;
pub mod decode_udf;
pub mod incremental;
pub mod schedule;
pub mod spec;
pub mod udf;

use crate::jobs::catalog::{new_session_with, register_batches, register_chain};
pub use crate::jobs::incremental::{run_job, JobReport, Opened, Refresh, RunLimits};
pub use crate::jobs::spec::{load_jobs, Job};
use crate::lake::{normalize_for_delta, Lake, Layer};
use crate::{Error, Result};

/// Runs one job in `ctx` over what `ctx` holds and registers its result as `layer.name` for
/// the jobs after it (golden tests: in-memory tables, results collected).
pub async fn execute(ctx: &SessionContext, job: &Job) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let df = ctx.sql(&job.sql).await.map_err(Error::sql(job.path.display()))?;
    let schema: SchemaRef = df.schema().inner().clone();
    let batches = df.collect().await.map_err(Error::sql(job.path.display()))?;
    // Tables downstream see exactly what Delta stores (UTC timestamps, signed integers).
    let schema = normalize_for_delta(RecordBatch::new_empty(schema))?.schema();
    let batches = batches.into_iter().map(normalize_for_delta).collect::<Result<Vec<_>>>()?;
    register_batches(ctx, job.layer, &job.name, schema.clone(), batches.clone())?;
    Ok((schema, batches))
}

/// Runs `jobs` for `chain` once, in order; `layer` keeps only that layer's jobs.
// The limits hold the whole ABI registry: their Debug would fill every log line of the run.
#[tracing::instrument(skip(lake, jobs, limits))]
pub async fn run_jobs(
    lake: &Lake,
    chain: &str,
    jobs: &[Job],
    layer: Option<Layer>,
    refresh: Refresh,
    limits: RunLimits,
) -> Result<Vec<JobReport>> {
    let mut reports = Vec::with_capacity(jobs.len());
    let mut opened = Opened::default();
    for job in jobs.iter().filter(|j| layer.is_none_or(|l| l == j.layer)) {
        reports.push(run_job(lake, chain, job, refresh, &limits, &mut opened).await?);
    }
    Ok(reports)
}

/// A session with every table of `chain` registered (see catalog.rs), for ad-hoc queries.
pub async fn session(
    lake: &Lake,
    chain: &str,
    jobs: &[Job],
    registry: &Arc<Registry>,
) -> Result<SessionContext> {
    let ctx = new_session_with(registry)?;
    register_chain(&ctx, lake, chain, jobs).await?;
    Ok(ctx)
}

/// Runs one SQL statement in `ctx`.
pub async fn query(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    let df = ctx.sql(sql).await.map_err(Error::sql("query"))?;
    df.collect().await.map_err(Error::sql("query"))
}
