//! `chainlake bench sink`: rows/s and MB/s per core into the local lake and the S3 server, p50
//! and p99 commit latency, peak RSS — twice: the sink's own path (records already fetched →
//! Arrow → Delta) and end to end from the broker, so it is clear which one is the bound.

use std::time::{Duration, Instant};

use chainlake_ingest::publish::{ensure_topics, Publisher};
use chainlake_medallion::bronze::bench::sink_path;
use chainlake_medallion::bronze::{BronzeSink, Until};
use chainlake_medallion::config::LakeConfig;
use chainlake_medallion::lake::Lake;
use chainlake_wire::{fixtures, BlockBundle, BlockRecord, TopicKind, Topics, TxClass, TxRecord};
use tokio_util::sync::CancellationToken;

use super::{own_cpu, peak_rss_kib, percentile, reset_peak_rss};
use crate::config::Config;
use crate::error::Result;

/// One measured run.
#[derive(Debug, Clone)]
pub struct SinkRun {
    pub path: &'static str,
    pub lake: String,
    pub rows: u64,
    pub bytes: u64,
    pub wall: Duration,
    pub cpu: Duration,
    pub p50: Duration,
    pub p99: Duration,
    pub commits: u64,
}

/// What `chainlake bench sink` measured.
#[derive(Debug, Clone)]
pub struct SinkBench {
    pub runs: Vec<SinkRun>,
    /// Peak resident set after the sink-only runs (the benchmark holds one flush of records).
    pub sink_only_peak_rss_kib: u64,
    /// Peak resident set during the end-to-end sink runs (reset after publishing; heap kept
    /// from the earlier phases still counts), 0 when not run.
    pub e2e_peak_rss_kib: u64,
}

impl SinkBench {
    /// The runs as one markdown table, then the peak RSS figures.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| path | lake | rows | sink rows/s | rows/s per core | MB/s | commits | commit p50 | commit p99 |\n|---|---|---|---|---|---|---|---|---|\n",
        );
        for r in &self.runs {
            let secs = r.wall.as_secs_f64().max(1e-9);
            let cpu = r.cpu.as_secs_f64().max(1e-9);
            out.push_str(&format!(
                "| {} | {} | {} | {:.0} | {:.0} | {:.1} | {} | {} | {} |\n",
                r.path,
                r.lake,
                r.rows,
                r.rows as f64 / secs,
                r.rows as f64 / cpu,
                r.bytes as f64 / 1e6 / secs,
                r.commits,
                ms(r.p50),
                ms(r.p99),
            ));
        }
        let mib = |kib: u64| kib as f64 / 1024.0;
        out.push_str(&format!(
            "\npeak RSS: {:.0} MiB in the sink-only runs",
            mib(self.sink_only_peak_rss_kib)
        ));
        if self.e2e_peak_rss_kib > 0 {
            out.push_str(&format!(", {:.0} MiB in the end-to-end sink runs", mib(self.e2e_peak_rss_kib)));
        }
        out.push('\n');
        out
    }
}

fn ms(d: Duration) -> String {
    if d.is_zero() {
        "—".into()
    } else {
        format!("{:.0} ms", d.as_secs_f64() * 1e3)
    }
}

const USDT: &str = "0xdac17f958d2ee523a2206206994597c13d831ec7";

/// Block `n` of the benchmark chain: a mainnet-like header of 150 transactions.
fn bench_block(n: u64) -> BlockRecord {
    BlockRecord {
        miner: "0x95222290dd7278aa3ddd389cc1e1d165cc4bafe5".into(),
        gas_used: 15_000_000,
        base_fee_per_gas: Some("23351234567".into()),
        tx_count: 150,
        size: Some(80_000),
        extra_data: Some("0x".into()),
        withdrawals_count: Some(16),
        ..fixtures::block("bench", 19_000_000 + n, 1_705_000_000 + n * 12)
    }
}

/// A mainnet-like ERC20 `transfer` call with its receipt, as the crawler publishes it.
fn tx(i: u64) -> TxRecord {
    let input = format!("0xa9059cbb000000000000000000000000{:040x}{:064x}", i * 31, i * 1_000_000);
    TxRecord {
        from: format!("0x{:040x}", i * 7919),
        value: "0".into(),
        nonce: i % 5_000,
        gas: 63_209,
        gas_price: Some("23451234567".into()),
        max_fee_per_gas: Some("40000000000".into()),
        max_priority_fee_per_gas: Some("100000000".into()),
        gas_used: Some(41_309),
        cumulative_gas_used: Some(41_309 * (i % 150 + 1)),
        effective_gas_price: Some("23451234567".into()),
        logs_count: Some(1),
        ..fixtures::call(&bench_block(i / 150), i % 150, Some(USDT), &input)
    }
}

