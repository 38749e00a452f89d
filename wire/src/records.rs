//! The wire format of every `{chain}.*` Kafka topic (JSON, one record per message).
//!
//! Wei amounts and fees are exact decimal strings (they can exceed 64 bits); hashes,
//! addresses and byte strings are `0x` hex as the node sent them. Every record carries
//! `schema_version` so consumers can evolve. docs/topics.md documents each field.

use serde::{Deserialize, Serialize};

use arrow_schema::DataType;

use crate::columns::{wire_record, ArrowColumn};

/// Version of the record layouts below; bump on any change. 3: `BlockRecord::publisher`
/// (absent, null in Bronze, on version-2 records).
pub const SCHEMA_VERSION: u32 = 3;

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

// Enums travel as their snake_case names.
impl ArrowColumn for TxClass {
    fn data_type() -> DataType {
        DataType::Utf8
    }
}

impl ArrowColumn for ChainEventKind {
    fn data_type() -> DataType {
        DataType::Utf8
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
    /// Publication order (epoch << 32 | counter, see ingest/src/sequence.rs), one scale for
    /// every publisher: which head the follower announced last, and which of its copies of a
    /// block came after a reorg event, are decided by it, never by arrival time.
    pub seq: u64,
    /// Who published it: `follow` (the follower, announcing it as the new head), `backfill`
    /// or `repair` (a hole re-driven). Absent on version-2 records. Silver's canonical chain
    /// ends at the latest head the follower announced (sql/silver_blocks.sql).
    pub publisher: Option<String>,
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

wire_record! {
/// One RPC request as the replica sent it (key pool audit, never the secret); topic
/// `{chain}.ops.rpc_usage`, key = the key's pseudonym. A JSON-RPC batch is one record per call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RpcUsageRecord {
    pub schema_version: u32,
    pub chain: String,
    /// Unique per request: `{replica}:{process start ms}:{sequence}` (a re-sent record counts once).
    pub id: String,
    /// The key's pseudonym (the only name of a key outside its secret store).
    pub key: String,
    /// The provider the key belongs to (`[[keys.providers]] name`; the pseudonym for `[rpc]`).
    pub provider: String,
    /// The JSON-RPC method.
    pub method: String,
    /// HTTP status of the answer; 0 when none came (timeout, reset, refused).
    pub http_status: u32,
    /// `ok`, `throttled` (429), `http_error`, `no_answer`.
    pub outcome: String,
    pub latency_ms: u64,
    /// The replica that sent it (host:pid).
    pub replica: String,
    /// The lease's fencing token (0 without a key pool).
    pub lease_token: u64,
    /// Unix milliseconds when it was sent.
    pub sent_at: i64,
    /// Unix seconds when it was sent (the Bronze partition `usage_date` comes from it).
    pub sent_at_secs: i64,
}
}

wire_record! {
/// A contract call decoded with the ABI registry as the crawler published its block; topic
/// `{chain}.decoded.calls`, key = the transaction hash (like its `txs.contract_call` record).
/// `decode_status`: `decoded`, `ambiguous` (`candidates`), `unknown`, `failed` (`decode_error`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecodedCallRecord {
    pub schema_version: u32,
    pub chain: String,
    pub block_number: u64,
    pub block_hash: String,
    pub block_timestamp: u64,
    pub tx_hash: String,
    pub tx_index: u64,
    pub from: String,
    /// The contract called.
    pub to: String,
    /// `0x` and the input's first 4 bytes (absent when the input is shorter).
    pub method_selector: Option<String>,
    pub decode_status: String,
    /// The method's name and canonical signature (`transfer(address,uint256)`).
    pub method: Option<String>,
    pub signature: Option<String>,
    /// `bound:<abi>`, `abi:<abi>` or `signatures`.
    pub origin: Option<String>,
    /// The arguments: a JSON object in declaration order, values lossless (integers as decimal
    /// strings, addresses lowercase hex, bytes hex, arrays and tuples as arrays).
    pub args: Option<String>,
    /// Every signature an ambiguous selector may mean, joined by `; `.
    pub candidates: Option<String>,
    pub decode_error: Option<String>,
}
}

impl DecodedCallRecord {
    pub fn key(&self) -> String {
        self.tx_hash.clone()
    }
}

wire_record! {
/// An event log decoded with the ABI registry as the crawler published its block; topic
/// `{chain}.decoded.events`, key = `{block_hash}:{log_index}` (like its `logs` record).
/// `decode_status` as for calls, plus `named` (the event's name only: an event of the signature
/// database known without `indexed` markers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecodedEventRecord {
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
    pub decode_status: String,
    /// The event's name and canonical signature (`Transfer(address,address,uint256)`).
    pub event: Option<String>,
    pub signature: Option<String>,
    pub origin: Option<String>,
    /// As for calls; an indexed input of a dynamic type is its keccak hash.
    pub args: Option<String>,
    pub candidates: Option<String>,
    pub decode_error: Option<String>,
}
}

impl DecodedEventRecord {
    pub fn key(&self) -> String {
        format!("{}:{}", self.block_hash, self.log_index)
    }
}

impl RpcUsageRecord {
    pub fn key(&self) -> String {
        self.key.clone()
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

/// What decoding a block's calls and logs gave (published beside its bundle).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodedBundle {
    pub calls: Vec<DecodedCallRecord>,
    pub events: Vec<DecodedEventRecord>,
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
