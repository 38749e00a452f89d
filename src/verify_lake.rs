//! `chainlake verify --from A --to B`: re-checks what Bronze holds for a range of heights,
//! from the lake alone (no node).
//!
//! Reads `bronze.blocks`, `bronze.txs_*`, `bronze.logs` and `bronze.unverified` for `A..=B`, a
//! window of heights at a time (never the whole table). The holes: every height without a
//! canonical verified block by silver.blocks's own rule (`canonical_block`), named with why —
//! only unverified answers (their reason), only orphaned blocks, published flagged, or nothing
//! at all — and, where Redis has the hole, when it is next re-driven. For every Bronze block:
//! the header hash recomputed from the stored header fields (alloy, as ingest does), the
//! transactions stored for it (one per index `0..tx_count`, each with its receipt, the last
//! `cumulative_gas_used` equal to the header's `gas_used`), its logs (as many as the receipts
//! announce), and the `verified` flag ingest set. The transactions root needs signatures
//! Bronze does not keep: ingest proved it before publishing (`verified`).

use std::collections::{BTreeMap, BTreeSet};

use chainlake_ingest::config::VerifyMode;
use chainlake_ingest::holes::redis::RedisHoles;
use chainlake_ingest::holes::{Hole, HoleStore};
use chainlake_ingest::verify::verify_header;
use chainlake_medallion::deltalake::datafusion::prelude::SessionContext;
use chainlake_medallion::jobs::canonical::lake::canonical_heights;
use chainlake_medallion::jobs::spec::Job;
use serde_json::{Map, Value};

use crate::config::Config;
use crate::error::{PipelineError, Result};
use crate::pipeline;

/// Heights read per query.
const WINDOW: u64 = 10_000;

/// What `verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LakeVerifyReport {
    pub blocks: u64,
    pub header_ok: u64,
    pub complete: u64,
    pub flagged_verified: u64,
    /// Heights of the range without a canonical verified block, lowest first.
    pub holes: Vec<LakeHole>,
    /// The first problems found, with their coordinates.
    pub problems: Vec<String>,
}

/// Consecutive heights of the range without a canonical verified block, for one reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeHole {
    pub from: u64,
    pub to: u64,
    /// Why, in words (with the pending re-drive when Redis has one).
    pub reason: String,
}

impl LakeVerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty() && self.holes.is_empty()
    }

    /// Every height of every hole, lowest first.
    pub fn hole_heights(&self) -> impl Iterator<Item = u64> + '_ {
        self.holes.iter().flat_map(|h| h.from..=h.to)
    }

    /// Adds `height` to the holes, joining the previous run when it continues it.
    fn hole(&mut self, height: u64, reason: String) {
        match self.holes.last_mut() {
            Some(h) if h.to + 1 == height && h.reason == reason => h.to = height,
            _ => self.holes.push(LakeHole { from: height, to: height, reason }),
        }
    }

    fn problem(&mut self, p: String) {
        const SHOWN: usize = 50;
        if self.problems.len() < SHOWN {
            self.problems.push(p);
        }
    }
}

const HEADER_COLUMNS: [(&str, &str); 22] = [
    ("number", "number"),
    ("hash", "hash"),
    ("parent_hash", "parentHash"),
    ("timestamp", "timestamp"),
    ("miner", "miner"),
    ("gas_used", "gasUsed"),
    ("gas_limit", "gasLimit"),
    ("base_fee_per_gas", "baseFeePerGas"),
    ("extra_data", "extraData"),
    ("blob_gas_used", "blobGasUsed"),
    ("excess_blob_gas", "excessBlobGas"),
    ("state_root", "stateRoot"),
    ("transactions_root", "transactionsRoot"),
    ("receipts_root", "receiptsRoot"),
    ("logs_bloom", "logsBloom"),
    ("difficulty", "difficulty"),
    ("mix_hash", "mixHash"),
    ("nonce", "nonce"),
    ("sha3_uncles", "sha3Uncles"),
    ("withdrawals_root", "withdrawalsRoot"),
    ("parent_beacon_block_root", "parentBeaconBlockRoot"),
    ("requests_hash", "requestsHash"),
];

/// Columns stored as decimal integers that the JSON header carries as hex quantities.
const QUANTITIES: [&str; 7] =
    ["number", "timestamp", "gasUsed", "gasLimit", "baseFeePerGas", "blobGasUsed", "excessBlobGas"];

/// Re-checks Bronze for `from..=to`, a window of heights at a time.
pub async fn verify_lake(cfg: &Config, from: u64, to: u64) -> Result<LakeVerifyReport> {
    if to < from {
        return Err(PipelineError::EmptyRange { from, to });
    }
    let verifier = LakeVerifier::open(cfg).await?;
    let mut report = LakeVerifyReport::default();
    for (lo, hi) in windows(from, to) {
        verifier.check(lo, hi, &mut report).await?;
    }
    Ok(report)
}

