//! Deliveries signed as FastComments signs them, for testing a receiver: good ones,
//! tampered, stale, legacy (`token` only). The mock server sends its webhooks with the
//! same signer.
//!
//! ```
//! use fastcomments::webhook::{Rejection, WebhookVerifier, testing::WebhookSigner};
//! let verifier = WebhookVerifier::new("s3cret");
//! let signer = WebhookSigner::new("s3cret");
//! let body = r#"{"id": "c1"}"#;
//! let good = signer.deleted(body);
//! assert!(verifier.verify(&good.method, &good.headers, &good.body).is_ok());
//! let bad = signer.deleted(body).tampered();
//! let refused = verifier.verify(&bad.method, &bad.headers, &bad.body).unwrap_err();
//! assert_eq!(refused.status(), 401);
//! let old = signer.clone().stale().deleted(body);
//! assert!(matches!(verifier.verify(&old.method, &old.headers, &old.body), Err(Rejection::TooOld { .. })));
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::Mac;
use reqwest::header::{HeaderMap, HeaderValue};

use super::verify::{WebhookMethods, signature_mac};
use super::{SIGNATURE_HEADER, TIMESTAMP_HEADER, TOKEN_HEADER};
use crate::client::Secret;

/// One webhook request: what a receiver gets.
#[derive(Clone)]
#[non_exhaustive]
pub struct Delivery {
    /// The HTTP method.
    pub method: String,
    /// The headers: the signature's two, `token`, and `content-type`.
    pub headers: HeaderMap,
    /// The raw body.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("method", &self.method)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

impl Delivery {
    /// The same delivery with one byte of the body changed: its signature no longer
    /// matches.
    pub fn tampered(mut self) -> Delivery {
        match self.body.last_mut() {
            Some(byte) => *byte ^= 0x01,
            None => self.body.push(b' '),
        }
        self
    }

    /// The same delivery in the older scheme: the signature headers removed, `token` kept.
    pub fn legacy(mut self) -> Delivery {
        self.headers.remove(SIGNATURE_HEADER);
        self.headers.remove(TIMESTAMP_HEADER);
        self
    }

    /// The same delivery with another `token` header (e.g. a wrong secret).
    pub fn token(mut self, token: &str) -> Delivery {
        if let Ok(value) = HeaderValue::from_str(token) {
            self.headers.insert(TOKEN_HEADER, value);
        }
        self
    }

    /// The delivery as a request to `url`, for a receiver listening somewhere.
    pub fn request(&self, http: &reqwest::Client, url: &str) -> reqwest::RequestBuilder {
        let method =
            reqwest::Method::from_bytes(self.method.as_bytes()).unwrap_or(reqwest::Method::PUT);
        http.request(method, url)
            .headers(self.headers.clone())
            .body(self.body.clone())
    }
}

/// Signs deliveries with an API secret, as FastComments does. `Debug` hides the secret.
#[derive(Clone, Debug)]
pub struct WebhookSigner {
    secret: Secret<Vec<u8>>,
    methods: WebhookMethods,
    timestamp: Option<String>,
}

impl WebhookSigner {
    /// A signer for `api_secret`, timestamps in seconds from the system clock.
    pub fn new(api_secret: impl AsRef<[u8]>) -> WebhookSigner {
        WebhookSigner {
            secret: Secret(api_secret.as_ref().to_vec()),
            methods: WebhookMethods::default(),
            timestamp: None,
        }
    }

    /// Signs with this timestamp, in seconds.
    pub fn at_seconds(mut self, seconds: i64) -> WebhookSigner {
        self.timestamp = Some(seconds.to_string());
        self
    }

    /// Signs with this timestamp, in milliseconds.
    pub fn at_millis(mut self, millis: i64) -> WebhookSigner {
        self.timestamp = Some(millis.to_string());
        self
    }

    /// Signs ten minutes in the past: outside the default window.
    pub fn stale(self) -> WebhookSigner {
        let ten_minutes_ago = now_seconds().saturating_sub(600);
        self.at_seconds(ten_minutes_ago)
    }

    /// The methods configured in FastComments' admin.
    pub fn methods(mut self, methods: WebhookMethods) -> WebhookSigner {
        self.methods = methods;
        self
    }

    /// A new comment's delivery.
    pub fn created(&self, body: impl Into<Vec<u8>>) -> Delivery {
        self.sign(self.methods.create().as_str(), body.into())
    }

    /// A changed comment's delivery.
    pub fn updated(&self, body: impl Into<Vec<u8>>) -> Delivery {
        self.sign(self.methods.update().as_str(), body.into())
    }

    /// A removed comment's delivery.
    pub fn deleted(&self, body: impl Into<Vec<u8>>) -> Delivery {
        self.sign(self.methods.delete().as_str(), body.into())
    }

    /// A delivery of `body` with `method`, signed, with the `token` header as well.
    pub fn sign(&self, method: &str, body: Vec<u8>) -> Delivery {
        let timestamp = self
            .timestamp
            .clone()
            .unwrap_or_else(|| now_seconds().to_string());
        let mac = signature_mac(&self.secret.0, timestamp.as_bytes(), &body);
        let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        let mut headers = HeaderMap::new();
        let value = |s: &str| HeaderValue::from_str(s).expect("hex and digits are header-safe");
        headers.insert(TIMESTAMP_HEADER, value(&timestamp));
        headers.insert(SIGNATURE_HEADER, value(&signature));
        if let Ok(token) = HeaderValue::from_bytes(&self.secret.0) {
            headers.insert(TOKEN_HEADER, token);
        }
        headers.insert(reqwest::header::CONTENT_TYPE, value("application/json"));
        Delivery {
            method: method.to_owned(),
            headers,
            body,
        }
    }
}

fn now_seconds() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
}
