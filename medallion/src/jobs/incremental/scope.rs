//! What one run of a job must rewrite: nothing, everything, or the partitions of some days.
//!
//! A job's checkpoint is the version of each input it last read, kept as `txn` actions in its
//! own table (`chainlake-medallion:<input>`). The days to rewrite are the partition values its
//! inputs gained or lost rows in since then (read from their commit files, not their data),
//! plus two rules of the chain:
//! - a reorg event (`bronze.chain_events`) at height n can orphan every block at or above n:
//!   every day with a Bronze block at or above n is rewritten;
//! - the blocks of one height are decided together, and two branches' blocks at one height
//!   can fall on two sides of midnight: the days are closed over the heights they hold;
//! - a new block at height n can change which block is canonical at n - 1 (the parent it
//!   names): the day of the height below the lowest new block is rewritten too.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::NaiveDate;
use deltalake::arrow::array::{Array, AsArray};
use deltalake::arrow::datatypes::{Date32Type, Int64Type};
use deltalake::datafusion::catalog::TableProvider;
use deltalake::datafusion::prelude::{col, lit, ParquetReadOptions, SessionContext};
use deltalake::DeltaTable;

use super::changes::{changes, files, partition_date, Gap};
use crate::jobs::spec::{Job, TableRef};
use crate::lake::txn::txn_version;
use crate::lake::Layer;
use crate::{Error, Result};

/// What one run of a job rewrites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// No input changed since the job's checkpoint: nothing is done, nothing committed.
    Unchanged,
    /// The whole table, from all of its inputs (why).
    Full(String),
    /// The partitions of these days (for a `month` table: the months they fall in).
    Days(BTreeSet<NaiveDate>),
}

/// An input table of a job, opened at the version this run reads.
pub struct Input {
    /// `None` for a Bronze table no record has reached yet (an empty table stands in).
    pub table: Option<DeltaTable>,
    /// Its partition column, if any.
    pub partition: Option<String>,
    /// What the job's SQL reads under the input's name.
    pub provider: Arc<dyn TableProvider>,
}

impl Input {
    pub fn version(&self) -> Option<u64> {
        self.table.as_ref().and_then(DeltaTable::version)
    }

    /// The days (values of its date partition column) the input holds rows of, from its
    /// snapshot's file list; none for an unpartitioned input.
    pub fn days(&self) -> BTreeSet<NaiveDate> {
        let (Some(table), Some(p)) = (&self.table, &self.partition) else { return BTreeSet::new() };
        files(table, Some(p)).into_iter().filter_map(|(d, _)| d).collect()
    }
}

/// The `txn` app id of a job's checkpoint of `input`.
pub fn app_id(input: &TableRef) -> String {
    format!("chainlake-medallion:{input}")
}

/// `bronze.blocks`: a job that reads it decides heights (see the module doc).
pub fn bronze_blocks() -> TableRef {
    TableRef { layer: Layer::Bronze, name: "blocks".into() }
}

fn events() -> TableRef {
    TableRef { layer: Layer::Bronze, name: "chain_events".into() }
}

/// Decides what this run of `job` rewrites. `ctx` has every input registered whole (the
/// probes below filter on `number`, which file statistics prune).
pub async fn scope(
    job: &Job,
    out: &DeltaTable,
    inputs: &BTreeMap<TableRef, Input>,
    ctx: &SessionContext,
) -> Result<Scope> {
    if out.version().is_none() {
        return Ok(Scope::Full("the table does not exist yet".into()));
    }
    let mut days = BTreeSet::new();
    let mut reorg_files = Vec::new();
    let mut block_files = Vec::new();
    for (name, input) in inputs {
        let (Some(table), Some(now)) = (&input.table, input.version()) else { continue };
        let seen = txn_version(out, &app_id(name)).await?.and_then(|v| u64::try_from(v).ok());
        if seen == Some(now) {
            continue;
        }
        if seen.is_some_and(|s| s > now) {
            return Ok(Scope::Full(format!(
                "{name} is at version {now}, below the {seen:?} last read: recreated"
            )));
        }
        let first = seen.map_or(0, |s| s + 1);
        let c = match changes(table, input.partition.as_deref(), first, now).await? {
            Ok(c) => c,
            Err(Gap::Missing(v)) => {
                return Ok(Scope::Full(format!("{name}: commit {v} is gone from its log (log retention)")))
            }
        };
        if c.rewrote_all {
            return Ok(Scope::Full(format!("{name} was rewritten whole")));
        }
        if *name == bronze_blocks() {
            block_files.extend(c.added.iter().map(|p| table.table_url().join(p)).filter_map(|u| u.ok()));
        }
        match &input.partition {
            Some(_) => {
                for v in c.partitions.iter().flatten() {
                    days.insert(parse_day(v, name)?);
                }
            }
            None if *name == events() => {
                reorg_files.extend(c.added.iter().map(|p| table.table_url().join(p)).filter_map(|u| u.ok()));
            }
            None if c.is_empty() => {}
            None => return Ok(Scope::Full(format!("{name} (unpartitioned) changed"))),
        }
    }
    let (lowest, detected) = new_reorgs(ctx, &reorg_files).await?;
    if job.partition == DETECTED_DATE {
        days.extend(detected);
    }
    if job.inputs.contains(&bronze_blocks()) {
        if let Some(n) = lowest {
            days.extend(
                day_list(ctx, &format!("SELECT DISTINCT block_date FROM bronze.blocks WHERE number >= {n}"))
                    .await?,
            );
        }
        if let Some(n) = lowest_new_block(ctx, &block_files).await? {
            let below = n.saturating_sub(1);
            days.extend(
                day_list(
                    ctx,
                    &format!("SELECT DISTINCT block_date FROM bronze.blocks WHERE number = {below}"),
                )
                .await?,
            );
        }
        close_over_heights(ctx, &mut days).await?;
    }
    Ok(if days.is_empty() { Scope::Unchanged } else { Scope::Days(days) })
}

