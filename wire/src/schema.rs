//! Arrow schemas of the Bronze tables: each table's payload columns are derived from its wire
//! record ([`WireRecord`]), followed by the Kafka envelope and, for block-bound records, the
//! `block_date` partition column.
//!
//! Wei amounts stay exact decimal strings in Bronze (as received); Silver casts them to
//! Decimal(38,0).

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::columns::WireRecord;
use crate::records::{
    BlockRecord, ChainEventRecord, DecodedCallRecord, DecodedEventRecord, LogRecord, RpcUsageRecord,
    TxRecord, UnverifiedRecord,
};
use crate::topics::TopicKind;

/// Name of the table that keeps records the sink could not parse.
pub const REJECTED_TABLE: &str = "_rejected";

/// The partition column of block-bound tables: the UTC date of the block.
pub const BLOCK_DATE: &str = "block_date";

/// The partition column of `rpc_usage`: the UTC date the request was sent.
pub const USAGE_DATE: &str = "usage_date";

/// A Bronze table's date partition: `column` (Date32) derived from `from_secs` (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatePartition {
    pub column: &'static str,
    pub from_secs: &'static str,
}

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The Kafka envelope columns every Bronze table ends with (before `block_date`).
pub fn envelope_fields() -> Vec<Field> {
    vec![
        Field::new("_kafka_topic", DataType::Utf8, false),
        Field::new("_kafka_partition", DataType::Int32, false),
        Field::new("_kafka_offset", DataType::Int64, false),
        Field::new("_kafka_key", DataType::Utf8, true),
        Field::new("_ingested_at", utc_micros(), false),
    ]
}

fn payload(kind: TopicKind) -> Vec<Field> {
    match kind {
        TopicKind::Blocks => BlockRecord::fields(),
        TopicKind::Txs(_) => TxRecord::fields(),
        TopicKind::Logs => LogRecord::fields(),
        TopicKind::ChainEvents => ChainEventRecord::fields(),
        TopicKind::Unverified => UnverifiedRecord::fields(),
        TopicKind::RpcUsage => RpcUsageRecord::fields(),
        TopicKind::DecodedCalls => DecodedCallRecord::fields(),
        TopicKind::DecodedEvents => DecodedEventRecord::fields(),
    }
}

/// The date partition of the Bronze table of `kind`, if it has one.
pub fn date_partition(kind: TopicKind) -> Option<DatePartition> {
    let block = |from_secs| Some(DatePartition { column: BLOCK_DATE, from_secs });
    match kind {
        TopicKind::Blocks => block("timestamp"),
        TopicKind::Txs(_) | TopicKind::Logs | TopicKind::DecodedCalls | TopicKind::DecodedEvents => {
            block("block_timestamp")
        }
        TopicKind::RpcUsage => Some(DatePartition { column: USAGE_DATE, from_secs: "sent_at_secs" }),
        TopicKind::ChainEvents | TopicKind::Unverified => None,
    }
}

/// Partition columns of the Bronze table of `kind` (set when the table is created).
pub fn partition_columns(kind: TopicKind) -> Vec<&'static str> {
    date_partition(kind).map(|p| p.column).into_iter().collect()
}

/// Whether `name` is a partition column of some Bronze table (a record field may not take it).
pub fn is_partition_column(name: &str) -> bool {
    name == BLOCK_DATE || name == USAGE_DATE
}

/// The columns of a record's payload (what the producer sends).
pub fn payload_schema(kind: TopicKind) -> SchemaRef {
    Arc::new(Schema::new(payload(kind)))
}

/// The Bronze schema of a topic: payload columns, the envelope, then its date partition column
/// (Date32: `block_date` where the record has a block timestamp, `usage_date` for RPC usage).
pub fn bronze_schema(kind: TopicKind) -> SchemaRef {
    let mut fields = payload(kind);
    fields.extend(envelope_fields());
    if let Some(p) = date_partition(kind) {
        fields.push(Field::new(p.column, DataType::Date32, false));
    }
    Arc::new(Schema::new(fields))
}

/// The `_rejected` table: the raw record, where it came from and why it was rejected.
pub fn rejected_schema() -> SchemaRef {
    let mut fields =
        vec![Field::new("payload", DataType::Utf8, true), Field::new("error", DataType::Utf8, false)];
    fields.extend(envelope_fields());
    Arc::new(Schema::new(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The derived columns are what the Bronze tables have always had (a table written before
    /// the derivation must keep its schema).
    #[test]
    fn derived_columns_keep_the_bronze_layout() {
        let cols = |k| -> Vec<(String, DataType, bool)> {
            payload(k).iter().map(|f| (f.name().clone(), f.data_type().clone(), f.is_nullable())).collect()
        };
        let blocks = cols(TopicKind::Blocks);
        assert_eq!(blocks.len(), 30);
        assert_eq!(blocks[0], ("schema_version".into(), DataType::Int64, false));
        assert_eq!(blocks[9], ("base_fee_per_gas".into(), DataType::Utf8, true));
        // Added in version 3, last and nullable: a table written before gains a NULL column.
        assert_eq!(blocks[29], ("publisher".into(), DataType::Utf8, true));
        let txs = cols(TopicKind::Txs(crate::TxClass::ContractCall));
        assert_eq!(txs.len(), 29);
        assert_eq!(txs[8], ("type_known".into(), DataType::Boolean, false));
        assert_eq!(txs[9], ("class".into(), DataType::Utf8, false));
        assert_eq!(txs[10], ("from".into(), DataType::Utf8, false));
        assert_eq!(cols(TopicKind::Logs).len(), 16);
        let events = cols(TopicKind::ChainEvents);
        let list = DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)));
        assert_eq!(events[6], ("orphaned_hashes".into(), list, true));
        assert_eq!(events[2], ("kind".into(), DataType::Utf8, false));
        let bronze = bronze_schema(TopicKind::Blocks);
        assert_eq!(bronze.fields().len(), 30 + 5 + 1);
        assert_eq!(bronze_schema(TopicKind::ChainEvents).fields().len(), 10 + 5);
    }
}
