//! Silver and Gold: the SQL files of `sql/` run on DataFusion, each writing one Delta table.
//!
//! `sql/silver_<name>.sql` writes `silver.<name>`, `sql/gold_<name>.sql` writes `gold.<name>`.
//! Silver runs before Gold; within a layer, files run in name order. Each job recomputes
//! its table from the layer below and overwrites it, so a re-run is idempotent.

use std::time::Instant;

use deltalake::arrow::array::RecordBatch;
use deltalake::arrow::datatypes::SchemaRef;
use deltalake::datafusion::prelude::SessionContext;

use crate::catalog::{new_session, register_batches, register_chain};
pub use crate::job::{load_jobs, Job};
use crate::lake::{normalize_for_delta, Lake};
use crate::{Error, Result};

/// What a job wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobReport {
    pub table: String,
    pub rows: usize,
}

/// Runs one job in `ctx` and registers its result as `layer.name` for the jobs after it.
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

/// Runs `jobs` for `chain` and overwrites their tables.
#[tracing::instrument(skip(lake, jobs))]
pub async fn run_jobs(lake: &Lake, chain: &str, jobs: &[Job]) -> Result<Vec<JobReport>> {
    let ctx = new_session()?;
    register_chain(&ctx, lake, chain, jobs).await?;
    let mut reports = Vec::with_capacity(jobs.len());
    for job in jobs {
        let started = Instant::now();
        let table = format!("{}.{}", job.layer, job.name);
        let (schema, batches) = execute(&ctx, job).await?;
        let rows = batches.iter().map(|b| b.num_rows()).sum();
        let url = lake.table_url(chain, job.layer, &job.name)?;
        let delta = lake.open(&url).await?;
        lake.catch_up_checkpoint(&delta).await?;
        lake.overwrite(delta, schema, batches).await?;
        metrics::gauge!(crate::metrics::JOB_ROWS, "table" => table.clone()).set(rows as f64);
        metrics::histogram!(crate::metrics::JOB_SECONDS, "table" => table.clone())
            .record(started.elapsed().as_secs_f64());
        tracing::info!(%table, rows, "job done");
        reports.push(JobReport { table, rows });
    }
    Ok(reports)
}

/// A session with every table of `chain` registered (see catalog.rs), for ad-hoc queries.
pub async fn session(lake: &Lake, chain: &str, jobs: &[Job]) -> Result<SessionContext> {
    let ctx = new_session()?;
    register_chain(&ctx, lake, chain, jobs).await?;
    Ok(ctx)
}

/// Runs one SQL statement in `ctx`.
pub async fn query(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    let df = ctx.sql(sql).await.map_err(Error::sql("query"))?;
    df.collect().await.map_err(Error::sql("query"))
}
