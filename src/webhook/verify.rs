//! [`WebhookVerifier`]: is this delivery from FastComments, and what does it say?

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use reqwest::Method;
use reqwest::header::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::client::Secret;

use super::event::{WebhookComment, WebhookEvent, carries_only_id};
use super::{SIGNATURE_HEADER, TIMESTAMP_HEADER, TOKEN_HEADER};

/// Why a delivery was refused; [`status`](Rejection::status) is the HTTP answer to give.
/// Neither `Display` nor `Debug` shows the secret or what was sent in its place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// No signature and no `token` (or no signature where one is required): 401.
    #[error("the delivery carries no credentials{}", if *.signature_required { " (a signature is required)" } else { "" })]
    MissingCredentials {
        /// Whether signatures are required.
        signature_required: bool,
    },
    /// The signature is malformed or does not match the body: 401.
    #[error("the signature does not match: {0}")]
    BadSignature(&'static str),
    /// The timestamp is older than the window allows: 401.
    #[error("the delivery is {age_secs} s old, more than the {window_secs} s allowed")]
    TooOld {
        /// How old, in seconds.
        age_secs: u64,
        /// The window.
        window_secs: u64,
    },
    /// The timestamp is further in the future than the window allows: 401.
    #[error("the delivery is dated {ahead_secs} s ahead, more than the {window_secs} s allowed")]
    TooNew {
        /// How far ahead, in seconds.
        ahead_secs: u64,
        /// The window.
        window_secs: u64,
    },
    /// The `token` header is not the API secret: 401.
    #[error("the token header is not the API secret")]
    BadToken,
    /// The endpoint serves several event types and the method is none of theirs: 405.
    /// Never given by a verifier bound to one event type ([`WebhookVerifier::endpoint`]):
    /// there the route, not the method, says what happened.
    #[error("{0} is not a method configured for the event types of this endpoint")]
    MethodNotAllowed(String),
    /// The body is larger than the limit: 413.
    #[error("the body is larger than the {limit}-byte limit")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The body is not a comment: 400.
    #[error("the body is not a FastComments comment: {0}")]
    MalformedBody(String),
}

impl Rejection {
    /// The HTTP status to answer: 401 for credentials (FastComments' "send test payload"
    /// checks exactly this), 400, 405 or 413 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            Rejection::MethodNotAllowed(_) => 405,
            Rejection::TooLarge { .. } => 413,
            Rejection::MalformedBody(_) => 400,
            _ => 401,
        }
    }
}

/// The three webhook event types. FastComments' admin (Data → Webhooks) gives each its own
/// endpoint URL and its own method (WEBHOOKS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WebhookEventType {
    /// A comment was added.
    Create,
    /// A comment was changed.
    Update,
    /// A comment was removed.
    Delete,
}

impl WebhookEventType {
    /// The three, in FastComments' admin order.
    pub const ALL: [WebhookEventType; 3] = [
        WebhookEventType::Create,
        WebhookEventType::Update,
        WebhookEventType::Delete,
    ];

    /// The methods FastComments' admin offers for this event type: POST or PUT for create
    /// and update, DELETE, POST or PUT for delete.
    pub fn offered_methods(self) -> &'static [Method] {
        match self {
            WebhookEventType::Create | WebhookEventType::Update => &[Method::POST, Method::PUT],
            WebhookEventType::Delete => &[Method::DELETE, Method::POST, Method::PUT],
        }
    }

    /// Fails with [`WebhookConfigError::MethodNotOffered`] for a method FastComments'
    /// admin does not offer for this event type.
    pub(crate) fn check_offered(self, method: &Method) -> Result<(), WebhookConfigError> {
        let offered = self.offered_methods();
        if offered.contains(method) {
            return Ok(());
        }
        Err(WebhookConfigError::MethodNotOffered {
            event_type: self,
            method: method.clone(),
            offered: offered
                .iter()
                .map(Method::as_str)
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// FastComments' default method: PUT for create and update, DELETE for delete.
    pub fn default_method(self) -> Method {
        match self {
            WebhookEventType::Create | WebhookEventType::Update => Method::PUT,
            WebhookEventType::Delete => Method::DELETE,
        }
    }
}

impl fmt::Display for WebhookEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WebhookEventType::Create => "create",
            WebhookEventType::Update => "update",
            WebhookEventType::Delete => "delete",
        })
    }
}

