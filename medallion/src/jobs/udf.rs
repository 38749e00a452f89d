//! SQL functions for EVM words that no SQL standard has, registered in every session:
//!
//! - `uint256(hex)`: a big-endian unsigned integer of up to 32 bytes (`0x…` or bare hex, e.g. a
//!   log topic or a data word) as its decimal string, lossless; NULL when it is not hex or
//!   longer than 32 bytes;
//! - `abi_uint256_array(data, word)`: the `uint256[]` whose ABI offset is the `word`-th 32-byte
//!   word of `data` (0-based), as decimal strings; NULL when `data` does not hold one.
//!
//! Everything else the SQL needs is standard (`substr`, `concat`, `CAST`).

use std::sync::Arc;

use deltalake::arrow::array::{Array, ArrayRef, AsArray, Int64Array, ListBuilder, StringBuilder};
use deltalake::arrow::datatypes::{DataType, Field, Int64Type};
use deltalake::datafusion::error::{DataFusionError, Result};
use deltalake::datafusion::logical_expr::{create_udf, ColumnarValue, ScalarUDF, Volatility};
use deltalake::datafusion::prelude::SessionContext;

/// Registers the functions in `ctx`.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(uint256_udf());
    ctx.register_udf(array_udf());
}

fn uint256_udf() -> ScalarUDF {
    create_udf(
        "uint256",
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let hex = strings(&arrays[0])?;
            let out: deltalake::arrow::array::StringArray =
                (0..hex.len()).map(|i| hex.is_valid(i).then(|| uint256(hex.value(i))).flatten()).collect();
            Ok(ColumnarValue::Array(Arc::new(out)))
        }),
    )
}

fn array_udf() -> ScalarUDF {
    let item = Arc::new(Field::new("item", DataType::Utf8, true));
    create_udf(
        "abi_uint256_array",
        vec![DataType::Utf8, DataType::Int64],
        DataType::List(item.clone()),
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let data = strings(&arrays[0])?;
            let word: Int64Array = arrays[1].as_primitive::<Int64Type>().clone();
            let mut out = ListBuilder::new(StringBuilder::new()).with_field(item.clone());
            for i in 0..data.len() {
                let values = (data.is_valid(i) && word.is_valid(i))
                    .then(|| {
                        usize::try_from(word.value(i)).ok().and_then(|w| uint256_array(data.value(i), w))
                    })
                    .flatten();
                match values {
                    Some(vs) => {
                        for v in vs {
                            out.values().append_value(v);
                        }
                        out.append(true);
                    }
                    None => out.append(false),
                }
            }
            Ok(ColumnarValue::Array(Arc::new(out.finish())))
        }),
    )
}

fn strings(a: &ArrayRef) -> Result<&deltalake::arrow::array::StringArray> {
    a.as_string_opt::<i32>()
        .ok_or_else(|| DataFusionError::Execution(format!("expected text, got {}", a.data_type())))
}

/// The decimal string of a big-endian unsigned hex integer of at most 64 digits.
pub fn uint256(hex: &str) -> Option<String> {
    let digits = hex.strip_prefix("0x").unwrap_or(hex).trim_start_matches('0');
    if digits.len() > 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    // Four 64-bit limbs, most significant first.
    let mut limbs = [0u64; 4];
    let padded = format!("{digits:0>64}");
    for (i, limb) in limbs.iter_mut().enumerate() {
        *limb = u64::from_str_radix(&padded[i * 16..(i + 1) * 16], 16).ok()?;
    }
    // Repeated division by 10^19, collecting 19-digit chunks from the least significant.
    const CHUNK: u128 = 10_000_000_000_000_000_000;
    let mut chunks = Vec::new();
    while limbs.iter().any(|l| *l != 0) {
        let mut rem: u128 = 0;
        for limb in limbs.iter_mut() {
            let cur = (rem << 64) | u128::from(*limb);
            *limb = (cur / CHUNK) as u64;
            rem = cur % CHUNK;
        }
        chunks.push(rem as u64);
    }
    let Some((last, rest)) = chunks.split_last() else { return Some("0".into()) };
    let mut out = last.to_string();
    for c in rest.iter().rev() {
        out.push_str(&format!("{c:019}"));
    }
    Some(out)
}

/// The 32-byte word `i` of ABI data (`0x…` hex), as hex digits.
fn word(data: &str, i: usize) -> Option<&str> {
    let hex = data.strip_prefix("0x").unwrap_or(data);
    hex.get(i * 64..(i + 1) * 64)
}

/// The `uint256[]` whose offset (in bytes) is word `at` of `data`.
fn uint256_array(data: &str, at: usize) -> Option<Vec<String>> {
    let small = |w: &str| uint256(w).and_then(|d| d.parse::<usize>().ok());
    let offset = small(word(data, at)?)?;
    if offset % 32 != 0 {
        return None;
    }
    let start = offset / 32;
    let len = small(word(data, start)?)?;
    let words = data.strip_prefix("0x").unwrap_or(data).len() / 64;
    if start.checked_add(1)?.checked_add(len)? > words {
        return None; // a length the data does not hold (never allocate for it)
    }
    (0..len).map(|k| word(data, start + 1 + k).and_then(uint256)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uint256_is_lossless_up_to_32_bytes() {
        assert_eq!(uint256("0x0").as_deref(), Some("0"));
        assert_eq!(uint256("0x").as_deref(), Some("0"));
        assert_eq!(uint256("0xde0b6b3a7640000").as_deref(), Some("1000000000000000000"));
        let max = format!("0x{}", "f".repeat(64));
        assert_eq!(
            uint256(&max).as_deref(),
            Some("115792089237316195423570985008687907853269984665640564039457584007913129639935")
        );
        // 2^64 exactly: the carry between limbs.
        assert_eq!(uint256("0x10000000000000000").as_deref(), Some("18446744073709551616"));
        assert_eq!(uint256(&format!("0x1{}", "0".repeat(64))), None, "33 bytes");
        assert_eq!(uint256("0xzz"), None);
    }

    #[test]
    fn a_batch_transfer_s_ids_and_values() {
        // TransferBatch data: offsets 0x40 and 0xa0, ids [1, 2], values [10, 20].
        let w = |n: u64| format!("{n:064x}");
        let data = format!("0x{}{}{}{}{}{}{}{}", w(0x40), w(0xa0), w(2), w(1), w(2), w(2), w(10), w(20));
        assert_eq!(uint256_array(&data, 0), Some(vec!["1".into(), "2".into()]));
        assert_eq!(uint256_array(&data, 1), Some(vec!["10".into(), "20".into()]));
        assert_eq!(uint256_array("0x", 0), None);
        assert_eq!(uint256_array(&format!("0x{}", w(0x40)), 0), None, "truncated");
    }
}
