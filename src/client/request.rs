//! The one request path: every call, generated or hand-written, is sent by
//! [`send`]. It adds the API key where the spec requires it, falls back to the fallback
//! host when the primary cannot be reached, retries by the client's [`RetryPolicy`]
//! within its deadline, reads each body within the client's limit, turns every failed
//! answer (a non-2xx status, or a body whose `status` is `"failed"`) into [`Error`] in
//! one place, and decodes a success once.

use std::any::Any;
use std::sync::Arc;

use reqwest::header::{HeaderName, HeaderValue};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use super::builder::Secret;
use crate::operations::Operation;
use crate::response::{self, FAILURE_BODY_LIMIT, Overflow};
use crate::retry::{self, RequestKind};
use crate::{Error, RetryPolicy, generated};

const API_KEY_HEADER: HeaderName = HeaderName::from_static("x-api-key");

/// What the client is configured with: the state the generated client carries.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) api_key: Option<Secret<HeaderValue>>,
    pub(crate) base_url: String,
    pub(crate) fallback: Option<String>,
    pub(crate) retry: RetryPolicy,
    pub(crate) max_body_size: usize,
    /// The longest one attempt can take: the timeout, plus the connect timeout spent on
    /// the primary host before the fallback is tried.
    pub(crate) attempt_limit: std::time::Duration,
    /// Hosts whose requests go to another base URL ([`ClientBuilder::route_host`]).
    ///
    /// [`ClientBuilder::route_host`]: crate::ClientBuilder::route_host
    pub(crate) routes: Arc<[(String, String)]>,
}

impl Config {
    /// `url`, moved to the base URL its host is routed to, if it is.
    pub(crate) fn routed(&self, url: &reqwest::Url) -> Option<reqwest::Url> {
        let host = url.host_str()?;
        let (_, to) = self.routes.iter().find(|(from, _)| from == host)?;
        let rest = url
            .as_str()
            .strip_prefix(&url.origin().ascii_serialization())?;
        reqwest::Url::parse(&format!("{}{rest}", to.trim_end_matches('/'))).ok()
    }
}

/// The generated client's inner state (`with_inner_type`).
#[derive(Clone, Debug)]
pub(crate) struct Inner(pub(crate) Arc<Config>);

/// A success decoded into its operation's response type, type-erased so that the request
/// path is compiled once rather than once per response type.
type Decoded = Box<dyn Any + Send>;

/// Decodes the body of a 2xx answer, given its HTTP status and headers.
type Decoder = fn(u16, &reqwest::header::HeaderMap, &[u8]) -> Result<Decoded, Error>;

/// Sends one call of `operation` and decodes its success body into `T`.
pub(crate) async fn send<T: DeserializeOwned + Send + 'static>(
    client: &generated::Client,
    request: reqwest::Request,
    operation: &'static Operation,
) -> Result<T, Error> {
    let decoded = client
        .inner
        .execute(&client.client, request, operation, decode::<T>)
        .await?;
    decoded
        .downcast()
        .map(|value| *value)
        .map_err(|_| Error::decode(b"", "the decoder returned another type"))
}

fn decode<T: DeserializeOwned + Send + 'static>(
    status: u16,
    _headers: &reqwest::header::HeaderMap,
    body: &[u8],
) -> Result<Decoded, Error> {
    response::decode::<T>(status, body).map(|value| Box::new(value) as Decoded)
}

/// Like [`send`], with the server's clock when it answered: its `Date` header, in epoch
/// milliseconds (whole seconds: HTTP dates have no finer unit), `None` without one. The
/// live-event stream starts from it rather than from this machine's clock.
#[cfg(feature = "live")]
pub(crate) async fn send_dated<T: DeserializeOwned + Send + 'static>(
    client: &generated::Client,
    request: reqwest::Request,
    operation: &'static Operation,
) -> Result<(T, Option<i64>), Error> {
    let decoded = client
        .inner
        .execute(&client.client, request, operation, decode_dated::<T>)
        .await?;
    decoded
        .downcast()
        .map(|value| *value)
        .map_err(|_| Error::decode(b"", "the decoder returned another type"))
}

#[cfg(feature = "live")]
fn decode_dated<T: DeserializeOwned + Send + 'static>(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
) -> Result<Decoded, Error> {
    let date = response::server_date_ms(headers);
    response::decode::<T>(status, body).map(|value| Box::new((value, date)) as Decoded)
}

