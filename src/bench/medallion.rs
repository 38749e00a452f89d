//! `chainlake bench medallion`: the Silver and Gold jobs over a generated Bronze of `txs`
//! transactions (half of them token calls with an ERC-20 `Transfer` log each) spread over
//! `days` days, written by the sink's own path (no node, no broker: this measures the
//! medallion). Printed in one run: the full refresh; an incremental run after adding 1 % more
//! blocks at the tip, at 1× and again at 4× the history (the same number of new blocks both
//! times: the time must stay flat); a run with nothing new; the peak RSS of the medallion
//! phases; and the same Gold SQL in DuckDB over the same Silver Parquet files, with the ratio.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chainlake_medallion::bronze::bench::sink_path;
use chainlake_medallion::jobs::{load_jobs, Job, RunLimits};
use chainlake_medallion::lake::{Lake, Layer};
use chainlake_wire::{fixtures, BlockRecord, LogRecord, TopicKind, TxClass, TxRecord};

use super::own_cpu;
use crate::config::Config;
use crate::error::{PipelineError, Result};

/// The chain's shape.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub txs: u64,
    pub txs_per_block: u64,
    pub days: u64,
}

impl Shape {
    fn blocks(&self) -> u64 {
        (self.txs / self.txs_per_block.max(1)).max(1)
    }
    /// Seconds between blocks so that the 1× history spans `days`.
    fn spacing(&self) -> u64 {
        (self.days.max(1) * 86_400 / self.blocks()).max(1)
    }
}

const T0: u64 = 1_700_006_400; // 2023-11-15T00:00:00Z
const TRANSFER: &str = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";

fn block(shape: Shape, n: u64) -> BlockRecord {
    BlockRecord {
        tx_count: shape.txs_per_block,
        gas_used: 21_000 * shape.txs_per_block,
        base_fee_per_gas: Some((7_000_000_000 + n % 1_000).to_string()),
        miner: fixtures::address(n % 17),
        ..fixtures::block("bench", n, T0 + n * shape.spacing())
    }
}

fn tx(b: &BlockRecord, i: u64) -> TxRecord {
    let t = if i.is_multiple_of(2) {
        fixtures::tx(b, i)
    } else {
        fixtures::call(b, i, Some(&fixtures::address(0x7000 + i % 50)), "0xa9059cbb0000")
    };
    TxRecord { effective_gas_price: Some((7_000_000_000 + (i % 100) * 10_000_000).to_string()), ..t }
}

fn log(t: &TxRecord) -> LogRecord {
    let word = |n: u64| format!("0x{n:064x}");
    LogRecord {
        address: t.to.clone().unwrap_or_default(),
        topic0: Some(TRANSFER.into()),
        topic1: Some(word(t.tx_index)),
        topic2: Some(word(t.block_number)),
        topics_count: 3,
        data: word(1_000_000 + t.tx_index),
        ..fixtures::log(t, t.tx_index)
    }
}

/// Writes blocks `from..to` with their transactions and logs into Bronze.
async fn write_bronze(lake: &Lake, shape: Shape, from: u64, to: u64) -> Result<u64> {
    let per = shape.txs_per_block.max(1);
    let blocks = to - from;
    let flush = 50_000;
    let gen_blocks =
        |first: u64, n: usize| (first..first + n as u64).map(|k| json(&block(shape, from + k))).collect();
    sink_path(lake, "bench", TopicKind::Blocks, "bench.blocks", blocks, flush, gen_blocks, own_cpu).await?;
    let tx_at = |k: u64| tx(&block(shape, from + k / per), k % per);
    for class in [TxClass::NativeTransfer, TxClass::ContractCall] {
        let half = blocks * per / 2;
        let parity = u64::from(class == TxClass::ContractCall);
        let gen =
            |first: u64, n: usize| (first..first + n as u64).map(|k| json(&tx_at(2 * k + parity))).collect();
        let topic = format!("bench.txs.{}", class.as_str());
        sink_path(lake, "bench", TopicKind::Txs(class), &topic, half, flush, gen, own_cpu).await?;
    }
    let half = blocks * per / 2;
    let gen_logs =
        |first: u64, n: usize| (first..first + n as u64).map(|k| json(&log(&tx_at(2 * k + 1)))).collect();
    sink_path(lake, "bench", TopicKind::Logs, "bench.logs", half, flush, gen_logs, own_cpu).await?;
    Ok(blocks * per)
}

/// A wire record as the producer sends it (these records always serialise).
fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// One timed phase.
#[derive(Debug, Clone)]
pub struct Phase {
    pub name: String,
    pub wall: Duration,
    pub detail: String,
    /// Seconds per table, as `medallion run` printed them.
    pub tables: Vec<(String, f64)>,
}

