//! Every operation of `openapi.json` is reachable from `Client`: generated, or written by
//! hand where progenitor cannot take it; and the table the facade uses agrees with the
//! spec as the code generator reads it.

use std::collections::BTreeSet;

use fastcomments::operations::{self, Implementation, OPERATIONS, TenantIdIn};
use fastcomments_codegen::spec::{self, TenantId};

fn spec() -> serde_json::Value {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn every_operation_of_the_spec_is_in_the_table_as_the_spec_says() {
    let spec = spec();
    let ops = spec::operations(&spec).unwrap();
    assert_eq!(OPERATIONS.len(), ops.len());
    for op in &ops {
        let entry = operations::find(op.id).unwrap_or_else(|| panic!("{} missing", op.id));
        assert_eq!(
            (entry.method, entry.path),
            (op.method.as_str(), op.path),
            "{}",
            op.id
        );
        assert_eq!(
            entry.requires_api_key, op.requires_api_key,
            "{}: API key",
            op.id
        );
        let tenant = match op.tenant_id {
            TenantId::None => TenantIdIn::None,
            TenantId::Query => TenantIdIn::Query,
            TenantId::Path => TenantIdIn::Path,
        };
        assert_eq!(entry.tenant_id, tenant, "{}: tenantId", op.id);
    }
    let public = OPERATIONS.iter().filter(|op| !op.requires_api_key).count();
    assert!(public > 0 && public < OPERATIONS.len(), "both kinds exist");
}

#[test]
fn only_upload_image_is_written_by_hand() {
    let hand_written: BTreeSet<(&str, &str)> = OPERATIONS
        .iter()
        .filter_map(|op| match op.implementation {
            Implementation::HandWritten(method) => Some((op.id, method)),
            Implementation::Generated => None,
        })
        .collect();
    // Exercised against the mock server in the client and mock_server tests.
    assert_eq!(
        hand_written,
        BTreeSet::from([("UploadImage", "Client::upload_image")])
    );
}
