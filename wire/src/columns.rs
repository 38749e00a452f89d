//! Arrow columns derived from the wire record types: [`wire_record!`] declares a record struct
//! and, from the same field list, its payload columns (name = field name, type and nullability
//! from [`ArrowColumn`]). A field added to a record is a column of its Bronze table, with no
//! second list to keep in step.

use std::sync::Arc;

use arrow_schema::{DataType, Field};

/// How a Rust field type is stored in Bronze.
pub trait ArrowColumn {
    /// `Option<T>` columns (and lists) may be null.
    const NULLABLE: bool = false;
    fn data_type() -> DataType;
}

/// A wire record whose payload columns are derived from its fields.
pub trait WireRecord {
    /// The payload columns, in field order (what the producer sends).
    fn fields() -> Vec<Field>;
}

macro_rules! column {
    ($ty:ty => $dt:expr) => {
        impl ArrowColumn for $ty {
            fn data_type() -> DataType {
                $dt
            }
        }
    };
}

// Delta has no unsigned integers: heights, gas and counts are Int64 (all fit below 2^63).
column!(u64 => DataType::Int64);
column!(u32 => DataType::Int64);
column!(i64 => DataType::Int64);
column!(bool => DataType::Boolean);
column!(String => DataType::Utf8);

impl<T: ArrowColumn> ArrowColumn for Option<T> {
    const NULLABLE: bool = true;
    fn data_type() -> DataType {
        T::data_type()
    }
}

impl<T: ArrowColumn> ArrowColumn for Vec<T> {
    const NULLABLE: bool = true;
    fn data_type() -> DataType {
        DataType::List(Arc::new(Field::new("item", T::data_type(), true)))
    }
}

/// The column of one record field.
pub fn column<T: ArrowColumn>(name: &str) -> Field {
    Field::new(name, T::data_type(), T::NULLABLE)
}

/// Declares a wire record and derives its [`WireRecord`] columns from the same fields.
/// Fields are serialised under their Rust names (no serde renames), so the JSON keys, the
/// struct and the Arrow columns are one list.
macro_rules! wire_record {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty ),*
        }

        impl $crate::columns::WireRecord for $name {
            fn fields() -> Vec<arrow_schema::Field> {
                vec![$( $crate::columns::column::<$ty>(stringify!($field)) ),*]
            }
        }
    };
}

pub(crate) use wire_record;
