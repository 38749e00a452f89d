//! Wiring of the pipeline stages for the CLI: ingest, sink, medallion jobs, query, demo.

use std::sync::Arc;
use std::time::Duration;

use chainlake_ingest::crawl::backfill::{BackfillPlan, SharedBackfill, SharedReport};
use chainlake_ingest::crawl::chunk_leases::RedisChunkLeases;
use chainlake_ingest::crawl::progress::Progress;
use chainlake_ingest::crawl::window_store::WindowStore;
use chainlake_ingest::crawl::{CrawlStats, Crawler};
use chainlake_ingest::holes::redis::RedisHoles;
use chainlake_ingest::publish::{ensure_topics, Publisher};
use chainlake_ingest::verify::VerifyOptions;

use chainlake_decode::Registry;
use chainlake_medallion::bronze::{BronzeSink, SinkStats, Until, REJECTED_TABLE};
use chainlake_medallion::deltalake::arrow::array::RecordBatch;
use chainlake_medallion::deltalake::arrow::util::display::array_value_to_string;
use chainlake_medallion::deltalake::arrow::util::pretty::pretty_format_batches;
use chainlake_medallion::deltalake::datafusion::prelude::SessionContext;
use chainlake_medallion::jobs::schedule::{AfterRun, Cadence, Schedule};
use chainlake_medallion::jobs::{self, JobReport, Refresh, RunLimits};
use chainlake_medallion::lake::maintenance::{self, Maintenance, MaintenanceReport, TableCheck};
use chainlake_medallion::lake::{Lake, Layer};
use chainlake_wire::{TopicKind, Topics};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::dremio::{BootstrapPlan, Refresher};
pub use crate::error::{PipelineError, Result};
use crate::ticks::RedisTicks;

/// Connects to the configured node (checking it serves the configured chain), Kafka (creating
/// the topics) and Redis (the persisted canonical window).
pub async fn connect(cfg: &Config) -> Result<Crawler> {
    connect_until(cfg, &CancellationToken::new()).await
}

/// [`connect`], with waits for failing providers ended by `cancel`.
pub async fn connect_until(cfg: &Config, cancel: &CancellationToken) -> Result<Crawler> {
    cfg.rpc.validate().map_err(chainlake_ingest::Error::from)?;
    cfg.backfill.validate().map_err(chainlake_ingest::Error::from)?;
    cfg.holes.validate().map_err(chainlake_ingest::Error::from)?;
    let rpc = crate::keys::providers(cfg, cancel)
        .await?
        .with_verify(cfg.chain.verify, VerifyOptions { senders: cfg.chain.verify_senders })
        .with_cancel(cancel.clone());
    // A provider on another chain is refused and named; only none on this chain stops us.
    rpc.check_chain_id(cfg.chain.chain_id).await?;
    ensure_topics(&cfg.kafka, &Topics::new(&cfg.kafka.topic_prefix, &cfg.chain.name)).await?;
    let mut publisher = Publisher::new(&cfg.kafka, &cfg.chain.name)?;
    if cfg.abi.publish {
        publisher = publisher.with_decoder(registry(cfg)?);
    }
    let store = WindowStore::connect(&cfg.redis.url, &cfg.kafka.topic_prefix, &cfg.chain.name).await?;
    let holes = RedisHoles::connect(&cfg.redis.url, &cfg.kafka.topic_prefix, &cfg.chain.name).await?;
    Ok(Crawler::new(rpc, publisher, cfg.chain.confirmations, cfg.chain.reorg_window)
        .with_store(store)
        .with_holes(Arc::new(holes), cfg.holes.clone()))
}

/// `ingest backfill`: this process's share of `from..=to`, coordinated with every other
/// process running the same range through Redis leases.
pub async fn backfill_shared(
    cfg: &Config,
    from: u64,
    to: u64,
    restart: bool,
    bar: bool,
    cancel: &CancellationToken,
) -> Result<SharedReport> {
    if to < from {
        return Err(PipelineError::EmptyRange { from, to });
    }
    let crawler = connect_until(cfg, cancel).await?;
    let plan = BackfillPlan { from, to, chunk_size: cfg.backfill.chunk_size };
    let worker =
        format!("{}-{}", std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into()), std::process::id());
    let leases = RedisChunkLeases::connect(
        &cfg.redis.url,
        &cfg.kafka.topic_prefix,
        &cfg.chain.name,
        &plan,
        worker,
        cfg.backfill.lease_ttl,
    )
    .await?;
    if restart {
        leases.reset(plan.chunks()).await?;
    }
    let progress = Progress::new(
        to.saturating_sub(from) + 1,
        bar,
        cfg.backfill.checkpoint_interval.max(Duration::from_secs(5)),
    );
    let job = SharedBackfill {
        crawler: &crawler,
        leases: &leases,
        plan,
        cfg: &cfg.backfill,
        concurrency: cfg.rpc.concurrency,
        progress: &progress,
    };
    let report = job.run(cancel).await;
    crawler.rpc().release_key().await;
    let report = report?;
    progress.finish();
    Ok(report)
}

