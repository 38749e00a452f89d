//! Progress of a backfill: a bar (blocks/s, txs/s, ETA) on a terminal, log lines otherwise.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Counts blocks and transactions against a total and shows the rate.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    started: Instant,
    /// Blocks done by this process (rates are ours) and before/elsewhere (only the position).
    blocks: AtomicU64,
    skipped: AtomicU64,
    txs: AtomicU64,
    every: Duration,
    last_log: Mutex<Instant>,
}

impl Progress {
    /// A bar when stderr is a terminal and `bar` is allowed, else a log line every `every`.
    pub fn new(total: u64, bar: bool, every: Duration) -> Self {
        let bar = (bar && std::io::stderr().is_terminal()).then(|| {
            let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{elapsed_precise} [{wide_bar}] {pos}/{len} blocks  {msg}  ETA {eta}",
            ) {
                pb.set_style(style.progress_chars("=> "));
            }
            pb
        });
        let now = Instant::now();
        Progress {
            bar,
            total,
            started: now,
            blocks: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            txs: AtomicU64::new(0),
            every,
            last_log: Mutex::new(now),
        }
    }

    /// `blocks` and `txs` were published by this process.
    pub fn add(&self, blocks: u64, txs: u64) {
        self.blocks.fetch_add(blocks, Ordering::Relaxed);
        self.txs.fetch_add(txs, Ordering::Relaxed);
        self.report(false);
    }

    /// `blocks` were done before this run or by another process.
    pub fn skip(&self, blocks: u64) {
        self.skipped.fetch_add(blocks, Ordering::Relaxed);
        self.report(false);
    }

    /// (blocks/s, txs/s) of this process so far.
    pub fn rates(&self) -> (f64, f64) {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        (self.blocks.load(Ordering::Relaxed) as f64 / secs, self.txs.load(Ordering::Relaxed) as f64 / secs)
    }

    fn report(&self, force: bool) {
        let own = self.blocks.load(Ordering::Relaxed);
        let done = (own + self.skipped.load(Ordering::Relaxed)).min(self.total);
        let (bps, tps) = self.rates();
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            bar.set_message(format!("{bps:.0} blocks/s  {tps:.0} txs/s"));
            return;
        }
        let mut last = self.last_log.lock().unwrap_or_else(|e| e.into_inner());
        if !force && last.elapsed() < self.every {
            return;
        }
        *last = Instant::now();
        let eta = if bps > 0.0 { format!("{:.0}s", (self.total - done) as f64 / bps) } else { "?".into() };
        tracing::info!(done, total = self.total, blocks_per_s = format!("{bps:.1}"),
            txs_per_s = format!("{tps:.1}"), %eta, "backfill progress");
    }

    pub fn finish(&self) {
        match &self.bar {
            Some(bar) => bar.finish(),
            None => self.report(true),
        }
    }
}
