//! The demo: a fresh anvil with generated traffic, chain → Kafka → Bronze → Silver → Gold,
//! then Gold read back and checked against the generator's ledger, and rendered.

use std::path::Path;

use chainlake_ingest::crawl::CrawlStats;
use chainlake_ingest::devnet::{self, Anvil, Artifacts, Ledger, TrafficConfig};
use chainlake_medallion::bronze::{SinkStats, Until};
use chainlake_medallion::deltalake::datafusion::prelude::SessionContext;
use chainlake_medallion::jobs::{self, JobReport};
use chainlake_medallion::lake::Layer;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::{PipelineError, Result};
use crate::pipeline;

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
    let crawler = pipeline::connect(cfg).await?;

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
    let crawl = follower.await.map_err(|source| PipelineError::Task { task: "follower", source })??;
    let ledger = ledger?;
    head?;
    let rpc_requests = crawler.rpc().requests();
    tracing::info!(blocks = crawl.blocks, txs = crawl.txs, "ingest done");

    let sink = pipeline::sink(cfg, Until::CaughtUp, cancel).await?;
    tracing::info!(rows = sink.rows, "bronze done");
    let jobs = pipeline::medallion(cfg).await?;
    let gold = gold_totals(cfg).await?;
    anvil.stop().await;
    Ok(DemoReport { ledger, gold, crawl, rpc_requests, sink, jobs })
}

/// The rows of `sql`, every value as text.
async fn rows_of(ctx: &SessionContext, sql: &str) -> Result<Vec<Vec<String>>> {
    pipeline::rows(&jobs::query(ctx, sql).await?)
}

/// The first row of `sql`.
async fn one_row(ctx: &SessionContext, sql: &str) -> Result<Vec<String>> {
    rows_of(ctx, sql).await?.into_iter().next().ok_or_else(|| PipelineError::QueryShape {
        query: sql.to_owned(),
        expected: "one row",
        found: "no row".into(),
    })
}

fn number(sql: &str, text: &str) -> Result<u128> {
    text.parse().map_err(|_| PipelineError::QueryShape {
        query: sql.to_owned(),
        expected: "a non-negative integer",
        found: text.to_owned(),
    })
}

const NATIVE: &str = "SELECT CAST(coalesce(sum(transfers), 0) AS VARCHAR), \
    CAST(coalesce(sum(wei), 0) AS VARCHAR) FROM gold.native_transfers_daily";
const CLASSES: &str = "SELECT class, CAST(sum(txs) AS VARCHAR) FROM gold.tx_class_daily GROUP BY class";
const TOKENS: &str =
    "SELECT CAST(coalesce(sum(transfers), 0) AS VARCHAR) FROM gold.token_transfers_daily WHERE standard = 'erc20'";
const HOURLY: &str = "SELECT CAST(coalesce(sum(txs), 0) AS VARCHAR) FROM gold.gas_hourly";
const CALLS: &str =
    "SELECT contract, CAST(sum(calls) AS VARCHAR) FROM gold.contract_calls_daily GROUP BY contract";
const LAST: &str = "SELECT CAST(coalesce(max(block_number), 0) AS VARCHAR) FROM silver.transactions";
const METHODS: &str =
    "SELECT method, CAST(sum(calls) AS VARCHAR) FROM gold.top_methods_daily GROUP BY method";
const TRANSFER_ARGS: &str =
    "SELECT CAST(coalesce(sum(TRY_CAST(arg_values[2] AS DECIMAL(38, 0))), 0) AS VARCHAR) \
    FROM silver.decoded_calls WHERE signature = 'transfer(address,uint256)'";
const SWAPS: &str = "SELECT CAST(count(*) AS VARCHAR), \
    CAST(coalesce(sum(amount0_in_decimal + amount1_in_decimal), 0) AS VARCHAR) FROM silver.dex_swaps";
const DEPOSITS: &str =
    "SELECT CAST(count(*) AS VARCHAR) FROM silver.decoded_events WHERE signature = 'Deposit(address,uint256)'";

/// The Gold figures that the traffic ledger predicts, read back from the lake.
pub async fn gold_totals(cfg: &Config) -> Result<Ledger> {
    let ctx = pipeline::session(cfg).await?;
    let native = one_row(&ctx, NATIVE).await?;
    let last = one_row(&ctx, LAST).await?;
    let cell = |row: &[String], i: usize, sql: &str| -> Result<u128> {
        number(sql, row.get(i).map_or("", String::as_str))
    };
    let mut l = Ledger {
        native_transfers: cell(&native, 0, NATIVE)? as u64,
        native_transfer_wei: cell(&native, 1, NATIVE)?,
        last_block: cell(&last, 0, LAST)? as u64,
        ..Ledger::default()
    };
    // Transactions counted twice: per class and day, and per hour; the ledger's count must
    // come out of both (a disagreement shows as a mismatch of `txs`).
    let hourly = one_row(&ctx, HOURLY).await?;
    let mut by_class = 0;
    for row in rows_of(&ctx, CLASSES).await? {
        let n = cell(&row, 1, CLASSES)? as u64;
        by_class += n;
        match row[0].as_str() {
            "contract_deploy" => l.deploys = n,
            "contract_call" => l.calls = n,
            _ => {}
        }
    }
    let per_hour = cell(&hourly, 0, HOURLY)? as u64;
    l.erc20_transfers = cell(&one_row(&ctx, TOKENS).await?, 0, TOKENS)? as u64;
    l.txs = if per_hour == by_class { by_class } else { u64::MAX };
    for row in rows_of(&ctx, CALLS).await? {
        l.calls_by_contract.insert(row[0].to_lowercase(), cell(&row, 1, CALLS)? as u64);
    }
    // What the decoders made of the calls and logs: methods, arguments, swaps, deposits.
    for row in rows_of(&ctx, METHODS).await? {
        l.methods.insert(row[0].clone(), cell(&row, 1, METHODS)? as u64);
    }
    l.erc20_transfer_call_units = cell(&one_row(&ctx, TRANSFER_ARGS).await?, 0, TRANSFER_ARGS)?;
    let swaps = one_row(&ctx, SWAPS).await?;
    (l.v2_swaps, l.swap_in_units) = (cell(&swaps, 0, SWAPS)? as u64, cell(&swaps, 1, SWAPS)?);
    l.weth_deposits = cell(&one_row(&ctx, DEPOSITS).await?, 0, DEPOSITS)? as u64;
    Ok(l)
}

/// Prints every Gold table of the chain.
pub async fn render_gold(cfg: &Config) -> Result<String> {
    let ctx = pipeline::session(cfg).await?;
    let mut out = String::new();
    for job in jobs::load_jobs(cfg.medallion.sql_dir.as_deref())?.iter().filter(|j| j.layer == Layer::Gold) {
        let batches = jobs::query(&ctx, &format!("SELECT * FROM gold.{} LIMIT 20", job.name)).await?;
        out.push_str(&format!("\ngold.{}\n{}\n", job.name, pipeline::render(&batches)?));
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
