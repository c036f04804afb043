//! Fault injection: scripted failures per route, for testing retries and error handling.
//!
//! A test scripts faults with [`MockServer::inject`](super::MockServer::inject); a mock
//! running standalone takes the same rules as JSON at `POST /__mock/faults` (and forgets
//! them at `DELETE /__mock/faults`), and a latency for every request at
//! `POST /__mock/latency` (`{"millis": 20}`):
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

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State as AxumState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::respond::{Failure, body};
use super::store::{State, lock};

/// The longest latency `POST /__mock/latency` accepts.
pub const MAX_LATENCY: Duration = Duration::from_secs(3600);

/// What a faulty answer looks like.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Fault {
    /// Answer this status with a FastComments error body (code `mock-fault`).
    Status {
        /// The HTTP status.
        status: u16,
    },
    /// Answer this status (429 or 503, usually) with a `Retry-After` header, in seconds
    /// or as an HTTP date.
    RetryAfter {
        /// The HTTP status.
        status: u16,
        /// The header's value.
        retry_after: String,
    },
    /// Answer this status with an HTML page, as a proxy or load balancer would.
    Html {
        /// The HTTP status.
        status: u16,
    },
    /// Close the connection without handling the request: nothing happens on the server.
    ResetBeforeHandling,
    /// Handle the request (its change is made), then close the connection unanswered.
    ResetAfterHandling,
    /// Handle the request, send the headers and half the body, then close the connection.
    CutBody,
    /// Wait this long, then handle the request normally (past a client's timeout, the
    /// client has given up by then).
    Stall {
        /// How long, in milliseconds.
        millis: u64,
    },
    /// Handle the request and send the first half of its JSON body, well framed: the
    /// client reads a complete response that does not parse.
    Truncated,
    /// Answer 200 with a body that is not JSON.
    Malformed,
}

/// When a [`Fault`] applies: which requests, how many times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    /// The fault.
    pub fault: Fault,
    /// The path it applies to: exact, or a prefix when it ends with `*`; any when absent.
    #[serde(default)]
    pub path: Option<String>,
    /// The HTTP method it applies to; any when absent.
    #[serde(default)]
    pub method: Option<String>,
    /// Text the raw query string must contain (e.g. `skip=20`, to fail one page); any
    /// query when absent.
    #[serde(default)]
    pub query: Option<String>,
    /// How many matching requests it applies to; every one when absent. With
    /// [`every`](FaultRule::every), how many faults it injects.
    #[serde(default = "one")]
    pub times: Option<u32>,
    /// Fires only on every n-th matching request (the n-th, 2n-th, ...); the others go on
    /// to the next rule, or are handled normally. Every matching request when absent. At
    /// least 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<u32>,
}

fn one() -> Option<u32> {
    Some(1)
}

impl FaultRule {
    /// A rule applying `fault` to the next request, whatever it is.
    ///
    /// ```
    /// use fastcomments::mock::{Fault, FaultRule};
    /// let rule = FaultRule::new(Fault::Status { status: 503 })
    ///     .method("GET")
    ///     .path("/api/v1/comments")
    ///     .times(3);
    /// assert_eq!(rule.times, Some(3));
    /// ```
    pub fn new(fault: Fault) -> FaultRule {
        FaultRule {
            fault,
            path: None,
            method: None,
            query: None,
            times: Some(1),
            every: None,
        }
    }

    /// Only requests to this path (a prefix when it ends with `*`).
    pub fn path(mut self, path: impl Into<String>) -> FaultRule {
        self.path = Some(path.into());
        self
    }

    /// Only requests with this method.
    pub fn method(mut self, method: impl Into<String>) -> FaultRule {
        self.method = Some(method.into().to_ascii_uppercase());
        self
    }

    /// Only requests whose raw query string contains `text`.
    pub fn query(mut self, text: impl Into<String>) -> FaultRule {
        self.query = Some(text.into());
        self
    }

    /// The next `n` matching requests (`0`: none; the rule is dropped).
    pub fn times(mut self, n: u32) -> FaultRule {
        self.times = Some(n);
        self
    }

    /// Every matching request, until the faults are cleared.
    pub fn always(mut self) -> FaultRule {
        self.times = None;
        self
    }

    /// Only every `n`-th matching request (the `n`-th, `2n`-th, ...), until the faults
    /// are cleared: a service failing one request in `n`. Call [`times`](FaultRule::times)
    /// after it to stop after so many faults.
    ///
    /// ```
    /// use fastcomments::mock::{Fault, FaultRule};
    /// // Requests 3, 6, 9, ... to the integration endpoints get a 503.
    /// let rule = FaultRule::new(Fault::Status { status: 503 })
    ///     .path("/integrations/v1/*")
    ///     .every(3);
    /// assert_eq!((rule.every, rule.times), (Some(3), None));
    /// ```
    ///
    /// # Panics
    ///
    /// When `n` is 0: no request is the 0th (`POST /__mock/faults` answers HTTP 400
    /// `invalid-fault` to `"every": 0`).
    pub fn every(mut self, n: u32) -> FaultRule {
        assert!(n > 0, "{}", EVERY_ZERO);
        self.every = Some(n);
        self.times = None;
        self
    }

