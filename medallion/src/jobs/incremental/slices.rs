//! How a run is split into commits: at most `medallion.days-per-commit` partitions each, and
//! at most `medallion.rows-per-commit` input rows (from the inputs' file statistics), so a
//! commit's memory is bounded by rows whatever the chain's traffic or the history's length.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};

use super::scope::{Input, Scope};
use crate::jobs::spec::{Job, TableRef};

pub use crate::config::DAYS_PER_COMMIT;

/// Input rows per commit unless configured (`medallion.rows-per-commit`): one per
/// [`BYTES_PER_ROW`] of the memory pool.
pub fn rows_per_commit(memory: usize) -> u64 {
    (memory / BYTES_PER_ROW).max(1) as u64
}

/// Pool bytes allowed per input row of a commit. Measured on `gold.gas_daily`, the heaviest:
/// its three `percentile_cont` keep each value in a `Vec<f64>` (up to 16 bytes with the
/// vector's slack) in the partial and again in the final aggregate, ~100 bytes a row; 5 M
/// rows exhausted 512 MiB (docs/benchmarks.md), 1.2 M did not.
pub const BYTES_PER_ROW: usize = 128;

/// What bounds one commit: at most `days` partitions, and at most `rows` input rows unless
/// one partition alone has more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bound {
    pub days: usize,
    pub rows: u64,
}

/// One commit of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Slice {
    /// The partitions written (`None`: the whole table, for a rebuild of a table with no data).
    pub values: Option<BTreeSet<NaiveDate>>,
    /// The input days read (`None`: every row).
    pub read: Option<BTreeSet<NaiveDate>>,
    /// The commit replaces the whole table (the first of a rebuild: schema and partitioning too).
    pub replace_all: bool,
    /// The last commit of the run carries the checkpoint (the inputs' versions).
    pub last: bool,
}

/// The commits of a run, within `bound` each: the days in scope, or for a rebuild
/// every day its inputs hold. When the days of the blocks job are split, each slice reads a
/// day more on either side (blocks of one height on both sides of midnight are decided
/// together; only the slice's own days are written); every other job's day depends on the
/// same days of its inputs only. The first slice of a rebuild replaces the whole table.
pub(crate) fn slices(
    job: &Job,
    scope: &Scope,
    inputs: &BTreeMap<TableRef, Input>,
    bound: Bound,
) -> Vec<Slice> {
    let (days, rebuild): (Vec<NaiveDate>, bool) = match scope {
        Scope::Unchanged => return Vec::new(),
        Scope::Days(days) => (days.iter().copied().collect(), false),
        Scope::Full(_) => {
            (inputs.values().flat_map(Input::days).collect::<BTreeSet<_>>().into_iter().collect(), true)
        }
    };
    if days.is_empty() {
        return vec![Slice { values: None, read: None, replace_all: true, last: true }];
    }
    // Chunks of the table's partition values: days, or for a month table whole months (as many
    // as fit in `bound.days` days, at least one), so no month is computed twice in one run.
    let values: Vec<NaiveDate> = partitions_of(job, &days.into_iter().collect()).into_iter().collect();
    let per = if job.partition == "month" { bound.days / 31 } else { bound.days };
    let weights = InputRows::of(inputs);
    let chunks = chunks(&values, Bound { days: per.max(1), rows: bound.rows }, |v| {
        weights.of_window(&window(job, &BTreeSet::from([*v])))
    });
    let n = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let values: BTreeSet<NaiveDate> = chunk.iter().copied().collect();
            let mut read = window(job, &values);
            if (n > 1 || rebuild) && job.inputs.contains(&super::scope::bronze_blocks()) {
                let edges: Vec<NaiveDate> =
                    read.iter().flat_map(|d| [d.pred_opt(), d.succ_opt()]).flatten().collect();
                read.extend(edges);
            }
            Slice { values: Some(values), read: Some(read), replace_all: rebuild && i == 0, last: i + 1 == n }
        })
        .collect()
}

