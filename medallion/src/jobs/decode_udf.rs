//! The decoders as SQL functions (chainlake-decode's rules, the session's ABI registry):
//!
//! - `decode_call(to, input)`: a transaction's call;
//! - `decode_event(address, topic0, topic1, topic2, topic3, data)`: a log.
//!
//! Both take the lake's text columns (`0x` hex, NULL topics absent) and return one struct:
//! `status` (`decoded`, `named`, `ambiguous`, `unknown`, `failed`; NULL for an empty input),
//! `name`, `signature`, `origin` (`bound:<abi>`, `abi:<abi>`, `signatures`), `args` (a JSON
//! object in declaration order, values lossless), `arg_names` and `arg_values` (the same as
//! lists of text, 1-based in SQL), `candidates` (an ambiguous selector's signatures, joined by
//! `; `) and `decode_error`. Bytes that are not hex are `failed` with that reason. Every
//! result but `decoded` is counted in `chainlake_decode_results_total{kind,status}`.

use std::sync::Arc;

use chainlake_decode::value::{unhex, ArgsObject};
use chainlake_decode::{Decoded, Registry, Status};
use deltalake::arrow::array::{Array, ArrayRef, ListBuilder, StringArray, StringBuilder, StructArray};
use deltalake::arrow::buffer::NullBuffer;
use deltalake::arrow::datatypes::{DataType, Field, Fields};
use deltalake::datafusion::error::{DataFusionError, Result};
use deltalake::datafusion::logical_expr::{create_udf, ColumnarValue, ScalarUDF, Volatility};
use deltalake::datafusion::prelude::SessionContext;

use alloy_primitives::{Address, B256};

/// The built-in ABIs and the signature database, built once per process.
pub fn builtin_registry() -> Arc<Registry> {
    static BUILTIN: std::sync::OnceLock<Arc<Registry>> = std::sync::OnceLock::new();
    BUILTIN
        .get_or_init(|| {
            // The built-in ABIs are compiled in and tested (chainlake-decode's tests): an error
            // here would be a broken build; an empty registry (nothing decodes) is what it gives.
            Arc::new(Registry::builtin().unwrap_or_else(|e| {
                tracing::error!(error = %e, "built-in ABIs did not load: nothing will decode");
                Registry::default()
            }))
        })
        .clone()
}

/// Registers `decode_call` and `decode_event` over `registry` in `ctx`.
pub fn register(ctx: &SessionContext, registry: &Arc<Registry>) {
    ctx.register_udf(call_udf(registry.clone()));
    ctx.register_udf(event_udf(registry.clone()));
}

fn item() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::Utf8, true))
}

/// The fields of the struct both functions return.
pub fn fields() -> Fields {
    Fields::from(vec![
        Field::new("status", DataType::Utf8, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("signature", DataType::Utf8, true),
        Field::new("origin", DataType::Utf8, true),
        Field::new("args", DataType::Utf8, true),
        Field::new("arg_names", DataType::List(item()), true),
        Field::new("arg_values", DataType::List(item()), true),
        Field::new("candidates", DataType::Utf8, true),
        Field::new("decode_error", DataType::Utf8, true),
    ])
}

fn call_udf(registry: Arc<Registry>) -> ScalarUDF {
    create_udf(
        "decode_call",
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Struct(fields()),
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let (to, input) = (strings(&arrays[0])?, strings(&arrays[1])?);
            let mut out = Builder::default();
            for i in 0..input.len() {
                let decoded = text(input, i).map(|hex| match unhex(hex) {
                    None => Some(Decoded::failed("input is not hex")),
                    Some(bytes) => {
                        let to = text(to, i).and_then(|a| a.parse::<Address>().ok());
                        registry.decode_call(to.as_ref(), &bytes)
                    }
                });
                out.push("call", decoded.flatten().as_ref());
            }
            Ok(ColumnarValue::Array(out.finish()?))
        }),
    )
}

fn event_udf(registry: Arc<Registry>) -> ScalarUDF {
    create_udf(
        "decode_event",
        vec![DataType::Utf8; 6],
        DataType::Struct(fields()),
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let cols: Vec<&StringArray> = arrays.iter().map(strings).collect::<Result<_>>()?;
            let mut out = Builder::default();
            for i in 0..cols[0].len() {
                out.push("event", Some(&event_row(&registry, &cols, i)));
            }
            Ok(ColumnarValue::Array(out.finish()?))
        }),
    )
}

