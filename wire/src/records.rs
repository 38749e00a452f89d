//! The wire format of every `{chain}.*` Kafka topic (JSON, one record per message).
//!
//! Wei amounts and fees are exact decimal strings (they can exceed 64 bits); hashes,
//! addresses and byte strings are `0x` hex as the node sent them. Every record carries
//! `schema_version` so consumers can evolve. docs/topics.md documents each field.

use serde::{Deserialize, Serialize};

use crate::columns::wire_record;

/// Version of the record layouts below; bump on any incompatible change.
pub const SCHEMA_VERSION: u32 = 2;

/// What a transaction does, decided from its `to` and `input` alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxClass {
    /// `to` set and empty input: moves ether only.
    NativeTransfer,
    /// No `to`: creates a contract.
    ContractDeploy,
    /// `to` set and input present: calls a contract.
    ContractCall,
}

impl TxClass {
    pub const ALL: [TxClass; 3] = [TxClass::NativeTransfer, TxClass::ContractDeploy, TxClass::ContractCall];

    /// Classifies by the rule of the design: deploy if `to` is absent, transfer if input is empty.
    pub fn of(to: Option<&str>, input: &str) -> Self {
        match to {
            None => TxClass::ContractDeploy,
            Some(_) if input.is_empty() || input == "0x" || input == "0X" => TxClass::NativeTransfer,
            Some(_) => TxClass::ContractCall,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TxClass::NativeTransfer => "native_transfer",
            TxClass::ContractDeploy => "contract_deploy",
            TxClass::ContractCall => "contract_call",
        }
    }
}

wire_record! {
/// One block header; topic `{chain}.blocks`, key = block hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockRecord {
    pub schema_version: u32,
    pub chain: String,
    pub number: u64,
    pub hash: String,
    pub parent_hash: String,
    /// Unix seconds.
    pub timestamp: u64,
    /// Fee recipient (`miner`, or `author` on old Parity responses).
    pub miner: String,
    pub gas_used: u64,
    pub gas_limit: u64,
    pub base_fee_per_gas: Option<String>,
    pub tx_count: u64,
    pub size: Option<u64>,
    pub extra_data: Option<String>,
    pub withdrawals_count: Option<u64>,
    pub blob_gas_used: Option<u64>,
    pub excess_blob_gas: Option<u64>,
    /// The header's commitments, as received (hex), so `chainlake verify` can recompute the
    /// header hash from Bronze alone; absent where the era or client has none.
    pub state_root: Option<String>,
    pub transactions_root: Option<String>,
    pub receipts_root: Option<String>,
    pub logs_bloom: Option<String>,
    pub difficulty: Option<String>,
    pub mix_hash: Option<String>,
    pub nonce: Option<String>,
    pub sha3_uncles: Option<String>,
    pub withdrawals_root: Option<String>,
    pub parent_beacon_block_root: Option<String>,
    pub requests_hash: Option<String>,
    /// True when the header hash, transactions, receipts and withdrawals roots were
    /// recomputed and matched (`chain.verify = strict` publishes nothing else).
    pub verified: bool,
    /// Publication order of the follower (epoch << 32 | counter, see ingest/src/sequence.rs):
    /// Silver orders a height's candidates and the reorg events by it, never by arrival time.
    pub seq: u64,
}
}

wire_record! {
/// One transaction joined with its receipt; topic `{chain}.txs.{class}`, key = tx hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxRecord {
    pub schema_version: u32,
    pub chain: String,
    pub block_number: u64,
    pub block_hash: String,
    pub block_timestamp: u64,
    pub hash: String,
    pub tx_index: u64,
    /// EIP-2718 type as sent (absent on pre-Berlin responses: legacy).
    pub tx_type: u64,
    /// False when the type is newer than this code knows: the record is kept, flagged.
    pub type_known: bool,
    pub class: TxClass,
    pub from: String,
    pub to: Option<String>,
    pub value: String,
    pub input: String,
    pub nonce: u64,
    pub gas: u64,
    pub gas_price: Option<String>,
    pub max_fee_per_gas: Option<String>,
    pub max_priority_fee_per_gas: Option<String>,
    pub max_fee_per_blob_gas: Option<String>,
    pub blob_hashes_count: Option<u64>,
    pub authorizations_count: Option<u64>,
    /// False when the node returned no receipt for this tx (flagged, not dropped).
    pub has_receipt: bool,
    /// 1 success, 0 failure; absent before Byzantium (receipts carried a state root).
    pub status: Option<u64>,
    pub gas_used: Option<u64>,
    pub cumulative_gas_used: Option<u64>,
    pub effective_gas_price: Option<String>,
    pub contract_address: Option<String>,
    pub logs_count: Option<u64>,
}
}

