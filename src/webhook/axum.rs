//! An axum extractor for webhooks (feature `webhook-axum`): reads the raw body within the
//! verifier's limit, verifies it, and answers a refused delivery with its status (401,
//! 400, 405 or 413), so a handler only applies the event.
//!
//! ```no_run
//! use axum::{Router, http::StatusCode, routing::any};
//! use fastcomments::webhook::{WebhookEvent, WebhookVerifier, axum::VerifiedWebhook};
//!
//! async fn webhook(VerifiedWebhook(event): VerifiedWebhook) -> StatusCode {
//!     // FastComments re-delivers until it gets a success: apply idempotently, by id.
//!     match event {
//!         WebhookEvent::Deleted { id, .. } => println!("delete {id}"),
//!         other => println!("upsert {}", other.comment_id()),
//!     }
//!     StatusCode::OK
//! }
//!
//! # async fn serve() {
//! let verifier = WebhookVerifier::new(std::env::var("FASTCOMMENTS_API_SECRET").unwrap());
//! let app = Router::new().route("/fastcomments", any(webhook)).with_state(verifier);
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await.unwrap();
//! axum::serve(listener, app).await.unwrap();
//! # }
//! ```

use axum::extract::{FromRef, FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{Rejection, WebhookEvent, WebhookVerifier};

/// A verified delivery's event. The router's state must give a [`WebhookVerifier`]
/// (`FromRef`).
#[derive(Debug, Clone)]
pub struct VerifiedWebhook(pub WebhookEvent);

impl<S> FromRequest<S> for VerifiedWebhook
where
    S: Send + Sync,
    WebhookVerifier: FromRef<S>,
{
    type Rejection = Rejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Rejection> {
        let verifier = WebhookVerifier::from_ref(state);
        let limit = verifier.body_limit();
        let too_large = Rejection::TooLarge { limit };
        let announced = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if announced.is_some_and(|n| n > limit as u64) {
            return Err(too_large);
        }
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, limit).await.map_err(|e| {
            if e.to_string().contains("length limit") {
                too_large
            } else {
                Rejection::MalformedBody(format!("the body could not be read: {e}"))
            }
        })?;
        verifier
            .verify(parts.method.as_str(), &parts.headers, &body)
            .map(VerifiedWebhook)
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::UNAUTHORIZED);
        (status, self.to_string()).into_response()
    }
}
