//! Merges an `allOf` whose parts define the same property differently into one object,
//! later parts winning.
//!
//! tsoa writes TypeScript's `Omit<A, k> & B` as `allOf [A, B]` where `B` redefines a
//! property of `A` (e.g. `APIComment.date`: a nullable date-time string in
//! `APICommentBase`, a number in the second part). typify intersects the two, finds no
//! value satisfies both and emits an uninhabited `enum ApiComment {}` that can never
//! deserialize. The same happens to a record part (`additionalProperties: {..}`) beside
//! named properties (`AggregationItem`): typify makes each property satisfy the record's
//! value type too. Lost: the `allOf` structure (the merged type no longer converts
//! from/into the base type); the wire format is what the server sends (the later part).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::spec::{resolve, visit_objects_mut};

/// Applies the rewrite.
pub fn apply(spec: &mut Value) {
    let original = spec.clone();
    visit_objects_mut(spec, &mut |map| {
        let merged = map
            .get("allOf")
            .and_then(Value::as_array)
            .and_then(|parts| merge_if_contradictory(&original, parts));
        if let Some(merged) = merged {
            map.remove("allOf");
            for (key, value) in merged {
                map.entry(key).or_insert(value);
            }
        }
    });
}

fn merge_if_contradictory(spec: &Value, parts: &[Value]) -> Option<Map<String, Value>> {
    let resolved: Vec<&Value> = parts.iter().map(|p| resolve(spec, p).0).collect();
    if resolved.len() < 2 || resolved.iter().any(|p| p.get("properties").is_none()) {
        return None;
    }
    let mut properties = Map::new();
    let mut required = BTreeSet::new();
    let mut record = None;
    let mut contradictory = false;
    for part in resolved {
        for (name, schema) in part["properties"].as_object().into_iter().flatten() {
            // Two parts typing one property differently, or a property beside a record
            // part whose value type it would have to satisfy as well.
            if properties.get(name).is_some_and(|prev| prev != schema) || record.is_some() {
                contradictory = true;
            }
            properties.insert(name.clone(), schema.clone());
        }
        required.extend(
            part["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned),
        );
        if let Some(values) = part.get("additionalProperties").filter(|a| a.is_object()) {
            contradictory |= !properties.is_empty();
            record = Some(values.clone());
        }
    }
    if !contradictory {
        return None;
    }
    let mut merged = Map::new();
    merged.insert("type".into(), "object".into());
    merged.insert("properties".into(), Value::Object(properties));
    merged.insert(
        "required".into(),
        required.into_iter().map(Value::String).collect(),
    );
    if let Some(values) = record {
        merged.insert("additionalProperties".into(), values);
    }
    Some(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(second: Value) -> Value {
        json!({"components": {"schemas": {
            "Base": {"type": "object", "required": ["id"],
                     "properties": {"id": {"type": "string"}, "date": {"type": "string", "nullable": true}}},
            "Comment": {"allOf": [{"$ref": "#/components/schemas/Base"}, second]}
        }}})
    }

    #[test]
    fn a_redefined_property_merges_the_parts_with_the_later_one_winning() {
        let mut spec = spec(json!({"type": "object", "required": ["date"],
                                   "properties": {"date": {"type": "number"}}}));
        apply(&mut spec);
        assert_eq!(
            spec["components"]["schemas"]["Comment"],
            json!({"type": "object", "required": ["date", "id"],
                   "properties": {"id": {"type": "string"}, "date": {"type": "number"}}})
        );
        let once = spec.clone();
        apply(&mut spec);
        assert_eq!(spec, once, "idempotent");
    }

    #[test]
    fn a_consistent_all_of_is_kept() {
        let mut spec =
            spec(json!({"type": "object", "properties": {"extra": {"type": "boolean"}}}));
        let before = spec.clone();
        apply(&mut spec);
        assert_eq!(spec, before);
    }

    #[test]
    fn a_record_part_beside_named_properties_is_merged() {
        let mut spec = json!({"x": {"allOf": [
            {"type": "object", "properties": {}, "additionalProperties": {"type": "number"}},
            {"type": "object", "properties": {"groups": {"type": "array"}}}
        ]}});
        apply(&mut spec);
        assert_eq!(spec["x"]["additionalProperties"], json!({"type": "number"}));
        assert_eq!(spec["x"]["properties"]["groups"], json!({"type": "array"}));
        assert!(spec["x"].get("allOf").is_none());
    }
}
