//! Decodes a body into its type while watching its top-level `status`: failure
//! detection in the same single pass as the decode, wherever `status` stands.
//!
//! A [`Watched`] deserializer hands the generated type's visitor a map that reads each
//! top-level key once, passes it on, and reads the value of `status` as raw JSON before
//! decoding it as usual. Below the top level nothing is wrapped.

use std::cell::Cell;
use std::fmt;

use serde::de::value::{BorrowedStrDeserializer, StringDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::de::StrRead;
use serde_json::value::RawValue;

use super::Key;

/// Decodes `text` into `T`; `failed` is set when the top-level `status` is `"failed"` or
/// `"failure"`.
pub(super) fn decode<'de, T: de::Deserialize<'de>>(
    text: &'de str,
    failed: &Cell<bool>,
) -> Result<T, serde_json::Error> {
    let mut json = serde_json::Deserializer::from_str(text);
    let value = T::deserialize(Watched {
        json: &mut json,
        failed,
    })?;
    json.end()?;
    Ok(value)
}

struct Watched<'a, 'de> {
    json: &'a mut serde_json::Deserializer<StrRead<'de>>,
    failed: &'a Cell<bool>,
}

/// Forwards deserializer methods untouched: only maps are watched.
macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Self::Error> {
            self.json.$method($($arg,)* visitor)
        })*
    };
}

impl<'de> Deserializer<'de> for Watched<'_, 'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        let failed = self.failed;
        self.json.deserialize_any(Watch { visitor, failed })
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        let failed = self.failed;
        self.json.deserialize_map(Watch { visitor, failed })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let failed = self.failed;
        self.json
            .deserialize_struct(name, fields, Watch { visitor, failed })
    }

    forward! {
        deserialize_bool(); deserialize_i8(); deserialize_i16(); deserialize_i32();
        deserialize_i64(); deserialize_u8(); deserialize_u16(); deserialize_u32();
        deserialize_u64(); deserialize_f32(); deserialize_f64(); deserialize_char();
        deserialize_str(); deserialize_string(); deserialize_bytes(); deserialize_byte_buf();
        deserialize_option(); deserialize_unit(); deserialize_seq(); deserialize_identifier();
        deserialize_ignored_any(); deserialize_i128(); deserialize_u128();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
    }
}

/// The type's visitor, given a watched map when the body is an object.
struct Watch<'a, V> {
    visitor: V,
    failed: &'a Cell<bool>,
}

macro_rules! forward_visits {
    ($($method:ident($ty:ty);)*) => {
        $(fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            self.visitor.$method(v)
        })*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Watch<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(f)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_map(WatchedMap {
            map,
            failed: self.failed,
            status_next: false,
        })
    }

    forward_visits! {
        visit_bool(bool); visit_i64(i64); visit_u64(u64); visit_f64(f64);
        visit_i128(i128); visit_u128(u128); visit_str(&str); visit_borrowed_str(&'de str);
        visit_string(String); visit_bytes(&[u8]); visit_borrowed_bytes(&'de [u8]);
        visit_byte_buf(Vec<u8>);
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visitor.visit_unit()
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visitor.visit_none()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.visitor.visit_some(d)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.visitor.visit_newtype_struct(d)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_seq(seq)
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_enum(data)
    }
}

/// The top-level object: keys are read once and passed on; `status` is looked at.
struct WatchedMap<'a, A> {
    map: A,
    failed: &'a Cell<bool>,
    status_next: bool,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for WatchedMap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let Some(key) = self.map.next_key::<Key<'de>>()? else {
            return Ok(None);
        };
        match key {
            Key::Borrowed(key) => {
                self.status_next = key == "status";
                seed.deserialize(BorrowedStrDeserializer::new(key))
                    .map(Some)
            }
            Key::Owned(key) => {
                self.status_next = key == "status";
                seed.deserialize(StringDeserializer::new(key)).map(Some)
            }
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, Self::Error> {
        if !std::mem::take(&mut self.status_next) {
            return self.map.next_value_seed(seed);
        }
        let raw: &'de RawValue = self.map.next_value()?;
        let status = super::toplevel::string(raw.get().as_bytes(), 16);
        if status.is_some_and(|s| s == "failed" || s == "failure") {
            self.failed.set(true);
        }
        seed.deserialize(&mut serde_json::Deserializer::from_str(raw.get()))
            .map_err(de::Error::custom)
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::Value;

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Status {
        Success,
        Failed,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Reply {
        status: Status,
        #[serde(rename = "itemCount")]
        item_count: Option<u32>,
        items: Vec<String>,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct NoStatus {
        items: Vec<String>,
    }

    fn watched<'de, T: de::Deserialize<'de>>(
        text: &'de str,
    ) -> (Result<T, serde_json::Error>, bool) {
        let failed = Cell::new(false);
        let result = decode(text, &failed);
        (result, failed.get())
    }

    #[test]
    fn the_type_decodes_as_it_would_unwatched() {
        let body = r#"{"items":["a","b\n"],"it\u0065mCount":2,"extra":{"status":"failed"},"status":"success"}"#;
        let (reply, failed) = watched::<Reply>(body);
        assert_eq!(reply.unwrap(), serde_json::from_str::<Reply>(body).unwrap());
        assert!(!failed);
        let (value, _) = watched::<Value>(body);
        assert_eq!(value.unwrap(), serde_json::from_str::<Value>(body).unwrap());
    }

    #[test]
    fn a_failed_status_is_seen_wherever_it_stands_and_whatever_the_type() {
        for body in [
            r#"{"status":"failed","items":[]}"#,
            r#"{"items":[],"status":"fail\u0065d"}"#,
            r#"{"items":[],"st\u0061tus":"failure"}"#,
        ] {
            assert!(watched::<NoStatus>(body).1, "{body}");
            assert!(watched::<Value>(body).1, "{body}");
        }
        let (reply, failed) = watched::<Reply>(r#"{"items":[],"status":"failed"}"#);
        assert_eq!(reply.unwrap().status, Status::Failed);
        assert!(failed);
    }

    #[test]
    fn trailing_garbage_and_other_shapes_are_errors_as_usual() {
        assert!(
            watched::<Reply>(r#"{"items":[],"status":"success"} x"#)
                .0
                .is_err()
        );
        assert!(watched::<Vec<u8>>("[1,2]").0.is_ok());
        assert!(watched::<Reply>("[1,2]").0.is_err());
    }
}
