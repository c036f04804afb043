//! How the mock answers: typed successes and FastComments-shaped failures.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::types;

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
        let body = types::ApiError {
            banned_until: None,
            code: self.code.to_string(),
            custom_config: None,
            max_character_length: None,
            reason: self.reason,
            secondary_code: None,
            status: types::ApiStatus::Failed,
            translated_error: None,
        };
        (self.http_status, Json(body)).into_response()
    }
}

/// The result type of every mock handler.
pub(crate) type Answer = Result<Response, Failure>;

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

/// Decodes a request body as the generated type `T`, failing like the API does.
pub(crate) fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Failure> {
    serde_json::from_slice(bytes)
        .map_err(|e| Failure::bad_request("invalid-body", format!("invalid request body: {e}")))
}

pub(crate) async fn no_route() -> Failure {
    Failure::not_found("route")
}

/// Parses an optional integer query parameter, failing with `code` when it is not one.
pub(crate) fn int_param(
    query: &std::collections::HashMap<String, String>,
    name: &str,
    code: &'static str,
) -> Result<Option<i64>, Failure> {
    query
        .get(name)
        .map(|v| {
            v.parse::<f64>()
                .ok()
                .filter(|f| f.fract() == 0.0)
                .map(|f| f as i64)
                .ok_or_else(|| Failure::bad_request(code, format!("{name} must be an integer")))
        })
        .transpose()
}

/// Applies `skip` and a page size to a list, the API's offset paging.
pub(crate) fn skip_take<T: Clone>(items: &[T], skip: i64, take: usize) -> Vec<T> {
    let start = usize::try_from(skip).unwrap_or(0).min(items.len());
    items[start..].iter().take(take).cloned().collect()
}
