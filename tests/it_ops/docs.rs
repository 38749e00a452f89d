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

/// Every Silver and Gold table's SQL file documents each of its columns, and no other (the
/// schemas come from running every job on empty Bronze tables); docs/tables.md says so.
#[tokio::test]
async fn every_column_is_documented_in_its_sql_file() {
    use chainlake_medallion::bronze::{bronze_schema, rejected_schema, REJECTED_TABLE};
    use chainlake_medallion::jobs::catalog::{new_session, register_batches};
    use chainlake_medallion::jobs::{execute, load_jobs};
    use chainlake_medallion::lake::Layer;
    use chainlake_wire::TopicKind;

    let ctx = new_session().unwrap();
    for kind in TopicKind::ALL {
        register_batches(&ctx, Layer::Bronze, kind.table_name(), bronze_schema(kind), Vec::new()).unwrap();
    }
    register_batches(&ctx, Layer::Bronze, REJECTED_TABLE, rejected_schema(), Vec::new()).unwrap();
    let (mut missing, mut stale) = (Vec::new(), Vec::new());
    for job in load_jobs(None).unwrap() {
        let (schema, _) = execute(&ctx, &job).await.unwrap();
        let table = job.table().to_string();
        let documented: Vec<String> = job.column_docs().into_iter().map(|c| c.name).collect();
        for field in schema.fields() {
            if !documented.contains(field.name()) {
                missing.push(format!("{table}.{}", field.name()));
            }
        }
        for name in &documented {
            if schema.field_with_name(name).is_err() {
                stale.push(format!("{table}.{name}"));
            }
        }
    }
    assert!(missing.is_empty(), "columns their SQL file does not document: {missing:?}");
    assert!(stale.is_empty(), "documented columns the tables do not have: {stale:?}");
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/tables.md")).unwrap_or_default();
    assert!(doc.contains("documented in its SQL file"), "docs/tables.md says where the columns are");
}
