//! How the mock answers: typed successes and FastComments-shaped failures, for every
//! request, including the ones no handler takes.

use axum::Json;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A failure, answered as `{status: "failed", code, reason}` (the spec's `APIError`).
#[derive(Debug)]
pub(crate) struct Failure {
    http_status: StatusCode,
    code: &'static str,
    reason: String,
}

impl Failure {
    pub(crate) fn new(
        http_status: StatusCode,
        code: &'static str,
        reason: impl Into<String>,
    ) -> Self {
        Failure {
            http_status,
            code,
            reason: reason.into(),
        }
    }

    /// A request the API rejects (`400`).
    pub(crate) fn bad_request(code: &'static str, reason: impl Into<String>) -> Self {
        Failure::new(StatusCode::BAD_REQUEST, code, reason)
    }

    /// FastComments answers a missing object with HTTP 200 and `status: "failed"`
    /// on the endpoints whose success schema carries `code`/`reason`.
    pub(crate) fn not_found_ok(what: &str) -> Self {
        Failure::new(StatusCode::OK, "not-found", format!("{what} not found"))
    }

    /// A missing object on the endpoints whose success schema has no `code`: HTTP 404.
    pub(crate) fn not_found(what: &str) -> Self {
        Failure::new(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("{what} not found"),
        )
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        // The spec's `APIError`, written out so that a spec adding an optional field to it
        // does not stop the mock from building.
        let body = serde_json::json!({
            "status": "failed",
            "code": self.code,
            "reason": self.reason,
        });
        (self.http_status, Json(body)).into_response()
    }
}

/// The result type of every mock handler.
pub(crate) type Answer = Result<Response, Failure>;

/// Answers `value` as the response type of the spec's operation `operation_id`, whatever
/// the spec names that type: a dedicated handler names its operation, not a generated
/// type, so the mock builds on any spec that has the operation (see
/// `fastcomments_codegen::needs`). A value that does not fit is HTTP 500 `mock-shape`.
pub(crate) fn answer(operation_id: &str, value: Value) -> Answer {
    match super::table::find(operation_id) {
        Some(op) => (op.respond)(value),
        None => Err(Failure::new(
            StatusCode::NOT_IMPLEMENTED,
            "mock-unimplemented",
            format!("{operation_id} is not an operation of this spec"),
        )),
    }
}

/// Answers `value` as the generated type `T`: a value that does not fit `T` is a bug in
/// the mock, answered as HTTP 500 `mock-shape` so that it cannot pass unnoticed.
pub(crate) fn typed<T: DeserializeOwned + Serialize>(value: Value) -> Answer {
    match serde_json::from_value::<T>(value) {
        Ok(typed) => Ok(Json(typed).into_response()),
        Err(error) => Err(Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "mock-shape",
            format!(
                "the mock built a {} the spec does not allow: {error}",
                std::any::type_name::<T>()
            ),
        )),
    }
}

/// A path of no operation: `405 method-not-allowed` when the spec has the path with
/// another method, `404 not-found` otherwise.
pub(crate) fn no_route(method: &Method, path: &str) -> Failure {
    let other_method = crate::operations::OPERATIONS
        .iter()
        .any(|op| path_matches(op.path, path));
    if other_method {
        return Failure::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            format!("{method} is not allowed on {path}"),
        );
    }
    Failure::new(
        StatusCode::NOT_FOUND,
        "not-found",
        format!("no route {path}"),
    )
}

/// The operation of the spec a request is for: the one whose method and path template
/// fit, preferring the template with the most literal segments
/// (`/api/v1/comments/count` before `/api/v1/comments/{id}`).
pub(crate) fn operation_of(
    method: &str,
    path: &str,
) -> Option<&'static crate::operations::Operation> {
    let literal = |template: &str| template.split('/').filter(|s| !s.starts_with('{')).count();
    crate::operations::OPERATIONS
        .iter()
        .filter(|op| method.eq_ignore_ascii_case(op.method) && path_matches(op.path, path))
        .max_by_key(|op| literal(op.path))
}

