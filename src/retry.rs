//! Retries with a linear backoff of one `base` per attempt: the policy, what it retries,
//! and the loop that applies it to every call.
//!
//! FastComments retries its own webhook deliveries after one minute × the number of
//! attempts so far, so that a struggling API is not flooded; this client treats the
//! service the same way. After the n-th failed attempt it waits `n × base` (60 s by
//! default: 1 min, 2 min, 3 min, ...) before the next, up to `max_attempts` attempts in all.
//!
//! What is retried, and why:
//! - connect failures (refused, DNS, TLS): the request never left, any method is safe;
//! - HTTP 429: the server says it did not process the request, any method is safe;
//! - timeouts, broken connections and HTTP 408, 500, 502, 503, 504: "not now" answers,
//!   retried for idempotent methods (GET, PUT, DELETE, PATCH) and for the operations
//!   declared safe to repeat ([`RetryPolicy::safe_operation`]). A POST that may have
//!   reached the server is not sent twice: it could create a comment twice;
//! - `Retry-After` (seconds or an HTTP date) comes first: it is the wait, shorter or
//!   longer than the schedule's (a 429 with `Retry-After: 1` waits one second, not a
//!   minute). It is honoured, never cut short: when it asks for more than `max_wait`
//!   or would pass the deadline, the policy gives up and the error's
//!   [`retry_after`](crate::Error::retry_after) says when to come back.
//!
//! Not retried: other 4xx, FastComments errors (`status: "failed"`) unless their code is
//! declared transient ([`RetryPolicy::transient_code`]), decode errors, oversized bodies,
//! invalid requests.
//!
//! The deadline bounds the whole call, the attempt in flight included. All arithmetic on
//! durations saturates: no schedule, header or setting can overflow it.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, TransportKind, is_retryable_status};

