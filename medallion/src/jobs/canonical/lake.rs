//! The canonical blocks of a range of heights, by silver.blocks's own SQL over Bronze: what
//! `chainlake verify` compares with every height to name the holes.

use std::collections::BTreeMap;

use deltalake::arrow::array::{Array, AsArray};
use deltalake::arrow::datatypes::Int64Type;
use deltalake::datafusion::prelude::{col, lit, SessionContext};

use crate::jobs::catalog::register_provider;
use crate::jobs::spec::Job;
use crate::lake::Layer;
use crate::{Error, Result};

/// Heights read beyond the range on either side, so the walk at its edges sees the blocks
/// that decide them (a reorg is at most `chain.reorg-window` deep; this is its default).
const MARGIN: u64 = 128;

/// Height → `verified` of the canonical block of each height of `lo..=hi` that has one, by
/// `blocks_job` (silver.blocks) run in `ctx` (every Bronze table registered) over the
/// range's Bronze blocks alone.
pub async fn canonical_heights(
    ctx: &SessionContext,
    blocks_job: &Job,
    lo: u64,
    hi: u64,
) -> Result<BTreeMap<u64, bool>> {
    let name = "bronze.blocks";
    let whole = ctx.table_provider(name).await.map_err(Error::sql(name))?;
    let (from, to) = (lo.saturating_sub(MARGIN), hi.saturating_add(MARGIN));
    let range = |n: u64| lit(i64::try_from(n).unwrap_or(i64::MAX));
    let view = ctx
        .read_table(whole.clone())
        .and_then(|df| df.filter(col("number").between(range(from), range(to))))
        .map_err(Error::sql(name))?
        .into_view();
    register_provider(ctx, Layer::Bronze, "blocks", view)?;
    let found = run(ctx, blocks_job, range(lo), range(hi)).await;
    register_provider(ctx, Layer::Bronze, "blocks", whole)?;
    found
}

async fn run(
    ctx: &SessionContext,
    job: &Job,
    lo: deltalake::datafusion::prelude::Expr,
    hi: deltalake::datafusion::prelude::Expr,
) -> Result<BTreeMap<u64, bool>> {
    let what = job.path.display().to_string();
    let batches = ctx
        .sql(&job.sql)
        .await
        .and_then(|df| df.filter(col("number").between(lo, hi)))
        .and_then(|df| df.select_columns(&["number", "verified"]))
        .map_err(Error::sql(&what))?
        .collect()
        .await
        .map_err(Error::sql(&what))?;
    let mut out = BTreeMap::new();
    for b in &batches {
        let (number, verified) = (b.column(0).as_primitive::<Int64Type>(), b.column(1).as_boolean());
        for i in (0..b.num_rows()).filter(|i| number.is_valid(*i)) {
            if let Ok(n) = u64::try_from(number.value(i)) {
                out.insert(n, verified.is_valid(i) && verified.value(i));
            }
        }
    }
    Ok(out)
}
