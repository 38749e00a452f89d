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
mod entries;
mod error;
mod lookup;
mod registry;
mod signatures;
pub mod value;

pub use decoder::{Decoded, Status};
pub use entries::Origin;
pub use error::AbiError;
pub use lookup::Candidate;
pub use registry::{parse_abi, AbiConfig, Binding, Registry};
pub use value::Arg;