impl Inner {
    /// Sends `request` until it succeeds or the retry policy stops; returns the success,
    /// decoded.
    async fn execute(
        &self,
        http: &reqwest::Client,
        mut request: reqwest::Request,
        operation: &'static Operation,
        decode: Decoder,
    ) -> Result<Decoded, Error> {
        if let Some(routed) = self.0.routed(request.url()) {
            *request.url_mut() = routed;
        }
        if let (Some(key), true) = (&self.0.api_key, operation.requires_api_key) {
            request.headers_mut().insert(API_KEY_HEADER, key.0.clone());
        }
        let span = tracing::debug_span!(
            "fastcomments",
            operation = operation.id,
            method = %request.method(),
            path = request.url().path(),
        );
        let method = request.method().clone();
        let kind = RequestKind {
            operation: operation.id,
            method: &method,
        };
        let mut template = Some(request);
        let attempts = || {
            // A body that cannot be cloned (a stream) is sent once.
            let request = match template.as_ref().and_then(reqwest::Request::try_clone) {
                Some(copy) => copy,
                None => template.take()?,
            };
            Some(self.attempt(http, request, decode))
        };
        retry::run(&self.0.retry, &kind, attempts)
            .instrument(span)
            .await
    }

    /// One attempt: send (with the fallback host), read the body within its limit, then
    /// decode a success or classify a failure. Decoding within the attempt lets the retry
    /// policy see a `status: "failed"` answered with HTTP 200.
    async fn attempt(
        &self,
        http: &reqwest::Client,
        request: reqwest::Request,
        decode: Decoder,
    ) -> Result<Decoded, Error> {
        let response = self
            .send_with_fallback(http, request)
            .await
            .map_err(Error::transport)?;
        let status = response.status().as_u16();
        if response.status().is_success() {
            let headers = response.headers().clone();
            let body = response::read(response, self.0.max_body_size, Overflow::Fail).await?;
            let decoded = decode(status, &headers, &body);
            if let Err(Error::Api(_)) = &decoded {
                tracing::debug!(status, "FastComments answered with a failure");
            }
            return decoded;
        }
        let retry_after = response::retry_after(&response);
        let limit = FAILURE_BODY_LIMIT.min(self.0.max_body_size);
        let body = response::read(response, limit, Overflow::Truncate).await?;
        tracing::debug!(status, "FastComments answered with a failure");
        Err(response::failure(status, &body, retry_after))
    }

    async fn send_with_fallback(
        &self,
        http: &reqwest::Client,
        request: reqwest::Request,
    ) -> reqwest::Result<reqwest::Response> {
        let spare = self.0.fallback.as_ref().and_then(|_| request.try_clone());
        match http.execute(request).await {
            Err(error) if error.is_connect() => {
                let (Some(fallback), Some(mut spare)) = (&self.0.fallback, spare) else {
                    return Err(error);
                };
                let Some(rebased) = rebase(spare.url(), &self.0.base_url, fallback) else {
                    return Err(error);
                };
                *spare.url_mut() = rebased;
                tracing::warn!(fallback = %fallback, "primary host unreachable, trying the fallback");
                http.execute(spare).await
            }
            other => other,
        }
    }
}

/// Moves `url` from base `from` to base `to`, keeping path and query.
fn rebase(url: &reqwest::Url, from: &str, to: &str) -> Option<reqwest::Url> {
    let rest = url.as_str().strip_prefix(from)?;
    reqwest::Url::parse(&format!("{to}{rest}")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_routed_host_keeps_path_and_query_and_other_hosts_are_not_routed() {
        let config = Config {
            api_key: None,
            base_url: String::new(),
            fallback: None,
            retry: RetryPolicy::none(),
            max_body_size: 1,
            attempt_limit: std::time::Duration::ZERO,
            routes: vec![(
                "ws-eu.fastcomments.com".to_owned(),
                "http://127.0.0.1:9/".to_owned(),
            )]
            .into(),
        };
        let routed = |url: &str| {
            config
                .routed(&reqwest::Url::parse(url).unwrap())
                .map(|u| u.to_string())
        };
        assert_eq!(
            routed("https://ws-eu.fastcomments.com/").as_deref(),
            Some("http://127.0.0.1:9/")
        );
        assert_eq!(
            routed("https://ws-eu.fastcomments.com/sub?urlId=a%3Ab").as_deref(),
            Some("http://127.0.0.1:9/sub?urlId=a%3Ab")
        );
        assert_eq!(routed("https://eu.fastcomments.com/"), None);
    }

    #[test]
    fn rebase_keeps_path_and_query() {
        let url =
            reqwest::Url::parse("https://gdc-oregon.fastcomments.com/api/v1/comments?tenantId=t")
                .unwrap();
        let moved = rebase(
            &url,
            "https://gdc-oregon.fastcomments.com",
            "https://fastcomments.com",
        );
        assert_eq!(
            moved.unwrap().as_str(),
            "https://fastcomments.com/api/v1/comments?tenantId=t"
        );
    }
}