fn parse_day(v: &str, input: &TableRef) -> Result<NaiveDate> {
    partition_date(v).ok_or_else(|| Error::PartitionValue { table: input.to_string(), value: v.to_owned() })
}

/// The lowest height, and the days they were detected, of the reorg events in `files` (the
/// chain_events files added).
async fn new_reorgs(ctx: &SessionContext, files: &[url::Url]) -> Result<(Option<i64>, BTreeSet<NaiveDate>)> {
    if files.is_empty() {
        return Ok((None, BTreeSet::new()));
    }
    let paths: Vec<String> = files.iter().map(ToString::to_string).collect();
    let df = ctx
        .read_parquet(paths, ParquetReadOptions::default())
        .await
        .and_then(|df| df.filter(col("kind").eq(lit("reorg"))))
        .map_err(Error::sql("read the new chain events"))?;
    ctx.register_table(NEW_EVENTS, df.into_view()).map_err(Error::sql("new chain events"))?;
    let lowest = ints(ctx, &format!("SELECT CAST(min(number) AS BIGINT) FROM {NEW_EVENTS}")).await?;
    let detected = day_list(
        ctx,
        &format!("SELECT DISTINCT CAST(to_timestamp_millis(detected_at) AS DATE) FROM {NEW_EVENTS}"),
    )
    .await;
    ctx.deregister_table(NEW_EVENTS).map_err(Error::sql("new chain events"))?;
    Ok((lowest.into_iter().next(), detected?))
}

/// The lowest height among the Bronze blocks in `files` (the bronze.blocks files added).
async fn lowest_new_block(ctx: &SessionContext, files: &[url::Url]) -> Result<Option<i64>> {
    if files.is_empty() {
        return Ok(None);
    }
    let paths: Vec<String> = files.iter().map(ToString::to_string).collect();
    let df = ctx
        .read_parquet(paths, ParquetReadOptions::default())
        .await
        .and_then(|df| {
            df.aggregate(
                vec![],
                vec![deltalake::datafusion::functions_aggregate::expr_fn::min(col("number"))],
            )
        })
        .map_err(Error::sql("read the new blocks"))?;
    let batches = df.collect().await.map_err(Error::sql("read the new blocks"))?;
    Ok(batches.first().and_then(|b| {
        let c = b.column(0).as_primitive::<Int64Type>();
        (!c.is_empty() && c.is_valid(0)).then(|| c.value(0))
    }))
}

/// The name the new chain events are read under while the scope is decided.
const NEW_EVENTS: &str = "chainlake_new_chain_events";

/// The partition column of tables whose rows are dated by when the follower saw a reorg.
pub const DETECTED_DATE: &str = "detected_date";

/// The non-null values of a one-column BIGINT query.
async fn ints(ctx: &SessionContext, sql: &str) -> Result<Vec<i64>> {
    let batches = ctx.sql(sql).await.map_err(Error::sql(sql))?.collect().await.map_err(Error::sql(sql))?;
    let mut out = Vec::new();
    for b in &batches {
        let col = b.column(0).as_primitive::<Int64Type>();
        out.extend((0..col.len()).filter(|i| col.is_valid(*i)).map(|i| col.value(i)));
    }
    Ok(out)
}

/// Adds every day with a Bronze block at a height of the days' blocks, until none is new.
async fn close_over_heights(ctx: &SessionContext, days: &mut BTreeSet<NaiveDate>) -> Result<()> {
    for _ in 0..8 {
        if days.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "SELECT DISTINCT block_date FROM bronze.blocks WHERE number BETWEEN \
             (SELECT min(number) FROM bronze.blocks WHERE block_date IN ({0})) AND \
             (SELECT max(number) FROM bronze.blocks WHERE block_date IN ({0}))",
            date_literals(days)
        );
        let found = day_list(ctx, &sql).await?;
        if found.is_subset(days) {
            return Ok(());
        }
        days.extend(found);
    }
    Ok(())
}

/// `DATE '2024-01-02', …`
pub fn date_literals(days: &BTreeSet<NaiveDate>) -> String {
    days.iter().map(|d| format!("DATE '{d}'")).collect::<Vec<_>>().join(", ")
}

/// The dates a one-column query of dates returns.
async fn day_list(ctx: &SessionContext, sql: &str) -> Result<BTreeSet<NaiveDate>> {
    let batches = ctx.sql(sql).await.map_err(Error::sql(sql))?.collect().await.map_err(Error::sql(sql))?;
    let mut out = BTreeSet::new();
    for b in &batches {
        let col = b.column(0).as_primitive::<Date32Type>();
        for i in 0..col.len() {
            if let Some(d) = (!col.is_null(i)).then(|| col.value_as_date(i)).flatten() {
                out.insert(d);
            }
        }
    }
    Ok(out)
}
