//! Retries against the mock server's scripted faults, on a paused clock: the schedule is
//! asserted exactly and nothing really sleeps.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::common::{API_KEY, Captured, TENANT, mock, refusing_address};
use fastcomments::mock::{Fault, FaultRule, MockServer};
use fastcomments::{Client, Error, RetryEvent, RetryPolicy, TransportKind, types};
use tokio::time::Instant;

/// The retries a policy announced, in order.
#[derive(Clone, Default)]
struct Retries(Arc<Mutex<Vec<RetryEvent>>>);

impl Retries {
    fn policy(&self, policy: RetryPolicy) -> RetryPolicy {
        let seen = self.0.clone();
        policy.on_retry(move |event| seen.lock().unwrap().push(event.clone()))
    }

    fn waits(&self) -> Vec<Duration> {
        self.0.lock().unwrap().iter().map(|e| e.wait).collect()
    }

    fn causes(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.cause.clone())
            .collect()
    }
}

fn secs(s: &[u64]) -> Vec<Duration> {
    s.iter().map(|s| Duration::from_secs(*s)).collect()
}

fn rule(fault: Fault, method: &str, path: &str) -> FaultRule {
    FaultRule::new(fault).method(method).path(path)
}

fn count(server: &MockServer, method: &str, path: &str) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.method == method && r.path == path)
        .count()
}

#[tokio::test(start_paused = true)]
async fn three_503s_then_success_wait_one_two_three_minutes() {
    let (server, client) = mock().await;
    server.seed_page(TENANT, "welcome", "Welcome");
    server.inject(rule(Fault::Status { status: 503 }, "GET", "/api/v1/pages").times(3));
    let retries = Retries::default();
    let client = client.with_retry(retries.policy(RetryPolicy::default()));

    let started = Instant::now();
    let pages = client.get_pages().send().await.unwrap();
    assert_eq!(pages.pages[0].url_id, "welcome");
    assert_eq!(retries.waits(), secs(&[60, 120, 180]));
    assert_eq!(retries.causes(), ["HTTP 503 mock-fault"; 3]);
    assert_eq!(started.elapsed(), Duration::from_secs(360));
    assert_eq!(count(&server, "GET", "/api/v1/pages"), 4);
}

#[tokio::test(start_paused = true)]
async fn retry_after_seconds_sets_a_longer_wait() {
    let (server, client) = mock().await;
    let fault = Fault::RetryAfter {
        status: 429,
        retry_after: "7".into(),
    };
    server.inject(rule(fault, "GET", "/api/v1/pages"));
    let retries = Retries::default();
    let client =
        client.with_retry(retries.policy(RetryPolicy::default().base(Duration::from_secs(1))));
    client.get_pages().send().await.unwrap();
    assert_eq!(retries.waits(), secs(&[7]));
}

