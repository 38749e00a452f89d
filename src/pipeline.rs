//! Wiring of the pipeline stages for the CLI: ingest, sink, medallion jobs, query, demo.

use std::path::Path;

use std::time::Duration;

use chainlake_ingest::backfill::{self, BackfillPlan, Leases, SharedReport};
use chainlake_ingest::crawler::{CrawlStats, Crawler};
use chainlake_ingest::devnet::{self, Anvil, Artifacts, Ledger, TrafficConfig};
use chainlake_ingest::progress::Progress;
use chainlake_ingest::providers::Providers;
use chainlake_ingest::publish::{ensure_topics, Publisher};
use chainlake_ingest::window_store::WindowStore;
use chainlake_ingest::wire::{TopicKind, Topics};
use chainlake_medallion::bronze::{BronzeSink, SinkStats, Until, REJECTED_TABLE};
use chainlake_medallion::deltalake::arrow::array::RecordBatch;
use chainlake_medallion::deltalake::arrow::util::display::array_value_to_string;
use chainlake_medallion::deltalake::arrow::util::pretty::pretty_format_batches;
use chainlake_medallion::deltalake::datafusion::prelude::SessionContext;
use chainlake_medallion::jobs::{self, JobReport};
use chainlake_medallion::lake::{Lake, Layer};
use chainlake_medallion::maintenance::{self, Maintenance, MaintenanceReport, TableCheck};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

