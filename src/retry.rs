//! Retries with a linear backoff of one `base` per attempt.
//!
//! FastComments retries its own webhook deliveries after one minute × the number of
//! attempts so far, so that a struggling API is not flooded; this client treats the
//! service the same way. After the n-th failed attempt it waits `n × base` (60 s by
//! default: 1 min, 2 min, 3 min, ...) before the next, up to `max_attempts` attempts in all.
//!
//! What is retried, and why:
//! - connect failures (refused, DNS, TLS): the request never left, any method is safe;
//! - timeouts, broken connections and HTTP 408, 429, 500, 502, 503, 504: "not now"
//!   answers, retried for idempotent methods (GET, PUT, DELETE, PATCH) and for the
//!   operations declared safe to repeat ([`RetryPolicy::safe_operation`]). A POST that may
//!   have reached the server is not sent twice: it could create a comment twice;
//! - `Retry-After` (seconds or an HTTP date) on 429 and 503 sets the wait when it is
//!   longer than the schedule's, never beyond `max_wait`.
//!
//! Not retried: other 4xx, FastComments errors (`status: "failed"`) unless their code is
//! declared transient ([`RetryPolicy::transient_code`]), decode errors, invalid requests.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::error::is_retryable_status;

/// `POST` operations that only read, and so are safe to send again: FastComments
/// exposes some queries as POST because their parameters do not fit a URL.
pub const SAFE_POST_OPERATIONS: &[&str] = &[
    "Aggregate",
    "BulkAggregateQuestionResults",
    "RenderEmailTemplate",
    "postBulkPreBanSummary",
    "postCommentsByIds",
];

/// How a [`Client`](crate::Client) retries failed requests.
///
/// ```
/// use std::time::Duration;
/// use fastcomments::RetryPolicy;
///
/// let policy = RetryPolicy::default()          // 1 min, 2 min, 3 min, 4 min: 5 attempts
///     .base(Duration::from_secs(10))          // 10 s, 20 s, 30 s, ...
///     .max_attempts(8)
///     .max_wait(Duration::from_secs(60))      // no single wait longer than a minute
///     .deadline(Duration::from_secs(300))     // and give up after five minutes in all
///     .safe_operation("SaveCommentsBulk")     // you know your bulk saves are idempotent
///     .on_retry(|event| eprintln!("retrying {} in {:?}: {}", event.operation, event.wait, event.cause));
/// assert_eq!(policy.wait_after(3, None), Duration::from_secs(30));
/// ```
#[derive(Clone)]
pub struct RetryPolicy {
    base: Duration,
    max_attempts: u32,
    max_wait: Duration,
    deadline: Option<Duration>,
    jitter: bool,
    safe_operations: BTreeSet<String>,
    transient_codes: BTreeSet<String>,
    on_retry: Option<RetryCallback>,
}

/// What [`RetryPolicy::on_retry`] keeps.
type RetryCallback = Arc<dyn Fn(&RetryEvent) + Send + Sync>;

/// One retry about to happen, as given to [`RetryPolicy::on_retry`] and logged.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RetryEvent {
    /// The operation id, e.g. `GetComments`.
    pub operation: &'static str,
    /// The attempt that just failed, from 1.
    pub attempt: u32,
    /// How long the client waits before the next attempt.
    pub wait: Duration,
    /// What went wrong, e.g. `HTTP 503` or `timeout`.
    pub cause: String,
}

impl Default for RetryPolicy {
    /// One minute per attempt, 5 attempts, no single wait over 10 minutes, no deadline,
    /// no jitter, and the read-only POSTs of [`SAFE_POST_OPERATIONS`] safe to repeat.
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(60),
            max_attempts: 5,
            max_wait: Duration::from_secs(600),
            deadline: None,
            jitter: false,
            safe_operations: SAFE_POST_OPERATIONS.iter().map(|s| s.to_string()).collect(),
            transient_codes: BTreeSet::new(),
            on_retry: None,
        }
    }
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("base", &self.base)
            .field("max_attempts", &self.max_attempts)
            .field("max_wait", &self.max_wait)
            .field("deadline", &self.deadline)
            .field("jitter", &self.jitter)
            .field("safe_operations", &self.safe_operations)
            .field("transient_codes", &self.transient_codes)
            .field("on_retry", &self.on_retry.as_ref().map(|_| "Fn"))
            .finish()
    }
}

