//! docs/operations.md lists exactly the metrics the crates define (`metrics.rs` of ingest and
//! medallion), with their types and labels. No services needed.

use chainlake_wire::metric::markdown_rows;

const BEGIN: &str = "<!-- metrics:begin";
const END: &str = "<!-- metrics:end -->";

#[test]
fn operations_md_lists_every_metric() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operations.md");
    let doc = std::fs::read_to_string(path).unwrap_or_default();
    let table = doc
        .find(BEGIN)
        .and_then(|b| doc[b..].find('\n').map(|nl| b + nl + 1))
        .and_then(|start| doc[start..].find(END).map(|len| &doc[start..start + len]))
        .unwrap_or_default();
    let mut expected = String::from("| metric | type | labels | meaning |\n|---|---|---|---|\n");
    expected.push_str(&markdown_rows(chainlake_ingest::metrics::ALL));
    expected.push_str(&markdown_rows(chainlake_medallion::metrics::ALL));
    assert!(table == expected, "docs/operations.md's metrics table is stale; it should read:\n{expected}");
}

#[test]
fn metric_names_are_unique_and_prefixed() {
    let mut names: Vec<&str> = chainlake_ingest::metrics::ALL
        .iter()
        .chain(chainlake_medallion::metrics::ALL)
        .map(|m| m.name)
        .collect();
    assert!(names.iter().all(|n| n.starts_with("chainlake_")), "{names:?}");
    let before = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), before, "a metric is defined twice");
}