/// `POST` operations that are safe to send again: queries FastComments exposes as POST
/// because their parameters do not fit a URL, and the integration's comment upload, whose
/// batches the server de-duplicates.
pub const SAFE_POST_OPERATIONS: &[&str] = &[
    "Aggregate",
    "IntegrationPostComments",
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
///     .deadline(Duration::from_secs(300))     // and the whole call within five minutes
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

    /// The longest single wait. The schedule is capped at it; a `Retry-After` asking for
    /// more makes the policy give up instead (the server would refuse an earlier retry).
    #[must_use]
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }

    /// The longest a whole call may take, waits and attempts included: the attempt in
    /// flight when it runs out is cut, and no retry is started that would end past it.
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

    /// The wait after the `failures`-th failed attempt: the server's `Retry-After` when
    /// it sent one (it knows when it will take the request), else `failures × base`
    /// capped at `max_wait`; without jitter.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fastcomments::RetryPolicy;
    /// let policy = RetryPolicy::default();
    /// assert_eq!(policy.wait_after(2, None), Duration::from_secs(120));
    /// assert_eq!(policy.wait_after(2, Some(Duration::from_secs(1))), Duration::from_secs(1));
    /// ```
    pub fn wait_after(&self, failures: u32, retry_after: Option<Duration>) -> Duration {
        retry_after.unwrap_or_else(|| self.base.saturating_mul(failures).min(self.max_wait))
    }

    /// The longest a call can take under this policy when one attempt takes at most
    /// `attempt`: every attempt to its limit, and between them the longest wait the
    /// policy accepts, [`max_wait`](RetryPolicy::max_wait) (a server's `Retry-After`
    /// may ask for that much at every attempt); at most the
    /// [`deadline`](RetryPolicy::deadline) when one is set. Saturates rather than
    /// overflows.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fastcomments::RetryPolicy;
    /// let policy = RetryPolicy::default().max_attempts(3).max_wait(Duration::from_secs(90));
    /// // 3 attempts of 30 s, and two waits of at most 90 s (a Retry-After up to 90 s).
    /// assert_eq!(policy.longest_call(Duration::from_secs(30)), Duration::from_secs(270));
    /// ```
    pub fn longest_call(&self, attempt: Duration) -> Duration {
        let attempts = attempt.saturating_mul(self.max_attempts);
        // No wait is longer: the schedule is capped at it, a longer Retry-After ends the
        // call, and jitter only shortens a wait.
        let waits = self
            .max_wait
            .saturating_mul(self.max_attempts.saturating_sub(1));
        let total = attempts.saturating_add(waits);
        self.deadline.map_or(total, |deadline| total.min(deadline))
    }

    /// Whether a failed attempt of a request may be sent again.
    fn should_retry(&self, request: &RequestKind<'_>, error: &Error) -> bool {
        let repeatable = request.idempotent() || self.safe_operations.contains(request.operation);
        match error {
            Error::Transport {
                kind: TransportKind::Connect,
                ..
            } => true,
            Error::Transport { .. } => repeatable,
            _ if error.status() == Some(429) => true,
            _ => {
                let transient = error.status().is_some_and(is_retryable_status)
                    || error
                        .code()
                        .is_some_and(|c| self.transient_codes.contains(c));
                transient && repeatable && matches!(error, Error::Api(_) | Error::Http { .. })
            }
        }
    }

    /// What to do after the `attempts`-th attempt failed with `error`, `elapsed` after
    /// the call began.
    fn decide(
        &self,
        request: &RequestKind<'_>,
        error: &Error,
        attempts: u32,
        elapsed: Duration,
    ) -> Decision {
        if !self.should_retry(request, error) {
            return Decision::Stop { gave_up: false };
        }
        let retry_after = error.retry_after();
        let too_long = retry_after.is_some_and(|wait| wait > self.max_wait);
        let wait = self.next_wait(attempts, retry_after);
        if attempts >= self.max_attempts || too_long || !self.fits(elapsed, wait) {
            return Decision::Stop { gave_up: true };
        }
        Decision::Retry(wait)
    }

    /// The wait before the next attempt, with jitter applied when asked for.
    fn next_wait(&self, failures: u32, retry_after: Option<Duration>) -> Duration {
        let wait = self.wait_after(failures, retry_after);
        if self.jitter && retry_after.is_none() {
            let half = wait / 2;
            half.saturating_add(half.mul_f64(fastrand::f64()))
        } else {
            wait
        }
    }

    /// Whether waiting `wait` more, `elapsed` after the call began, leaves time before
    /// the deadline.
    fn fits(&self, elapsed: Duration, wait: Duration) -> bool {
        self.deadline
            .is_none_or(|deadline| elapsed.saturating_add(wait) < deadline)
    }

    /// The time left before the deadline, if there is one.
    fn time_left(&self, elapsed: Duration) -> Option<Duration> {
        self.deadline
            .map(|deadline| deadline.saturating_sub(elapsed))
    }

    fn notify(&self, event: &RetryEvent) {
        tracing::warn!(
            operation = event.operation,
            attempt = event.attempt,
            wait_ms = u64::try_from(event.wait.as_millis()).unwrap_or(u64::MAX),
            cause = %event.cause,
            "retrying"
        );
        if let Some(f) = &self.on_retry {
            f(event);
        }
    }
}

enum Decision {
    Retry(Duration),
    /// `gave_up`: the failure was retryable but the policy allows no further attempt.
    Stop {
        gave_up: bool,
    },
}

/// What the retry decision needs to know of the request.
pub(crate) struct RequestKind<'a> {
    pub(crate) operation: &'static str,
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

/// A short name for what went wrong, for logs and [`RetryEvent::cause`].
fn cause(error: &Error) -> String {
    match (error, error.status(), error.code()) {
        (Error::Transport { kind, .. }, ..) => kind.to_string(),
        (_, Some(status), Some(code)) => format!("HTTP {status} {code}"),
        (_, Some(status), None) => format!("HTTP {status}"),
        _ => error.to_string(),
    }
}