/// `ingest follow`: follows the head from `from` (else where the last run stopped, else the
/// head) and, beside it, re-drives the chain's holes every `holes.check-interval`, until
/// `cancel`.
pub async fn follow(cfg: &Config, from: Option<u64>, cancel: &CancellationToken) -> Result<CrawlStats> {
    let crawler = connect_until(cfg, cancel).await?;
    let from = match (from, crawler.resume_height().await?) {
        (Some(f), _) => f,
        (None, Some(resume)) => resume,
        (None, None) => crawler.rpc().head().await?,
    };
    let stop = cancel.child_token();
    let redrive = {
        let (crawler, stop) = (crawler.clone(), stop.clone());
        tokio::spawn(async move { crawler.redrive_loop(&stop).await })
    };
    let (_stop_tx, stop_rx) = tokio::sync::watch::channel(None);
    let stats = crawler.follow(from, stop_rx, cfg.rpc.poll_interval, cfg.rpc.concurrency, cancel).await;
    stop.cancel();
    let redriven = redrive.await.map_err(|source| PipelineError::Task { task: "redrive holes", source });
    crawler.rpc().release_key().await;
    let stats = stats?;
    redriven??;
    Ok(stats)
}

/// Runs the sink on the configured lake.
pub async fn sink(cfg: &Config, until: Until, cancel: &CancellationToken) -> Result<SinkStats> {
    let lake = Lake::new(&cfg.lake)?;
    let sink = BronzeSink::new(lake, cfg.kafka.clone(), cfg.sink.clone(), &cfg.chain.name);
    Ok(sink.run(until, cancel).await?)
}

/// Every table of the chain: Bronze (one per topic and `_rejected`), then Silver and Gold.
pub fn lake_tables(cfg: &Config) -> Result<Vec<url::Url>> {
    let lake = Lake::new(&cfg.lake)?;
    let chain = &cfg.chain.name;
    let mut urls = Vec::new();
    for kind in TopicKind::ALL {
        urls.push(lake.table_url(chain, Layer::Bronze, kind.table_name())?);
    }
    urls.push(lake.table_url(chain, Layer::Bronze, REJECTED_TABLE)?);
    for job in jobs::load_jobs(cfg.medallion.sql_dir.as_deref())? {
        urls.push(lake.table_url(chain, job.layer, &job.name)?);
    }
    Ok(urls)
}

/// `chainlake lake optimize | vacuum | checkpoint` over every table of the chain.
pub async fn maintain(cfg: &Config, op: Maintenance) -> Result<Vec<MaintenanceReport>> {
    let lake = Lake::new(&cfg.lake)?;
    Ok(maintenance::run(&lake, &lake_tables(cfg)?, op).await?)
}

/// The Delta protocol of every existing table of the chain.
pub async fn check_tables(cfg: &Config) -> Result<Vec<TableCheck>> {
    let lake = Lake::new(&cfg.lake)?;
    Ok(maintenance::check(&lake, &lake_tables(cfg)?).await?)
}

/// Runs every Silver then Gold job once, incrementally.
pub async fn medallion(cfg: &Config) -> Result<Vec<JobReport>> {
    medallion_run(cfg, None, Refresh::Incremental).await
}

/// Runs the jobs of `layer` (all when `None`) once.
pub async fn medallion_run(cfg: &Config, layer: Option<Layer>, refresh: Refresh) -> Result<Vec<JobReport>> {
    let lake = Lake::new(&cfg.lake)?;
    let jobs = jobs::load_jobs(cfg.medallion.sql_dir.as_deref())?;
    let refresher = dremio_refresher(cfg, &jobs)?;
    let reports = jobs::run_jobs(&lake, &cfg.chain.name, &jobs, layer, refresh, limits(cfg)?).await?;
    if let Some(r) = refresher {
        r.refresh(&reports).await;
    }
    Ok(reports)
}

/// The ABI registry of `[abi]` for the configured chain (built-in ABIs, `abi.dir`, bindings).
pub fn registry(cfg: &Config) -> Result<Arc<Registry>> {
    Ok(Arc::new(Registry::load(&cfg.abi, &cfg.chain.name)?))
}

/// `[medallion]`'s limits, decoding with `[abi]`'s registry.
pub fn limits(cfg: &Config) -> Result<RunLimits> {
    Ok(RunLimits { registry: registry(cfg)?, ..RunLimits::from(&cfg.medallion) })
}

