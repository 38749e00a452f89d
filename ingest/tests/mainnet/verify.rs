//! Proof of completeness on real mainnet data (testdata/mainnet, provenance in its README):
//! every recorded block's header hash, transactions root and withdrawals root, and the receipts
//! root of every block recorded with its receipts (Frontier 2015 post-state receipts, the
//! Shanghai block 18000000) recompute to what the header commits to. Then each kind of
//! tampering a provider can do is detected with its own reason.

use chainlake_ingest::verify::{verify_block, verify_header, Reason, VerifyOptions};
use serde_json::{json, Value};

use crate::{block_numbers, fixtures, read};

/// Verifies `block` as the block of its own height, every sender recovered.
fn verify(block: &Value, receipts: &Value) -> Result<(), chainlake_ingest::verify::Failure> {
    let height =
        block["number"].as_str().and_then(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok());
    verify_block(block, receipts, height.unwrap_or(0), &VerifyOptions::default())
}

fn hydrated(block: &Value) -> bool {
    block["transactions"].as_array().is_some_and(|t| t.iter().all(Value::is_object))
}

/// Every header of every era hashes to its `hash`; every hydrated block's transactions (and
/// withdrawals) prove its roots.
#[test]
fn every_recorded_mainnet_block_verifies() {
    let numbers = block_numbers();
    assert_eq!(numbers.len(), 14, "fixture set changed");
    let mut with_receipts = Vec::new();
    for n in numbers {
        let block = read(&format!("block-{n}.json"));
        let (_, hash) = verify_header(&block).unwrap_or_else(|e| panic!("block {n} header: {e}"));
        assert_eq!(hash.to_string(), block["hash"].as_str().unwrap());
        if !hydrated(&block) {
            continue;
        }
        let receipts_file = fixtures().join(format!("receipts-{n}.json"));
        let empty = block["transactions"].as_array().is_some_and(Vec::is_empty);
        if receipts_file.exists() || empty {
            let receipts = if empty { json!([]) } else { read(&format!("receipts-{n}.json")) };
            verify(&block, &receipts).unwrap_or_else(|e| panic!("block {n}: {e}"));
            with_receipts.push(n);
        } else {
            // No receipts recorded: everything but the receipts is still proven.
            let err = verify(&block, &Value::Null).unwrap_err();
            assert_eq!(err.reason, Reason::NullReceipts, "block {n}: {err}");
        }
    }
    // Genesis, the empty 2016 block, two Frontier blocks with post-state receipts, Shanghai.
    assert_eq!(with_receipts, vec![0, 47218, 483920, 1755634, 18000000]);
}

fn shanghai() -> (Value, Value) {
    (read("block-18000000.json"), read("receipts-18000000.json"))
}

fn reason(block: &Value, receipts: &Value) -> Reason {
    verify(block, receipts).unwrap_err().reason
}

#[test]
fn null_receipts_are_refused() {
    let (b, _) = shanghai();
    assert_eq!(reason(&b, &Value::Null), Reason::NullReceipts);
}

#[test]
fn a_dropped_or_an_extra_receipt_is_refused() {
    let (b, r) = shanghai();
    let mut short = r.clone();
    short.as_array_mut().unwrap().pop();
    assert_eq!(reason(&b, &short), Reason::ReceiptsCount);
    let mut long = r.clone();
    let extra = long[0].clone();
    long.as_array_mut().unwrap().push(extra);
    assert_eq!(reason(&b, &long), Reason::ReceiptsCount);
}

#[test]
fn swapped_receipts_or_transactions_are_refused() {
    let (b, r) = shanghai();
    let mut swapped = r.clone();
    swapped.as_array_mut().unwrap().swap(0, 1);
    assert_eq!(reason(&b, &swapped), Reason::ReceiptTx);
    let mut txs_swapped = b.clone();
    txs_swapped["transactions"].as_array_mut().unwrap().swap(0, 1);
    assert_eq!(reason(&txs_swapped, &r), Reason::TxPosition, "each names its own index");
    for t in txs_swapped["transactions"].as_array_mut().unwrap() {
        t.as_object_mut().unwrap().remove("transactionIndex");
    }
    assert_eq!(reason(&txs_swapped, &r), Reason::TransactionsRoot);
}

