//! The SQL jobs of `sql/`: `sql/silver_<name>.sql` writes `silver.<name>`,
//! `sql/gold_<name>.sql` writes `gold.<name>`. Silver runs before Gold; within a layer, files
//! run in name order.

use std::path::{Path, PathBuf};

use crate::lake::Layer;
use crate::{Error, Result};

/// One SQL file: a `SELECT` whose result becomes `layer.name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub layer: Layer,
    pub name: String,
    pub path: PathBuf,
    pub sql: String,
}

/// Reads every `silver_*.sql` and `gold_*.sql` of `dir`, Silver first, then by name.
pub fn load_jobs(dir: &Path) -> Result<Vec<Job>> {
    let io = |source| Error::Io { path: dir.display().to_string(), source };
    let mut jobs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let Some(file) = path.file_name().and_then(|f| f.to_str()) else { continue };
        let Some(stem) = file.strip_suffix(".sql") else { continue };
        let (layer, name) = match stem.split_once('_') {
            Some(("silver", n)) => (Layer::Silver, n),
            Some(("gold", n)) => (Layer::Gold, n),
            _ => continue,
        };
        let sql = std::fs::read_to_string(&path)
            .map_err(|source| Error::Io { path: path.display().to_string(), source })?;
        jobs.push(Job { layer, name: name.to_owned(), path, sql });
    }
    jobs.sort_by(|a, b| (a.layer != Layer::Silver, &a.name).cmp(&(b.layer != Layer::Silver, &b.name)));
    if jobs.is_empty() {
        return Err(Error::Config {
            what: format!("sql dir {}", dir.display()),
            reason: "no silver_*.sql or gold_*.sql".into(),
        });
    }
    Ok(jobs)
}
