//! The one error type of the crate.
//!
//! Every call made through [`Client`](crate::Client) fails with an [`Error`]: the
//! generated builders' `send()` returns progenitor's error type, which converts into this
//! one with `?` (or [`Error::from`]). FastComments may answer HTTP 200 with
//! `{"status": "failed", ...}`; such a body is an [`Error::Api`] whatever the HTTP status,
//! never a success value.

use std::fmt;

use serde::Deserialize;
use serde_json::{Map, Value};

/// The number of characters of a response body kept in an error, enough to recognise
/// an HTML error page or a truncated payload without keeping a whole body around.
const EXCERPT_CHARS: usize = 200;

/// Everything that can go wrong calling FastComments.
///
/// ```
/// # async fn demo(client: &fastcomments::Client) {
/// match client.get_comment().id("nope").send().await.map_err(fastcomments::Error::from) {
///     Ok(found) => println!("{:?}", found.comment),
///     Err(e) if e.code() == Some("not-found") => println!("no such comment"),
///     Err(e) if e.is_retryable() => println!("try again later: {e}"),
///     Err(e) => println!("failed: {e}"),
/// }
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// FastComments answered `status: "failed"`, with whatever HTTP status (200 too).
    #[error("{0}")]
    Api(Box<ApiError>),
    /// A non-success HTTP status without a FastComments error body (a proxy's HTML page,
    /// an empty 502, ...).
    #[error("HTTP {status}: {excerpt}")]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The start of the body, lossily decoded as UTF-8.
        excerpt: String,
    },
    /// The request did not complete: connection refused or reset, DNS, TLS, timeout.
    #[error("{kind} error: {source}")]
    Transport {
        /// What kind of transport failure this was.
        kind: TransportKind,
        /// The underlying error (its URL removed: query strings may carry tokens).
        #[source]
        source: reqwest::Error,
    },
    /// A success body that does not have the shape the spec promises.
    #[error("could not decode the response: {message}; body starts with {excerpt:?}")]
    Decode {
        /// What the decoder expected and where it failed.
        message: String,
        /// The start of the body.
        excerpt: String,
    },
    /// The request was rejected before anything was sent (a required parameter missing,
    /// a value that cannot be encoded).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

/// The kind of a [`Error::Transport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// The server could not be reached (refused, DNS, TLS handshake): nothing was sent.
    Connect,
    /// The connect or request timeout ran out.
    Timeout,
    /// The connection broke after the request was (maybe) sent, or the body was cut.
    Connection,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Connect => "connect",
            TransportKind::Timeout => "timeout",
            TransportKind::Connection => "connection",
        })
    }
}

/// A FastComments error body (`APIError` in the spec) and the HTTP status it came with.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status of the response (FastComments sometimes says 200).
    #[serde(skip)]
    pub http_status: u16,
    /// Machine-readable code, e.g. `missing-api-key`, `invalid-tenant-id`.
    #[serde(default)]
    pub code: String,
    /// Human-readable reason.
    #[serde(default)]
    pub reason: String,
    /// A more specific code, when FastComments gives one.
    #[serde(rename = "secondaryCode", default)]
    pub secondary_code: Option<String>,
    /// For bans: until when (epoch milliseconds).
    #[serde(rename = "bannedUntil", default)]
    pub banned_until: Option<i64>,
    /// For too-long comments: the maximum length.
    #[serde(rename = "maxCharacterLength", default)]
    pub max_character_length: Option<i64>,
    /// The reason translated for the end user.
    #[serde(rename = "translatedError", default)]
    pub translated_error: Option<String>,
    /// The widget configuration, when the error depends on it.
    #[serde(rename = "customConfig", default)]
    pub custom_config: Option<Value>,
    /// Every other field of the body, kept as sent (`status` included).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FastComments API error {} (HTTP {})",
            self.code, self.http_status
        )?;
        if !self.reason.is_empty() {
            write!(f, ": {}", self.reason)?;
        }
        Ok(())
    }
}

impl Error {
    /// The HTTP status, when a response was received.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(api) => Some(api.http_status),
            Error::Http { status, .. } => Some(*status),
            Error::Transport { source, .. } => source.status().map(|s| s.as_u16()),
            Error::Decode { .. } | Error::InvalidRequest(_) => None,
        }
    }

    /// The FastComments error code (`missing-api-key`, ...), for [`Error::Api`].
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api(api) => Some(&api.code),
            _ => None,
        }
    }

    /// The FastComments error body, for [`Error::Api`].
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Api(api) => Some(api),
            _ => None,
        }
    }

    /// Whether the same request may succeed if sent again later: transport failures and
    /// the HTTP statuses that mean "not now" (408, 429, 500, 502, 503, 504).
    ///
    /// An [`Error::Api`] is an answer about the request itself and is not retryable;
    /// neither are decode errors and invalid requests.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport { .. } => true,
            Error::Http { status, .. } => is_retryable_status(*status),
            Error::Api(_) | Error::Decode { .. } | Error::InvalidRequest(_) => false,
        }
    }

    /// Builds the error for a failed response: an API error when the body is a
    /// FastComments error object, an HTTP error otherwise.
    pub(crate) fn from_failed_response(status: u16, body: &[u8]) -> Error {
        match api_error_body(body) {
            Some(mut api) => {
                api.http_status = status;
                Error::Api(Box::new(api))
            }
            None => Error::Http {
                status,
                excerpt: excerpt(body),
            },
        }
    }

    /// Wraps a transport error, classifying it and dropping its URL.
    pub(crate) fn transport(source: reqwest::Error) -> Error {
        let kind = if source.is_timeout() {
            TransportKind::Timeout
        } else if source.is_connect() {
            TransportKind::Connect
        } else {
            TransportKind::Connection
        };
        Error::Transport {
            kind,
            source: source.without_url(),
        }
    }

    /// A success body that failed to decode into the expected type.
    pub(crate) fn decode(body: &[u8], error: &serde_json::Error) -> Error {
        Error::Decode {
            message: error.to_string(),
            excerpt: excerpt(body),
        }
    }
}

