//! Proof of completeness: a fetched block and its receipts are the ones asked for and the ones
//! its header commits to.
//!
//! Reads the raw `eth_getBlockByNumber(n, true)` and receipts answers; recomputes, with alloy's
//! consensus types and `alloy-trie` (no hand-written RLP or trie): the header hash from the
//! header fields (every era: Frontier, London base fee, Shanghai withdrawals root, Cancun blob
//! gas and beacon root, Prague requests hash), each transaction's hash and the transactions
//! root from their EIP-2718 encodings (types 0–4), the receipts root (pre-Byzantium receipts
//! commit to a post-state `root`, later ones to `status`), and the withdrawals root.
//!
//! Values an answer carries outside every trie are checked against what the tries prove
//! (header.rs, txs.rs, receipts.rs): the block's `number` is the height asked for; each
//! transaction's `from` is the signer recovered from its signature ([`VerifyOptions::senders`]),
//! its `blockHash`, `blockNumber` and `transactionIndex` are the block's and its position;
//! each receipt's `blockHash`, `blockNumber`, `transactionHash`, `transactionIndex`, `from`
//! and `to` are its transaction's, `gasUsed` is the step of `cumulativeGasUsed`,
//! `effectiveGasPrice` follows from the transaction and the base fee, `contractAddress` from
//! the sender and nonce of a deployment (absent otherwise); each log names its block,
//! transaction and block-wide position and is not `removed`. What no check covers is listed
//! in docs/tables.md ("unproven fields").

mod header;
pub mod raw;
mod receipts;
mod txs;
mod verdict;

use alloy::primitives::B256;
use serde_json::Value;

pub use header::verify_header;
use verdict::Checked;
pub use verdict::{Check, Failure, Reason, VerifyOptions};

/// Verifies that `block` is the block at height `asked` and that its header, transactions,
/// withdrawals and `receipts` are the ones the header commits to.
pub fn verify_block(block: &Value, receipts: &Value, asked: u64, opts: &VerifyOptions) -> Checked<()> {
    let (header, hash) = verify_header(block)?;
    if header.number != asked {
        return Err(Failure::new(
            Reason::WrongBlock,
            format!("asked for block {asked}, the answer is block {} ({hash})", header.number),
        ));
    }
    let proven = within(hash, txs::verify_transactions(block, &header, hash, opts))?;
    within(hash, txs::verify_withdrawals(block, &header))?;
    within(hash, receipts::verify_receipts(receipts, &header, hash, &proven))
}

/// A failure past the header: the proven hash goes with it.
fn within<T>(hash: B256, checked: Checked<T>) -> Checked<T> {
    checked.map_err(|f| f.with_hash(hash))
}
