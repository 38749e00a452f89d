//! Proof of completeness: a fetched block and its receipts are the ones its header commits to.
//!
//! Reads the raw `eth_getBlockByNumber(n, true)` and receipts answers; recomputes, with alloy's
//! consensus types and `alloy-trie` (no hand-written RLP or trie): the header hash from the
//! header fields (every era: Frontier, London base fee, Shanghai withdrawals root, Cancun blob
//! gas and beacon root, Prague requests hash), each transaction's hash and the transactions
//! root from their EIP-2718 encodings (types 0–4), the receipts root (pre-Byzantium receipts
//! commit to a post-state `root`, later ones to `status`), and the withdrawals root. Values a
//! receipt carries outside the trie are checked against what the trie proves: `blockHash`,
//! `transactionHash` and `transactionIndex` (position), `gasUsed` (the step of
//! `cumulativeGasUsed`), `effectiveGasPrice` (from the transaction and the base fee) and
//! `logIndex` (block-wide position).

use alloy::consensus::proofs::{
    calculate_receipt_root, calculate_transaction_root, calculate_withdrawals_root,
};
use alloy::consensus::{
    Eip658Value, Header, Receipt, ReceiptEnvelope, ReceiptWithBloom, Transaction as _, TxEnvelope,
    EMPTY_ROOT_HASH,
};
use alloy::eips::eip4895::Withdrawal;
use alloy::eips::{Encodable2718, Typed2718};
use alloy::primitives::{keccak256, Bloom, Log, B256};
use serde::Deserialize;
use serde_json::Value;

use chainlake_wire::hexnum;

/// Why a block failed verification (a metric label and the `reason` of `{chain}.unverified`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A field alloy's consensus types could not read (garbled, missing, unknown type).
    Decode,
    /// `eth_getBlockByNumber` returned transaction hashes, not objects.
    NotHydrated,
    HeaderHash,
    TxHash,
    TransactionsRoot,
    WithdrawalsRoot,
    /// Receipts were `null` (or not a list) for a block with transactions.
    NullReceipts,
    /// Fewer or more receipts than transactions.
    ReceiptsCount,
    /// A receipt names another block.
    ReceiptBlockHash,
    /// A receipt at position i belongs to another transaction (swapped, foreign).
    ReceiptTx,
    ReceiptsRoot,
    /// `gasUsed` is not the step of `cumulativeGasUsed`, or the last one is not the header's.
    ReceiptGasUsed,
    /// `effectiveGasPrice` is not what the transaction and base fee imply.
    EffectiveGasPrice,
    /// Log indices are not 0, 1, 2… across the block.
    LogIndex,
    /// The block could not be transformed into records after verification (kept raw).
    Malformed,
}

impl Reason {
    pub fn label(self) -> &'static str {
        match self {
            Reason::Decode => "decode",
            Reason::NotHydrated => "not_hydrated",
            Reason::HeaderHash => "header_hash",
            Reason::TxHash => "tx_hash",
            Reason::TransactionsRoot => "transactions_root",
            Reason::WithdrawalsRoot => "withdrawals_root",
            Reason::NullReceipts => "null_receipts",
            Reason::ReceiptsCount => "receipts_count",
            Reason::ReceiptBlockHash => "receipt_block_hash",
            Reason::ReceiptTx => "receipt_tx",
            Reason::ReceiptsRoot => "receipts_root",
            Reason::ReceiptGasUsed => "receipt_gas_used",
            Reason::EffectiveGasPrice => "effective_gas_price",
            Reason::LogIndex => "log_index",
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
                | Reason::LogIndex
        )
    }
}

/// What failed, with the header's commitment and the recomputed value where there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {detail}", reason.label())]
pub struct Failure {
    pub reason: Reason,
    pub detail: String,
    pub expected: Option<B256>,
    pub computed: Option<B256>,
}