/// DuckDB's run of the Gold SQL.
#[derive(Debug, Clone)]
pub struct DuckdbGold {
    /// Inside the process: the SQL and its Parquet output.
    pub sql: Duration,
    /// The whole process (python3 start, import, views, SQL, Parquet), as chainlake's figure is.
    pub process: Duration,
    /// Seconds per Gold table.
    pub tables: Vec<(String, f64)>,
}

/// What `chainlake bench medallion` measured.
#[derive(Debug, Clone)]
pub struct MedallionBench {
    pub shape: Shape,
    pub phases: Vec<Phase>,
    pub peak_rss_kib: u64,
    pub duckdb: Option<DuckdbGold>,
    /// chainlake's Gold full refresh (its process) and its seconds per table.
    pub gold_full: Duration,
    pub gold_tables: Vec<(String, f64)>,
}

impl MedallionBench {
    pub fn table(&self) -> String {
        let mut out = format!(
            "Bronze: {} transactions in {} blocks over {} days (1× history)\n\n| phase | wall | detail |\n|---|---|---|\n",
            self.shape.txs,
            self.shape.blocks(),
            self.shape.days
        );
        for p in &self.phases {
            out.push_str(&format!("| {} | {:.2} s | {} |\n", p.name, p.wall.as_secs_f64(), p.detail));
        }
        match &self.duckdb {
            Some(DuckdbGold { sql: inside, process, tables }) => out.push_str(&(format!(
                "\nGold SQL over the same Silver: chainlake {:.2} s (its process), duckdb {:.2} s as a process \
                 (python3 start, import, views, SQL, Parquet), ratio {:.2}; duckdb's SQL alone {:.2} s, ratio {:.2}\n",
                self.gold_full.as_secs_f64(),
                process.as_secs_f64(),
                self.gold_full.as_secs_f64() / process.as_secs_f64().max(1e-9),
                inside.as_secs_f64(),
                self.gold_full.as_secs_f64() / inside.as_secs_f64().max(1e-9)
            ) + &self.per_table(tables))),
            None => out.push_str("\nduckdb: not measured (no python3 with the duckdb module; infra/local/install.sh installs it)\n"),
        }
        out.push_str(&format!(
            "peak RSS of a medallion run (its own process): {:.0} MiB\n",
            self.peak_rss_kib as f64 / 1024.0
        ));
        out
    }
}

impl MedallionBench {
    /// The Gold full refresh table by table: chainlake's job time vs DuckDB's statement time.
    fn per_table(&self, duckdb: &[(String, f64)]) -> String {
        let mut out = String::from("\n| Gold table | chainlake s | duckdb s | ratio |\n|---|---|---|---|\n");
        for (table, secs) in &self.gold_tables {
            let name = table.strip_prefix("gold.").unwrap_or(table);
            match duckdb.iter().find(|(n, _)| n == name) {
                Some((_, d)) => {
                    out.push_str(&format!("| {name} | {secs:.3} | {d:.3} | {:.2} |\n", secs / d.max(1e-9)))
                }
                None => out.push_str(&format!("| {name} | {secs:.3} | not run | |\n")),
            }
        }
        out
    }
}

