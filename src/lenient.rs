//! Lenient readers for the fields of the hand-written wire types (webhook comments, the
//! integration's event log): FastComments' real payloads do not always keep the spec's
//! types (PHP-made booleans as `"true"` or `1`, numbers as strings or floats, a numeric
//! id), and one field of another shape must not lose the whole item: a webhook delivery
//! refused for it is retried until FastComments disables the webhook, an event-log
//! comment would reach the site as malformed instead of being applied. A value of a
//! shape that cannot mean the field's type is dropped (`None`), never an error.
//!
//! Each reader is one visitor over the value as it is parsed: no intermediate
//! `serde_json::Value`, so the common case (the right type) costs what a plain field does.

use std::fmt;

use serde::Deserializer;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// A scalar as it came, or something else (an object, a list, `null`).
enum Scalar {
    Text(String),
    Signed(i64),
    Unsigned(u64),
    Float(f64),
    Bool(bool),
    Other,
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Text(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar::Text(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar::Signed(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar::Unsigned(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::Float(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }
    fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
}

fn scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
    d.deserialize_any(ScalarVisitor)
}

/// Text: a string, or the text of a number or boolean.
pub(crate) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match scalar(d)? {
        Scalar::Text(s) => Some(s),
        Scalar::Signed(n) => Some(n.to_string()),
        Scalar::Unsigned(n) => Some(n.to_string()),
        Scalar::Float(n) => Some(n.to_string()),
        Scalar::Bool(b) => Some(b.to_string()),
        Scalar::Other => None,
    })
}

/// A boolean, `"true"`/`"false"` (any case), or `1`/`0` as a number or a string.
pub(crate) fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let truth = |s: &str| match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    };
    Ok(match scalar(d)? {
        Scalar::Bool(b) => Some(b),
        Scalar::Text(s) => truth(&s),
        Scalar::Signed(n) => truth(&n.to_string()),
        Scalar::Unsigned(n) => truth(&n.to_string()),
        Scalar::Float(_) | Scalar::Other => None,
    })
}

/// An integer: a number (a float's integer part, when in range) or a string holding one.
pub(crate) fn integer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(integer_of(scalar(d)?))
}

/// A required integer read leniently; a value that holds none is an error.
#[cfg(feature = "integration")]
pub(crate) fn required_integer<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    integer_of(scalar(d)?).ok_or_else(|| de::Error::custom("not an integer"))
}

/// A required id: a string, or the text of a number; anything else is an error (an item
/// without an id is not one).
pub(crate) fn id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match scalar(d)? {
        Scalar::Text(s) => Ok(s),
        Scalar::Signed(n) => Ok(n.to_string()),
        Scalar::Unsigned(n) => Ok(n.to_string()),
        _ => Err(de::Error::custom(
            "the id is neither a string nor an integer",
        )),
    }
}

fn integer_of(value: Scalar) -> Option<i64> {
    match value {
        Scalar::Signed(n) => Some(n),
        Scalar::Unsigned(n) => i64::try_from(n).ok(),
        Scalar::Float(f) => crate::response::float_integer(f),
        Scalar::Text(s) => {
            let s = s.trim();
            s.parse::<i64>().ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .and_then(crate::response::float_integer)
            })
        }
        Scalar::Bool(_) | Scalar::Other => None,
    }
}

/// Serializes a wire type's `extra` map without the keys its own fields are sent as, so
/// a caller's `extra` can neither duplicate nor override a modelled field on the wire
/// (`#[serde(flatten, serialize_with = ..)]`).
pub(crate) fn unmodelled<S: serde::Serializer>(
    extra: &Map<String, Value>,
    modelled: &[&str],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(None)?;
    for (key, value) in extra {
        if !modelled.contains(&key.as_str()) {
            map.serialize_entry(key, value)?;
        }
    }
    map.end()
}

/// Asserts that `modelled` lists exactly the keys `value` (a wire type with every field
/// set) is sent as: the list [`unmodelled`] filters by must follow its struct.
#[cfg(test)]
pub(crate) fn assert_lists_every_key(value: &impl serde::Serialize, modelled: &[&str]) {
    let json = serde_json::to_value(value).expect("a wire type serializes");
    let mut keys: Vec<&str> = json
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut listed = modelled.to_vec();
    keys.sort_unstable();
    listed.sort_unstable();
    assert_eq!(
        keys, listed,
        "the modelled-key list and the struct's fields differ"
    );
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Fields {
        #[serde(default, deserialize_with = "super::string")]
        text: Option<String>,
        #[serde(default, deserialize_with = "super::boolean")]
        flag: Option<bool>,
        #[serde(default, deserialize_with = "super::integer")]
        count: Option<i64>,
        #[serde(deserialize_with = "super::id")]
        id: String,
    }

    fn read(json: &str) -> Result<Fields, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn every_shape_is_read_or_dropped_never_an_error() {
        let f = read(r#"{"id": 17, "text": 42, "flag": "TRUE", "count": "3"}"#).unwrap();
        assert_eq!(
            f,
            Fields {
                text: Some("42".into()),
                flag: Some(true),
                count: Some(3),
                id: "17".into()
            }
        );
        let f = read(r#"{"id": "a", "text": {"x": [1]}, "flag": 0, "count": 2.9}"#).unwrap();
        assert_eq!((f.text, f.flag, f.count), (None, Some(false), Some(2)));
        let f = read(r#"{"id": "a", "text": null, "flag": "maybe", "count": 1e300}"#).unwrap();
        assert_eq!((f.text, f.flag, f.count), (None, None, None));
        let f = read(r#"{"id": "a", "count": 18446744073709551615, "flag": [true]}"#).unwrap();
        assert_eq!((f.count, f.flag), (None, None));
        assert!(read(r#"{"id": null}"#).is_err());
        assert!(read(r#"{"id": {"a": 1}}"#).is_err());
    }
}
