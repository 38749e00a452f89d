//! The lies a provider front tells about a node's true answer, as pure JSON edits: each one
//! leaves an answer that parses and looks plausible, and that verification must catch.

use serde_json::{json, Value};

/// Every lie about a block answer (`eth_getBlockByNumber`).
pub const BLOCK_LIES: [&str; 4] = ["miner_changed", "value_changed", "from_changed", "another_block"];

/// Every lie about a receipts answer (`eth_getBlockReceipts`).
pub const RECEIPT_LIES: [&str; 7] = [
    "gas_used_changed",
    "status_changed",
    "log_dropped",
    "receipts_swapped",
    "another_blocks_receipts",
    "contract_address_changed",
    "log_removed",
];

/// Transport faults that come with a status 200 or none at all.
pub const TRANSPORT_LIES: [&str; 3] = ["html_200", "reset", "trickle"];

/// Every kind the lie storm draws from.
pub fn all() -> Vec<&'static str> {
    BLOCK_LIES.iter().chain(RECEIPT_LIES.iter()).chain(TRANSPORT_LIES.iter()).copied().collect()
}

/// Whether `lie` applies to calls of `method`.
pub fn applies(lie: &str, method: &str) -> bool {
    match method {
        "eth_getBlockByNumber" => BLOCK_LIES.contains(&lie) || TRANSPORT_LIES.contains(&lie),
        "eth_getBlockReceipts" => RECEIPT_LIES.contains(&lie) || TRANSPORT_LIES.contains(&lie),
        _ => TRANSPORT_LIES.contains(&lie),
    }
}

/// For lies that answer with another height's data: the height to ask the node instead.
pub fn other_height(lie: &str, asked: u64) -> Option<u64> {
    match lie {
        "another_block" => Some(asked + 1),
        "another_blocks_receipts" => Some(asked.saturating_sub(1)),
        _ => None,
    }
}

fn flip_hex(v: &Value) -> Value {
    let s = v.as_str().unwrap_or("0x0");
    let n = u128::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or(0);
    json!(format!("{:#x}", n ^ 1))
}

const OTHER_ADDRESS: &str = "0x00000000000000000000000000000000000000a1";

/// `result` (the node's answer) with `lie` told about it; `None` when it cannot be told (no
/// transaction, no log): then the answer goes out true.
pub fn tell(lie: &str, result: &Value, pick: u64) -> Option<Value> {
    let mut r = result.clone();
    let nth = |len: usize| (pick % len.max(1) as u64) as usize;
    match lie {
        "miner_changed" => r["miner"] = json!(OTHER_ADDRESS),
        "value_changed" | "from_changed" => {
            let txs = r["transactions"].as_array_mut().filter(|t| !t.is_empty())?;
            let i = nth(txs.len());
            let (key, value) = if lie == "value_changed" {
                ("value", flip_hex(&txs[i]["value"]))
            } else {
                ("from", json!(OTHER_ADDRESS))
            };
            txs[i][key] = value;
        }
        "gas_used_changed" | "status_changed" | "contract_address_changed" => {
            let rs = r.as_array_mut().filter(|a| !a.is_empty())?;
            let i = nth(rs.len());
            match lie {
                "gas_used_changed" => rs[i]["gasUsed"] = flip_hex(&rs[i]["gasUsed"]),
                "status_changed" => rs[i]["status"] = flip_hex(&rs[i]["status"]),
                _ => rs[i]["contractAddress"] = json!(OTHER_ADDRESS),
            }
        }
        "log_dropped" | "log_removed" => {
            let rs = r.as_array_mut()?;
            let with_logs: Vec<usize> =
                (0..rs.len()).filter(|i| rs[*i]["logs"].as_array().is_some_and(|l| !l.is_empty())).collect();
            let i = *with_logs.get(nth(with_logs.len()))?;
            let logs = rs[i]["logs"].as_array_mut()?;
            if lie == "log_dropped" {
                logs.pop();
            } else {
                logs[0]["removed"] = json!(true);
            }
        }
        "receipts_swapped" => {
            let rs = r.as_array_mut().filter(|a| a.len() >= 2)?;
            let i = nth(rs.len() - 1);
            rs.swap(i, i + 1);
        }
        // Answered with another height's data by the front (other_height): as fetched.
        "another_block" | "another_blocks_receipts" => {}
        _ => return None,
    }
    Some(r)
}
