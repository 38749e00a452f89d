//! Realistic traffic on anvil: ERC20 tokens, a Uniswap V2 pool, swaps, transfers, deploys.
//!
//! Reads the compiled [`Artifacts`]; writes transactions to the node (unlocked dev accounts,
//! `eth_sendTransaction`, manual mining so that many transactions share a block) and returns
//! the [`Ledger`] of everything it sent. Every transaction must succeed, so the ledger is exact.

use std::collections::HashMap;
use std::time::Duration;

use alloy::dyn_abi::DynSolValue;
use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::rpc::client::RpcClient;
use serde::Deserialize;
use serde_json::{json, Value};

use super::artifacts::Artifacts;
use super::ledger::Ledger;
use super::node::{manual_mining, rpc_err};
use crate::{Error, Result};

/// How much traffic to send after the contracts are set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TrafficConfig {
    pub blocks: u32,
    pub txs_per_block: u32,
}

const GWEI: u128 = 1_000_000_000;
const ETHER: u128 = 1_000_000_000_000_000_000;

#[derive(Clone, Copy)]
enum Fees {
    Legacy,
    AccessList,
    Dynamic { priority_gwei: u128 },
}

struct Sender {
    client: RpcClient,
    nonces: HashMap<Address, u64>,
    pending: Vec<B256>,
    ledger: Ledger,
    blocks: u64,
    /// The signature of every function of the artifacts, by selector: what each call sent.
    methods: HashMap<[u8; 4], String>,
}

impl Sender {
    async fn nonce(&mut self, from: Address) -> Result<u64> {
        if let Some(n) = self.nonces.get_mut(&from) {
            *n += 1;
            return Ok(*n - 1);
        }
        let n: alloy::primitives::U64 = self
            .client
            .request("eth_getTransactionCount", (from, "pending"))
            .await
            .map_err(rpc_err("eth_getTransactionCount"))?;
        let n = n.to::<u64>();
        self.nonces.insert(from, n + 1);
        Ok(n)
    }

    /// Sends one transaction; returns the created contract's address for deploys.
    async fn send(
        &mut self,
        from: Address,
        to: Option<Address>,
        value: u128,
        data: Bytes,
        gas: u64,
        fees: Fees,
    ) -> Result<Address> {
        let nonce = self.nonce(from).await?;
        let mut tx = json!({
            "from": from, "value": format!("{value:#x}"), "input": data, "gas": format!("{gas:#x}"),
            "nonce": format!("{nonce:#x}"),
        });
        if let Some(to) = to {
            tx["to"] = json!(to);
        }
        match fees {
            Fees::Legacy => {
                tx["gasPrice"] = json!(format!("{:#x}", 10 * GWEI));
                tx["type"] = json!("0x0");
            }
            Fees::AccessList => {
                tx["gasPrice"] = json!(format!("{:#x}", 10 * GWEI));
                tx["accessList"] = json!([]);
                tx["type"] = json!("0x1");
            }
            Fees::Dynamic { priority_gwei } => {
                tx["maxFeePerGas"] = json!(format!("{:#x}", 20 * GWEI));
                tx["maxPriorityFeePerGas"] = json!(format!("{:#x}", priority_gwei * GWEI));
                tx["type"] = json!("0x2");
            }
        }
        let hash: B256 = self
            .client
            .request("eth_sendTransaction", (tx,))
            .await
            .map_err(rpc_err("eth_sendTransaction"))?;
        self.pending.push(hash);
        let to_hex = to.map(|a| format!("{a:#x}"));
        let method =
            data.get(..4).and_then(|s| <[u8; 4]>::try_from(s).ok()).and_then(|s| self.methods.get(&s));
        self.ledger.record(to_hex.as_deref(), &data.to_string(), value, method.cloned());
        Ok(from.create(nonce))
    }

