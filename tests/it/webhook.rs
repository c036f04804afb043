//! The axum extractor end to end over loopback: each delivery gets the status
//! FastComments' "send test payload" and retries expect.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::any;
use fastcomments::webhook::axum::VerifiedWebhook;
use fastcomments::webhook::testing::WebhookSigner;
use fastcomments::webhook::{WebhookEvent, WebhookVerifier};

use crate::common::serve;

const SECRET: &str = "tenant-api-secret";

#[derive(Clone)]
struct App {
    verifier: WebhookVerifier,
    seen: Arc<Mutex<Vec<WebhookEvent>>>,
}

impl axum::extract::FromRef<App> for WebhookVerifier {
    fn from_ref(app: &App) -> WebhookVerifier {
        app.verifier.clone()
    }
}

async fn receive(State(app): State<App>, VerifiedWebhook(event): VerifiedWebhook) -> StatusCode {
    app.seen.lock().unwrap().push(event);
    StatusCode::OK
}

#[tokio::test]
async fn the_axum_extractor_answers_each_delivery_with_its_status() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = App {
        verifier: WebhookVerifier::new(SECRET),
        seen: seen.clone(),
    };
    let url = format!(
        "{}/hook",
        serve(
            axum::Router::new()
                .route("/hook", any(receive))
                .with_state(app)
        )
        .await
    );
    // A fastcomments client first: it installs the TLS provider reqwest needs.
    let _ = fastcomments::Client::builder().build().unwrap();
    let http = reqwest::Client::new();
    let signer = WebhookSigner::new(SECRET);
    let body = r#"{"id": "c1", "commentHTML": "<p>Hello</p>"}"#;
    let cases = [
        ("signed", signer.created(body), 200),
        ("legacy token", signer.created(body).legacy(), 200),
        (
            "delete with id only",
            signer.deleted(r#"{"id": "c1"}"#),
            200,
        ),
        ("tampered", signer.created(body).tampered(), 401),
        (
            "wrong secret",
            WebhookSigner::new("wrong").created(body),
            401,
        ),
        (
            "legacy, wrong secret",
            signer.created(body).legacy().token("wrong"),
            401,
        ),
        ("stale", signer.clone().stale().created(body), 401),
        ("wrong method", signer.sign("POST", body.into()), 405),
        ("not a comment", signer.created("{}"), 400),
        (
            "2 MiB",
            signer.created(format!(
                r#"{{"id": "c", "comment": "{}"}}"#,
                "x".repeat(2 << 20)
            )),
            413,
        ),
    ];
    for (what, delivery, status) in cases {
        let answer = delivery.request(&http, &url).send().await.unwrap();
        assert_eq!(answer.status().as_u16(), status, "{what}");
        let text = answer.text().await.unwrap();
        assert!(!text.contains(SECRET), "{what}: {text}");
    }
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.len(),
        3,
        "only the verified deliveries reached the handler"
    );
    assert_eq!(
        seen[2],
        WebhookEvent::Deleted {
            id: "c1".into(),
            comment: None
        }
    );
}

/// A receiver that fails its first `failures` deliveries with HTTP 500, then verifies;
/// it records when each delivery arrived, on tokio's clock.
#[derive(Clone)]
struct Flaky {
    verifier: WebhookVerifier,
    failures: usize,
    arrivals: Arc<Mutex<Vec<tokio::time::Instant>>>,
    events: Arc<Mutex<Vec<WebhookEvent>>>,
}

impl axum::extract::FromRef<Flaky> for WebhookVerifier {
    fn from_ref(app: &Flaky) -> WebhookVerifier {
        app.verifier.clone()
    }
}

async fn flaky(State(app): State<Flaky>, request: axum::extract::Request) -> StatusCode {
    use axum::extract::FromRequest;
    let arrived = {
        let mut arrivals = app.arrivals.lock().unwrap();
        arrivals.push(tokio::time::Instant::now());
        arrivals.len()
    };
    if arrived <= app.failures {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    match VerifiedWebhook::from_request(request, &app).await {
        Ok(VerifiedWebhook(event)) => {
            app.events.lock().unwrap().push(event);
            StatusCode::OK
        }
        Err(rejection) => StatusCode::from_u16(rejection.status()).unwrap(),
    }
}

#[tokio::test(start_paused = true)]
async fn the_mock_retries_a_failing_receiver_one_then_two_minutes_later() {
    use std::time::Duration;
    let (server, client) = crate::common::mock().await;
    let receiver = Flaky {
        verifier: WebhookVerifier::new(SECRET),
        failures: 2,
        arrivals: Arc::default(),
        events: Arc::default(),
    };
    let base = serve(
        axum::Router::new()
            .route("/hook", any(flaky))
            .with_state(receiver.clone()),
    )
    .await;
    server.set_webhook_receiver(crate::common::TENANT, &format!("{base}/hook"), SECRET);
    let created = crate::common::save_comment(&client, "Hi", "p")
        .await
        .unwrap();

    // Half a minute on: the first attempt failed; the queue shows it with its count.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let pending = client.get_pending_webhook_events().send().await.unwrap();
    assert_eq!(pending.pending_webhook_events.len(), 1);
    let event = &pending.pending_webhook_events[0];
    assert_eq!(
        (
            event.attempt_count,
            event.event_type,
            event.comment_id.as_str()
        ),
        (1.0, 0.0, created.comment.id.as_str())
    );
    assert_eq!(pending_count(&client).await, 1.0);

    tokio::time::sleep(Duration::from_secs(300)).await;
    let arrivals = receiver.arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 3, "two failures, then the success");
    assert_eq!(arrivals[1] - arrivals[0], Duration::from_secs(60));
    assert_eq!(arrivals[2] - arrivals[1], Duration::from_secs(120));
    let events = receiver.events.lock().unwrap().clone();
    assert!(matches!(&events[..], [WebhookEvent::Saved(c)] if c.id == created.comment.id));
    assert_eq!(pending_count(&client).await, 0.0);
}

#[tokio::test]
async fn the_test_payload_check_passes_for_a_verifying_receiver_only() {
    let (server, _) = crate::common::mock().await;
    let verifying = App {
        verifier: WebhookVerifier::new(SECRET),
        seen: Arc::default(),
    };
    let good = serve(
        axum::Router::new()
            .route("/hook", any(receive))
            .with_state(verifying),
    )
    .await;
    server.set_webhook_receiver(crate::common::TENANT, &format!("{good}/hook"), SECRET);
    let verdict = server
        .send_webhook_test_payload(crate::common::TENANT)
        .await
        .unwrap();
    assert_eq!(
        (verdict.right_secret, verdict.wrong_secret),
        (Some(200), Some(401))
    );
    assert!(verdict.passed());

    let careless =
        serve(axum::Router::new().route("/hook", any(|| async { StatusCode::OK }))).await;
    server.set_webhook_receiver(crate::common::TENANT, &format!("{careless}/hook"), SECRET);
    let verdict = server
        .send_webhook_test_payload(crate::common::TENANT)
        .await
        .unwrap();
    assert_eq!(verdict.wrong_secret, Some(200));
    assert!(!verdict.passed());
}

/// What `GetPendingWebhookEventCount` says is still queued.
async fn pending_count(client: &fastcomments::Client) -> f64 {
    client
        .get_pending_webhook_event_count()
        .send()
        .await
        .unwrap()
        .count
}
