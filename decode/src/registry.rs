//! The ABI registry: the built-in ABIs, a directory of user ABI files (`abi.dir`) and the
//! contracts bound to one of them (`[[abi.contracts]]`). Built once at start (a bad file is an
//! error naming it); then only read, by every decoder thread at once.
//!
//! Indexes: per ABI, its functions by selector and its events by (topic0, indexed inputs);
//! across every ABI, the same by distinct signature (the first ABI names the parameters when
//! two share a signature, e.g. ERC-20's and WETH9's `transfer`: the built-ins in their priority
//! order, then the user's files in name order).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use alloy_json_abi::JsonAbi;
use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};

use crate::entries::{EventEntry, FunctionEntry};
use crate::error::AbiError;

/// `[abi]`: where user ABIs are and which contracts use them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AbiConfig {
    /// A directory of JSON ABI files (a plain ABI array, or an artifact with an `abi` field);
    /// each ABI is named after its file (`pair.json` is `pair`). A missing directory holds none.
    #[serde(default = "default_dir")]
    pub dir: PathBuf,
    /// Contracts decoded with a named ABI first.
    #[serde(default)]
    pub contracts: Vec<Binding>,
    /// Whether calls and logs no ABI covers are looked up in the compiled-in signature database.
    #[serde(default = "yes")]
    pub signatures: bool,
    /// Whether the crawler publishes each block's calls and logs decoded, on
    /// `{chain}.decoded.calls` / `{chain}.decoded.events`.
    #[serde(default = "yes")]
    pub publish: bool,
}

fn default_dir() -> PathBuf {
    PathBuf::from("abis")
}

fn yes() -> bool {
    true
}

impl Default for AbiConfig {
    fn default() -> Self {
        AbiConfig { dir: default_dir(), contracts: Vec::new(), signatures: true, publish: true }
    }
}

/// `[[abi.contracts]] address = "0x…", abi = "name"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Binding {
    pub address: String,
    pub abi: String,
    /// The chain the binding is for (every chain when absent).
    #[serde(default)]
    pub chain: Option<String>,
}

/// Functions by selector and events by (topic0, number of indexed inputs).
#[derive(Debug, Default)]
pub(crate) struct Index {
    pub(crate) functions: HashMap<[u8; 4], Vec<Arc<FunctionEntry>>>,
    pub(crate) events: HashMap<(B256, usize), Vec<Arc<EventEntry>>>,
}

impl Index {
    /// Adds `abi`'s functions and events, skipping a signature already there.
    fn add(&mut self, name: &str, abi: &JsonAbi) -> Result<(), String> {
        for f in abi.functions() {
            let entries = self.functions.entry(f.selector().0).or_default();
            let signature = f.signature();
            if !entries.iter().any(|e| e.signature == signature) {
                entries.push(Arc::new(
                    FunctionEntry::new(f, Some(name.to_owned())).map_err(|e| format!("{signature}: {e}"))?,
                ));
            }
        }
        for e in abi.events().filter(|e| !e.anonymous) {
            let entry =
                EventEntry::new(e, Some(name.to_owned())).map_err(|r| format!("{}: {r}", e.signature()))?;
            let entries = self.events.entry((e.selector(), entry.indexed())).or_default();
            if !entries.iter().any(|x| x.signature == entry.signature) {
                entries.push(Arc::new(entry));
            }
        }
        Ok(())
    }
}

/// Every ABI the decoders know, and the contracts bound to one.
#[derive(Debug, Default)]
pub struct Registry {
    /// Each ABI's own index (for a bound contract).
    pub(crate) abis: BTreeMap<String, Index>,
    /// Every ABI's entries together.
    pub(crate) all: Index,
    pub(crate) bindings: HashMap<Address, String>,
    pub(crate) signatures: bool,
    /// What the registry decodes with (see [`Registry::fingerprint`]).
    pub(crate) fingerprint: i64,
}

impl Registry {
    /// The built-in ABIs only (no bindings, with the signature database).
    pub fn builtin() -> Result<Self, AbiError> {
        Registry::from_abis(&builtin_abis()?, true)
    }