/// `from..=to` in windows of [`WINDOW`] heights.
pub fn windows(from: u64, to: u64) -> impl Iterator<Item = (u64, u64)> {
    let mut next = Some(from).filter(|f| *f <= to);
    std::iter::from_fn(move || {
        let lo = next?;
        let hi = to.min(lo.saturating_add(WINDOW - 1));
        next = hi.checked_add(1).filter(|n| *n <= to);
        Some((lo, hi))
    })
}

/// The lake (every table registered once) and the holes store, for checks window by window.
pub struct LakeVerifier<'a> {
    cfg: &'a Config,
    ctx: SessionContext,
    blocks_job: Job,
}

impl<'a> LakeVerifier<'a> {
    pub async fn open(cfg: &'a Config) -> Result<Self> {
        let ctx = pipeline::session(cfg).await?;
        let jobs = chainlake_medallion::jobs::load_jobs(cfg.medallion.sql_dir.as_deref())?;
        let blocks_job =
            jobs.into_iter().find(|j| j.table().to_string() == "silver.blocks").ok_or_else(|| {
                PipelineError::QueryShape {
                    query: "silver.blocks".into(),
                    expected: "a blocks job",
                    found: "none".into(),
                }
            })?;
        Ok(LakeVerifier { cfg, ctx, blocks_job })
    }

    /// Checks `lo..=hi` (at most a window), adding to `report`.
    pub async fn check(&self, lo: u64, hi: u64, report: &mut LakeVerifyReport) -> Result<()> {
        let pending = pending_holes(self.cfg, lo, hi).await;
        check_headers(&self.ctx, lo, hi, report).await?;
        find_holes(&self.ctx, self.cfg, &self.blocks_job, lo, hi, &pending, report).await?;
        check_contents(&self.ctx, lo, hi, report).await
    }
}

async fn rows(ctx: &SessionContext, sql: &str) -> Result<Vec<Vec<String>>> {
    pipeline::rows(&chainlake_medallion::jobs::query(ctx, sql).await?)
}

async fn check_headers(ctx: &SessionContext, lo: u64, hi: u64, report: &mut LakeVerifyReport) -> Result<()> {
    let cols: Vec<String> = HEADER_COLUMNS
        .iter()
        .map(|(c, _)| format!("CAST({c} AS VARCHAR)"))
        .chain(["CAST(verified AS VARCHAR)".into()])
        .collect();
    let sql = format!("SELECT {} FROM bronze.blocks WHERE number BETWEEN {lo} AND {hi}", cols.join(", "));
    let found = rows(ctx, &sql).await?;
    for row in &found {
        report.blocks += 1;
        if row.last().map(String::as_str) == Some("true") {
            report.flagged_verified += 1;
        }
        let header = header_json(row);
        match verify_header(&header) {
            Ok(_) => report.header_ok += 1,
            Err(f) => report.problem(format!("block {} ({}): {f}", row[0], row[1])),
        }
    }
    Ok(())
}

/// The holes Redis knows of in the range (none when Redis cannot be reached: the lake alone
/// still names every hole).
async fn pending_holes(cfg: &Config, from: u64, to: u64) -> BTreeMap<u64, Hole> {
    let listed = async {
        let store = RedisHoles::connect(&cfg.redis.url, &cfg.kafka.topic_prefix, &cfg.chain.name).await?;
        store.list(from..=to).await
    };
    match listed.await {
        Ok(holes) => holes.into_iter().map(|h| (h.height, h)).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "holes pending re-drive not read from Redis: the lake's alone are listed");
            BTreeMap::new()
        }
    }
}

/// Every height of `lo..=hi` without a canonical verified block, with why.
async fn find_holes(
    ctx: &SessionContext,
    cfg: &Config,
    blocks_job: &Job,
    lo: u64,
    hi: u64,
    pending: &BTreeMap<u64, Hole>,
    report: &mut LakeVerifyReport,
) -> Result<()> {
    let canonical = canonical_heights(ctx, blocks_job, lo, hi).await?;
    let proven: BTreeSet<u64> = rows(
        ctx,
        &format!("SELECT DISTINCT CAST(number AS VARCHAR) FROM bronze.blocks WHERE verified AND number BETWEEN {lo} AND {hi}"),
    )
    .await?
    .into_iter()
    .filter_map(|r| r[0].parse().ok())
    .collect();
    let unverified: BTreeMap<u64, String> = rows(
        ctx,
        &format!(
            "SELECT CAST(number AS VARCHAR), reason, detail FROM bronze.unverified \
             WHERE number BETWEEN {lo} AND {hi} ORDER BY detected_at"
        ),
    )
    .await?
    .into_iter()
    .filter_map(|r| Some((r[0].parse().ok()?, format!("{}: {}", r[1], r[2]))))
    .collect();
    for height in lo..=hi {
        let why = match canonical.get(&height) {
            Some(true) => continue,
            Some(false) if cfg.chain.verify == VerifyMode::Off => continue,
            Some(false) => "published flagged: its block did not prove".to_owned(),
            None if proven.contains(&height) => {
                "only orphaned blocks in Bronze: the canonical block never arrived".to_owned()
            }
            None => match unverified.get(&height) {
                Some(r) => format!("unverified ({r})"),
                None => "missing: no block in Bronze".to_owned(),
            },
        };
        let reason = match pending.get(&height) {
            Some(h) => format!("{why}; pending re-drive (reason {}, {} tries so far)", h.reason, h.tries),
            None => why,
        };
        report.hole(height, reason);
    }
    Ok(())
}

