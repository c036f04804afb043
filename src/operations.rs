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
    /// Its group: the spec's first tag (`Public`, `Moderation`), or for an untagged
    /// operation its resource, the path's first segment after `/api/v1/` (`comments`).
    pub group: &'static str,
    /// The first line of the spec's summary (or description); may be empty.
    pub summary: &'static str,
    /// Its parameters, in the spec's order.
    pub parameters: &'static [Parameter],
    /// What request body it takes.
    pub body: Body,
}

impl Operation {
    /// The parameter called `name` (the spec's spelling, e.g. `urlId`), if it takes one.
    pub fn parameter(&self, name: &str) -> Option<&'static Parameter> {
        self.parameters.iter().find(|p| p.name == name)
    }
}

/// One parameter of an operation, as the spec declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Parameter {
    /// The spec's name, e.g. `urlId`.
    pub name: &'static str,
    /// Where it is sent.
    pub place: ParameterIn,
    /// Whether the spec requires it.
    pub required: bool,
    /// What values it takes.
    pub kind: ParameterKind,
    /// The first line of its description; may be empty.
    pub description: &'static str,
}

/// Where a parameter is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParameterIn {
    /// A `{name}` segment of the path.
    Path,
    /// The query string.
    Query,
    /// A header.
    Header,
    /// A cookie.
    Cookie,
}

/// The values a parameter takes (its schema, `$ref`s followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParameterKind {
    /// Any string.
    String,
    /// An integer.
    Integer,
    /// A number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A list of strings, sent as the parameter repeated (`?tags=a&tags=b`).
    Array,
    /// One of these strings.
    Enum(&'static [&'static str]),
}

/// The request body an operation takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// None.
    None,
    /// A JSON document.
    Json {
        /// Whether the spec requires it.
        required: bool,
    },
    /// A `multipart/form-data` upload (`UploadImage`).
    Multipart,
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