/// HTTP statuses that say "try again later" rather than "this request is wrong".
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// Whether a body is a FastComments failure: a JSON object whose top-level `status` is
/// `"failed"` (or `"failure"`, as the integration endpoints spell it).
pub(crate) fn is_failure_body(body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Status<'a> {
        #[serde(borrow)]
        status: Option<&'a str>,
    }
    serde_json::from_slice::<Status<'_>>(body)
        .ok()
        .and_then(|s| s.status)
        .is_some_and(|s| s == "failed" || s == "failure")
}

fn api_error_body(body: &[u8]) -> Option<ApiError> {
    if !is_failure_body(body) {
        return None;
    }
    serde_json::from_slice(body).ok()
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(EXCERPT_CHARS).collect();
    if text.chars().nth(EXCERPT_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// How a failed response travels from the client hooks to [`Error`]: the hooks can
/// only fail a call with `progenitor_client::Error::Custom(String)`, so the status and
/// body are written into that string behind this prefix.
const FAILURE_PREFIX: &str = "fastcomments failure: HTTP ";

/// Encodes a failed response for `progenitor_client::Error::Custom`.
pub(crate) fn encode_failure(status: u16, body: &[u8]) -> String {
    format!(
        "{FAILURE_PREFIX}{status}: {}",
        String::from_utf8_lossy(body)
    )
}

fn decode_failure(message: &str) -> Option<Error> {
    let rest = message.strip_prefix(FAILURE_PREFIX)?;
    let (status, body) = rest.split_once(": ")?;
    Some(Error::from_failed_response(
        status.parse().ok()?,
        body.as_bytes(),
    ))
}

impl<E> From<progenitor_client::Error<E>> for Error {
    fn from(error: progenitor_client::Error<E>) -> Self {
        use progenitor_client::Error as P;
        match error {
            P::InvalidRequest(message) => Error::InvalidRequest(message),
            P::CommunicationError(e) | P::InvalidUpgrade(e) | P::ResponseBodyError(e) => {
                Error::transport(e)
            }
            P::InvalidResponsePayload(body, e) => Error::decode(&body, &e),
            P::Custom(message) => {
                decode_failure(&message).unwrap_or(Error::InvalidRequest(message))
            }
            // The hooks turn every non-2xx answer into `Custom` before the generated code
            // looks at it; these remain for a 2xx status the spec does not declare.
            P::ErrorResponse(value) => Error::Http {
                status: value.status().as_u16(),
                excerpt: String::new(),
            },
            P::UnexpectedResponse(response) => Error::Http {
                status: response.status().as_u16(),
                excerpt: String::new(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_round_trips_through_the_custom_message() {
        let body = br#"{"status":"failed","code":"missing-api-key","reason":"no key","x":1}"#;
        let error = decode_failure(&encode_failure(200, body)).expect("decodes");
        let api = error.api_error().expect("api error");
        assert_eq!(
            (api.http_status, api.code.as_str(), api.reason.as_str()),
            (200, "missing-api-key", "no key")
        );
        assert_eq!(api.extra["x"], 1);
    }

    #[test]
    fn html_failure_is_an_http_error_with_an_excerpt() {
        let page = format!("<html>{}</html>", "x".repeat(500));
        match Error::from_failed_response(502, page.as_bytes()) {
            Error::Http { status, excerpt } => {
                assert_eq!(status, 502);
                assert!(excerpt.starts_with("<html>x"));
                assert_eq!(excerpt.chars().count(), EXCERPT_CHARS + 1);
            }
            other => panic!("expected Http, got {other:?}"),
        }
    }

    #[test]
    fn only_a_failed_status_marks_a_failure_body() {
        assert!(is_failure_body(br#"{"status":"failed"}"#));
        assert!(is_failure_body(br#"{"status":"failure","code":"x"}"#));
        assert!(!is_failure_body(br#"{"status":"success"}"#));
        assert!(!is_failure_body(br#"[1,2]"#));
        assert!(!is_failure_body(b"<html>"));
    }
}
