//! What changed in a Delta table between two versions, read from its commit files alone
//! (`_delta_log/<version>.json`): the partition values that gained or lost rows and the files
//! added. Cost grows with the commits since the checkpoint, never with the table.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use deltalake::DeltaTable;
use serde::Deserialize;

use crate::{Error, Result};

/// The data changes of a table in a range of versions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Values of the partition column (`None` for an unpartitioned table) of every file added
    /// or removed with `dataChange`; compaction (`dataChange: false`) is not a change.
    pub partitions: BTreeSet<Option<String>>,
    /// Paths (relative to the table root) of the files added with `dataChange`.
    pub added: Vec<String>,
    /// A commit rewrote the whole table without a predicate (a full refresh upstream).
    pub rewrote_all: bool,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.partitions.is_empty() && !self.rewrote_all
    }
}

/// Why the changes cannot be read and a full refresh is needed instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gap {
    /// The commit file of this version is gone (log retention cleaned it up).
    Missing(u64),
}

#[derive(Deserialize)]
struct Line {
    add: Option<FileAction>,
    remove: Option<FileAction>,
    #[serde(rename = "commitInfo")]
    commit_info: Option<CommitInfo>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileAction {
    path: String,
    #[serde(default)]
    partition_values: std::collections::HashMap<String, Option<String>>,
    #[serde(default = "yes")]
    data_change: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct CommitInfo {
    operation: Option<String>,
    #[serde(rename = "operationParameters")]
    parameters: Option<serde_json::Value>,
}

impl CommitInfo {
    /// An overwrite without a predicate replaces every partition, including ones it left empty.
    fn rewrote_all(&self) -> bool {
        let overwrite = self.parameters.as_ref().and_then(|p| p.get("mode")).and_then(|m| m.as_str())
            == Some("Overwrite");
        let predicate =
            self.parameters.as_ref().and_then(|p| p.get("predicate")).is_some_and(|p| !p.is_null());
        self.operation.as_deref() == Some("WRITE") && overwrite && !predicate
    }
}

/// Reads the commits `first..=last` of `table` and collects their data changes.
pub async fn changes(
    table: &DeltaTable,
    partition: Option<&str>,
    first: u64,
    last: u64,
) -> Result<Result<Changes, Gap>> {
    let store = table.log_store();
    let mut out = Changes::default();
    for version in first..=last {
        let bytes =
            store.read_commit_entry(version).await.map_err(Error::delta("read commit", table.table_url()))?;
        let Some(bytes) = bytes else { return Ok(Err(Gap::Missing(version))) };
        parse_commit(&bytes, partition, &mut out).map_err(|reason| Error::CommitLog {
            table: table.table_url().to_string(),
            version,
            reason,
        })?;
    }
    Ok(Ok(out))
}

/// The rows the table's latest commit added (its `operationMetrics.num_added_rows`).
pub async fn added_rows(table: &DeltaTable) -> Result<usize> {
    let Some(version) = table.version() else { return Ok(0) };
    let bytes = table
        .log_store()
        .read_commit_entry(version)
        .await
        .map_err(Error::delta("read commit", table.table_url()))?
        .unwrap_or_default();
    Ok(bytes
        .split(|b| *b == b'\n')
        .filter_map(|l| serde_json::from_slice::<serde_json::Value>(l).ok())
        .find_map(|v| {
            v.pointer("/commitInfo/operationMetrics/num_added_rows").and_then(serde_json::Value::as_u64)
        })
        .map_or(0, |n| n as usize))
}

/// The date a partition value names (`2024-01-02`), if it is one.
pub fn partition_date(value: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()
}

/// Each file of the table's snapshot: the date its `partition` column names (`None` for an
/// unpartitioned table) and its row count (from the file list alone; no data is read).
pub fn files(table: &DeltaTable, partition: Option<&str>) -> Vec<(Option<NaiveDate>, u64)> {
    let Ok(snapshot) = table.snapshot() else { return Vec::new() };
    snapshot
        .log_data()
        .into_iter()
        .map(|f| {
            let date = partition
                .and_then(|p| f.partition_values_map().get(p).cloned().flatten())
                .and_then(|v| partition_date(&v));
            (date, f.num_records().unwrap_or(0) as u64)
        })
        .collect()
}

/// The partitions (dates of `partition`) the table has now.
pub fn partition_count(table: &DeltaTable, partition: &str) -> usize {
    files(table, Some(partition)).into_iter().filter_map(|(d, _)| d).collect::<BTreeSet<_>>().len()
}

/// Rows in the files of `table` a run reads: all of them (`days` is `None`, or the table is
/// unpartitioned), else those of the partitions whose value is one of `days`.
pub fn rows_in(table: &DeltaTable, partition: Option<&str>, days: Option<&BTreeSet<NaiveDate>>) -> u64 {
    files(table, partition)
        .into_iter()
        .filter(|(date, _)| match (partition, days) {
            (Some(_), Some(days)) => date.is_some_and(|d| days.contains(&d)),
            _ => true,
        })
        .map(|(_, rows)| rows)
        .sum()
}

/// Adds one commit file's data changes to `out`.
fn parse_commit(bytes: &[u8], partition: Option<&str>, out: &mut Changes) -> std::result::Result<(), String> {
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)) {
        let line: Line = serde_json::from_slice(line).map_err(|e| e.to_string())?;
        if line.commit_info.as_ref().is_some_and(CommitInfo::rewrote_all) {
            out.rewrote_all = true;
        }
        for (file, added) in [(line.add, true), (line.remove, false)] {
            let Some(file) = file.filter(|f| f.data_change) else { continue };
            let value = partition.and_then(|p| file.partition_values.get(p).cloned().flatten());
            out.partitions.insert(value);
            if added {
                out.added.push(file.path);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compaction_is_not_a_change_and_removes_are() {
        let commit = br#"{"commitInfo":{"operation":"WRITE","operationParameters":{"mode":"Overwrite","predicate":"block_date = '2024-01-02'"}}}
{"add":{"path":"block_date=2024-01-02/a.parquet","partitionValues":{"block_date":"2024-01-02"},"dataChange":true}}
{"remove":{"path":"block_date=2024-01-01/old.parquet","partitionValues":{"block_date":"2024-01-01"},"dataChange":true}}
{"add":{"path":"block_date=2024-01-03/big.parquet","partitionValues":{"block_date":"2024-01-03"},"dataChange":false}}
"#;
        let mut out = Changes::default();
        parse_commit(commit, Some("block_date"), &mut out).unwrap();
        let dates: Vec<_> = out.partitions.iter().flatten().map(String::as_str).collect();
        assert_eq!(dates, ["2024-01-01", "2024-01-02"]);
        assert_eq!(out.added, ["block_date=2024-01-02/a.parquet"]);
        assert!(!out.rewrote_all, "a replaceWhere names its partitions");
    }

    #[test]
    fn an_overwrite_without_predicate_rewrites_all() {
        let commit = br#"{"commitInfo":{"operation":"WRITE","operationParameters":{"mode":"Overwrite"}}}
"#;
        let mut out = Changes::default();
        parse_commit(commit, Some("day"), &mut out).unwrap();
        assert!(out.rewrote_all && !out.is_empty());
    }
}
