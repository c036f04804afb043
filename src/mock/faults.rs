//! Fault injection: scripted failures per route, for testing retries and error handling.
//!
//! A test scripts faults with [`MockServer::inject`](super::MockServer::inject); a mock
//! running standalone takes the same rules as JSON at `POST /__mock/faults` (and forgets
//! them at `DELETE /__mock/faults`), a latency for every request at
//! `POST /__mock/latency` (`{"millis": 20}`), and a rate limit per tenant at
//! `POST /__mock/rate-limit` (`{"perSecond": 50}`: 429 with `Retry-After` beyond):
//!
//! ```text
//! curl -X POST localhost:8080/__mock/faults -H 'content-type: application/json' \
//!   -d '{"fault": {"kind": "status", "status": 503}, "path": "/api/v1/comments", "times": 2}'
//! ```
//!
//! A rule can fire on every n-th matching request only (`"every": 3`: the 3rd, 6th,
//! 9th, ...), as a service that fails one request in three does.
//!
//! Rules sent over HTTP are checked first: a status outside 200–599, `times: 0`,
//! `every: 0` or a latency over [`MAX_LATENCY`] is refused with a FastComments error
//! body (HTTP 400).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State as AxumState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::Notify;

use super::respond::{Failure, body};
use super::store::State;
use super::store::faults::{Fault, FaultRule, MAX_LATENCY};

#[derive(Clone, Debug, Default)]
pub(crate) struct Hangup(pub(crate) Arc<Notify>);

impl Hangup {
    /// Closes the connection; the caller never answers.
    async fn now(&self) -> Response {
        self.0.notify_one();
        std::future::pending().await
    }
}

/// The middleware that applies scripted faults.
pub(crate) async fn inject(
    AxumState(state): AxumState<Arc<State>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if !path.starts_with(CONTROL_PREFIX) {
        let latency = state.faults.latency();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let tenant = tenant_of(request.uri().query());
        if let Err(wait) = state.rate_limit.admit(&tenant, tokio::time::Instant::now()) {
            // Refused before it is handled: a fault rule for it is not used up.
            return rate_limited(wait);
        }
    }
    let fault = if path.starts_with(CONTROL_PREFIX) {
        None
    } else {
        let query = request.uri().query().unwrap_or("");
        state.faults.take(request.method().as_str(), path, query)
    };
    let Some(fault) = fault else {
        return next.run(request).await;
    };
    tracing::debug!(
        ?fault,
        path = request.uri().path(),
        "mock: injecting a fault"
    );
    let hangup = request
        .extensions()
        .get::<Hangup>()
        .cloned()
        .unwrap_or_default();
    match fault {
        Fault::Status { status } => fault_failure(status).into_response(),
        Fault::RetryAfter { status, retry_after } => {
            let mut response = fault_failure(status).into_response();
            if let Ok(value) = HeaderValue::from_str(&retry_after) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        Fault::Html { status } => (
            status_code(status),
            [(header::CONTENT_TYPE, "text/html")],
            format!("<html><head><title>{status}</title></head><body><h1>{status}</h1>The server is having a moment.</body></html>"),
        )
            .into_response(),
        Fault::ResetBeforeHandling => hangup.now().await,
        Fault::ResetAfterHandling => {
            let _ = next.run(request).await;
            hangup.now().await
        }
        Fault::CutBody => cut_body(next.run(request).await, hangup).await,
        Fault::Stall { millis } => {
            tokio::time::sleep(Duration::from_millis(millis)).await;
            next.run(request).await
        }
        Fault::Truncated => truncated(next.run(request).await).await,
        Fault::Malformed => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"status\": \"success\", \"comments\": [{\"id\": ",
        )
            .into_response(),
    }
}

/// The tenant a request is counted against by the rate limit: its `tenantId` query
/// parameter (every API-key operation takes it there); requests without one share a
/// bucket.
fn tenant_of(query: Option<&str>) -> String {
    query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("tenantId="))
        .map(|value| {
            percent_encoding::percent_decode_str(value)
                .decode_utf8_lossy()
                .into_owned()
        })
        .unwrap_or_default()
}

/// 429 with `Retry-After` in whole seconds, FastComments' error body.
fn rate_limited(wait: Duration) -> Response {
    let mut response = Failure::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        "too many requests for this tenant: try again after Retry-After".to_owned(),
    )
    .into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(wait.as_secs().max(1)),
    );
    response
}

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status)
        .ok()
        .filter(|s| !s.is_informational())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn fault_failure(status: u16) -> Failure {
    Failure::new(
        status_code(status),
        "mock-fault",
        format!("injected fault: HTTP {status}"),
    )
}

/// Sends the head and half the body of `response`, then hangs up.
async fn cut_body(response: Response, hangup: Hangup) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return hangup.now().await;
    };
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let half = bytes.slice(..bytes.len() / 2);
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(half) }).chain(
        futures_util::stream::once(async move {
            let _ = hangup.now().await;
            Err(std::io::Error::other("cut"))
        }),
    );
    Response::from_parts(parts, Body::from_stream(stream))
}

/// Cuts the body of `response` in half, keeping the framing correct.
async fn truncated(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let half = bytes.slice(..bytes.len() / 2);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(half.len()));
    Response::from_parts(parts, Body::from(half))
}

/// Where the mock's own control routes live; faults and the request log leave them alone.
pub(crate) const CONTROL_PREFIX: &str = "/__mock/";

/// `POST /__mock/faults` adds a rule, `DELETE /__mock/faults` clears them: faults for a
/// mock running in another process.
pub(crate) fn control_routes() -> Router<Arc<State>> {
    Router::new()
        .route("/__mock/faults", post(add_rule).delete(clear_rules))
        .route("/__mock/latency", post(set_latency))
        .route("/__mock/rate-limit", post(set_rate_limit))
}

/// `{"perSecond": 50}`: at most 50 requests a second per tenant from now on;
/// `{"perSecond": null}` (or 0): no limit. Any other key is refused (a misspelt one
/// would otherwise read as "no limit").
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RateLimitBody {
    per_second: Option<u32>,
}

async fn set_rate_limit(
    AxumState(state): AxumState<Arc<State>>,
    bytes: Bytes,
) -> Result<StatusCode, Failure> {
    let limit: RateLimitBody = body(&bytes)?;
    state.rate_limit.set(limit.per_second);
    Ok(StatusCode::NO_CONTENT)
}

/// `{"millis": 20}`: the latency of every request from now on; any other key is refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Latency {
    millis: u64,
}

async fn set_latency(
    AxumState(state): AxumState<Arc<State>>,
    bytes: Bytes,
) -> Result<StatusCode, Failure> {
    let latency: Latency = body(&bytes)?;
    let latency = Duration::from_millis(latency.millis);
    if latency > MAX_LATENCY {
        return Err(Failure::bad_request(
            "invalid-latency",
            format!("the latency may be at most {} ms", MAX_LATENCY.as_millis()),
        ));
    }
    state.faults.set_latency(latency);
    Ok(StatusCode::NO_CONTENT)
}

async fn add_rule(
    AxumState(state): AxumState<Arc<State>>,
    bytes: Bytes,
) -> Result<StatusCode, Failure> {
    let rule: FaultRule = body(&bytes)?;
    if let Some(problem) = rule.invalid() {
        return Err(Failure::bad_request("invalid-fault", problem));
    }
    state.faults.add(rule);
    Ok(StatusCode::NO_CONTENT)
}

async fn clear_rules(AxumState(state): AxumState<Arc<State>>) -> StatusCode {
    state.faults.clear();
    StatusCode::NO_CONTENT
}
