//! The SQL jobs of `sql/`: `sql/silver_<name>.sql` writes `silver.<name>`,
//! `sql/gold_<name>.sql` writes `gold.<name>`. Silver runs before Gold; within a layer, files
//! run in name order. The files are compiled into the binary; `medallion.sql-dir` replaces
//! them with a directory's.
//!
//! Each file starts with comment lines; one of them names the partition column of its table
//! (`-- partition: block_date`, `day` or `month`): a job rewrites only the partitions its
//! inputs changed (see `incremental`). The tables a job reads are the `bronze.x`, `silver.x`
//! and `gold.x` names in its SQL.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::lake::Layer;
use crate::{Error, Result};

// The SQL files compiled into the binary: `BUILT_IN`, every job of the repository's `sql/`
// (written by build.rs).
include!(concat!(env!("OUT_DIR"), "/sql_jobs.rs"));

/// A table a job reads or writes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableRef {
    pub layer: Layer,
    pub name: String,
}

impl std::fmt::Display for TableRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.layer, self.name)
    }
}

/// One SQL file: a `SELECT` whose result becomes `layer.name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub layer: Layer,
    pub name: String,
    /// Where the SQL came from (a path, or `built-in:<file>`).
    pub path: PathBuf,
    pub sql: String,
    /// The partition column of the table (`-- partition:`).
    pub partition: String,
    /// The tables the SQL reads.
    pub inputs: BTreeSet<TableRef>,
}

impl Job {
    /// Parses one file. `file` is its name (`silver_blocks.sql`); `None` if it is not a job.
    pub fn parse(file: &str, path: PathBuf, sql: String) -> Result<Option<Job>> {
        let Some(stem) = file.strip_suffix(".sql") else { return Ok(None) };
        let (layer, name) = match stem.split_once('_') {
            Some(("silver", n)) => (Layer::Silver, n),
            Some(("gold", n)) => (Layer::Gold, n),
            _ => return Ok(None),
        };
        let partition = header(&sql, "partition").ok_or_else(|| Error::Jobs {
            source_of: path.display().to_string(),
            reason: "no `-- partition: <column>` line (the column its table is partitioned by)".into(),
        })?;
        let me = TableRef { layer, name: name.to_owned() };
        let inputs = table_refs(&sql).into_iter().filter(|t| *t != me).collect();
        Ok(Some(Job { layer, name: name.to_owned(), path, sql, partition, inputs }))
    }

    /// Whether the SQL decodes (calls `decode_call` or `decode_event`): its rows depend on the
    /// ABI registry too, not only on its input tables.
    pub fn decodes(&self) -> bool {
        let sql = self.sql.to_ascii_lowercase();
        sql.contains("decode_call(") || sql.contains("decode_event(")
    }

    /// `layer.name`.
    pub fn table(&self) -> TableRef {
        TableRef { layer: self.layer, name: self.name.clone() }
    }

    /// The table's documentation: the comment block at the top of its SQL file, without the
    /// `-- ` of each line (what it holds and reads, its partition, a table of its columns).
    pub fn doc(&self) -> String {
        let lines = self.sql.lines().take_while(|l| l.trim_start().starts_with("--"));
        let text: Vec<&str> =
            lines.map(|l| l.trim_start().trim_start_matches("--").trim_start_matches(' ')).collect();
        text.join("\n")
    }

    /// The columns its documentation lists (`| name | type | meaning |` rows), in order.
    pub fn column_docs(&self) -> Vec<ColumnDoc> {
        self.doc()
            .lines()
            .filter_map(|l| {
                let cells: Vec<&str> =
                    l.strip_prefix('|')?.strip_suffix('|')?.split('|').map(str::trim).collect();
                let [name, ty, meaning] = cells.as_slice() else { return None };
                let header = *name == "column" || name.starts_with("---");
                (!header).then(|| ColumnDoc {
                    name: (*name).into(),
                    ty: (*ty).into(),
                    meaning: (*meaning).into(),
                })
            })
            .collect()
    }
}

/// One column as a table's SQL file documents it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDoc {
    pub name: String,
    /// The type in words (`bigint`, `decimal(38,0)`, `timestamp (UTC)`).
    pub ty: String,
    pub meaning: String,
}

/// The value of a `-- key: value` comment line.
fn header(sql: &str, key: &str) -> Option<String> {
    sql.lines().filter_map(|l| l.trim().strip_prefix("--")).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_owned()).filter(|v| !v.is_empty())
    })
}

/// Every `bronze.x` / `silver.x` / `gold.x` the SQL names outside comments.
fn table_refs(sql: &str) -> BTreeSet<TableRef> {
    let code: String = sql.lines().map(|l| l.split("--").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let mut out = BTreeSet::new();
    for layer in Layer::ALL {
        let prefix = format!("{layer}.");
        let mut rest = code.as_str();
        while let Some(at) = rest.find(&prefix) {
            let before = rest[..at].chars().next_back();
            let after = &rest[at + prefix.len()..];
            let name: String = after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !name.is_empty() && !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                out.insert(TableRef { layer, name });
            }
            rest = after;
        }
    }
    out
}

