//! The one error type of the crate.
//!
//! Every call made through [`Client`](crate::Client) — generated operations, hand-written
//! ones, streams — fails with an [`Error`]. FastComments may answer HTTP 200 with
//! `{"status": "failed", ...}`; such a body is an [`Error::Api`] whatever the HTTP status,
//! never a success value.

use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value};

/// Everything that can go wrong calling FastComments.
///
/// ```
/// # async fn demo(client: &fastcomments::Client) {
/// match client.get_comment().id("nope").send().await {
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
    /// FastComments answered `status: "failed"` (or `"failure"`), with whatever HTTP
    /// status, 200 included.
    #[error("{0}")]
    Api(Box<ApiError>),
    /// A non-success HTTP status without a FastComments error body (a proxy's HTML page,
    /// an empty 502, a redirect).
    #[error("HTTP {}{}", status_line(*status), excerpt_suffix(excerpt))]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The start of the body, lossily decoded as UTF-8.
        excerpt: String,
        /// The `Retry-After` the server asked for, if any.
        retry_after: Option<Duration>,
    },
    /// The request did not complete: connection refused or reset, DNS, TLS, timeout.
    #[error("{kind} error: {message}")]
    Transport {
        /// What kind of transport failure this was.
        kind: TransportKind,
        /// The innermost cause, e.g. `Connection refused (os error 111)`.
        message: String,
        /// The HTTP client's error (never with its URL: query strings may carry tokens);
        /// `None` when the client itself cut the call (its deadline).
        #[source]
        source: Option<reqwest::Error>,
    },
    /// A success body that does not have the shape the spec promises.
    #[error("could not decode the response: {message}; body starts with {excerpt:?}")]
    Decode {
        /// What the decoder expected and where it failed.
        message: String,
        /// The start of the body.
        excerpt: String,
    },
    /// The response body was larger than the client's limit
    /// ([`ClientBuilder::max_body_size`](crate::ClientBuilder::max_body_size)); the rest
    /// was not read.
    #[error("the response body is larger than the {limit}-byte limit")]
    BodyTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// A pagination stream ended because the server made no progress: it repeated a
    /// page, a cursor or an `afterId`, or the next offset left the range the operation
    /// accepts. Without this the stream would never end.
    #[error("the stream made no progress: {detail}")]
    NoProgress {
        /// What repeated, or what overflowed.
        detail: String,
    },
    /// The request was rejected before anything was sent (a required parameter missing,
    /// a value that cannot be encoded).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A path parameter's value would change which endpoint is called: empty, or a dot
    /// segment (`.`, `..`, or one percent-encoded, like `%2e%2e`) that the URL would
    /// remove. Refused before anything is sent, for every path parameter of every
    /// operation.
    #[error(
        "path parameter {parameter} of {operation} is {value:?} ({reason}): it would change the request's path"
    )]
    InvalidPathParameter {
        /// The operation, e.g. `DeleteComment`.
        operation: &'static str,
        /// The parameter's name in the spec, e.g. `commentId`.
        parameter: String,
        /// The value given (its first 64 characters).
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The retry policy gave up: every attempt allowed failed with a retryable error, or
    /// the next wait would have passed its deadline or the longest wait allowed.
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp {
        /// How many times the request was sent.
        attempts: u32,
        /// The failure of the last attempt.
        #[source]
        last: Box<Error>,
    },
}

fn status_line(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

fn excerpt_suffix(excerpt: &str) -> String {
    if excerpt.trim().is_empty() {
        String::new()
    } else {
        format!(": {excerpt}")
    }
}

/// The kind of a [`Error::Transport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// The server could not be reached (refused, DNS, TLS handshake): nothing was sent.
    Connect,
    /// The connect or request timeout, or the retry policy's deadline, ran out.
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

/// A FastComments failure body (`APIError` in the spec) and the HTTP status it came with.
///
/// Read leniently: a body whose top-level `status` is `"failed"` or `"failure"` is an API
/// error whatever else it holds, so every field is optional and one of the wrong type is
/// left out (numbers sent as strings are read as numbers).
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status of the response (FastComments sometimes says 200).
    pub http_status: u16,
    /// Machine-readable code, e.g. `missing-api-key`, `invalid-tenant-id`.
    pub code: Option<String>,
    /// Human-readable reason (at most [`ApiError::MAX_REASON_CHARS`] characters).
    pub reason: Option<String>,
    /// A more specific code, when FastComments gives one.
    pub secondary_code: Option<String>,
    /// For bans: until when (epoch milliseconds).
    pub banned_until: Option<i64>,
    /// For too-long comments: the maximum length.
    pub max_character_length: Option<i64>,
    /// The reason translated for the end user.
    pub translated_error: Option<String>,
    /// The widget configuration, when the error depends on it.
    pub custom_config: Option<Value>,
    /// Every other top-level field, as sent (`status` included), for bodies of at most
    /// 64 KiB.
    pub extra: Map<String, Value>,
    /// The `Retry-After` the server asked for, if any.
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// The longest `reason` kept, in characters; a longer one is cut and ends with `…`.
    pub const MAX_REASON_CHARS: usize = 2000;
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "FastComments error {code}")?,
            None => f.write_str("FastComments error without a code")?,
        }
        write!(f, " (HTTP {})", self.http_status)?;
        match &self.reason {
            Some(reason) if !reason.is_empty() => write!(f, ": {reason}"),
            _ => Ok(()),
        }
    }
}