/// Why a webhook configuration was refused when it was built, never at delivery time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookConfigError {
    /// FastComments' admin does not offer this method for this event type.
    #[error("FastComments does not offer {method} for {event_type} webhooks (it offers {offered})")]
    MethodNotOffered {
        /// The event type.
        event_type: WebhookEventType,
        /// The method given.
        method: Method,
        /// What it offers, e.g. `POST, PUT`.
        offered: String,
    },
    /// One endpoint cannot serve a delete and another event type with the same method:
    /// since November 2023 a delete carries the whole comment, so nothing in a delivery
    /// would tell them apart. Give each event type its own endpoint
    /// ([`WebhookVerifier::endpoint`]) or distinct methods.
    #[error(
        "{method} is configured for both {first} and {second}: one endpoint cannot tell them apart; bind a verifier to each event type's endpoint instead"
    )]
    Ambiguous {
        /// The shared method.
        method: Method,
        /// One event type using it.
        first: WebhookEventType,
        /// The other.
        second: WebhookEventType,
    },
}

/// The HTTP method FastComments uses for each event type, as configured in its admin.
///
/// ```
/// use fastcomments::webhook::WebhookMethods;
/// use reqwest::Method;
/// let methods = WebhookMethods::new(Method::POST, Method::POST, Method::DELETE).unwrap();
/// assert_eq!(methods.update(), &Method::POST);
/// // FastComments offers no PATCH, and no DELETE for a new comment:
/// assert!(WebhookMethods::new(Method::DELETE, Method::PUT, Method::DELETE).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookMethods {
    create: Method,
    update: Method,
    delete: Method,
}

impl Default for WebhookMethods {
    /// FastComments' defaults: PUT, PUT, DELETE.
    fn default() -> Self {
        WebhookMethods {
            create: Method::PUT,
            update: Method::PUT,
            delete: Method::DELETE,
        }
    }
}

impl WebhookMethods {
    /// The methods for create, update and delete. Fails with
    /// [`WebhookConfigError::MethodNotOffered`] for a method FastComments' admin does not
    /// offer for that event type.
    pub fn new(
        create: Method,
        update: Method,
        delete: Method,
    ) -> Result<WebhookMethods, WebhookConfigError> {
        let methods = WebhookMethods {
            create,
            update,
            delete,
        };
        for event_type in WebhookEventType::ALL {
            event_type.check_offered(methods.get(event_type))?;
        }
        Ok(methods)
    }

    /// The method for a new comment.
    pub fn create(&self) -> &Method {
        &self.create
    }

    /// The method for a changed comment.
    pub fn update(&self) -> &Method {
        &self.update
    }

    /// The method for a removed comment.
    pub fn delete(&self) -> &Method {
        &self.delete
    }

    /// The method for `event_type`.
    pub fn get(&self, event_type: WebhookEventType) -> &Method {
        match event_type {
            WebhookEventType::Create => &self.create,
            WebhookEventType::Update => &self.update,
            WebhookEventType::Delete => &self.delete,
        }
    }

    /// Whether one endpoint can serve all three event types with these methods: delete's
    /// method must differ from the other two (create and update may share one: both are
    /// an upsert by id, [`WebhookEvent::Saved`]).
    fn check_distinct(&self) -> Result<(), WebhookConfigError> {
        for other in [WebhookEventType::Create, WebhookEventType::Update] {
            if *self.get(other) == self.delete {
                return Err(WebhookConfigError::Ambiguous {
                    method: self.delete.clone(),
                    first: other,
                    second: WebhookEventType::Delete,
                });
            }
        }
        Ok(())
    }
}

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Verifies webhook deliveries with the tenant's API secret.
///
/// ```
/// use std::time::Duration;
/// use fastcomments::webhook::WebhookVerifier;
/// let verifier = WebhookVerifier::new("my-api-secret")
///     .require_signature(true)          // refuse the older `token`-only scheme
///     .window(Duration::from_secs(120))
///     .max_body_size(256 * 1024);
/// assert!(!format!("{verifier:?}").contains("my-api-secret"));
/// ```
#[derive(Clone)]
pub struct WebhookVerifier {
    secret: Secret<Arc<[u8]>>,
    window: Duration,
    require_signature: bool,
    methods: WebhookMethods,
    endpoint: Option<WebhookEventType>,
    max_body_size: usize,
    clock: Clock,
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("secret", &self.secret)
            .field("window", &self.window)
            .field("require_signature", &self.require_signature)
            .field("methods", &self.methods)
            .field("endpoint", &self.endpoint)
            .field("max_body_size", &self.max_body_size)
            .finish_non_exhaustive()
    }
}

