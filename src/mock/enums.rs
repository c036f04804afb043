//! A request body's enum values against the spec's lists.
//!
//! The generated enums are open (a value FastComments adds later decodes as `Other` or an
//! unknown integer), so decoding a body into its request type no longer refuses a value
//! outside a list. Their schemars schemas stay closed: each lists the spec's values. This
//! walks the body along its type's schema and finds the first value outside a list.

use schemars::schema::{InstanceType, RootSchema, Schema, SchemaObject, SingleOrVec};
use serde_json::Value;

/// Deep enough for every request type of the spec; stops a cyclic type.
const MAX_DEPTH: usize = 32;

/// The first value of `body` outside its schema's `enum`, as `path: value` (`.status:
/// "new"`, `.items[2].kind: 11`); `None` when every value is in its list. `null` is left
/// to the typed decode (which refused it unless the field is optional).
pub(crate) fn outside(root: &RootSchema, body: &Value) -> Option<String> {
    let mut path = String::new();
    walk(&root.schema, root, body, &mut path, 0).err()
}

fn walk(
    schema: &SchemaObject,
    root: &RootSchema,
    value: &Value,
    path: &mut String,
    depth: usize,
) -> Result<(), String> {
    if depth > MAX_DEPTH || value.is_null() {
        return Ok(());
    }
    if let Some(reference) = &schema.reference {
        let name = reference.rsplit('/').next().unwrap_or_default();
        return match root.definitions.get(name) {
            Some(Schema::Object(target)) => walk(target, root, value, path, depth + 1),
            _ => Ok(()),
        };
    }
    if let Some(values) = &schema.enum_values
        && !values.contains(value)
    {
        return Err(format!(
            "{}: {value}",
            if path.is_empty() { "." } else { path }
        ));
    }
    if let Some(sub) = &schema.subschemas {
        for all in sub.all_of.iter().flatten() {
            walk_schema(all, root, value, path, depth)?;
        }
        // A choice fits when one branch does; otherwise its first branch's error.
        for choice in [&sub.any_of, &sub.one_of].into_iter().flatten() {
            // Only branches of the value's JSON type count (`Option<T>` is `anyOf [T, null]`).
            let branches: Vec<&Schema> = choice.iter().filter(|b| of_type(b, value)).collect();
            let errors: Vec<String> = branches
                .iter()
                .filter_map(|branch| walk_schema(branch, root, value, path, depth).err())
                .collect();
            if errors.len() == branches.len()
                && let Some(first) = errors.into_iter().next()
            {
                return Err(first);
            }
        }
    }
    match value {
        Value::Object(fields) => {
            let Some(object) = &schema.object else {
                return Ok(());
            };
            for (key, field) in fields {
                let field_schema = object
                    .properties
                    .get(key)
                    .or(object.additional_properties.as_deref());
                if let Some(field_schema) = field_schema {
                    let len = path.len();
                    path.push('.');
                    path.push_str(key);
                    walk_schema(field_schema, root, field, path, depth)?;
                    path.truncate(len);
                }
            }
            Ok(())
        }
        Value::Array(items) => {
            let Some(array) = &schema.array else {
                return Ok(());
            };
            for (index, item) in items.iter().enumerate() {
                let item_schema = match &array.items {
                    Some(SingleOrVec::Single(one)) => Some(&**one),
                    Some(SingleOrVec::Vec(each)) => each.get(index),
                    None => None,
                };
                if let Some(item_schema) = item_schema {
                    let len = path.len();
                    path.push_str(&format!("[{index}]"));
                    walk_schema(item_schema, root, item, path, depth)?;
                    path.truncate(len);
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Whether `branch` may hold `value`'s JSON type (a branch without a type may).
fn of_type(branch: &Schema, value: &Value) -> bool {
    let Schema::Object(SchemaObject {
        instance_type: Some(types),
        ..
    }) = branch
    else {
        return true;
    };
    let fits = |kind: &InstanceType| match kind {
        InstanceType::Null => value.is_null(),
        InstanceType::Boolean => value.is_boolean(),
        InstanceType::Object => value.is_object(),
        InstanceType::Array => value.is_array(),
        InstanceType::Number => value.is_number(),
        InstanceType::String => value.is_string(),
        InstanceType::Integer => value.is_i64() || value.is_u64(),
    };
    match types {
        SingleOrVec::Single(kind) => fits(kind),
        SingleOrVec::Vec(kinds) => kinds.iter().any(fits),
    }
}

fn walk_schema(
    schema: &Schema,
    root: &RootSchema,
    value: &Value,
    path: &mut String,
    depth: usize,
) -> Result<(), String> {
    match schema {
        Schema::Object(object) => walk(object, root, value, path, depth + 1),
        Schema::Bool(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn root() -> RootSchema {
        serde_json::from_value(json!({
            "type": "object",
            "properties": {
                "dir": {"$ref": "#/definitions/Dir"},
                "items": {"type": "array", "items": {"type": "object", "properties": {
                    "kind": {"type": "integer", "enum": [1, 2]}
                }}},
                "either": {"anyOf": [{"$ref": "#/definitions/Dir"}, {"type": "integer", "enum": [7]}]},
                "maybe": {"anyOf": [{"$ref": "#/definitions/Dir"}, {"type": "null"}]}
            },
            "definitions": {"Dir": {"type": "string", "enum": ["up", "down"]}}
        }))
        .unwrap()
    }

    #[test]
    fn values_in_their_lists_pass() {
        let body =
            json!({"dir": "up", "items": [{"kind": 1}, {"kind": 2}], "either": 7, "other": "x"});
        assert_eq!(outside(&root(), &body), None);
        assert_eq!(outside(&root(), &json!({"dir": null})), None);
    }

    #[test]
    fn the_first_value_outside_a_list_is_named_by_its_path() {
        assert_eq!(
            outside(&root(), &json!({"items": [{"kind": 1}, {"kind": 11}]})),
            Some(".items[1].kind: 11".to_string())
        );
        assert_eq!(
            outside(&root(), &json!({"dir": "sideways"})),
            Some(r#".dir: "sideways""#.to_string())
        );
        assert_eq!(
            outside(&root(), &json!({"either": "left"})),
            Some(r#".either: "left""#.to_string())
        );
        // An optional field: the `null` branch does not take a string.
        assert_eq!(
            outside(&root(), &json!({"maybe": "left"})),
            Some(r#".maybe: "left""#.to_string())
        );
    }
}
