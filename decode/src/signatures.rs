//! The signature database compiled into the binary (decode/signatures/, provenance in its
//! README.md): function and event signatures of contracts nobody registered. Indexed by keccak
//! once per process, on first use (see `chainlake bench decode` for the time it takes).

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, OnceLock};

use alloy_json_abi::{Event, Function};
use alloy_primitives::B256;

use crate::entries::{EventEntry, FunctionEntry};

const FUNCTIONS: &[u8] = include_bytes!("../signatures/functions.txt.gz");
const EVENTS: &[u8] = include_bytes!("../signatures/events.txt.gz");
/// The line that starts the events whose inputs carry no `indexed` markers.
const PLAIN_SECTION: &str = "# plain signatures";

/// The database, indexed.
#[derive(Debug, Default)]
pub(crate) struct SignatureDb {
    pub(crate) functions: HashMap<[u8; 4], Vec<Arc<FunctionEntry>>>,
    /// Events whose `indexed` inputs are known, by (topic0, indexed inputs).
    pub(crate) events: HashMap<(B256, usize), Vec<Arc<EventEntry>>>,
    /// Events known by their signature only (which inputs are indexed is not), by topic0.
    pub(crate) plain_events: HashMap<B256, Vec<Arc<Event>>>,
    /// Lines that did not parse as a signature (left out).
    pub(crate) skipped: usize,
}

/// The database, indexed on first use.
pub(crate) fn db() -> &'static SignatureDb {
    static DB: OnceLock<SignatureDb> = OnceLock::new();
    DB.get_or_init(build)
}

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    // The files are part of the build: a failure here would be a corrupt checkout, and an
    // empty database (every lookup unknown) is what it then gives.
    if flate2::read::GzDecoder::new(bytes).read_to_string(&mut text).is_err() {
        text.clear();
    }
    text
}

fn build() -> SignatureDb {
    let mut db = SignatureDb::default();
    for line in gunzip(FUNCTIONS).lines().filter(|l| !l.is_empty()) {
        let Ok(f) = Function::parse(line) else {
            db.skipped += 1;
            continue;
        };
        let Ok(entry) = FunctionEntry::new(&f, None) else {
            db.skipped += 1;
            continue;
        };
        let selector: [u8; 4] = f.selector().0;
        let entries = db.functions.entry(selector).or_default();
        if !entries.iter().any(|e| e.signature == entry.signature) {
            entries.push(Arc::new(entry));
        }
    }
    let text = gunzip(EVENTS);
    let mut plain = false;
    for line in text.lines().filter(|l| !l.is_empty()) {
        if line.starts_with('#') {
            plain |= line.starts_with(PLAIN_SECTION);
            continue;
        }
        let Ok(e) = Event::parse(line) else {
            db.skipped += 1;
            continue;
        };
        if plain {
            db.plain_events.entry(e.selector()).or_default().push(Arc::new(e));
            continue;
        }
        let Ok(entry) = EventEntry::new(&e, None) else {
            db.skipped += 1;
            continue;
        };
        let entries = db.events.entry((e.selector(), entry.indexed())).or_default();
        if !entries.iter().any(|x| x.signature == entry.signature) {
            entries.push(Arc::new(entry));
        }
    }
    db
}

/// The compiled-in database's identity (the keccak of its files), for the registry's fingerprint.
pub(crate) fn version() -> String {
    let mut both = FUNCTIONS.to_vec();
    both.extend_from_slice(EVENTS);
    format!("{}", alloy_primitives::keccak256(&both))
}

/// A plain event with the one split of its inputs that `indexed` topics allow, if there is
/// exactly one: none indexed, or all. Otherwise which inputs the topics hold is unknown.
pub(crate) fn plain_split(e: &Event, indexed: usize) -> Option<EventEntry> {
    let all = e.inputs.len();
    if indexed != 0 && indexed != all {
        return None;
    }
    let mut e = e.clone();
    for p in &mut e.inputs {
        p.indexed = indexed == all && all > 0;
    }
    EventEntry::new(&e, None).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_database_loads_whole() {
        let db = db();
        let functions: usize = db.functions.values().map(Vec::len).sum();
        assert!(functions > 120_000, "{functions} function signatures");
        assert!(db.events.len() > 8_000 && db.plain_events.len() > 18_000);
        // A few list entries are not Solidity signatures (e.g. reserved words as names).
        assert!(db.skipped < 300, "{} lines skipped", db.skipped);
        assert!(db.functions[&[0xa9, 0x05, 0x9c, 0xbb]]
            .iter()
            .any(|f| f.signature == "transfer(address,uint256)"));
    }

    #[test]
    fn a_plain_event_is_split_only_where_the_split_is_certain() {
        let e = Event::parse("Foo(address,uint256)").unwrap();
        assert!(plain_split(&e, 0).is_some_and(|x| x.indexed() == 0));
        assert!(plain_split(&e, 2).is_some_and(|x| x.indexed() == 2));
        assert!(plain_split(&e, 1).is_none());
        let topic = alloy_primitives::keccak256("Transfer(address,address,uint256)");
        assert_eq!(topic, Event::parse("Transfer(address,address,uint256)").unwrap().selector());
    }
}