/// Splits `values` (in order) into runs of at most `bound.days` values and at most
/// `bound.rows` rows by `weight`; a value heavier than the bound is a run of its own.
fn chunks(values: &[NaiveDate], bound: Bound, weight: impl Fn(&NaiveDate) -> u64) -> Vec<&[NaiveDate]> {
    let mut out = Vec::new();
    let (mut start, mut rows) = (0, 0u64);
    for (i, v) in values.iter().enumerate() {
        let w = weight(v);
        let full = i - start >= bound.days || rows.saturating_add(w) > bound.rows;
        if i > start && full {
            out.push(&values[start..i]);
            (start, rows) = (i, 0);
        }
        rows = rows.saturating_add(w);
    }
    if start < values.len() {
        out.push(&values[start..]);
    }
    out
}

/// Rows per partition value of each partitioned input, from its file list (no data read).
struct InputRows(Vec<(String, BTreeMap<NaiveDate, u64>)>);

impl InputRows {
    fn of(inputs: &BTreeMap<TableRef, Input>) -> Self {
        let per_input = inputs.values().filter_map(|input| {
            let (table, partition) = (input.table.as_ref()?, input.partition.as_ref()?);
            let mut rows = BTreeMap::new();
            for (day, n) in super::changes::files(table, Some(partition)) {
                if let Some(day) = day {
                    *rows.entry(day).or_insert(0u64) += n;
                }
            }
            Some((partition.clone(), rows))
        });
        InputRows(per_input.collect())
    }

    /// Rows the inputs hold in the partitions that the input `days` touch (unpartitioned
    /// inputs are read whole by every commit: they do not grow with the days).
    fn of_window(&self, days: &BTreeSet<NaiveDate>) -> u64 {
        self.0
            .iter()
            .map(|(partition, rows)| {
                values_in(partition, days).iter().filter_map(|d| rows.get(d)).sum::<u64>()
            })
            .sum()
    }
}

/// The values of a date partition column that `days` touch: the days themselves, or the first
/// days of their months for a `month` column.
pub(crate) fn values_in(partition: &str, days: &BTreeSet<NaiveDate>) -> BTreeSet<NaiveDate> {
    if partition == "month" {
        days.iter().filter_map(|d| d.with_day(1)).collect()
    } else {
        days.clone()
    }
}

/// The values of the job's partition column that `days` touch.
fn partitions_of(job: &Job, days: &BTreeSet<NaiveDate>) -> BTreeSet<NaiveDate> {
    values_in(&job.partition, days)
}

