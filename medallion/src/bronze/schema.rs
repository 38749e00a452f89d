//! Arrow schemas of the Bronze tables, one per wire record of `chainlake_ingest::wire`.
//!
//! Wei amounts stay exact decimal strings in Bronze (as received); Silver casts them to
//! Decimal(38,0). Every table ends with the Kafka envelope columns.

use std::sync::Arc;

use chainlake_ingest::wire::TopicKind;
use deltalake::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// Name of the table that keeps records the sink could not parse.
pub const REJECTED_TABLE: &str = "_rejected";

fn f(name: &str, dt: DataType, nullable: bool) -> Field {
    Field::new(name, dt, nullable)
}

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The Kafka envelope columns every Bronze table ends with (before `block_date`).
pub(crate) fn envelope_fields() -> Vec<Field> {
    vec![
        f("_kafka_topic", DataType::Utf8, false),
        f("_kafka_partition", DataType::Int32, false),
        f("_kafka_offset", DataType::Int64, false),
        f("_kafka_key", DataType::Utf8, true),
        f("_ingested_at", utc_micros(), false),
    ]
}

fn payload(kind: TopicKind) -> Vec<Field> {
    use DataType::{Boolean as B, Int64 as I, Utf8 as S};
    let list = || DataType::List(Arc::new(Field::new("item", S, true)));
    if kind == TopicKind::ChainEvents {
        return vec![
            f("schema_version", I, false),
            f("chain", S, false),
            f("kind", S, false),
            f("number", I, false),
            f("hash", S, false),
            f("depth", I, false),
            f("orphaned_hashes", list(), true),
            f("new_hashes", list(), true),
            f("detected_at", I, false),
        ];
    }
    let cols: &[(&str, DataType, bool)] = match kind {
        TopicKind::Blocks => &[
            ("schema_version", I, false),
            ("chain", S, false),
            ("number", I, false),
            ("hash", S, false),
            ("parent_hash", S, false),
            ("timestamp", I, false),
            ("miner", S, false),
            ("gas_used", I, false),
            ("gas_limit", I, false),
            ("base_fee_per_gas", S, true),
            ("tx_count", I, false),
            ("size", I, true),
            ("extra_data", S, true),
            ("withdrawals_count", I, true),
            ("blob_gas_used", I, true),
            ("excess_blob_gas", I, true),
        ],
        TopicKind::Txs(_) => &[
            ("schema_version", I, false),
            ("chain", S, false),
            ("block_number", I, false),
            ("block_hash", S, false),
            ("block_timestamp", I, false),
            ("hash", S, false),
            ("tx_index", I, false),
            ("tx_type", I, false),
            ("type_known", B, false),
            ("class", S, false),
            ("from", S, false),
            ("to", S, true),
            ("value", S, false),
            ("input", S, false),
            ("nonce", I, false),
            ("gas", I, false),
            ("gas_price", S, true),
            ("max_fee_per_gas", S, true),
            ("max_priority_fee_per_gas", S, true),
            ("max_fee_per_blob_gas", S, true),
            ("blob_hashes_count", I, true),
            ("authorizations_count", I, true),
            ("has_receipt", B, false),
            ("status", I, true),
            ("gas_used", I, true),
            ("cumulative_gas_used", I, true),
            ("effective_gas_price", S, true),
            ("contract_address", S, true),
            ("logs_count", I, true),
        ],
        TopicKind::Logs => &[
            ("schema_version", I, false),
            ("chain", S, false),
            ("block_number", I, false),
            ("block_hash", S, false),
            ("block_timestamp", I, false),
            ("tx_hash", S, false),
            ("tx_index", I, false),
            ("log_index", I, false),
            ("address", S, false),
            ("topic0", S, true),
            ("topic1", S, true),
            ("topic2", S, true),
            ("topic3", S, true),
            ("topics_count", I, false),
            ("data", S, false),
            ("removed", B, false),
        ],
        TopicKind::ChainEvents => &[],
    };
    cols.iter().map(|(n, dt, null)| f(n, dt.clone(), *null)).collect()
}

/// The partition column of block-bound tables: the UTC date of the block.
pub const BLOCK_DATE: &str = "block_date";

/// The column `block_date` is derived from (Unix seconds), for tables partitioned by it.
pub fn block_date_source(kind: TopicKind) -> Option<&'static str> {
    match kind {
        TopicKind::Blocks => Some("timestamp"),
        TopicKind::Txs(_) | TopicKind::Logs => Some("block_timestamp"),
        TopicKind::ChainEvents => None,
    }
}

/// Partition columns of the Bronze table of `kind` (set when the table is created).
pub fn partition_columns(kind: TopicKind) -> &'static [&'static str] {
    match block_date_source(kind) {
        Some(_) => &[BLOCK_DATE],
        None => &[],
    }
}

/// The columns of a record's payload (what the producer sends).
pub fn payload_schema(kind: TopicKind) -> SchemaRef {
    Arc::new(Schema::new(payload(kind)))
}

/// The Bronze schema of a topic: payload columns, the envelope, then `block_date` (Date32,
/// the partition column) where the record has a block timestamp.
pub fn bronze_schema(kind: TopicKind) -> SchemaRef {
    let mut fields = payload(kind);
    fields.extend(envelope_fields());
    if block_date_source(kind).is_some() {
        fields.push(f(BLOCK_DATE, DataType::Date32, false));
    }
    Arc::new(Schema::new(fields))
}

/// The `_rejected` table: the raw record, where it came from and why it was rejected.
pub fn rejected_schema() -> SchemaRef {
    let mut fields = vec![f("payload", DataType::Utf8, true), f("error", DataType::Utf8, false)];
    fields.extend(envelope_fields());
    Arc::new(Schema::new(fields))
}
