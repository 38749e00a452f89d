//! Per-table row buffers: validate each record against its wire type, build Arrow batches.

use std::collections::{BTreeMap, BTreeSet};
use std::marker::PhantomData;
use std::sync::Arc;

use chainlake_ingest::wire::{BlockRecord, ChainEventRecord, LogRecord, TopicKind, TxRecord};
use deltalake::arrow::array::RecordBatch;
use deltalake::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use deltalake::arrow::json::ReaderBuilder;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::schema::{block_date_source, bronze_schema, record_schema, rejected_schema, BLOCK_DATE};
use crate::{Error, Result};

/// Where a record came from in Kafka.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Envelope {
    #[serde(rename = "_kafka_topic")]
    pub topic: String,
    #[serde(rename = "_kafka_partition")]
    pub partition: i32,
    #[serde(rename = "_kafka_offset")]
    pub offset: i64,
    #[serde(rename = "_kafka_key")]
    pub key: Option<String>,
    /// Microseconds since the Unix epoch.
    #[serde(rename = "_ingested_at")]
    pub ingested_at: i64,
}

#[derive(Serialize)]
struct Row<T> {
    #[serde(flatten)]
    record: T,
    /// Fields the wire type does not know (a newer producer): kept as text columns.
    #[serde(flatten, skip_serializing_if = "BTreeMap::is_empty")]
    extra: BTreeMap<String, String>,
    #[serde(flatten)]
    envelope: Envelope,
}

/// A record as read: the known fields, and whatever else it carries.
#[derive(Deserialize)]
struct Incoming<T> {
    #[serde(flatten)]
    record: T,
    #[serde(flatten)]
    extra: BTreeMap<String, serde_json::Value>,
}

#[derive(Serialize)]
struct Rejected {
    payload: Option<String>,
    error: String,
    #[serde(flatten)]
    envelope: Envelope,
}

/// Rows waiting to be written to one table.
pub trait TableBuffer: Send {
    /// Parses and buffers one record; on a parse error returns the reason (the caller rejects it).
    fn push(&mut self, payload: &[u8], envelope: Envelope) -> std::result::Result<(), String>;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn schema(&self) -> SchemaRef;
    /// Drains the buffer into one batch.
    fn take_batch(&mut self) -> Result<RecordBatch>;
}

struct Typed<T> {
    /// What the decoder builds (payload + envelope); `schema` adds `block_date`.
    decoded: SchemaRef,
    /// Added fields seen in this buffer's records (nullable text columns).
    extra_columns: BTreeSet<String>,
    schema: SchemaRef,
    date_from: Option<&'static str>,
    table: &'static str,
    rows: Vec<Row<T>>,
    _t: PhantomData<T>,
}

impl<T: DeserializeOwned + Serialize + Send> TableBuffer for Typed<T> {
    fn push(&mut self, payload: &[u8], envelope: Envelope) -> std::result::Result<(), String> {
        let incoming: Incoming<T> = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
        let mut extra = BTreeMap::new();
        for (name, value) in incoming.extra {
            if self.decoded.field_with_name(&name).is_ok() || name == BLOCK_DATE || name.starts_with('_') {
                return Err(format!("field {name} clashes with a Bronze column"));
            }
            let text = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Null => continue,
                other => other.to_string(),
            };
            self.extra_columns.insert(name.clone());
            extra.insert(name, text);
        }
        self.rows.push(Row { record: incoming.record, extra, envelope });
        Ok(())
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn take_batch(&mut self) -> Result<RecordBatch> {
        let rows = std::mem::take(&mut self.rows);
        let extras = std::mem::take(&mut self.extra_columns);
        let (decoded, schema) = if extras.is_empty() {
            (self.decoded.clone(), self.schema.clone())
        } else {
            let added = || extras.iter().map(|n| Field::new(n, DataType::Utf8, true));
            let with = |s: &SchemaRef| -> SchemaRef {
                let mut fields: Vec<Field> = s.fields().iter().map(|f| f.as_ref().clone()).collect();
                fields.extend(added());
                Arc::new(Schema::new(fields))
            };
            (
                with(&self.decoded),
                self.date_from.map_or_else(
                    || with(&self.schema),
                    |_| {
                        // block_date stays last.
                        let mut fields: Vec<Field> =
                            with(&self.decoded).fields().iter().map(|f| f.as_ref().clone()).collect();
                        fields.push(Field::new(BLOCK_DATE, DataType::Date32, false));
                        Arc::new(Schema::new(fields))
                    },
                ),
            )
        };
        let batch = to_batch(&decoded, self.table, &rows)?;
        match self.date_from {
            Some(col) => with_block_date(batch, col, &schema, self.table),
            None => Ok(batch),
        }
    }
}

