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

/// The tenant's API secret: in the mock, its API key.
const SECRET: &str = crate::common::API_KEY;

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
    server.set_webhook_receiver(crate::common::TENANT, &format!("{base}/hook"));
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
    server.set_webhook_receiver(crate::common::TENANT, &format!("{good}/hook"));
    let verdict = server
        .send_webhook_test_payload(crate::common::TENANT)
        .await
        .unwrap();
    assert_eq!(verdict.endpoints.len(), 3, "one per event type");
    for endpoint in &verdict.endpoints {
        assert_eq!(
            (endpoint.right_secret, endpoint.wrong_secret),
            (Some(200), Some(401)),
            "{endpoint:?}"
        );
    }
    assert!(verdict.passed());

    let careless =
        serve(axum::Router::new().route("/hook", any(|| async { StatusCode::OK }))).await;
    server.set_webhook_receiver(crate::common::TENANT, &format!("{careless}/hook"));
    let verdict = server
        .send_webhook_test_payload(crate::common::TENANT)
        .await
        .unwrap();
    assert!(
        verdict
            .endpoints
            .iter()
            .all(|e| e.wrong_secret == Some(200))
    );
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

/// Every configuration FastComments' admin allows (create: POST or PUT; update: POST or
/// PUT; delete: DELETE, POST or PUT) × the event sent × every delivered method × a body
/// with the whole comment or the id alone, through a verifier bound to each endpoint and
/// one shared endpoint. A delivery is never reported as another event, and a bound
/// endpoint never refuses a valid delivery for its method.
#[test]
fn no_configuration_reports_a_delivery_as_another_event() {
    use fastcomments::webhook::{WebhookEventType, WebhookMethods};
    use reqwest::Method;
    let full = r#"{"id": "c1", "urlId": "p", "comment": "Hi", "commentHTML": "<p>Hi</p>"}"#;
    let id_only = r#"{"id": "c1"}"#;
    let delivered = [
        Method::DELETE,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::GET,
    ];
    let kind = |event: &WebhookEvent| -> &'static str {
        match event {
            WebhookEvent::Created(_) => "create",
            WebhookEvent::Updated(_) => "update",
            WebhookEvent::Saved(_) => "create-or-update",
            WebhookEvent::Deleted { .. } => "delete",
            _ => "other",
        }
    };
    let signer = WebhookSigner::new(SECRET);
    let (mut checked, mut refused_configs) = (0, 0);
    for create in [Method::POST, Method::PUT] {
        for update in [Method::POST, Method::PUT] {
            for delete in [Method::DELETE, Method::POST, Method::PUT] {
                let methods =
                    WebhookMethods::new(create.clone(), update.clone(), delete.clone()).unwrap();
                let ambiguous = delete == create || delete == update;
                let shared = WebhookVerifier::new(SECRET).methods(methods.clone());
                assert_eq!(shared.is_err(), ambiguous, "{methods:?}");
                refused_configs += usize::from(ambiguous);
                for sent in WebhookEventType::ALL {
                    for body in [full, id_only] {
                        for method in &delivered {
                            let d = signer.sign(method.as_str(), body.into());
                            // The endpoint of the event sent: always that event.
                            let bound = WebhookVerifier::new(SECRET).endpoint(sent);
                            let event = bound.verify(&d.method, &d.headers, &d.body).unwrap();
                            assert_eq!(kind(&event), sent.to_string(), "{methods:?} {method}");
                            if let WebhookEvent::Deleted { comment, .. } = &event {
                                assert_eq!(comment.is_some(), body == full);
                            } else {
                                assert_eq!(event.comment_id(), "c1");
                            }
                            checked += 1;
                            // One endpoint for all: only what the method can say.
                            let Ok(shared) = &shared else { continue };
                            let answer = shared.verify(&d.method, &d.headers, &d.body);
                            if method == methods.get(sent) {
                                let event = answer.unwrap();
                                assert!(
                                    kind(&event).contains(&sent.to_string()),
                                    "{methods:?}: {sent} sent with {method} read as {event:?}"
                                );
                            } else if let Ok(event) = answer {
                                // Another type's method: read as that type, never as
                                // one whose method it is not.
                                let read = kind(&event);
                                assert!(
                                    WebhookEventType::ALL
                                        .iter()
                                        .any(|t| read.contains(&t.to_string())
                                            && methods.get(*t) == method),
                                    "{methods:?}: {method} read as {read}"
                                );
                            } else {
                                assert_eq!(answer.unwrap_err().status(), 405);
                                assert!(
                                    !WebhookEventType::ALL
                                        .iter()
                                        .any(|t| methods.get(*t) == method)
                                );
                            }
                        }
                    }
                }
            }
        }
    }
    assert_eq!(checked, 12 * 3 * 2 * 5);
    assert_eq!(
        refused_configs, 6,
        "delete sharing a method with create or update"
    );
}

