//! `chainlake abi lookup <selector | topic0>`: every signature a 4-byte selector or a 32-byte
//! event topic may mean, from the registered ABIs and the signature database.

use alloy_primitives::B256;

use crate::entries::Origin;
use crate::registry::Registry;
use crate::signatures::db;
use crate::value::unhex;

/// One signature a selector or topic may mean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// `function` or `event`.
    pub kind: &'static str,
    /// The signature, with parameter names and `indexed` markers where known.
    pub signature: String,
    pub origin: Origin,
}

impl Registry {
    /// The candidates for `hex`: a selector (4 bytes) or a topic (32 bytes), the registered
    /// ABIs' first; `None` when it is neither.
    pub fn lookup(&self, hex: &str) -> Option<Vec<Candidate>> {
        let bytes = unhex(hex.trim())?;
        // (candidate, its signature without parameter names: one line per distinct signature)
        let mut out: Vec<(Candidate, String)> = Vec::new();
        if let Ok(selector) = <[u8; 4]>::try_from(bytes.as_slice()) {
            let registered = self.all.functions.get(&selector).into_iter().flatten();
            let known =
                self.signatures.then(|| db().functions.get(&selector)).flatten().into_iter().flatten();
            for f in registered.chain(known) {
                let params: Vec<String> = f.params.iter().map(|(n, t)| format!("{t} {n}")).collect();
                let signature = format!("{}({})", f.name, params.join(", "));
                out.push((
                    Candidate { kind: "function", signature, origin: Origin::of(&f.abi) },
                    f.signature.clone(),
                ));
            }
        } else if bytes.len() == 32 {
            let topic = B256::from_slice(&bytes);
            let registered = (0..4).flat_map(|n| self.all.events.get(&(topic, n))).flatten();
            let known = (0..4)
                .flat_map(|n| self.signatures.then(|| db().events.get(&(topic, n))).flatten())
                .flatten();
            for e in registered.chain(known) {
                let params: Vec<String> = e
                    .params
                    .iter()
                    .map(|(n, t, i)| if *i { format!("{t} indexed {n}") } else { format!("{t} {n}") })
                    .collect();
                let signature = format!("{}({})", e.name, params.join(", "));
                let indexed: Vec<String> = e
                    .params
                    .iter()
                    .map(|(_, t, i)| if *i { format!("{t} indexed") } else { t.clone() })
                    .collect();
                let key = format!("{}({})", e.name, indexed.join(","));
                out.push((Candidate { kind: "event", signature, origin: Origin::of(&e.abi) }, key));
            }
            for e in self.signatures.then(|| db().plain_events.get(&topic)).flatten().into_iter().flatten() {
                out.push((
                    Candidate { kind: "event", signature: e.signature(), origin: Origin::Signatures },
                    e.signature(),
                ));
            }
        } else {
            return None;
        }
        // The same signature from an ABI and from the database: the ABI's (it names parameters).
        let mut seen = std::collections::HashSet::new();
        Some(out.into_iter().filter(|(_, key)| seen.insert(key.clone())).map(|(c, _)| c).collect())
    }
}
