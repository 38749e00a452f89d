//! `chainlake bench ingest`: mines a bulk chain on a fresh anvil, then backfills it into Kafka through the
//! real crawler and reports throughput, RPC economy, memory, and where the time went (waiting
//! for the node vs. transforming vs. publishing, and the node's CPU against ours).

use std::time::{Duration, Instant};

use chainlake_ingest::devnet::{bulk, Anvil, Artifacts};
use tokio_util::sync::CancellationToken;

use super::{cpu_of, own_cpu, peak_rss_kib};
use crate::config::Config;
use crate::pipeline::{self, PipelineError, Result};

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
            (
                "CPU: anvil / chainlake",
                format!("{:.1} s / {:.1} s", self.node_cpu.as_secs_f64(), self.our_cpu.as_secs_f64()),
            ),
        ];
        super::table(&rows)
    }
}

/// Runs `bench ingest` (needs Kafka and Redis of `cfg`; spawns its own anvil).
pub async fn run(cfg: &mut Config, blocks: u64, txs_per_block: u64) -> Result<IngestBench> {
    let anvil = Anvil::spawn(&cfg.devnet.anvil_bin(), &["--disable-block-gas-limit"]).await?;
    cfg.rpc.set_primary(anvil.url(), format!("anvil-{}", anvil.port()), String::new());
    cfg.kafka.topic_prefix = format!("bench-{}.", crate::unix_secs());
    let artifacts = Artifacts::load(&cfg.devnet.artifacts_dir())?;
    let started = Instant::now();
    let chain = bulk::fill(&cfg.rpc.url, &artifacts, blocks, txs_per_block).await?;
    let generate = started.elapsed();
    tracing::info!(blocks, txs = chain.txs, secs = generate.as_secs_f64(), "bulk chain mined");

    let crawler = pipeline::connect(cfg).await?;
    let cancel = CancellationToken::new();
    let (requests0, cpu0, node0) =
        (crawler.rpc().requests(), own_cpu(), anvil.pid().map(cpu_of).unwrap_or_default());
    let started = Instant::now();
    let stats = crawler.backfill(chain.first_block, chain.last_block, cfg.rpc.concurrency, &cancel).await?;
    let wall = started.elapsed();
    let requests = crawler.rpc().requests() - requests0;
    let node_cpu = anvil.pid().map(cpu_of).unwrap_or_default().saturating_sub(node0);
    anvil.stop().await;
    if stats.blocks != chain.last_block - chain.first_block + 1 {
        return Err(PipelineError::Incomplete {
            what: "bench backfill",
            done: stats.blocks,
            expected: blocks,
        });
    }
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
        our_cpu: own_cpu().saturating_sub(cpu0),
        node_cpu,
    })
}
