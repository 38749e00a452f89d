//! Checks one record against the payload schema of its Bronze table in a single pass over
//! the JSON, without allocating for the fields it knows. A record that passes decodes into
//! Arrow without error (arrow-json is more lenient than this check), so one bad record can
//! never fail a whole batch; a record that fails goes to `_rejected` with serde's reason.

use std::collections::HashMap;
use std::fmt;

use deltalake::arrow::datatypes::{DataType, SchemaRef};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Unexpected, Visitor};

use chainlake_wire::schema::is_partition_column;

/// The JSON kinds the Bronze payload columns take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Int,
    Bool,
    StrList,
}

/// The payload columns of one table, in schema order, and where each name is.
#[derive(Debug, Clone)]
pub(super) struct Shape {
    /// (name, kind, nullable) per column.
    columns: Vec<(String, Kind, bool)>,
    index: HashMap<String, usize>,
}

/// A field the schema does not know (a newer producer), as text.
pub(super) type Extra = (String, String);

impl Shape {
    /// The shape of `payload` (payload columns only, no envelope). Columns of other types
    /// are not produced by the wire records; they are checked as text.
    pub(super) fn new(payload: &SchemaRef) -> Self {
        let columns: Vec<(String, Kind, bool)> = payload
            .fields()
            .iter()
            .map(|f| {
                let kind = match f.data_type() {
                    DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => Kind::Int,
                    DataType::Boolean => Kind::Bool,
                    DataType::List(_) => Kind::StrList,
                    _ => Kind::Str,
                };
                (f.name().clone(), kind, f.is_nullable())
            })
            .collect();
        let index = columns.iter().enumerate().map(|(i, (name, _, _))| (name.clone(), i)).collect();
        Shape { columns, index }
    }

    /// Checks `payload`; fields the schema lacks are appended to `extra` as text (null ones
    /// are dropped). On error `extra` may hold part of the record's extras.
    pub(super) fn check(&self, payload: &[u8], extra: &mut Vec<Extra>) -> Result<(), String> {
        let mut seen = vec![false; self.columns.len()];
        let mut de = serde_json::Deserializer::from_slice(payload);
        RecordSeed { shape: self, seen: &mut seen, extra }.deserialize(&mut de).map_err(|e| e.to_string())?;
        de.end().map_err(|e| e.to_string())
    }
}

struct RecordSeed<'a> {
    shape: &'a Shape,
    seen: &'a mut [bool],
    extra: &'a mut Vec<Extra>,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key_seed(KeySeed(self.shape))? {
            match key {
                Key::Known(i) => {
                    let (name, kind, nullable) = &self.shape.columns[i];
                    if std::mem::replace(&mut self.seen[i], true) {
                        return Err(de::Error::custom(format!("duplicate field `{name}`")));
                    }
                    map.next_value_seed(ValueSeed { kind: *kind, nullable: *nullable })?;
                }
                Key::Unknown(name) => {
                    if name.starts_with('_') || is_partition_column(&name) {
                        return Err(de::Error::custom(format!("field {name} clashes with a Bronze column")));
                    }
                    let text = match map.next_value::<serde_json::Value>()? {
                        serde_json::Value::Null => continue,
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    if self.extra.iter().any(|(n, _)| *n == name) {
                        return Err(de::Error::custom(format!("duplicate field `{name}`")));
                    }
                    self.extra.push((name, text));
                }
            }
        }
        for ((name, _, nullable), seen) in self.shape.columns.iter().zip(self.seen.iter()) {
            if !seen && !nullable {
                return Err(de::Error::custom(format!("missing field `{name}`")));
            }
        }
        Ok(())
    }
}

enum Key {
    Known(usize),
    Unknown(String),
}

struct KeySeed<'a>(&'a Shape);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Key;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(match self.0.index.get(v) {
            Some(i) => Key::Known(*i),
            None => Key::Unknown(v.to_owned()),
        })
    }
}