/// Appends `block_date` (UTC day of the Unix-seconds column `from`).
fn with_block_date(batch: RecordBatch, from: &str, schema: &SchemaRef, table: &str) -> Result<RecordBatch> {
    use deltalake::arrow::array::{Array, Date32Array, Int64Array};
    let err = |e| Error::arrow(table)(e);
    let secs = batch.column_by_name(from).and_then(|c| c.as_any().downcast_ref::<Int64Array>()).ok_or_else(
        || err(deltalake::arrow::error::ArrowError::SchemaError(format!("no Int64 column {from}"))),
    )?;
    let days: Date32Array = secs.iter().map(|s| s.map(|s| s.div_euclid(86_400) as i32)).collect();
    let mut columns = batch.columns().to_vec();
    columns.push(Arc::new(days) as Arc<dyn Array>);
    RecordBatch::try_new(schema.clone(), columns).map_err(err)
}

fn to_batch<S: Serialize>(schema: &SchemaRef, table: &str, rows: &[S]) -> Result<RecordBatch> {
    let err = |e| Error::arrow(table)(e);
    let mut decoder =
        ReaderBuilder::new(schema.clone()).with_batch_size(rows.len().max(1)).build_decoder().map_err(err)?;
    decoder.serialize(rows).map_err(err)?;
    Ok(decoder.flush().map_err(err)?.unwrap_or_else(|| RecordBatch::new_empty(schema.clone())))
}

/// A buffer for the Bronze table of `kind`.
pub fn buffer_for(kind: TopicKind) -> Box<dyn TableBuffer> {
    fn typed<T: DeserializeOwned + Serialize + Send + 'static>(kind: TopicKind) -> Box<dyn TableBuffer> {
        Box::new(Typed::<T> {
            decoded: record_schema(kind),
            extra_columns: BTreeSet::new(),
            schema: bronze_schema(kind),
            date_from: block_date_source(kind),
            table: kind.table_name(),
            rows: Vec::new(),
            _t: PhantomData,
        })
    }
    match kind {
        TopicKind::Blocks => typed::<BlockRecord>(kind),
        TopicKind::Txs(_) => typed::<TxRecord>(kind),
        TopicKind::Logs => typed::<LogRecord>(kind),
        TopicKind::ChainEvents => typed::<ChainEventRecord>(kind),
    }
}

/// Records that could not be parsed, kept raw for the `_rejected` table.
#[derive(Default)]
pub struct RejectBuffer {
    rows: Vec<Rejected>,
}