    /// The built-in ABIs, `cfg.dir`'s and `cfg.contracts` bound for `chain`.
    pub fn load(cfg: &AbiConfig, chain: &str) -> Result<Self, AbiError> {
        let mut abis = builtin_abis()?;
        for (name, abi) in read_dir(&cfg.dir)? {
            if abis.iter().any(|(n, _)| *n == name) {
                return Err(AbiError::File {
                    file: cfg.dir.join(format!("{name}.json")),
                    reason: format!("{name:?} is a built-in ABI's name: rename the file"),
                });
            }
            abis.push((name, abi));
        }
        let mut registry = Registry::from_abis(&abis, cfg.signatures)?;
        for b in cfg.contracts.iter().filter(|b| b.chain.as_deref().is_none_or(|c| c == chain)) {
            let address: Address = b.address.parse().map_err(|e| AbiError::Binding {
                address: b.address.clone(),
                reason: format!("not an address: {e}"),
            })?;
            if !registry.abis.contains_key(&b.abi) {
                return Err(AbiError::Binding {
                    address: b.address.clone(),
                    reason: format!("no ABI named {:?} (built-in or in the ABI directory)", b.abi),
                });
            }
            registry.bindings.insert(address, b.abi.clone());
        }
        let mut bound: Vec<String> = registry.bindings.iter().map(|(a, n)| format!("{a}={n}")).collect();
        bound.sort();
        registry.fingerprint = fingerprint(&abis, &bound, cfg.signatures);
        Ok(registry)
    }

    fn from_abis(abis: &[(String, JsonAbi)], signatures: bool) -> Result<Self, AbiError> {
        let mut registry =
            Registry { signatures, fingerprint: fingerprint(abis, &[], signatures), ..Registry::default() };
        for (name, abi) in abis {
            let bad = |reason| AbiError::Abi { name: name.clone(), reason };
            let mut own = Index::default();
            own.add(name, abi).map_err(bad)?;
            registry.all.add(name, abi).map_err(bad)?;
            registry.abis.insert(name.clone(), own);
        }
        Ok(registry)
    }

    /// The names of the registered ABIs.
    pub fn abi_names(&self) -> impl Iterator<Item = &str> {
        self.abis.keys().map(String::as_str)
    }

    /// A number that changes when what the registry decodes with changes: its ABIs (names and
    /// entries, in priority order), its bindings, and whether the signature database is used
    /// (that database is compiled in: a new binary may change it). Non-negative.
    pub fn fingerprint(&self) -> i64 {
        self.fingerprint
    }

    /// Every binding, by address.
    pub fn bindings(&self) -> impl Iterator<Item = (&Address, &str)> {
        self.bindings.iter().map(|(a, n)| (a, n.as_str()))
    }

    /// The ABI bound to `address`, if any.
    pub fn bound(&self, address: &Address) -> Option<&str> {
        self.bindings.get(address).map(String::as_str)
    }
}

fn fingerprint(abis: &[(String, JsonAbi)], bindings: &[String], signatures: bool) -> i64 {
    let mut text = String::new();
    for (name, abi) in abis {
        text.push_str(name);
        text.push('\n');
        text.push_str(&serde_json::to_string(abi).unwrap_or_default());
        text.push('\n');
    }
    text.push_str(&bindings.join("\n"));
    if signatures {
        text.push_str(&crate::signatures::version());
    }
    let hash = alloy_primitives::keccak256(text.as_bytes());
    let mut word = [0u8; 8];
    word.copy_from_slice(&hash[..8]);
    i64::from_be_bytes(word) & i64::MAX
}

fn builtin_abis() -> Result<Vec<(String, JsonAbi)>, AbiError> {
    crate::builtin::ABIS
        .iter()
        .map(|(name, json)| {
            let abi = parse_abi(json).map_err(|reason| AbiError::BuiltIn { name, reason })?;
            Ok(((*name).to_owned(), abi))
        })
        .collect()
}

