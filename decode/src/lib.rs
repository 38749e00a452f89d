//! chainlake-decode: what contracts were asked and what they said. An ABI registry (built-in
//! ABIs, a directory of user ABIs, contracts bound to one, and a compiled-in signature
//! database) and two pure functions over raw bytes, [`Registry::decode_call`] and
//! [`Registry::decode_event`], with lossless values. The medallion calls them as SQL functions
//! over Bronze; the real-time decode stage over the records it consumes.
//!
//! Reads: decode/abi/*.json and decode/signatures/*.txt.gz (compiled in), `abi.dir`.
//! Writes: nothing.

mod builtin;
mod decoder;
mod lookup;
mod registry;
mod signatures;
pub mod value;

use std::path::PathBuf;

pub use decoder::{Decoded, Status};
pub use lookup::Candidate;
pub use registry::{parse_abi, AbiConfig, Binding, Origin, Registry};
pub use value::Arg;

/// A registry that could not be built: the file, ABI or binding, and why.
#[derive(Debug, thiserror::Error)]
pub enum AbiError {
    #[error("ABI file {}: {reason}", file.display())]
    File { file: PathBuf, reason: String },
    #[error("ABI directory {}: {reason}", dir.display())]
    Dir { dir: PathBuf, reason: String },
    #[error("ABI {name}: {reason}")]
    Abi { name: String, reason: String },
    #[error("built-in ABI {name}: {reason}")]
    BuiltIn { name: &'static str, reason: String },
    #[error("[[abi.contracts]] address {address}: {reason}")]
    Binding { address: String, reason: String },
}
