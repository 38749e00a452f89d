//! Wiring of the pipeline stages for the CLI: ingest, sink, medallion jobs, query, demo.

use std::path::Path;

use chainlake_ingest::crawler::{CrawlStats, Crawler};
use chainlake_ingest::devnet::{self, Anvil, Artifacts, Ledger, TrafficConfig};
use chainlake_ingest::publish::{ensure_topics, Publisher};
use chainlake_ingest::rpc::RpcSource;
use chainlake_ingest::window_store::WindowStore;
use chainlake_ingest::wire::Topics;
use chainlake_medallion::bronze::{BronzeSink, SinkStats, Until};
use chainlake_medallion::deltalake::arrow::array::RecordBatch;
use chainlake_medallion::deltalake::arrow::util::display::array_value_to_string;
use chainlake_medallion::deltalake::arrow::util::pretty::pretty_format_batches;
use chainlake_medallion::deltalake::datafusion::prelude::SessionContext;
use chainlake_medallion::jobs::{self, JobReport};
use chainlake_medallion::lake::{Lake, Layer};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

/// Errors of the wiring layer: one of the stages failed, or the demo found a mismatch.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Ingest(#[from] chainlake_ingest::Error),
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

/// Connects to the configured node (checking it serves the configured chain), Kafka (creating
/// the topics) and Redis (the persisted canonical window).
pub async fn connect(cfg: &Config) -> Result<Crawler> {
    let rpc = RpcSource::new(&cfg.chain.name, &cfg.rpc)?;
    let actual = rpc.chain_id().await?;
    if actual != cfg.chain.chain_id {
        return Err(PipelineError::ChainId {
            configured: cfg.chain.chain_id,
            actual,
            provider: cfg.rpc.pseudonym.clone(),
        });
    }
    ensure_topics(&cfg.kafka, &Topics::new(&cfg.kafka.topic_prefix, &cfg.chain.name)).await?;
    let publisher = Publisher::new(&cfg.kafka, &cfg.chain.name)?;
    let store = WindowStore::connect(&cfg.redis.url, &cfg.kafka.topic_prefix, &cfg.chain.name).await?;
    Ok(Crawler::new(rpc, publisher, cfg.chain.confirmations, cfg.chain.reorg_window).with_store(store))
}

/// Runs the sink on the configured lake.
pub async fn sink(cfg: &Config, until: Until, cancel: &CancellationToken) -> Result<SinkStats> {
    let lake = Lake::new(&cfg.lake)?;
    let sink = BronzeSink::new(lake, cfg.kafka.clone(), cfg.sink.clone(), &cfg.chain.name);
    Ok(sink.run(until, cancel).await?)
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
/// `cfg.rpc.url` is replaced by the spawned anvil's; topics and tables follow `cfg`.
pub async fn demo(
    cfg: &mut Config,
    traffic: &TrafficConfig,
    cancel: &CancellationToken,
) -> Result<DemoReport> {
    let anvil = Anvil::spawn(&cfg.devnet.anvil_bin(), &[]).await?;
    cfg.rpc.url = anvil.url();
    cfg.rpc.pseudonym = format!("anvil-{}", anvil.port());
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