/// FastComments' admin with an endpoint per event type, every one with POST: the mock
/// delivers each change to its own route, and the route's extractor reads it as that
/// event (a delete carries the whole comment, as FastComments sends it since 2023).
#[tokio::test]
async fn per_event_endpoints_with_one_method_deliver_each_change_as_its_event() {
    use fastcomments::webhook::WebhookEventType;
    use fastcomments::webhook::axum::{CreatedWebhook, DeletedWebhook, UpdatedWebhook};
    use reqwest::Method;
    type Log = Arc<Mutex<Vec<(String, String, bool)>>>;
    #[derive(Clone)]
    struct Receiver {
        verifier: WebhookVerifier,
        log: Log,
        done: Arc<tokio::sync::Notify>,
    }
    impl axum::extract::FromRef<Receiver> for WebhookVerifier {
        fn from_ref(r: &Receiver) -> WebhookVerifier {
            r.verifier.clone()
        }
    }
    fn record(r: &Receiver, kind: &str, id: &str, whole: bool) -> StatusCode {
        r.log.lock().unwrap().push((kind.into(), id.into(), whole));
        r.done.notify_one();
        StatusCode::OK
    }
    let receiver = Receiver {
        verifier: WebhookVerifier::new(SECRET),
        log: Log::default(),
        done: Arc::default(),
    };
    let base = serve(
        axum::Router::new()
            .route(
                "/created",
                any(
                    |State(r): State<Receiver>, CreatedWebhook(c): CreatedWebhook| async move {
                        record(&r, "created", &c.id, c.comment.is_some())
                    },
                ),
            )
            .route(
                "/updated",
                any(
                    |State(r): State<Receiver>, UpdatedWebhook(c): UpdatedWebhook| async move {
                        record(&r, "updated", &c.id, c.comment.is_some())
                    },
                ),
            )
            .route(
                "/deleted",
                any(|State(r): State<Receiver>, d: DeletedWebhook| async move {
                    record(&r, "deleted", &d.id, d.comment.is_some())
                }),
            )
            .with_state(receiver.clone()),
    )
    .await;
    let (server, client) = crate::common::mock().await;
    for (event_type, path) in [
        (WebhookEventType::Create, "created"),
        (WebhookEventType::Update, "updated"),
        (WebhookEventType::Delete, "deleted"),
    ] {
        server
            .set_webhook_endpoint(
                crate::common::TENANT,
                event_type,
                &format!("{base}/{path}"),
                Method::POST,
            )
            .unwrap();
    }
    assert!(
        server
            .set_webhook_endpoint(
                crate::common::TENANT,
                WebhookEventType::Create,
                &base,
                Method::DELETE
            )
            .is_err(),
        "FastComments offers no DELETE for a new comment"
    );
    let wait_for = |n: usize| {
        let r = receiver.clone();
        async move {
            while r.log.lock().unwrap().len() < n {
                r.done.notified().await;
            }
        }
    };
    let created = crate::common::save_comment(&client, "Hi", "p")
        .await
        .unwrap();
    let id = created.comment.id.clone();
    wait_for(1).await;
    client
        .update_comment()
        .id(&id)
        .body_map(|b| b.comment(Some("Hi, edited".to_string())))
        .send()
        .await
        .unwrap();
    wait_for(2).await;
    client.delete_comment().id(&id).send().await.unwrap();
    wait_for(3).await;
    let log = receiver.log.lock().unwrap().clone();
    assert_eq!(
        log,
        vec![
            ("created".to_string(), id.clone(), true),
            ("updated".to_string(), id.clone(), true),
            ("deleted".to_string(), id, true),
        ]
    );
    let verdict = server
        .send_webhook_test_payload(crate::common::TENANT)
        .await
        .unwrap();
    assert!(verdict.passed(), "{verdict:?}");
    // The admin's test bodies: a whole dummy comment for create and update, an id alone
    // for delete.
    let log = receiver.log.lock().unwrap().clone();
    let wholes: Vec<(&str, bool)> = log[3..].iter().map(|(k, _, w)| (k.as_str(), *w)).collect();
    assert_eq!(
        wholes,
        [("created", true), ("updated", true), ("deleted", false)]
    );
}

