//! What the facade knows about every operation of `openapi.json`, generated at build
//! time: whether it needs the API key, where it takes `tenantId`, and whether progenitor
//! generated it or it is written by hand.
//!
//! ```
//! use fastcomments::operations::{self, TenantIdIn};
//! let get_comments = operations::find("GetComments").unwrap();
//! assert!(get_comments.requires_api_key);
//! assert_eq!(get_comments.tenant_id, TenantIdIn::Query);
//! assert_eq!(operations::OPERATIONS.len(), 209);
//! ```

/// One operation of the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Operation {
    /// The spec's `operationId`, e.g. `GetComments`.
    pub id: &'static str,
    /// The method name on [`Client`](crate::Client), e.g. `get_comments`.
    pub method_name: &'static str,
    /// The HTTP method, upper case.
    pub method: &'static str,
    /// The path template, e.g. `/api/v1/comments/{id}`.
    pub path: &'static str,
    /// Whether the spec's security requires the API key (it is sent on no other).
    pub requires_api_key: bool,
    /// Where the operation takes `tenantId`.
    pub tenant_id: TenantIdIn,
    /// How the operation is reached.
    pub implementation: Implementation,
}

/// Where an operation takes `tenantId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantIdIn {
    /// It does not take one.
    None,
    /// As the `tenantId` query parameter.
    Query,
    /// As the `{tenantId}` path segment.
    Path,
}

/// How an operation is reached from [`Client`](crate::Client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Implementation {
    /// A generated builder method of the same name.
    Generated,
    /// Removed from the spec before generation (progenitor cannot take it) and written
    /// by hand; the string names the method.
    HandWritten(&'static str),
}

include!(concat!(env!("OUT_DIR"), "/operations.rs"));

/// Looks up an operation by its `operationId`.
pub fn find(id: &str) -> Option<&'static Operation> {
    OPERATIONS
        .binary_search_by(|op| op.id.cmp(id))
        .ok()
        .map(|i| &OPERATIONS[i])
}
