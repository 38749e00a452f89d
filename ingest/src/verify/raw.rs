//! One block as a provider answered it: the raw JSON of the block and of its receipts, and what
//! verification found. Imports nothing of the crate but the verdict.

use serde_json::Value;

use super::Check;

/// The raw responses for one block, as the node sent them, and what verification found.
#[derive(Debug, Clone)]
pub struct RawBlock {
    /// The height asked for.
    pub number: u64,
    pub block: Value,
    pub receipts: Value,
    /// Pseudonym of the provider that answered.
    pub provider: String,
    pub check: Check,
}

impl RawBlock {
    pub fn new(number: u64, block: Value, receipts: Value, provider: &str) -> Self {
        RawBlock { number, block, receipts, provider: provider.to_owned(), check: Check::Unchecked }
    }
}
