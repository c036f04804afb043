//! Removes `additionalProperties: false` everywhere.
//!
//! Without it typify emits `#[serde(deny_unknown_fields)]` on ~200 types: one field added
//! by FastComments would break every deployed client. Lost: nothing a client needs;
//! unknown fields are ignored on decode.

use serde_json::Value;

use crate::spec::visit_objects_mut;

/// Applies the rewrite.
pub fn apply(spec: &mut Value) {
    visit_objects_mut(spec, &mut |map| {
        if map.get("additionalProperties") == Some(&Value::Bool(false)) {
            map.remove("additionalProperties");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn closed_objects_are_opened_and_records_kept() {
        let mut spec = json!({"a": {"additionalProperties": false, "b": [{"additionalProperties": false}]},
                              "r": {"additionalProperties": {"type": "string"}}});
        apply(&mut spec);
        assert_eq!(
            spec,
            json!({"a": {"b": [{}]}, "r": {"additionalProperties": {"type": "string"}}})
        );
    }
}