impl RejectBuffer {
    pub fn push(&mut self, payload: Option<&[u8]>, error: String, envelope: Envelope) {
        let payload = payload.map(|p| String::from_utf8_lossy(p).into_owned());
        self.rows.push(Rejected { payload, error, envelope });
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn take_batch(&mut self) -> Result<RecordBatch> {
        let rows = std::mem::take(&mut self.rows);
        to_batch(&rejected_schema(), super::REJECTED_TABLE, &rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chainlake_ingest::wire::{TxClass, SCHEMA_VERSION};
    use deltalake::arrow::json::ReaderBuilder;

    fn env(offset: i64) -> Envelope {
        Envelope {
            topic: "t".into(),
            partition: 0,
            offset,
            key: Some("k".into()),
            ingested_at: 1_700_000_000_000_000,
        }
    }

    fn full_tx() -> TxRecord {
        let s = |v: &str| Some(v.to_owned());
        TxRecord {
            schema_version: SCHEMA_VERSION,
            chain: "c".into(),
            block_number: 1,
            block_hash: "0xb".into(),
            block_timestamp: 2,
            hash: "0xh".into(),
            tx_index: 0,
            tx_type: 2,
            type_known: true,
            class: TxClass::ContractCall,
            from: "0xf".into(),
            to: s("0xt"),
            value: "340282366920938463463374607431768211455".into(),
            input: "0xa9".into(),
            nonce: 3,
            gas: 4,
            gas_price: s("5"),
            max_fee_per_gas: s("6"),
            max_priority_fee_per_gas: s("7"),
            max_fee_per_blob_gas: s("8"),
            blob_hashes_count: Some(1),
            authorizations_count: Some(0),
            has_receipt: true,
            status: Some(1),
            gas_used: Some(9),
            cumulative_gas_used: Some(10),
            effective_gas_price: s("11"),
            contract_address: s("0xc"),
            logs_count: Some(2),
        }
    }

    fn full_block() -> BlockRecord {
        BlockRecord {
            schema_version: SCHEMA_VERSION,
            chain: "c".into(),
            number: 1,
            hash: "0xb".into(),
            parent_hash: "0xa".into(),
            timestamp: 2,
            miner: "0xm".into(),
            gas_used: 3,
            gas_limit: 4,
            base_fee_per_gas: Some("5".into()),
            tx_count: 6,
            size: Some(7),
            extra_data: Some("0x".into()),
            withdrawals_count: Some(8),
            blob_gas_used: Some(9),
            excess_blob_gas: Some(10),
        }
    }

    fn full_log() -> LogRecord {
        let s = |v: &str| Some(v.to_owned());
        LogRecord {
            schema_version: SCHEMA_VERSION,
            chain: "c".into(),
            block_number: 1,
            block_hash: "0xb".into(),
            block_timestamp: 2,
            tx_hash: "0xh".into(),
            tx_index: 3,
            log_index: 4,
            address: "0xa".into(),
            topic0: s("0x0"),
            topic1: s("0x1"),
            topic2: s("0x2"),
            topic3: s("0x3"),
            topics_count: 4,
            data: "0x".into(),
            removed: false,
        }
    }

    fn full_event() -> ChainEventRecord {
        ChainEventRecord {
            schema_version: SCHEMA_VERSION,
            chain: "c".into(),
            kind: chainlake_ingest::wire::ChainEventKind::Reorg,
            number: 5,
            hash: "0xn5".into(),
            depth: 2,
            orphaned_hashes: vec!["0xo5".into(), "0xo6".into()],
            new_hashes: vec!["0xn5".into(), "0xn6".into()],
            detected_at: 1,
        }
    }

    fn strict_batch<T: Serialize>(kind: TopicKind, record: T) -> RecordBatch {
        let rows = [Row { record, extra: BTreeMap::new(), envelope: env(7) }];
        let mut strict =
            ReaderBuilder::new(record_schema(kind)).with_strict_mode(true).build_decoder().unwrap();
        strict.serialize(&rows).unwrap();
        strict.flush().unwrap().unwrap()
    }

    /// Every field of each wire record has a column and vice versa (strict decoding).
    #[test]
    fn schemas_match_wire_records() {
        for (kind, batch) in [
            (TopicKind::Blocks, strict_batch(TopicKind::Blocks, full_block())),
            (
                TopicKind::Txs(TxClass::ContractCall),
                strict_batch(TopicKind::Txs(TxClass::ContractCall), full_tx()),
            ),
            (TopicKind::Logs, strict_batch(TopicKind::Logs, full_log())),
            (TopicKind::ChainEvents, strict_batch(TopicKind::ChainEvents, full_event())),
        ] {
            assert_eq!(batch.num_rows(), 1);
            assert_eq!(batch.num_columns(), record_schema(kind).fields().len());
            assert_eq!(batch.column(0).null_count(), 0);
        }
    }

    #[test]
    fn added_fields_become_text_columns_and_clashes_are_refused() {
        let mut rec = serde_json::to_value(full_block()).unwrap();
        rec["mix_hash"] = serde_json::json!("0xabc");
        rec["uncles_count"] = serde_json::json!(2);
        let mut b = buffer_for(TopicKind::Blocks);
        b.push(&serde_json::to_vec(&full_block()).unwrap(), env(1)).unwrap();
        b.push(&serde_json::to_vec(&rec).unwrap(), env(2)).unwrap();
        let mut clash = serde_json::to_value(full_block()).unwrap();
        clash["_kafka_offset"] = serde_json::json!(5);
        assert!(b.push(&serde_json::to_vec(&clash).unwrap(), env(3)).is_err());
        let batch = b.take_batch().unwrap();
        assert_eq!(batch.num_rows(), 2);
        let col = batch.column_by_name("uncles_count").unwrap();
        assert_eq!(col.null_count(), 1);
        assert!(batch.column_by_name("mix_hash").is_some());
        assert_eq!(batch.schema().fields().last().unwrap().name(), "block_date");
        // The next batch without the field has the base schema again.
        b.push(&serde_json::to_vec(&full_block()).unwrap(), env(4)).unwrap();
        assert!(b.take_batch().unwrap().column_by_name("mix_hash").is_none());
    }

    #[test]
    fn bad_records_are_refused_not_panicking() {
        let mut b = buffer_for(TopicKind::Blocks);
        assert!(b.push(b"{not json", env(1)).is_err());
        assert!(b.push(br#"{"number": "x"}"#, env(2)).is_err());
        assert_eq!(b.len(), 0);
        let mut r = RejectBuffer::default();
        r.push(Some(b"\xff\xfe"), "bad".into(), env(3));
        assert_eq!(r.take_batch().unwrap().num_rows(), 1);
    }
}
