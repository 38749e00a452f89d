//! `chainlake bench ingest`: mines a bulk chain on a fresh anvil, then backfills it into Kafka through the
//! real crawler and reports throughput, RPC economy, memory, and where the time went (waiting
//! for the node vs. transforming vs. publishing, and the node's CPU against ours). The same
//! chain is backfilled with `chain.verify = strict` and `off` in the same run (alternating,
//! best of two each), and the cost of verifying one block is timed, with every sender recovered
//! and with none, on a block of the bench chain, on the recorded mainnet block 18000000 (94 txs,
//! with receipts) and on mainnet 19900000 (147 txs, header and transactions only: its receipts
//! are not recorded).

use std::time::{Duration, Instant};

use chainlake_ingest::config::VerifyMode;
use chainlake_ingest::devnet::{bulk, Anvil, Artifacts};
use chainlake_ingest::verify::{verify_block, VerifyOptions};
use tokio_util::sync::CancellationToken;

use super::{cpu_of, own_cpu, peak_rss_kib};
use crate::config::Config;
use crate::error::{PipelineError, Result};
use crate::pipeline;

/// The figures of one `bench ingest` run.
#[derive(Debug, Clone)]
pub struct IngestBench {
    pub blocks: u64,
    pub txs: u64,
    pub logs: u64,
    pub concurrency: usize,
    pub generate: Duration,
    pub wall: Duration,
    pub requests: u64,
    pub peak_rss_mib: f64,
    pub waited_for_node: Duration,
    pub transforming: Duration,
    pub publishing: Duration,
    pub our_cpu: Duration,
    pub node_cpu: Duration,
    /// CPU of the Kafka broker (a local `tansu` process, if one is found) during the backfill.
    pub broker_cpu: Option<Duration>,
    /// Wall time of the node-bound ceiling: the same two calls per block through the same
    /// client at the same concurrency, nothing verified, transformed or published.
    pub wall_ceiling: Duration,
    /// Backfill wall time of the same chain with `chain.verify = off`.
    pub wall_unverified: Duration,
    /// µs to verify one block of the bench chain, and the mainnet blocks (if found).
    pub verify: VerifyCost,
    pub verify_mainnet: Option<VerifyCost>,
    pub verify_mainnet_txs: Option<VerifyCost>,
}

/// µs to verify one block with every sender recovered, and with none.
#[derive(Debug, Clone, Copy)]
pub struct VerifyCost {
    pub with_senders: f64,
    pub without_senders: f64,
    pub txs: u64,
}

impl VerifyCost {
    fn text(&self, what: &str) -> String {
        let per_tx = (self.with_senders - self.without_senders) / self.txs.max(1) as f64;
        format!(
            "{:.0} µs with senders, {:.0} µs without ({what}, {} txs; sender recovery {per_tx:.1} µs/tx)",
            self.with_senders, self.without_senders, self.txs
        )
    }
}

impl IngestBench {
    pub fn table(&self) -> String {
        let secs = self.wall.as_secs_f64().max(1e-9);
        let pct = |d: Duration| 100.0 * d.as_secs_f64() / secs;
        let rows = [
            (
                "chain",
                format!(
                    "{} blocks × ~{} txs (anvil, generated in {:.1} s)",
                    self.blocks,
                    self.txs / self.blocks.max(1),
                    self.generate.as_secs_f64()
                ),
            ),
            ("txs / logs", format!("{} / {}", self.txs, self.logs)),
            ("concurrency", self.concurrency.to_string()),
            ("wall time", format!("{secs:.2} s")),
            ("blocks/s", format!("{:.1}", self.blocks as f64 / secs)),
            ("txs/s", format!("{:.0}", self.txs as f64 / secs)),
            ("requests/block", format!("{:.3}", self.requests as f64 / self.blocks.max(1) as f64)),
            ("peak RSS", format!("{:.0} MiB", self.peak_rss_mib)),
            (
                "node answering (Σ over in-flight blocks)",
                format!(
                    "{:.1} s = {:.1} × wall",
                    self.waited_for_node.as_secs_f64(),
                    pct(self.waited_for_node) / 100.0
                ),
            ),
            (
                "transforming (Σ)",
                format!(
                    "{:.1} s = {:.2} × wall",
                    self.transforming.as_secs_f64(),
                    pct(self.transforming) / 100.0
                ),
            ),
            (
                "publishing until acked (Σ)",
                format!(
                    "{:.1} s = {:.1} × wall",
                    self.publishing.as_secs_f64(),
                    pct(self.publishing) / 100.0
                ),
            ),
            ("verify cost / block (bench chain)", self.verify.text("bench chain")),
            (
                "verify cost / block (mainnet 18000000)",
                self.verify_mainnet.map_or("n/a (no testdata/)".into(), |c| c.text("whole block")),
            ),
            (
                "verify cost / block (mainnet 19900000)",
                self.verify_mainnet_txs
                    .map_or("n/a (no testdata/)".into(), |c| c.text("header and transactions")),
            ),
            (
                "blocks/s verify strict / off",
                format!(
                    "{:.1} / {:.1} ({:+.1} %)",
                    self.blocks as f64 / secs,
                    self.blocks as f64 / self.wall_unverified.as_secs_f64().max(1e-9),
                    100.0 * (secs / self.wall_unverified.as_secs_f64().max(1e-9) - 1.0)
                ),
            ),
        ];
        let rows: Vec<(&str, String)> = rows.into_iter().chain(self.pace_rows()).collect();
        super::table(&rows)
    }

