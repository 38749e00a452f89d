//! `canonical_block(number, hash, parent_hash, verified, seq, announced_seq, orphaned)
//! OVER (PARTITION BY chain)`: true for the rows [`super::canonical`] keeps. It sees the whole
//! partition at once (no frame, no order), so a run's memory for it grows with the blocks the
//! run reads (the days in scope), never with the table.

use std::sync::Arc;

use deltalake::arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use deltalake::arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use deltalake::datafusion::error::{DataFusionError, Result};
use deltalake::datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use deltalake::datafusion::logical_expr::{
    PartitionEvaluator, Signature, Volatility, WindowUDF, WindowUDFImpl,
};
use deltalake::datafusion::prelude::SessionContext;

use super::{canonical, Candidate};

/// The SQL name.
pub const NAME: &str = "canonical_block";

/// Registers `canonical_block` in `ctx`.
pub fn register(ctx: &SessionContext) {
    ctx.register_udwf(WindowUDF::from(CanonicalBlock::new()));
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct CanonicalBlock {
    signature: Signature,
}

impl CanonicalBlock {
    fn new() -> Self {
        let args = vec![
            DataType::Int64,
            DataType::Utf8,
            DataType::Utf8,
            DataType::Boolean,
            DataType::Int64,
            DataType::Int64,
            DataType::Boolean,
        ];
        CanonicalBlock { signature: Signature::exact(args, Volatility::Immutable) }
    }
}

impl WindowUDFImpl for CanonicalBlock {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn partition_evaluator(&self, _args: PartitionEvaluatorArgs<'_>) -> Result<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(Evaluator))
    }

    fn field(&self, field_args: WindowUDFFieldArgs<'_>) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(field_args.name(), DataType::Boolean, false)))
    }
}

#[derive(Debug)]
struct Evaluator;

impl PartitionEvaluator for Evaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        let [number, hash, parent, verified, seq, announced, orphaned] = values else {
            return Err(DataFusionError::Execution(format!(
                "{NAME} takes 7 arguments, got {}",
                values.len()
            )));
        };
        let number = number.as_primitive::<Int64Type>();
        let (hash, parent) = (text(hash)?, text(parent)?);
        let (verified, orphaned) = (verified.as_boolean(), orphaned.as_boolean());
        let (seq, announced) = (seq.as_primitive::<Int64Type>(), announced.as_primitive::<Int64Type>());
        let blocks: Vec<Candidate<'_>> = (0..num_rows)
            .map(|i| Candidate {
                number: number.value(i),
                hash: hash.value(i),
                parent: if parent.is_valid(i) { parent.value(i) } else { "" },
                verified: verified.is_valid(i) && verified.value(i),
                seq: if seq.is_valid(i) { seq.value(i) } else { 0 },
                announced: announced.is_valid(i).then(|| announced.value(i)),
                orphaned: orphaned.is_valid(i) && orphaned.value(i),
            })
            .collect();
        Ok(Arc::new(BooleanArray::from(canonical(&blocks))))
    }
}

fn text(a: &ArrayRef) -> Result<&deltalake::arrow::array::StringArray> {
    a.as_string_opt::<i32>()
        .ok_or_else(|| DataFusionError::Execution(format!("{NAME}: expected text, got {}", a.data_type())))
}
