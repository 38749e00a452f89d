//! The decoding rules (pure functions of the raw bytes and the registry):
//!
//! - a **call** is decoded with the ABI bound to its `to` address when that ABI has the
//!   selector; else by its selector against every registered ABI; else against the signature
//!   database. A selector several signatures share is *ambiguous*: every candidate is kept,
//!   none chosen.
//! - a **log** is decoded by its topic0 *and* its number of indexed inputs (topics after the
//!   first; this is what tells ERC-20 `Transfer` from ERC-721 `Transfer`), in the same order:
//!   bound ABI, registered ABIs, signature database. An event of the database known without
//!   `indexed` markers gets its name, and arguments only where the split is certain.
//!
//! Anything that fails keeps a reason (`error`); the caller keeps the raw bytes beside it.

use std::sync::Arc;

use alloy_dyn_abi::DynSolValue;
use alloy_primitives::{Address, B256};

use crate::entries::{EventEntry, FunctionEntry, Origin};
use crate::registry::Registry;
use crate::signatures::{db, plain_split};
use crate::value::{json, Arg};

/// How far decoding got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Name, signature and every argument.
    Decoded,
    /// The name and signature are known, the arguments could not be placed (an event known
    /// without `indexed` markers).
    Named,
    /// Several signatures share the selector or topic: `candidates` lists them.
    Ambiguous,
    /// Nothing registered or in the database matches.
    Unknown,
    /// A signature matched but the bytes do not decode with it (`error` says why).
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Decoded => "decoded",
            Status::Named => "named",
            Status::Ambiguous => "ambiguous",
            Status::Unknown => "unknown",
            Status::Failed => "failed",
        }
    }
}

/// What decoding one call or log gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub status: Status,
    /// The method or event name.
    pub name: Option<String>,
    /// Its canonical signature (`transfer(address,uint256)`).
    pub signature: Option<String>,
    pub origin: Option<Origin>,
    /// The arguments in declaration order (empty unless `Decoded`).
    pub args: Vec<Arg>,
    /// Every signature an ambiguous selector or topic may mean, sorted.
    pub candidates: Vec<String>,
    /// Why it did not decode (`Failed`), or what is odd.
    pub error: Option<String>,
}

impl Decoded {
    /// Input that never reached the decoder (not hex, say), with the reason.
    pub fn failed(why: &str) -> Self {
        Decoded::status(Status::Failed, Some(why.to_owned()))
    }

    fn status(status: Status, error: Option<String>) -> Self {
        Decoded {
            status,
            name: None,
            signature: None,
            origin: None,
            args: Vec::new(),
            candidates: Vec::new(),
            error,
        }
    }
}

impl Registry {
    /// Decodes a transaction's `input` sent to `to`. `None` for an empty input (a transfer, a
    /// deployment's absent `to` aside: there is no call to decode).
    pub fn decode_call(&self, to: Option<&Address>, input: &[u8]) -> Option<Decoded> {
        if input.is_empty() {
            return None;
        }
        let Some((selector, data)) = input.split_first_chunk::<4>() else {
            let why = format!("input of {} bytes is shorter than a selector", input.len());
            return Some(Decoded::status(Status::Failed, Some(why)));
        };
        if let Some((abi, index)) =
            to.and_then(|a| self.bindings.get(a)).and_then(|n| Some((n, self.abis.get(n)?)))
        {
            if let Some(f) = index.functions.get(selector).and_then(|v| v.first()) {
                return Some(call_with(f, data, Origin::Bound(abi.clone())));
            }
        }
        if let Some(fs) = self.all.functions.get(selector) {
            return Some(choose_call(fs, data));
        }
        if self.signatures {
            if let Some(fs) = db().functions.get(selector) {
                return Some(choose_call(fs, data));
            }
        }
        Some(Decoded::status(Status::Unknown, None))
    }

    /// Decodes a log of `address` (`None`: not an address, so bound to nothing) with `topics`
    /// (topic0 first) and `data`.
    pub fn decode_event(&self, address: Option<&Address>, topics: &[B256], data: &[u8]) -> Decoded {
        let Some(topic0) = topics.first() else {
            return Decoded::status(Status::Unknown, Some("no topics (an anonymous event)".into()));
        };
        let key = (*topic0, topics.len() - 1);
        if let Some((abi, index)) =
            address.and_then(|a| self.bindings.get(a)).and_then(|n| Some((n, self.abis.get(n)?)))
        {
            if let Some(e) = index.events.get(&key).and_then(|v| v.first()) {
                return event_with(e, topics, data, Origin::Bound(abi.clone()));
            }
        }
        if let Some(es) = self.all.events.get(&key) {
            return choose_event(es, topics, data);
        }
        if self.signatures {
            if let Some(es) = db().events.get(&key) {
                return choose_event(es, topics, data);
            }
        }
        if let Some(other) = (0..4).find(|n| self.all.events.contains_key(&(*topic0, *n))) {
            let why = format!("topic0 is an event with {other} indexed inputs; the log has {}", key.1);
            return Decoded::status(Status::Failed, Some(why));
        }
        if self.signatures {
            if let Some(plain) = db().plain_events.get(topic0) {
                return plain_event(plain, topics, data);
            }
        }
        Decoded::status(Status::Unknown, None)
    }
}

