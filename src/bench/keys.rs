//! `chainlake bench keys`: backfill throughput through a rate-limited front (nginx, 10 r/s per
//! key path, infra/local/up.sh) with 1, 2, 4 and 8 keys, one `ingest backfill` process per key
//! sharing one range, and the 429s the front answered. Target: ≥ 0.9 × keys × rate ÷ 2
//! blocks/s (two requests per block) with 0 × 429.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::error::{PipelineError, Result};

/// What one run measures.
#[derive(Debug, Clone)]
pub struct KeysRun {
    pub keys: u32,
    pub blocks: u64,
    pub wall: Duration,
    pub throttled: u64,
}

/// The runs, for the table.
#[derive(Debug, Clone)]
pub struct KeysBench {
    pub rate: u32,
    pub runs: Vec<KeysRun>,
}

impl KeysBench {
    pub fn table(&self) -> String {
        let mut out = String::from("| keys | blocks | wall | blocks/s | target (0.9 × keys × rate ÷ 2) | 429s |\n|---|---|---|---|---|---|\n");
        for r in &self.runs {
            let bps = r.blocks as f64 / r.wall.as_secs_f64();
            let target = 0.9 * f64::from(r.keys) * f64::from(self.rate) / 2.0;
            out.push_str(&format!(
                "| {} | {} | {:.1} s | {bps:.1} | {target:.1} | {} |\n",
                r.keys,
                r.blocks,
                r.wall.as_secs_f64(),
                r.throttled
            ));
        }
        out
    }
}

/// Runs the benchmark: `front` is the nginx base URL (`…/v3/{key}` with keys `pool_<n>`).
pub async fn run(
    cfg: &Config,
    front: &str,
    counts: &[u32],
    blocks_per_key: u64,
    rate: u32,
) -> Result<KeysBench> {
    let dir =
        PathBuf::from(&cfg.lake.root).join(format!("bench-keys-{}", chainlake_wire::clock::unix_seconds()));
    std::fs::create_dir_all(&dir).map_err(|e| PipelineError::Bench(format!("{}: {e}", dir.display())))?;
    let mut runs = Vec::new();
    for (i, n) in counts.iter().enumerate() {
        // Keys of this run only (pool_101.. for the first run, pool_201.. for the second):
        // the front's per-key budget of one run never leaks into the next.
        let keys: Vec<u32> = (1..=*n).map(|k| 100 * (i as u32 + 1) + k).collect();
        let blocks = blocks_per_key * u64::from(*n);
        runs.push(one_run(cfg, &dir, front, &keys, blocks, rate, i)?);
    }
    Ok(KeysBench { rate, runs })
}

fn one_run(
    cfg: &Config,
    dir: &Path,
    front: &str,
    keys: &[u32],
    blocks: u64,
    rate: u32,
    i: usize,
) -> Result<KeysRun> {
    let config = dir.join(format!("keys-{i}.toml"));
    let mut toml = format!(
        "[keys]\n\n[[keys.providers]]\nname = \"front\"\nurl = \"{front}/v3/{{key}}\"\n\
         requests-per-second = {rate}\nburst = {}\n",
        (rate / 2).max(1)
    );
    for k in keys {
        toml.push_str(&format!(
            "\n[[keys.keys]]\npseudonym = \"key-{k}\"\nprovider = \"front\"\nsecret-env = \"POOL_SECRET_{k}\"\n"
        ));
    }
    std::fs::write(&config, toml).map_err(|e| PipelineError::Bench(format!("{}: {e}", config.display())))?;
    let exe = std::env::current_exe().map_err(|e| PipelineError::Bench(format!("own executable: {e}")))?;
    let prefix =
        format!("{}bench-keys-{}-{i}.", cfg.kafka.topic_prefix, chainlake_wire::clock::unix_seconds());
    let started = Instant::now();
    let mut children = Vec::new();
    for (r, _) in keys.iter().enumerate() {
        let log = dir.join(format!("run-{i}-replica-{r}.log"));
        let stderr = std::fs::File::create(&log).map_err(|e| PipelineError::Bench(e.to_string()))?;
        let mut cmd = Command::new(&exe);
        cmd.arg("--config")
            .arg(&config)
            .args(["ingest", "backfill", "--from", "1", "--to", &blocks.to_string(), "--chunk-size", "20"])
            .arg("--no-progress")
            .env("CHAINLAKE__KAFKA__TOPIC_PREFIX", &prefix)
            .env("CHAINLAKE__METRICS__LISTEN", "")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(stderr);
        for k in keys {
            cmd.env(format!("POOL_SECRET_{k}"), format!("pool_{k}"));
        }
        children.push((cmd.spawn().map_err(|e| PipelineError::Bench(format!("start backfill: {e}")))?, log));
    }
    let mut throttled = 0;
    for (mut child, log) in children {
        let status = child.wait().map_err(|e| PipelineError::Bench(e.to_string()))?;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if !status.success() {
            // Its last line says why (e.g. a node lower than the run's blocks: mine more).
            return Err(PipelineError::Bench(format!(
                "a backfill replica exited {status}: {} (log: {})",
                text.lines().last().unwrap_or_default(),
                log.display()
            )));
        }
        throttled += text.lines().filter(|l| l.contains("key throttled")).count() as u64;
    }
    let wall = started.elapsed();
    tracing::info!(keys = keys.len(), blocks, secs = wall.as_secs_f64(), throttled, "bench keys run");
    Ok(KeysRun { keys: keys.len() as u32, blocks, wall, throttled })
}
