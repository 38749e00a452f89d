//! Bulk chain for benchmarks: many blocks of many transactions, fast.
//!
//! Writes to the node: one OpenZeppelin ERC20 deploy and its distribution, then per block
//! `txs_per_block` transactions sent as one JSON-RPC batch (half native transfers, half ERC20
//! transfers with a `Transfer` log; each sender keeps one fee type, as anvil requires) and
//! `evm_mine`. Reads back each block's transaction count to be sure nothing was dropped.

use alloy::dyn_abi::DynSolValue;
use alloy::primitives::{Address, U256};
use alloy::rpc::client::RpcClient;
use serde_json::{json, Value};

use super::artifacts::Artifacts;
use super::node::{manual_mining, rpc_err};
use crate::{Error, Result};

const GWEI: u128 = 1_000_000_000;

/// What [`fill`] mined.
#[derive(Debug, Clone, Copy, Default)]
pub struct BulkChain {
    pub first_block: u64,
    pub last_block: u64,
    pub txs: u64,
}

/// Mines `blocks` blocks of `txs_per_block` transactions each on the node at `rpc_url`.
pub async fn fill(
    rpc_url: &str,
    artifacts: &Artifacts,
    blocks: u64,
    txs_per_block: u64,
) -> Result<BulkChain> {
    let (client, accounts) = manual_mining(rpc_url).await?;
    let mut nonces = vec![0u64; accounts.len()];
    for (i, a) in accounts.iter().enumerate() {
        let n: alloy::primitives::U64 =
            client.request("eth_getTransactionCount", (a, "pending")).await.map_err(rpc_err("nonce"))?;
        nonces[i] = n.to::<u64>();
    }
    // The token, then a share of it for every sender.
    let supply = DynSolValue::Uint(U256::from(10u128.pow(30)), 256);
    let deploy = artifacts.erc20.deploy_data(&[
        DynSolValue::String("Bench".into()),
        DynSolValue::String("BNCH".into()),
        supply,
        DynSolValue::Address(accounts[0]),
    ])?;
    let token = accounts[0].create(nonces[0]);
    let mut setup = vec![tx(accounts[0], None, &deploy.to_string(), 3_000_000, nonces[0], 2)];
    nonces[0] += 1;
    mine(&client, std::mem::take(&mut setup), 1).await?;
    let share = DynSolValue::Uint(U256::from(10u128.pow(27)), 256);
    for to in accounts.iter().skip(1) {
        let data = artifacts.erc20.call_data("transfer", &[DynSolValue::Address(*to), share.clone()])?;
        setup.push(tx(accounts[0], Some(token), &data.to_string(), 100_000, nonces[0], 2));
        nonces[0] += 1;
    }
    let n = setup.len() as u64;
    let first = mine(&client, setup, n).await? + 1;

    let mut out = BulkChain { first_block: first, last_block: first, txs: 0 };
    for b in 0..blocks {
        let mut batch = Vec::with_capacity(txs_per_block as usize);
        for k in 0..txs_per_block {
            let s = ((b + k) % accounts.len() as u64) as usize;
            // One fee type per sender: 0-5 dynamic, 6-7 legacy, 8-9 access list.
            let kind = match s {
                0..=5 => 2,
                6 | 7 => 0,
                _ => 1,
            };
            let to = Address::with_last_byte((k % 200) as u8 + 1);
            let t = if k % 2 == 0 {
                tx(accounts[s], Some(to), "0x", 21_000, nonces[s], kind)
            } else {
                let amount = DynSolValue::Uint(U256::from(k + 1), 256);
                let data = artifacts.erc20.call_data("transfer", &[DynSolValue::Address(to), amount])?;
                tx(accounts[s], Some(token), &data.to_string(), 100_000, nonces[s], kind)
            };
            let mut t = t;
            if k % 2 == 0 {
                t["value"] = json!(format!("{:#x}", 1_000 + b * 1_000 + k));
            }
            nonces[s] += 1;
            batch.push(t);
        }
        out.last_block = mine(&client, batch, txs_per_block).await?;
        out.txs += txs_per_block;
    }
    Ok(out)
}

fn tx(from: Address, to: Option<Address>, input: &str, gas: u64, nonce: u64, kind: u8) -> Value {
    let mut t = json!({"from": from, "input": input, "gas": format!("{gas:#x}"),
        "nonce": format!("{nonce:#x}"), "value": "0x0", "type": format!("{kind:#x}")});
    if let Some(to) = to {
        t["to"] = json!(to);
    }
    if kind == 2 {
        t["maxFeePerGas"] = json!(format!("{:#x}", 50 * GWEI));
        t["maxPriorityFeePerGas"] = json!(format!("{:#x}", GWEI));
    } else {
        t["gasPrice"] = json!(format!("{:#x}", 50 * GWEI));
        if kind == 1 {
            t["accessList"] = json!([]);
        }
    }
    t
}

/// Sends `txs` in one batch, mines one block and checks it holds `expect` transactions.
async fn mine(client: &RpcClient, txs: Vec<Value>, expect: u64) -> Result<u64> {
    let mut batch = client.new_batch();
    let mut waiters = Vec::with_capacity(txs.len());
    for t in &txs {
        waiters.push(batch.add_call::<_, Value>("eth_sendTransaction", &(t,)).map_err(rpc_err("batch"))?);
    }
    batch.send().await.map_err(rpc_err("eth_sendTransaction batch"))?;
    for w in waiters {
        w.await.map_err(rpc_err("eth_sendTransaction"))?;
    }
    let _: Value = client.request_noparams("evm_mine").await.map_err(rpc_err("evm_mine"))?;
    let block: Value =
        client.request("eth_getBlockByNumber", ("latest", false)).await.map_err(rpc_err("latest block"))?;
    let count = block.get("transactions").and_then(Value::as_array).map_or(0, |t| t.len() as u64);
    let number =
        block.get("number").and_then(Value::as_str).and_then(chainlake_wire::hexnum::parse_u64).unwrap_or(0);
    if count != expect {
        return Err(Error::devnet(
            format!("bulk block {number}"),
            format!("{count} txs mined, {expect} sent"),
        ));
    }
    Ok(number)
}