    /// CPU per process, the node-bound ceiling and the bottleneck.
    fn pace_rows(&self) -> [(&'static str, String); 3] {
        let secs = self.wall.as_secs_f64().max(1e-9);
        [
            (
                "CPU: anvil / chainlake / broker",
                format!(
                    "{:.1} s / {:.1} s / {}",
                    self.node_cpu.as_secs_f64(),
                    self.our_cpu.as_secs_f64(),
                    self.broker_cpu
                        .map_or("n/a (no local tansu)".into(), |c| format!("{:.1} s", c.as_secs_f64()))
                ),
            ),
            (
                "ceiling (fetch only, same client and concurrency)",
                format!(
                    "{:.1} blocks/s; backfill = {:.2} × ceiling",
                    self.blocks as f64 / self.wall_ceiling.as_secs_f64().max(1e-9),
                    self.wall_ceiling.as_secs_f64() / secs
                ),
            ),
            ("bottleneck", self.bottleneck()),
        ]
    }

    /// Which process sets the pace, from each one's share of a core over the backfill.
    fn bottleneck(&self) -> String {
        let wall = self.wall.as_secs_f64().max(1e-9);
        let broker = self.broker_cpu.unwrap_or_default().as_secs_f64();
        let shares = [
            ("the node (anvil)", self.node_cpu.as_secs_f64() / wall),
            ("chainlake", self.our_cpu.as_secs_f64() / wall),
            ("the broker (tansu)", broker / wall),
        ];
        let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
        let total: f64 = shares.iter().map(|(_, s)| s).sum();
        let each = shares.iter().map(|(n, s)| format!("{n} {s:.2}")).collect::<Vec<_>>().join(", ");
        let (name, top) = shares.iter().fold(("", 0.0), |a, (n, s)| if *s > a.1 { (n, *s) } else { a });
        let verdict = if top >= 0.9 {
            format!("{name}: a core saturated")
        } else if total >= 0.9 * cores {
            format!("the machine: {total:.2} of {cores:.0} cores busy")
        } else {
            "latency: no process saturated a core (more in flight would help)".into()
        };
        format!("{verdict} (cores used: {each})")
    }
}

/// Runs `bench ingest` (needs Kafka and Redis of `cfg`; spawns its own anvil).
pub async fn run(cfg: &mut Config, blocks: u64, txs_per_block: u64) -> Result<IngestBench> {
    let anvil = Anvil::spawn(&cfg.devnet.anvil_bin(), &["--disable-block-gas-limit"]).await?;
    cfg.rpc.set_primary(anvil.url(), format!("anvil-{}", anvil.port()), String::new());
    cfg.kafka.topic_prefix = format!("bench-{}.", chainlake_wire::clock::unix_seconds());
    let artifacts = Artifacts::load(&cfg.devnet.artifacts_dir())?;
    let started = Instant::now();
    let chain = bulk::fill(&cfg.rpc.url, &artifacts, blocks, txs_per_block).await?;
    let generate = started.elapsed();
    tracing::info!(blocks, txs = chain.txs, secs = generate.as_secs_f64(), "bulk chain mined");

    let (mut best, mut wall_unverified) = (None::<(Duration, Run)>, Duration::MAX);
    for round in 0..4 {
        let verify = if round % 2 == 0 { VerifyMode::Off } else { VerifyMode::Strict };
        cfg.chain.verify = verify;
        cfg.kafka.topic_prefix = format!("bench-{}-{round}.", chainlake_wire::clock::unix_seconds());
        let run = backfill(cfg, &anvil, chain.first_block, chain.last_block).await?;
        if verify == VerifyMode::Off {
            wall_unverified = wall_unverified.min(run.wall);
        } else if best.as_ref().is_none_or(|(w, _)| run.wall < *w) {
            best = Some((run.wall, run));
        }
    }
    let mut wall_ceiling = Duration::MAX;
    for _ in 0..2 {
        wall_ceiling = wall_ceiling.min(ceiling(cfg, chain.first_block, chain.last_block).await?);
    }
    let verify = time_verify(cfg, (chain.first_block + chain.last_block) / 2).await?;
    anvil.stop().await;
    let Some((wall, run)) = best else {
        return Err(PipelineError::Incomplete { what: "bench backfill", done: 0, expected: blocks });
    };
    let (stats, requests, our_cpu, node_cpu, broker_cpu) =
        (run.stats, run.requests, run.our_cpu, run.node_cpu, run.broker_cpu);
    Ok(IngestBench {
        blocks: stats.blocks,
        txs: stats.txs,
        logs: stats.logs,
        concurrency: cfg.rpc.concurrency,
        generate,
        wall,
        requests,
        peak_rss_mib: peak_rss_kib() as f64 / 1024.0,
        waited_for_node: stats.waited_for_node,
        transforming: stats.transforming,
        publishing: stats.publishing,
        our_cpu,
        node_cpu,
        broker_cpu,
        wall_ceiling,
        wall_unverified,
        verify,
        verify_mainnet: time_mainnet_verify("block-18000000.json", Some("receipts-18000000.json")),
        verify_mainnet_txs: time_mainnet_verify("block-19900000.json", None),
    })
}

/// One backfill of the bench chain.
struct Run {
    stats: chainlake_ingest::crawl::CrawlStats,
    wall: Duration,
    requests: u64,
    our_cpu: Duration,
    node_cpu: Duration,
    broker_cpu: Option<Duration>,
}

async fn backfill(cfg: &Config, anvil: &Anvil, from: u64, to: u64) -> Result<Run> {
    let crawler = pipeline::connect(cfg).await?;
    let cancel = CancellationToken::new();
    let broker = pid_named("tansu");
    let (requests0, cpu0, node0, broker0) = (
        crawler.rpc().requests(),
        own_cpu(),
        anvil.pid().map(cpu_of).unwrap_or_default(),
        broker.map(cpu_of).unwrap_or_default(),
    );
    let started = Instant::now();
    let stats = crawler.backfill(from, to, cfg.rpc.concurrency, &cancel).await?;
    let wall = started.elapsed();
    if stats.blocks != to - from + 1 {
        return Err(PipelineError::Incomplete {
            what: "bench backfill",
            done: stats.blocks,
            expected: to - from + 1,
        });
    }
    Ok(Run {
        stats,
        wall,
        requests: crawler.rpc().requests() - requests0,
        our_cpu: own_cpu().saturating_sub(cpu0),
        node_cpu: anvil.pid().map(cpu_of).unwrap_or_default().saturating_sub(node0),
        broker_cpu: broker.map(|p| cpu_of(p).saturating_sub(broker0)),
    })
}

/// The node-bound ceiling: every block of `from..=to` fetched (block and receipts, the same
/// two calls through the same client) at `rpc.concurrency`, and nothing else; its wall time.
async fn ceiling(cfg: &Config, from: u64, to: u64) -> Result<Duration> {
    use futures::{StreamExt, TryStreamExt};
    let crawler = pipeline::connect(cfg).await?;
    let rpc = crawler.rpc();
    let started = Instant::now();
    futures::stream::iter(from..=to)
        .map(|n| rpc.fetch_block(n))
        .buffer_unordered(cfg.rpc.concurrency.max(1))
        .try_for_each(|_| async { Ok(()) })
        .await?;
    Ok(started.elapsed())
}

/// The first process whose command name is `name` (the local broker), if any.
fn pid_named(name: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
        (comm.trim() == name).then_some(pid)
    })
}

