//! The `chainlake` binary: parses the command line and config, sets up tracing and metrics,
//! runs one command, maps the outcome to an exit code. All logic lives in the libraries.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chainlake::config::Config;
use chainlake::pipeline;
use chainlake_ingest::devnet::{self, Artifacts, TrafficConfig};
use chainlake_medallion::bronze::Until;
use chainlake_medallion::jobs::Refresh;
use chainlake_medallion::lake::Layer;
use chainlake_medallion::maintenance::Maintenance;
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
    /// Silver and Gold: the SQL jobs, incremental from each table's checkpoint.
    #[command(subcommand)]
    Medallion(MedallionCommand),
    /// Table maintenance, safe while the sink writes.
    #[command(subcommand)]
    Lake(LakeCommand),
    /// Run SQL over bronze.*, silver.* and gold.* tables and print the result.
    Query {
        sql: String,
        #[arg(long, value_enum, default_value_t)]
        format: pipeline::Format,
    },
    /// Re-check Bronze for a range of heights from the lake alone (no node): header hashes,
    /// completeness of transactions, receipts and logs; exits 1 on any problem.
    Verify {
        #[arg(long)]
        from: u64,
        #[arg(long)]
        to: u64,
    },
    /// Local devnet tools.
    #[command(subcommand)]
    Devnet(DevnetCommand),
    /// Benchmarks that print a table.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum MedallionCommand {
    /// Run the jobs once; exits 1 if one fails.
    Run {
        /// Only this layer's jobs.
        #[arg(long, value_parser = parse_layer)]
        layer: Option<Layer>,
        /// Rebuild every table from Bronze instead of from its checkpoint.
        #[arg(long)]
        full_refresh: bool,
    },
    /// Run the jobs every interval (e.g. `60s`) until interrupted.
    Schedule {
        #[arg(long, value_parser = humantime_serde::re::humantime::parse_duration)]
        every: std::time::Duration,
        #[arg(long, value_parser = parse_layer)]
        layer: Option<Layer>,
    },
}

fn parse_layer(s: &str) -> Result<Layer, String> {
    match s {
        "silver" => Ok(Layer::Silver),
        "gold" => Ok(Layer::Gold),
        _ => Err(format!("{s:?}: expected silver or gold")),
    }
}

#[derive(Subcommand)]
enum LakeCommand {
    /// Compact small files of every table.
    Optimize {
        /// Target file size in bytes.
        #[arg(long, default_value_t = 128 * 1024 * 1024)]
        target_bytes: u64,
    },
    /// Delete files no version within the retention references.
    Vacuum {
        #[arg(long, default_value = "7days", value_parser = humantime_serde::re::humantime::parse_duration)]
        retention: std::time::Duration,
    },
    /// Write a checkpoint of every table at its current version.
    Checkpoint,
    /// Print each table's Delta protocol (what Dremio needs: reader ≤ 2, no DVs, no timestampNtz).
    Check,
}

impl LakeCommand {
    /// The maintenance operation, or `None` for the read-only check.
    fn maintenance(self) -> Option<Maintenance> {
        match self {
            LakeCommand::Optimize { target_bytes } => Some(Maintenance::Optimize { target_bytes }),
            LakeCommand::Vacuum { retention } => Some(Maintenance::Vacuum { retention }),
            LakeCommand::Checkpoint => Some(Maintenance::Checkpoint),
            LakeCommand::Check => None,
        }
    }
}

