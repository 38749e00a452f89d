//! Record builders for tests and benchmarks (feature `fixtures`): one place that writes a
//! whole record out, so a field added to a record is added here once. Tests override what
//! they care about with struct update syntax: `TxRecord { value: "5".into(), ..tx(&b, 0) }`.

use crate::records::{
    BlockBundle, BlockRecord, ChainEventKind, ChainEventRecord, LogRecord, TxClass, TxRecord,
    UnverifiedRecord, SCHEMA_VERSION,
};

/// A 32-byte `0x` hash unique to (`tag`, `a`, `b`).
pub fn hash(tag: u64, a: u64, b: u64) -> String {
    format!("0x{tag:016x}{a:024x}{b:024x}")
}

/// A 20-byte `0x` address unique to `n`.
pub fn address(n: u64) -> String {
    format!("0x{n:040x}")
}

/// Block `number` of `chain` at `timestamp`: a London-era header with no transactions yet,
/// whose parent is the block this builder makes for `number - 1`.
pub fn block(chain: &str, number: u64, timestamp: u64) -> BlockRecord {
    BlockRecord {
        schema_version: SCHEMA_VERSION,
        chain: chain.to_owned(),
        number,
        hash: hash(0xb, number, 0),
        parent_hash: hash(0xb, number.saturating_sub(1), 0),
        timestamp,
        miner: address(0xfee),
        gas_used: 21_000,
        gas_limit: 30_000_000,
        base_fee_per_gas: Some("7".into()),
        tx_count: 0,
        size: None,
        extra_data: None,
        withdrawals_count: None,
        blob_gas_used: None,
        excess_blob_gas: None,
        state_root: None,
        transactions_root: None,
        receipts_root: None,
        logs_bloom: None,
        difficulty: None,
        mix_hash: None,
        nonce: None,
        sha3_uncles: None,
        withdrawals_root: None,
        parent_beacon_block_root: None,
        requests_hash: None,
        verified: true,
        seq: number,
        publisher: Some("follow".into()),
    }
}

/// Transaction `index` of `block`: a successful type-2 native transfer with its receipt.
pub fn tx(block: &BlockRecord, index: u64) -> TxRecord {
    TxRecord {
        schema_version: SCHEMA_VERSION,
        chain: block.chain.clone(),
        block_number: block.number,
        block_hash: block.hash.clone(),
        block_timestamp: block.timestamp,
        hash: hash(0x7, block.number, index),
        tx_index: index,
        tx_type: 2,
        type_known: true,
        class: TxClass::NativeTransfer,
        from: address(0xa),
        to: Some(address(0xb)),
        value: "1".into(),
        input: "0x".into(),
        nonce: index,
        gas: 21_000,
        gas_price: None,
        max_fee_per_gas: Some("9".into()),
        max_priority_fee_per_gas: Some("1".into()),
        max_fee_per_blob_gas: None,
        blob_hashes_count: None,
        authorizations_count: None,
        has_receipt: true,
        status: Some(1),
        gas_used: Some(21_000),
        cumulative_gas_used: Some(21_000 * (index + 1)),
        effective_gas_price: Some("8".into()),
        contract_address: None,
        logs_count: Some(0),
    }
}

/// `tx` as a call of `to` with `input` (the class follows the classification rule).
pub fn call(block: &BlockRecord, index: u64, to: Option<&str>, input: &str) -> TxRecord {
    TxRecord {
        class: TxClass::of(to, input),
        to: to.map(str::to_owned),
        input: input.to_owned(),
        ..tx(block, index)
    }
}

/// Log `log_index` of `tx`: an event with one topic from contract `address(0xc)`.
pub fn log(tx: &TxRecord, log_index: u64) -> LogRecord {
    LogRecord {
        schema_version: SCHEMA_VERSION,
        chain: tx.chain.clone(),
        block_number: tx.block_number,
        block_hash: tx.block_hash.clone(),
        block_timestamp: tx.block_timestamp,
        tx_hash: tx.hash.clone(),
        tx_index: tx.tx_index,
        log_index,
        address: address(0xc),
        topic0: Some(hash(0xe, log_index, 0)),
        topic1: None,
        topic2: None,
        topic3: None,
        topics_count: 1,
        data: "0x".into(),
        removed: false,
    }
}

/// A reorg event replacing `orphaned` by `new` from height `number` on.
pub fn reorg(chain: &str, number: u64, orphaned: Vec<String>, new: Vec<String>) -> ChainEventRecord {
    ChainEventRecord {
        schema_version: SCHEMA_VERSION,
        chain: chain.to_owned(),
        kind: ChainEventKind::Reorg,
        number,
        hash: new.first().cloned().unwrap_or_default(),
        depth: orphaned.len() as u64,
        orphaned_hashes: orphaned,
        new_hashes: new,
        detected_at: 1_700_000_000_000,
        seq: 0,
    }
}

