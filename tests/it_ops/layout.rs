//! The crate layout keeps its promises (docs/architecture.md): medallion builds against the
//! wire contract and the pure decoders (alloy's ABI types only), never against ingest's RPC,
//! Redis or terminal dependencies; the wire contract itself stays light. Asked of `cargo tree`
//! (offline, from Cargo.lock).

use std::collections::BTreeSet;
use std::process::Command;

/// Every package in `cargo tree -p package` (all dependency kinds).
fn tree(package: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["tree", "-p", package, "--prefix", "none", "--locked", "--offline"])
        .output()
        .unwrap_or_else(|e| panic!("running cargo tree: {e}"));
    assert!(out.status.success(), "cargo tree -p {package}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

fn matching<'a>(deps: &'a BTreeSet<String>, prefixes: &[&str]) -> Vec<&'a String> {
    deps.iter().filter(|d| prefixes.iter().any(|p| d.starts_with(p))).collect()
}

#[test]
fn medallion_depends_on_the_wire_contract_not_on_ingest() {
    let deps = tree("chainlake-medallion");
    assert!(deps.contains("chainlake-wire"), "{deps:?}");
    let forbidden = matching(&deps, &["alloy", "redis", "indicatif", "chainlake-ingest"]);
    // Decoding (chainlake-decode) brings alloy's ABI and primitive types, no RPC or consensus.
    let abi_only = |d: &&String| {
        d.starts_with("alloy-sol")
            || ["alloy-dyn-abi", "alloy-json-abi", "alloy-primitives", "alloy-rlp"].contains(&d.as_str())
    };
    let forbidden: Vec<&String> = forbidden.into_iter().filter(|d| !abi_only(d)).collect();
    assert!(forbidden.is_empty(), "chainlake-medallion pulls in {forbidden:?}");
    assert!(deps.contains("chainlake-decode"), "the SQL functions decode with chainlake-decode");
}

#[test]
fn the_wire_contract_is_light() {
    let deps = tree("chainlake-wire");
    let heavy = matching(&deps, &["alloy", "rdkafka", "deltalake", "redis", "tokio", "arrow-array"]);
    assert!(heavy.is_empty(), "chainlake-wire pulls in {heavy:?}");
}

mod modules;

/// No module of any crate imports a module that (through others) imports it back: each role's
/// trait sits in a file that imports none of its implementations (docs/architecture.md).
#[test]
fn no_crate_has_an_import_circle() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for krate in ["src", "wire/src", "decode/src", "ingest/src", "medallion/src"] {
        let graph = modules::graph(&root.join(krate));
        assert!(graph.len() > 3, "{krate}: modules read: {:?}", graph.keys().collect::<Vec<_>>());
        for cycle in modules::cycles(&graph) {
            let names: Vec<String> =
                cycle.iter().map(|m| if m.is_empty() { "crate".into() } else { m.join("::") }).collect();
            found.push(format!("{krate}: {}", names.join(" <-> ")));
        }
    }
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

/// The folders (a crate's top-level modules) form no circle either: a picture of them is a
/// layering, drawn in docs/architecture.md, where each folder only reads the ones below it.
#[test]
fn no_crate_has_a_folder_circle() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for krate in ["src", "wire/src", "decode/src", "ingest/src", "medallion/src"] {
        let folders = modules::folders(&modules::graph(&root.join(krate)));
        for cycle in modules::cycles(&folders) {
            let names: Vec<String> = cycle.iter().map(|m| m.join("::")).collect();
            found.push(format!("{krate}: {}", names.join(" <-> ")));
        }
    }
    assert!(found.is_empty(), "folder circles:\n{}", found.join("\n"));
}
