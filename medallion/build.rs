//! The SQL jobs compiled into the binary: every `silver_*.sql` and `gold_*.sql` of the
//! repository's `sql/` directory, found here so that adding a job is adding its file (and its
//! golden test), with no list to keep in step.

use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|f| f.ends_with(".sql") && (f.starts_with("silver_") || f.starts_with("gold_")))
        .collect();
    files.sort();
    let mut out = String::from("/// Every SQL job file of `sql/`, by name, with its text.\n");
    out.push_str("pub(crate) const BUILT_IN: &[(&str, &str)] = &[\n");
    for f in &files {
        let path = dir.join(f).canonicalize().unwrap_or_else(|e| panic!("{f}: {e}"));
        out.push_str(&format!("    ({f:?}, include_str!({:?})),\n", path.display().to_string()));
    }
    out.push_str("];\n");
    let target =
        Path::new(&std::env::var("OUT_DIR").unwrap_or_else(|e| panic!("OUT_DIR: {e}"))).join("sql_jobs.rs");
    std::fs::write(&target, out).unwrap_or_else(|e| panic!("{}: {e}", target.display()));
}
