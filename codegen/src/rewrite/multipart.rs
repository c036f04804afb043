//! Removes every operation with a `multipart/form-data` request body.
//!
//! Without it progenitor refuses the whole spec ("unexpected content type:
//! multipart/form-data"). Lost: those operations from the generated client; each must be
//! written by hand in the facade (`crate::HAND_WRITTEN`), or generation fails here.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::spec::METHODS;

/// Removes the multipart operations (and path items left empty); returns their ids.
pub fn apply(spec: &mut Value, hand_written: &[&str]) -> Result<BTreeSet<String>, String> {
    let mut removed = BTreeSet::new();
    let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) else {
        return Ok(removed);
    };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        item.retain(|method, op| {
            let multipart = METHODS.contains(&method.as_str()) && is_multipart(op);
            if multipart {
                removed.insert(op["operationId"].as_str().unwrap_or("?").to_string());
            }
            !multipart
        });
    }
    paths.retain(|_, item| {
        item.as_object()
            .is_some_and(|i| i.keys().any(|k| METHODS.contains(&k.as_str())))
    });
    match removed
        .iter()
        .find(|id| !hand_written.contains(&id.as_str()))
    {
        Some(id) => Err(format!(
            "operation {id} has a multipart body progenitor cannot generate: write it by \
             hand in the facade and list it in HAND_WRITTEN"
        )),
        None => Ok(removed),
    }
}

fn is_multipart(op: &Value) -> bool {
    op.pointer("/requestBody/content")
        .and_then(Value::as_object)
        .is_some_and(|c| c.keys().any(|k| k.starts_with("multipart/")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> Value {
        json!({"paths": {
            "/upload": {"post": {"operationId": "Upload",
                "requestBody": {"content": {"multipart/form-data": {}}}}},
            "/both": {
                "post": {"operationId": "Form", "requestBody": {"content": {"multipart/form-data": {}}}},
                "get": {"operationId": "Read"}
            }
        }})
    }

    #[test]
    fn multipart_operations_go_and_empty_path_items_with_them() {
        let mut spec = spec();
        let removed = apply(&mut spec, &["Upload", "Form"]).unwrap();
        assert_eq!(removed, BTreeSet::from(["Form".into(), "Upload".into()]));
        assert_eq!(
            spec,
            json!({"paths": {"/both": {"get": {"operationId": "Read"}}}})
        );
        // Idempotent.
        assert!(apply(&mut spec, &[]).unwrap().is_empty());
    }

    #[test]
    fn a_multipart_operation_not_written_by_hand_is_an_error() {
        let error = apply(&mut spec(), &["Upload"]).unwrap_err();
        assert!(error.contains("Form"), "{error}");
    }
}
