//! What a selector or a topic may mean, resolved for decoding: the entries the registry
//! indexes and the signature database yields, and where a decoding came from. Imports no
//! sibling: the registry, the signature database and the decoders all read these.

use alloy_dyn_abi::{DynSolEvent, DynSolType, Specifier};
use alloy_json_abi::{Event, Function};

/// Where a decoding came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The ABI bound to the contract's address.
    Bound(String),
    /// A registered ABI, matched by selector or topic.
    Abi(String),
    /// The signature database.
    Signatures,
}

impl Origin {
    /// A registered ABI's (`Some(name)`) or the signature database's (`None`).
    pub(crate) fn of(abi: &Option<String>) -> Origin {
        abi.as_ref().map_or(Origin::Signatures, |a| Origin::Abi(a.clone()))
    }

    /// `bound:<abi>`, `abi:<abi>` or `signatures`.
    pub fn label(&self) -> String {
        match self {
            Origin::Bound(a) => format!("bound:{a}"),
            Origin::Abi(a) => format!("abi:{a}"),
            Origin::Signatures => "signatures".into(),
        }
    }
}

/// A function a selector may mean, resolved for decoding.
#[derive(Debug)]
pub(crate) struct FunctionEntry {
    pub(crate) signature: String,
    pub(crate) name: String,
    /// Each input's name (or `argN`) and type name.
    pub(crate) params: Vec<(String, String)>,
    /// The inputs as one tuple, decoded as a sequence.
    pub(crate) inputs: DynSolType,
    pub(crate) abi: Option<String>,
}

impl FunctionEntry {
    pub(crate) fn new(f: &Function, abi: Option<String>) -> Result<Self, String> {
        let types =
            f.inputs.iter().map(|p| p.resolve().map_err(|e| e.to_string())).collect::<Result<_, _>>()?;
        let params = f
            .inputs
            .iter()
            .enumerate()
            .map(|(i, p)| (arg_name(&p.name, i), p.selector_type().into_owned()))
            .collect();
        Ok(FunctionEntry {
            signature: f.signature(),
            name: f.name.clone(),
            params,
            inputs: DynSolType::Tuple(types),
            abi,
        })
    }
}

/// An event a topic0 may mean, resolved for decoding.
#[derive(Debug)]
pub(crate) struct EventEntry {
    pub(crate) signature: String,
    pub(crate) name: String,
    /// Each input's name (or `argN`), type name and whether it is indexed, in declaration order.
    pub(crate) params: Vec<(String, String, bool)>,
    pub(crate) resolved: DynSolEvent,
    pub(crate) abi: Option<String>,
}

impl EventEntry {
    pub(crate) fn new(e: &Event, abi: Option<String>) -> Result<Self, String> {
        let resolved = e.resolve().map_err(|e| e.to_string())?;
        let params = e
            .inputs
            .iter()
            .enumerate()
            .map(|(i, p)| (arg_name(&p.name, i), p.selector_type().into_owned(), p.indexed))
            .collect();
        Ok(EventEntry { signature: e.signature(), name: e.name.clone(), params, resolved, abi })
    }

    pub(crate) fn indexed(&self) -> usize {
        self.params.iter().filter(|p| p.2).count()
    }
}

fn arg_name(name: &str, i: usize) -> String {
    if name.is_empty() {
        format!("arg{i}")
    } else {
        name.to_owned()
    }
}
