//! Every recorded mainnet block in testdata/mainnet parses and classifies without loss:
//! counts and value sums equal what the raw JSON says.

use alloy::primitives::U256;
use chainlake_ingest::crawl::transform::transform_block;
use chainlake_wire::hexnum::parse_u256;
use chainlake_wire::TxClass;
use serde_json::Value;

use crate::{block_numbers, fixtures, read};

fn blocks() -> Vec<(u64, Value, Option<Value>)> {
    let receipts = |n: u64| format!("receipts-{n}.json");
    block_numbers()
        .into_iter()
        .map(|n| {
            (
                n,
                read(&format!("block-{n}.json")),
                fixtures().join(receipts(n)).exists().then(|| read(&receipts(n))),
            )
        })
        .collect()
}

fn raw_txs(block: &Value) -> &Vec<Value> {
    block["transactions"].as_array().unwrap()
}

#[test]
fn every_hydrated_block_is_lossless() {
    let all = blocks();
    assert_eq!(all.len(), 14, "fixture set changed");
    let mut checked = 0;
    for (n, block, receipts) in &all {
        let hydrated = raw_txs(block).iter().all(Value::is_object);
        let result = transform_block("ethereum", block, receipts.as_ref());
        if !hydrated {
            let err = result.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(
                err.contains(&format!("block {n}")),
                "hash-only block {n} must be refused with coordinates: {err}"
            );
            continue;
        }
        let bundle = result.unwrap_or_else(|e| panic!("block {n}: {e}"));
        let raw = raw_txs(block);
        assert_eq!(bundle.block.number, *n);
        assert_eq!(bundle.block.hash, block["hash"].as_str().unwrap());
        assert_eq!(bundle.txs.len(), raw.len(), "block {n} tx count");
        assert_eq!(bundle.block.tx_count as usize, raw.len());

        // Value sums: independent parse of the raw JSON vs the exact decimal strings.
        let raw_sum = raw
            .iter()
            .map(|t| parse_u256(t["value"].as_str().unwrap()).unwrap())
            .fold(U256::ZERO, |a, b| a + b);
        let sum = bundle
            .txs
            .iter()
            .map(|t| U256::from_str_radix(&t.value, 10).unwrap())
            .fold(U256::ZERO, |a, b| a + b);
        assert_eq!(sum, raw_sum, "block {n} value sum");

        // Classes: counted straight from the raw fields.
        let deploys = raw.iter().filter(|t| t["to"].is_null()).count();
        let transfers =
            raw.iter().filter(|t| !t["to"].is_null() && t["input"].as_str() == Some("0x")).count();
        let count = |c: TxClass| bundle.txs.iter().filter(|t| t.class == c).count();
        assert_eq!(count(TxClass::ContractDeploy), deploys, "block {n} deploys");
        assert_eq!(count(TxClass::NativeTransfer), transfers, "block {n} transfers");
        assert_eq!(count(TxClass::ContractCall), raw.len() - deploys - transfers, "block {n} calls");
        assert!(bundle.txs.iter().all(|t| t.type_known), "block {n} has only known types");

        // Receipts join: every tx has one where the fixture has them, and all logs are kept.
        if let Some(r) = receipts {
            let r = r.as_array().unwrap();
            assert!(bundle.txs.iter().all(|t| t.has_receipt), "block {n} receipts");
            let raw_logs: usize = r.iter().map(|x| x["logs"].as_array().map_or(0, Vec::len)).sum();
            assert_eq!(bundle.logs.len(), raw_logs, "block {n} logs");
            let gas: u64 = bundle.txs.iter().map(|t| t.gas_used.unwrap()).sum();
            assert_eq!(gas, bundle.block.gas_used, "block {n}: receipts' gas adds up to the header's");
        }
        checked += 1;
    }
    assert_eq!(checked, 13);
}

#[test]
fn known_facts_of_recorded_blocks() {
    let all = blocks();
    let get = |n: u64| {
        let (_, b, r) = all.iter().find(|b| b.0 == n).unwrap();
        transform_block("ethereum", b, r.as_ref()).unwrap()
    };
    // README of the fixtures: 125 plain ETH transfers in 16000000; one creation in 18000000;
    // one blob transaction in 19900000; pre-Byzantium receipts without status.
    let b = get(16_000_000);
    assert_eq!(b.txs.iter().filter(|t| t.class == TxClass::NativeTransfer).count(), 125);
    let b = get(18_000_000);
    let deploys: Vec<_> = b.txs.iter().filter(|t| t.class == TxClass::ContractDeploy).collect();
    assert_eq!(deploys.len(), 1);
    assert!(deploys[0].contract_address.is_some(), "deploy carries the created address");
    assert!(b.block.withdrawals_count.unwrap() > 0);
    let b = get(19_900_000);
    assert_eq!(b.txs.iter().filter(|t| t.tx_type == 3).count(), 1);
    assert_eq!(b.txs.iter().find(|t| t.tx_type == 3).unwrap().blob_hashes_count, Some(6));
    let b = get(47_218);
    assert!(b.txs.iter().all(|t| t.status.is_none() && t.has_receipt));
    assert_eq!(b.txs[0].effective_gas_price, b.txs[0].gas_price, "pre-London price paid is gasPrice");
    let b = get(483_920);
    assert!(!b.logs.is_empty());
    assert_eq!(b.block.miner, all.iter().find(|x| x.0 == 483_920).unwrap().1["miner"].as_str().unwrap_or(""));
}
