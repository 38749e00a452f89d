//! Recorded mainnet receipts and logs (testdata/mainnet): every ERC-20 and ERC-721 `Transfer`
//! and every Uniswap V2 and V3 `Swap` decodes, and each decoded value equals the one computed
//! here from the raw topic and data words (plain big-integer arithmetic, not the decoder).
//! ERC-20 `transfer(address,uint256)` calls of the recorded blocks likewise.

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, I256, U256};
use chainlake_decode::{Registry, Status};
use serde_json::Value;

const TRANSFER: &str = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";
const V2_SWAP: &str = "0xd78ad95fa46c994b6551d0da85fc275fe613ce37657fb8d5e3d130840159d822";
const V3_SWAP: &str = "0xc42079f94a6350d7e6235f29174924f928cc2ac818eb64fed8004e115fbcca67";

fn fixtures() -> Vec<Value> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/mainnet");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            out.push(serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap());
        }
    }
    out
}

/// Every log of the receipt and log files.
fn logs() -> Vec<Value> {
    let mut logs = Vec::new();
    for file in fixtures() {
        for item in file.as_array().into_iter().flatten() {
            match item.get("logs") {
                Some(ls) => logs.extend(ls.as_array().into_iter().flatten().cloned()),
                None if item.get("topics").is_some() => logs.push(item.clone()),
                None => {}
            }
        }
    }
    logs
}

/// The 32-byte words of hex data.
fn words(hex: &str) -> Vec<U256> {
    let hex = hex.trim_start_matches("0x");
    (0..hex.len() / 64).map(|i| U256::from_str_radix(&hex[i * 64..i * 64 + 64], 16).unwrap()).collect()
}

fn word(topic: &Value) -> U256 {
    words(topic.as_str().unwrap())[0]
}

/// The address in a word's low 20 bytes, lowercase hex.
fn address(w: U256) -> String {
    format!("0x{}", &format!("{w:064x}")[24..])
}

fn signed(w: U256) -> String {
    I256::from_raw(w).to_string()
}

fn decode(r: &Registry, log: &Value) -> BTreeMap<String, String> {
    let topics: Vec<B256> =
        log["topics"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().parse().unwrap()).collect();
    let data = chainlake_decode::value::unhex(log["data"].as_str().unwrap()).unwrap();
    let address: Address = log["address"].as_str().unwrap().parse().unwrap();
    let d = r.decode_event(Some(&address), &topics, &data);
    assert_eq!(d.status, Status::Decoded, "{log}: {d:?}");
    d.args.iter().map(|a| (a.name.clone(), a.text())).collect()
}

#[test]
fn every_transfer_and_swap_decodes_to_the_words_it_carries() {
    let r = Registry::builtin().unwrap();
    let mut seen = BTreeMap::<&str, usize>::new();
    for log in logs() {
        let topics = log["topics"].as_array().unwrap();
        let Some(topic0) = topics.first().and_then(Value::as_str) else { continue };
        let data = words(log["data"].as_str().unwrap());
        let expected: Vec<(&str, String)> = match (topic0, topics.len(), data.len()) {
            (TRANSFER, 3, 1) => {
                vec![
                    ("from", address(word(&topics[1]))),
                    ("to", address(word(&topics[2]))),
                    ("value", data[0].to_string()),
                ]
            }
            (TRANSFER, 4, 0) => vec![
                ("from", address(word(&topics[1]))),
                ("to", address(word(&topics[2]))),
                ("tokenId", word(&topics[3]).to_string()),
            ],
            (V2_SWAP, 3, 4) => vec![
                ("sender", address(word(&topics[1]))),
                ("amount0In", data[0].to_string()),
                ("amount1In", data[1].to_string()),
                ("amount0Out", data[2].to_string()),
                ("amount1Out", data[3].to_string()),
                ("to", address(word(&topics[2]))),
            ],
            (V3_SWAP, 3, 5) => vec![
                ("sender", address(word(&topics[1]))),
                ("recipient", address(word(&topics[2]))),
                ("amount0", signed(data[0])),
                ("amount1", signed(data[1])),
                ("sqrtPriceX96", data[2].to_string()),
                ("liquidity", data[3].to_string()),
                ("tick", signed(data[4])),
            ],
            _ => continue,
        };
        let kind = match (topic0, topics.len()) {
            (TRANSFER, 3) => "erc20 Transfer",
            (TRANSFER, _) => "erc721 Transfer",
            (V2_SWAP, _) => "v2 Swap",
            _ => "v3 Swap",
        };
        *seen.entry(kind).or_default() += 1;
        let got = decode(&r, &log);
        for (name, value) in expected {
            assert_eq!(got.get(name), Some(&value), "{kind} {name} of {log}");
        }
    }
    for kind in ["erc20 Transfer", "erc721 Transfer", "v2 Swap", "v3 Swap"] {
        assert!(seen.get(kind).copied().unwrap_or(0) > 50, "{kind}: {seen:?}");
    }
}

#[test]
fn erc20_transfer_calls_of_the_recorded_blocks_decode_to_their_words() {
    let r = Registry::builtin().unwrap();
    let mut calls = 0;
    for file in fixtures() {
        for tx in file.get("transactions").and_then(Value::as_array).into_iter().flatten() {
            let (Some(input), Some(to)) =
                (tx.get("input").and_then(Value::as_str), tx.get("to").and_then(Value::as_str))
            else {
                continue;
            };
            if !input.starts_with("0xa9059cbb") || input.len() != 2 + 8 + 128 {
                continue;
            }
            let w = words(&input[10..]);
            let bytes = chainlake_decode::value::unhex(input).unwrap();
            let d = r.decode_call(Some(&to.parse().unwrap()), &bytes).unwrap();
            assert_eq!(d.status, Status::Decoded, "{d:?}");
            assert_eq!(d.signature.as_deref(), Some("transfer(address,uint256)"));
            let args: Vec<String> = d.args.iter().map(|a| a.text()).collect();
            assert_eq!(args, vec![address(w[0]), w[1].to_string()], "{input}");
            calls += 1;
        }
    }
    assert!(calls > 20, "{calls} ERC-20 transfer calls");
}
