//! The rule every answer of the mock follows: it invents only what neither the request
//! nor the store knows. An answer starts as an instance of the response type
//! ([`super::fake`]); then every field the request named (a path or query parameter, a
//! body field, the tenant) or the addressed object holds takes that value, wherever the
//! response type takes it. What is left generated is what nobody told the mock.
//!
//! Names are matched as they are, and through the few aliases FastComments uses for one
//! value in different places (`_id` and `id`; a comment's text as `commentText`, its HTML
//! as `newCommentTextHTML`; a date as epoch milliseconds or ISO-8601).

use schemars::schema::{RootSchema, Schema};
use serde_json::{Map, Value};

use super::fake::Fake;
use super::resources::{resolve, takes};
use super::store::Object;
use super::store::iso_ms;

/// What a call knows: values by field name, the first source given winning.
#[derive(Debug, Default, Clone)]
pub(crate) struct Known {
    values: Map<String, Value>,
    /// The time of a write, for the fields that record when an object was made or
    /// changed (`createdAt`, `updatedAt`, `date`, ...) and are not known otherwise.
    now_ms: Option<i64>,
}

/// Names under which a value of the left name also appears.
const ALIASES: &[(&str, &str)] = &[
    ("id", "_id"),
    ("_id", "id"),
    ("comment", "commentText"),
    ("comment", "sanitizedCommentText"),
    ("commentHTML", "newCommentTextHTML"),
];

impl Known {
    /// Adds each field of `object` (and its aliases) not known yet.
    pub(crate) fn add_object(&mut self, object: &Object) {
        for (key, value) in object {
            self.add(key, value.clone());
        }
    }

    /// Knows that the call writes at `now_ms`.
    pub(crate) fn written_at(&mut self, now_ms: i64) {
        self.now_ms = Some(now_ms);
    }

    /// Adds what `other` knows and this does not.
    pub(crate) fn extend(&mut self, other: &Known) {
        for (key, value) in &other.values {
            self.values
                .entry(key.clone())
                .or_insert_with(|| value.clone());
        }
    }

    /// Adds `value` under `key` (and its aliases) unless already known.
    pub(crate) fn add(&mut self, key: &str, value: Value) {
        if value.is_null() {
            return;
        }
        for (from, to) in ALIASES {
            if *from == key {
                self.values
                    .entry((*to).to_owned())
                    .or_insert_with(|| value.clone());
            }
        }
        self.values.entry(key.to_owned()).or_insert(value);
    }

    /// The known value of `key`, converted to what `property` takes: a query
    /// parameter's text as a number or boolean, a date between epoch milliseconds and
    /// ISO-8601. `None` when nothing known fits.
    fn value_for(&self, key: &str, property: &Schema, root: &RootSchema) -> Option<Value> {
        let written = self
            .now_ms
            .filter(|_| records_a_write(key))
            .and_then(iso_ms)
            .map(Value::from);
        let known = self.values.get(key).cloned().or(written)?;
        let date_time =
            resolve(property, root).and_then(|s| s.format.as_deref()) == Some("date-time");
        candidates(&known, is_a_date(key))
            .into_iter()
            .filter(|candidate| !date_time || candidate.as_str().is_none_or(is_iso))
            .find(|candidate| takes(property, root, candidate))
    }
}

/// Whether a field named `key` records when its object was made or changed.
fn records_a_write(key: &str) -> bool {
    let stem = key
        .strip_suffix("At")
        .or_else(|| key.strip_suffix("Date"))
        .unwrap_or(key);
    key == "date" || stem == "created" || stem == "updated"
}

/// Whether a field named `key` holds a date (`date`, `createdAt`, `lastLoginDate`).
fn is_a_date(key: &str) -> bool {
    key.eq_ignore_ascii_case("date") || key.ends_with("At") || key.ends_with("Date")
}

