//! Gives an untitled inline schema whose implicit name is already taken a title, so
//! [`super::unique_titles`] renames it instead of typify reusing the other type.
//!
//! Progenitor names an inline schema after its place: `<OperationId>Response` for a
//! response, `<OperationId>Body` for a request body, `<OperationId><Param>` for a
//! parameter. When that name is a component's too (`SearchUsers` answers an untitled
//! `anyOf [SearchUsersResponse, SearchUsersSectionedResponse]` on the 2026-03-24 spec),
//! typify silently reuses the component for the inline schema and the method returns the
//! wrong type: the sectioned answer cannot be decoded. Lost: the colliding inline type is
//! named `<ImplicitName>Inline<N>`, not `<ImplicitName>`.

use std::collections::BTreeSet;

use heck::ToPascalCase;
use serde_json::{Map, Value};

use super::unique_titles::fold;
use crate::spec::{components, for_each_operation_mut, visit_objects};

/// Applies the rewrite.
pub fn apply(spec: &mut Value) {
    each_collision(spec, &mut |_, name, schema| {
        if let Some(map) = schema.as_object_mut() {
            map.insert("title".into(), Value::String(name));
        }
    });
}

/// The implicit names of `spec` that collide with a component or a title, for tests and
/// reports: `(operation id, implicit name)`.
pub fn collisions(spec: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    each_collision(&mut spec.clone(), &mut |id, name, _| {
        out.push((id.to_owned(), name))
    });
    out
}

/// Calls `f(operation id, implicit name, schema)` for each inline schema whose implicit
/// name is taken.
fn each_collision(spec: &mut Value, f: &mut dyn FnMut(&str, String, &mut Value)) {
    let taken = taken_names(spec);
    for_each_operation_mut(spec, |op| {
        let id = op
            .get("operationId")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        for (suffix, schema) in named_places(op) {
            let name = format!("{id}-{suffix}").to_pascal_case();
            if nameable(schema) && taken.contains(&fold(&name)) {
                f(&id, name, schema);
            }
        }
    });
}

/// Component names and inline titles, folded as typify compares names.
fn taken_names(spec: &Value) -> BTreeSet<String> {
    let mut taken: BTreeSet<String> = components(spec)
        .into_iter()
        .flatten()
        .map(|(name, _)| fold(name))
        .collect();
    visit_objects(spec.get("paths").unwrap_or(&Value::Null), &mut |map| {
        if let Some(Value::String(title)) = map.get("title") {
            taken.insert(fold(title));
        }
    });
    taken
}

/// The inline schemas progenitor names after their place: `(suffix, schema)`.
fn named_places(op: &mut Map<String, Value>) -> Vec<(String, &mut Value)> {
    let mut out = Vec::new();
    let mut parameters = Vec::new();
    let mut body = None;
    let mut responses = Vec::new();
    for (key, value) in op.iter_mut() {
        match key.as_str() {
            "parameters" => parameters.extend(value.as_array_mut().into_iter().flatten()),
            "requestBody" => body = Some(value),
            "responses" => responses.extend(
                value
                    .as_object_mut()
                    .into_iter()
                    .flat_map(|r| r.values_mut()),
            ),
            _ => {}
        }
    }
    for p in parameters {
        let name = p
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if let Some(schema) = p.get_mut("schema") {
            out.push((name, schema));
        }
    }
    if let Some(body) = body {
        out.extend(schemas(body).into_iter().map(|s| ("body".to_owned(), s)));
    }
    for response in responses {
        out.extend(
            schemas(response)
                .into_iter()
                .map(|s| ("response".to_owned(), s)),
        );
    }
    out
}

/// The schemas of a request body's or response's `content`.
fn schemas(body_or_response: &mut Value) -> Vec<&mut Value> {
    body_or_response
        .get_mut("content")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|c| c.values_mut())
        .filter_map(|media| media.get_mut("schema"))
        .collect()
}

/// Whether typify makes a named type of the schema: not a reference, not titled (a title
/// names it), and more than a plain scalar or array.
fn nameable(schema: &Value) -> bool {
    let Some(map) = schema.as_object() else {
        return false;
    };
    if map.contains_key("$ref") || map.contains_key("title") {
        return false;
    }
    let composite = [
        "anyOf",
        "oneOf",
        "allOf",
        "properties",
        "enum",
        "additionalProperties",
    ];
    composite.iter().any(|k| map.contains_key(*k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> Value {
        json!({
            "paths": { "/users/search": { "get": {
                "operationId": "SearchUsers",
                "parameters": [{ "name": "mode", "in": "query",
                    "schema": { "type": "string", "enum": ["a", "b"] } }],
                "responses": { "200": { "content": { "application/json": { "schema": {
                    "anyOf": [
                        { "$ref": "#/components/schemas/SearchUsersResponse" },
                        { "$ref": "#/components/schemas/SearchUsersSectionedResponse" }
                    ]
                } } } } }
            } } },
            "components": { "schemas": {
                "SearchUsersResponse": { "type": "object" },
                "SearchUsersSectionedResponse": { "type": "object" },
                "SearchUsersMode": { "type": "string" }
            } }
        })
    }

    #[test]
    fn an_inline_schema_named_like_a_component_gets_a_title_unique_titles_renames() {
        let mut spec = spec();
        assert_eq!(
            collisions(&spec),
            [
                ("SearchUsers".to_owned(), "SearchUsersMode".to_owned()),
                ("SearchUsers".to_owned(), "SearchUsersResponse".to_owned())
            ]
        );
        apply(&mut spec);
        super::super::unique_titles::apply(&mut spec);
        let op = &spec["paths"]["/users/search"]["get"];
        assert_eq!(
            op.pointer("/responses/200/content/application~1json/schema/title"),
            Some(&json!("SearchUsersResponseInline2"))
        );
        assert_eq!(
            op["parameters"][0]["schema"]["title"],
            "SearchUsersModeInline2"
        );
        assert!(collisions(&spec).is_empty());
    }

    #[test]
    fn free_names_references_and_scalars_are_left_alone() {
        let mut spec = spec();
        spec["components"]["schemas"] = json!({ "Other": {} });
        let before = spec.clone();
        apply(&mut spec);
        assert_eq!(spec, before, "no collision, no title");

        let mut spec = self::spec();
        spec["paths"]["/users/search"]["get"]["parameters"][0]["schema"] =
            json!({ "type": "string" });
        apply(&mut spec);
        assert!(
            spec["paths"]["/users/search"]["get"]["parameters"][0]["schema"]
                .get("title")
                .is_none()
        );
    }

    #[test]
    fn idempotent() {
        let mut once = spec();
        apply(&mut once);
        let mut twice = once.clone();
        apply(&mut twice);
        assert_eq!(once, twice);
    }
}
