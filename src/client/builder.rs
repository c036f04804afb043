//! [`ClientBuilder`]: credentials, tenant, host, timeouts, limits.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;

use super::request::{Config, Inner};
use super::{Client, Region};
use crate::{Error, RetryPolicy, generated};

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The default limit on a response body: far above any page FastComments sends (a page
/// of 100 comments is ~200 KB), far below what would hurt a server.
pub const DEFAULT_MAX_BODY_SIZE: usize = 64 * 1024 * 1024;
const USER_AGENT: &str = concat!("fastcomments-rust/", env!("CARGO_PKG_VERSION"));

/// A secret (API key, token, API secret): `Debug` shows `<redacted>`, whatever it holds.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret<T>(pub(crate) T);

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Builds a [`Client`].
///
/// ```
/// # fn main() -> Result<(), fastcomments::Error> {
/// use std::time::Duration;
/// let client = fastcomments::Client::builder()
///     .api_key("my-api-key")
///     .tenant_id("my-tenant")
///     .region(fastcomments::Region::Eu)
///     .timeout(Duration::from_secs(20))
///     .build()?;
/// assert_eq!(client.base_url(), "https://eu.fastcomments.com");
/// assert!(!format!("{client:?}").contains("my-api-key"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientBuilder {
    api_key: Option<Secret<String>>,
    tenant_id: Option<String>,
    region: Region,
    fallback: Option<Region>,
    connect_timeout: Duration,
    timeout: Duration,
    max_body_size: usize,
    user_agent: String,
    retry: RetryPolicy,
    routes: Vec<(String, String)>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            api_key: None,
            tenant_id: None,
            region: Region::Global,
            fallback: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            user_agent: USER_AGENT.into(),
            retry: RetryPolicy::default(),
            routes: Vec::new(),
        }
    }
}

impl ClientBuilder {
    /// The API key, sent as `x-api-key` on the operations whose spec requires it and on
    /// no other.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(Secret(key.into()));
        self
    }

    /// The tenant id, filled in on every operation that takes `tenantId` (query or path).
    pub fn tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }

    /// Where requests go; [`Region::Global`] by default.
    pub fn region(mut self, region: Region) -> Self {
        self.region = region;
        self
    }

    /// Shorthand for `region(Region::Custom(url))`: the mock server, a proxy.
    pub fn base_url(self, url: impl Into<String>) -> Self {
        self.region(Region::Custom(url.into()))
    }

    /// The host tried when the primary cannot be connected to (refused, DNS, TLS), with
    /// the same request, API key included: name only a host you trust with it.
    /// [`Region::default_fallback`] by default.
    pub fn fallback(mut self, fallback: Region) -> Self {
        self.fallback = Some(fallback);
        self
    }

    /// How long to wait for a connection; 10 s by default.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one attempt may take, body included; 30 s by default. (The retry
    /// policy's [`deadline`](RetryPolicy::deadline) bounds the whole call.)
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest response body read, in bytes; [`DEFAULT_MAX_BODY_SIZE`] (64 MiB) by
    /// default. A longer success body fails with [`Error::BodyTooLarge`] without being
    /// buffered; of a failure only the first 64 KiB are ever read.
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.max_body_size = bytes;
        self
    }

    /// How failed requests are retried: [`RetryPolicy::default`] (one minute per attempt,
    /// 5 attempts) unless set; [`RetryPolicy::none`] turns retries off.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Sends what would go to `host` (a host name such as `eu.fastcomments.com`, or the
    /// live-event host `ws-eu.fastcomments.com`) to `base_url` instead (scheme, host and
    /// port; the path and query are kept), like curl's `--connect-to` but for the whole
    /// origin: a proxy in front of one host, or a test server standing in for a region's
    /// hosts while the client still chooses them by [`Region`]. The API key goes where
    /// the route says: name only a server you trust with it.
    ///
    /// ```
    /// let client = fastcomments::Client::builder()
    ///     .region(fastcomments::Region::Eu)
    ///     .route_host("eu.fastcomments.com", "http://127.0.0.1:8080")
    ///     .build()?;
    /// assert_eq!(client.base_url(), "https://eu.fastcomments.com");
    /// # Ok::<(), fastcomments::Error>(())
    /// ```
    pub fn route_host(mut self, host: impl Into<String>, base_url: impl Into<String>) -> Self {
        self.routes.push((host.into(), base_url.into()));
        self
    }

    /// Replaces the `User-Agent` (`fastcomments-rust/<version>` by default).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Builds the client. Fails ([`Error::InvalidRequest`]) on an API key or tenant id
    /// that cannot be sent in a header or URL, a base URL or route that is not an
    /// http(s) URL with a host, or when the HTTP client cannot be set up.
    ///
    /// Redirects are not followed (FastComments' API does not redirect; a 3xx is an
    /// [`Error::Http`]), so the API key never travels to another host, and no `Referer`
    /// is sent.
    pub fn build(self) -> Result<Client, Error> {
        let api_key = self
            .api_key
            .map(|Secret(key)| {
                let mut value = HeaderValue::from_str(&key).map_err(|_| {
                    Error::InvalidRequest("the API key has characters a header cannot carry".into())
                })?;
                value.set_sensitive(true);
                Ok::<_, Error>(Secret(value))
            })
            .transpose()?;
        let is_base_url = |url: &str| {
            reqwest::Url::parse(url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        };
        for (host, to) in &self.routes {
            if !is_base_url(to) {
                return Err(Error::InvalidRequest(format!(
                    "the route for {host:?} is not an http(s) base URL"
                )));
            }
        }
        for region in std::iter::once(&self.region).chain(&self.fallback) {
            // Not echoed: a base URL can carry credentials (`https://user:pass@host`).
            if matches!(region, Region::Custom(_)) && !is_base_url(&region.base_url()) {
                return Err(Error::InvalidRequest(
                    "the base URL is not an http(s) URL with a host".into(),
                ));
            }
        }
        // Installs rustls' ring provider unless the application chose one already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .user_agent(self.user_agent)
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .build()
            .map_err(Error::transport)?;
        let base_url = self.region.base_url();
        let fallback = self
            .fallback
            .or_else(|| self.region.default_fallback())
            .map(|r| r.base_url())
            .filter(|f| *f != base_url);
        // reqwest's timeout bounds a request from connect to the end of its body; with a
        // fallback, the primary's failed connect comes first.
        let attempt_limit = match fallback {
            Some(_) => self
                .timeout
                .saturating_add(self.connect_timeout.min(self.timeout)),
            None => self.timeout,
        };
        let inner = Inner(Arc::new(Config {
            api_key,
            base_url: base_url.clone(),
            attempt_limit,
            fallback,
            retry: self.retry,
            max_body_size: self.max_body_size,
            routes: self.routes.into(),
        }));
        Ok(Client {
            generated: generated::Client::new_with_client(&base_url, http, inner),
            tenant_id: self.tenant_id.map(Arc::from),
        })
    }
}