/// Errors of the wiring layer: one of the stages failed, or the demo found a mismatch.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Ingest(Box<chainlake_ingest::Error>),
    #[error(transparent)]
    Medallion(#[from] chainlake_medallion::Error),
    #[error("chain id mismatch: config says {configured}, node {provider} says {actual}")]
    ChainId { configured: u64, actual: u64, provider: String },
    #[error("task {0} failed: {1}")]
    Task(&'static str, String),
    #[error("unexpected query result: {0}")]
    Result(String),
}

pub type Result<T, E = PipelineError> = std::result::Result<T, E>;

impl From<chainlake_ingest::Error> for PipelineError {
    fn from(e: chainlake_ingest::Error) -> Self {
        PipelineError::Ingest(Box::new(e))
    }
}

/// Connects to the configured node (checking it serves the configured chain), Kafka (creating
/// the topics) and Redis (the persisted canonical window).
pub async fn connect(cfg: &Config) -> Result<Crawler> {
    let rpc = Providers::new(&cfg.chain.name, &cfg.rpc)?;
    let mut reachable = 0;
    let mut last_err = None;
    for (provider, id) in rpc.chain_ids().await {
        match id {
            Ok(actual) if actual != cfg.chain.chain_id => {
                return Err(PipelineError::ChainId { configured: cfg.chain.chain_id, actual, provider })
            }
            Ok(_) => reachable += 1,
            // A provider that is down now is demoted by the first calls, not fatal.
            Err(e) => {
                tracing::warn!(%provider, error = %e, "provider unreachable at start");
                last_err = Some(e);
            }
        }
    }
    if let (0, Some(e)) = (reachable, last_err) {
        return Err(e.into());
    }
    ensure_topics(&cfg.kafka, &Topics::new(&cfg.kafka.topic_prefix, &cfg.chain.name)).await?;
    let publisher = Publisher::new(&cfg.kafka, &cfg.chain.name)?;
    let store = WindowStore::connect(&cfg.redis.url, &cfg.kafka.topic_prefix, &cfg.chain.name).await?;
    Ok(Crawler::new(rpc, publisher, cfg.chain.confirmations, cfg.chain.reorg_window).with_store(store))
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
    let crawler = connect(cfg).await?;
    let plan = BackfillPlan { from, to, chunk_size: cfg.backfill.chunk_size };
    let worker =
        format!("{}-{}", std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into()), std::process::id());
    let leases = Leases::connect(
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
    let report =
        backfill::run_shared(&crawler, &leases, &plan, &cfg.backfill, cfg.rpc.concurrency, &progress, cancel)
            .await?;
    progress.finish();
    Ok(report)
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
    for job in jobs::load_jobs(&cfg.medallion.sql_dir)? {
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

/// Runs every Silver then Gold job once.
pub async fn medallion(cfg: &Config) -> Result<Vec<JobReport>> {
    let lake = Lake::new(&cfg.lake)?;
    let jobs = jobs::load_jobs(&cfg.medallion.sql_dir)?;
    Ok(jobs::run_jobs(&lake, &cfg.chain.name, &jobs).await?)
}

/// A query session over the chain's tables (`bronze.*`, `silver.*`, `gold.*`).
pub async fn session(cfg: &Config) -> Result<SessionContext> {
    let lake = Lake::new(&cfg.lake)?;
    let jobs = jobs::load_jobs(&cfg.medallion.sql_dir)?;
    Ok(jobs::session(&lake, &cfg.chain.name, &jobs).await?)
}

/// Runs one SQL statement over the chain's tables.
pub async fn query(cfg: &Config, sql: &str) -> Result<Vec<RecordBatch>> {
    Ok(jobs::query(&session(cfg).await?, sql).await?)
}

/// Renders batches as a text table.
pub fn render(batches: &[RecordBatch]) -> Result<String> {
    pretty_format_batches(batches).map(|t| t.to_string()).map_err(|e| PipelineError::Result(e.to_string()))
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
                .map_err(|e| PipelineError::Result(e.to_string()))?;
            out.push(row);
        }
    }
    Ok(out)
}

async fn rows_of(ctx: &SessionContext, sql: &str) -> Result<Vec<Vec<String>>> {
    rows(&jobs::query(ctx, sql).await?)
}

/// The Gold figures that the traffic ledger predicts, read back from the lake.
pub async fn gold_totals(cfg: &Config) -> Result<Ledger> {
    let ctx = session(cfg).await?;
    let one = |rows: Vec<Vec<String>>| -> Result<Vec<String>> {
        rows.into_iter().next().ok_or_else(|| PipelineError::Result("no row".into()))
    };
    let num = |s: &str| -> Result<u128> {
        s.parse().map_err(|_| PipelineError::Result(format!("not a number: {s}")))
    };
    let native = one(rows_of(
        &ctx,
        "SELECT CAST(coalesce(sum(transfers), 0) AS VARCHAR), \
             CAST(coalesce(sum(wei), 0) AS VARCHAR) FROM gold.native_transfers_daily",
    )
    .await?)?;
    let classes =
        rows_of(&ctx, "SELECT class, CAST(sum(txs) AS VARCHAR) FROM gold.tx_class_daily GROUP BY class")
            .await?;
    let calls = rows_of(
        &ctx,
        "SELECT contract, CAST(sum(calls) AS VARCHAR) FROM gold.contract_calls_daily GROUP BY contract",
    )
    .await?;
    let last = one(rows_of(
        &ctx,
        "SELECT CAST(coalesce(max(block_number), 0) AS VARCHAR) FROM silver.transactions",
    )
    .await?)?;
    let mut l = Ledger {
        native_transfers: num(&native[0])? as u64,
        native_transfer_wei: num(&native[1])?,
        last_block: num(&last[0])? as u64,
        ..Ledger::default()
    };
    for row in classes {
        let n = num(&row[1])? as u64;
        l.txs += n;
        match row[0].as_str() {
            "contract_deploy" => l.deploys = n,
            "contract_call" => l.calls = n,
            _ => {}
        }
    }
    for row in calls {
        l.calls_by_contract.insert(row[0].to_lowercase(), num(&row[1])? as u64);
    }
    Ok(l)
}

/// What a demo run did.
#[derive(Debug)]
pub struct DemoReport {
    pub ledger: Ledger,
    pub gold: Ledger,
    pub crawl: CrawlStats,
    pub rpc_requests: u64,
    pub sink: SinkStats,
    pub jobs: Vec<JobReport>,
}

impl DemoReport {
    /// Gold equals what the generator sent, exactly.
    pub fn matches(&self) -> bool {
        self.ledger == self.gold
    }
}

/// Chain → Kafka → Bronze → Silver → Gold on a fresh anvil with generated traffic.
///
/// The primary provider is replaced by the spawned anvil (HTTP and WebSocket); topics and tables follow `cfg`.
pub async fn demo(
    cfg: &mut Config,
    traffic: &TrafficConfig,
    cancel: &CancellationToken,
) -> Result<DemoReport> {
    let anvil = Anvil::spawn(&cfg.devnet.anvil_bin(), &[]).await?;
    cfg.rpc.set_primary(anvil.url(), format!("anvil-{}", anvil.port()), anvil.ws_url());
    let artifacts = Artifacts::load(&cfg.devnet.artifacts_dir())?;
    let crawler = connect(cfg).await?;

    // Follow the head while the traffic is sent, then stop at the final head.
    let (stop_tx, stop_rx) = watch::channel(None);
    let follower = {
        let (crawler, cancel, poll, conc) =
            (crawler.clone(), cancel.clone(), cfg.rpc.poll_interval, cfg.rpc.concurrency);
        tokio::spawn(async move { crawler.follow(0, stop_rx, poll, conc, &cancel).await })
    };
    let ledger = devnet::generate(&anvil.url(), &artifacts, traffic).await;
    let head = crawler.rpc().head().await;
    let _ = stop_tx.send(Some(head.as_ref().copied().unwrap_or(0)));
    let crawl = follower.await.map_err(|e| PipelineError::Task("follower", e.to_string()))??;
    let ledger = ledger?;
    head?;
    let rpc_requests = crawler.rpc().requests();
    tracing::info!(blocks = crawl.blocks, txs = crawl.txs, "ingest done");

    let sink = sink(cfg, Until::CaughtUp, cancel).await?;
    tracing::info!(rows = sink.rows, "bronze done");
    let jobs = medallion(cfg).await?;
    let gold = gold_totals(cfg).await?;
    anvil.stop().await;
    Ok(DemoReport { ledger, gold, crawl, rpc_requests, sink, jobs })
}

/// Prints every Gold table of the chain.
pub async fn render_gold(cfg: &Config) -> Result<String> {
    let ctx = session(cfg).await?;
    let mut out = String::new();
    for job in jobs::load_jobs(&cfg.medallion.sql_dir)?.iter().filter(|j| j.layer == Layer::Gold) {
        let batches = jobs::query(&ctx, &format!("SELECT * FROM gold.{} LIMIT 20", job.name)).await?;
        out.push_str(&format!("\ngold.{}\n{}\n", job.name, render(&batches)?));
    }
    Ok(out)
}

/// Runs `infra/local/up.sh` (installs and starts the local services; idempotent).
pub fn start_local_services(repo: &Path) -> std::io::Result<()> {
    let script = repo.join("infra/local/up.sh");
    let status = std::process::Command::new("bash").arg(&script).status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!("{} failed: {status}", script.display())))
    }
}