/// The default largest body: 1 MiB.
pub const DEFAULT_MAX_BODY_SIZE: usize = 1024 * 1024;

impl WebhookVerifier {
    /// A verifier for the tenant's API secret: signed or `token` deliveries, a 300 s
    /// window, bodies up to 1 MiB, serving all three event types on one endpoint with
    /// FastComments' default methods (PUT, PUT, DELETE) until told otherwise by
    /// [`endpoint`](Self::endpoint) or [`methods`](Self::methods).
    pub fn new(api_secret: impl AsRef<[u8]>) -> WebhookVerifier {
        WebhookVerifier {
            secret: Secret(Arc::from(api_secret.as_ref())),
            window: Duration::from_secs(300),
            require_signature: false,
            methods: WebhookMethods::default(),
            endpoint: None,
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            clock: Arc::new(SystemTime::now),
        }
    }

    /// How far a delivery's timestamp may be from now, either way (default 300 s).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Refuses deliveries without a signature (the `token`-only older scheme).
    pub fn require_signature(mut self, required: bool) -> Self {
        self.require_signature = required;
        self
    }

    /// Binds the verifier to the endpoint of one event type: every verified delivery is
    /// that event, whatever its method. This is the reliable way to know the event,
    /// since FastComments gives each event type its own URL and nothing in a delivery
    /// names it. A bound verifier never refuses a delivery for its method.
    ///
    /// ```
    /// use fastcomments::webhook::{WebhookEvent, WebhookEventType, WebhookVerifier, testing::WebhookSigner};
    /// let on_delete = WebhookVerifier::new("s3cret").endpoint(WebhookEventType::Delete);
    /// // A delete sent with POST, carrying the whole comment:
    /// let d = WebhookSigner::new("s3cret").sign("POST", br#"{"id": "c1", "comment": "Hi"}"#.to_vec());
    /// let event = on_delete.verify(&d.method, &d.headers, &d.body).unwrap();
    /// assert!(matches!(event, WebhookEvent::Deleted { id, comment: Some(_) } if id == "c1"));
    /// ```
    pub fn endpoint(mut self, event_type: WebhookEventType) -> Self {
        self.endpoint = Some(event_type);
        self
    }

    /// For one endpoint that serves all three event types: the methods configured in
    /// FastComments' admin, which then tell the events apart. Fails with
    /// [`WebhookConfigError::Ambiguous`] when delete shares its method with create or
    /// update (a delete carries the whole comment, so such a delivery could be either):
    /// give each event type its own endpoint instead. Ignored by a verifier bound with
    /// [`endpoint`](Self::endpoint).
    pub fn methods(mut self, methods: WebhookMethods) -> Result<Self, WebhookConfigError> {
        methods.check_distinct()?;
        self.methods = methods;
        Ok(self)
    }

    /// The largest body accepted (default 1 MiB).
    pub fn max_body_size(mut self, limit: usize) -> Self {
        self.max_body_size = limit;
        self
    }

    /// The clock the window is measured by (the system clock by default): for tests.
    pub fn clock(mut self, now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(now);
        self
    }

    /// The largest body accepted.
    pub fn body_limit(&self) -> usize {
        self.max_body_size
    }