/// One known field's value.
struct ValueSeed {
    kind: Kind,
    nullable: bool,
}

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            Kind::Str => "a string",
            Kind::Int => "a 64-bit integer",
            Kind::Bool => "a boolean",
            Kind::StrList => "a list of strings",
        };
        f.write_str(what)?;
        if self.nullable {
            f.write_str(" or null")?;
        }
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        if self.nullable {
            Ok(())
        } else {
            Err(E::invalid_type(Unexpected::Unit, &self))
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        match self.kind {
            Kind::Str => Ok(()),
            _ => Err(E::invalid_type(Unexpected::Str(v), &self)),
        }
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        match self.kind {
            Kind::Int => Ok(()),
            _ => Err(E::invalid_type(Unexpected::Signed(v), &self)),
        }
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        match self.kind {
            Kind::Int if i64::try_from(v).is_ok() => Ok(()),
            Kind::Int => Err(E::invalid_value(Unexpected::Unsigned(v), &self)),
            _ => Err(E::invalid_type(Unexpected::Unsigned(v), &self)),
        }
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        match self.kind {
            Kind::Bool => Ok(()),
            _ => Err(E::invalid_type(Unexpected::Bool(v), &self)),
        }
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.kind != Kind::StrList {
            return Err(de::Error::invalid_type(Unexpected::Seq, &self));
        }
        while seq.next_element_seed(ValueSeed { kind: Kind::Str, nullable: true })?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Drain it so serde reports the type, not a syntax error.
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Err(de::Error::invalid_type(Unexpected::Map, &self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deltalake::arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    fn shape() -> Shape {
        let list = DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)));
        Shape::new(&Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("s", DataType::Utf8, true),
            Field::new("b", DataType::Boolean, false),
            Field::new("l", list, true),
        ])))
    }

    fn check(json: &str) -> Result<Vec<Extra>, String> {
        let mut extra = Vec::new();
        shape().check(json.as_bytes(), &mut extra).map(|()| extra)
    }

    #[test]
    fn accepts_the_schema_and_collects_added_fields() {
        assert_eq!(check(r#"{"n": 1, "b": true}"#).unwrap(), vec![]);
        assert_eq!(check(r#"{"n": -1, "s": null, "b": false, "l": ["a", null]}"#).unwrap(), vec![]);
        let extra = check(r#"{"n": 1, "b": true, "x": 2, "y": "t", "z": null, "w": {"a": [1]}}"#).unwrap();
        assert_eq!(
            extra,
            vec![("x".into(), "2".into()), ("y".into(), "t".into()), ("w".into(), r#"{"a":[1]}"#.into())]
        );
        assert_eq!(
            check(r#"{"s": "esc\"aped\u00e9", "n": 9223372036854775807, "b": true}"#).unwrap(),
            vec![]
        );
    }

    #[test]
    fn refuses_what_does_not_fit() {
        let err = |json: &str| check(json).unwrap_err();
        assert!(err(r#"{"n": "0x10", "b": true}"#).contains("invalid type: string \"0x10\""));
        assert!(err(r#"{"b": true}"#).contains("missing field `n`"));
        assert!(err(r#"{"n": null, "b": true}"#).contains("invalid type: null"));
        assert!(err(r#"{"n": 1.5, "b": true}"#).contains("invalid type: floating point"));
        assert!(err(r#"{"n": 9223372036854775808, "b": true}"#).contains("invalid value"));
        assert!(err(r#"{"n": 1, "n": 2, "b": true}"#).contains("duplicate field `n`"));
        assert!(err(r#"{"n": 1, "b": true, "_kafka_offset": 3}"#).contains("clashes"));
        assert!(err(r#"{"n": 1, "b": true, "block_date": 3}"#).contains("clashes"));
        assert!(err(r#"{"n": 1, "b": true, "l": [1]}"#).contains("invalid type: integer"));
        assert!(err(r#"{"n": 1, "b": true, "s": {"a": 1}}"#).contains("invalid type: map"));
        assert!(err(r#"{"n": 1, "b": true"#).contains("EOF"));
        assert!(err(r#"{"n": 1, "b": true} x"#).contains("trailing"));
        assert!(err("[1]").contains("expected a JSON object"));
    }
}
