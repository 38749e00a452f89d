//! What the traffic generator sent, to compare with what the lake computed.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};
use chainlake_wire::TxClass;

/// Counts and sums of every transaction the generator sent (all mined with status 1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub txs: u64,
    pub native_transfers: u64,
    /// Exact sum of the native transfers' values, in wei.
    pub native_transfer_wei: u128,
    pub deploys: u64,
    pub calls: u64,
    /// Calls per contract address (lowercase hex).
    pub calls_by_contract: BTreeMap<String, u64>,
    /// Highest block that holds one of the transactions.
    pub last_block: u64,
    /// ERC-20 `Transfer` events the transactions emit (token mints, transfers, the transfers
    /// inside swaps and liquidity adds, WETH and pool shares included), by the contracts' code.
    #[serde(default)]
    pub erc20_transfers: u64,
    /// Contract calls per method signature, from the ABI each call was encoded with
    /// (`transfer(address,uint256)`; the `0x` selector for a call of no known ABI).
    #[serde(default)]
    pub methods: BTreeMap<String, u64>,
    /// Sum of the `value` arguments of ERC-20 `transfer` calls, in token units.
    #[serde(default)]
    pub erc20_transfer_call_units: u128,
    /// Uniswap V2 `Swap` events (one per single-hop swap) and what the swaps put into the pools.
    #[serde(default)]
    pub v2_swaps: u64,
    #[serde(default)]
    pub swap_in_units: u128,
    /// WETH `Deposit` events (deposits, and the router's deposits of ETH swaps and liquidity).
    #[serde(default)]
    pub weth_deposits: u64,
}

impl Ledger {
    /// Records one sent transaction, classified by the same rule as the ingest; a call under
    /// `method` (its signature as encoded).
    pub fn record(&mut self, to: Option<&str>, input: &str, value: u128, method: Option<String>) {
        self.txs += 1;
        match TxClass::of(to, input) {
            TxClass::NativeTransfer => {
                self.native_transfers += 1;
                self.native_transfer_wei += value;
            }
            TxClass::ContractDeploy => self.deploys += 1,
            TxClass::ContractCall => {
                self.calls += 1;
                let method = method.unwrap_or_else(|| input.get(..10).unwrap_or(input).to_owned());
                *self.methods.entry(method).or_default() += 1;
                *self.calls_by_contract.entry(to.unwrap_or_default().to_lowercase()).or_default() += 1;
            }
        }
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let text =
            serde_json::to_string_pretty(self).map_err(|source| Error::Encode { what: "ledger", source })?;
        std::fs::write(path, text).map_err(|source| Error::Io { path: path.display().to_string(), source })
    }

    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| Error::Io { path: path.display().to_string(), source })?;
        serde_json::from_str(&text).map_err(|e| Error::devnet(format!("ledger {}", path.display()), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_by_class() {
        let mut l = Ledger::default();
        l.record(Some("0xAB"), "0x", 5, None);
        l.record(Some("0xab"), "0xa9059cbb", 0, Some("transfer(address,uint256)".into()));
        l.record(None, "0x6080", 0, None);
        l.record(Some("0xcd"), "0x", 7, None);
        assert_eq!((l.txs, l.native_transfers, l.native_transfer_wei, l.deploys, l.calls), (4, 2, 12, 1, 1));
        assert_eq!(l.calls_by_contract.get("0xab"), Some(&1));
        assert_eq!(l.methods.get("transfer(address,uint256)"), Some(&1));
    }
}
