//! The error of building a registry. Imports no sibling.

use std::path::PathBuf;

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
