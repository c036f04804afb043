//! `operations.json`: every operation and how it is reached, for `cargo xtask spec --check`.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::spec::Operation;

/// The manifest, pretty-printed.
pub fn manifest(ops: &[Operation<'_>], removed: &BTreeSet<String>) -> String {
    let entries: Vec<Value> = ops
        .iter()
        .map(|op| {
            let how = if removed.contains(op.id) {
                "hand-written"
            } else {
                "generated"
            };
            json!({ "operationId": op.id, "implementation": how })
        })
        .collect();
    Value::Array(entries).to_string()
}
