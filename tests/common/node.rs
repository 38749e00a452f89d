//! Direct calls to a test node (anvil): the head, canonical hashes, transfers between its dev
//! accounts (automine: one block each), and `anvil_reorg`.

use std::collections::BTreeMap;

use alloy::primitives::U64;
use alloy::rpc::client::{ClientBuilder, RpcClient};
use serde_json::{json, Value};

/// anvil's first three dev accounts.
pub const DEV0: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
pub const DEV1: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
pub const DEV2: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";

pub fn client(url: &str) -> RpcClient {
    ClientBuilder::default().http(url.parse().unwrap())
}

pub async fn head(c: &RpcClient) -> u64 {
    c.request_noparams::<U64>("eth_blockNumber").await.unwrap().to::<u64>()
}

pub async fn hash_at(c: &RpcClient, n: u64) -> String {
    let b: Value = c.request("eth_getBlockByNumber", (format!("{n:#x}"), false)).await.unwrap();
    b["hash"].as_str().unwrap().to_owned()
}

/// Heights `0..=to` and their canonical hashes.
pub async fn chain(c: &RpcClient, to: u64) -> BTreeMap<u64, String> {
    let mut out = BTreeMap::new();
    for n in 0..=to {
        out.insert(n, hash_at(c, n).await);
    }
    out
}

/// A transfer of `value` wei from `from` to DEV1 (one block under automine), returning once it
/// is mined: anvil answers `eth_sendTransaction` before the block exists, so a head read at once
/// can miss it.
pub async fn send(c: &RpcClient, from: &str, value: u64) {
    let tx = json!({"from": from, "to": DEV1, "value": format!("{value:#x}")});
    let hash: Value = c.request("eth_sendTransaction", (tx,)).await.unwrap();
    super::eventually("the transfer is mined", std::time::Duration::from_secs(30), || async {
        let receipt: Value = c.request("eth_getTransactionReceipt", (hash.clone(),)).await.unwrap();
        (!receipt.is_null()).then_some(())
    })
    .await;
}

/// `anvil_reorg` of `depth` blocks, the new branch carrying one transfer made unique by `salt`.
pub async fn reorg(c: &RpcClient, depth: u64, salt: u64) {
    let tx = json!({"from": DEV2, "to": DEV1, "value": format!("{:#x}", 1000 + salt)});
    let _: Value = c.request("anvil_reorg", (depth, vec![(tx, 0)])).await.unwrap();
}

/// Makes the shared node (anvil of infra/local, behind the provider front) at least `to` high:
/// on a fresh machine it started moments ago and mines one block a second, so a test's range
/// may lie above its head; `anvil_mine` adds the missing blocks at once.
pub async fn reach(to: u64) {
    let c = client(&super::env_or("CHAINLAKE_TEST_ANVIL", "http://127.0.0.1:8545"));
    let now = head(&c).await;
    if now < to {
        let _: Value = c.request("anvil_mine", (format!("{:#x}", to - now),)).await.unwrap();
    }
    super::eventually("the shared node reached the test's range", std::time::Duration::from_secs(30), || {
        let c = &c;
        async move { (head(c).await >= to).then_some(()) }
    })
    .await;
}

/// Every transaction of heights `0..=to` as the node reports it, by hash: block number, sender,
/// recipient, value, status, gas used, effective gas price, deployed contract, log count — the
/// values Silver carries (hex quantities as decimals, addresses lowercase).
pub async fn transactions(c: &RpcClient, to: u64) -> BTreeMap<String, Vec<String>> {
    let dec = |v: &Value| {
        v.as_str()
            .map(|h| u128::from_str_radix(h.trim_start_matches("0x"), 16).unwrap().to_string())
            .unwrap_or_default()
    };
    let text = |v: &Value| v.as_str().map(str::to_ascii_lowercase).unwrap_or_default();
    let mut out = BTreeMap::new();
    for n in 0..=to {
        let block: Value = c.request("eth_getBlockByNumber", (format!("{n:#x}"), true)).await.unwrap();
        let receipts: Value = c.request("eth_getBlockReceipts", (format!("{n:#x}"),)).await.unwrap();
        for (t, r) in block["transactions"].as_array().unwrap().iter().zip(receipts.as_array().unwrap()) {
            let logs = r["logs"].as_array().map_or(0, Vec::len).to_string();
            let facts = vec![
                n.to_string(),
                text(&t["from"]),
                text(&t["to"]),
                dec(&t["value"]),
                dec(&r["status"]),
                dec(&r["gasUsed"]),
                dec(&r["effectiveGasPrice"]),
                text(&r["contractAddress"]),
                logs,
            ];
            out.insert(text(&t["hash"]), facts);
        }
    }
    out
}
