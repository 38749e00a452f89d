//! Silver and Gold: the SQL files of `sql/` run on DataFusion, each writing one Delta table.
//!
//! `sql/silver_<name>.sql` writes `silver.<name>`, `sql/gold_<name>.sql` writes `gold.<name>`.
//! Silver runs before Gold; within a layer, files run in name order. Each job recomputes
//! its table from the layer below and overwrites it, so a re-run is idempotent.

use std::path::{Path, PathBuf};
use std::time::Instant;

use deltalake::arrow::array::RecordBatch;
use deltalake::arrow::datatypes::SchemaRef;
use deltalake::datafusion::prelude::SessionContext;

use crate::catalog::{new_session, register_batches, register_chain};
use crate::lake::{normalize_for_delta, Lake, Layer};
use crate::{Error, Result};

/// One SQL file: a `SELECT` whose result becomes `layer.name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub layer: Layer,
    pub name: String,
    pub path: PathBuf,
    pub sql: String,
}

/// What a job wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobReport {
    pub table: String,
    pub rows: usize,
}

/// Reads every `silver_*.sql` and `gold_*.sql` of `dir`, Silver first, then by name.
pub fn load_jobs(dir: &Path) -> Result<Vec<Job>> {
    let io = |source| Error::Io { path: dir.display().to_string(), source };
    let mut jobs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let Some(file) = path.file_name().and_then(|f| f.to_str()) else { continue };
        let Some(stem) = file.strip_suffix(".sql") else { continue };
        let (layer, name) = match stem.split_once('_') {
            Some(("silver", n)) => (Layer::Silver, n),
            Some(("gold", n)) => (Layer::Gold, n),
            _ => continue,
        };
        let sql = std::fs::read_to_string(&path)
            .map_err(|source| Error::Io { path: path.display().to_string(), source })?;
        jobs.push(Job { layer, name: name.to_owned(), path, sql });
    }
    jobs.sort_by(|a, b| (a.layer != Layer::Silver, &a.name).cmp(&(b.layer != Layer::Silver, &b.name)));
    if jobs.is_empty() {
        return Err(Error::Config {
            what: format!("sql dir {}", dir.display()),
            reason: "no silver_*.sql or gold_*.sql".into(),
        });
    }
    Ok(jobs)
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
        metrics::gauge!("chainlake_job_rows", "table" => table.clone()).set(rows as f64);
        metrics::histogram!("chainlake_job_seconds", "table" => table.clone())
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