/// A burst of changes to many comments: each comment's deliveries arrive in the order
/// its changes happened (created, updated, deleted), so an upsert-by-id receiver never
/// brings a deleted comment back.
#[tokio::test]
async fn the_mock_delivers_each_comments_changes_in_order() {
    type Log = Arc<Mutex<Vec<(char, String)>>>;
    let log = Log::default();
    let done = Arc::new(tokio::sync::Notify::new());
    // The receiver holds its first answer until every change is made, so the rest of the
    // deliveries are due together.
    let (open, gate) = tokio::sync::watch::channel(false);
    let route = |kind: char| {
        let (log, done, gate) = (log.clone(), done.clone(), gate.clone());
        any(move |body: axum::body::Bytes| {
            let (log, done, mut gate) = (log.clone(), done.clone(), gate.clone());
            async move {
                gate.wait_for(|open| *open).await.unwrap();
                let id = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                log.lock().unwrap().push((kind, id));
                done.notify_one();
                StatusCode::OK
            }
        })
    };
    let base = serve(
        axum::Router::new()
            .route("/c", route('c'))
            .route("/u", route('u'))
            .route("/d", route('d')),
    )
    .await;
    let (server, client) = crate::common::mock().await;
    for (event_type, path) in [
        (fastcomments::webhook::WebhookEventType::Create, "c"),
        (fastcomments::webhook::WebhookEventType::Update, "u"),
        (fastcomments::webhook::WebhookEventType::Delete, "d"),
    ] {
        server
            .set_webhook_endpoint(
                crate::common::TENANT,
                event_type,
                &format!("{base}/{path}"),
                reqwest::Method::POST,
            )
            .unwrap();
    }
    let mut ids = Vec::new();
    for n in 0..20 {
        let id = crate::common::save_comment(&client, &format!("c{n}"), "p")
            .await
            .unwrap()
            .comment
            .id;
        client
            .update_comment()
            .id(&id)
            .body_map(|b| b.comment(Some("edited".to_string())))
            .send()
            .await
            .unwrap();
        client.delete_comment().id(&id).send().await.unwrap();
        ids.push(id);
    }
    open.send(true).unwrap();
    while log.lock().unwrap().len() < 60 {
        done.notified().await;
    }
    let log = log.lock().unwrap().clone();
    for id in ids {
        let kinds: String = log
            .iter()
            .filter(|(_, i)| *i == id)
            .map(|(k, _)| *k)
            .collect();
        assert_eq!(kinds, "cud", "comment {id}");
    }
}

/// One tenant cannot remove another's queued delivery: a 404, and the event is still
/// delivered once its receiver answers.
#[tokio::test(start_paused = true)]
async fn a_tenant_cannot_drop_another_tenants_pending_webhook() {
    use std::time::Duration;
    let (server, client) = crate::common::mock().await;
    server.add_tenant("other", "other-key");
    let other = server.client("other", "other-key").unwrap();
    let receiver = Flaky {
        verifier: WebhookVerifier::new(SECRET),
        failures: 1,
        arrivals: Arc::default(),
        events: Arc::default(),
    };
    let base = serve(
        axum::Router::new()
            .route("/hook", any(flaky))
            .with_state(receiver.clone()),
    )
    .await;
    server.set_webhook_receiver(crate::common::TENANT, &format!("{base}/hook"));
    crate::common::save_comment(&client, "Hi", "p")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(30)).await;
    let pending = client.get_pending_webhook_events().send().await.unwrap();
    let id = pending.pending_webhook_events[0].id.clone();
    let refused = other
        .delete_pending_webhook_event()
        .id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(404));
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(receiver.events.lock().unwrap().len(), 1, "still delivered");
    assert_eq!(pending_count(&client).await, 0.0);
}