fn is_iso(text: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

/// `value` and the other JSON forms it may take in an answer: a query parameter's text
/// as a number or boolean; a date (`is_date`) as epoch milliseconds or ISO-8601, never
/// as the digits of its milliseconds.
fn candidates(value: &Value, is_date: bool) -> Vec<Value> {
    let mut out = vec![value.clone()];
    match value {
        Value::String(text) => {
            if let Ok(n) = text.parse::<i64>() {
                out.push(n.into());
            }
            if let Ok(b) = text.parse::<bool>() {
                out.push(b.into());
            }
            if let Ok(date) = chrono::DateTime::parse_from_rfc3339(text) {
                out.push(date.timestamp_millis().into());
            }
        }
        Value::Number(n) if is_date => {
            if let Some(text) = n.as_i64().and_then(iso_ms) {
                out.push(text.into());
            }
        }
        Value::Number(n) => out.push(n.to_string().into()),
        _ => {}
    }
    out
}

/// An instance of `schema` holding what `known` knows: generated, then each property
/// of the schema set to the known value it takes.
pub(crate) fn view(known: &Known, schema: &Schema, root: &RootSchema, fake: &mut Fake) -> Value {
    let mut shown = fake.instance_in(schema, root);
    fill(&mut shown, schema, root, known);
    shown
}

/// Sets each property of `schema` present in `value` (an object) to the known value it
/// takes; returns whether anything changed.
pub(crate) fn fill(value: &mut Value, schema: &Schema, root: &RootSchema, known: &Known) -> bool {
    let Some(properties) = properties(schema, root).or_else(|| success_properties(schema, root))
    else {
        return false;
    };
    let Value::Object(fields) = value else {
        return false;
    };
    let mut changed = false;
    for (key, property) in properties {
        if let Some(found) = known.value_for(&key, &property, root)
            && fields.get(&key) != Some(&found)
        {
            fields.insert(key, found);
            changed = true;
        }
    }
    changed
}

/// The properties of an object schema, through `$ref` and `allOf` parts.
fn properties(schema: &Schema, root: &RootSchema) -> Option<Vec<(String, Schema)>> {
    let object = resolve(schema, root)?;
    let mut out: Vec<(String, Schema)> = object
        .object
        .as_ref()
        .map(|o| {
            o.properties
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    for part in object
        .subschemas
        .as_ref()
        .and_then(|s| s.all_of.as_ref())
        .into_iter()
        .flatten()
    {
        out.extend(properties(part, root).unwrap_or_default());
    }
    (!out.is_empty()).then_some(out)
}

/// Grounds a whole answer: its own fields from `top`, then the object in its `item`
/// slot (the comment or the resource item it holds) from that object's own knowledge,
/// each only where the answer still fits the response type (`fits`). Other nested
/// objects are left alone: a name means something else there (a `user`'s `id`).
pub(crate) fn ground(
    answer: &mut Value,
    root: &RootSchema,
    top: &Known,
    item: Option<&Known>,
    fits: impl Fn(&Value) -> bool,
) {
    let schema = Schema::Object(root.schema.clone());
    let mut grounded = answer.clone();
    fill(&mut grounded, &schema, root, top);
    keep_if_fits(answer, grounded, &fits);
    let (Some(item), Some((slot, property))) = (item, super::resources::slots(root).item) else {
        return;
    };
    let Some(inner) = answer.get(&slot).filter(|v| v.is_object()) else {
        return;
    };
    let mut inner = inner.clone();
    if fill(&mut inner, &property, root, item) {
        let mut grounded = answer.clone();
        grounded[&slot] = inner;
        keep_if_fits(answer, grounded, &fits);
    }
}

/// The properties of the success shape of an `anyOf`/`oneOf` schema.
fn success_properties(schema: &Schema, root: &RootSchema) -> Option<Vec<(String, Schema)>> {
    let object = super::resources::success_object(resolve(schema, root)?, root)?;
    properties(&Schema::Object(object.clone()), root)
}

fn keep_if_fits(answer: &mut Value, grounded: Value, fits: &impl Fn(&Value) -> bool) {
    if grounded != *answer && fits(&grounded) {
        *answer = grounded;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_value_is_offered_in_the_forms_an_answer_may_take() {
        assert!(candidates(&json!("12"), false).contains(&json!(12)));
        assert!(candidates(&json!("true"), false).contains(&json!(true)));
        let ms = json!(1_767_225_600_000_i64);
        assert!(candidates(&ms, true).contains(&json!("2026-01-01T00:00:00.000Z")));
        assert!(candidates(&json!("2026-01-01T00:00:00.000Z"), true).contains(&ms));
        // An early date is a date still, never the text "1000"; one out of range has no
        // string form at all.
        assert!(candidates(&json!(1000), true).contains(&json!("1970-01-01T00:00:01.000Z")));
        assert!(!candidates(&json!(1000), true).contains(&json!("1000")));
        assert_eq!(candidates(&json!(i64::MAX), true), [json!(i64::MAX)]);
    }

    #[test]
    fn only_the_time_of_making_or_changing_is_taken_for_a_write() {
        for key in ["date", "createdAt", "updatedAt", "createdDate", "created"] {
            assert!(records_a_write(key), "{key}");
        }
        for key in [
            "createdBy",
            "createdFromTenantId",
            "updatedByUserId",
            "expiresAt",
        ] {
            assert!(!records_a_write(key), "{key}");
        }
    }

    #[test]
    fn the_first_source_wins_and_aliases_follow_it() {
        let mut known = Known::default();
        known.add("id", json!("stored"));
        known.add("id", json!("asked"));
        known.add("comment", json!("text"));
        assert_eq!(known.values["_id"], json!("stored"));
        assert_eq!(known.values["commentText"], json!("text"));
    }
}