impl RetryPolicy {
    /// No retries: every call is sent once.
    pub fn none() -> Self {
        RetryPolicy::default().max_attempts(1)
    }

    /// The unit of the schedule: after the n-th failure the client waits `n × base`.
    #[must_use]
    pub fn base(mut self, base: Duration) -> Self {
        self.base = base;
        self
    }

    /// How many times a request is sent at most, the first included (at least 1).
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The longest single wait, whatever the schedule or `Retry-After` say.
    #[must_use]
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }

    /// Gives up rather than wait past this much time since the first attempt.
    #[must_use]
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Spreads each wait at random over its second half (`wait/2 ..= wait`), so that many
    /// clients failing together do not retry together. Off by default.
    #[must_use]
    pub fn jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// Declares a POST operation (by `operationId`) safe to send again after a failure
    /// that may have reached the server.
    #[must_use]
    pub fn safe_operation(mut self, operation_id: impl Into<String>) -> Self {
        self.safe_operations.insert(operation_id.into());
        self
    }

    /// Declares a FastComments error code transient: a `status: "failed"` answer with it
    /// is retried like a 503.
    #[must_use]
    pub fn transient_code(mut self, code: impl Into<String>) -> Self {
        self.transient_codes.insert(code.into());
        self
    }

    /// Calls `f` before every retry, e.g. to count them.
    #[must_use]
    pub fn on_retry(mut self, f: impl Fn(&RetryEvent) + Send + Sync + 'static) -> Self {
        self.on_retry = Some(Arc::new(f));
        self
    }

    /// The most attempts a request gets.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The wait after the `failures`-th failed attempt: `failures × base`, or the server's
    /// `Retry-After` when longer, capped at `max_wait`; without jitter.
    pub fn wait_after(&self, failures: u32, retry_after: Option<Duration>) -> Duration {
        let scheduled = self.base.saturating_mul(failures);
        scheduled
            .max(retry_after.unwrap_or_default())
            .min(self.max_wait)
    }

    /// Whether a failed attempt of an operation may be sent again.
    pub(crate) fn should_retry(&self, request: &RequestKind<'_>, failure: &Attempt<'_>) -> bool {
        let repeatable = request.idempotent() || self.safe_operations.contains(request.operation);
        match failure {
            Attempt::Transport { sent: false } => true,
            Attempt::Transport { sent: true } => repeatable,
            Attempt::Response { status, code, .. } => {
                let transient = is_retryable_status(*status)
                    || code.is_some_and(|c| self.transient_codes.contains(c));
                transient && repeatable
            }
        }
    }

    /// The wait before the next attempt, with jitter applied when asked for.
    pub(crate) fn next_wait(&self, failures: u32, retry_after: Option<Duration>) -> Duration {
        let wait = self.wait_after(failures, retry_after);
        if self.jitter {
            let half = wait / 2;
            half + half.mul_f64(fastrand::f64())
        } else {
            wait
        }
    }

    /// Whether waiting `wait` more, `elapsed` after the first attempt, stays within the
    /// deadline.
    pub(crate) fn within_deadline(&self, elapsed: Duration, wait: Duration) -> bool {
        self.deadline.is_none_or(|d| elapsed + wait <= d)
    }

    pub(crate) fn notify(&self, event: &RetryEvent) {
        tracing::warn!(
            operation = event.operation,
            attempt = event.attempt,
            wait_ms = event.wait.as_millis() as u64,
            cause = %event.cause,
            "retrying"
        );
        if let Some(f) = &self.on_retry {
            f(event);
        }
    }
}