/// `chainlake lake check`: exits 1 when a table is not readable by Dremio.
async fn lake_check(cfg: &Config) -> anyhow::Result<ExitCode> {
    let mut ok = true;
    for c in pipeline::check_tables(cfg).await? {
        ok &= c.dremio_readable();
        println!(
            "{}: v{} reader {} writer {} partitioned by {:?}, checkpoint {}, dremio-readable {}",
            c.table,
            c.version,
            c.min_reader,
            c.min_writer,
            c.partition_columns,
            c.checkpoint_version.map_or_else(|| "none".to_owned(), |v| format!("v{v}")),
            c.dremio_readable()
        );
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Mine a bulk chain on a fresh anvil, backfill it into Kafka, report throughput.
    Ingest {
        #[arg(long, default_value_t = 5_000)]
        blocks: u64,
        #[arg(long, default_value_t = 50)]
        txs_per_block: u64,
        /// Blocks fetched at once (default: rpc.concurrency).
        #[arg(long)]
        concurrency: Option<usize>,
    },
    /// Silver and Gold over a generated Bronze: full refresh, incremental at 1× and 4× history,
    /// nothing new, peak RSS, and the Gold SQL in DuckDB over the same Parquet files.
    Medallion {
        #[arg(long, default_value_t = 5_000_000)]
        txs: u64,
        #[arg(long, default_value_t = 150)]
        txs_per_block: u64,
        /// Days the 1× history spans.
        #[arg(long, default_value_t = 30)]
        days: u64,
    },
    /// Sink throughput: the sink's own path and end to end from the broker, local lake and S3.
    Sink {
        #[arg(long, default_value_t = 300_000)]
        rows: u64,
        /// Also measure on this S3 root (credentials and endpoint from AWS_* env or lake options).
        #[arg(long)]
        s3_root: Option<String>,
        /// Measure only the sink's own path (records already fetched), not through the broker.
        #[arg(long)]
        no_broker: bool,
    },
}

#[derive(Subcommand)]
enum IngestCommand {
    /// Publish the blocks FROM..=TO. Processes started with the same range share it through
    /// Redis (leased chunks); a stopped run resumes from its checkpoints.
    Backfill {
        #[arg(long)]
        from: u64,
        #[arg(long)]
        to: u64,
        /// Blocks per leased chunk (default: backfill.chunk-size).
        #[arg(long)]
        chunk_size: Option<u64>,
        /// Forget the range's checkpoints and completed chunks first.
        #[arg(long)]
        restart: bool,
        /// Log progress lines instead of drawing a bar.
        #[arg(long)]
        no_progress: bool,
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
    // The Delta kernel logs an ERROR for every table that does not exist yet (first run);
    // real Delta failures reach us as typed errors with the table's coordinates.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
            "info,deltalake=warn,deltalake_core=warn,buoyant_kernel=off,delta_kernel=warn".into()
        }))
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal: a log file or a pipe gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cfg = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = cfg.validate() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
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
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, each cause once: our errors already include their
/// source's text, which `{:#}` would print a second time.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}

