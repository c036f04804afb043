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
