//! Requests checked like the real service, from the spec alone: a required parameter
//! missing, a value outside a parameter's enum, a body the operation's request type
//! cannot read (a required field missing, a value outside an enum, a wrong type) are
//! answered `400` with FastComments' error shape before any handler runs.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Query, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::generic::path_params;
use super::respond::{Failure, operation_of};
use super::table::{self, In, Kind, SpecOperation};

/// The largest body checked; a larger one is refused (`413`) as axum would.
const MAX_BODY: usize = 2 * 1024 * 1024;

/// The middleware.
pub(crate) async fn check(request: Request, next: Next) -> Response {
    let Some(spec) = operation_of(request.method().as_str(), request.uri().path())
        .and_then(|op| Some((op, table::find(op.id)?)))
    else {
        return next.run(request).await;
    };
    let (op, spec) = spec;
    let query = Query::<HashMap<String, String>>::try_from_uri(request.uri())
        .map(|Query(q)| q)
        .unwrap_or_default();
    let path = path_params(op.path, request.uri().path());
    if let Err(failure) = parameters(spec, &path, &query) {
        return failure.into_response();
    }
    let Some(body_type) = &spec.body else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return Failure::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                format!("the body is over {MAX_BODY} bytes"),
            )
            .into_response();
        }
    };
    if bytes.is_empty() && body_type.required {
        return Failure::bad_request("missing-body", "a request body is required").into_response();
    }
    if !bytes.is_empty()
        && let Err(e) = (body_type.check)(&bytes)
    {
        return Failure::bad_request("invalid-body", format!("invalid request body: {e}"))
            .into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
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
            In::Header | In::Cookie => continue,
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
