//! What verification says: why a block failed ([`Reason`], [`Failure`]), what a fetch found
//! ([`Check`]), what it checks beyond the roots ([`VerifyOptions`]), and the readers of answer
//! fields every check uses. Imports no sibling: the checks import it.

use alloy::primitives::B256;
use serde::Deserialize;
use serde_json::Value;

/// Why a block failed verification (a metric label and the `reason` of `{chain}.unverified`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A field alloy's consensus types could not read (garbled, missing).
    Decode,
    /// A transaction of a type this code does not know (EIP-2718 type above 4): its hash and
    /// the transactions root cannot be recomputed. Deterministic: every honest provider sends it.
    UnknownTxType,
    /// `eth_getBlockByNumber` returned transaction hashes, not objects.
    NotHydrated,
    /// The answer is another height's block (its `number` is not the one asked for).
    WrongBlock,
    HeaderHash,
    TxHash,
    /// A transaction object names another block or position than the one it is in.
    TxPosition,
    /// A transaction's `from` is not the signer its signature recovers to.
    Sender,
    TransactionsRoot,
    WithdrawalsRoot,
    /// Receipts were `null` (or not a list) for a block with transactions.
    NullReceipts,
    /// Fewer or more receipts than transactions.
    ReceiptsCount,
    /// A receipt names another block.
    ReceiptBlockHash,
    /// A receipt at position i belongs to another transaction (swapped, foreign), or names
    /// another sender or recipient than its transaction.
    ReceiptTx,
    ReceiptsRoot,
    /// `gasUsed` is not the step of `cumulativeGasUsed`, or the last one is not the header's.
    ReceiptGasUsed,
    /// `effectiveGasPrice` is not what the transaction and base fee imply.
    EffectiveGasPrice,
    /// `contractAddress` is not the one the sender and nonce of a deployment create (or is set
    /// on a transaction that deploys nothing).
    ContractAddress,
    /// Log indices are not 0, 1, 2… across the block.
    LogIndex,
    /// A log names another block or transaction than the receipt it is in, or is `removed`.
    LogContext,
    /// The block could not be transformed into records after verification (kept raw).
    Malformed,
}

impl Reason {
    pub fn label(self) -> &'static str {
        match self {
            Reason::Decode => "decode",
            Reason::UnknownTxType => "unknown_tx_type",
            Reason::NotHydrated => "not_hydrated",
            Reason::WrongBlock => "wrong_block",
            Reason::HeaderHash => "header_hash",
            Reason::TxHash => "tx_hash",
            Reason::TxPosition => "tx_position",
            Reason::Sender => "sender",
            Reason::TransactionsRoot => "transactions_root",
            Reason::WithdrawalsRoot => "withdrawals_root",
            Reason::NullReceipts => "null_receipts",
            Reason::ReceiptsCount => "receipts_count",
            Reason::ReceiptBlockHash => "receipt_block_hash",
            Reason::ReceiptTx => "receipt_tx",
            Reason::ReceiptsRoot => "receipts_root",
            Reason::ReceiptGasUsed => "receipt_gas_used",
            Reason::EffectiveGasPrice => "effective_gas_price",
            Reason::ContractAddress => "contract_address",
            Reason::LogIndex => "log_index",
            Reason::LogContext => "log_context",
            Reason::Malformed => "malformed",
        }
    }

    /// Whether the header and transactions were fine and only the receipts answer was wrong
    /// (then the receipts alone are fetched again, by block hash).
    pub fn receipts_only(self) -> bool {
        matches!(
            self,
            Reason::NullReceipts
                | Reason::ReceiptsCount
                | Reason::ReceiptBlockHash
                | Reason::ReceiptTx
                | Reason::ReceiptsRoot
                | Reason::ReceiptGasUsed
                | Reason::EffectiveGasPrice
                | Reason::ContractAddress
                | Reason::LogIndex
                | Reason::LogContext
        )
    }
}

/// What failed, with the header's commitment and the recomputed value where there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {detail}", reason.label())]
pub struct Failure {
    pub reason: Reason,
    /// In words, with coordinates (boxed: failures are returned by every check).
    pub detail: Box<str>,
    pub expected: Option<B256>,
    pub computed: Option<B256>,
    /// The block's hash when its header was proven (it hashes to it) and it is the height
    /// asked for: the failure is in its contents, so the hash can be trusted.
    pub proven_hash: Option<B256>,
}

