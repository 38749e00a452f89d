//! Decoded values, losslessly: integers as decimal strings (a uint256 does not fit a JSON or
//! SQL number), addresses as lowercase hex like every address in the lake, fixed and dynamic
//! bytes as `0x` hex, strings as they are, arrays and tuples as JSON arrays.

use alloy_dyn_abi::DynSolValue;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::Value;

/// One decoded argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    /// The parameter's name in the ABI (`arg0`, `arg1`, … when the ABI has none).
    pub name: String,
    /// Its Solidity type (`uint256`, `address[]`, `(address,uint24)`).
    pub ty: String,
    /// The value (see the module doc).
    pub value: Value,
    /// An event input carried in a topic (for a dynamic type, the topic is its keccak hash).
    pub indexed: bool,
}

impl Arg {
    /// The value as text: a string as is, anything else as its JSON.
    pub fn text(&self) -> String {
        match &self.value {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        }
    }
}

/// The arguments as one JSON object in declaration order (`{"to": "0x…", "amount": "5"}`).
pub struct ArgsObject<'a>(pub &'a [Arg]);

impl Serialize for ArgsObject<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for a in self.0 {
            map.serialize_entry(&a.name, &a.value)?;
        }
        map.end()
    }
}

/// The JSON form of `v` (see the module doc).
pub fn json(v: &DynSolValue) -> Value {
    match v {
        DynSolValue::Bool(b) => Value::Bool(*b),
        DynSolValue::Int(i, _) => Value::String(i.to_string()),
        DynSolValue::Uint(u, _) => Value::String(u.to_string()),
        DynSolValue::FixedBytes(w, size) => Value::String(hex(&w[..(*size).min(32)])),
        DynSolValue::Address(a) => Value::String(hex(a.as_slice())),
        DynSolValue::Function(f) => Value::String(hex(f.as_slice())),
        DynSolValue::Bytes(b) => Value::String(hex(b)),
        DynSolValue::String(s) => Value::String(s.clone()),
        DynSolValue::Array(vs) | DynSolValue::FixedArray(vs) | DynSolValue::Tuple(vs) => {
            Value::Array(vs.iter().map(json).collect())
        }
        // A named struct (only with alloy's eip712 feature): its fields as a tuple.
        #[allow(unreachable_patterns)]
        other => match other.as_custom_struct() {
            Some((_, _, fields)) => Value::Array(fields.iter().map(json).collect()),
            None => Value::Null,
        },
    }
}

/// `0x` and lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(2 + 2 * bytes.len());
    s.push_str("0x");
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// The bytes of `0x…` (or bare) hex; `None` when it is not hex.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    s.as_bytes().chunks_exact(2).map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, I256, U256};

    #[test]
    fn integers_are_decimal_strings_whatever_their_size() {
        assert_eq!(json(&DynSolValue::Uint(U256::MAX, 256)), Value::String(U256::MAX.to_string()));
        assert_eq!(json(&DynSolValue::Int(I256::MINUS_ONE, 256)), Value::String("-1".into()));
    }

    #[test]
    fn addresses_and_bytes_are_lowercase_hex_and_tuples_arrays() {
        let a = Address::repeat_byte(0xAB);
        let v = DynSolValue::Tuple(vec![DynSolValue::Address(a), DynSolValue::Bytes(vec![1, 0xff])]);
        assert_eq!(json(&v), serde_json::json!([format!("0x{}", "ab".repeat(20)), "0x01ff"]));
        assert_eq!(json(&DynSolValue::FixedBytes(alloy_primitives::B256::ZERO, 4)), "0x00000000");
    }

    #[test]
    fn args_keep_their_order_in_json() {
        let arg = |name: &str, v: &str| Arg {
            name: name.into(),
            ty: "uint256".into(),
            value: v.into(),
            indexed: false,
        };
        let args = [arg("z", "1"), arg("a", "2")];
        assert_eq!(serde_json::to_string(&ArgsObject(&args)).ok().as_deref(), Some(r#"{"z":"1","a":"2"}"#));
    }

    #[test]
    fn hex_round_trips_and_rejects_what_is_not_hex() {
        assert_eq!(unhex("0x01ff"), Some(vec![1, 0xff]));
        assert_eq!(unhex(""), Some(vec![]));
        assert_eq!(unhex("0x1"), None);
        assert_eq!(unhex("0xzz"), None);
        assert_eq!(hex(&[0xde, 0xad]), "0xdead");
    }
}
