//! Axum extractors for webhooks (feature `webhook-axum`): each reads the raw body within
//! the verifier's limit, verifies it, and answers a refused delivery with its status
//! (401, 400, 405 or 413), so a handler only applies the event.
//!
//! FastComments gives each event type its own endpoint URL (WEBHOOKS.md) and nothing in
//! a delivery names the event, so the route says what happened: one route per event
//! type, each with the extractor of its type, which accepts whatever method the admin
//! chose for it. [`VerifiedWebhook`] is for one route serving several types, told apart
//! by distinct methods ([`WebhookVerifier::methods`]).
//!
//! ```no_run
//! use axum::{Router, http::StatusCode, routing::any};
//! use fastcomments::webhook::WebhookVerifier;
//! use fastcomments::webhook::axum::{CreatedWebhook, DeletedWebhook, UpdatedWebhook};
//!
//! // FastComments re-delivers until it gets a success: apply idempotently, by id.
//! async fn created(CreatedWebhook(comment): CreatedWebhook) -> StatusCode {
//!     println!("insert {}", comment.id);
//!     StatusCode::OK
//! }
//! async fn updated(UpdatedWebhook(comment): UpdatedWebhook) -> StatusCode {
//!     println!("update {}", comment.id);
//!     StatusCode::OK
//! }
//! async fn deleted(DeletedWebhook { id, .. }: DeletedWebhook) -> StatusCode {
//!     println!("delete {id}");
//!     StatusCode::OK
//! }
//!
//! # async fn serve() {
//! let verifier = WebhookVerifier::new(std::env::var("FASTCOMMENTS_API_SECRET").unwrap());
//! // In FastComments' admin: the create URL .../comment-created, and so on.
//! let app = Router::new()
//!     .route("/fastcomments/comment-created", any(created))
//!     .route("/fastcomments/comment-updated", any(updated))
//!     .route("/fastcomments/comment-deleted", any(deleted))
//!     .with_state(verifier);
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await.unwrap();
//! axum::serve(listener, app).await.unwrap();
//! # }
//! ```

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{Rejection, WebhookComment, WebhookEvent, WebhookVerifier};

/// A verified delivery's event, from the verifier's binding or its methods
/// ([`WebhookVerifier::verify`]). The router's state must give a [`WebhookVerifier`]
/// (`FromRef`).
#[derive(Debug, Clone)]
pub struct VerifiedWebhook(pub WebhookEvent);

/// A verified delivery on the create endpoint, whatever its method: the new comment.
#[derive(Debug, Clone)]
pub struct CreatedWebhook(pub WebhookComment);

/// A verified delivery on the update endpoint, whatever its method: the changed comment.
#[derive(Debug, Clone)]
pub struct UpdatedWebhook(pub WebhookComment);

/// A verified delivery on the delete endpoint, whatever its method.
#[derive(Debug, Clone)]
pub struct DeletedWebhook {
    /// The removed comment's id.
    pub id: String,
    /// The comment as it was, when the body carries more than its id (FastComments
    /// sends it whole since November 2023; the admin's test payload has the id alone).
    pub comment: Option<WebhookComment>,
}

/// The verifier from the state, and the request's parts and body read within its limit.
async fn read<S>(request: Request, state: &S) -> Result<(WebhookVerifier, Parts, Bytes), Rejection>
where
    S: Send + Sync,
    WebhookVerifier: FromRef<S>,
{
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
    Ok((verifier, parts, body))
}

/// The comment of a verified delivery, whatever its method (the route is the event), and
/// whether the body carried its id alone.
async fn comment<S>(request: Request, state: &S) -> Result<(WebhookComment, bool), Rejection>
where
    S: Send + Sync,
    WebhookVerifier: FromRef<S>,
{
    let (verifier, parts, body) = read(request, state).await?;
    verifier.verified_comment(&parts.headers, &body)
}

impl<S> FromRequest<S> for VerifiedWebhook
where
    S: Send + Sync,
    WebhookVerifier: FromRef<S>,
{
    type Rejection = Rejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Rejection> {
        let (verifier, parts, body) = read(request, state).await?;
        verifier
            .verify(parts.method.as_str(), &parts.headers, &body)
            .map(VerifiedWebhook)
    }
}

impl<S> FromRequest<S> for CreatedWebhook
where
    S: Send + Sync,
    WebhookVerifier: FromRef<S>,
{
    type Rejection = Rejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Rejection> {
        comment(request, state)
            .await
            .map(|(c, _)| CreatedWebhook(c))
    }
}

impl<S> FromRequest<S> for UpdatedWebhook
where
    S: Send + Sync,
    WebhookVerifier: FromRef<S>,
{
    type Rejection = Rejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Rejection> {
        comment(request, state)
            .await
            .map(|(c, _)| UpdatedWebhook(c))
    }
}

impl<S> FromRequest<S> for DeletedWebhook
where
    S: Send + Sync,
    WebhookVerifier: FromRef<S>,
{
    type Rejection = Rejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Rejection> {
        let (comment, id_only) = comment(request, state).await?;
        Ok(DeletedWebhook {
            id: comment.id.clone(),
            comment: (!id_only).then_some(comment),
        })
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::UNAUTHORIZED);
        (status, self.to_string()).into_response()
    }
}
