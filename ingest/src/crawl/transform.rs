//! Raw JSON-RPC block + receipts → wire records (lossless, classified).
//!
//! Reads the `result` of `eth_getBlockByNumber(n, true)` and of `eth_getBlockReceipts(n)`;
//! writes one [`BlockBundle`]. Field sets differ by client and era (Parity `author`, missing
//! `type`, `root` instead of `status`…); all of them are accepted. A transaction of a type
//! this code does not know is kept and flagged; a transaction without a receipt is kept and
//! flagged; only a response without the promised shape is an error.

use std::collections::HashMap;

use serde_json::Value;

use crate::{Error, Result};
use chainlake_wire::hexnum::{self, FieldError, Obj};
use chainlake_wire::{BlockBundle, BlockRecord, LogRecord, TxClass, TxRecord, SCHEMA_VERSION};

/// Highest EIP-2718 type this code understands (4 = EIP-7702 set-code).
pub const MAX_KNOWN_TX_TYPE: u64 = 4;

/// Transforms one block and its receipts (`None` when receipts were not fetched).
pub fn transform_block(chain: &str, block: &Value, receipts: Option<&Value>) -> Result<BlockBundle> {
    let block_no = block.get("number").and_then(Value::as_str).and_then(hexnum::parse_u64).unwrap_or(0);
    let malformed = |what: &'static str, tx: Option<&str>, reason: String| Error::Malformed {
        chain: chain.to_owned(),
        block: block_no,
        tx: tx.map(str::to_owned),
        what,
        reason,
    };
    let b = block.as_object().ok_or_else(|| malformed("block", None, "not an object".into()))?;
    let field = |e: FieldError| malformed("block", None, e.to_string());

    let header = header_record(chain, b).map_err(field)?;

    let raw_txs = match b.get("transactions") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.iter().collect(),
        Some(_) => return Err(malformed("block", None, "transactions is not an array".into())),
    };
    let receipts_by_hash = index_receipts(receipts).map_err(|r| malformed("receipts", None, r))?;

    let mut txs = Vec::with_capacity(raw_txs.len());
    let mut logs = Vec::new();
    for raw in raw_txs {
        let t = raw.as_object().ok_or_else(|| {
            malformed("transaction", None, "not hydrated (hash only) or not an object".into())
        })?;
        let hash = hexnum::string(t, "hash").map_err(|e| malformed("transaction", None, e.to_string()))?;
        let receipt = receipts_by_hash.get(hash.as_str()).copied();
        let tx = transform_tx(&header, t, receipt)
            .map_err(|e| malformed("transaction", Some(&hash), e.to_string()))?;
        if let Some(r) = receipt {
            push_logs(&header, &tx, r, &mut logs)
                .map_err(|e| malformed("log", Some(&hash), e.to_string()))?;
        }
        txs.push(tx);
    }
    let mut header = header;
    header.tx_count = txs.len() as u64;
    Ok(BlockBundle { block: header, txs, logs })
}

/// The header fields of a block object (the commitments kept as received, for `verify`).
fn header_record(chain: &str, b: &Obj) -> std::result::Result<BlockRecord, FieldError> {
    Ok(BlockRecord {
        schema_version: SCHEMA_VERSION,
        chain: chain.to_owned(),
        number: hexnum::u64_field(b, "number")?,
        hash: hexnum::string(b, "hash")?,
        parent_hash: hexnum::string(b, "parentHash")?,
        timestamp: hexnum::u64_field(b, "timestamp")?,
        miner: match hexnum::opt_string(b, "miner")? {
            Some(m) => m,
            None => hexnum::string(b, "author")?,
        },
        gas_used: hexnum::u64_field(b, "gasUsed")?,
        gas_limit: hexnum::u64_field(b, "gasLimit")?,
        base_fee_per_gas: hexnum::opt_wei(b, "baseFeePerGas")?,
        tx_count: 0,
        size: hexnum::opt_u64(b, "size")?,
        extra_data: hexnum::opt_string(b, "extraData")?,
        withdrawals_count: b.get("withdrawals").and_then(Value::as_array).map(|w| w.len() as u64),
        blob_gas_used: hexnum::opt_u64(b, "blobGasUsed")?,
        excess_blob_gas: hexnum::opt_u64(b, "excessBlobGas")?,
        state_root: hexnum::opt_string(b, "stateRoot")?,
        transactions_root: hexnum::opt_string(b, "transactionsRoot")?,
        receipts_root: hexnum::opt_string(b, "receiptsRoot")?,
        logs_bloom: hexnum::opt_string(b, "logsBloom")?,
        difficulty: hexnum::opt_string(b, "difficulty")?,
        mix_hash: hexnum::opt_string(b, "mixHash")?,
        nonce: hexnum::opt_string(b, "nonce")?,
        sha3_uncles: hexnum::opt_string(b, "sha3Uncles")?,
        withdrawals_root: hexnum::opt_string(b, "withdrawalsRoot")?,
        parent_beacon_block_root: hexnum::opt_string(b, "parentBeaconBlockRoot")?,
        requests_hash: hexnum::opt_string(b, "requestsHash")?,
        // Set by the crawler: whether verify/ proved the block, and its publication order.
        verified: false,
        seq: 0,
        publisher: None,
    })
}