/// An ABI from JSON: a plain array of entries, or an artifact (Hardhat, Truffle, Foundry)
/// whose `abi` field is one.
pub fn parse_abi(json: &str) -> Result<JsonAbi, String> {
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let abi = match value {
        serde_json::Value::Object(mut o) => {
            o.remove("abi").ok_or("a JSON object without an `abi` field (an ABI is an array)")?
        }
        v => v,
    };
    serde_json::from_value(abi).map_err(|e| format!("not an ABI: {e}"))
}

/// Every `*.json` of `dir` (none if it does not exist), named by file stem, in name order.
fn read_dir(dir: &Path) -> Result<Vec<(String, JsonAbi)>, AbiError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(AbiError::Dir { dir: dir.to_owned(), reason: e.to_string() }),
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| {
            e.map(|e| e.path()).map_err(|e| AbiError::Dir { dir: dir.to_owned(), reason: e.to_string() })
        })
        .collect::<Result<_, _>>()?;
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let bad = |reason: String| AbiError::File { file: file.clone(), reason };
            let json = std::fs::read_to_string(&file).map_err(|e| bad(e.to_string()))?;
            let abi = parse_abi(&json).map_err(bad)?;
            let name = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            Ok((name, abi))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use alloy_json_abi::Event;

    #[test]
    fn the_built_in_abis_load_and_erc20_and_erc721_transfer_are_told_apart() {
        let r = Registry::builtin().unwrap();
        assert!(r.abi_names().any(|n| n == "uniswap-v3-pool"));
        let topic = Event::parse("Transfer(address indexed from, address indexed to, uint256 value)")
            .unwrap()
            .selector();
        assert_eq!(r.all.events[&(topic, 2)][0].params[2].0, "value");
        assert_eq!(r.all.events[&(topic, 3)][0].params[2].1, "uint256");
    }

    #[test]
    fn a_file_that_is_not_json_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("good.json"), "[]").unwrap();
        std::fs::write(dir.path().join("broken.json"), "{ not json").unwrap();
        let cfg = AbiConfig { dir: dir.path().to_owned(), ..AbiConfig::default() };
        let err = Registry::load(&cfg, "eth").unwrap_err().to_string();
        assert!(err.contains("broken.json") && err.contains("not JSON"), "{err}");
    }

    #[test]
    fn an_artifact_is_read_through_its_abi_field_and_a_bad_entry_is_named() {
        assert!(parse_abi(r#"{"abi": [], "bytecode": "0x"}"#).is_ok());
        assert!(parse_abi(r#"{"bytecode": "0x"}"#).unwrap_err().contains("abi"));
        assert!(parse_abi(r#"[{"type": "function", "name": 5}]"#).unwrap_err().starts_with("not an ABI"));
    }

    #[test]
    fn bindings_name_a_known_abi_of_their_chain() {
        let dir = tempfile::tempdir().unwrap();
        let bind = |abi: &str, chain: Option<&str>| AbiConfig {
            dir: dir.path().to_owned(),
            contracts: vec![Binding {
                address: "0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc".into(),
                abi: abi.into(),
                chain: chain.map(String::from),
            }],
            signatures: true,
            publish: true,
        };
        let pair: Address = "0xb4e16d0168e52d35cacd2c6185b44281ec28c9dc".parse().unwrap();
        assert_eq!(
            Registry::load(&bind("uniswap-v2-pair", None), "eth").unwrap().bound(&pair),
            Some("uniswap-v2-pair")
        );
        let other_chain = Registry::load(&bind("uniswap-v2-pair", Some("base")), "eth").unwrap();
        assert_eq!(other_chain.bound(&pair), None);
        let bound = Registry::load(&bind("uniswap-v2-pair", None), "eth").unwrap();
        assert_ne!(bound.fingerprint(), other_chain.fingerprint(), "a binding changes the fingerprint");
        assert_eq!(
            other_chain.fingerprint(),
            Registry::load(&bind("uniswap-v2-pair", Some("base")), "eth").unwrap().fingerprint()
        );
        let err = Registry::load(&bind("nope", None), "eth").unwrap_err().to_string();
        assert!(err.contains("nope") && err.contains("0xB4e16d"), "{err}");
    }
}
