//! The one error type of the crate.
//!
//! Every call made through [`Client`](crate::Client) fails with an [`Error`]: the
//! generated builders' `send()` returns progenitor's error type, which converts into this
//! one with `?` (or [`Error::from`]). FastComments may answer HTTP 200 with
//! `{"status": "failed", ...}`; such a body is an [`Error::Api`] whatever the HTTP status,
//! never a success value.

use std::fmt;

use serde::{Deserialize, Serialize};
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
    #[error("{kind} error: {message}")]
    Transport {
        /// What kind of transport failure this was.
        kind: TransportKind,
        /// The underlying error and its causes (never the URL: query strings may carry
        /// tokens).
        message: String,
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
    /// The retry policy gave up: every attempt allowed failed with a retryable error, or
    /// the next wait would have passed its deadline.
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp {
        /// How many times the request was sent.
        attempts: u32,
        /// The failure of the last attempt.
        last: Box<Error>,
    },
}

/// The kind of a [`Error::Transport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum TransportKind {
    /// The server could not be reached (refused, DNS, TLS handshake): nothing was sent.
    Connect,
    /// The connect or request timeout ran out.
    Timeout,
    /// The connection broke after the request was (maybe) sent, or the body was cut.
    Connection,
}

impl TransportKind {
    pub(crate) fn of(error: &reqwest::Error) -> TransportKind {
        if error.is_timeout() {
            TransportKind::Timeout
        } else if error.is_connect() {
            TransportKind::Connect
        } else {
            TransportKind::Connection
        }
    }
}

/// An error and its causes on one line (reqwest's own message is only the outermost).
pub(crate) fn describe(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
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
            Error::GaveUp { last, .. } => last.status(),
            Error::Transport { .. } | Error::Decode { .. } | Error::InvalidRequest(_) => None,
        }
    }

    /// The FastComments error code (`missing-api-key`, ...), for [`Error::Api`].
    pub fn code(&self) -> Option<&str> {
        self.api_error().map(|api| api.code.as_str())
    }

    /// The FastComments error body, for [`Error::Api`] (also behind [`Error::GaveUp`]).
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Api(api) => Some(api),
            Error::GaveUp { last, .. } => last.api_error(),
            _ => None,
        }
    }

    /// How many times the request was sent, when the retry policy sent it more than once
    /// and gave up.
    pub fn attempts(&self) -> Option<u32> {
        match self {
            Error::GaveUp { attempts, .. } => Some(*attempts),
            _ => None,
        }
    }

    /// Whether the same request may succeed if sent again later: transport failures and
    /// the HTTP statuses that mean "not now" (408, 429, 500, 502, 503, 504), with or
    /// without a FastComments body.
    ///
    /// Any other [`Error::Api`] is an answer about the request itself and is not
    /// retryable; neither are decode errors and invalid requests.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport { .. } => true,
            Error::Http { status, .. } => is_retryable_status(*status),
            Error::Api(api) => is_retryable_status(api.http_status),
            Error::GaveUp { last, .. } => last.is_retryable(),
            Error::Decode { .. } | Error::InvalidRequest(_) => false,
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
        Error::Transport {
            kind: TransportKind::of(&source),
            message: describe(&source.without_url()),
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

/// The `code` of a FastComments failure body.
pub(crate) fn failure_code(body: &[u8]) -> Option<String> {
    api_error_body(body)
        .map(|api| api.code)
        .filter(|c| !c.is_empty())
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

/// A failed call as it travels from the client hooks to [`Error`]: the hooks can only
/// fail a call with `progenitor_client::Error::Custom(String)`, so the failure is written
/// into that string as JSON behind [`ENVELOPE_PREFIX`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Envelope {
    /// How many times the request was sent.
    pub(crate) attempts: u32,
    /// Whether the retry policy stopped on a retryable failure (attempts or deadline).
    pub(crate) gave_up: bool,
    pub(crate) failure: Failure,
}

/// How the last attempt failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub(crate) enum Failure {
    /// A failed response (non-2xx, or `status: "failed"` in the body).
    Response { status: u16, body: String },
    /// No response.
    Transport {
        transport: TransportKind,
        message: String,
    },
}

const ENVELOPE_PREFIX: &str = "fastcomments failure ";

impl Envelope {
    pub(crate) fn encode(&self) -> String {
        format!(
            "{ENVELOPE_PREFIX}{}",
            serde_json::to_string(self).expect("an envelope serializes")
        )
    }

    fn decode(message: &str) -> Option<Envelope> {
        serde_json::from_str(message.strip_prefix(ENVELOPE_PREFIX)?).ok()
    }

    pub(crate) fn into_error(self) -> Error {
        let last = match self.failure {
            Failure::Response { status, body } => {
                Error::from_failed_response(status, body.as_bytes())
            }
            Failure::Transport { transport, message } => Error::Transport {
                kind: transport,
                message,
            },
        };
        if self.gave_up && self.attempts > 1 {
            Error::GaveUp {
                attempts: self.attempts,
                last: Box::new(last),
            }
        } else {
            last
        }
    }
}

impl<E> From<progenitor_client::Error<E>> for Error {
    fn from(error: progenitor_client::Error<E>) -> Self {
        use progenitor_client::Error as P;
        match error {
            P::InvalidRequest(message) => Error::InvalidRequest(message),
            // Building the request failed (e.g. a value that cannot go in a URL).
            P::CommunicationError(e) if e.is_builder() => {
                Error::InvalidRequest(describe(&e.without_url()))
            }
            P::CommunicationError(e) | P::InvalidUpgrade(e) | P::ResponseBodyError(e) => {
                Error::transport(e)
            }
            P::InvalidResponsePayload(body, e) => Error::decode(&body, &e),
            P::Custom(message) => Envelope::decode(&message)
                .map_or(Error::InvalidRequest(message), Envelope::into_error),
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
        let body = r#"{"status":"failed","code":"missing-api-key","reason":"no key","x":1}"#;
        let envelope = Envelope {
            attempts: 1,
            gave_up: false,
            failure: Failure::Response {
                status: 200,
                body: body.into(),
            },
        };
        let error = Envelope::decode(&envelope.encode())
            .expect("decodes")
            .into_error();
        let api = error.api_error().expect("api error");
        assert_eq!(
            (api.http_status, api.code.as_str(), api.reason.as_str()),
            (200, "missing-api-key", "no key")
        );
        assert_eq!(api.extra["x"], 1);
    }

    #[test]
    fn a_policy_that_gave_up_reports_attempts_and_the_last_cause() {
        let envelope = Envelope {
            attempts: 3,
            gave_up: true,
            failure: Failure::Transport {
                transport: TransportKind::Timeout,
                message: "operation timed out".into(),
            },
        };
        let error = Envelope::decode(&envelope.encode()).unwrap().into_error();
        assert_eq!(error.attempts(), Some(3));
        assert!(matches!(&error, Error::GaveUp { last, .. }
            if matches!(**last, Error::Transport { kind: TransportKind::Timeout, .. })));
        assert_eq!(
            error.to_string(),
            "gave up after 3 attempts: timeout error: operation timed out"
        );
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