fn index_receipts(receipts: Option<&Value>) -> std::result::Result<HashMap<&str, &Obj>, String> {
    let Some(receipts) = receipts else { return Ok(HashMap::new()) };
    let arr = match receipts {
        Value::Null => return Ok(HashMap::new()),
        Value::Array(a) => a,
        _ => return Err("receipts is not an array".into()),
    };
    let mut map = HashMap::with_capacity(arr.len());
    for r in arr {
        let o = r.as_object().ok_or("receipt is not an object")?;
        let h = o.get("transactionHash").and_then(Value::as_str).ok_or("receipt without transactionHash")?;
        map.insert(h, o);
    }
    Ok(map)
}

fn transform_tx(b: &BlockRecord, t: &Obj, r: Option<&Obj>) -> std::result::Result<TxRecord, FieldError> {
    let to = hexnum::opt_string(t, "to")?;
    let input = match hexnum::opt_string(t, "input")? {
        Some(i) => i,
        None => hexnum::opt_string(t, "data")?.unwrap_or_else(|| "0x".into()),
    };
    let tx_type = hexnum::opt_u64(t, "type")?.unwrap_or(0);
    let gas_price = hexnum::opt_wei(t, "gasPrice")?;
    let mut tx = TxRecord {
        schema_version: SCHEMA_VERSION,
        chain: b.chain.clone(),
        block_number: b.number,
        block_hash: b.hash.clone(),
        block_timestamp: b.timestamp,
        hash: hexnum::string(t, "hash")?,
        tx_index: hexnum::u64_field(t, "transactionIndex")?,
        tx_type,
        type_known: tx_type <= MAX_KNOWN_TX_TYPE,
        class: TxClass::of(to.as_deref(), &input),
        from: hexnum::string(t, "from")?,
        to,
        value: hexnum::wei(t, "value")?,
        input,
        nonce: hexnum::u64_field(t, "nonce")?,
        gas: hexnum::u64_field(t, "gas")?,
        gas_price: gas_price.clone(),
        max_fee_per_gas: hexnum::opt_wei(t, "maxFeePerGas")?,
        max_priority_fee_per_gas: hexnum::opt_wei(t, "maxPriorityFeePerGas")?,
        max_fee_per_blob_gas: hexnum::opt_wei(t, "maxFeePerBlobGas")?,
        blob_hashes_count: t.get("blobVersionedHashes").and_then(Value::as_array).map(|a| a.len() as u64),
        authorizations_count: t.get("authorizationList").and_then(Value::as_array).map(|a| a.len() as u64),
        has_receipt: false,
        status: None,
        gas_used: None,
        cumulative_gas_used: None,
        effective_gas_price: None,
        contract_address: None,
        logs_count: None,
    };
    if let Some(r) = r {
        tx.has_receipt = true;
        tx.status = hexnum::opt_u64(r, "status")?;
        tx.gas_used = Some(hexnum::u64_field(r, "gasUsed")?);
        tx.cumulative_gas_used = hexnum::opt_u64(r, "cumulativeGasUsed")?;
        // Receipts from before London carry no effectiveGasPrice: the price paid was gasPrice.
        tx.effective_gas_price = hexnum::opt_wei(r, "effectiveGasPrice")?.or(gas_price);
        tx.contract_address = hexnum::opt_string(r, "contractAddress")?;
        tx.logs_count = r.get("logs").and_then(Value::as_array).map(|l| l.len() as u64);
    }
    Ok(tx)
}