#[test]
fn the_receipts_of_another_block_are_refused() {
    let (b, _) = shanghai();
    let other = read("receipts-47218.json");
    assert_eq!(reason(&b, &other), Reason::ReceiptsCount);
    // Same count, same transactions, but named for another block (a reorg between calls).
    let (b, mut r) = shanghai();
    for receipt in r.as_array_mut().unwrap() {
        receipt["blockHash"] = json!(format!("0x{}", "ab".repeat(32)));
    }
    assert_eq!(reason(&b, &r), Reason::ReceiptBlockHash);
}

/// One changed value anywhere: in the receipt trie (status, logs, cumulative gas), outside
/// it but derived from it (gasUsed, effectiveGasPrice, logIndex), or in the header.
#[test]
fn one_changed_value_is_refused() {
    let (b, r) = shanghai();
    let changed = |f: &dyn Fn(&mut Value)| {
        let mut r = r.clone();
        f(&mut r);
        reason(&b, &r)
    };
    let flip = |s: &str| if s == "0x1" { "0x0" } else { "0x1" };
    let status = r[3]["status"].as_str().unwrap().to_owned();
    assert_eq!(changed(&|r| r[3]["status"] = json!(flip(&status))), Reason::ReceiptsRoot);
    assert_eq!(changed(&|r| r[3]["gasUsed"] = json!("0x1")), Reason::ReceiptGasUsed);
    assert_eq!(changed(&|r| r[3]["effectiveGasPrice"] = json!("0x1")), Reason::EffectiveGasPrice);
    let with_logs =
        r.as_array().unwrap().iter().position(|x| !x["logs"].as_array().unwrap().is_empty()).unwrap();
    assert_eq!(changed(&|r| r[with_logs]["logs"][0]["data"] = json!("0x01")), Reason::ReceiptsRoot);
    assert_eq!(changed(&|r| r[with_logs]["logs"][0]["logIndex"] = json!("0x999")), Reason::LogIndex);

    let mut header = b.clone();
    header["gasUsed"] = json!("0x1");
    assert_eq!(reason(&header, &r), Reason::HeaderHash);
    let mut tx = b.clone();
    tx["transactions"][0]["value"] = json!("0x1");
    assert_eq!(reason(&tx, &r), Reason::TxHash);
    let mut w = b.clone();
    w["withdrawals"][0]["amount"] = json!("0x1");
    assert_eq!(reason(&w, &r), Reason::WithdrawalsRoot);
}

#[test]
fn garbled_or_hash_only_answers_are_refused() {
    let (b, r) = shanghai();
    let mut garbled = b.clone();
    garbled["transactions"][0]["nonce"] = json!("not hex");
    assert_eq!(reason(&garbled, &r), Reason::Decode);
    assert_eq!(reason(&read("block-9515350.json"), &json!([])), Reason::NotHydrated);
    assert_eq!(reason(&json!({"number": "0x1"}), &r), Reason::Decode);
}

/// The block of another height, even a perfectly proven one, is not the block asked for.
#[test]
fn another_heights_block_is_refused() {
    let (b, r) = shanghai();
    let err = verify_block(&b, &r, 17_999_999, &VerifyOptions::default()).unwrap_err();
    assert_eq!(err.reason, Reason::WrongBlock);
    assert_eq!(err.proven_hash, None, "the hash of another height is not remembered");
}