const VERIFY_ROUNDS: u32 = 200;

/// The cost of verifying the bench chain's block `n` (fetched once).
async fn time_verify(cfg: &Config, n: u64) -> Result<VerifyCost> {
    let crawler = pipeline::connect(cfg).await?;
    let raw = crawler.rpc().fetch_block(n).await?;
    Ok(cost(&raw.block, &raw.receipts, n, true))
}

/// µs per `verify_block` of `block`, every sender recovered and none. `whole`: the block must
/// verify (else only its header and transactions are timed: the receipts are not recorded).
fn cost(block: &serde_json::Value, receipts: &serde_json::Value, n: u64, whole: bool) -> VerifyCost {
    let time = |senders: f64| {
        let options = VerifyOptions { senders };
        let started = Instant::now();
        let mut ok = 0u32;
        for _ in 0..VERIFY_ROUNDS {
            ok += u32::from(verify_block(block, receipts, n, &options).is_ok());
        }
        if whole && ok < VERIFY_ROUNDS {
            tracing::warn!("the timed block did not verify: the figure is not a verification cost");
        }
        started.elapsed().as_secs_f64() * 1e6 / f64::from(VERIFY_ROUNDS)
    };
    let txs = block["transactions"].as_array().map_or(0, Vec::len) as u64;
    VerifyCost { with_senders: time(1.0), without_senders: time(0.0), txs }
}

/// The cost of verifying a recorded mainnet block of testdata/ in a checkout.
fn time_mainnet_verify(block: &str, receipts: Option<&str>) -> Option<VerifyCost> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/mainnet");
    let read = |f: &str| -> Option<serde_json::Value> {
        serde_json::from_str(&std::fs::read_to_string(dir.join(f)).ok()?).ok()
    };
    let block = read(block)?;
    let n = block["number"].as_str().and_then(chainlake_wire::hexnum::parse_u64)?;
    let receipts = match receipts {
        Some(r) => read(r)?,
        None => serde_json::json!([]),
    };
    Some(cost(&block, &receipts, n, receipts.as_array().is_some_and(|a| !a.is_empty())))
}