/// A 429 from the mock's rate limit (`Retry-After: 1`) waits the one second the server
/// asks for, not the schedule's minute: the server's word comes first.
#[tokio::test(start_paused = true)]
async fn a_429_waits_its_short_retry_after_not_the_minute() {
    let (server, client) = mock().await;
    server.set_rate_limit(Some(1));
    let retries = Retries::default();
    let client = client.with_retry(retries.policy(RetryPolicy::default()));
    client.get_pages().send().await.unwrap();
    client.get_pages().send().await.unwrap();
    assert_eq!(retries.waits(), secs(&[1]));
    assert_eq!(server.rate_limited(), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_after_as_an_http_date_waits_until_then() {
    let (server, client) = mock().await;
    let when = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
    server.inject(rule(
        Fault::RetryAfter {
            status: 503,
            retry_after: when,
        },
        "GET",
        "/api/v1/pages",
    ));
    let retries = Retries::default();
    let client =
        client.with_retry(retries.policy(RetryPolicy::default().base(Duration::from_secs(1))));
    client.get_pages().send().await.unwrap();
    let wait = retries.waits()[0];
    // HTTP dates have whole seconds: the wait is 29 to 30 s from now.
    assert!(
        wait > Duration::from_secs(28) && wait <= Duration::from_secs(30),
        "{wait:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_the_longest_wait_is_not_cut_short_but_returned() {
    let (server, client) = mock().await;
    let fault = Fault::RetryAfter {
        status: 429,
        retry_after: "86400".into(),
    };
    server.inject(rule(fault, "GET", "/api/v1/pages"));
    let retries = Retries::default();
    let policy = RetryPolicy::default()
        .base(Duration::from_secs(1))
        .max_wait(Duration::from_secs(120));
    let started = Instant::now();
    let error = client
        .with_retry(retries.policy(policy))
        .get_pages()
        .send()
        .await
        .unwrap_err();
    // Coming back after two minutes would only be refused again: the caller learns
    // when to come back instead, at once.
    assert!(retries.waits().is_empty());
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(error.status(), Some(429));
    assert_eq!(error.retry_after(), Some(Duration::from_secs(86400)));
    assert_eq!(count(&server, "GET", "/api/v1/pages"), 1);
}

#[tokio::test(start_paused = true)]
async fn answers_about_the_request_itself_are_sent_once() {
    let (server, client) = mock().await;
    let retries = Retries::default();
    let client = client.with_retry(retries.policy(RetryPolicy::default()));
    let wrong_key = server
        .client(TENANT, "wrong")
        .unwrap()
        .with_retry(retries.policy(RetryPolicy::default()));

    let cases: Vec<(Error, u16, &str)> = vec![
        (
            client.get_comments().limit(500).send().await.unwrap_err(),
            400,
            "/api/v1/comments",
        ),
        (
            wrong_key.get_pages().send().await.unwrap_err(),
            401,
            "/api/v1/pages",
        ),
        (
            client.get_comment().id("nope").send().await.unwrap_err(),
            404,
            "/api/v1/comments/nope",
        ),
        (
            client
                .get_page_by_url_id()
                .url_id("nope")
                .send()
                .await
                .unwrap_err(),
            200,
            "/api/v1/pages/by-url-id",
        ),
    ];
    for (error, status, path) in cases {
        assert_eq!(error.status(), Some(status), "{error}");
        assert_eq!(error.attempts(), None, "{error}");
        assert_eq!(count(&server, "GET", path), 1, "{path}");
    }
    assert!(retries.waits().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_post_reset_after_the_server_received_it_is_not_sent_again() {
    let (server, client) = mock().await;
    server.inject(rule(Fault::ResetAfterHandling, "POST", "/api/v1/comments"));
    let retries = Retries::default();
    let client = client.with_retry(retries.policy(RetryPolicy::default()));
    let error = save_comment(&client).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Transport {
                kind: TransportKind::Connection,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(retries.waits().is_empty());
    assert_eq!(count(&server, "POST", "/api/v1/comments"), 1);
    // The comment was created once, and only once.
    assert_eq!(
        client.get_comments().send().await.unwrap().comments.len(),
        1
    );
}

async fn save_comment(client: &Client) -> Result<types::ApiSaveCommentResponse, Error> {
    crate::common::save_comment(client, "hi", "p").await
}

#[tokio::test(start_paused = true)]
async fn a_post_whose_connection_is_refused_is_sent_again() {
    let address = refusing_address().await;
    let retries = Retries::default();
    let client = Client::builder()
        .base_url(&address)
        .api_key(API_KEY)
        .tenant_id(TENANT)
        .retry(retries.policy(RetryPolicy::default()))
        .build()
        .unwrap();
    // The server comes up on that address while the client waits to retry.
    let started: Arc<Mutex<Option<MockServer>>> = Arc::default();
    let slot = started.clone();
    let addr = address.trim_start_matches("http://").parse().unwrap();
    let starting = tokio::spawn(async move {
        let server = MockServer::start_on(addr).await.unwrap();
        server.add_tenant(TENANT, API_KEY);
        *slot.lock().unwrap() = Some(server);
    });
    let saved = save_comment(&client);
    // Refused first: the server task has not run yet on this single-threaded runtime.
    let (saved, _) = tokio::join!(saved, async { starting.await.unwrap() });
    saved.unwrap();
    assert_eq!(retries.causes(), ["connect"]);
    let server = started.lock().unwrap().take().unwrap();
    assert_eq!(count(&server, "POST", "/api/v1/comments"), 1);
}

#[tokio::test(start_paused = true)]
async fn giving_up_reports_the_attempts_and_the_last_cause() {
    let (server, client) = mock().await;
    server.inject(rule(Fault::Status { status: 502 }, "GET", "/api/v1/pages").always());
    let policy = RetryPolicy::default()
        .base(Duration::from_secs(1))
        .max_attempts(3);
    let error = client
        .with_retry(policy)
        .get_pages()
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.attempts(), Some(3));
    match &error {
        Error::GaveUp { last, .. } => assert_eq!(last.code(), Some("mock-fault")),
        other => panic!("expected GaveUp, got {other:?}"),
    }
    assert_eq!(error.status(), Some(502));
    assert_eq!(count(&server, "GET", "/api/v1/pages"), 3);
}

#[tokio::test(start_paused = true)]
async fn an_overall_deadline_cuts_the_schedule_short() {
    let (server, client) = mock().await;
    server.inject(rule(Fault::Status { status: 503 }, "GET", "/api/v1/pages").always());
    let retries = Retries::default();
    let policy = RetryPolicy::default()
        .max_attempts(10)
        .deadline(Duration::from_secs(200));
    let started = Instant::now();
    let error = client
        .with_retry(retries.policy(policy))
        .get_pages()
        .send()
        .await
        .unwrap_err();
    // 60 s then 120 s fit in 200 s; the next 180 s would not.
    assert_eq!(retries.waits(), secs(&[60, 120]));
    assert_eq!(error.attempts(), Some(3));
    assert_eq!(started.elapsed(), Duration::from_secs(180));
}

#[tokio::test(start_paused = true)]
async fn a_stall_past_the_timeout_is_a_timeout_then_a_retry() {
    let (server, _) = mock().await;
    server.seed_page(TENANT, "welcome", "Welcome");
    server.inject(rule(
        Fault::Stall { millis: 60_000 },
        "GET",
        "/api/v1/pages",
    ));
    let retries = Retries::default();
    let client = Client::builder()
        .base_url(server.base_url())
        .api_key(API_KEY)
        .tenant_id(TENANT)
        .timeout(Duration::from_secs(5))
        .retry(retries.policy(RetryPolicy::default().base(Duration::from_secs(1))))
        .build()
        .unwrap();
    let pages = client.get_pages().send().await.unwrap();
    assert_eq!(pages.pages.len(), 1);
    assert_eq!(retries.causes(), ["timeout"]);

    // Without retries the same stall is a timeout error.
    server.inject(rule(
        Fault::Stall { millis: 60_000 },
        "GET",
        "/api/v1/pages",
    ));
    let error = client
        .with_retry(RetryPolicy::none())
        .get_pages()
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Transport {
                kind: TransportKind::Timeout,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn cut_and_unanswered_gets_are_retried() {
    let (server, client) = mock().await;
    server.inject(rule(Fault::CutBody, "GET", "/api/v1/pages"));
    server.inject(rule(Fault::ResetBeforeHandling, "GET", "/api/v1/pages"));
    server.inject(rule(Fault::Html { status: 502 }, "GET", "/api/v1/pages"));
    let retries = Retries::default();
    let policy = retries.policy(RetryPolicy::default().base(Duration::from_secs(1)));
    client.with_retry(policy).get_pages().send().await.unwrap();
    assert_eq!(retries.causes(), ["connection", "connection", "HTTP 502"]);
    assert_eq!(count(&server, "GET", "/api/v1/pages"), 4);
}

#[tokio::test(start_paused = true)]
async fn truncated_and_malformed_bodies_are_decode_errors() {
    let (server, client) = mock().await;
    server.seed_comments(TENANT, "p", 3);
    for fault in [Fault::Truncated, Fault::Malformed] {
        server.clear_requests();
        server.inject(rule(fault.clone(), "GET", "/api/v1/comments"));
        let error = client.get_comments().send().await.unwrap_err();
        assert!(
            matches!(&error, Error::Decode { excerpt, .. } if excerpt.starts_with('{')),
            "{fault:?}: {error:?}"
        );
        assert!(!error.is_retryable());
        assert_eq!(count(&server, "GET", "/api/v1/comments"), 1, "{fault:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_policy_can_be_switched_off_per_call() {
    let (server, client) = mock().await;
    server.inject(rule(Fault::Status { status: 503 }, "GET", "/api/v1/pages"));
    let error = client
        .with_retry(RetryPolicy::none())
        .get_pages()
        .send()
        .await
        .unwrap_err();
    assert_eq!((error.status(), error.attempts()), (Some(503), None));
    // The client's own policy is untouched.
    server.inject(rule(Fault::Status { status: 503 }, "GET", "/api/v1/pages"));
    client.get_pages().send().await.unwrap();
    assert_eq!(client.retry_policy().attempts(), 5);
}

#[tokio::test(start_paused = true)]
async fn declared_safe_posts_are_retried_after_a_503() {
    let (server, client) = mock().await;
    server.inject(rule(
        Fault::Status { status: 503 },
        "POST",
        "/api/v1/comments",
    ));
    let retries = Retries::default();
    let policy = retries.policy(RetryPolicy::default().base(Duration::from_secs(1)));
    let error = save_comment(&client.with_retry(policy.clone()))
        .await
        .unwrap_err();
    assert_eq!((error.status(), error.attempts()), (Some(503), None));

    server.inject(rule(
        Fault::Status { status: 503 },
        "POST",
        "/api/v1/comments",
    ));
    save_comment(&client.with_retry(policy.safe_operation("SaveComment")))
        .await
        .unwrap();
    assert_eq!(retries.causes(), ["HTTP 503 mock-fault"]);
}

#[tokio::test]
async fn faults_can_be_scripted_over_http_for_a_standalone_mock() {
    let (server, client) = mock().await;
    let rule = serde_json::json!({
        "fault": { "kind": "status", "status": 503 },
        "method": "GET",
        "path": "/api/v1/*",
        "times": 1
    });
    let added = reqwest::Client::new()
        .post(format!("{}/__mock/faults", server.base_url()))
        .json(&rule)
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 204);
    let error = client
        .with_retry(RetryPolicy::none())
        .get_pages()
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(503));
    client.get_pages().send().await.unwrap();
    assert_eq!(
        server.requests().len(),
        2,
        "control requests are not recorded"
    );
}

/// The rate limit of a standalone mock is set over HTTP, per tenant, and lifted the
/// same way; a malformed body is refused.
#[tokio::test]
async fn the_rate_limit_can_be_set_over_http_for_a_standalone_mock() {
    let (server, client) = mock().await;
    let client = client.with_retry(RetryPolicy::none());
    let set = |body: serde_json::Value| {
        let url = format!("{}/__mock/rate-limit", server.base_url());
        async move {
            reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(set(serde_json::json!({"perSecond": 1})).await, 204);
    client.get_pages().send().await.unwrap();
    let error = client.get_pages().send().await.unwrap_err();
    assert_eq!(error.status(), Some(429));
    assert_eq!(error.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(set(serde_json::json!({"perSecond": "fast"})).await, 400);
    // A misspelt key is refused, not read as "no limit".
    assert_eq!(set(serde_json::json!({"per_second": 5})).await, 400);
    assert_eq!(set(serde_json::json!({"perSecond": null})).await, 204);
    client.get_pages().send().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn each_retry_is_a_tracing_event_with_operation_attempt_wait_and_cause() {
    let (server, client) = mock().await;
    server.inject(rule(Fault::Status { status: 503 }, "GET", "/api/v1/pages").times(2));
    let logs = Captured::default();
    {
        let _guard = logs.install();
        let policy = RetryPolicy::default().base(Duration::from_secs(2));
        client.with_retry(policy).get_pages().send().await.unwrap();
    }
    let retries: Vec<String> = logs
        .text()
        .lines()
        .filter(|l| l.contains("retrying"))
        .map(str::to_owned)
        .collect();
    assert_eq!(retries.len(), 2, "{retries:?}");
    for (line, (attempt, wait_ms)) in retries.iter().zip([(1, 2000), (2, 4000)]) {
        for field in [
            "operation=\"GetPages\"".to_string(),
            format!("attempt={attempt}"),
            format!("wait_ms={wait_ms}"),
            "cause=HTTP 503 mock-fault".to_string(),
        ] {
            assert!(line.contains(&field), "{field} missing in {line}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_largest_retry_after_with_the_longest_wait_and_a_deadline_cannot_overflow() {
    let (server, client) = mock().await;
    let fault = Fault::RetryAfter {
        status: 429,
        retry_after: "18446744073709551615".into(),
    };
    server.inject(rule(fault, "GET", "/api/v1/pages"));
    let policy = RetryPolicy::default()
        .max_wait(Duration::MAX)
        .deadline(Duration::from_secs(60))
        .jitter(true);
    let started = Instant::now();
    let error = client
        .with_retry(policy)
        .get_pages()
        .send()
        .await
        .unwrap_err();
    // Waiting that long would pass the deadline: the call ends at once, saying when to
    // come back.
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(error.status(), Some(429));
    assert_eq!(error.retry_after(), Some(Duration::from_secs(u64::MAX)));
}

#[tokio::test(start_paused = true)]
async fn the_deadline_cuts_a_stalled_attempt_in_flight() {
    let (server, _) = mock().await;
    server.inject(rule(
        Fault::Stall { millis: 600_000 },
        "GET",
        "/api/v1/pages",
    ));
    let client = Client::builder()
        .base_url(server.base_url())
        .api_key(API_KEY)
        .tenant_id(TENANT)
        .timeout(Duration::from_secs(300))
        .retry(RetryPolicy::default().deadline(Duration::from_secs(5)))
        .build()
        .unwrap();
    let started = Instant::now();
    let error = client.get_pages().send().await.unwrap_err();
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    assert!(
        matches!(
            error,
            Error::Transport {
                kind: TransportKind::Timeout,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("deadline"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn a_429_on_a_post_is_retried_since_the_request_was_not_processed() {
    let (server, client) = mock().await;
    let fault = Fault::RetryAfter {
        status: 429,
        retry_after: "2".into(),
    };
    server.inject(rule(fault, "POST", "/api/v1/comments"));
    let retries = Retries::default();
    let client =
        client.with_retry(retries.policy(RetryPolicy::default().base(Duration::from_secs(1))));
    save_comment(&client).await.unwrap();
    assert_eq!(retries.waits(), secs(&[2]));
    assert_eq!(count(&server, "POST", "/api/v1/comments"), 2);
    assert_eq!(
        client.get_comments().send().await.unwrap().comments.len(),
        1
    );
}

/// A request the HTTP client cannot even build (a path value longer than a request line
/// can carry) is an `InvalidRequest` at once: nothing was sent and no retry could change
/// that, so the one-minute schedule is not spent on it.
#[tokio::test(start_paused = true)]
async fn a_request_that_cannot_be_built_is_not_retried() {
    let (server, client) = mock().await;
    let started = Instant::now();
    let error = client
        .with_retry(RetryPolicy::default())
        .get_comment()
        .id("x".repeat(70_000))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(error, fastcomments::Error::InvalidRequest(_)),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    assert_eq!(started.elapsed(), Duration::ZERO, "no wait, no retry");
    assert!(server.requests().is_empty());
}