/// Values outside every trie: each derived from what the tries prove, and compared.
#[test]
fn a_changed_sender_position_or_derived_value_is_refused() {
    let (b, r) = shanghai();
    let other = json!("0x00000000000000000000000000000000000000a1");
    let mut sender = b.clone();
    sender["transactions"][5]["from"] = other.clone();
    assert_eq!(reason(&sender, &r), Reason::Sender);
    let mut position = b.clone();
    position["transactions"][5]["blockNumber"] = json!("0x1");
    assert_eq!(reason(&position, &r), Reason::TxPosition);
    let changed = |f: &dyn Fn(&mut Value)| {
        let mut r = r.clone();
        f(&mut r);
        let err = verify(&b, &r).unwrap_err();
        assert!(err.proven_hash.is_some(), "the header was proven: its hash is kept");
        err.reason
    };
    let deploy = r.as_array().unwrap().iter().position(|x| !x["contractAddress"].is_null()).unwrap();
    assert_eq!(changed(&|r| r[deploy]["contractAddress"] = other.clone()), Reason::ContractAddress);
    assert_eq!(changed(&|r| r[0]["contractAddress"] = other.clone()), Reason::ContractAddress);
    assert_eq!(changed(&|r| r[0]["from"] = other.clone()), Reason::ReceiptTx);
    assert_eq!(changed(&|r| r[0]["blockNumber"] = json!("0x1")), Reason::ReceiptBlockHash);
    let with_logs =
        r.as_array().unwrap().iter().position(|x| !x["logs"].as_array().unwrap().is_empty()).unwrap();
    assert_eq!(changed(&|r| r[with_logs]["logs"][0]["removed"] = json!(true)), Reason::LogContext);
    let foreign = json!(format!("0x{}", "ab".repeat(32)));
    assert_eq!(
        changed(&|r| r[with_logs]["logs"][0]["transactionHash"] = foreign.clone()),
        Reason::LogContext
    );
}

/// Sender recovery can be sampled (`chain.verify-senders`): a `from` changed consistently in
/// the transaction and its receipt outside the sample goes unnoticed, as docs/tables.md says.
#[test]
fn sampled_sender_recovery_checks_only_its_sample() {
    let (mut b, mut r) = shanghai();
    let other = json!("0x00000000000000000000000000000000000000a1");
    b["transactions"][5]["from"] = other.clone();
    assert_eq!(reason(&b, &r), Reason::Sender, "every sender recovered");
    let half = VerifyOptions { senders: 0.5 };
    assert_eq!(
        verify_block(&b, &r, 18_000_000, &half).unwrap_err().reason,
        Reason::ReceiptTx,
        "the receipt disagrees"
    );
    r[5]["from"] = other.clone();
    assert!(verify_block(&b, &r, 18_000_000, &half).is_ok(), "transaction 5 is outside every 2nd");
    b["transactions"][4]["from"] = other.clone();
    r[4]["from"] = other;
    assert_eq!(verify_block(&b, &r, 18_000_000, &half).unwrap_err().reason, Reason::Sender);
}

/// A transaction type this code does not know is named as such, not as garbled data.
#[test]
fn an_unknown_transaction_type_has_its_own_reason() {
    let (mut b, r) = shanghai();
    b["transactions"][0]["type"] = json!("0x7e");
    assert_eq!(reason(&b, &r), Reason::UnknownTxType);
}

/// Every recorded hydrated block's senders recover to its `from` (every era's signatures:
/// Frontier, EIP-155, typed).
#[test]
fn every_recorded_sender_recovers() {
    for n in block_numbers() {
        let block = read(&format!("block-{n}.json"));
        if !hydrated(&block) {
            continue;
        }
        let err = verify_block(&block, &json!([]), n, &VerifyOptions::default()).err();
        // Past the transactions every block without recorded receipts stops at the receipts.
        assert!(
            err.as_ref().is_none_or(|e| matches!(e.reason, Reason::ReceiptsCount | Reason::NullReceipts)),
            "block {n}: {err:?}"
        );
    }
}