fn choose_call(fs: &[Arc<FunctionEntry>], data: &[u8]) -> Decoded {
    match fs {
        [f] => call_with(f, data, Origin::of(&f.abi)),
        _ => ambiguous(fs.iter().map(|f| (&f.name, &f.signature))),
    }
}

fn choose_event(es: &[Arc<EventEntry>], topics: &[B256], data: &[u8]) -> Decoded {
    match es {
        [e] => event_with(e, topics, data, Origin::of(&e.abi)),
        _ => ambiguous(es.iter().map(|e| (&e.name, &e.signature))),
    }
}

/// Several signatures: all kept, sorted, none chosen; the name only if they all share it.
fn ambiguous<'a>(candidates: impl Iterator<Item = (&'a String, &'a String)>) -> Decoded {
    let (names, mut signatures): (Vec<&String>, Vec<String>) =
        candidates.map(|(n, s)| (n, s.clone())).unzip();
    signatures.sort();
    signatures.dedup();
    let name = names.first().filter(|n| names.iter().all(|m| m == *n)).map(|n| (*n).clone());
    Decoded { name, candidates: signatures, ..Decoded::status(Status::Ambiguous, None) }
}

fn call_with(f: &FunctionEntry, data: &[u8], origin: Origin) -> Decoded {
    let named = |status, error| Decoded {
        name: Some(f.name.clone()),
        signature: Some(f.signature.clone()),
        origin: Some(origin.clone()),
        ..Decoded::status(status, error)
    };
    match f.inputs.abi_decode_sequence(data) {
        Ok(DynSolValue::Tuple(values)) if values.len() == f.params.len() => {
            let args = f
                .params
                .iter()
                .zip(&values)
                .map(|((name, ty), v)| Arg {
                    name: name.clone(),
                    ty: ty.clone(),
                    value: json(v),
                    indexed: false,
                })
                .collect();
            Decoded { args, ..named(Status::Decoded, None) }
        }
        Ok(_) => named(Status::Failed, Some("arguments do not match the signature's inputs".into())),
        Err(e) => named(Status::Failed, Some(format!("{e} ({} bytes of arguments)", data.len()))),
    }
}

fn event_with(e: &EventEntry, topics: &[B256], data: &[u8], origin: Origin) -> Decoded {
    let named = |status, error| Decoded {
        name: Some(e.name.clone()),
        signature: Some(e.signature.clone()),
        origin: Some(origin.clone()),
        ..Decoded::status(status, error)
    };
    let decoded = match e.resolved.decode_log_parts(topics.iter().copied(), data) {
        Ok(d) => d,
        Err(err) => return named(Status::Failed, Some(format!("{err} ({} bytes of data)", data.len()))),
    };
    let (mut indexed, mut body) = (decoded.indexed.iter(), decoded.body.iter());
    let mut args = Vec::with_capacity(e.params.len());
    for (name, ty, is_indexed) in &e.params {
        let value = if *is_indexed { indexed.next() } else { body.next() };
        let Some(value) = value else {
            return named(Status::Failed, Some("fewer values than the event's inputs".into()));
        };
        args.push(Arg { name: name.clone(), ty: ty.clone(), value: json(value), indexed: *is_indexed });
    }
    Decoded { args, ..named(Status::Decoded, None) }
}

/// Events of the database known by signature only.
fn plain_event(plain: &[Arc<alloy_json_abi::Event>], topics: &[B256], data: &[u8]) -> Decoded {
    let indexed = topics.len() - 1;
    let fits: Vec<&Arc<alloy_json_abi::Event>> =
        plain.iter().filter(|e| e.inputs.len() >= indexed && !e.anonymous).collect();
    match fits.as_slice() {
        [e] => match plain_split(e, indexed) {
            Some(entry) => event_with(&entry, topics, data, Origin::Signatures),
            None => Decoded {
                name: Some(e.name.clone()),
                signature: Some(e.signature()),
                origin: Some(Origin::Signatures),
                ..Decoded::status(
                    Status::Named,
                    Some(format!("which {indexed} inputs are indexed is unknown")),
                )
            },
        },
        [] => Decoded::status(
            Status::Unknown,
            Some(format!("topic0 is an event with fewer than {indexed} inputs")),
        ),
        many => {
            let names: Vec<String> = many.iter().map(|e| e.name.clone()).collect();
            let signatures: Vec<String> = many.iter().map(|e| e.signature()).collect();
            ambiguous(names.iter().zip(&signatures))
        }
    }
}