fn lakes(cfg: &Config, s3_root: Option<&str>, run: &str) -> Vec<(String, LakeConfig)> {
    let mut local = cfg.lake.clone();
    local.root = format!("{}/bench-{run}", cfg.lake.root.trim_end_matches('/'));
    let mut out = vec![("local".to_owned(), local)];
    if let Some(root) = s3_root {
        let mut s3 = cfg.lake.clone();
        s3.root = format!("{}/bench-{run}", root.trim_end_matches('/'));
        out.push(("s3".to_owned(), s3));
    }
    out
}

/// Runs both paths on the local lake (and on `s3_root` when given) with `rows` tx records.
pub async fn run(cfg: &mut Config, rows: u64, s3_root: Option<&str>, broker: bool) -> Result<SinkBench> {
    let run_id = chainlake_wire::clock::unix_seconds().to_string();
    let generate = |first: u64, n: usize| -> Vec<Vec<u8>> {
        // Serialising a derived struct cannot fail; an empty payload would be rejected, not lost.
        (first..first + n as u64).map(|i| serde_json::to_vec(&tx(i)).unwrap_or_default()).collect()
    };
    let mut runs = Vec::new();
    let kind = TopicKind::Txs(TxClass::ContractCall);
    for (name, lake_cfg) in lakes(cfg, s3_root, &run_id) {
        let lake = Lake::new(&lake_cfg)?;
        let topic = "bench.txs.contract_call";
        let r = sink_path(&lake, "bench", kind, topic, rows, cfg.sink.flush_rows, generate, own_cpu).await?;
        runs.push(SinkRun {
            path: "sink only",
            lake: name,
            rows: r.rows,
            bytes: r.bytes,
            wall: r.wall,
            cpu: r.cpu,
            p50: percentile(&r.commit_latencies, 0.5),
            p99: percentile(&r.commit_latencies, 0.99),
            commits: r.commits,
        });
        tracing::info!(run = ?runs.last(), "measured");
    }
    let mut bench = SinkBench { runs, sink_only_peak_rss_kib: peak_rss_kib(), e2e_peak_rss_kib: 0 };
    if !broker {
        return Ok(bench);
    }

    // End to end: the same records through the broker (150 txs per block bundle).
    cfg.kafka.topic_prefix = format!("bench-sink-{run_id}.");
    cfg.kafka.partitions = 6;
    let chain = "bench";
    ensure_topics(&cfg.kafka, &Topics::new(&cfg.kafka.topic_prefix, chain)).await?;
    let publisher = Publisher::new(&cfg.kafka, chain)?;
    // The same records as the sink-only runs, hence the same payload bytes.
    let bytes = bench.runs.first().map_or(0, |r| r.bytes);
    for block in 0..rows.div_ceil(150) {
        let txs: Vec<TxRecord> = (block * 150..((block + 1) * 150).min(rows)).map(tx).collect();
        let header = BlockRecord { tx_count: txs.len() as u64, ..bench_block(block) };
        publisher.publish(&BlockBundle { block: header, txs, logs: Vec::new() }).await?;
    }
    let reset = reset_peak_rss();
    for (name, lake_cfg) in lakes(cfg, s3_root, &format!("{run_id}-e2e")) {
        let mut sink_cfg = cfg.sink.clone();
        sink_cfg.sink_id = format!("bench-{run_id}-{name}");
        let sink = BronzeSink::new(Lake::new(&lake_cfg)?, cfg.kafka.clone(), sink_cfg, chain);
        let (cpu0, started) = (own_cpu(), Instant::now());
        let stats = sink.run(Until::CaughtUp, &CancellationToken::new()).await?;
        let wall = started.elapsed();
        bench.runs.push(SinkRun {
            path: "end to end",
            lake: name,
            rows: stats.rows,
            bytes,
            wall,
            cpu: own_cpu().saturating_sub(cpu0),
            p50: stats.commit_latency.quantile(0.5),
            p99: stats.commit_latency.quantile(0.99),
            commits: stats.commits,
        });
        tracing::info!(run = ?bench.runs.last(), "measured");
    }
    if reset {
        bench.e2e_peak_rss_kib = peak_rss_kib();
    }
    Ok(bench)
}