    fn matches(&self, method: &str, path: &str, query: &str) -> bool {
        let path_matches = self
            .path
            .as_deref()
            .is_none_or(|p| match p.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => path == p,
            });
        path_matches
            && self.method.as_deref().is_none_or(|m| m == method)
            && self.query.as_deref().is_none_or(|q| query.contains(q))
    }

    /// What is wrong with a rule sent over HTTP, if anything.
    fn invalid(&self) -> Option<String> {
        let status = match &self.fault {
            Fault::Status { status }
            | Fault::RetryAfter { status, .. }
            | Fault::Html { status } => Some(*status),
            _ => None,
        };
        if let Some(status) = status.filter(|s| !(200..=599).contains(s)) {
            return Some(format!("status {status} is not between 200 and 599"));
        }
        if self.every == Some(0) {
            return Some(EVERY_ZERO.to_string());
        }
        (self.times == Some(0)).then(|| "times must be at least 1".to_string())
    }
}

/// Why a rule with `every: 0` is refused.
const EVERY_ZERO: &str = "every must be at least 1: a rule fires on every n-th matching request";

/// A rule in force, with the matching requests it has seen (for
/// [`every`](FaultRule::every)).
#[derive(Debug)]
struct Active {
    rule: FaultRule,
    seen: u64,
}

/// The scripted faults, first match wins, and the latency (milliseconds) added to every
/// request.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    rules: Mutex<Vec<Active>>,
    latency_ms: AtomicU64,
}

impl Faults {
    /// Every request waits this long before it is handled.
    pub(crate) fn set_latency(&self, latency: Duration) {
        let millis = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        self.latency_ms.store(millis, Ordering::Relaxed);
    }

    fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms.load(Ordering::Relaxed))
    }

    /// Adds a rule; one that applies to no request (`times: 0`) is dropped.
    ///
    /// # Panics
    ///
    /// On `every: 0` (the HTTP route refuses it before; [`FaultRule::every`] too).
    pub(crate) fn add(&self, rule: FaultRule) {
        assert!(rule.every != Some(0), "{}", EVERY_ZERO);
        if rule.times != Some(0) {
            lock(&self.rules).push(Active { rule, seen: 0 });
        }
    }

    pub(crate) fn clear(&self) {
        lock(&self.rules).clear();
    }

    /// The fault for this request: the first rule that matches it and whose turn it is
    /// (see [`FaultRule::every`]); uses up one of its times. Every matching rule counts
    /// the request, up to the one that fires.
    fn take(&self, method: &str, path: &str, query: &str) -> Option<Fault> {
        let mut rules = lock(&self.rules);
        let index = rules.iter_mut().position(|active| {
            if !active.rule.matches(method, path, query) {
                return false;
            }
            active.seen += 1;
            active
                .rule
                .every
                .is_none_or(|n| active.seen % u64::from(n) == 0)
        })?;
        let rule = &mut rules[index].rule;
        let fault = rule.fault.clone();
        match &mut rule.times {
            Some(n) if *n > 1 => *n -= 1,
            Some(_) => {
                rules.remove(index);
            }
            None => {}
        }
        Some(fault)
    }
}

/// Lets a handler close the connection it was called on.
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
    let fault = if path.starts_with(CONTROL_PREFIX) {
        None
    } else {
        let query = request.uri().query().unwrap_or("");
        state.faults.take(request.method().as_str(), path, query)
    };
    if !path.starts_with(CONTROL_PREFIX) {
        let latency = state.faults.latency();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
    }
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
}

/// `{"millis": 20}`: the latency of every request from now on.
#[derive(Deserialize)]
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

#[cfg(test)]
mod tests {
    use super::*;

    fn status(faults: &Faults, path: &str) -> Option<u16> {
        match faults.take("GET", path, "") {
            Some(Fault::Status { status }) => Some(status),
            None => None,
            Some(other) => panic!("unexpected fault {other:?}"),
        }
    }

    /// `every(3)` fails requests 3, 6, 9 of those it matches, forever; the requests in
    /// between, and the ones it does not match, pass through.
    #[test]
    fn every_fires_on_each_nth_matching_request() {
        let faults = Faults::default();
        faults.add(
            FaultRule::new(Fault::Status { status: 503 })
                .path("/a")
                .every(3),
        );
        let fired: Vec<bool> = (1..=9)
            .map(|_| {
                assert_eq!(status(&faults, "/b"), None, "another path is never counted");
                status(&faults, "/a").is_some()
            })
            .collect();
        assert_eq!(
            fired,
            [false, false, true, false, false, true, false, false, true]
        );
    }

    /// `times` after `every` caps the faults; a request that is not the rule's turn goes
    /// on to the next rule.
    #[test]
    fn every_with_times_stops_and_passes_the_others_on() {
        let faults = Faults::default();
        faults.add(
            FaultRule::new(Fault::Status { status: 503 })
                .every(2)
                .times(2),
        );
        faults.add(FaultRule::new(Fault::Status { status: 500 }).always());
        let seen: Vec<Option<u16>> = (0..6).map(|_| status(&faults, "/x")).collect();
        assert_eq!(
            seen,
            [
                Some(500),
                Some(503),
                Some(500),
                Some(503),
                Some(500),
                Some(500)
            ]
        );
    }

    #[test]
    #[should_panic(expected = "every must be at least 1")]
    fn every_zero_is_refused_by_the_builder() {
        let _ = FaultRule::new(Fault::Status { status: 503 }).every(0);
    }

    #[test]
    fn every_zero_is_refused_over_http_and_every_is_read_from_json() {
        let rule: FaultRule = serde_json::from_value(serde_json::json!({
            "fault": {"kind": "status", "status": 503}, "every": 0
        }))
        .unwrap();
        assert_eq!(rule.invalid().as_deref(), Some(EVERY_ZERO));
        let rule: FaultRule = serde_json::from_value(serde_json::json!({
            "fault": {"kind": "status", "status": 503}, "every": 2, "times": null
        }))
        .unwrap();
        assert_eq!(
            (rule.every, rule.times, rule.invalid()),
            (Some(2), None, None)
        );
    }
}