/// Runs `chainlake medallion run ARGS` on the bench lake as its own process (so its peak RSS
/// is the run's alone), timed; returns the phase and the child's peak RSS (KiB).
fn timed(root: &Path, limits: &RunLimits, args: &[&str], name: &str) -> Result<(Phase, u64)> {
    let exe = std::env::current_exe().map_err(|e| PipelineError::Bench(format!("own executable: {e}")))?;
    let started = Instant::now();
    let mut child = std::process::Command::new(exe)
        .args(["medallion", "run"])
        .args(args)
        .env("CHAINLAKE__LAKE__ROOT", root)
        .env("CHAINLAKE__CHAIN__NAME", "bench")
        .env("CHAINLAKE__MEDALLION__MEMORY_LIMIT", limits.memory.to_string())
        .env("CHAINLAKE__MEDALLION__DAYS_PER_COMMIT", limits.days_per_commit.to_string())
        .envs(limits.rows_per_commit.map(|r| ("CHAINLAKE__MEDALLION__ROWS_PER_COMMIT", r.to_string())))
        .env("CHAINLAKE__METRICS__LISTEN", "")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .map_err(|e| PipelineError::Bench(format!("start medallion run: {e}")))?;
    // VmHWM only grows: the last reading before the exit is the run's peak.
    let mut peak = 0;
    while child.try_wait().ok().flatten().is_none() {
        peak = peak.max(super::peak_rss_of(child.id()));
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().map_err(|e| PipelineError::Bench(format!("medallion run: {e}")))?;
    let wall = started.elapsed();
    if !out.status.success() {
        return Err(PipelineError::Bench(format!("{name}: medallion run exited {}", out.status)));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (mut committed, mut parts, mut read, mut rows) = (0, 0u64, 0u64, 0u64);
    let mut tables = Vec::new();
    for line in stdout.lines() {
        // `silver.blocks: days (3 partitions), 1200 rows read, 120 rows in 0.412 s`
        let num = |before: &str| {
            line.split(before)
                .next()
                .and_then(|s| s.rsplit(' ').next())
                .and_then(|n| n.trim_start_matches('(').parse::<u64>().ok())
        };
        if !line.contains(": unchanged") {
            committed += 1;
        }
        parts += num(" partitions)").unwrap_or(0);
        read += num(" rows read").unwrap_or(0);
        rows += num(" rows in").unwrap_or(0);
        let secs = line.strip_suffix(" s").and_then(|l| l.rsplit(' ').next()).and_then(|n| n.parse().ok());
        if let (Some((table, _)), Some(secs)) = (line.split_once(':'), secs) {
            tables.push((table.to_owned(), secs));
        }
    }
    let detail = format!(
        "{committed} tables committed, {parts} partitions replaced, {read} rows read, {rows} written, peak RSS {} MiB",
        peak / 1024
    );
    tracing::info!(phase = name, secs = wall.as_secs_f64(), %detail, "bench phase");
    Ok((Phase { name: name.to_owned(), wall, detail, tables }, peak))
}

/// Runs the benchmark on a fresh local lake under `cfg.lake.root`.
pub async fn run(cfg: &Config, shape: Shape) -> Result<MedallionBench> {
    let root = PathBuf::from(&cfg.lake.root)
        .join(format!("bench-medallion-{}", chainlake_wire::clock::unix_seconds()));
    let lake = Lake::new(&chainlake_medallion::config::LakeConfig {
        root: root.display().to_string(),
        ..cfg.lake.clone()
    })?;
    let jobs = load_jobs(cfg.medallion.sql_dir.as_deref())?;
    let limits = chainlake_medallion::jobs::RunLimits::from(&cfg.medallion);
    let b = shape.blocks();
    let step = (b / 100).max(1);
    let mut phases = Vec::new();
    let mut peak = 0;
    let mut phase = |(p, rss): (Phase, u64), phases: &mut Vec<Phase>| {
        peak = peak.max(rss);
        let wall = p.wall;
        phases.push(p);
        wall
    };

    let started = Instant::now();
    let txs = write_bronze(&lake, shape, 0, b).await?;
    phases.push(Phase {
        name: "write Bronze (1×)".into(),
        wall: started.elapsed(),
        detail: format!("{txs} txs"),
        tables: Vec::new(),
    });
    phase(
        timed(&root, &limits, &["--layer", "silver", "--full-refresh"], "full refresh: Silver")?,
        &mut phases,
    );
    let gold = timed(&root, &limits, &["--layer", "gold", "--full-refresh"], "full refresh: Gold")?;
    let gold_tables = gold.0.tables.clone();
    let gold_full = phase(gold, &mut phases);
    let duckdb = duckdb_gold(&lake, &jobs, &root).await?;

    write_bronze(&lake, shape, b, b + step).await?;
    phase(timed(&root, &limits, &[], "incremental, +1 % blocks at 1× history")?, &mut phases);
    phase(timed(&root, &limits, &[], "incremental, nothing new")?, &mut phases);

    let started = Instant::now();
    write_bronze(&lake, shape, b + step, 4 * b).await?;
    phases.push(Phase {
        name: "write Bronze (to 4×)".into(),
        wall: started.elapsed(),
        detail: String::new(),
        tables: Vec::new(),
    });
    phase(timed(&root, &limits, &[], "incremental catch-up to 4× history")?, &mut phases);
    write_bronze(&lake, shape, 4 * b, 4 * b + step).await?;
    phase(timed(&root, &limits, &[], "incremental, +1 % blocks at 4× history")?, &mut phases);
    Ok(MedallionBench { shape, phases, peak_rss_kib: peak, duckdb, gold_full, gold_tables })
}

/// Runs every Gold SQL file in DuckDB (python3 + duckdb) over the Silver tables' current
/// Parquet files, each result written as Parquet like chainlake writes Delta; the time of
/// the whole Gold layer, inside DuckDB and as the whole process (measured like chainlake's
/// `medallion run` process). `None` when python3 has no duckdb module.
async fn duckdb_gold(lake: &Lake, jobs: &[Job], root: &Path) -> Result<Option<DuckdbGold>> {
    let python = std::env::var("CHAINLAKE_BENCH_PYTHON").unwrap_or_else(|_| default_python());
    let has = std::process::Command::new(&python).args(["-c", "import duckdb"]).status();
    if !has.is_ok_and(|s| s.success()) {
        return Ok(None);
    }
    let mut silver = serde_json::Map::new();
    for job in jobs.iter().filter(|j| j.layer == Layer::Silver) {
        let table = lake.open(&lake.table_url("bench", Layer::Silver, &job.name)?).await?;
        let mut files: Vec<String> = table
            .get_file_uris()
            .map_err(|e| PipelineError::Bench(format!("files of silver.{}: {e}", job.name)))?
            .map(|u| u.strip_prefix("file://").unwrap_or(&u).to_owned())
            .collect();
        if files.is_empty() {
            // A table the generated chain has no rows of (dex_swaps): an empty file of its
            // schema, so the Gold SQL that reads it runs (and yields nothing) as in chainlake.
            files.push(empty_parquet(&table, &root.join("duckdb-empty"), &job.name).await?);
        }
        silver.insert(job.name.clone(), files.into());
    }
    // Gold over Silver only: a Gold job of Bronze (api_key_usage_daily, of RPC usage the
    // generated chain has none of) has no files to hand DuckDB.
    let gold: Vec<serde_json::Value> = jobs
        .iter()
        .filter(|j| j.layer == Layer::Gold && j.inputs.iter().all(|t| t.layer != Layer::Bronze))
        .map(|j| serde_json::json!({"name": j.name, "partition": j.partition, "sql": j.sql}))
        .collect();
    let spec = root.join("duckdb-spec.json");
    let out = root.join("duckdb-gold");
    let body = serde_json::json!({"silver": silver, "gold": gold, "out": out});
    std::fs::write(&spec, body.to_string())
        .map_err(|e| PipelineError::Bench(format!("write {}: {e}", spec.display())))?;
    let started = Instant::now();
    let res = std::process::Command::new(&python)
        .args(["-c", DUCKDB_GOLD, &spec.display().to_string()])
        .output()
        .map_err(|e| PipelineError::Bench(format!("run {python}: {e}")))?;
    let process = started.elapsed();
    let stdout = String::from_utf8_lossy(&res.stdout);
    if !res.status.success() {
        return Err(PipelineError::Bench(format!("duckdb: {}", String::from_utf8_lossy(&res.stderr))));
    }
    let secs: f64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("gold_seconds "))
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| PipelineError::Bench(format!("duckdb printed no time: {stdout}")))?;
    let tables = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("job_seconds "))
        .filter_map(|l| l.split_once(' '))
        .filter_map(|(name, secs)| Some((name.to_owned(), secs.trim().parse().ok()?)))
        .collect();
    Ok(Some(DuckdbGold { sql: Duration::from_secs_f64(secs), process, tables }))
}