    /// Verifies a delivery from its method, headers and **raw** body bytes (never a
    /// re-serialisation), and reads its event: the bound event type's
    /// ([`endpoint`](Self::endpoint)), or else the one its method is configured for
    /// ([`methods`](Self::methods)). Credentials are checked before the method, so a
    /// forgery is a 401 whatever its method.
    pub fn verify(
        &self,
        method: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<WebhookEvent, Rejection> {
        let (comment, id_only) = self.verified_comment(headers, body)?;
        let kinds = match self.endpoint {
            Some(event_type) => Kinds::only(event_type),
            None => self.kinds(method)?,
        };
        Ok(event(kinds, comment, id_only))
    }

    /// Verifies a delivery that arrived on the endpoint of `event_type`, whatever its
    /// method, and reads it as that event.
    pub fn verify_as(
        &self,
        event_type: WebhookEventType,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<WebhookEvent, Rejection> {
        let (comment, id_only) = self.verified_comment(headers, body)?;
        Ok(event(Kinds::only(event_type), comment, id_only))
    }

    /// The body's comment, and whether the body carried its id alone, once its size and
    /// credentials are checked.
    pub(crate) fn verified_comment(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(WebhookComment, bool), Rejection> {
        if body.len() > self.max_body_size {
            return Err(Rejection::TooLarge {
                limit: self.max_body_size,
            });
        }
        self.authenticate(headers, body)?;
        // The signature covers the raw bytes; the comment is read without a BOM.
        let body = crate::response::without_bom(body);
        let comment =
            serde_json::from_slice(body).map_err(|e| Rejection::MalformedBody(e.to_string()))?;
        Ok((comment, carries_only_id(body)))
    }

    /// Which event types `method` may carry on a shared endpoint; by construction
    /// ([`WebhookMethods::check_distinct`]) a delete's method is no other type's.
    fn kinds(&self, method: &str) -> Result<Kinds, Rejection> {
        let is = |m: &Method| m.as_str().eq_ignore_ascii_case(method);
        let kinds = Kinds {
            create: is(&self.methods.create),
            update: is(&self.methods.update),
            delete: is(&self.methods.delete),
        };
        if kinds.create || kinds.update || kinds.delete {
            Ok(kinds)
        } else {
            Err(Rejection::MethodNotAllowed(
                method.chars().take(16).collect(),
            ))
        }
    }

    fn authenticate(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), Rejection> {
        let signature = headers.get(SIGNATURE_HEADER);
        let timestamp = headers.get(TIMESTAMP_HEADER);
        if signature.is_some() || timestamp.is_some() {
            let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
                return Err(Rejection::BadSignature("a signature needs both headers"));
            };
            return self.check_signature(signature.as_bytes(), timestamp.as_bytes(), body);
        }
        if self.require_signature {
            return Err(Rejection::MissingCredentials {
                signature_required: true,
            });
        }
        let token = headers
            .get(TOKEN_HEADER)
            .ok_or(Rejection::MissingCredentials {
                signature_required: false,
            })?;
        // Hashing both sides first makes the comparison constant-time in the lengths too.
        let (given, expected) = (
            Sha256::digest(token.as_bytes()),
            Sha256::digest(&self.secret.0),
        );
        if bool::from(given.ct_eq(&expected)) {
            Ok(())
        } else {
            Err(Rejection::BadToken)
        }
    }

    fn check_signature(
        &self,
        signature: &[u8],
        timestamp: &[u8],
        body: &[u8],
    ) -> Result<(), Rejection> {
        let hex = signature
            .strip_prefix(b"sha256=")
            .ok_or(Rejection::BadSignature("it does not start with sha256="))?;
        let expected = hex::decode(hex).map_err(|_| Rejection::BadSignature("it is not hex"))?;
        let seconds = timestamp_seconds(timestamp)?;
        self.check_window(seconds)?;
        signature_mac(&self.secret.0, timestamp, body)
            .verify_slice(&expected)
            .map_err(|_| Rejection::BadSignature("HMAC-SHA256 of timestamp.body differs"))
    }

    fn check_window(&self, seconds: i64) -> Result<(), Rejection> {
        let now = (self.clock)()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let window = self.window.as_secs();
        let delta = now.saturating_sub(seconds);
        if delta.unsigned_abs() <= window {
            Ok(())
        } else if delta > 0 {
            Err(Rejection::TooOld {
                age_secs: delta.unsigned_abs(),
                window_secs: window,
            })
        } else {
            Err(Rejection::TooNew {
                ahead_secs: delta.unsigned_abs(),
                window_secs: window,
            })
        }
    }
}

/// The HMAC-SHA256 of `"<timestamp>.<body>"` keyed with the API secret: what a delivery
/// is signed with (by FastComments, and by [`testing`](super::testing)).
pub(super) fn signature_mac(secret: &[u8], timestamp: &[u8], body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(timestamp);
    mac.update(b".");
    mac.update(body);
    mac
}

/// A timestamp header in seconds; milliseconds (13 digits and more) are divided down.
fn timestamp_seconds(raw: &[u8]) -> Result<i64, Rejection> {
    let value: i64 = std::str::from_utf8(raw)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or(Rejection::BadSignature("the timestamp is not an integer"))?;
    // `unsigned_abs`: `abs` of `i64::MIN` (a header can say it) overflows.
    Ok(if value.unsigned_abs() >= 100_000_000_000 {
        value / 1000
    } else {
        value
    })
}

/// The event types a delivery may be.
#[derive(Clone, Copy)]
struct Kinds {
    create: bool,
    update: bool,
    delete: bool,
}

impl Kinds {
    fn only(event_type: WebhookEventType) -> Kinds {
        Kinds {
            create: event_type == WebhookEventType::Create,
            update: event_type == WebhookEventType::Update,
            delete: event_type == WebhookEventType::Delete,
        }
    }
}

fn event(kinds: Kinds, comment: WebhookComment, id_only: bool) -> WebhookEvent {
    match (kinds.create, kinds.update, kinds.delete) {
        (_, _, true) => WebhookEvent::Deleted {
            id: comment.id.clone(),
            comment: (!id_only).then_some(comment),
        },
        (true, true, _) => WebhookEvent::Saved(comment),
        (true, false, _) => WebhookEvent::Created(comment),
        _ => WebhookEvent::Updated(comment),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::testing::{Delivery, WebhookSigner};

    const SECRET: &str = "whsec-0d1e2f";
    const NOW: i64 = 1_700_000_000;

    fn verifier() -> WebhookVerifier {
        WebhookVerifier::new(SECRET).clock(|| UNIX_EPOCH + Duration::from_secs(NOW as u64))
    }

    fn signer() -> WebhookSigner {
        WebhookSigner::new(SECRET).at_seconds(NOW)
    }

    fn check(v: &WebhookVerifier, d: &Delivery) -> Result<WebhookEvent, Rejection> {
        v.verify(&d.method, &d.headers, &d.body)
    }

    const BODY: &str = r#"{"id": "c1", "urlId": "post-1", "commentHTML": "<p>Hi</p>", "votes": 2.0, "brandNew": {"x": 1}}"#;

    #[test]
    fn a_valid_signature_in_seconds_or_milliseconds_gives_the_event() {
        for signer in [
            signer(),
            WebhookSigner::new(SECRET).at_millis(NOW * 1000 + 999),
        ] {
            let event = check(&verifier(), &signer.created(BODY)).unwrap();
            let WebhookEvent::Saved(comment) = event else {
                panic!("{event:?}")
            };
            assert_eq!(comment.id, "c1");
            assert_eq!(
                comment.votes,
                Some(2),
                "an integral float is read, unknown fields ignored"
            );
        }
    }

    #[test]
    fn every_forgery_is_a_401() {
        let v = verifier();
        let cases: Vec<(&str, Delivery)> = vec![
            ("one byte altered", signer().created(BODY).tampered()),
            (
                "wrong secret",
                WebhookSigner::new("other")
                    .at_seconds(NOW)
                    .created(BODY)
                    .token(SECRET),
            ),
            (
                "301 s old",
                WebhookSigner::new(SECRET)
                    .at_seconds(NOW - 301)
                    .created(BODY),
            ),
            (
                "301 s ahead",
                WebhookSigner::new(SECRET)
                    .at_seconds(NOW + 301)
                    .created(BODY),
            ),
            (
                "legacy, wrong token",
                signer().created(BODY).legacy().token("guess"),
            ),
            ("no credentials", {
                let mut d = signer().created(BODY).legacy();
                d.headers.remove(crate::webhook::TOKEN_HEADER);
                d
            }),
            ("no sha256= prefix", {
                let mut d = signer().created(BODY);
                let bare = d.headers[crate::webhook::SIGNATURE_HEADER]
                    .to_str()
                    .unwrap()[7..]
                    .to_owned();
                d.headers
                    .insert(crate::webhook::SIGNATURE_HEADER, bare.parse().unwrap());
                d
            }),
        ];
        for (what, delivery) in cases {
            let rejection = check(&v, &delivery).expect_err(what);
            assert_eq!(rejection.status(), 401, "{what}: {rejection}");
            let shown = format!("{rejection} {rejection:?} {v:?}");
            assert!(!shown.contains(SECRET), "{what} shows the secret: {shown}");
        }
        let at_edge = WebhookSigner::new(SECRET)
            .at_seconds(NOW - 300)
            .created(BODY);
        assert!(check(&v, &at_edge).is_ok(), "300 s is inside the window");
    }

    #[test]
    fn extreme_timestamps_are_refused_without_overflow() {
        let v = verifier();
        for ts in [i64::MIN, i64::MAX, -1, 0] {
            let d = WebhookSigner::new(SECRET).at_seconds(ts).created(BODY);
            assert_eq!(check(&v, &d).unwrap_err().status(), 401, "{ts}");
        }
    }

    #[test]
    fn the_legacy_token_is_accepted_unless_signatures_are_required() {
        let legacy = signer().created(BODY).legacy();
        assert!(check(&verifier(), &legacy).is_ok());
        let strict = verifier().require_signature(true);
        assert_eq!(
            check(&strict, &legacy),
            Err(Rejection::MissingCredentials {
                signature_required: true
            })
        );
        assert!(check(&strict, &signer().created(BODY)).is_ok());
    }

    #[test]
    fn a_wrong_signature_is_refused_even_with_the_right_token() {
        let forged = WebhookSigner::new("other")
            .at_seconds(NOW)
            .created(BODY)
            .token(SECRET);
        assert!(matches!(
            check(&verifier(), &forged),
            Err(Rejection::BadSignature(_))
        ));
    }

    #[test]
    fn deletes_methods_and_sizes() {
        let v = verifier();
        let only_id = check(&v, &signer().deleted(r#"{"id": "c9"}"#)).unwrap();
        assert_eq!(
            only_id,
            WebhookEvent::Deleted {
                id: "c9".into(),
                comment: None
            }
        );
        let whole = check(&v, &signer().deleted(BODY)).unwrap();
        assert!(matches!(
            whole,
            WebhookEvent::Deleted {
                comment: Some(_),
                ..
            }
        ));
        let post = signer().sign("POST", BODY.into());
        assert_eq!(check(&v, &post).unwrap_err().status(), 405);
        let big = signer().created(format!(
            r#"{{"id": "c1", "comment": "{}"}}"#,
            "x".repeat(2 << 20)
        ));
        assert_eq!(check(&v, &big).unwrap_err().status(), 413);
        assert_eq!(
            check(&v, &signer().created("[1]")).unwrap_err().status(),
            400
        );
        assert_eq!(
            check(&v, &signer().created(r#"{"urlId": "no id"}"#))
                .unwrap_err()
                .status(),
            400
        );
    }

    #[test]
    fn a_body_behind_a_byte_order_mark_is_read() {
        let body = format!("\u{FEFF}{BODY}");
        let event = check(&verifier(), &signer().created(body)).unwrap();
        assert_eq!(event.comment_id(), "c1");
    }

    #[test]
    fn distinct_methods_tell_created_from_updated() {
        let methods = WebhookMethods::new(Method::POST, Method::PUT, Method::DELETE).unwrap();
        let v = verifier().methods(methods.clone()).unwrap();
        let s = signer().methods(methods);
        assert!(matches!(
            check(&v, &s.created(BODY)),
            Ok(WebhookEvent::Created(_))
        ));
        assert!(matches!(
            check(&v, &s.updated(BODY)),
            Ok(WebhookEvent::Updated(_))
        ));
    }
}
