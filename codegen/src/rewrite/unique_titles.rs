//! Makes every inline schema `title` unique and distinct from every component name,
//! compared the way typify names types (case and punctuation folded).
//!
//! Without it typify reuses an existing type for an inline schema whose title names it,
//! without checking the shape: the method silently returns the wrong type. Lost: the
//! colliding inline types get a numbered name (`<Title>Inline<N>`). A component's own
//! title is dropped: the component's name already names it.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::spec::components;

/// Applies the rewrite.
pub fn apply(spec: &mut Value) {
    let mut taken: BTreeSet<String> = components(spec)
        .into_iter()
        .flatten()
        .map(|(name, _)| fold(name))
        .collect();
    if let Some(paths) = spec.get_mut("paths") {
        walk(paths, &mut taken);
    }
    let schemas = spec
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut);
    for schema in schemas.into_iter().flat_map(|s| s.values_mut()) {
        if let Some(map) = schema.as_object_mut() {
            map.remove("title");
            map.values_mut().for_each(|child| walk(child, &mut taken));
        }
    }
}

/// A name as typify would turn it into a type name, for comparison.
pub(crate) fn fold(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn walk(value: &mut Value, taken: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(title)) = map.get_mut("title") {
                let mut candidate = title.clone();
                let mut n = 1;
                while !taken.insert(fold(&candidate)) {
                    n += 1;
                    candidate = format!("{title}Inline{n}");
                }
                *title = candidate;
            }
            for (key, child) in map.iter_mut() {
                match (key.as_str(), child) {
                    // Property names are not schemas: walk their values only.
                    ("properties", Value::Object(props)) => {
                        props.values_mut().for_each(|p| walk(p, taken));
                    }
                    (_, child) => walk(child, taken),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| walk(i, taken)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_inline_title_naming_a_component_gets_a_number() {
        let mut spec = json!({
            "paths": {"/a": {"get": {"responses": {"200": {"content": {"application/json": {
                "schema": {"title": "Get_Comments-Response", "type": "object"}}}}}}}},
            "components": {"schemas": {
                "GetCommentsResponse": {"title": "GetCommentsResponse", "type": "object",
                    "properties": {"title": {"type": "string"},
                                   "inner": {"title": "GetCommentsResponse", "type": "object"}}}
            }}
        });
        apply(&mut spec);
        let inline =
            &spec.pointer("/paths/~1a/get/responses/200/content/application~1json/schema/title");
        assert_eq!(inline.unwrap(), "Get_Comments-ResponseInline2");
        let component = &spec["components"]["schemas"]["GetCommentsResponse"];
        assert!(component.get("title").is_none());
        // A property called `title` is a property, not a schema title.
        assert_eq!(component["properties"]["title"], json!({"type": "string"}));
        assert_eq!(
            component["properties"]["inner"]["title"],
            "GetCommentsResponseInline3"
        );
    }

    #[test]
    fn unique_titles_are_left_alone_and_the_rewrite_is_idempotent() {
        let mut spec = json!({"paths": {"/a": {"get": {"x": {"title": "Unique"}}}},
                              "components": {"schemas": {"Other": {"type": "string"}}}});
        apply(&mut spec);
        assert_eq!(spec["paths"]["/a"]["get"]["x"]["title"], "Unique");
        let once = spec.clone();
        apply(&mut spec);
        assert_eq!(spec, once);
    }
}