/// Whether `path` fits the spec's path `template` (`/api/v1/comments/{id}`).
fn path_matches(template: &str, path: &str) -> bool {
    let (mut template, mut path) = (template.split('/'), path.split('/'));
    loop {
        match (template.next(), path.next()) {
            (None, None) => return true,
            (Some(t), Some(p)) if t.starts_with('{') && !p.is_empty() || t == p => {}
            _ => return false,
        }
    }
}

/// Gives every failure the handlers did not shape themselves (axum's own answers to an
/// unknown method, an oversized or unreadable body) FastComments' error shape, keeping
/// its status.
pub(crate) async fn shape(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let code = match status {
        StatusCode::NOT_FOUND => "not-found",
        StatusCode::METHOD_NOT_ALLOWED => "method-not-allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "body-too-large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported-media-type",
        s if s.is_client_error() => "invalid-request",
        _ => "mock-error",
    };
    Failure::new(status, code, text).into_response()
}

/// Decodes a request body as the generated type `T`, failing like the API does.
pub(crate) fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Failure> {
    serde_json::from_slice(bytes)
        .map_err(|e| Failure::bad_request("invalid-body", format!("invalid request body: {e}")))
}

/// Parses an optional integer query parameter, failing with `code` when it is not one
/// or is beyond ±2^53 (`1e18` is an integer; `1e300` and `1.5` are not).
pub(crate) fn int_param(
    query: &std::collections::HashMap<String, String>,
    name: &str,
    code: &'static str,
) -> Result<Option<i64>, Failure> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    query
        .get(name)
        .map(|v| {
            v.parse::<i64>()
                .ok()
                .or_else(|| {
                    let f = v.parse::<f64>().ok()?;
                    // Checked above: finite, whole and in range, so the cast is exact.
                    (f.fract() == 0.0 && f.abs() <= EXACT).then_some(f as i64)
                })
                .ok_or_else(|| Failure::bad_request(code, format!("{name} must be an integer")))
        })
        .transpose()
}

/// A non-negative integer query parameter (an offset, a page number), as an index.
pub(crate) fn index_param(
    query: &std::collections::HashMap<String, String>,
    name: &str,
    code: &'static str,
) -> Result<Option<usize>, Failure> {
    int_param(query, name, code)?
        .map(|n| {
            usize::try_from(n)
                .map_err(|_| Failure::bad_request(code, format!("{name} must not be negative")))
        })
        .transpose()
}

/// Items `start..start + take` of a list (fewer past its end): the API's offset paging.
pub(crate) fn skip_take<T: Clone>(items: &[T], start: usize, take: usize) -> Vec<T> {
    items.iter().skip(start).take(take).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_matched_to_its_operation_literal_segments_first() {
        let id = |m: &str, p: &str| operation_of(m, p).map(|op| op.id);
        assert_eq!(id("GET", "/api/v1/comments"), Some("GetComments"));
        assert_eq!(id("get", "/api/v1/comments/abc"), Some("GetComment"));
        assert_eq!(
            id("GET", "/api/v1/pending-webhook-events/count"),
            Some("GetPendingWebhookEventCount")
        );
        assert_eq!(
            id("DELETE", "/api/v1/pending-webhook-events/x"),
            Some("DeletePendingWebhookEvent")
        );
        assert_eq!(id("GET", "/integrations/v1/events"), None);
    }

    #[test]
    fn spec_paths_match_their_templates_only() {
        assert!(path_matches(
            "/api/v1/comments/{id}",
            "/api/v1/comments/abc"
        ));
        assert!(!path_matches("/api/v1/comments/{id}", "/api/v1/comments/"));
        assert!(!path_matches(
            "/api/v1/comments/{id}",
            "/api/v1/comments/a/b"
        ));
        assert!(path_matches("/api/v1/comments", "/api/v1/comments"));
        assert!(!path_matches("/api/v1/comments", "/api/v1/comment"));
    }
}