/// The jobs: the built-in SQL, or every `silver_*.sql` and `gold_*.sql` of `dir`; Silver
/// first, then by name.
pub fn load_jobs(dir: Option<&Path>) -> Result<Vec<Job>> {
    let mut jobs = Vec::new();
    match dir {
        None => {
            for (file, sql) in BUILT_IN {
                jobs.extend(Job::parse(file, PathBuf::from(format!("built-in:{file}")), (*sql).to_owned())?);
            }
        }
        Some(dir) => {
            let io = |source| Error::Io { path: dir.display().to_string(), source };
            for entry in std::fs::read_dir(dir).map_err(io)? {
                let path = entry.map_err(io)?.path();
                let Some(file) = path.file_name().and_then(|f| f.to_str()).map(str::to_owned) else {
                    continue;
                };
                if !file.ends_with(".sql") {
                    continue;
                }
                let sql = std::fs::read_to_string(&path)
                    .map_err(|source| Error::Io { path: path.display().to_string(), source })?;
                jobs.extend(Job::parse(&file, path, sql)?);
            }
        }
    }
    jobs.sort_by(|a, b| (a.layer != Layer::Silver, &a.name).cmp(&(b.layer != Layer::Silver, &b.name)));
    let jobs = in_dependency_order(jobs)?;
    if jobs.is_empty() {
        return Err(Error::Jobs {
            source_of: dir.map_or("built-in".into(), |d| d.display().to_string()),
            reason: "no silver_*.sql or gold_*.sql".into(),
        });
    }
    Ok(jobs)
}

/// Orders `jobs` (sorted by layer, then name) so that each runs after the jobs whose tables
/// it reads, keeping the sorted order otherwise; a cycle is a configuration error.
fn in_dependency_order(mut pending: Vec<Job>) -> Result<Vec<Job>> {
    let mut done: Vec<Job> = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let produced: BTreeSet<TableRef> = pending.iter().map(Job::table).collect();
        let Some(next) = pending.iter().position(|j| j.inputs.iter().all(|i| !produced.contains(i))) else {
            let names: Vec<String> = pending.iter().map(|j| j.table().to_string()).collect();
            return Err(Error::Jobs {
                source_of: "their inputs".into(),
                reason: format!("they read each other in a cycle: {names:?}"),
            });
        };
        done.push(pending.remove(next));
    }
    Ok(done)
}

/// The names of the built-in SQL files (tests check them against `sql/`).
pub fn built_in_files() -> Vec<&'static str> {
    BUILT_IN.iter().map(|(f, _)| *f).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_names_its_partition_and_inputs() {
        let sql = "-- silver.x: reads bronze.ignored_in_comments\n-- partition: block_date\n\
                   SELECT * FROM bronze.blocks b JOIN silver.blocks s ON s.hash = b.hash, mybronze.nope";
        let job = Job::parse("silver_x.sql", "x".into(), sql.into()).unwrap().unwrap();
        assert_eq!(job.partition, "block_date");
        let inputs: Vec<String> = job.inputs.iter().map(ToString::to_string).collect();
        assert_eq!(inputs, ["bronze.blocks", "silver.blocks"]);
    }

    #[test]
    fn a_job_without_a_partition_line_is_refused() {
        let err = Job::parse("gold_y.sql", "y".into(), "SELECT 1".into()).unwrap_err().to_string();
        assert!(err.contains("-- partition:"), "{err}");
    }

    #[test]
    fn a_job_runs_after_the_tables_it_reads() {
        let job = |file: &str, sql: &str| {
            Job::parse(file, file.into(), format!("-- partition: day\n{sql}")).unwrap().unwrap()
        };
        let jobs = vec![
            job("silver_a.sql", "SELECT * FROM silver.b"),
            job("silver_b.sql", "SELECT * FROM bronze.blocks"),
            job("gold_c.sql", "SELECT * FROM silver.a"),
        ];
        let names: Vec<String> =
            in_dependency_order(jobs).unwrap().iter().map(|j| j.table().to_string()).collect();
        assert_eq!(names, ["silver.b", "silver.a", "gold.c"]);
        let cycle = vec![
            job("silver_a.sql", "SELECT * FROM silver.b"),
            job("silver_b.sql", "SELECT * FROM silver.a"),
        ];
        assert!(in_dependency_order(cycle).is_err());
    }

    #[test]
    fn every_built_in_file_is_a_job() {
        let jobs = load_jobs(None).unwrap();
        assert_eq!(jobs.len(), BUILT_IN.len());
        assert_eq!(jobs[0].name, "blocks");
    }
}