/// `block` with `txs` transactions (no logs), `tx_count` set.
pub fn bundle(block: BlockRecord, txs: u64) -> BlockBundle {
    let txs: Vec<TxRecord> = (0..txs).map(|i| tx(&block, i)).collect();
    BlockBundle { block: BlockRecord { tx_count: txs.len() as u64, ..block }, txs, logs: Vec::new() }
}

/// A block with every optional field set (schema checks: no column may stay unexercised).
pub fn full_block() -> BlockRecord {
    BlockRecord {
        size: Some(7),
        extra_data: Some("0x".into()),
        withdrawals_count: Some(8),
        blob_gas_used: Some(9),
        excess_blob_gas: Some(10),
        state_root: Some(hash(0x51, 1, 0)),
        transactions_root: Some(hash(0x52, 1, 0)),
        receipts_root: Some(hash(0x53, 1, 0)),
        logs_bloom: Some(format!("0x{}", "00".repeat(256))),
        difficulty: Some("0x0".into()),
        mix_hash: Some(hash(0x54, 1, 0)),
        nonce: Some("0x0000000000000000".into()),
        sha3_uncles: Some(hash(0x55, 1, 0)),
        withdrawals_root: Some(hash(0x56, 1, 0)),
        parent_beacon_block_root: Some(hash(0x57, 1, 0)),
        requests_hash: Some(hash(0x58, 1, 0)),
        tx_count: 6,
        ..block("c", 1, 2)
    }
}

/// A transaction with every optional field set, and a value wider than 64 bits.
pub fn full_tx() -> TxRecord {
    let b = full_block();
    TxRecord {
        value: "340282366920938463463374607431768211455".into(),
        gas_price: Some("5".into()),
        max_fee_per_blob_gas: Some("8".into()),
        blob_hashes_count: Some(1),
        authorizations_count: Some(0),
        contract_address: Some(address(0xc)),
        logs_count: Some(2),
        ..call(&b, 0, Some(&address(0xd)), "0xa9059cbb")
    }
}

/// A log with all four topics.
pub fn full_log() -> LogRecord {
    LogRecord {
        topic1: Some(hash(0xe, 1, 1)),
        topic2: Some(hash(0xe, 1, 2)),
        topic3: Some(hash(0xe, 1, 3)),
        topics_count: 4,
        ..log(&full_tx(), 4)
    }
}

/// A reorg event of depth 2.
pub fn full_event() -> ChainEventRecord {
    reorg("c", 5, vec![hash(0x0d, 5, 0), hash(0x0d, 6, 0)], vec![hash(0xb, 5, 1), hash(0xb, 6, 1)])
}

/// An unverified block with every optional field set.
pub fn full_unverified() -> UnverifiedRecord {
    UnverifiedRecord {
        schema_version: SCHEMA_VERSION,
        chain: "c".into(),
        number: 9,
        hash: hash(0xb, 9, 0),
        provider: "p".into(),
        reason: "receipts_root".into(),
        detail: "receipts root mismatch".into(),
        expected: Some(hash(0x5, 9, 0)),
        computed: Some(hash(0x5, 9, 1)),
        attempts: 3,
        block_json: "{}".into(),
        receipts_json: "[]".into(),
        detected_at: 1_700_000_000_000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::columns::WireRecord;

    fn keys<T: serde::Serialize>(record: &T) -> Vec<String> {
        match serde_json::to_value(record) {
            Ok(serde_json::Value::Object(o)) => o.keys().cloned().collect(),
            other => panic!("not an object: {other:?}"),
        }
    }

    fn names<T: WireRecord>() -> Vec<String> {
        let mut n: Vec<String> = T::fields().iter().map(|f| f.name().clone()).collect();
        n.sort();
        n
    }

    /// The JSON keys the producer sends are exactly the derived column names.
    #[test]
    fn json_keys_are_the_derived_columns() {
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        assert_eq!(sorted(keys(&full_block())), names::<BlockRecord>());
        assert_eq!(sorted(keys(&full_tx())), names::<TxRecord>());
        assert_eq!(sorted(keys(&full_log())), names::<LogRecord>());
        assert_eq!(sorted(keys(&full_event())), names::<ChainEventRecord>());
        assert_eq!(sorted(keys(&full_unverified())), names::<UnverifiedRecord>());
    }

    #[test]
    fn builders_chain_blocks_and_keep_classes_consistent() {
        let b = block("c", 5, 100);
        assert_eq!(b.parent_hash, block("c", 4, 88).hash);
        assert_eq!(b.hash.len(), 66);
        let t = call(&b, 1, None, "0x6080");
        assert_eq!(t.class, TxClass::ContractDeploy);
        assert_eq!(bundle(b, 3).block.tx_count, 3);
    }
}