/// The JSON-RPC header object a Bronze row stands for (nulls left out, quantities as hex).
fn header_json(row: &[String]) -> Value {
    let mut o = Map::new();
    for (&(_, name), value) in HEADER_COLUMNS.iter().zip(row) {
        if value.is_empty() {
            continue; // NULL renders as an empty string
        }
        let v = if QUANTITIES.contains(&name) {
            value.parse::<u128>().map(|n| format!("{n:#x}")).unwrap_or_else(|_| value.clone())
        } else {
            value.clone()
        };
        o.insert(name.to_owned(), Value::String(v));
    }
    Value::Object(o)
}

/// Every Bronze block has its transactions, receipts and logs.
async fn check_contents(ctx: &SessionContext, lo: u64, hi: u64, report: &mut LakeVerifyReport) -> Result<()> {
    let sql = format!(
        "WITH t AS (
           SELECT block_hash, tx_index, has_receipt, cumulative_gas_used, logs_count FROM bronze.txs_native_transfer WHERE block_number BETWEEN {lo} AND {hi}
           UNION ALL SELECT block_hash, tx_index, has_receipt, cumulative_gas_used, logs_count FROM bronze.txs_contract_deploy WHERE block_number BETWEEN {lo} AND {hi}
           UNION ALL SELECT block_hash, tx_index, has_receipt, cumulative_gas_used, logs_count FROM bronze.txs_contract_call WHERE block_number BETWEEN {lo} AND {hi}
         ),
         per_block AS (
           SELECT block_hash, count(DISTINCT tx_index) AS txs, max(tx_index) AS last_index,
             sum(CASE WHEN has_receipt THEN 0 ELSE 1 END) AS without_receipt,
             max(cumulative_gas_used) AS cumulative
           FROM t GROUP BY block_hash
         ),
         l AS (
           SELECT block_hash, count(DISTINCT log_index) AS logs FROM bronze.logs
           WHERE block_number BETWEEN {lo} AND {hi} GROUP BY block_hash
         ),
         announced AS (
           SELECT block_hash, sum(logs_count) AS logs FROM (
             SELECT DISTINCT block_hash, tx_index, logs_count FROM t
           ) AS d GROUP BY block_hash
         )
         SELECT CAST(b.number AS VARCHAR), b.hash,
           CAST(b.tx_count AS VARCHAR), CAST(coalesce(p.txs, 0) AS VARCHAR),
           CAST(coalesce(p.last_index + 1, 0) AS VARCHAR), CAST(coalesce(p.without_receipt, 0) AS VARCHAR),
           CAST(b.gas_used AS VARCHAR), CAST(coalesce(p.cumulative, 0) AS VARCHAR),
           CAST(coalesce(a.logs, 0) AS VARCHAR), CAST(coalesce(l.logs, 0) AS VARCHAR)
         FROM bronze.blocks AS b
         LEFT JOIN per_block AS p ON p.block_hash = b.hash
         LEFT JOIN announced AS a ON a.block_hash = b.hash
         LEFT JOIN l ON l.block_hash = b.hash
         WHERE b.number BETWEEN {lo} AND {hi}"
    );
    for r in rows(ctx, &sql).await? {
        let (number, hash) = (&r[0], &r[1]);
        let mut bad = Vec::new();
        if r[2] != r[3] || r[2] != r[4] {
            bad.push(format!("{} transactions stored for tx_count {} (indices to {})", r[3], r[2], r[4]));
        }
        if r[5] != "0" {
            bad.push(format!("{} transactions without a receipt", r[5]));
        }
        if r[2] != "0" && r[6] != r[7] {
            bad.push(format!("last cumulative gas {} is not the header's gas used {}", r[7], r[6]));
        }
        if r[8] != r[9] {
            bad.push(format!("{} logs stored, the receipts announce {}", r[9], r[8]));
        }
        if bad.is_empty() {
            report.complete += 1;
        } else {
            report.problem(format!("block {number} ({hash}): {}", bad.join("; ")));
        }
    }
    Ok(())
}