wire_record! {
/// One event log; topic `{chain}.logs`, key = `{block_hash}:{log_index}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    pub schema_version: u32,
    pub chain: String,
    pub block_number: u64,
    pub block_hash: String,
    pub block_timestamp: u64,
    pub tx_hash: String,
    pub tx_index: u64,
    pub log_index: u64,
    pub address: String,
    pub topic0: Option<String>,
    pub topic1: Option<String>,
    pub topic2: Option<String>,
    pub topic3: Option<String>,
    pub topics_count: u64,
    pub data: String,
    pub removed: bool,
}
}

impl LogRecord {
    pub fn key(&self) -> String {
        format!("{}:{}", self.block_hash, self.log_index)
    }
}

/// What happened to the canonical chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainEventKind {
    /// Blocks above `number - 1` were replaced; `orphaned_hashes` left the canonical chain.
    Reorg,
    /// Height `number` with `hash` is `depth` blocks deep (the configured confirmations).
    Confirmed,
}

wire_record! {
/// One chain event; topic `{chain}.chain_events`, key = `{kind}:{number}:{hash}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainEventRecord {
    pub schema_version: u32,
    pub chain: String,
    pub kind: ChainEventKind,
    /// Reorg: first replaced height (fork point + 1). Confirmed: the confirmed height.
    pub number: u64,
    /// Reorg: new canonical hash at `number`. Confirmed: the confirmed hash.
    pub hash: String,
    /// Reorg: replaced blocks. Confirmed: confirmations.
    pub depth: u64,
    /// Reorg: the orphaned hashes, lowest height first.
    pub orphaned_hashes: Vec<String>,
    /// Reorg: the new canonical hashes of the replaced heights, lowest height first.
    pub new_hashes: Vec<String>,
    /// Unix milliseconds when the follower saw it.
    pub detected_at: i64,
    /// Publication order, on the same scale as [`BlockRecord::seq`]: a reorg event orphans
    /// every block at or above `number` published before it.
    pub seq: u64,
}
}

wire_record! {
/// A block that could not be proven against its header (or not parsed), kept raw; topic
/// `{chain}.unverified`, key = `{number}:{hash}`. It is never published to `{chain}.blocks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnverifiedRecord {
    pub schema_version: u32,
    pub chain: String,
    pub number: u64,
    /// The hash the block claims (empty when it has none).
    pub hash: String,
    /// Pseudonym of the provider that served the last attempt.
    pub provider: String,
    /// Short machine-readable reason (`header_hash`, `transactions_root`, `receipts_root`,
    /// `withdrawals_root`, `receipts_count`, `receipt_block_hash`, `receipt_tx`, `null_receipts`,
    /// `decode`, `malformed`).
    pub reason: String,
    /// Human-readable detail with coordinates.
    pub detail: String,
    /// The root (or hash) the header commits to.
    pub expected: Option<String>,
    /// The root (or hash) recomputed from the answer.
    pub computed: Option<String>,
    /// Fetch attempts made before giving up.
    pub attempts: u64,
    /// The `eth_getBlockByNumber` answer as received (JSON text).
    pub block_json: String,
    /// The receipts answer as received (JSON text).
    pub receipts_json: String,
    /// Unix milliseconds when it was given up on.
    pub detected_at: i64,
}
}

impl UnverifiedRecord {
    pub fn key(&self) -> String {
        format!("{}:{}", self.number, self.hash)
    }
}

impl ChainEventRecord {
    pub fn key(&self) -> String {
        let kind = match self.kind {
            ChainEventKind::Reorg => "reorg",
            ChainEventKind::Confirmed => "confirmed",
        };
        format!("{kind}:{}:{}", self.number, self.hash)
    }
}

/// Everything one block produces, ready to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockBundle {
    pub block: BlockRecord,
    pub txs: Vec<TxRecord>,
    pub logs: Vec<LogRecord>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_rule() {
        assert_eq!(TxClass::of(None, "0x6080"), TxClass::ContractDeploy);
        assert_eq!(TxClass::of(None, "0x"), TxClass::ContractDeploy);
        assert_eq!(TxClass::of(Some("0xab"), "0x"), TxClass::NativeTransfer);
        assert_eq!(TxClass::of(Some("0xab"), ""), TxClass::NativeTransfer);
        assert_eq!(TxClass::of(Some("0xab"), "0xa9059cbb"), TxClass::ContractCall);
    }
}
