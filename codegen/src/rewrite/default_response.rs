//! Replaces each operation's `default` response by `4XX` and `5XX` responses of the same
//! schema, folding in specific error codes that answer that same schema.
//!
//! Progenitor counts `default` among the success responses and asserts that all of them
//! share one type (`response_types.len() <= 1`): every `200: X` + `default: APIError`
//! operation of this spec makes it panic. Lost: nothing at run time; the facade decodes
//! only success bodies with the generated types and turns every other answer into
//! `fastcomments::Error` itself, so `default` only ever named the error type.

use serde_json::Value;

use crate::spec::for_each_operation_mut;

/// Applies the rewrite.
pub fn apply(spec: &mut Value) {
    for_each_operation_mut(spec, |op| {
        let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
            return;
        };
        let Some(default) = responses.remove("default") else {
            return;
        };
        // Specific error codes answering the same schema would be unreachable match arms
        // beside the ranges.
        responses.retain(|code, r| {
            !(code.starts_with('4') || code.starts_with('5'))
                || r.get("content") != default.get("content")
        });
        for range in ["4XX", "5XX"] {
            responses.entry(range).or_insert_with(|| default.clone());
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn default_becomes_error_ranges_absorbing_same_schema_codes() {
        let error = json!({"content": {"application/json": {"schema": {"$ref": "#/E"}}}});
        let other = json!({"content": {"application/json": {"schema": {"$ref": "#/Other"}}}});
        let mut spec = json!({"paths": {"/a": {"get": {"responses": {
            "200": {"description": "ok"}, "403": error, "422": other, "default": error
        }}}}});
        apply(&mut spec);
        let responses = &spec["paths"]["/a"]["get"]["responses"];
        let codes: Vec<&String> = responses.as_object().unwrap().keys().collect();
        assert_eq!(codes, ["200", "422", "4XX", "5XX"]);
        assert_eq!(responses["5XX"], error);
        let once = spec.clone();
        apply(&mut spec);
        assert_eq!(spec, once, "idempotent");
    }
}