/// One log: address, topic0..3 (the present ones, in order), data.
fn event_row(registry: &Registry, cols: &[&StringArray], i: usize) -> Decoded {
    let address = text(cols[0], i).and_then(|a| a.parse::<Address>().ok());
    let mut topics = Vec::with_capacity(4);
    for col in &cols[1..5] {
        let Some(t) = text(col, i) else { break };
        match unhex(t).and_then(|b| B256::try_from(b.as_slice()).ok()) {
            Some(t) => topics.push(t),
            None => return Decoded::failed("a topic is not 32 bytes of hex"),
        }
    }
    let Some(data) = unhex(text(cols[5], i).unwrap_or("0x")) else {
        return Decoded::failed("data is not hex");
    };
    registry.decode_event(address.as_ref(), &topics, &data)
}

fn text(a: &StringArray, i: usize) -> Option<&str> {
    a.is_valid(i).then(|| a.value(i))
}

fn strings(a: &ArrayRef) -> Result<&StringArray> {
    a.as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| DataFusionError::Execution(format!("expected text, got {}", a.data_type())))
}

/// The struct's columns, built row by row.
struct Builder {
    status: StringBuilder,
    name: StringBuilder,
    signature: StringBuilder,
    origin: StringBuilder,
    args: StringBuilder,
    names: ListBuilder<StringBuilder>,
    values: ListBuilder<StringBuilder>,
    candidates: StringBuilder,
    error: StringBuilder,
    valid: Vec<bool>,
}

impl Default for Builder {
    fn default() -> Self {
        let list = || ListBuilder::new(StringBuilder::new()).with_field(item());
        Builder {
            status: StringBuilder::new(),
            name: StringBuilder::new(),
            signature: StringBuilder::new(),
            origin: StringBuilder::new(),
            args: StringBuilder::new(),
            names: list(),
            values: list(),
            candidates: StringBuilder::new(),
            error: StringBuilder::new(),
            valid: Vec::new(),
        }
    }
}

impl Builder {
    fn push(&mut self, kind: &'static str, d: Option<&Decoded>) {
        self.valid.push(d.is_some());
        let Some(d) = d else {
            for b in [&mut self.status, &mut self.name, &mut self.signature, &mut self.origin, &mut self.args]
            {
                b.append_null();
            }
            self.names.append(false);
            self.values.append(false);
            self.candidates.append_null();
            self.error.append_null();
            return;
        };
        if d.status != Status::Decoded {
            metrics::counter!(crate::metrics::DECODE_RESULTS, "kind" => kind, "status" => d.status.as_str())
                .increment(1);
        }
        self.status.append_value(d.status.as_str());
        self.name.append_option(d.name.as_deref());
        self.signature.append_option(d.signature.as_deref());
        self.origin.append_option(d.origin.as_ref().map(|o| o.label()));
        let decoded = d.status == Status::Decoded;
        self.args.append_option(decoded.then(|| serde_json::to_string(&ArgsObject(&d.args)).ok()).flatten());
        for a in &d.args {
            self.names.values().append_value(&a.name);
            self.values.values().append_value(a.text());
        }
        self.names.append(decoded);
        self.values.append(decoded);
        self.candidates.append_option((!d.candidates.is_empty()).then(|| d.candidates.join("; ")));
        self.error.append_option(d.error.as_deref());
    }

    fn finish(mut self) -> Result<ArrayRef> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.status.finish()),
            Arc::new(self.name.finish()),
            Arc::new(self.signature.finish()),
            Arc::new(self.origin.finish()),
            Arc::new(self.args.finish()),
            Arc::new(self.names.finish()),
            Arc::new(self.values.finish()),
            Arc::new(self.candidates.finish()),
            Arc::new(self.error.finish()),
        ];
        let nulls = NullBuffer::from(std::mem::take(&mut self.valid));
        Ok(Arc::new(StructArray::try_new(fields(), columns, Some(nulls))?))
    }
}
