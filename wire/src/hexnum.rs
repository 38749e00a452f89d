//! Lossless readers for the hex quantities of JSON-RPC objects.

use ruint::aliases::U256;
use serde_json::{Map, Value};

/// Why a field could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("field {0} is missing")]
    Missing(&'static str),
    #[error("field {0} is not a hex quantity: {1}")]
    NotQuantity(&'static str, String),
    #[error("field {0} is not a string")]
    NotString(&'static str),
}

/// A JSON-RPC object (block, transaction, receipt, log).
pub type Obj = Map<String, Value>;

fn present<'a>(o: &'a Obj, key: &'static str) -> Option<&'a Value> {
    o.get(key).filter(|v| !v.is_null())
}

/// A required string field, as received.
pub fn string(o: &Obj, key: &'static str) -> Result<String, FieldError> {
    opt_string(o, key)?.ok_or(FieldError::Missing(key))
}

/// An optional string field (absent and `null` are the same).
pub fn opt_string(o: &Obj, key: &'static str) -> Result<Option<String>, FieldError> {
    match present(o, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(FieldError::NotString(key)),
    }
}

/// A required quantity that fits in u64 (numbers, gas, indexes).
pub fn u64_field(o: &Obj, key: &'static str) -> Result<u64, FieldError> {
    opt_u64(o, key)?.ok_or(FieldError::Missing(key))
}

/// An optional quantity that fits in u64.
pub fn opt_u64(o: &Obj, key: &'static str) -> Result<Option<u64>, FieldError> {
    match present(o, key) {
        None => Ok(None),
        Some(Value::String(s)) => {
            parse_u64(s).map(Some).ok_or_else(|| FieldError::NotQuantity(key, s.clone()))
        }
        // Some clients (and hand-made fixtures) send small numbers as JSON numbers.
        Some(Value::Number(n)) => {
            n.as_u64().map(Some).ok_or_else(|| FieldError::NotQuantity(key, n.to_string()))
        }
        Some(v) => Err(FieldError::NotQuantity(key, v.to_string())),
    }
}

/// An optional 256-bit quantity (wei values, fees) as an exact decimal string.
pub fn opt_wei(o: &Obj, key: &'static str) -> Result<Option<String>, FieldError> {
    match present(o, key) {
        None => Ok(None),
        Some(Value::String(s)) => {
            parse_u256(s).map(|v| Some(v.to_string())).ok_or_else(|| FieldError::NotQuantity(key, s.clone()))
        }
        Some(Value::Number(n)) => {
            n.as_u64().map(|v| Some(v.to_string())).ok_or_else(|| FieldError::NotQuantity(key, n.to_string()))
        }
        Some(v) => Err(FieldError::NotQuantity(key, v.to_string())),
    }
}

/// A required 256-bit quantity as an exact decimal string.
pub fn wei(o: &Obj, key: &'static str) -> Result<String, FieldError> {
    opt_wei(o, key)?.ok_or(FieldError::Missing(key))
}

/// Parses `0x…` hex (or plain decimal) into u64.
pub fn parse_u64(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some("") => Some(0),
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Parses `0x…` hex (or plain decimal) into u128.
pub fn parse_u128(s: &str) -> Option<u128> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some("") => Some(0),
        Some(h) => u128::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Parses `0x…` hex (or plain decimal) into U256.
pub fn parse_u256(s: &str) -> Option<U256> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some("") => Some(U256::ZERO),
        Some(h) => U256::from_str_radix(h, 16).ok(),
        None => U256::from_str_radix(s, 10).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quantities() {
        assert_eq!(parse_u64("0x0"), Some(0));
        assert_eq!(parse_u64("0xb872"), Some(47218));
        assert_eq!(parse_u64("0x"), Some(0));
        assert_eq!(parse_u64("zz"), None);
        assert_eq!(
            parse_u256("0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff")
                .map(|v| v.to_string()),
            Some(U256::MAX.to_string())
        );
    }

    #[test]
    fn optional_fields_treat_null_as_absent() {
        let o: Obj =
            serde_json::from_str(r#"{"a": null, "b": "0x10", "c": 5, "d": true}"#).unwrap_or_default();
        assert_eq!(opt_u64(&o, "a"), Ok(None));
        assert_eq!(opt_u64(&o, "b"), Ok(Some(16)));
        assert_eq!(opt_u64(&o, "c"), Ok(Some(5)));
        assert!(opt_u64(&o, "d").is_err());
        assert_eq!(opt_wei(&o, "b"), Ok(Some("16".into())));
        assert_eq!(u64_field(&o, "zz"), Err(FieldError::Missing("zz")));
    }
}