impl Failure {
    fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Failure { reason, detail: detail.into(), expected: None, computed: None }
    }

    /// An answer that could not be read at all.
    pub fn decode(detail: impl Into<String>) -> Self {
        Failure::new(Reason::Decode, detail)
    }

    fn mismatch(reason: Reason, what: &str, expected: B256, computed: B256) -> Self {
        Failure {
            reason,
            detail: format!("{what}: header commits to {expected}, answer gives {computed}"),
            expected: Some(expected),
            computed: Some(computed),
        }
    }
}

type Checked<T> = Result<T, Failure>;

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
}

/// Verifies the header, transactions, withdrawals and receipts of one block.
pub fn verify_block(block: &Value, receipts: &Value) -> Checked<()> {
    let (header, hash) = verify_header(block)?;
    let txs = verify_transactions(block, &header)?;
    verify_withdrawals(block, &header)?;
    verify_receipts(receipts, &header, hash, &txs)
}

fn decode<'a, T: Deserialize<'a>>(v: &'a Value, what: &str) -> Checked<T> {
    T::deserialize(v).map_err(|e| Failure::new(Reason::Decode, format!("{what}: {e}")))
}

fn hash_field(o: &Value, key: &str, what: &str) -> Checked<B256> {
    let s = o
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| Failure::new(Reason::Decode, format!("{what}: no {key}")))?;
    s.parse().map_err(|_| Failure::new(Reason::Decode, format!("{what}: {key} {s:?} is not a 32-byte hash")))
}

/// The header decoded with alloy, and its hash, which must equal the `hash` field.
pub fn verify_header(block: &Value) -> Checked<(Header, B256)> {
    let header: Header = decode(block, "header")?;
    let claimed = hash_field(block, "hash", "header")?;
    let computed = header.hash_slow();
    if computed != claimed {
        return Err(Failure::mismatch(Reason::HeaderHash, "header hash", claimed, computed));
    }
    Ok((header, claimed))
}

/// One transaction as proven: its hash, and what its receipt must agree with.
#[derive(Debug, Clone, Copy)]
pub struct ProvenTx {
    hash: B256,
    ty: u8,
    gas_price: Option<u128>,
    max_fee: u128,
    max_priority_fee: Option<u128>,
}

fn verify_transactions(block: &Value, header: &Header) -> Checked<Vec<ProvenTx>> {
    let raw = match block.get("transactions") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(a)) => a.as_slice(),
        Some(_) => return Err(Failure::new(Reason::Decode, "transactions is not a list")),
    };
    let mut envelopes = Vec::with_capacity(raw.len());
    let mut proven = Vec::with_capacity(raw.len());
    for (i, t) in raw.iter().enumerate() {
        if !t.is_object() {
            return Err(Failure::new(Reason::NotHydrated, format!("transaction {i} is not an object")));
        }
        let env: TxEnvelope = decode(t, &format!("transaction {i}"))?;
        let claimed = hash_field(t, "hash", &format!("transaction {i}"))?;
        // The envelope keeps the `hash` it was given (and `trie_hash` returns it): recompute it
        // from the encoding.
        let computed = keccak256(env.encoded_2718());
        if computed != claimed {
            return Err(Failure::mismatch(
                Reason::TxHash,
                &format!("transaction {i} hash"),
                claimed,
                computed,
            ));
        }
        proven.push(ProvenTx {
            hash: claimed,
            ty: env.ty(),
            gas_price: env.gas_price(),
            max_fee: env.max_fee_per_gas(),
            max_priority_fee: env.max_priority_fee_per_gas(),
        });
        envelopes.push(env);
    }
    let computed = calculate_transaction_root(&envelopes);
    if computed != header.transactions_root {
        return Err(Failure::mismatch(
            Reason::TransactionsRoot,
            "transactions root",
            header.transactions_root,
            computed,
        ));
    }
    Ok(proven)
}