async fn run(command: Command, cfg: Config) -> anyhow::Result<ExitCode> {
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
            demo(cfg, TrafficConfig { blocks, txs_per_block }, no_services, ledger, &cancel).await
        }
        Command::Ingest(IngestCommand::Backfill { from, to, chunk_size, restart, no_progress }) => {
            backfill(cfg, from..=to, chunk_size, restart, !no_progress, &cancel).await
        }
        Command::Ingest(IngestCommand::Follow { from }) => follow(&cfg, from, &cancel).await,
        Command::Sink { until_caught_up } => {
            let until = if until_caught_up { Until::CaughtUp } else { Until::Cancelled };
            println!("{:?}", pipeline::sink(&cfg, until, &cancel).await?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Medallion(cmd) => medallion(&cfg, cmd, &cancel).await,
        Command::Lake(cmd) => lake(&cfg, cmd).await,
        Command::Query { sql, format } => {
            print!("{}", pipeline::render_as(&pipeline::query(&cfg, &sql).await?, format)?);
            if format == pipeline::Format::Table {
                println!();
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(cmd) => bench(cfg, cmd).await,
        Command::Verify { from, to } => verify(&cfg, from, to).await,
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

/// `chainlake demo`: exits 3 when Gold differs from the traffic ledger.
async fn demo(
    mut cfg: Config,
    traffic: TrafficConfig,
    no_services: bool,
    ledger: Option<PathBuf>,
    cancel: &CancellationToken,
) -> anyhow::Result<ExitCode> {
    if !no_services {
        chainlake::demo::start_local_services(std::path::Path::new("."))
            .context("starting local services")?;
    }
    // A demo run owns its namespace: fresh topics and a fresh local lake.
    let run_id = chainlake::unix_secs();
    cfg.kafka.topic_prefix = format!("demo-{run_id}.");
    if !cfg.lake.root.contains("://") {
        cfg.lake.root = format!("{}/demo", cfg.lake.root.trim_end_matches('/'));
        let _ = std::fs::remove_dir_all(&cfg.lake.root);
    }
    let report = chainlake::demo::demo(&mut cfg, &traffic, cancel).await?;
    if let Some(path) = ledger {
        report.ledger.write(&path)?;
    }
    println!("{}", chainlake::demo::render_gold(&cfg).await?);
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
    println!(
        "lake: {}  —  query it with: CHAINLAKE__LAKE__ROOT={} chainlake query \"SELECT * FROM gold.gas_daily\"",
        cfg.lake.root, cfg.lake.root
    );
    if report.matches() {
        println!("OK: Gold equals the traffic ledger exactly");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("MISMATCH: Gold differs from the traffic ledger");
        Ok(ExitCode::from(3))
    }
}

/// `chainlake ingest backfill`: exits 1 unless the whole range is done.
async fn backfill(
    mut cfg: Config,
    range: std::ops::RangeInclusive<u64>,
    chunk_size: Option<u64>,
    restart: bool,
    bar: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<ExitCode> {
    if let Some(c) = chunk_size {
        cfg.backfill.chunk_size = c;
    }
    let (from, to) = (*range.start(), *range.end());
    let report = pipeline::backfill_shared(&cfg, from, to, restart, bar, cancel).await?;
    println!(
        "backfill {from}..={to}: this process published {} blocks, {} txs, {} logs in {} chunks; \
         complete: {}",
        report.stats.blocks, report.stats.txs, report.stats.logs, report.chunks, report.complete
    );
    Ok(if report.complete { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `chainlake verify`: prints a summary and the problems; exits 1 when there are any.
async fn verify(cfg: &Config, from: u64, to: u64) -> anyhow::Result<ExitCode> {
    let r = chainlake::verify_lake::verify_lake(cfg, from, to).await?;
    println!(
        "heights {from}..={to}: {} blocks, {} header hashes ok, {} complete, {} flagged verified, {} heights missing",
        r.blocks, r.header_ok, r.complete, r.flagged_verified, r.missing_heights
    );
    for p in &r.problems {
        println!("  {p}");
    }
    Ok(if r.ok() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `chainlake ingest follow`: from `--from`, else where the last run stopped, else the head.
async fn follow(cfg: &Config, from: Option<u64>, cancel: &CancellationToken) -> anyhow::Result<ExitCode> {
    let crawler = pipeline::connect_until(cfg, cancel).await?;
    let from = match (from, crawler.resume_height().await?) {
        (Some(f), _) => f,
        (None, Some(resume)) => resume,
        (None, None) => crawler.rpc().head().await?,
    };
    let (_stop_tx, stop_rx) = tokio::sync::watch::channel(None);
    let stats = crawler.follow(from, stop_rx, cfg.rpc.poll_interval, cfg.rpc.concurrency, cancel).await?;
    println!("{stats:?}");
    Ok(ExitCode::SUCCESS)
}

/// `chainlake medallion run | schedule`.
async fn medallion(
    cfg: &Config,
    cmd: MedallionCommand,
    cancel: &CancellationToken,
) -> anyhow::Result<ExitCode> {
    let (layer, refresh, every) = match cmd {
        MedallionCommand::Run { layer, full_refresh } => {
            (layer, if full_refresh { Refresh::Full } else { Refresh::Incremental }, None)
        }
        MedallionCommand::Schedule { every, layer } => (layer, Refresh::Incremental, Some(every)),
    };
    let Some(every) = every else {
        for r in pipeline::medallion_run(cfg, layer, refresh).await? {
            println!(
                "{}: {} ({} partitions), {} rows read, {} rows",
                r.table,
                r.scope,
                r.partitions.unwrap_or(0),
                r.rows_read,
                r.rows
            );
        }
        return Ok(ExitCode::SUCCESS);
    };
    let ran = pipeline::medallion_schedule(cfg, layer, every, cancel).await?;
    println!("ran {ran} ticks");
    Ok(ExitCode::SUCCESS)
}

/// `chainlake lake …`: maintenance, or the read-only check.
async fn lake(cfg: &Config, cmd: LakeCommand) -> anyhow::Result<ExitCode> {
    let Some(op) = cmd.maintenance() else { return lake_check(cfg).await };
    for r in pipeline::maintain(cfg, op).await? {
        println!("{} (version {:?}): {}", r.table, r.version, r.detail);
    }
    Ok(ExitCode::SUCCESS)
}

/// `chainlake bench …`: prints the benchmark's table.
async fn bench(mut cfg: Config, cmd: BenchCommand) -> anyhow::Result<ExitCode> {
    let table = match cmd {
        BenchCommand::Ingest { blocks, txs_per_block, concurrency } => {
            if let Some(c) = concurrency {
                cfg.rpc.concurrency = c;
            }
            chainlake::bench::ingest::run(&mut cfg, blocks, txs_per_block).await?.table()
        }
        BenchCommand::Medallion { txs, txs_per_block, days } => {
            let shape = chainlake::bench::medallion::Shape { txs, txs_per_block, days };
            chainlake::bench::medallion::run(&cfg, shape).await?.table()
        }
        BenchCommand::Sink { rows, s3_root, no_broker } => {
            chainlake::bench::sink::run(&mut cfg, rows, s3_root.as_deref(), !no_broker).await?.table()
        }
    };
    println!("{table}");
    Ok(ExitCode::SUCCESS)
}
