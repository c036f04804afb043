//! The decode of the spec's `anyOf` answers that typify renders as a struct of flattened
//! optional parts (`subtype_0: Option<A>`, `subtype_1: Option<B>`, ...): a body must match
//! at least one branch. The generated `Deserialize` of each such type calls [`any_of`]
//! (`fastcomments-codegen`'s `postprocess::any_of` pass says why and what it costs).

use serde::Deserialize;
use serde::de::{Deserializer, Error as _};
use serde_json::Value;

/// Decodes an `anyOf` answer from `deserializer`.
///
/// The body is read once into a JSON tree, then:
/// 1. `in_turn` decodes it as serde's derive did (the branches in order, each claiming
///    the keys it knows); its value is taken when some branch matched;
/// 2. otherwise each branch is tried alone on the whole body (`alone(i, body)`: branch
///    `i` of `branches`), in order, and the first that decodes is the value: a later
///    branch can miss keys an earlier one claimed before failing;
/// 3. when none decodes, the error names each branch and why it failed, in the order
///    of `branches` (`matches none of the spec's anyOf branches: A (missing field ..);
///    B (..)`).
pub(crate) fn any_of<'de, D: Deserializer<'de>, T>(
    deserializer: D,
    branches: &[&str],
    in_turn: impl FnOnce(&Value) -> Option<T>,
    alone: impl Fn(usize, &Value) -> Result<T, serde_json::Error>,
) -> Result<T, D::Error> {
    let body = Value::deserialize(deserializer)?;
    if let Some(value) = in_turn(&body) {
        return Ok(value);
    }
    let mut reasons = Vec::with_capacity(branches.len());
    for (index, name) in branches.iter().enumerate() {
        match alone(index, &body) {
            Ok(value) => return Ok(value),
            Err(error) => reasons.push(format!("{name} ({error})")),
        }
    }
    Err(D::Error::custom(format_args!(
        "matches none of the spec's anyOf branches: {}",
        reasons.join("; ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Number {
        x: i64,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Text {
        x: String,
    }

    /// What typify generates for `anyOf [Number, Text]`, with the derive the pass removes.
    #[derive(Debug, PartialEq, Deserialize)]
    struct Derived {
        #[serde(flatten)]
        subtype_0: Option<Number>,
        #[serde(flatten)]
        subtype_1: Option<Text>,
    }

    /// The same type with the impl the pass generates.
    #[derive(Debug, PartialEq)]
    struct Checked {
        subtype_0: Option<Number>,
        subtype_1: Option<Text>,
    }

    impl<'de> Deserialize<'de> for Checked {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            any_of(
                deserializer,
                &["Number", "Text"],
                |body| {
                    let parts = Derived::deserialize(body).ok()?;
                    (parts.subtype_0.is_some() || parts.subtype_1.is_some()).then_some(Checked {
                        subtype_0: parts.subtype_0,
                        subtype_1: parts.subtype_1,
                    })
                },
                |branch, body| match branch {
                    0 => Number::deserialize(body).map(|v| Checked {
                        subtype_0: Some(v),
                        subtype_1: None,
                    }),
                    _ => Text::deserialize(body).map(|v| Checked {
                        subtype_1: Some(v),
                        subtype_0: None,
                    }),
                },
            )
        }
    }

    fn decode(body: &str) -> Result<Checked, Error> {
        crate::response::decode::<Checked>(200, body.as_bytes())
    }

    #[test]
    fn a_body_matching_no_branch_is_a_decode_error_naming_each_branch() {
        // The derive alone took `{}` as a value with no part.
        let derived: Derived = serde_json::from_str("{}").unwrap();
        assert_eq!((derived.subtype_0, derived.subtype_1), (None, None));
        for body in ["{}", r#"{"status":"success"}"#, r#"{"x":true}"#, "[]"] {
            match decode(body) {
                Err(Error::Decode { message, .. }) => assert!(
                    message.contains("matches none of the spec's anyOf branches: Number (")
                        && message.contains("); Text ("),
                    "{body}: {message}"
                ),
                other => panic!("{body}: {other:?}"),
            }
        }
        let message = decode("{}").unwrap_err().to_string();
        assert!(
            message.contains("Number (missing field `x`); Text (missing field `x`)"),
            "{message}"
        );
    }

    #[test]
    fn a_body_the_derive_decoded_decodes_to_the_same_value() {
        let derived: Derived = serde_json::from_str(r#"{"x":1,"y":2}"#).unwrap();
        assert_eq!(derived.subtype_0, Some(Number { x: 1 }));
        assert_eq!(
            decode(r#"{"x":1,"y":2}"#).unwrap(),
            Checked {
                subtype_0: derived.subtype_0,
                subtype_1: derived.subtype_1,
            }
        );
    }

    #[test]
    fn a_branch_the_derive_missed_after_an_earlier_one_claimed_its_keys_still_decodes() {
        // serde's flatten hands `x` to Number, which fails on it; Text never sees `x`.
        let derived: Derived = serde_json::from_str(r#"{"x":"seven"}"#).unwrap();
        assert_eq!((derived.subtype_0, derived.subtype_1), (None, None));
        assert_eq!(
            decode(r#"{"x":"seven"}"#).unwrap(),
            Checked {
                subtype_0: None,
                subtype_1: Some(Text { x: "seven".into() }),
            }
        );
    }

    #[test]
    fn a_failure_is_still_told_from_a_success() {
        let error = decode(r#"{"status":"failed","code":"not-found","reason":"gone"}"#);
        assert!(
            matches!(&error, Err(Error::Api(api)) if api.code.as_deref() == Some("not-found")),
            "{error:?}"
        );
    }
}