fn verify_withdrawals(block: &Value, header: &Header) -> Checked<()> {
    let listed = block.get("withdrawals").filter(|w| !w.is_null());
    match (header.withdrawals_root, listed) {
        (None, None) => Ok(()),
        (None, Some(_)) => {
            Err(Failure::new(Reason::WithdrawalsRoot, "withdrawals without a withdrawals root"))
        }
        (Some(root), listed) => {
            let ws: Vec<Withdrawal> = match listed {
                Some(w) => decode(w, "withdrawals")?,
                None => Vec::new(),
            };
            let computed = calculate_withdrawals_root(&ws);
            if computed != root {
                return Err(Failure::mismatch(Reason::WithdrawalsRoot, "withdrawals root", root, computed));
            }
            Ok(())
        }
    }
}

fn verify_receipts(receipts: &Value, header: &Header, hash: B256, txs: &[ProvenTx]) -> Checked<()> {
    let list = match receipts {
        Value::Array(a) => a.as_slice(),
        Value::Null if txs.is_empty() && header.receipts_root == EMPTY_ROOT_HASH => &[][..],
        _ => {
            return Err(Failure::new(Reason::NullReceipts, format!("receipts answer is {}", kind(receipts))))
        }
    };
    if list.len() != txs.len() {
        return Err(Failure::new(
            Reason::ReceiptsCount,
            format!("{} receipts for {} transactions", list.len(), txs.len()),
        ));
    }
    let mut envelopes = Vec::with_capacity(list.len());
    let mut gas = GasSteps::default();
    let mut next_log = 0u64;
    for (i, (r, tx)) in list.iter().zip(txs).enumerate() {
        check_position(r, i, tx, hash)?;
        let env = receipt_envelope(r, i)?;
        gas.check(r, i, env.cumulative_gas_used())?;
        check_price(r, i, tx, header.base_fee_per_gas)?;
        next_log = check_log_indices(r, i, next_log)?;
        envelopes.push(env);
    }
    if txs.last().is_some() && gas.cumulative != header.gas_used {
        return Err(Failure::new(
            Reason::ReceiptGasUsed,
            format!(
                "last cumulativeGasUsed {} is not the header's gasUsed {}",
                gas.cumulative, header.gas_used
            ),
        ));
    }
    let computed = calculate_receipt_root(&envelopes);
    if computed != header.receipts_root {
        return Err(Failure::mismatch(Reason::ReceiptsRoot, "receipts root", header.receipts_root, computed));
    }
    Ok(())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The receipt at position `i` names the block, the transaction and the index it must.
fn check_position(r: &Value, i: usize, tx: &ProvenTx, block: B256) -> Checked<()> {
    let what = format!("receipt {i}");
    let tx_hash = hash_field(r, "transactionHash", &what)?;
    if tx_hash != tx.hash {
        return Err(Failure::new(
            Reason::ReceiptTx,
            format!("{what} is for transaction {tx_hash}, expected {}", tx.hash),
        ));
    }
    if let Some(b) = r.get("blockHash").filter(|b| !b.is_null()) {
        let b: B256 = decode(b, &what)?;
        if b != block {
            return Err(Failure::new(
                Reason::ReceiptBlockHash,
                format!("{what} names block {b}, expected {block}"),
            ));
        }
    }
    let index = r.get("transactionIndex").and_then(Value::as_str).and_then(hexnum::parse_u64);
    if index.is_some_and(|n| n != i as u64) {
        return Err(Failure::new(Reason::ReceiptTx, format!("{what} has transactionIndex {index:?}")));
    }
    Ok(())
}

/// The consensus receipt: type, status or post-state root, cumulative gas, bloom, logs.
fn receipt_envelope(r: &Value, i: usize) -> Checked<ReceiptEnvelope> {
    let what = format!("receipt {i}");
    let quantity = |key: &str| r.get(key).and_then(Value::as_str).and_then(hexnum::parse_u64);
    let ty = quantity("type").unwrap_or(0);
    // Pre-Byzantium receipts commit to the post-state root; some providers add a `status` too.
    let root = r.get("root").and_then(Value::as_str).and_then(|s| s.parse::<B256>().ok());
    let status = match (root, quantity("status")) {
        (Some(root), _) => Eip658Value::PostState(root),
        (None, Some(s)) => Eip658Value::Eip658(s == 1),
        (None, None) => return Err(Failure::new(Reason::Decode, format!("{what}: neither status nor root"))),
    };
    let cumulative_gas_used = quantity("cumulativeGasUsed")
        .ok_or_else(|| Failure::new(Reason::Decode, format!("{what}: no cumulativeGasUsed")))?;
    let logs: Vec<alloy::rpc::types::Log> = match r.get("logs") {
        Some(l) => decode(l, &what)?,
        None => Vec::new(),
    };
    let logs: Vec<Log> = logs.into_iter().map(|l| l.inner).collect();
    let receipt = Receipt { status, cumulative_gas_used, logs };
    let with_bloom = match r.get("logsBloom") {
        Some(b) => ReceiptWithBloom { logs_bloom: decode::<Bloom>(b, &what)?, receipt },
        None => ReceiptWithBloom::from(receipt),
    };
    Ok(match ty {
        0 => ReceiptEnvelope::Legacy(with_bloom),
        1 => ReceiptEnvelope::Eip2930(with_bloom),
        2 => ReceiptEnvelope::Eip1559(with_bloom),
        3 => ReceiptEnvelope::Eip4844(with_bloom),
        4 => ReceiptEnvelope::Eip7702(with_bloom),
        other => return Err(Failure::new(Reason::Decode, format!("{what}: unknown receipt type {other}"))),
    })
}

/// Running `cumulativeGasUsed`: each `gasUsed` must be its step.
#[derive(Default)]
struct GasSteps {
    cumulative: u64,
}

impl GasSteps {
    fn check(&mut self, r: &Value, i: usize, cumulative: u64) -> Checked<()> {
        let used = r.get("gasUsed").and_then(Value::as_str).and_then(hexnum::parse_u64);
        let step = cumulative.checked_sub(self.cumulative);
        if step.is_none() || used != step {
            return Err(Failure::new(
                Reason::ReceiptGasUsed,
                format!(
                    "receipt {i}: gasUsed {used:?} but cumulativeGasUsed went {} → {cumulative}",
                    self.cumulative
                ),
            ));
        }
        self.cumulative = cumulative;
        Ok(())
    }
}

/// `effectiveGasPrice`, when present, is the legacy price or min(max fee, base fee + tip).
fn check_price(r: &Value, i: usize, tx: &ProvenTx, base_fee: Option<u64>) -> Checked<()> {
    let Some(paid) = r.get("effectiveGasPrice").and_then(Value::as_str) else { return Ok(()) };
    let paid = hexnum::parse_u128(paid)
        .ok_or_else(|| Failure::new(Reason::Decode, format!("receipt {i}: effectiveGasPrice {paid:?}")))?;
    let expected = match (tx.ty, tx.gas_price, base_fee) {
        (0 | 1, Some(p), _) => p,
        (_, _, Some(base)) => {
            let tip = tx.max_priority_fee.unwrap_or(0);
            tx.max_fee.min(u128::from(base).saturating_add(tip))
        }
        // A dynamic-fee transaction without a base fee: nothing to derive the price from.
        _ => return Ok(()),
    };
    if paid != expected {
        return Err(Failure::new(
            Reason::EffectiveGasPrice,
            format!("receipt {i}: effectiveGasPrice {paid}, transaction and base fee give {expected}"),
        ));
    }
    Ok(())
}

/// Log indices continue across the block; returns the next expected index.
fn check_log_indices(r: &Value, i: usize, mut next: u64) -> Checked<u64> {
    let Some(logs) = r.get("logs").and_then(Value::as_array) else { return Ok(next) };
    for l in logs {
        let index = l.get("logIndex").and_then(Value::as_str).and_then(hexnum::parse_u64);
        if index.is_some_and(|n| n != next) {
            return Err(Failure::new(
                Reason::LogIndex,
                format!("receipt {i}: logIndex {index:?}, expected {next}"),
            ));
        }
        next += 1;
    }
    Ok(next)
}