impl Error {
    /// The HTTP status, when a response was received.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(api) => Some(api.http_status),
            Error::Http { status, .. } => Some(*status),
            Error::GaveUp { last, .. } => last.status(),
            _ => None,
        }
    }

    /// The FastComments error code (`missing-api-key`, ...), for [`Error::Api`].
    pub fn code(&self) -> Option<&str> {
        self.api_error().and_then(|api| api.code.as_deref())
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

    /// The wait the server asked for (`Retry-After`), if it did: a retry policy whose
    /// longest wait is shorter gives up rather than come back early.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api(api) => api.retry_after,
            Error::Http { retry_after, .. } => *retry_after,
            Error::GaveUp { last, .. } => last.retry_after(),
            _ => None,
        }
    }

    /// Whether the same request may succeed if sent again later: transport failures and
    /// the HTTP statuses that mean "not now" (408, 429, 500, 502, 503, 504), with or
    /// without a FastComments body.
    ///
    /// Any other [`Error::Api`] is an answer about the request itself and is not
    /// retryable; neither are decode errors, oversized bodies and invalid requests.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport { .. } => true,
            Error::Http { status, .. } => is_retryable_status(*status),
            Error::Api(api) => is_retryable_status(api.http_status),
            Error::GaveUp { last, .. } => last.is_retryable(),
            _ => false,
        }
    }

    /// Wraps a transport error, classifying it and dropping its URL.
    pub(crate) fn transport(source: reqwest::Error) -> Error {
        let source = source.without_url();
        if source.is_builder() {
            // Nothing was sent and nothing will change on a retry (a URL longer than an
            // HTTP request line can carry, say): not a transport failure.
            return Error::InvalidRequest(format!(
                "the request could not be built: {}",
                root_cause(&source)
            ));
        }
        let kind = if source.is_timeout() {
            TransportKind::Timeout
        } else if source.is_connect() {
            TransportKind::Connect
        } else {
            TransportKind::Connection
        };
        Error::Transport {
            kind,
            message: root_cause(&source),
            source: Some(source),
        }
    }

    /// The error of a call the retry policy's deadline cut short.
    pub(crate) fn deadline(deadline: Duration) -> Error {
        Error::Transport {
            kind: TransportKind::Timeout,
            message: format!("the retry policy's deadline of {deadline:?} ran out"),
            source: None,
        }
    }

    /// A success body that failed to decode into the expected type.
    pub(crate) fn decode(body: &[u8], message: impl fmt::Display) -> Error {
        Error::Decode {
            message: message.to_string(),
            excerpt: excerpt(body),
        }
    }

    /// What a generated builder's parameter checks fail with: nothing was sent.
    pub(crate) fn from_request_builder(error: progenitor_client::Error) -> Error {
        match error {
            progenitor_client::Error::InvalidRequest(message) => Error::InvalidRequest(message),
            progenitor_client::Error::CommunicationError(e) => {
                Error::InvalidRequest(chain(&e.without_url()))
            }
            other => Error::InvalidRequest(other.to_string()),
        }
    }
}

/// HTTP statuses that say "try again later" rather than "this request is wrong".
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// The innermost cause of an error: what actually went wrong, without the layers that
/// only say where (reqwest's own message is "error sending request").
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// An error and its causes on one line.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// The number of characters of a body kept in an error: enough to recognise an HTML error
/// page or a truncated payload.
const EXCERPT_CHARS: usize = 200;

/// The start of `body` as text, copying no more than it shows.
pub(crate) fn excerpt(body: &[u8]) -> String {
    // A character is at most 4 bytes: this prefix holds the excerpt and one more.
    let prefix = &body[..body.len().min((EXCERPT_CHARS + 1) * 4)];
    let text = String::from_utf8_lossy(prefix);
    let mut chars = text.chars();
    let mut out: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if chars.next().is_some() || prefix.len() < body.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_short_and_copy_only_what_they_show() {
        let page = format!("<html>{}</html>", "é".repeat(10_000));
        let shown = excerpt(page.as_bytes());
        assert!(shown.starts_with("<html>é"));
        assert_eq!(shown.chars().count(), EXCERPT_CHARS + 1);
        assert!(shown.ends_with('…'));
        assert_eq!(excerpt(b"short"), "short");
    }

    #[test]
    fn errors_read_well_on_one_line() {
        let http = Error::Http {
            status: 502,
            excerpt: "<html>bad</html>".into(),
            retry_after: None,
        };
        assert_eq!(http.to_string(), "HTTP 502 Bad Gateway: <html>bad</html>");
        let empty = Error::Http {
            status: 204,
            excerpt: String::new(),
            retry_after: None,
        };
        assert_eq!(empty.to_string(), "HTTP 204 No Content");
        let api = Error::Api(Box::new(ApiError {
            http_status: 401,
            code: Some("invalid-api-key".into()),
            reason: Some("The API key is not valid.".into()),
            ..ApiError::default()
        }));
        assert_eq!(
            api.to_string(),
            "FastComments error invalid-api-key (HTTP 401): The API key is not valid."
        );
        let gave_up = Error::GaveUp {
            attempts: 3,
            last: Box::new(Error::deadline(Duration::from_secs(30))),
        };
        assert_eq!(
            gave_up.to_string(),
            "gave up after 3 attempts: timeout error: the retry policy's deadline of 30s ran out"
        );
        assert_eq!(gave_up.status(), None);
        assert!(gave_up.is_retryable());
    }
}
