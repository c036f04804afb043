//! Every operation of `openapi.json` is reachable from `Client`: generated, or written by
//! hand where progenitor cannot take it.

use std::collections::BTreeSet;

use fastcomments::operations::{self, Implementation, OPERATIONS, TenantIdIn};
use serde_json::Value;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// `(operationId, method, path)` of every operation in the committed spec.
fn spec_operations() -> Vec<(String, String, String)> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json")).unwrap();
    let spec: Value = serde_json::from_str(&text).unwrap();
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                let id = op["operationId"]
                    .as_str()
                    .expect("every operation has an id");
                out.push((id.to_string(), method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[test]
fn every_operation_of_the_spec_is_generated_or_hand_written() {
    let spec = spec_operations();
    let unreachable: Vec<&str> = spec
        .iter()
        .filter(|(id, method, path)| {
            operations::find(id).is_none_or(|op| op.method != method || op.path != path)
        })
        .map(|(id, ..)| id.as_str())
        .collect();
    assert!(
        unreachable.is_empty(),
        "not reachable from Client: {unreachable:?}"
    );
    assert_eq!(
        OPERATIONS.len(),
        spec.len(),
        "the table lists an operation the spec does not have"
    );

    let hand_written: BTreeSet<(&str, &str)> = OPERATIONS
        .iter()
        .filter_map(|op| match op.implementation {
            Implementation::HandWritten(method) => Some((op.id, method)),
            Implementation::Generated => None,
        })
        .collect();
    // Each is exercised against the mock server in tests/client.rs and tests/mock_server.rs.
    assert_eq!(
        hand_written,
        BTreeSet::from([("UploadImage", "Client::upload_image")])
    );
}

#[test]
fn the_hooks_find_every_operation_by_its_method_name() {
    for op in OPERATIONS {
        assert_eq!(
            operations::by_method_name(op.method_name).map(|o| o.id),
            Some(op.id)
        );
    }
    assert_eq!(operations::by_method_name("no_such_method"), None);
}

#[test]
fn security_and_tenant_placement_match_the_spec() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json")).unwrap();
    let spec: Value = serde_json::from_str(&text).unwrap();
    for op in OPERATIONS {
        let raw = &spec["paths"][op.path][op.method.to_lowercase()];
        let needs_key = raw["security"]
            .as_array()
            .is_some_and(|reqs| reqs.iter().any(|r| r.get("api_key").is_some()));
        assert_eq!(op.requires_api_key, needs_key, "{}: API key", op.id);
        let tenant = raw["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == "tenantId")
            .map_or(TenantIdIn::None, |p| {
                if p["in"] == "path" {
                    TenantIdIn::Path
                } else {
                    TenantIdIn::Query
                }
            });
        assert_eq!(op.tenant_id, tenant, "{}: tenantId", op.id);
    }
    let public = OPERATIONS.iter().filter(|op| !op.requires_api_key).count();
    assert!(public > 0 && public < OPERATIONS.len(), "both kinds exist");
}