/// The input days the SQL needs to compute `values`: the same days, or every day of the months.
fn window(job: &Job, values: &BTreeSet<NaiveDate>) -> BTreeSet<NaiveDate> {
    if job.partition != "month" {
        return values.clone();
    }
    let mut days = BTreeSet::new();
    for first in values {
        let mut d = *first;
        while d.month() == first.month() {
            days.insert(d);
            let Some(next) = d.succ_opt() else { break };
            d = next;
        }
    }
    days
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn job(partition: &str) -> Job {
        let sql = format!("-- partition: {partition}\nSELECT * FROM bronze.blocks");
        Job::parse("silver_t.sql", "t".into(), sql).unwrap().unwrap()
    }

    pub(crate) const WEEK: Bound = Bound { days: DAYS_PER_COMMIT, rows: u64::MAX };

    fn days_only(days: usize) -> Bound {
        Bound { days, rows: u64::MAX }
    }

    pub(crate) fn days(from: u32, n: u32) -> BTreeSet<NaiveDate> {
        (from..from + n).filter_map(|d| NaiveDate::from_ymd_opt(2024, 1, d)).collect()
    }

    #[test]
    fn a_few_days_are_one_commit_read_exactly() {
        let s = slices(&job("block_date"), &Scope::Days(days(3, 2)), &BTreeMap::new(), WEEK);
        assert_eq!(
            s,
            vec![Slice { values: Some(days(3, 2)), read: Some(days(3, 2)), replace_all: false, last: true }]
        );
    }

    #[test]
    fn many_days_are_split_a_week_a_commit_each_read_with_its_neighbours() {
        let s = slices(&job("block_date"), &Scope::Days(days(1, 10)), &BTreeMap::new(), WEEK);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].values, Some(days(1, 7)));
        let mut first = days(1, 8);
        first.extend(NaiveDate::from_ymd_opt(2023, 12, 31));
        assert_eq!(s[0].read, Some(first), "a day more on either side");
        assert_eq!(s[1].values, Some(days(8, 3)));
        assert_eq!(s[1].read, Some(days(7, 5)));
        assert!(!s[0].last && s[1].last, "only the last commit carries the checkpoint");
        assert!(s.iter().all(|s| !s.replace_all));
    }

    #[test]
    fn a_month_table_rewrites_whole_months() {
        let s = slices(&job("month"), &Scope::Days(days(30, 1)), &BTreeMap::new(), WEEK);
        assert_eq!(s[0].values, NaiveDate::from_ymd_opt(2024, 1, 1).map(|d| BTreeSet::from([d])));
        assert_eq!(s[0].read.as_ref().map(BTreeSet::len), Some(31), "every day of January");
    }

    #[test]
    fn a_month_table_computes_each_month_once_however_many_days_changed() {
        let mut changed = days(20, 12);
        changed.extend((1..=10).filter_map(|d| NaiveDate::from_ymd_opt(2024, 2, d)));
        let sql = "-- partition: month\nSELECT * FROM gold.fee_recipients_daily";
        let monthly = Job::parse("gold_m.sql", "m".into(), sql.into()).unwrap().unwrap();
        let s = slices(&monthly, &Scope::Days(changed), &BTreeMap::new(), WEEK);
        let months: Vec<_> = s.iter().map(|s| s.values.clone()).collect();
        let first = |m| NaiveDate::from_ymd_opt(2024, m, 1).map(|d| BTreeSet::from([d]));
        assert_eq!(months, vec![first(1), first(2)], "January, then February: one commit each");
        assert_eq!(s[1].read.as_ref().map(BTreeSet::len), Some(29), "every day of February 2024");
    }

    #[test]
    fn days_per_commit_is_the_configured_number() {
        let s = slices(&job("block_date"), &Scope::Days(days(1, 10)), &BTreeMap::new(), days_only(10));
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].values, Some(days(1, 10)));
        let s = slices(&job("block_date"), &Scope::Days(days(1, 10)), &BTreeMap::new(), days_only(3));
        assert_eq!(
            s.iter().map(|s| s.values.as_ref().map_or(0, BTreeSet::len)).collect::<Vec<_>>(),
            [3, 3, 3, 1]
        );
    }

    #[test]
    fn busy_days_make_shorter_commits_and_a_day_above_the_bound_is_one_commit() {
        let values: Vec<NaiveDate> = days(1, 10).into_iter().collect();
        // Day d holds d × 100 rows; with a bound of 1 100: days 1..=4 (1 000), 5+6 (1 100), then
        // every day from 7 on alone (each with the next is over).
        let weight = |d: &NaiveDate| u64::from(d.day()) * 100;
        let sizes = |rows| {
            chunks(&values, Bound { days: 7, rows }, weight).iter().map(|c| c.len()).collect::<Vec<_>>()
        };
        assert_eq!(sizes(1_100), [4, 2, 1, 1, 1, 1]);
        assert_eq!(sizes(u64::MAX), [7, 3], "only the days bound");
        assert_eq!(sizes(1), [1; 10], "every day above the bound: one commit each, none skipped");
        assert_eq!(sizes(5_500), [7, 3], "the days bound first: 1..=7 is 2 800 rows");
        assert!(chunks(&[], Bound { days: 7, rows: 1 }, weight).is_empty());
    }

    #[test]
    fn the_default_rows_bound_follows_the_memory_pool() {
        assert_eq!(rows_per_commit(512 << 20), 4_194_304);
        assert_eq!(rows_per_commit(0), 1, "never zero: a commit always takes a day");
    }

    #[test]
    fn a_rebuild_without_data_replaces_the_table_once() {
        let s = slices(&job("day"), &Scope::Full("test".into()), &BTreeMap::new(), WEEK);
        assert_eq!(s, vec![Slice { values: None, read: None, replace_all: true, last: true }]);
    }
}