impl Failure {
    pub(super) fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Failure {
            reason,
            detail: detail.into().into_boxed_str(),
            expected: None,
            computed: None,
            proven_hash: None,
        }
    }

    /// An answer that could not be read at all.
    pub fn decode(detail: impl Into<String>) -> Self {
        Failure::new(Reason::Decode, detail)
    }

    pub(super) fn mismatch(reason: Reason, what: &str, expected: B256, computed: B256) -> Self {
        Failure {
            reason,
            detail: format!("{what}: header commits to {expected}, answer gives {computed}").into_boxed_str(),
            expected: Some(expected),
            computed: Some(computed),
            proven_hash: None,
        }
    }

    pub(super) fn with_hash(mut self, hash: B256) -> Self {
        self.proven_hash = Some(hash);
        self
    }
}

pub(super) type Checked<T> = Result<T, Failure>;

/// What verification found for a fetched block (see `chain.verify`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Not checked (`verify = off`, or not yet).
    Unchecked,
    /// Header hash and every root matched.
    Verified,
    /// Failed every attempt; `verify = warn` publishes it anyway, flagged `verified = false`.
    Failed { failure: Failure, attempts: u32 },
    /// Failed every attempt under `verify = strict`: goes to `{chain}.unverified` only.
    Rejected { failure: Failure, attempts: u32 },
}

impl Check {
    pub fn is_verified(&self) -> bool {
        matches!(self, Check::Verified)
    }

    /// The failure of a block given up on.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Check::Failed { failure, .. } | Check::Rejected { failure, .. } => Some(failure),
            Check::Unchecked | Check::Verified => None,
        }
    }
}

/// Which transactions' senders are recovered from their signatures (`chain.verify-senders`):
/// recovery is the costliest check (an elliptic-curve operation per transaction).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VerifyOptions {
    /// Fraction of each block's transactions whose sender is recovered, spread evenly over
    /// the block: 1.0 every one, 0.0 none. A `from` not checked is named so in docs/tables.md.
    pub senders: f64,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions { senders: 1.0 }
    }
}

impl VerifyOptions {
    /// Whether the sender of transaction `i` is recovered: every ⌈1 / senders⌉-th one.
    pub(super) fn checks_sender(&self, i: usize) -> bool {
        if self.senders >= 1.0 {
            return true;
        }
        if self.senders <= 0.0 || self.senders.is_nan() {
            return false;
        }
        let every = (1.0 / self.senders).ceil() as usize;
        i.is_multiple_of(every.max(1))
    }
}

pub(super) fn decode<'a, T: Deserialize<'a>>(v: &'a Value, what: &str) -> Checked<T> {
    T::deserialize(v).map_err(|e| Failure::new(Reason::Decode, format!("{what}: {e}")))
}

pub(super) fn hash_field(o: &Value, key: &str, what: &str) -> Checked<B256> {
    let s = o
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| Failure::new(Reason::Decode, format!("{what}: no {key}")))?;
    s.parse().map_err(|_| Failure::new(Reason::Decode, format!("{what}: {key} {s:?} is not a 32-byte hash")))
}

/// A hex quantity field, if present and readable.
pub(super) fn quantity(o: &Value, key: &str) -> Option<u64> {
    o.get(key).and_then(Value::as_str).and_then(chainlake_wire::hexnum::parse_u64)
}

/// An address field (`None` when absent or null); a malformed one is a decode failure.
pub(super) fn address_field(o: &Value, key: &str, what: &str) -> Checked<Option<alloy::primitives::Address>> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => decode(v, &format!("{what} {key}")).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_are_sampled_evenly() {
        let every = |f: f64| (0..10).filter(|i| VerifyOptions { senders: f }.checks_sender(*i)).count();
        assert_eq!(every(1.0), 10);
        assert_eq!(every(0.5), 5);
        assert_eq!(every(0.25), 3, "every 4th of 10: 0, 4, 8");
        assert_eq!(every(0.0), 0);
        assert_eq!(every(f64::NAN), 0);
    }
}
