//! `chainlake repair --from A --to B`: every hole of a range fetched again (those Redis names
//! and those the lake shows), each block that proves published.

use chainlake_ingest::holes::redis::RedisHoles;
use chainlake_ingest::holes::{HoleStore, RedriveReport};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::{PipelineError, Result};
use crate::pipeline::connect_until;

/// What `chainlake repair` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairReport {
    /// Heights of the range the lake lacks (no canonical verified block) or a hole names.
    pub targets: u64,
    pub redriven: RedriveReport,
    /// Holes of the range left after the repair.
    pub holes_left: Vec<u64>,
}

/// `chainlake repair --from A --to B`: fetches again every height of the range that is a hole
/// (recorded in Redis, or found in the lake by [`crate::verify_lake`]) and publishes each one
/// that proves; the sink and the medallion then take them in.
pub async fn repair(cfg: &Config, from: u64, to: u64, cancel: &CancellationToken) -> Result<RepairReport> {
    if to < from {
        return Err(PipelineError::EmptyRange { from, to });
    }
    let crawler = connect_until(cfg, cancel).await?;
    crawler.claim_epoch().await?;
    let holes = RedisHoles::connect(&cfg.redis.url, &cfg.kafka.topic_prefix, &cfg.chain.name).await?;
    let lake = crate::verify_lake::LakeVerifier::open(cfg).await?;
    let mut report = RepairReport::default();
    // A window at a time: the heights to fill are those Redis names and those the lake lacks.
    for (lo, hi) in crate::verify_lake::windows(from, to) {
        let mut targets: std::collections::BTreeSet<u64> =
            holes.list(lo..=hi).await?.into_iter().map(|h| h.height).collect();
        let mut found = crate::verify_lake::LakeVerifyReport::default();
        lake.check(lo, hi, &mut found).await?;
        targets.extend(found.hole_heights());
        let heights: Vec<u64> = targets.into_iter().collect();
        let r = match crawler.repair(&heights, cancel).await {
            Ok(r) => r,
            Err(e) => {
                crawler.rpc().release_key().await;
                return Err(e.into());
            }
        };
        report.targets += heights.len() as u64;
        report.redriven += r;
    }
    crawler.rpc().release_key().await;
    report.holes_left = holes.list(from..=to).await?.into_iter().map(|h| h.height).collect();
    Ok(report)
}
