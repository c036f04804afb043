//! Requests checked like the real service, from the spec alone: a required parameter
//! missing, a value outside a parameter's enum, a body the operation's request type
//! cannot read (a required field missing, a wrong type) or holding a value outside one of
//! the spec's enums ([`super::enums`]) are answered `400` with FastComments' error shape
//! before any handler runs. An `sso` parameter is checked here too ([`super::sso`]).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, Request, State as AxumState};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::respond::{Failure, operation_of};
use super::sso::Identity;
use super::store::State;
use super::table::{self, In, Kind, SpecOperation};
use crate::operations::Operation;

/// The largest body checked; a larger one is refused (`413`) as axum would.
const MAX_BODY: usize = 2 * 1024 * 1024;

/// A request the checks passed, as the handlers need it: read once, here.
pub(crate) struct Checked {
    pub(crate) op: &'static Operation,
    pub(crate) spec: &'static SpecOperation,
    /// Path parameters, percent-decoded, by name.
    pub(crate) params: HashMap<String, String>,
    pub(crate) query: HashMap<String, String>,
    /// The body as the operation's request type read it (`Null` without one).
    pub(crate) body: Value,
    /// Who the call acts as, from its `sso` parameter ([`super::sso`]).
    pub(crate) identity: Identity,
}

/// The middleware: checks a request of a generated operation and hands the handlers
/// what it read as an `Arc<Checked>` extension.
pub(crate) async fn check(
    AxumState(state): AxumState<Arc<State>>,
    request: Request,
    next: Next,
) -> Response {
    let Some((op, spec)) = operation_of(request.method().as_str(), request.uri().path())
        .and_then(|op| Some((op, table::find(op.id)?)))
    else {
        return next.run(request).await;
    };
    match read(&state, op, spec, request).await {
        Ok(request) => next.run(request).await,
        Err(failure) => failure.into_response(),
    }
}

/// Checks the request and attaches what was read to it.
async fn read(
    state: &State,
    op: &'static Operation,
    spec: &'static SpecOperation,
    request: Request,
) -> Result<Request, Failure> {
    let query = Query::<HashMap<String, String>>::try_from_uri(request.uri())
        .map(|Query(q)| q)
        .map_err(|e| Failure::bad_request("invalid-query", e.body_text()))?;
    let params = path_params(op.path, request.uri().path());
    parameters(spec, &params, &query)?;
    let identity = identity(state, spec, &params, &query)?;
    let (mut parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            format!("the body is over {MAX_BODY} bytes"),
        )
    })?;
    let body = match (&spec.body, bytes.is_empty()) {
        (Some(body_type), true) if body_type.required => {
            return Err(Failure::bad_request(
                "missing-body",
                "a request body is required",
            ));
        }
        (Some(body_type), false) => {
            let body = (body_type.check)(&bytes).map_err(|e| {
                Failure::bad_request("invalid-body", format!("invalid request body: {e}"))
            })?;
            // The generated enums are open: the spec's lists are checked here.
            if let Some(outside) = super::enums::outside(&(body_type.schema)(), &body) {
                return Err(Failure::bad_request(
                    "invalid-body",
                    format!("invalid request body: a value outside the spec's list at {outside}"),
                ));
            }
            body
        }
        _ => Value::Null,
    };
    parts.extensions.insert(Arc::new(Checked {
        op,
        spec,
        params,
        query,
        body,
        identity,
    }));
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// Who a call acts as: its `sso`, checked for its tenant when the operation takes one
/// (an unknown tenant is left to the operation to refuse).
fn identity(
    state: &State,
    spec: &SpecOperation,
    params: &HashMap<String, String>,
    query: &HashMap<String, String>,
) -> Result<Identity, Failure> {
    let takes_sso = spec.params.iter().any(|p| p.name == "sso");
    let tenant = params.get("tenantId").or_else(|| query.get("tenantId"));
    match (takes_sso, query.get("sso"), tenant) {
        (true, Some(sso), Some(tenant)) if state.api_secret(tenant).is_some() => {
            super::sso::verify(state, tenant, sso)
        }
        _ => Ok(Identity::Anonymous),
    }
}

/// The values of a path's parameters, percent-decoded, by name.
fn path_params(template: &str, path: &str) -> HashMap<String, String> {
    template
        .split('/')
        .zip(path.split('/'))
        .filter_map(|(t, p)| {
            let name = t.strip_prefix('{')?.strip_suffix('}')?;
            let value = percent_encoding::percent_decode_str(p).decode_utf8_lossy();
            Some((name.to_string(), value.into_owned()))
        })
        .collect()
}

/// The path and query parameters against the spec. `tenantId` is left to the tenant
/// check, which answers for it with its own code.
fn parameters(
    spec: &SpecOperation,
    path: &HashMap<String, String>,
    query: &HashMap<String, String>,
) -> Result<(), Failure> {
    for param in spec.params.iter().filter(|p| p.name != "tenantId") {
        let value = match param.location {
            In::Path => path.get(param.name),
            In::Query => query.get(param.name),
        };
        let Some(value) = value else {
            if param.required {
                return Err(Failure::bad_request(
                    "missing-parameter",
                    format!("{} is required.", param.name),
                ));
            }
            continue;
        };
        if param.kind != Kind::Array
            && !param.values.is_empty()
            && !param.values.contains(&value.as_str())
        {
            return Err(Failure::bad_request(
                "invalid-parameter",
                format!("{} must be one of {}.", param.name, param.values.join(", ")),
            ));
        }
    }
    Ok(())
}