    /// Mines the pending transactions and checks every one succeeded.
    async fn mine(&mut self) -> Result<()> {
        // Rotate the fee recipient like a chain with several builders.
        self.blocks += 1;
        let builder = Address::with_last_byte(0xb0 + (self.blocks % 3) as u8);
        let _: Value = self
            .client
            .request("anvil_setCoinbase", (builder,))
            .await
            .map_err(rpc_err("anvil_setCoinbase"))?;
        for _attempt in 0..20 {
            let _: Value = self.client.request_noparams("evm_mine").await.map_err(rpc_err("evm_mine"))?;
            let mut still_pending = Vec::new();
            for hash in std::mem::take(&mut self.pending) {
                let r: Option<Value> = self
                    .client
                    .request("eth_getTransactionReceipt", (hash,))
                    .await
                    .map_err(rpc_err("eth_getTransactionReceipt"))?;
                match r {
                    None => still_pending.push(hash),
                    Some(r) => {
                        if r.get("status").and_then(Value::as_str) != Some("0x1") {
                            return Err(Error::devnet(format!("tx {hash}"), "reverted"));
                        }
                        let block = r
                            .get("blockNumber")
                            .and_then(Value::as_str)
                            .and_then(chainlake_wire::hexnum::parse_u64);
                        self.ledger.last_block = self.ledger.last_block.max(block.unwrap_or(0));
                    }
                }
            }
            self.pending = still_pending;
            if self.pending.is_empty() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(Error::devnet(
            "mine",
            format!("{} transactions never mined, e.g. {:?}", self.pending.len(), self.pending.first()),
        ))
    }
}

fn addr(a: Address) -> DynSolValue {
    DynSolValue::Address(a)
}
fn uint(v: u128) -> DynSolValue {
    DynSolValue::Uint(U256::from(v), 256)
}

/// The contracts the traffic uses.
#[derive(Clone, Copy)]
struct Contracts {
    tka: Address,
    tkb: Address,
    weth: Address,
    router: Address,
}

fn deadline() -> DynSolValue {
    DynSolValue::Uint(U256::MAX, 256)
}

fn token_supply() -> DynSolValue {
    uint(1_000_000_000 * ETHER)
}

const OWNER_FEES: Fees = Fees::Dynamic { priority_gwei: 1 };

/// Deploys two tokens, WETH, the Uniswap V2 factory and router, approves the router and adds
/// liquidity to the TKA/TKB and TKA/WETH pools.
async fn deploy(s: &mut Sender, a: &Artifacts, owner: Address) -> Result<Contracts> {
    let token = |name: &str, sym: &str| {
        a.erc20.deploy_data(&[
            DynSolValue::String(name.into()),
            DynSolValue::String(sym.into()),
            token_supply(),
            addr(owner),
        ])
    };
    let tka = s.send(owner, None, 0, token("Token A", "TKA")?, 3_000_000, OWNER_FEES).await?;
    let tkb = s.send(owner, None, 0, token("Token B", "TKB")?, 3_000_000, OWNER_FEES).await?;
    let weth = s.send(owner, None, 0, a.weth.deploy_data(&[])?, 2_000_000, OWNER_FEES).await?;
    let factory =
        s.send(owner, None, 0, a.factory.deploy_data(&[addr(owner)])?, 6_000_000, OWNER_FEES).await?;
    s.ledger.erc20_transfers += 2; // the two tokens' supply minted to the owner
    s.mine().await?;
    let router = s
        .send(owner, None, 0, a.router.deploy_data(&[addr(factory), addr(weth)])?, 7_000_000, OWNER_FEES)
        .await?;
    for t in [tka, tkb] {
        let approve = a.erc20.call_data("approve", &[addr(router), DynSolValue::Uint(U256::MAX, 256)])?;
        s.send(owner, Some(t), 0, approve, 100_000, OWNER_FEES).await?;
    }
    s.mine().await?;
    let liq = uint(1_000_000 * ETHER);
    let add = a.router.call_data(
        "addLiquidity",
        &[addr(tka), addr(tkb), liq.clone(), liq.clone(), uint(0), uint(0), addr(owner), deadline()],
    )?;
    s.send(owner, Some(router), 0, add, 6_000_000, OWNER_FEES).await?;
    // Two tokens into the new pair, its first shares minted to 0 (the minimum) and the owner.
    s.ledger.erc20_transfers += 4;
    let add_eth = a
        .router
        .call_data("addLiquidityETH", &[addr(tka), liq.clone(), uint(0), uint(0), addr(owner), deadline()])?;
    s.send(owner, Some(router), 100 * ETHER, add_eth, 6_000_000, OWNER_FEES).await?;
    // TKA and the deposited WETH into the new pair, its first shares minted twice.
    s.ledger.erc20_transfers += 4;
    s.ledger.weth_deposits += 1;
    s.mine().await?;
    Ok(Contracts { tka, tkb, weth, router })
}

/// One fee style per sender: anvil's pool drops a sender's later transactions when their
/// types differ within one block. Types still mix within every block.
fn fees_of(k: usize) -> Fees {
    match k % 3 {
        0 => Fees::Legacy,
        1 => Fees::AccessList,
        _ => Fees::Dynamic { priority_gwei: 1 + (k as u128) % 4 },
    }
}

/// Sends the `n`-th transaction of the traffic (slot `i` of block `b`): token transfers,
/// swaps, WETH deposits, deploys and native transfers in a fixed pattern.
async fn send_one(
    s: &mut Sender,
    a: &Artifacts,
    c: Contracts,
    accounts: &[Address],
    (b, i, n): (u32, u32, u128),
) -> Result<()> {
    let (owner, k) = (accounts[0], 1 + ((n * 3 + n / 8) % 8) as usize);
    let (from, to) = (accounts[k], accounts[(n as usize * 7 + 3) % 10]);
    match i % 8 {
        3 | 4 => {
            let t = if i % 8 == 3 { c.tka } else { c.tkb };
            let data = a.erc20.call_data("transfer", &[addr(to), uint((n % 100 + 1) * ETHER)])?;
            s.send(owner, Some(t), 0, data, 100_000, OWNER_FEES).await?;
            s.ledger.erc20_transfers += 1;
            s.ledger.erc20_transfer_call_units += (n % 100 + 1) * ETHER;
        }
        5 => {
            let path = DynSolValue::Array(vec![addr(c.tka), addr(c.tkb)]);
            let data = a.router.call_data(
                "swapExactTokensForTokens",
                &[uint(ETHER), uint(0), path, addr(owner), deadline()],
            )?;
            s.send(owner, Some(c.router), 0, data, 300_000, OWNER_FEES).await?;
            s.ledger.erc20_transfers += 2; // TKA into the pool, TKB out
            (s.ledger.v2_swaps, s.ledger.swap_in_units) =
                (s.ledger.v2_swaps + 1, s.ledger.swap_in_units + ETHER);
        }
        6 => {
            let path = DynSolValue::Array(vec![addr(c.weth), addr(c.tka)]);
            let data = a.router.call_data("swapExactETHForTokens", &[uint(0), path, addr(to), deadline()])?;
            s.send(owner, Some(c.router), ETHER / 10, data, 300_000, OWNER_FEES).await?;
            s.ledger.erc20_transfers += 2; // WETH into the pool (the deposit itself is no Transfer), TKA out
            (s.ledger.v2_swaps, s.ledger.swap_in_units) =
                (s.ledger.v2_swaps + 1, s.ledger.swap_in_units + ETHER / 10);
            s.ledger.weth_deposits += 1; // the router wraps the ETH
        }
        2 => {
            let data = a.weth.call_data("deposit", &[])?;
            s.send(from, Some(c.weth), (n % 10 + 1) * ETHER / 100, data, 100_000, fees_of(k)).await?;
            s.ledger.weth_deposits += 1;
        }
        7 if b % 2 == 0 => {
            let data = a.erc20.deploy_data(&[
                DynSolValue::String(format!("Token {n}")),
                DynSolValue::String(format!("T{n}")),
                token_supply(),
                addr(from),
            ])?;
            s.send(accounts[9], None, 0, data, 3_000_000, fees_of(9)).await?;
            s.ledger.erc20_transfers += 1; // the supply minted
        }
        _ => {
            let value = (n % 1000 + 1) * 1_000_000_000_000_000;
            s.send(from, Some(to), value, Bytes::new(), 21_000, fees_of(k)).await?;
        }
    }
    Ok(())
}

/// Deploys tokens and a Uniswap V2 pool on the node at `rpc_url`, then sends the traffic.
#[tracing::instrument(skip(rpc_url, artifacts))]
pub async fn generate(rpc_url: &str, artifacts: &Artifacts, cfg: &TrafficConfig) -> Result<Ledger> {
    let (client, accounts) = manual_mining(rpc_url).await?;
    let methods = [&artifacts.erc20, &artifacts.weth, &artifacts.factory, &artifacts.router]
        .iter()
        .flat_map(|a| a.abi.functions())
        .map(|f| (f.selector().0, f.signature()))
        .collect();
    let mut s = Sender {
        client,
        nonces: HashMap::new(),
        pending: Vec::new(),
        ledger: Ledger::default(),
        blocks: 0,
        methods,
    };
    let contracts = deploy(&mut s, artifacts, accounts[0]).await?;
    let mut n: u128 = 0;
    for b in 0..cfg.blocks {
        for i in 0..cfg.txs_per_block {
            n += 1;
            send_one(&mut s, artifacts, contracts, &accounts, (b, i, n)).await?;
        }
        s.mine().await?;
    }
    Ok(s.ledger)
}
