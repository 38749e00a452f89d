//! An ABI added after ingestion decodes the history: a real OpenZeppelin token on anvil is
//! called (`burn(uint256)`, which among the built-in ABIs only Uniswap V3's position manager
//! declares, as `burn(uint256 tokenId)`) and ingested through tansu into the lake; by selector
//! the medallion can only name the argument as that ABI does. Then the token's ABI file is added
//! to `abi.dir` and bound to the token, and the next medallion run — no node, no re-crawl —
//! rebuilds the decoded tables: the earlier call decodes with the token's own ABI. A run after
//! that commits nothing.

use crate::common;

use std::time::Duration;

use alloy::dyn_abi::DynSolValue;
use alloy::primitives::{Address, U256};
use chainlake::pipeline;
use chainlake_decode::Binding;
use chainlake_ingest::devnet::Artifacts;
use chainlake_medallion::bronze::Until;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::common::node::{client, head, DEV0};

/// Sends `data` from DEV0 (to `to`, or a deployment) and waits for its receipt.
async fn send(c: &alloy::rpc::client::RpcClient, to: Option<Address>, data: Vec<u8>) -> Value {
    let mut tx = json!({"from": DEV0, "input": format!("0x{}", alloy::primitives::hex::encode(data)), "gas": "0x2dc6c0"});
    if let Some(to) = to {
        tx["to"] = json!(to);
    }
    let hash: Value = c.request("eth_sendTransaction", (tx,)).await.unwrap();
    common::eventually("the transaction is mined", Duration::from_secs(30), || async {
        let r: Value = c.request("eth_getTransactionReceipt", (hash.clone(),)).await.unwrap();
        (!r.is_null()).then_some(r)
    })
    .await
}

async fn burn_call(cfg: &chainlake::config::Config) -> Vec<String> {
    let sql = "SELECT decode_status, origin, args FROM silver.decoded_calls \
               WHERE method_selector = '0x42966c68'";
    let rows = pipeline::rows(&pipeline::query(cfg, sql).await.unwrap()).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abi_added_later_decodes_the_calls_already_in_the_lake() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("dechist", dir.path().join("lake").to_str().unwrap());
    cfg.sink.consumer_group = false;
    cfg.abi.dir = dir.path().join("abis");
    let anvil = common::anvil(&cfg, &[]).await;
    cfg.rpc.url = anvil.url();
    let node = client(&anvil.url());

    let artifacts = Artifacts::load(&cfg.devnet.artifacts_dir()).unwrap();
    let owner: Address = DEV0.parse().unwrap();
    let supply = DynSolValue::Uint(U256::from(1_000_000u64), 256);
    let args = [
        DynSolValue::String("Token".into()),
        DynSolValue::String("TK".into()),
        supply,
        DynSolValue::Address(owner),
    ];
    let deployed = send(&node, None, artifacts.erc20.deploy_data(&args).unwrap().to_vec()).await;
    let token: Address = deployed["contractAddress"].as_str().unwrap().parse().unwrap();
    let burn = artifacts.erc20.call_data("burn", &[DynSolValue::Uint(U256::from(5u64), 256)]).unwrap();
    send(&node, Some(token), burn.to_vec()).await;

    let crawler = pipeline::connect(&cfg).await.unwrap();
    let cancel = CancellationToken::new();
    let (_stop, stop_rx) = tokio::sync::watch::channel(Some(head(&node).await));
    crawler.follow(0, stop_rx, Duration::from_millis(20), 4, &cancel).await.unwrap();
    pipeline::sink(&cfg, Until::CaughtUp, &cancel).await.unwrap();
    pipeline::medallion(&cfg).await.unwrap();
    let by_selector = ["decoded", "abi:uniswap-v3-nonfungible-position-manager", r#"{"tokenId":"5"}"#];
    assert_eq!(burn_call(&cfg).await, by_selector);

    // The token's ABI (the npm artifact as it is), bound to its address.
    std::fs::create_dir_all(&cfg.abi.dir).unwrap();
    let artifact = cfg
        .devnet
        .artifacts_dir()
        .join("@openzeppelin/contracts/build/contracts/ERC20PresetFixedSupply.json");
    std::fs::copy(artifact, cfg.abi.dir.join("oz-token.json")).unwrap();
    cfg.abi.contracts = vec![Binding { address: format!("{token:#x}"), abi: "oz-token".into(), chain: None }];
    let reports = pipeline::medallion(&cfg).await.unwrap();
    let scope = |t: &str| reports.iter().find(|r| r.table == t).map(|r| r.scope).unwrap();
    assert_eq!(scope("silver.decoded_calls"), "full", "{reports:?}");
    assert_eq!(scope("silver.decoded_events"), "full", "{reports:?}");
    assert_eq!(scope("silver.blocks"), "unchanged", "nothing else is read again: {reports:?}");
    assert_eq!(burn_call(&cfg).await, ["decoded", "bound:oz-token", r#"{"amount":"5"}"#]);

    let again = pipeline::medallion(&cfg).await.unwrap();
    assert!(again.iter().all(|r| r.version.is_none()), "nothing new, nothing committed: {again:?}");
    anvil.stop().await;
}