/// Writes an empty Parquet file of `table`'s schema as `dir/name.parquet`; returns its path.
async fn empty_parquet(
    table: &chainlake_medallion::deltalake::DeltaTable,
    dir: &Path,
    name: &str,
) -> Result<String> {
    use chainlake_medallion::deltalake::parquet::arrow::ArrowWriter;
    let fail =
        |what: &str, e: &dyn std::fmt::Display| PipelineError::Bench(format!("{what} of silver.{name}: {e}"));
    let provider = table.table_provider().await.map_err(|e| fail("table provider", &e))?;
    std::fs::create_dir_all(dir).map_err(|e| fail("create dir", &e))?;
    let path = dir.join(format!("{name}.parquet"));
    let file = std::fs::File::create(&path).map_err(|e| fail("create file", &e))?;
    let writer =
        ArrowWriter::try_new(file, provider.schema(), None).map_err(|e| fail("parquet writer", &e))?;
    writer.close().map_err(|e| fail("parquet close", &e))?;
    Ok(path.display().to_string())
}

/// infra/bench/duckdb_gold.py, compiled in so the benchmark runs outside the checkout.
const DUCKDB_GOLD: &str = include_str!("../../infra/bench/duckdb_gold.py");

fn default_python() -> String {
    let venv =
        std::env::var("HOME").map(|h| format!("{h}/.cache/chainlake/venv/bin/python3")).unwrap_or_default();
    if Path::new(&venv).exists() {
        venv
    } else {
        "python3".into()
    }
}
