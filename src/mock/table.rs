//! The spec's operations as the mock checks and answers them, generated from
//! `openapi.json` by `build.rs`: each operation's parameters (where, required, kind,
//! allowed values), its body as the generated request type, and its answer as the
//! generated response type.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};

use schemars::schema::RootSchema;
use serde::de::DeserializeOwned;

use super::respond::{Answer, typed};
use super::store::lock;
use crate::types;

/// One operation of the spec.
pub(crate) struct SpecOperation {
    pub(crate) id: &'static str,
    pub(crate) params: &'static [Param],
    pub(crate) body: Option<BodyType>,
    /// Answers a JSON value as the operation's response type (HTTP 500 `mock-shape` when
    /// it does not fit).
    pub(crate) respond: fn(serde_json::Value) -> Answer,
    /// Whether a JSON value is an instance of the response type.
    pub(crate) fits: fn(&serde_json::Value) -> bool,
    response_schema: fn() -> RootSchema,
}

impl SpecOperation {
    /// The response type's schema, built once per operation.
    pub(crate) fn response_schema(&self) -> &'static RootSchema {
        static SCHEMAS: Mutex<BTreeMap<&str, &'static RootSchema>> = Mutex::new(BTreeMap::new());
        let mut schemas = lock(&SCHEMAS);
        // One schema per operation of the spec, kept for the life of the process.
        schemas
            .entry(self.id)
            .or_insert_with(|| Box::leak(Box::new((self.response_schema)())))
    }
}

fn fits<T: DeserializeOwned>(value: &serde_json::Value) -> bool {
    T::deserialize(value).is_ok()
}

/// One parameter of an operation.
pub(crate) struct Param {
    pub(crate) name: &'static str,
    pub(crate) location: In,
    pub(crate) required: bool,
    pub(crate) kind: Kind,
    /// The values the spec allows (empty: any).
    pub(crate) values: &'static [&'static str],
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum In {
    Path,
    Query,
}

/// A parameter's JSON type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    String,
    Integer,
    Number,
    Boolean,
    Array,
}

/// An operation's request body.
pub(crate) struct BodyType {
    pub(crate) required: bool,
    /// Decodes a body as the generated request type, as JSON again.
    pub(crate) check: fn(&[u8]) -> Result<serde_json::Value, String>,
    pub(crate) schema: fn() -> RootSchema,
}

/// Decodes `bytes` as `T`: the spec's required fields and types, checked by the generated
/// type itself (not its enum values: the generated enums are open, see
/// `super::enums`). Returns what `T` read, re-encoded.
fn check_body<T: DeserializeOwned + serde::Serialize>(
    bytes: &[u8],
) -> Result<serde_json::Value, String> {
    let value: T = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    serde_json::to_value(value).map_err(|e| e.to_string())
}

include!(concat!(env!("OUT_DIR"), "/mock_operations.rs"));

/// The operation with `operationId` `id`, if the spec has it and it is generated.
pub(crate) fn find(id: &str) -> Option<&'static SpecOperation> {
    static TABLE: OnceLock<HashMap<&'static str, SpecOperation>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            spec_operations()
                .into_iter()
                .map(|op| (op.id, op))
                .collect()
        })
        .get(id)
}
