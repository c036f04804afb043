//! The fault store: the scripted faults ([`FaultRule`]s, first match wins) and the
//! latency added to every request. Applying them is the handlers' part
//! (`super::super::faults`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::lock;

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

/// When a [`Fault`] applies: which requests, how many times. Built with
/// [`FaultRule::new`] and its setters, or read from JSON (`POST /__mock/faults`), where
/// `times` defaults to 1, or to no limit when `every` is given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "RuleJson")]
#[non_exhaustive]
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
    pub times: Option<u32>,
    /// Fires only on every n-th matching request (the n-th, 2n-th, ...); the others go on
    /// to the next rule, or are handled normally. Every matching request when absent. At
    /// least 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<u32>,
    /// Whether `times` was set by [`times`](FaultRule::times) or [`always`](FaultRule::always)
    /// (then [`every`](FaultRule::every) keeps it) or is the default of one.
    #[serde(skip)]
    times_set: bool,
}

/// A rule as JSON gives it: `times` absent is one fault, or no limit with `every`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleJson {
    fault: Fault,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    query: Option<String>,
    #[serde(default, deserialize_with = "present")]
    times: Option<Option<u32>>,
    #[serde(default)]
    every: Option<u32>,
}

/// Tells `"times": null` (no limit) from no `times` at all.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u32>>, D::Error> {
    Option::<u32>::deserialize(d).map(Some)
}

impl From<RuleJson> for FaultRule {
    fn from(json: RuleJson) -> FaultRule {
        let times = match (json.times, json.every) {
            (Some(times), _) => times,
            (None, Some(_)) => None,
            (None, None) => Some(1),
        };
        FaultRule {
            fault: json.fault,
            path: json.path,
            method: json.method,
            query: json.query,
            times,
            every: json.every,
            times_set: true,
        }
    }
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
            times_set: false,
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
        self.times_set = true;
        self
    }

    /// Every matching request, until the faults are cleared.
    pub fn always(mut self) -> FaultRule {
        self.times = None;
        self.times_set = true;
        self
    }

    /// Only every `n`-th matching request (the `n`-th, `2n`-th, ...), until the faults
    /// are cleared: a service failing one request in `n`. [`times`](FaultRule::times),
    /// before or after it, stops it after so many faults.
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
        if !self.times_set {
            self.times = None;
        }
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
    pub(crate) fn invalid(&self) -> Option<String> {
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

    pub(crate) fn latency(&self) -> Duration {
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
    pub(crate) fn take(&self, method: &str, path: &str, query: &str) -> Option<Fault> {
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

    /// The README's form, `{"fault": ..., "every": 3}` with no `times`, fires until
    /// cleared; without `every`, a rule with no `times` fires once.
    #[test]
    fn json_without_times_is_one_fault_or_every_nth_until_cleared() {
        let every: FaultRule = serde_json::from_value(serde_json::json!({
            "fault": {"kind": "status", "status": 503}, "every": 2
        }))
        .unwrap();
        let faults = Faults::default();
        faults.add(every);
        let seen: Vec<Option<u16>> = (0..8).map(|_| status(&faults, "/x")).collect();
        assert_eq!(seen.iter().filter(|s| s.is_some()).count(), 4, "{seen:?}");
        let once: FaultRule =
            serde_json::from_value(serde_json::json!({"fault": {"kind": "status", "status": 503}}))
                .unwrap();
        assert_eq!(once.times, Some(1));
    }

    #[test]
    fn times_before_every_limits_it_too() {
        let faults = Faults::default();
        faults.add(
            FaultRule::new(Fault::Status { status: 503 })
                .times(2)
                .every(2),
        );
        let seen: Vec<Option<u16>> = (0..10).map(|_| status(&faults, "/x")).collect();
        assert_eq!(seen.iter().filter(|s| s.is_some()).count(), 2, "{seen:?}");
    }
}
