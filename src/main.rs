//! The `chainlake` binary: parses the command line and config, sets up tracing and metrics,
//! runs one command, maps the outcome to an exit code. All logic lives in the libraries.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chainlake::config::Config;
use chainlake::pipeline;
use chainlake_ingest::devnet::{self, Artifacts, TrafficConfig};
use chainlake_ingest::rpc::readiness::Dependency;
use chainlake_medallion::bronze::Until;
use chainlake_medallion::jobs::Refresh;
use clap::Parser;
use cli::*;
use tokio_util::sync::CancellationToken;

mod cli;

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
    let cancel = CancellationToken::new();
    shutdown_on_signals(&cancel)?;
    if !cfg.metrics.listen.is_empty() {
        chainlake::health::serve(&cfg, dependencies(&command, &cfg), &cancel).await?;
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
        Command::Repair { from, to } => repair(&cfg, from, to, &cancel).await,
        Command::Tables { name } => tables(&cfg, name.as_deref()),
        Command::Abi(cmd) => abi(&cfg, cmd),
        Command::Dremio(DremioCommand::Bootstrap) => {
            for (what, outcome) in pipeline::dremio_bootstrap(&cfg).await? {
                println!("{what}: {outcome:?}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys(KeysCommand::Status) => {
            print!("{}", chainlake::keys::render(&chainlake::keys::status(&cfg).await?));
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys(KeysCommand::Monitor { until_caught_up }) => {
            keys_monitor(&cfg, until_caught_up, &cancel).await
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

/// SIGINT (Ctrl-C) and SIGTERM (`docker stop`, Swarm updates) cancel the one token every
/// library takes. The handlers are registered here, before any work starts, not when a task
/// is first polled.
fn shutdown_on_signals(cancel: &CancellationToken) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut terminate = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let cancel = cancel.clone();
    tokio::spawn(async move {
        let which = tokio::select! {
            _ = interrupt.recv() => "interrupt",
            _ = terminate.recv() => "terminate",
        };
        tracing::info!("{which}: shutting down");
        cancel.cancel();
    });
    Ok(())
}

/// What `/readyz` of a long-running command waits for (one-shot commands: nothing).
fn dependencies(command: &Command, cfg: &Config) -> Vec<Dependency> {
    use Dependency::{Kafka, Lake, Node, Redis};
    match command {
        Command::Ingest(_) | Command::Repair { .. } => vec![Node, Kafka, Redis],
        Command::Sink { .. } => vec![Kafka, Lake],
        Command::Medallion(MedallionCommand::Schedule { .. }) => vec![Lake, Redis],
        Command::Keys(KeysCommand::Monitor { .. }) if !cfg.scylla.enabled() => vec![Kafka, Redis],
        Command::Keys(KeysCommand::Monitor { .. }) => vec![Kafka],
        _ => Vec::new(),
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
    let run_id = chainlake_wire::clock::unix_seconds();
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

/// `chainlake keys monitor`: prints what it counted when it stops.
async fn keys_monitor(cfg: &Config, caught_up: bool, cancel: &CancellationToken) -> anyhow::Result<ExitCode> {
    use chainlake_ingest::keys::monitor::MonitorUntil;
    let until = if caught_up { MonitorUntil::CaughtUp } else { MonitorUntil::Cancelled };
    let r = chainlake::keys::monitor(cfg, until, cancel).await?;
    println!("keys monitor: {} usage records, {} malformed", r.records, r.malformed);
    for (key, n) in &r.per_key {
        println!("  {key}: {n} requests, {} throttled (429)", r.throttled.get(key).copied().unwrap_or(0));
    }
    Ok(ExitCode::SUCCESS)
}

/// Every RPC request of this process goes to `{chain}.ops.rpc_usage` (the usage ledger's feed).
fn usage_feed(cfg: &Config) -> anyhow::Result<()> {
    let replica = chainlake::keys::replica_name();
    let feed = chainlake_ingest::publish::usage::KafkaUsage::start(&cfg.kafka, &cfg.chain.name, &replica)?;
    chainlake_ingest::rpc::usage::install(feed);
    Ok(())
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
    usage_feed(&cfg)?;
    let report = pipeline::backfill_shared(&cfg, from, to, restart, bar, cancel).await;
    chainlake_ingest::rpc::usage::finish().await;
    let report = report?;
    println!(
        "backfill {from}..={to}: this process published {} blocks, {} txs, {} logs in {} chunks; \
         {} heights left unverified, then re-driven: {} filled; holes left in the range: {}; complete: {}",
        report.stats.blocks,
        report.stats.txs,
        report.stats.logs,
        report.chunks,
        report.stats.unverified,
        report.redriven.filled,
        report.holes_left,
        report.complete
    );
    Ok(match (report.complete, report.holes_left) {
        (false, _) => ExitCode::from(1),
        (true, 0) => ExitCode::SUCCESS,
        (true, _) => ExitCode::from(HOLES_LEFT),
    })
}

/// `chainlake verify`: prints a summary, the holes and the problems; exits 1 when there are any.
async fn verify(cfg: &Config, from: u64, to: u64) -> anyhow::Result<ExitCode> {
    let r = chainlake::verify_lake::verify_lake(cfg, from, to).await?;
    println!(
        "heights {from}..={to}: {} blocks, {} header hashes ok, {} complete, {} flagged verified, {} holes",
        r.blocks,
        r.header_ok,
        r.complete,
        r.flagged_verified,
        r.hole_heights().count()
    );
    for h in &r.holes {
        match h.from == h.to {
            true => println!("  hole {}: {}", h.from, h.reason),
            false => println!("  holes {}..={}: {}", h.from, h.to, h.reason),
        }
    }
    for p in &r.problems {
        println!("  {p}");
    }
    Ok(if r.ok() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `chainlake ingest follow`: from `--from`, else where the last run stopped, else the head.
async fn follow(cfg: &Config, from: Option<u64>, cancel: &CancellationToken) -> anyhow::Result<ExitCode> {
    usage_feed(cfg)?;
    let stats = pipeline::follow(cfg, from, cancel).await;
    chainlake_ingest::rpc::usage::finish().await;
    println!("{:?}", stats?);
    Ok(ExitCode::SUCCESS)
}

/// `chainlake repair`: exits 0 when the range has no hole left, 4 when some are left.
async fn repair(cfg: &Config, from: u64, to: u64, cancel: &CancellationToken) -> anyhow::Result<ExitCode> {
    usage_feed(cfg)?;
    let r = chainlake::repair::repair(cfg, from, to, cancel).await;
    chainlake_ingest::rpc::usage::finish().await;
    let r = r?;
    println!(
        "repair {from}..={to}: {} heights to fill, {} fetched again, {} filled, {} holes left {:?}",
        r.targets,
        r.redriven.tried,
        r.redriven.filled,
        r.holes_left.len(),
        r.holes_left
    );
    Ok(if r.holes_left.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(HOLES_LEFT) })
}

/// `chainlake tables [NAME]`: each table's documentation, from its SQL file; exits 1 when no
/// table has that name.
fn tables(cfg: &Config, name: Option<&str>) -> anyhow::Result<ExitCode> {
    let jobs = chainlake_medallion::jobs::load_jobs(cfg.medallion.sql_dir.as_deref())?;
    let chosen: Vec<_> = jobs.iter().filter(|j| name.is_none_or(|n| j.table().to_string() == n)).collect();
    for job in &chosen {
        println!("# {} ({})\n\n{}\n", job.table(), job.path.display(), job.doc());
    }
    Ok(if chosen.is_empty() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// The exit code of a backfill or repair that ended with heights still holes.
const HOLES_LEFT: u8 = 4;

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
        MedallionCommand::Schedule { every, cron, layer } => (layer, Refresh::Incremental, every.or(cron)),
    };
    let Some(every) = every else {
        for r in pipeline::medallion_run(cfg, layer, refresh).await? {
            println!(
                "{}: {} ({} partitions), {} rows read, {} rows in {:.3} s",
                r.table,
                r.scope,
                r.partitions.unwrap_or(0),
                r.rows_read,
                r.rows,
                r.millis as f64 / 1000.0
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

/// `chainlake abi lookup | check`.
fn abi(cfg: &Config, cmd: AbiCommand) -> anyhow::Result<ExitCode> {
    let registry = pipeline::registry(cfg)?;
    match cmd {
        AbiCommand::Lookup { selector_or_topic } => {
            let Some(candidates) = registry.lookup(&selector_or_topic) else {
                eprintln!("{selector_or_topic}: neither a 4-byte selector nor a 32-byte topic (hex)");
                return Ok(ExitCode::from(2));
            };
            for c in &candidates {
                println!("{}\t{}\t{}", c.kind, c.signature, c.origin.label());
            }
            Ok(if candidates.is_empty() { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        AbiCommand::Check => {
            println!("ABIs: {}", registry.abi_names().collect::<Vec<_>>().join(", "));
            for (address, abi) in registry.bindings() {
                println!("bound: {address} -> {abi}");
            }
            println!("fingerprint: {}", registry.fingerprint());
            Ok(ExitCode::SUCCESS)
        }
    }
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
        BenchCommand::Keys { front, keys, blocks_per_key, rate } => {
            chainlake::bench::keys::run(&cfg, &front, &keys, blocks_per_key, rate).await?.table()
        }
        BenchCommand::Decode { fixtures, logs } => {
            let registry = pipeline::registry(&cfg)?;
            chainlake::bench::decode::run(&fixtures, registry, logs).await?.table()
        }
        BenchCommand::Sink { rows, s3_root, no_broker } => {
            chainlake::bench::sink::run(&mut cfg, rows, s3_root.as_deref(), !no_broker).await?.table()
        }
    };
    println!("{table}");
    Ok(ExitCode::SUCCESS)
}
