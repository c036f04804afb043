//! Replaces an `anyOf` whose members are all string enums by one string enum holding
//! every value.
//!
//! typify renders such an `anyOf` (e.g. `VoteResponse.status`: `APIStatus` or
//! `"pending-verification"`) as a struct of flattened optional members, which no JSON
//! string can deserialize into: every `CreateVote` answer would fail to decode. Lost:
//! the names of the member enums for that field (the union gets its own type).

use serde_json::Value;

use crate::spec::{resolve, visit_objects_mut};

/// Applies the rewrite.
pub fn apply(spec: &mut Value) {
    let original = spec.clone();
    visit_objects_mut(spec, &mut |map| {
        let Some(values) = map
            .get("anyOf")
            .and_then(Value::as_array)
            .and_then(|parts| union_of_string_enums(&original, parts))
        else {
            return;
        };
        map.remove("anyOf");
        map.insert("type".into(), "string".into());
        map.insert("enum".into(), Value::Array(values));
    });
}

/// Every value of every member, in order and without repeats, when every member is a
/// string enum.
fn union_of_string_enums(spec: &Value, parts: &[Value]) -> Option<Vec<Value>> {
    let mut all: Vec<Value> = Vec::new();
    for part in parts {
        let schema = resolve(spec, part).0;
        if schema["type"] != "string" {
            return None;
        }
        for value in schema["enum"].as_array()? {
            if !all.contains(value) {
                all.push(value.clone());
            }
        }
    }
    Some(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn string_enum_members_become_one_enum() {
        let mut spec = json!({
            "components": {"schemas": {"APIStatus": {"type": "string", "enum": ["success", "failed"]}}},
            "x": {"anyOf": [{"$ref": "#/components/schemas/APIStatus"},
                            {"type": "string", "enum": ["pending-verification", "failed"]}]}
        });
        apply(&mut spec);
        assert_eq!(
            spec["x"],
            json!({"type": "string", "enum": ["success", "failed", "pending-verification"]})
        );
    }

    #[test]
    fn an_any_of_with_another_member_is_kept() {
        let mut spec =
            json!({"x": {"anyOf": [{"type": "string", "enum": ["a"]}, {"type": "number"}]}});
        let before = spec.clone();
        apply(&mut spec);
        assert_eq!(spec, before);
    }
}