/// What the retry decision needs to know of the request.
pub(crate) struct RequestKind<'a> {
    pub(crate) operation: &'a str,
    pub(crate) method: &'a reqwest::Method,
}

impl RequestKind<'_> {
    fn idempotent(&self) -> bool {
        use reqwest::Method;
        [
            Method::GET,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
            Method::HEAD,
            Method::OPTIONS,
        ]
        .contains(self.method)
    }
}

/// How one attempt failed.
pub(crate) enum Attempt<'a> {
    /// No response: `sent` is false when the request provably never left (connect).
    Transport { sent: bool },
    /// A failed response: its status and FastComments error code, if any.
    Response { status: u16, code: Option<&'a str> },
}

/// Reads a `Retry-After` header: delay-seconds or an HTTP date.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get() -> RequestKind<'static> {
        RequestKind {
            operation: "GetComments",
            method: &reqwest::Method::GET,
        }
    }

    fn post(operation: &'static str) -> RequestKind<'static> {
        RequestKind {
            operation,
            method: &reqwest::Method::POST,
        }
    }

    fn status(status: u16) -> Attempt<'static> {
        Attempt::Response { status, code: None }
    }

    #[test]
    fn the_schedule_is_linear_in_the_base_and_capped() {
        let policy = RetryPolicy::default();
        let waits: Vec<u64> = (1..=4)
            .map(|n| policy.wait_after(n, None).as_secs())
            .collect();
        assert_eq!(waits, [60, 120, 180, 240]);
        assert_eq!(policy.wait_after(30, None), Duration::from_secs(600));
        let short = RetryPolicy::default().base(Duration::from_secs(1));
        assert_eq!(
            short.wait_after(2, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(
            short.wait_after(9, Some(Duration::from_secs(7))),
            Duration::from_secs(9)
        );
    }

    #[test]
    fn jitter_stays_within_the_second_half_of_the_wait() {
        let policy = RetryPolicy::default().jitter(true);
        for _ in 0..100 {
            let wait = policy.next_wait(2, None);
            assert!(
                wait >= Duration::from_secs(60) && wait <= Duration::from_secs(120),
                "{wait:?}"
            );
        }
    }

    #[test]
    fn what_is_retried() {
        let policy = RetryPolicy::default();
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(policy.should_retry(&get(), &status(s)), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 422, 501] {
            assert!(!policy.should_retry(&get(), &status(s)), "{s}");
        }
        let failed = Attempt::Response {
            status: 200,
            code: Some("not-found"),
        };
        assert!(!policy.should_retry(&get(), &failed));
        let busy = Attempt::Response {
            status: 200,
            code: Some("busy"),
        };
        assert!(
            policy
                .clone()
                .transient_code("busy")
                .should_retry(&get(), &busy)
        );
    }

    #[test]
    fn a_post_is_repeated_only_when_it_never_left_or_is_declared_safe() {
        let policy = RetryPolicy::default();
        let refused = Attempt::Transport { sent: false };
        let reset = Attempt::Transport { sent: true };
        assert!(policy.should_retry(&post("SaveComment"), &refused));
        assert!(!policy.should_retry(&post("SaveComment"), &reset));
        assert!(!policy.should_retry(&post("SaveComment"), &status(503)));
        assert!(policy.should_retry(&post("Aggregate"), &status(503)));
        let marked = policy.safe_operation("SaveComment");
        assert!(marked.should_retry(&post("SaveComment"), &reset));
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::now();
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        let parsed = parse_retry_after(&later, now).unwrap();
        assert!(
            parsed > Duration::from_secs(88) && parsed <= Duration::from_secs(90),
            "{parsed:?}"
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn the_deadline_cuts_the_schedule() {
        let policy = RetryPolicy::default().deadline(Duration::from_secs(150));
        assert!(policy.within_deadline(Duration::ZERO, Duration::from_secs(60)));
        assert!(!policy.within_deadline(Duration::from_secs(60), Duration::from_secs(120)));
    }
}
