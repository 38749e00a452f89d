//! Recorded mainnet blocks (testdata/mainnet, provenance in its README) through ingest's pure
//! code, no service: every block parses losslessly, proves against its header, and decodes.
//! One test binary for the tier; each file one family.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

mod decoded;
mod lossless;
mod verify;

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The recorded blocks and receipts.
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/mainnet")
}

/// One recorded file, as JSON.
fn read(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join(name)).unwrap()).unwrap()
}

/// The heights of every recorded block (`block-{n}.json`), ascending.
fn block_numbers() -> Vec<u64> {
    let mut out: Vec<u64> = std::fs::read_dir(fixtures())
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.strip_prefix("block-")?.strip_suffix(".json")?.parse().ok()
        })
        .collect();
    out.sort_unstable();
    out
}
