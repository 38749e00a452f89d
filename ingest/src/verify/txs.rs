//! Transactions and withdrawals: each transaction's type, hash, position and sender, the
//! transactions root, the withdrawals root.

use alloy::consensus::proofs::{calculate_transaction_root, calculate_withdrawals_root};
use alloy::consensus::transaction::SignerRecoverable;
use alloy::consensus::{Header, Transaction as _, TxEnvelope};
use alloy::eips::eip4895::Withdrawal;
use alloy::eips::{Encodable2718, Typed2718};
use alloy::primitives::{keccak256, Address, B256};
use serde_json::Value;

use super::verdict::{address_field, decode, hash_field, quantity, Checked, Failure, Reason, VerifyOptions};

/// Highest EIP-2718 type alloy's envelope knows (4 = EIP-7702 set-code).
const MAX_TX_TYPE: u64 = 4;

/// One transaction as proven: what its receipt must agree with.
#[derive(Debug, Clone, Copy)]
pub(super) struct ProvenTx {
    pub(super) hash: B256,
    pub(super) ty: u8,
    pub(super) gas_price: Option<u128>,
    pub(super) max_fee: u128,
    pub(super) max_priority_fee: Option<u128>,
    /// The sender: recovered from the signature, or as the answer gave it when not sampled.
    pub(super) from: Address,
    /// `None` for a deployment.
    pub(super) to: Option<Address>,
    pub(super) nonce: u64,
}

pub(super) fn verify_transactions(
    block: &Value,
    header: &Header,
    hash: B256,
    opts: &VerifyOptions,
) -> Checked<Vec<ProvenTx>> {
    let raw = match block.get("transactions") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(a)) => a.as_slice(),
        Some(_) => return Err(Failure::new(Reason::Decode, "transactions is not a list")),
    };
    let mut envelopes = Vec::with_capacity(raw.len());
    let mut proven = Vec::with_capacity(raw.len());
    for (i, t) in raw.iter().enumerate() {
        let (env, tx) = verify_transaction(t, i, header.number, hash, opts)?;
        proven.push(tx);
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

/// Transaction `i` of the block `number`/`block`: known type, hash, position, sender.
fn verify_transaction(
    t: &Value,
    i: usize,
    number: u64,
    block: B256,
    opts: &VerifyOptions,
) -> Checked<(TxEnvelope, ProvenTx)> {
    let what = format!("transaction {i}");
    if !t.is_object() {
        return Err(Failure::new(Reason::NotHydrated, format!("{what} is not an object")));
    }
    let ty = quantity(t, "type").unwrap_or(0);
    if ty > MAX_TX_TYPE {
        return Err(Failure::new(Reason::UnknownTxType, format!("{what} has type {ty:#x}")));
    }
    let env: TxEnvelope = decode(t, &what)?;
    let claimed = hash_field(t, "hash", &what)?;
    // The envelope keeps the `hash` it was given (and `trie_hash` returns it): recompute it
    // from the encoding.
    let computed = keccak256(env.encoded_2718());
    if computed != claimed {
        return Err(Failure::mismatch(Reason::TxHash, &format!("{what} hash"), claimed, computed));
    }
    check_position(t, i, number, block, &what)?;
    let from = address_field(t, "from", &what)?
        .ok_or_else(|| Failure::new(Reason::Decode, format!("{what}: no from")))?;
    if opts.checks_sender(i) {
        // Unchecked: Frontier accepted high-s signatures; the transactions root proves the
        // chain accepted this one.
        let signer = env
            .recover_signer_unchecked()
            .map_err(|e| Failure::new(Reason::Sender, format!("{what}: signature does not recover: {e}")))?;
        if signer != from {
            return Err(Failure::new(
                Reason::Sender,
                format!("{what} claims sender {from}, its signature recovers {signer}"),
            ));
        }
    }
    let tx = ProvenTx {
        hash: claimed,
        ty: env.ty(),
        gas_price: env.gas_price(),
        max_fee: env.max_fee_per_gas(),
        max_priority_fee: env.max_priority_fee_per_gas(),
        from,
        to: env.to(),
        nonce: env.nonce(),
    };
    Ok((env, tx))
}

/// The transaction object names the block and position it is in (where it names them).
fn check_position(t: &Value, i: usize, number: u64, block: B256, what: &str) -> Checked<()> {
    if let Some(b) = t.get("blockHash").filter(|b| !b.is_null()) {
        let b: B256 = decode(b, what)?;
        if b != block {
            return Err(Failure::new(
                Reason::TxPosition,
                format!("{what} names block {b}, expected {block}"),
            ));
        }
    }
    if let Some(n) = t.get("blockNumber").filter(|n| !n.is_null()) {
        if quantity(t, "blockNumber") != Some(number) {
            return Err(Failure::new(Reason::TxPosition, format!("{what} names block number {n}")));
        }
    }
    if let Some(index) = t.get("transactionIndex").filter(|x| !x.is_null()) {
        if quantity(t, "transactionIndex") != Some(i as u64) {
            return Err(Failure::new(Reason::TxPosition, format!("{what} has transactionIndex {index}")));
        }
    }
    Ok(())
}

pub(super) fn verify_withdrawals(block: &Value, header: &Header) -> Checked<()> {
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
