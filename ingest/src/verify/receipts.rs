//! Receipts: one per transaction, in order, each naming its block and transaction; their trie
//! is the header's receipts root; the values outside the trie follow from what it proves.

use alloy::consensus::proofs::calculate_receipt_root;
use alloy::consensus::{Eip658Value, Header, Receipt, ReceiptEnvelope, ReceiptWithBloom, EMPTY_ROOT_HASH};
use alloy::primitives::{Bloom, Log, B256};
use serde_json::Value;

use chainlake_wire::hexnum;

use super::txs::ProvenTx;
use super::verdict::{address_field, decode, hash_field, quantity, Checked, Failure, Reason};

pub(super) fn verify_receipts(
    receipts: &Value,
    header: &Header,
    hash: B256,
    txs: &[ProvenTx],
) -> Checked<()> {
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
    let block = Block { hash, number: header.number };
    let mut envelopes = Vec::with_capacity(list.len());
    let mut gas = GasSteps::default();
    let mut next_log = 0u64;
    for (i, (r, tx)) in list.iter().zip(txs).enumerate() {
        check_position(r, i, tx, block)?;
        let env = receipt_envelope(r, i)?;
        gas.check(r, i, env.cumulative_gas_used())?;
        check_price(r, i, tx, header.base_fee_per_gas)?;
        check_contract_address(r, i, tx)?;
        next_log = check_logs(r, i, tx, block, next_log)?;
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

/// The block every receipt and log must name.
#[derive(Debug, Clone, Copy)]
struct Block {
    hash: B256,
    number: u64,
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

/// `o`'s `key`, where present, is `expected` (a quantity).
fn same_quantity(o: &Value, key: &str, expected: u64) -> bool {
    o.get(key).filter(|v| !v.is_null()).is_none_or(|_| quantity(o, key) == Some(expected))
}

/// `o`'s `blockHash`, where present, is `expected`.
fn same_block_hash(o: &Value, expected: B256, what: &str) -> Checked<bool> {
    match o.get("blockHash").filter(|b| !b.is_null()) {
        Some(b) => Ok(decode::<B256>(b, what)? == expected),
        None => Ok(true),
    }
}

/// The receipt at position `i` names the block, the transaction, its index, sender and
/// recipient it must.
fn check_position(r: &Value, i: usize, tx: &ProvenTx, block: Block) -> Checked<()> {
    let what = format!("receipt {i}");
    let tx_hash = hash_field(r, "transactionHash", &what)?;
    if tx_hash != tx.hash {
        return Err(Failure::new(
            Reason::ReceiptTx,
            format!("{what} is for transaction {tx_hash}, expected {}", tx.hash),
        ));
    }
    if !same_block_hash(r, block.hash, &what)? || !same_quantity(r, "blockNumber", block.number) {
        return Err(Failure::new(
            Reason::ReceiptBlockHash,
            format!("{what} names another block than {} ({})", block.number, block.hash),
        ));
    }
    if !same_quantity(r, "transactionIndex", i as u64) {
        return Err(Failure::new(
            Reason::ReceiptTx,
            format!("{what} has transactionIndex {}", r["transactionIndex"]),
        ));
    }
    if address_field(r, "from", &what)?.is_some_and(|from| from != tx.from) {
        return Err(Failure::new(
            Reason::ReceiptTx,
            format!("{what} names sender {}, not {}", r["from"], tx.from),
        ));
    }
    // Older clients leave `from` and `to` out of receipts (or null): compared where given.
    if address_field(r, "to", &what)?.is_some_and(|to| Some(to) != tx.to) {
        return Err(Failure::new(Reason::ReceiptTx, format!("{what} names recipient {}", r["to"])));
    }
    Ok(())
}

/// The consensus receipt: type, status or post-state root, cumulative gas, bloom, logs.
fn receipt_envelope(r: &Value, i: usize) -> Checked<ReceiptEnvelope> {
    let what = format!("receipt {i}");
    let ty = quantity(r, "type").unwrap_or(0);
    // Pre-Byzantium receipts commit to the post-state root; some providers add a `status` too.
    let root = r.get("root").and_then(Value::as_str).and_then(|s| s.parse::<B256>().ok());
    let status = match (root, quantity(r, "status")) {
        (Some(root), _) => Eip658Value::PostState(root),
        (None, Some(s)) => Eip658Value::Eip658(s == 1),
        (None, None) => return Err(Failure::new(Reason::Decode, format!("{what}: neither status nor root"))),
    };
    let cumulative_gas_used = quantity(r, "cumulativeGasUsed")
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
        other => {
            return Err(Failure::new(Reason::UnknownTxType, format!("{what}: unknown receipt type {other}")))
        }
    })
}

/// Running `cumulativeGasUsed`: each `gasUsed` must be its step.
#[derive(Default)]
struct GasSteps {
    cumulative: u64,
}

impl GasSteps {
    fn check(&mut self, r: &Value, i: usize, cumulative: u64) -> Checked<()> {
        let used = quantity(r, "gasUsed");
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

/// A deployment's `contractAddress`, when given, is the one its sender and nonce create; any
/// other transaction has none.
fn check_contract_address(r: &Value, i: usize, tx: &ProvenTx) -> Checked<()> {
    let what = format!("receipt {i}");
    let given = address_field(r, "contractAddress", &what)?;
    let expected = tx.to.is_none().then(|| tx.from.create(tx.nonce));
    match (given, expected) {
        (None, _) => Ok(()),
        (Some(g), Some(e)) if g == e => Ok(()),
        (Some(g), e) => Err(Failure::new(
            Reason::ContractAddress,
            format!("{what}: contractAddress {g}, sender and nonce create {e:?}"),
        )),
    }
}

/// Each log names this block, this transaction and the next block-wide index, and is not
/// `removed`; returns the next expected index.
fn check_logs(r: &Value, i: usize, tx: &ProvenTx, block: Block, mut next: u64) -> Checked<u64> {
    let Some(logs) = r.get("logs").and_then(Value::as_array) else { return Ok(next) };
    for (j, l) in logs.iter().enumerate() {
        let what = format!("receipt {i} log {j}");
        if !same_quantity(l, "logIndex", next) {
            return Err(Failure::new(
                Reason::LogIndex,
                format!("{what}: logIndex {}, expected {next}", l["logIndex"]),
            ));
        }
        let tx_hash = match l.get("transactionHash").filter(|h| !h.is_null()) {
            Some(h) => Some(decode::<B256>(h, &what)?),
            None => None,
        };
        let elsewhere = !same_block_hash(l, block.hash, &what)?
            || !same_quantity(l, "blockNumber", block.number)
            || !same_quantity(l, "transactionIndex", i as u64)
            || tx_hash.is_some_and(|h| h != tx.hash);
        if elsewhere {
            return Err(Failure::new(
                Reason::LogContext,
                format!("{what} names another block or transaction"),
            ));
        }
        if l.get("removed").and_then(Value::as_bool) == Some(true) {
            return Err(Failure::new(Reason::LogContext, format!("{what} is marked removed")));
        }
        next += 1;
    }
    Ok(next)
}