/// Runs the jobs every `every` until `cancel`, each tick once across every scheduler of the
/// chain (a lease in Redis); returns the ticks this one ran.
pub async fn medallion_schedule(
    cfg: &Config,
    layer: Option<Layer>,
    cadence: Cadence,
    cancel: &CancellationToken,
) -> Result<u64> {
    let lake = Lake::new(&cfg.lake)?;
    let jobs = jobs::load_jobs(cfg.medallion.sql_dir.as_deref())?;
    let mut leases = RedisTicks::connect(&cfg.redis.url).await?;
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
    let refresher = dremio_refresher(cfg, &jobs)?;
    let schedule = Schedule {
        lake: &lake,
        chain: &cfg.chain.name,
        jobs: &jobs,
        layer,
        cadence,
        limits: limits(cfg)?,
        holder: format!("{host}:{}", std::process::id()),
        after_run: refresher.as_ref().map(|r| r as &dyn AfterRun),
    };
    Ok(schedule.run(&mut leases, cancel).await?)
}

/// Every Silver and Gold table of `jobs`, as `(layer, name)`.
pub fn job_tables(jobs: &[jobs::Job]) -> Vec<(String, String)> {
    jobs.iter().map(|j| (j.layer.to_string(), j.name.clone())).collect()
}

/// The Dremio metadata refresher, when `dremio.url` is set and `dremio.refresh` is on.
pub fn dremio_refresher(cfg: &Config, jobs: &[jobs::Job]) -> Result<Option<Refresher>> {
    if !cfg.dremio.enabled() || !cfg.dremio.refresh {
        return Ok(None);
    }
    let plan = BootstrapPlan::from_config(&cfg.dremio, &cfg.lake, &cfg.chain.name, job_tables(jobs))?;
    Ok(Some(Refresher::new(crate::dremio::Http::new(&cfg.dremio)?, plan)))
}

/// `chainlake dremio bootstrap`: what it found or did, in order.
pub async fn dremio_bootstrap(cfg: &Config) -> Result<Vec<(String, crate::dremio::Outcome)>> {
    if !cfg.dremio.enabled() {
        return Err(PipelineError::Dremio(crate::dremio::DremioError::Config {
            key: "dremio.url",
            reason: "not set (e.g. CHAINLAKE__DREMIO__URL=http://dremio:9047)".into(),
        }));
    }
    let jobs = jobs::load_jobs(cfg.medallion.sql_dir.as_deref())?;
    let plan = BootstrapPlan::from_config(&cfg.dremio, &cfg.lake, &cfg.chain.name, job_tables(&jobs))?;
    Ok(crate::dremio::bootstrap(&crate::dremio::Http::new(&cfg.dremio)?, &plan).await?)
}

/// A query session over the chain's tables (`bronze.*`, `silver.*`, `gold.*`).
pub async fn session(cfg: &Config) -> Result<SessionContext> {
    let lake = Lake::new(&cfg.lake)?;
    let jobs = jobs::load_jobs(cfg.medallion.sql_dir.as_deref())?;
    Ok(jobs::session(&lake, &cfg.chain.name, &jobs, &registry(cfg)?).await?)
}

/// Runs one SQL statement over the chain's tables.
pub async fn query(cfg: &Config, sql: &str) -> Result<Vec<RecordBatch>> {
    Ok(jobs::query(&session(cfg).await?, sql).await?)
}

/// How `chainlake query` prints a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// An aligned text table.
    #[default]
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON object per line.
    Json,
}

/// Renders batches in `format`.
pub fn render_as(batches: &[RecordBatch], format: Format) -> Result<String> {
    use chainlake_medallion::deltalake::arrow::{csv, json};
    let err = |source| PipelineError::Render { source };
    match format {
        Format::Table => render(batches),
        Format::Csv => {
            let mut out = Vec::new();
            let mut w = csv::WriterBuilder::new().with_header(true).build(&mut out);
            for b in batches {
                w.write(b).map_err(err)?;
            }
            drop(w);
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
        Format::Json => {
            let mut w = json::LineDelimitedWriter::new(Vec::new());
            for b in batches {
                w.write(b).map_err(err)?;
            }
            w.finish().map_err(err)?;
            Ok(String::from_utf8_lossy(&w.into_inner()).into_owned())
        }
    }
}

/// Renders batches as a text table.
pub fn render(batches: &[RecordBatch]) -> Result<String> {
    pretty_format_batches(batches).map(|t| t.to_string()).map_err(|source| PipelineError::Render { source })
}

/// Every value of a query result as text, row by row.
pub fn rows(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>> {
    let mut out = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            let row = b
                .columns()
                .iter()
                .map(|c| array_value_to_string(c, r))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|source| PipelineError::Render { source })?;
            out.push(row);
        }
    }
    Ok(out)
}