fn push_logs(
    b: &BlockRecord,
    tx: &TxRecord,
    r: &Obj,
    out: &mut Vec<LogRecord>,
) -> std::result::Result<(), FieldError> {
    let Some(raw_logs) = r.get("logs").and_then(Value::as_array) else { return Ok(()) };
    for l in raw_logs {
        let Some(l) = l.as_object() else { return Err(FieldError::NotString("logs[]")) };
        let topics: Vec<String> = match l.get("topics") {
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            _ => Vec::new(),
        };
        let topic = |i: usize| topics.get(i).cloned();
        out.push(LogRecord {
            schema_version: SCHEMA_VERSION,
            chain: b.chain.clone(),
            block_number: b.number,
            block_hash: b.hash.clone(),
            block_timestamp: b.timestamp,
            tx_hash: tx.hash.clone(),
            tx_index: tx.tx_index,
            log_index: hexnum::u64_field(l, "logIndex")?,
            address: hexnum::string(l, "address")?,
            topic0: topic(0),
            topic1: topic(1),
            topic2: topic(2),
            topic3: topic(3),
            topics_count: topics.len() as u64,
            data: hexnum::opt_string(l, "data")?.unwrap_or_else(|| "0x".into()),
            removed: l.get("removed").and_then(Value::as_bool).unwrap_or(false),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_type_and_missing_receipt_are_flagged_not_dropped() {
        let block = json!({
            "number": "0x1", "hash": "0xb1", "parentHash": "0xb0", "timestamp": "0x10",
            "miner": "0xfee", "gasUsed": "0x0", "gasLimit": "0x1c9c380",
            "transactions": [{"hash": "0xt1", "transactionIndex": "0x0", "type": "0x7e",
                "from": "0xa", "to": "0xb", "value": "0x1", "input": "0x", "nonce": "0x0", "gas": "0x5208"}]
        });
        let out = transform_block("c", &block, Some(&json!([]))).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.txs.len(), 1);
        assert!(!out.txs[0].type_known);
        assert!(!out.txs[0].has_receipt);
        assert_eq!(out.block.tx_count, 1);
    }

    /// EIP-7702 (type 4) as a node returns it: an authorization list, a receipt with a log.
    #[test]
    fn set_code_transaction_type_4_is_known_and_lossless() {
        let auth = json!({"chainId": "0x1", "address": "0x5a7fc11397e9a8ad41bf10bf13f22b0a63f96f6d",
            "nonce": "0x2", "yParity": "0x1", "r": "0x1", "s": "0x2"});
        let block = json!({
            "number": "0x1524c00", "hash": "0xb1", "parentHash": "0xb0", "timestamp": "0x681a5d2f",
            "miner": "0xfee", "gasUsed": "0x1d0f8", "gasLimit": "0x2255100", "baseFeePerGas": "0x3b9aca00",
            "transactions": [{"hash": "0xt4", "transactionIndex": "0x0", "type": "0x4",
                "from": "0xa", "to": "0xa", "value": "0xde0b6b3a7640000000", "input": "0x",
                "nonce": "0x1", "gas": "0x30d40", "maxFeePerGas": "0x77359400",
                "maxPriorityFeePerGas": "0x3b9aca00", "gasPrice": "0x77359400",
                "authorizationList": [auth.clone(), auth]}]
        });
        let receipts = json!([{"transactionHash": "0xt4", "status": "0x1", "gasUsed": "0x1d0f8",
            "cumulativeGasUsed": "0x1d0f8", "effectiveGasPrice": "0x4a817c800", "contractAddress": null,
            "logs": [{"logIndex": "0x0", "address": "0xa", "topics": ["0xfeed"], "data": "0x"}]}]);
        let out = transform_block("c", &block, Some(&receipts)).unwrap_or_else(|e| panic!("{e}"));
        let tx = &out.txs[0];
        assert_eq!((tx.tx_type, tx.type_known, tx.has_receipt), (4, true, true));
        assert_eq!(tx.authorizations_count, Some(2));
        assert_eq!(tx.value, "4096000000000000000000", "0xde0b6b3a7640000000 wei, exact");
        assert_eq!(tx.effective_gas_price.as_deref(), Some("20000000000"));
        assert_eq!(out.logs.len(), 1);
    }

    #[test]
    fn hash_only_block_is_an_error_with_coordinates() {
        let block = json!({"number": "0x5", "hash": "0xb5", "parentHash": "0xb4", "timestamp": "0x1",
            "miner": "0x0", "gasUsed": "0x0", "gasLimit": "0x0", "transactions": ["0xabc"]});
        let err = transform_block("c", &block, None).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("block 5"), "{err}");
        assert!(err.contains("chain c"), "{err}");
    }
}
