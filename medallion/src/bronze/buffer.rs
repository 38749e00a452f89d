//! Per-table row buffers. A record is checked against its table's schema when it arrives
//! (one pass, see `shape`) and kept as raw JSON; a flush decodes them all at once with
//! arrow-json's tape decoder and adds the envelope, the added fields and the date partition column.

use std::collections::BTreeSet;
use std::sync::Arc;

use chainlake_wire::TopicKind;
use deltalake::arrow::array::{
    Array, ArrayRef, Date32Array, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use deltalake::arrow::compute::concat_batches;
use deltalake::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use deltalake::arrow::error::ArrowError;
use deltalake::arrow::json::ReaderBuilder;
use serde::Serialize;

use super::shape::{Extra, Shape};
use crate::{Error, Result};
use chainlake_wire::schema::{
    bronze_schema, date_partition, envelope_fields, payload_schema, rejected_schema, DatePartition,
};

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
struct Rejected {
    payload: Option<String>,
    error: String,
    #[serde(flatten)]
    envelope: Envelope,
}

/// A record the Arrow decoder refused although its check passed (a bug in `shape`): it goes
/// to `_rejected` instead of failing its batch.
#[derive(Debug)]
pub struct LateReject {
    pub envelope: Envelope,
    pub payload: Vec<u8>,
    pub reason: String,
}

/// Rows waiting to be written to one Bronze table.
pub struct TableBuffer {
    table: &'static str,
    /// Payload columns (what arrow-json decodes); the Bronze schema adds the envelope and
    /// its date partition column.
    payload: SchemaRef,
    schema: SchemaRef,
    shape: Shape,
    date: Option<DatePartition>,
    /// The buffered payloads, back to back; `ends[i]` is where record i ends.
    raw: Vec<u8>,
    ends: Vec<usize>,
    envelopes: Vec<Envelope>,
    /// Fields the schema lacks: (row, name, text); they become nullable text columns.
    extras: Vec<(usize, String, String)>,
    scratch: Vec<Extra>,
}

/// A buffer for the Bronze table of `kind`.
pub fn buffer_for(kind: TopicKind) -> TableBuffer {
    let payload = payload_schema(kind);
    TableBuffer {
        table: kind.table_name(),
        shape: Shape::new(&payload),
        payload,
        schema: bronze_schema(kind),
        date: date_partition(kind),
        raw: Vec::new(),
        ends: Vec::new(),
        envelopes: Vec::new(),
        extras: Vec::new(),
        scratch: Vec::new(),
    }
}

impl TableBuffer {
    /// Checks and buffers one record; on a misfit hands it back with the reason (the caller
    /// rejects it).
    pub fn push(
        &mut self,
        payload: &[u8],
        envelope: Envelope,
    ) -> std::result::Result<(), (String, Envelope)> {
        self.scratch.clear();
        if let Err(reason) = self.shape.check(payload, &mut self.scratch) {
            return Err((reason, envelope));
        }
        let row = self.ends.len();
        self.extras.extend(self.scratch.drain(..).map(|(name, text)| (row, name, text)));
        self.raw.extend_from_slice(payload);
        self.raw.push(b'\n');
        self.ends.push(self.raw.len());
        self.envelopes.push(envelope);
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The base Bronze schema (without added fields).
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Drains the buffer into batches of at most [`DECODE_ROWS`] rows (the decoder's working
    /// memory stays small), and the records Arrow refused (normally none).
    pub fn take_batches(&mut self) -> Result<(Vec<RecordBatch>, Vec<LateReject>)> {
        let raw = std::mem::take(&mut self.raw);
        let ends = std::mem::take(&mut self.ends);
        let mut envelopes = std::mem::take(&mut self.envelopes);
        let mut extras = std::mem::take(&mut self.extras);
        let mut late = Vec::new();
        let payloads = match decode(&self.payload, &raw, ends.len()) {
            Ok(batches) => batches,
            Err(e) => {
                tracing::error!(table = self.table, error = %e, "batch did not decode; decoding record by record");
                let (batch, bad) = self.decode_each(&raw, &ends)?;
                // Drop refused rows from the envelopes and extras, renumbering the rest.
                let mut keep = vec![true; ends.len()];
                for (row, reason) in bad.into_iter().rev() {
                    keep[row] = false;
                    let start = if row == 0 { 0 } else { ends[row - 1] };
                    late.push(LateReject {
                        envelope: envelopes.remove(row),
                        payload: raw[start..ends[row] - 1].to_vec(),
                        reason,
                    });
                }
                late.reverse();
                let new_index: Vec<Option<usize>> = keep
                    .iter()
                    .scan(0, |next, k| Some(k.then(|| std::mem::replace(next, *next + 1))))
                    .collect();
                extras.retain_mut(|(row, _, _)| match new_index[*row] {
                    Some(i) => {
                        *row = i;
                        true
                    }
                    None => false,
                });
                vec![batch]
            }
        };
        drop(raw);
        let names: BTreeSet<&str> = extras.iter().map(|(_, n, _)| n.as_str()).collect();
        let mut fields: Vec<Field> = self.payload.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.extend(envelope_fields());
        fields.extend(names.iter().map(|n| Field::new(*n, DataType::Utf8, true)));
        if let Some(p) = self.date {
            // The date partition column stays last.
            fields.push(Field::new(p.column, DataType::Date32, false));
        }
        let schema = Arc::new(Schema::new(fields));
        let mut batches = Vec::with_capacity(payloads.len());
        let mut base = 0;
        for payload in payloads {
            let rows = payload.num_rows();
            let mut columns = payload.columns().to_vec();
            columns.extend(envelope_columns(&envelopes[base..base + rows]));
            for name in &names {
                let mut values: Vec<Option<&str>> = vec![None; rows];
                for (row, n, text) in &extras {
                    if n == name && (base..base + rows).contains(row) {
                        values[row - base] = Some(text);
                    }
                }
                columns.push(Arc::new(StringArray::from(values)));
            }
            if let Some(DatePartition { from_secs: from, .. }) = self.date {
                let secs = payload
                    .column_by_name(from)
                    .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
                    .ok_or_else(|| {
                        Error::arrow(self.table)(ArrowError::SchemaError(format!("no Int64 column {from}")))
                    })?;
                let days: Date32Array = secs.iter().map(|s| s.map(|s| s.div_euclid(86_400) as i32)).collect();
                columns.push(Arc::new(days));
            }
            batches.push(RecordBatch::try_new(schema.clone(), columns).map_err(Error::arrow(self.table))?);
            base += rows;
        }
        Ok((batches, late))
    }

    /// All of it as one batch (tests, small buffers).
    pub fn take_batch(&mut self) -> Result<(RecordBatch, Vec<LateReject>)> {
        let (batches, late) = self.take_batches()?;
        let schema = batches.first().map_or_else(|| self.schema.clone(), RecordBatch::schema);
        Ok((concat_batches(&schema, &batches).map_err(Error::arrow(self.table))?, late))
    }

    /// The slow path: each record alone; the ones that fail are returned with their reason.
    fn decode_each(&self, raw: &[u8], ends: &[usize]) -> Result<(RecordBatch, Vec<(usize, String)>)> {
        let mut batches = Vec::new();
        let mut bad = Vec::new();
        let mut start = 0;
        for (row, end) in ends.iter().enumerate() {
            match decode(&self.payload, &raw[start..*end], 1) {
                Ok(b) => batches.extend(b),
                Err(e) => bad.push((row, e.to_string())),
            }
            start = *end;
        }
        let batch = concat_batches(&self.payload, &batches).map_err(Error::arrow(self.table))?;
        Ok((batch, bad))
    }
}

/// Rows per decoded batch: bounds arrow-json's tape (about twice the JSON it holds).
pub(super) const DECODE_ROWS: usize = 8192;

/// Decodes `rows` newline-separated JSON records into batches of `schema`.
fn decode(schema: &SchemaRef, raw: &[u8], rows: usize) -> std::result::Result<Vec<RecordBatch>, ArrowError> {
    let mut decoder = ReaderBuilder::new(schema.clone()).with_batch_size(DECODE_ROWS).build_decoder()?;
    let mut batches = Vec::new();
    let mut rest = raw;
    loop {
        let used = decoder.decode(rest)?;
        rest = &rest[used..];
        match decoder.flush()? {
            Some(b) => batches.push(b),
            None if used == 0 => break,
            None => {}
        }
    }
    let decoded: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if decoded != rows || !rest.is_empty() {
        return Err(ArrowError::JsonError(format!("decoded {decoded} of {rows} records")));
    }
    Ok(batches)
}

fn envelope_columns(envelopes: &[Envelope]) -> Vec<ArrayRef> {
    let topic: StringArray = envelopes.iter().map(|e| Some(e.topic.as_str())).collect();
    let partition: Int32Array = envelopes.iter().map(|e| e.partition).collect();
    let offset: Int64Array = envelopes.iter().map(|e| e.offset).collect();
    let key: StringArray = envelopes.iter().map(|e| e.key.as_deref()).collect();
    let at = TimestampMicrosecondArray::from_iter_values(envelopes.iter().map(|e| e.ingested_at))
        .with_timezone("UTC");
    vec![Arc::new(topic), Arc::new(partition), Arc::new(offset), Arc::new(key), Arc::new(at)]
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
        let schema = rejected_schema();
        let err = || Error::arrow(super::REJECTED_TABLE);
        let mut decoder = ReaderBuilder::new(schema.clone())
            .with_batch_size(rows.len().max(1))
            .build_decoder()
            .map_err(err())?;
        decoder.serialize(&rows).map_err(err())?;
        Ok(decoder.flush().map_err(err())?.unwrap_or_else(|| RecordBatch::new_empty(schema)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chainlake_wire::fixtures::{full_block, full_event, full_log, full_tx};
    use chainlake_wire::TxClass;

    fn env(offset: i64) -> Envelope {
        Envelope {
            topic: "t".into(),
            partition: 0,
            offset,
            key: Some("k".into()),
            ingested_at: 1_700_000_000_000_000,
        }
    }

    /// Strict decoding (every field has a column), then through the buffer.
    fn strict_batch<T: Serialize>(kind: TopicKind, record: T) -> RecordBatch {
        let mut strict =
            ReaderBuilder::new(payload_schema(kind)).with_strict_mode(true).build_decoder().unwrap();
        strict.serialize(&[&record]).unwrap();
        let payload = strict.flush().unwrap().unwrap();
        assert_eq!(payload.num_rows(), 1);
        let mut b = buffer_for(kind);
        b.push(&serde_json::to_vec(&record).unwrap(), env(7)).unwrap();
        let (batch, late) = b.take_batch().unwrap();
        assert!(late.is_empty());
        assert_eq!(batch.schema(), bronze_schema(kind));
        batch
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
            assert_eq!(batch.num_columns(), bronze_schema(kind).fields().len());
            assert_eq!(batch.column(0).null_count(), 0);
        }
    }

    #[test]
    fn added_fields_become_text_columns_and_clashes_are_refused() {
        let mut rec = serde_json::to_value(full_block()).unwrap();
        rec["beacon_slot_hint"] = serde_json::json!("0xabc");
        rec["uncles_count"] = serde_json::json!(2);
        let mut b = buffer_for(TopicKind::Blocks);
        b.push(&serde_json::to_vec(&full_block()).unwrap(), env(1)).unwrap();
        b.push(&serde_json::to_vec(&rec).unwrap(), env(2)).unwrap();
        let mut clash = serde_json::to_value(full_block()).unwrap();
        clash["_kafka_offset"] = serde_json::json!(5);
        assert!(b.push(&serde_json::to_vec(&clash).unwrap(), env(3)).is_err());
        let (batch, _) = b.take_batch().unwrap();
        assert_eq!(batch.num_rows(), 2);
        let col = batch.column_by_name("uncles_count").unwrap();
        assert_eq!(col.null_count(), 1);
        assert!(batch.column_by_name("beacon_slot_hint").is_some());
        assert_eq!(batch.schema().fields().last().unwrap().name(), "block_date");
        // The next batch without the field has the base schema again.
        b.push(&serde_json::to_vec(&full_block()).unwrap(), env(4)).unwrap();
        assert!(b.take_batch().unwrap().0.column_by_name("beacon_slot_hint").is_none());
    }

    /// A record past the check that Arrow still refuses goes back as a late reject; the rows
    /// around it, their envelopes and added fields stay aligned.
    #[test]
    fn a_record_arrow_refuses_does_not_fail_its_batch() {
        let mut b = buffer_for(TopicKind::Blocks);
        let mut first = serde_json::to_value(full_block()).unwrap();
        first["note"] = "a".into();
        b.push(&serde_json::to_vec(&first).unwrap(), env(1)).unwrap();
        // Bypass the check, as a bug in it would.
        b.raw.extend_from_slice(br#"{"number": [1]}"#);
        b.raw.push(b'\n');
        b.ends.push(b.raw.len());
        b.envelopes.push(env(2));
        let mut third = serde_json::to_value(full_block()).unwrap();
        third["note"] = "c".into();
        b.push(&serde_json::to_vec(&third).unwrap(), env(3)).unwrap();
        let (batch, late) = b.take_batch().unwrap();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(late.len(), 1);
        assert_eq!((late[0].envelope.offset, late[0].payload.as_slice()), (2, &br#"{"number": [1]}"#[..]));
        let offsets = batch.column_by_name("_kafka_offset").unwrap();
        let offsets = offsets.as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(offsets.values(), &[1, 3]);
        let notes = batch.column_by_name("note").unwrap();
        let notes = notes.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!((notes.value(0), notes.value(1)), ("a", "c"));
    }

    /// Past DECODE_ROWS the buffer drains in several batches of one schema, envelopes and
    /// added fields on the right rows.
    #[test]
    fn large_buffers_drain_in_batches_of_one_schema() {
        let mut b = buffer_for(TopicKind::Blocks);
        let n = DECODE_ROWS + 5;
        for i in 0..n {
            let mut rec = serde_json::to_value(full_block()).unwrap();
            if i == n - 1 {
                rec["note"] = "last".into();
            }
            b.push(&serde_json::to_vec(&rec).unwrap(), env(i as i64)).unwrap();
        }
        let (batches, late) = b.take_batches().unwrap();
        assert!(late.is_empty());
        assert_eq!(batches.iter().map(|b| b.num_rows()).collect::<Vec<_>>(), vec![DECODE_ROWS, 5]);
        assert_eq!(batches[0].schema(), batches[1].schema());
        let notes = batches[1].column_by_name("note").unwrap();
        let notes = notes.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!((notes.null_count(), notes.value(4)), (4, "last"));
        let offsets = batches[1].column_by_name("_kafka_offset").unwrap();
        let offsets = offsets.as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(offsets.value(0), DECODE_ROWS as i64);
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
