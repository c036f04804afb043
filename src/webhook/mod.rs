//! Receiving FastComments' webhooks (feature `webhook`): verify a delivery and read its
//! event. With feature `webhook-axum`, an extractor does it in an axum handler
//! ([`axum::VerifiedWebhook`]); [`testing`] builds deliveries for your own tests.
//!
//! FastComments signs a delivery with the tenant's API secret:
//! `X-FastComments-Timestamp` (seconds or milliseconds: its guides disagree, both are
//! accepted) and `X-FastComments-Signature: sha256=<hex>`, the HMAC-SHA256 of
//! `"<timestamp>.<raw body>"`. It also sends the secret itself in a `token` header, the
//! older scheme. The verifier's rules:
//!
//! - a request with a signature is judged by its signature alone: a wrong one is refused
//!   even when `token` is right, a timestamp outside the window (300 s by default, both
//!   ways) is refused;
//! - a request without one is judged by `token`, unless signatures are required
//!   ([`WebhookVerifier::require_signature`]);
//! - every comparison is constant-time, and the secret is never in an error, a `Debug`
//!   or a log.
//!
//! FastComments re-delivers an event until it gets a success (after 1 minute, then 2,
//! ...), and a delivery whose success answer was lost comes again: apply each event
//! idempotently, keyed by the comment's `id`.
//!
//! ```
//! use fastcomments::webhook::{WebhookEvent, WebhookVerifier, testing::WebhookSigner};
//! let verifier = WebhookVerifier::new("my-api-secret");
//! // A delivery as FastComments sends it (here made by the test signer):
//! let delivery = WebhookSigner::new("my-api-secret").created(r#"{"id": "c1", "commentHTML": "<p>Hi</p>"}"#);
//! match verifier.verify(&delivery.method, &delivery.headers, &delivery.body) {
//!     Ok(WebhookEvent::Saved(comment)) => assert_eq!(comment.id, "c1"),
//!     Ok(other) => panic!("{other:?}"),
//!     Err(rejection) => panic!("answer HTTP {}: {rejection}", rejection.status()),
//! }
//! ```

#[cfg(feature = "webhook-axum")]
pub mod axum;
mod event;
pub mod testing;
mod verify;

pub use event::{WebhookComment, WebhookEvent, WebhookMention};
pub use verify::{
    Rejection, WebhookConfigError, WebhookEventType, WebhookMethods, WebhookVerifier,
};

/// The header with the delivery's timestamp.
pub const TIMESTAMP_HEADER: &str = "x-fastcomments-timestamp";
/// The header with the delivery's signature (`sha256=<hex>`).
pub const SIGNATURE_HEADER: &str = "x-fastcomments-signature";
/// The older scheme's header, holding the API secret itself.
pub const TOKEN_HEADER: &str = "token";
