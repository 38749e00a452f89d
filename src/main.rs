//! The `chainlake` binary: parses the command line and config, sets up tracing and metrics,
//! runs one command, maps the outcome to an exit code. All logic lives in the libraries.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chainlake::config::Config;
use chainlake::pipeline;
use chainlake_ingest::devnet::{self, Artifacts, TrafficConfig};
use chainlake_medallion::bronze::Until;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(name = "chainlake", version, about = "EVM chain → Kafka → Delta Lake (Bronze, Silver, Gold)")]
struct Cli {
    /// TOML config file layered over the built-in defaults (default: ./chainlake.toml if present).
    #[arg(long, global = true, env = "CHAINLAKE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Local services, fresh anvil, traffic, ingest → Kafka → Bronze → Silver → Gold; prints Gold.
    Demo {
        #[arg(long, default_value_t = 30)]
        blocks: u32,
        #[arg(long, default_value_t = 24)]
        txs_per_block: u32,
        /// Do not run infra/local/up.sh (services already running).
        #[arg(long)]
        no_services: bool,
        /// Write the traffic ledger here.
        #[arg(long)]
        ledger: Option<PathBuf>,
    },
    /// Read blocks from the node and publish them to Kafka.
    #[command(subcommand)]
    Ingest(IngestCommand),
    /// Consume the chain's topics into Bronze Delta tables.
    Sink {
        /// Stop once every partition is written up to its current end.
        #[arg(long)]
        until_caught_up: bool,
    },
    /// Run the Silver and Gold SQL jobs (once, or on a schedule with --every).
    Medallion {
        /// Re-run every interval (e.g. `60s`) until interrupted.
        #[arg(long, value_parser = humantime_serde::re::humantime::parse_duration)]
        every: Option<std::time::Duration>,
    },
    /// Run SQL over bronze.*, silver.* and gold.* tables and print the result.
    Query { sql: String },
    /// Local devnet tools.
    #[command(subcommand)]
    Devnet(DevnetCommand),
}

#[derive(Subcommand)]
enum IngestCommand {
    /// Publish the blocks FROM..=TO.
    Backfill {
        #[arg(long)]
        from: u64,
        #[arg(long)]
        to: u64,
    },
    /// Follow the head from a height (default: where the last run stopped, else the head).
    Follow {
        #[arg(long)]
        from: Option<u64>,
    },
}

#[derive(Subcommand)]
enum DevnetCommand {
    /// Deploy contracts and send traffic to the node of `rpc.url`; writes a ledger.
    Traffic {
        #[arg(long, default_value_t = 30)]
        blocks: u32,
        #[arg(long, default_value_t = 24)]
        txs_per_block: u32,
        #[arg(long, default_value = "ledger.json")]
        ledger: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
            "info,deltalake=warn,deltalake_core=warn,buoyant_kernel=warn,delta_kernel=warn".into()
        }))
        .with_writer(std::io::stderr)
        .init();
    let cfg = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, cfg)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, mut cfg: Config) -> anyhow::Result<ExitCode> {
    if !cfg.metrics.listen.is_empty() {
        let addr: std::net::SocketAddr = cfg.metrics.listen.parse().context("metrics.listen")?;
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(addr)
            .install()
            .context("starting the Prometheus exporter")?;
    }
    let cancel = CancellationToken::new();
    {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                tracing::info!("interrupt: shutting down");
                cancel.cancel();
            }
        });
    }
    match command {
        Command::Demo { blocks, txs_per_block, no_services, ledger } => {
            if !no_services {
                pipeline::start_local_services(std::path::Path::new("."))
                    .context("starting local services")?;
            }
            // A demo run owns its namespace: fresh topics and a fresh local lake.
            let run_id = chrono_free_run_id();
            cfg.kafka.topic_prefix = format!("demo-{run_id}.");
            if !cfg.lake.root.contains("://") {
                cfg.lake.root = format!("{}/demo", cfg.lake.root.trim_end_matches('/'));
                let _ = std::fs::remove_dir_all(&cfg.lake.root);
            }
            let report = pipeline::demo(&mut cfg, &TrafficConfig { blocks, txs_per_block }, &cancel).await?;
            if let Some(path) = ledger {
                report.ledger.write(&path)?;
            }
            println!("{}", pipeline::render_gold(&cfg).await?);
            println!(
                "ingest: {} blocks, {} txs, {} logs, {:.2} RPC requests/block; bronze: {} rows in {} commits",
                report.crawl.blocks,
                report.crawl.txs,
                report.crawl.logs,
                report.rpc_requests as f64 / report.crawl.blocks.max(1) as f64,
                report.sink.rows,
                report.sink.commits
            );
            println!("ledger (sent): {}", serde_json::to_string(&report.ledger)?);
            println!("gold (lake):   {}", serde_json::to_string(&report.gold)?);
            println!("lake: {}  —  query it with: CHAINLAKE__LAKE__ROOT={} chainlake query \"SELECT * FROM gold.gas_daily\"",
                cfg.lake.root, cfg.lake.root);
            if report.matches() {
                println!("OK: Gold equals the traffic ledger exactly");
                Ok(ExitCode::SUCCESS)
            } else {
                println!("MISMATCH: Gold differs from the traffic ledger");
                Ok(ExitCode::from(3))
            }
        }
        Command::Ingest(IngestCommand::Backfill { from, to }) => {
            let crawler = pipeline::connect(&cfg).await?;
            let stats = crawler.backfill(from, to, cfg.rpc.concurrency, &cancel).await?;
            println!("{stats:?}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Ingest(IngestCommand::Follow { from }) => {
            let crawler = pipeline::connect(&cfg).await?;
            let from = match (from, crawler.resume_height().await?) {
                (Some(f), _) => f,
                (None, Some(resume)) => resume,
                (None, None) => crawler.rpc().head().await?,
            };
            let (_stop_tx, stop_rx) = tokio::sync::watch::channel(None);
            let stats =
                crawler.follow(from, stop_rx, cfg.rpc.poll_interval, cfg.rpc.concurrency, &cancel).await?;
            println!("{stats:?}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Sink { until_caught_up } => {
            let until = if until_caught_up { Until::CaughtUp } else { Until::Cancelled };
            let stats = pipeline::sink(&cfg, until, &cancel).await?;
            println!("{stats:?}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Medallion { every } => loop {
            for r in pipeline::medallion(&cfg).await? {
                println!("{}: {} rows", r.table, r.rows);
            }
            let Some(every) = every else { return Ok(ExitCode::SUCCESS) };
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = cancel.cancelled() => return Ok(ExitCode::SUCCESS),
            }
        },
        Command::Query { sql } => {
            println!("{}", pipeline::render(&pipeline::query(&cfg, &sql).await?)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Devnet(DevnetCommand::Traffic { blocks, txs_per_block, ledger }) => {
            let artifacts = Artifacts::load(&cfg.devnet.artifacts_dir())?;
            let l =
                devnet::generate(&cfg.rpc.url, &artifacts, &TrafficConfig { blocks, txs_per_block }).await?;
            l.write(&ledger)?;
            println!("{}", serde_json::to_string_pretty(&l)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn chrono_free_run_id() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