/// Runs `attempt` until it succeeds or `policy` stops, waiting the policy's schedule
/// between attempts on tokio's clock. `attempt` gives the next attempt's future, or
/// `None` when the request cannot be sent again.
pub(crate) async fn run<T, F, Fut>(
    policy: &RetryPolicy,
    request: &RequestKind<'_>,
    mut attempt: F,
) -> Result<T, Error>
where
    F: FnMut() -> Option<Fut>,
    Fut: Future<Output = Result<T, Error>>,
{
    let started = tokio::time::Instant::now();
    let mut attempts = 0;
    let mut last = None;
    loop {
        let Some(next) = attempt() else {
            return Err(last
                .unwrap_or_else(|| Error::InvalidRequest("the request could not be sent".into())));
        };
        attempts += 1;
        let result = match (policy.time_left(started.elapsed()), policy.deadline) {
            (Some(left), Some(deadline)) => tokio::time::timeout(left, next)
                .await
                .unwrap_or_else(|_| Err(Error::deadline(deadline))),
            _ => next.await,
        };
        let error = match result {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        note_throttling(&error);
        match policy.decide(request, &error, attempts, started.elapsed()) {
            Decision::Retry(wait) => {
                policy.notify(&RetryEvent {
                    operation: request.operation,
                    attempt: attempts,
                    wait,
                    cause: cause(&error),
                });
                tokio::time::sleep(wait).await;
                last = Some(error);
            }
            Decision::Stop { gave_up } if gave_up && attempts > 1 => {
                return Err(Error::GaveUp {
                    attempts,
                    last: Box::new(error),
                });
            }
            Decision::Stop { .. } => return Err(error),
        }
    }
}

tokio::task_local! {
    /// What watches a call run under [`observe_throttling`].
    static WATCH: Watch;
}

/// Told, for each throttled attempt as it is answered: whether it was a 429, and the
/// `Retry-After` it asked for.
pub(crate) type ThrottleReport = Arc<dyn Fn(bool, Option<Duration>) + Send + Sync>;

/// A call's watcher: whether it was throttled, and whom to tell at once.
struct Watch {
    throttled: Cell<bool>,
    report: ThrottleReport,
}

/// Runs `call` (any number of client calls) and tells whether the service throttled any
/// of their attempts: an answer 429, or one with `Retry-After`. Each such attempt is also
/// told to `report` as it is answered, before the retry waits. What the adaptive
/// pagination depth learns from ([`crate::pagination::AdaptiveDepth`]).
pub(crate) async fn observe_throttling<F: Future>(
    call: F,
    report: ThrottleReport,
) -> (F::Output, bool) {
    let watch = Watch {
        throttled: Cell::new(false),
        report,
    };
    WATCH
        .scope(watch, async move {
            let output = call.await;
            (output, WATCH.with(|watch| watch.throttled.get()))
        })
        .await
}

fn note_throttling(error: &Error) {
    if error.status() == Some(429) || error.retry_after().is_some() {
        // Outside `observe_throttling` there is no one to tell.
        let _ = WATCH.try_with(|watch| {
            watch.throttled.set(true);
            (watch.report)(error.status() == Some(429), error.retry_after());
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;

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

    fn status(status: u16) -> Error {
        Error::Http {
            status,
            excerpt: String::new(),
            retry_after: None,
        }
    }

    fn transport(kind: TransportKind) -> Error {
        Error::Transport {
            kind,
            message: String::new(),
            source: None,
        }
    }

    fn api(status: u16, code: &str) -> Error {
        Error::Api(Box::new(ApiError {
            http_status: status,
            code: Some(code.into()),
            ..ApiError::default()
        }))
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_answered_429_or_with_retry_after_is_observed_as_throttled() {
        let policy = RetryPolicy::default().base(Duration::from_millis(10));
        let kind = RequestKind {
            operation: "GetComments",
            method: &reqwest::Method::GET,
        };
        let retry_after = Error::Http {
            status: 503,
            excerpt: String::new(),
            retry_after: Some(Duration::from_secs(1)),
        };
        let reported = Arc::new(std::sync::Mutex::new(Vec::new()));
        let report: ThrottleReport = {
            let reported = reported.clone();
            let began = tokio::time::Instant::now();
            Arc::new(move |too_many, retry_after| {
                reported
                    .lock()
                    .unwrap()
                    .push((began.elapsed(), too_many, retry_after))
            })
        };
        for (first, throttled) in [
            (status(429), true),
            (retry_after, true),
            (status(503), false),
        ] {
            let mut answers = vec![Ok(()), Err(first)];
            let (result, seen) = observe_throttling(
                run(&policy, &kind, || Some(std::future::ready(answers.pop()?))),
                report.clone(),
            )
            .await;
            assert!(result.is_ok());
            assert_eq!(seen, throttled);
        }
        // Each throttled attempt is told as it is answered, before its retry's wait: the
        // 429 at once, the `Retry-After` after the 429's 10 ms wait.
        assert_eq!(
            *reported.lock().unwrap(),
            [
                (Duration::ZERO, true, None),
                (
                    Duration::from_millis(10),
                    false,
                    Some(Duration::from_secs(1))
                )
            ]
        );
        // Outside an observer a throttled call goes on as before.
        let mut answers = vec![Ok(()), Err(status(429))];
        assert!(
            run(&policy, &kind, || Some(std::future::ready(answers.pop()?)))
                .await
                .is_ok()
        );
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
            Duration::from_secs(7),
            "the server's word comes first, shorter than the schedule too"
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
        assert!(!policy.should_retry(&get(), &api(200, "not-found")));
        let transient = policy.clone().transient_code("busy");
        assert!(transient.should_retry(&get(), &api(200, "busy")));
        assert!(!policy.should_retry(&get(), &Error::BodyTooLarge { limit: 1 }));
    }

    #[test]
    fn a_post_is_repeated_only_when_it_was_not_processed_or_is_declared_safe() {
        let policy = RetryPolicy::default();
        let refused = transport(TransportKind::Connect);
        let reset = transport(TransportKind::Connection);
        assert!(policy.should_retry(&post("SaveComment"), &refused));
        assert!(policy.should_retry(&post("SaveComment"), &status(429)));
        assert!(policy.should_retry(&post("SaveComment"), &api(429, "rate-limited")));
        assert!(!policy.should_retry(&post("SaveComment"), &reset));
        assert!(!policy.should_retry(&post("SaveComment"), &status(503)));
        assert!(policy.should_retry(&post("Aggregate"), &status(503)));
        let marked = policy.safe_operation("SaveComment");
        assert!(marked.should_retry(&post("SaveComment"), &reset));
    }

    #[test]
    fn no_setting_or_header_overflows_the_arithmetic() {
        let huge = Error::Http {
            status: 429,
            excerpt: String::new(),
            retry_after: Some(Duration::from_secs(u64::MAX)),
        };
        let policy = RetryPolicy::default()
            .base(Duration::MAX)
            .max_wait(Duration::MAX)
            .deadline(Duration::from_secs(60))
            .jitter(true);
        assert_eq!(policy.wait_after(u32::MAX, None), Duration::MAX);
        assert!(matches!(
            policy.decide(&get(), &huge, 1, Duration::MAX),
            Decision::Stop { gave_up: true }
        ));
        assert!(!policy.fits(Duration::MAX, Duration::MAX));
        assert_eq!(policy.time_left(Duration::MAX), Some(Duration::ZERO));
        let _ = policy.next_wait(u32::MAX, None);
    }

    #[test]
    fn a_retry_after_longer_than_the_longest_wait_is_not_cut_short() {
        let policy = RetryPolicy::default().max_wait(Duration::from_secs(120));
        let later = |secs| Error::Http {
            status: 503,
            excerpt: String::new(),
            retry_after: Some(Duration::from_secs(secs)),
        };
        assert!(matches!(
            policy.decide(&get(), &later(100), 1, Duration::ZERO),
            Decision::Retry(w) if w == Duration::from_secs(100)
        ));
        assert!(matches!(
            policy.decide(&get(), &later(121), 1, Duration::ZERO),
            Decision::Stop { gave_up: true }
        ));
    }

    /// The worst case: the default policy with a Retry-After of ten minutes at every
    /// attempt is 4 waits of 600 s and 5 attempts; a deadline caps it; nothing overflows.
    #[test]
    fn the_longest_call_counts_every_attempt_and_the_longest_waits() {
        let attempt = Duration::from_secs(40);
        assert_eq!(
            RetryPolicy::default().longest_call(attempt),
            Duration::from_secs(5 * 40 + 4 * 600)
        );
        assert_eq!(RetryPolicy::none().longest_call(attempt), attempt);
        let capped = RetryPolicy::default().deadline(Duration::from_secs(300));
        assert_eq!(capped.longest_call(attempt), Duration::from_secs(300));
        let huge = RetryPolicy::default()
            .max_wait(Duration::MAX)
            .max_attempts(u32::MAX);
        assert_eq!(huge.longest_call(Duration::MAX), Duration::MAX);
    }

    #[test]
    fn the_deadline_cuts_the_schedule() {
        let policy = RetryPolicy::default().deadline(Duration::from_secs(150));
        assert!(policy.fits(Duration::ZERO, Duration::from_secs(60)));
        assert!(!policy.fits(Duration::from_secs(60), Duration::from_secs(120)));
    }
}
