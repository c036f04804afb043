//! Drops the error schema (`APIError`) from the variants of success responses:
//! `200: anyOf [X, APIError]` becomes `200: X`.
//!
//! Specs before June 2026 declare most 200 answers as `anyOf [X, APIError]`. Generated as
//! written, every such operation returns an untagged enum nobody wants to match on, the
//! list detection sees no collection in it (1 stream instead of 22 on the 2025-10-30
//! spec), and the enum takes the implicit name `<Op>Response`, which often is a component's
//! name too ([`super::implicit_names`]). Lost: nothing: the facade reads the top-level
//! `status` of every body and turns each failure into `fastcomments::Error::Api` before
//! the success type is decoded, so the error variant could never be produced.

use serde_json::Value;

use crate::spec::for_each_operation_mut;

/// The component name of the error every operation may answer, as the published specs
/// spell it.
pub const ERROR_SCHEMA: &str = "#/components/schemas/APIError";

/// Applies the rewrite; returns how many error variants it dropped.
pub fn apply(spec: &mut Value) -> usize {
    let mut dropped = 0;
    for_each_operation_mut(spec, |op| {
        let successes = op
            .get_mut("responses")
            .and_then(Value::as_object_mut)
            .into_iter()
            .flat_map(|r| r.iter_mut())
            .filter(|(code, _)| code.starts_with('2'))
            .flat_map(|(_, response)| response.get_mut("content").and_then(Value::as_object_mut))
            .flat_map(|content| content.values_mut())
            .filter_map(|media| media.get_mut("schema"));
        dropped += successes.map(strip).sum::<usize>();
    });
    dropped
}

/// Keys that only name or describe a schema: dropped with the choice they annotated (a
/// `title` would name a type that is no longer generated).
const ANNOTATIONS: &[&str] = &["title", "description"];

/// Drops the error variants of one schema; returns how many.
fn strip(schema: &mut Value) -> usize {
    let mut dropped = 0;
    for key in ["anyOf", "oneOf"] {
        let Some(Value::Array(variants)) = schema.get_mut(key) else {
            continue;
        };
        let before = variants.len();
        variants.retain(|v| v.get("$ref").and_then(Value::as_str) != Some(ERROR_SCHEMA));
        dropped += before - variants.len();
        if variants.len() == 1 && variants.len() < before {
            let only = variants.remove(0);
            if let Some(map) = schema.as_object_mut() {
                map.remove(key);
                if map.keys().all(|k| ANNOTATIONS.contains(&k.as_str())) {
                    *schema = only;
                    return dropped;
                }
                map.insert("allOf".into(), Value::Array(vec![only]));
            }
        }
    }
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec_with(schema: Value) -> Value {
        json!({ "paths": { "/x": { "get": { "operationId": "X", "responses": {
            "200": { "content": { "application/json": { "schema": schema } } },
            "400": { "content": { "application/json": { "schema": { "$ref": ERROR_SCHEMA } } } }
        } } } } })
    }

    fn success(spec: &Value) -> &Value {
        spec.pointer("/paths/~1x/get/responses/200/content/application~1json/schema")
            .unwrap()
    }

    #[test]
    fn a_success_or_error_becomes_the_success() {
        let mut spec = spec_with(json!({ "anyOf": [
            { "$ref": "#/components/schemas/GetX" }, { "$ref": ERROR_SCHEMA }
        ] }));
        assert_eq!(apply(&mut spec), 1);
        assert_eq!(
            success(&spec),
            &json!({ "$ref": "#/components/schemas/GetX" })
        );
        assert_eq!(
            spec.pointer("/paths/~1x/get/responses/400/content/application~1json/schema"),
            Some(&json!({ "$ref": ERROR_SCHEMA })),
            "error responses keep the error schema"
        );
    }

    #[test]
    fn two_successes_stay_a_choice_and_siblings_are_kept() {
        let mut spec = spec_with(json!({ "description": "d", "anyOf": [
            { "$ref": "#/components/schemas/A" }, { "$ref": "#/components/schemas/B" },
            { "$ref": ERROR_SCHEMA }
        ] }));
        apply(&mut spec);
        assert_eq!(
            success(&spec),
            &json!({ "description": "d", "anyOf": [
            { "$ref": "#/components/schemas/A" }, { "$ref": "#/components/schemas/B" }
        ] })
        );

        let mut spec = spec_with(json!({ "nullable": true, "oneOf": [
            { "$ref": "#/components/schemas/A" }, { "$ref": ERROR_SCHEMA }
        ] }));
        apply(&mut spec);
        assert_eq!(
            success(&spec),
            &json!({ "nullable": true, "allOf": [{ "$ref": "#/components/schemas/A" }] })
        );

        let mut spec = spec_with(
            json!({ "title": "GetXResponse", "description": "d", "anyOf": [
            { "$ref": "#/components/schemas/A" }, { "$ref": ERROR_SCHEMA }
        ] }),
        );
        apply(&mut spec);
        assert_eq!(success(&spec), &json!({ "$ref": "#/components/schemas/A" }));
    }

    #[test]
    fn idempotent_and_blind_to_other_errors() {
        let schema = json!({ "anyOf": [
            { "$ref": "#/components/schemas/AggregationResponse" },
            { "$ref": "#/components/schemas/AggregationAPIError" }
        ] });
        let mut spec = spec_with(schema.clone());
        apply(&mut spec);
        assert_eq!(success(&spec), &schema);
        let mut twice = spec_with(
            json!({ "anyOf": [{ "$ref": "#/components/schemas/A" }, { "$ref": ERROR_SCHEMA }] }),
        );
        apply(&mut twice);
        let once = twice.clone();
        assert_eq!(apply(&mut twice), 0);
        assert_eq!(once, twice);
    }
}
