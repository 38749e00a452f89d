//! `chainlake bench …`: benchmarks that print a table (numbers go to docs/benchmarks.md).

use std::time::Duration;

pub mod decode;
pub mod ingest;
pub mod keys;
pub mod medallion;
pub mod sink;

/// A markdown table of (metric, value) rows.
pub fn table(rows: &[(&str, String)]) -> String {
    let mut out = String::from("| metric | value |\n|---|---|\n");
    for (k, v) in rows {
        out.push_str(&format!("| {k} | {v} |\n"));
    }
    out
}

/// Percentile `q` (0..=1) of `samples` (sorted here).
pub fn percentile(samples: &[Duration], q: f64) -> Duration {
    let mut s = samples.to_vec();
    s.sort();
    match s.len() {
        0 => Duration::ZERO,
        n => s[((n - 1) as f64 * q).round() as usize],
    }
}

/// Peak resident set of this process (VmHWM), KiB.
pub fn peak_rss_kib() -> u64 {
    peak_rss_of(std::process::id())
}

/// Peak resident set of process `pid` (VmHWM), KiB; 0 once it is gone.
pub fn peak_rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Resets this process's peak resident set to its current one (Linux `clear_refs` 5), so the
/// next [`peak_rss_kib`] covers only what runs after; false where the kernel refuses.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

pub(crate) fn own_cpu() -> Duration {
    cpu_of(std::process::id())
}

/// User + system CPU time of a process, from /proc/PID/stat (clock ticks of 10 ms).
pub(crate) fn cpu_of(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return Duration::ZERO };
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return Duration::ZERO };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}
