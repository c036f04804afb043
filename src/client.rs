//! The [`Client`]: credentials, tenant, host and timeouts around the generated client.
//!
//! Every operation of the spec is a method on [`Client`] returning progenitor's builder
//! for it (`crate::builder::*`), with `tenantId` preset from the client. Every request,
//! generated or hand-written, goes through `Inner::execute` (reached from
//! `ClientHooks::exec`), which adds the API key where the spec requires it, falls back to
//! the fallback host when the primary cannot be reached, retries by the client's
//! [`RetryPolicy`], and turns every failed answer (a non-2xx status, or a body whose
//! `status` is `"failed"`) into [`Error`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use progenitor_client::{ClientHooks, OperationInfo};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use tracing::Instrument;

use crate::error::{
    Envelope, Error, Failure, TransportKind, describe, failure_code, is_failure_body,
};
use crate::generated;
use crate::operations::{self, Operation};
use crate::retry::{Attempt, RequestKind, RetryEvent, RetryPolicy, parse_retry_after};

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const USER_AGENT: &str = concat!("fastcomments-rust/", env!("CARGO_PKG_VERSION"));
const API_KEY_HEADER: HeaderName = HeaderName::from_static("x-api-key");
/// Progenitor sends the spec's `info.version` ("0.0.0") as `api-version`; FastComments
/// does not use it.
const API_VERSION_HEADER: HeaderName = HeaderName::from_static("api-version");

/// Where the client sends its requests.
///
/// ```
/// use fastcomments::{DataCenter, Region};
/// assert_eq!(Region::Eu.base_url(), "https://eu.fastcomments.com");
/// assert_eq!(
///     Region::DataCenter(DataCenter::Oregon).base_url(),
///     "https://gdc-oregon.fastcomments.com"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Region {
    /// `https://fastcomments.com`, routed to the nearest point of presence.
    Global,
    /// `https://eu.fastcomments.com`, for tenants whose data lives in the EU.
    Eu,
    /// One pinned data centre, for read-your-writes guarantees.
    DataCenter(DataCenter),
    /// Any base URL: the mock server, a proxy, a new host (no trailing slash needed).
    Custom(String),
}

/// FastComments' pinned data centres (`API.md`, "Hosts and regions").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DataCenter {
    /// `gdc-oregon`
    Oregon,
    /// `gdc-virginia`
    Virginia,
    /// `gdc-singapore`
    Singapore,
    /// `gdc-falkenstein2`
    Falkenstein2,
    /// `gdc-sao-paulo`
    SaoPaulo,
    /// `eudc-helsinki2` (EU)
    Helsinki2,
    /// `eudc-limburg` (EU)
    Limburg,
    /// `eudc-france` (EU)
    France,
}

impl DataCenter {
    /// The host name prefix, e.g. `gdc-oregon`.
    pub fn host_prefix(self) -> &'static str {
        match self {
            DataCenter::Oregon => "gdc-oregon",
            DataCenter::Virginia => "gdc-virginia",
            DataCenter::Singapore => "gdc-singapore",
            DataCenter::Falkenstein2 => "gdc-falkenstein2",
            DataCenter::SaoPaulo => "gdc-sao-paulo",
            DataCenter::Helsinki2 => "eudc-helsinki2",
            DataCenter::Limburg => "eudc-limburg",
            DataCenter::France => "eudc-france",
        }
    }

    /// The region whose data this centre holds: where a pinned client falls back to.
    pub fn region(self) -> Region {
        if self.host_prefix().starts_with("eudc-") {
            Region::Eu
        } else {
            Region::Global
        }
    }
}

impl Region {
    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> String {
        match self {
            Region::Global => "https://fastcomments.com".into(),
            Region::Eu => "https://eu.fastcomments.com".into(),
            Region::DataCenter(dc) => format!("https://{}.fastcomments.com", dc.host_prefix()),
            Region::Custom(url) => url.trim_end_matches('/').into(),
        }
    }

    /// The host tried when this one cannot be connected to, unless the builder names
    /// another: data centres are renamed and removed over time, so a pinned client falls
    /// back to its region. Regions themselves have none (falling from the EU to the
    /// global host would move data out of the EU).
    pub fn default_fallback(&self) -> Option<Region> {
        match self {
            Region::DataCenter(dc) => Some(dc.region()),
            _ => None,
        }
    }
}

impl std::str::FromStr for Region {
    type Err = Error;

    /// Parses `global`, `eu`, a data centre's host prefix (`gdc-oregon`, `eudc-limburg`,
    /// ...) or an `http(s)://` base URL, as one would put in an environment variable.
    ///
    /// ```
    /// use fastcomments::{DataCenter, Region};
    /// assert_eq!("eu".parse::<Region>().unwrap(), Region::Eu);
    /// assert_eq!("gdc-virginia".parse::<Region>().unwrap(), Region::DataCenter(DataCenter::Virginia));
    /// assert!("mars".parse::<Region>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Region, Error> {
        const CENTRES: [DataCenter; 8] = [
            DataCenter::Oregon,
            DataCenter::Virginia,
            DataCenter::Singapore,
            DataCenter::Falkenstein2,
            DataCenter::SaoPaulo,
            DataCenter::Helsinki2,
            DataCenter::Limburg,
            DataCenter::France,
        ];
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "global" | "" => Ok(Region::Global),
            "eu" => Ok(Region::Eu),
            url if url.starts_with("http://") || url.starts_with("https://") => {
                Ok(Region::Custom(s.trim().to_string()))
            }
            name => CENTRES
                .into_iter()
                .find(|dc| dc.host_prefix() == name)
                .map(Region::DataCenter)
                .ok_or_else(|| {
                    Error::InvalidRequest(format!(
                        "unknown region {s:?}: use global, eu, a data centre such as \
                         gdc-oregon, or a base URL"
                    ))
                }),
        }
    }
}

/// A secret (API key) whose `Debug` never shows it.
#[derive(Clone)]
pub(crate) struct Secret<T>(T);

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Builds a [`Client`].
///
/// ```
/// # fn main() -> Result<(), fastcomments::Error> {
/// use std::time::{Duration, SystemTime};
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
    user_agent: String,
    retry: RetryPolicy,
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
            user_agent: USER_AGENT.into(),
            retry: RetryPolicy::default(),
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

    /// The host tried when the primary cannot be connected to (refused, DNS, TLS);
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

    /// How long a whole request may take, body included; 30 s by default.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How failed requests are retried: [`RetryPolicy::default`] (one minute per attempt,
    /// 5 attempts) unless set; [`RetryPolicy::none`] turns retries off.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Replaces the `User-Agent` (`fastcomments-rust/<version>` by default).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Builds the client. Fails on an API key or tenant id that cannot be sent in a
    /// header or URL, or when the HTTP client cannot be set up.
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
        // Installs rustls' ring provider unless the application chose one already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .user_agent(self.user_agent)
            .build()
            .map_err(Error::transport)?;
        let base_url = self.region.base_url();
        let fallback = self
            .fallback
            .or_else(|| self.region.default_fallback())
            .map(|r| r.base_url())
            .filter(|f| *f != base_url);
        let inner = Inner(Arc::new(Config {
            api_key,
            base_url: base_url.clone(),
            fallback,
            retry: self.retry,
        }));
        Ok(Client {
            raw: generated::Client::new_with_client(&base_url, http, inner),
            tenant_id: self.tenant_id.map(Arc::from),
        })
    }
}

/// A FastComments client: one per application, cheap to clone.
///
/// Every operation of the REST API is a method returning a builder; set the parameters
/// and `send()` it. The API key and tenant id come from the client.
///
/// ```no_run
/// # async fn demo() -> Result<(), fastcomments::Error> {
/// let client = fastcomments::Client::builder()
///     .api_key("my-api-key")
///     .tenant_id("my-tenant")
///     .build()?;
/// let page = client.get_comments().url_id("my-page").limit(10).send().await?;
/// for comment in &page.comments {
///     println!("{}: {}", comment.commenter_name, comment.comment_html);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    raw: generated::Client,
    tenant_id: Option<Arc<str>>,
}

impl Client {
    /// Starts a [`ClientBuilder`].
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The generated client, without the tenant preset: for calls on behalf of another
    /// tenant. Its requests go through the same hooks (API key, fallback, errors).
    pub fn raw(&self) -> &generated::Client {
        &self.raw
    }

    /// The tenant id given to the builder.
    pub fn tenant_id(&self) -> Option<&str> {
        self.tenant_id.as_deref()
    }

    /// The primary base URL.
    pub fn base_url(&self) -> &str {
        &self.raw.inner.0.base_url
    }

    /// The retry policy of this client.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.raw.inner.0.retry
    }

    /// A copy of this client with another retry policy, for one call or a few:
    ///
    /// ```no_run
    /// # async fn demo(client: &fastcomments::Client) -> Result<(), fastcomments::Error> {
    /// use fastcomments::RetryPolicy;
    /// // A health check should fail fast rather than wait minutes.
    /// client.with_retry(RetryPolicy::none()).get_pages().send().await?;
    /// # Ok(()) }
    /// ```
    pub fn with_retry(&self, policy: RetryPolicy) -> Client {
        let mut config = Config::clone(&self.raw.inner.0);
        config.retry = policy;
        let inner = Inner(Arc::new(config));
        Client {
            raw: generated::Client::new_with_client(
                self.base_url(),
                self.raw.client.clone(),
                inner,
            ),
            tenant_id: self.tenant_id.clone(),
        }
    }

    /// `POST /upload-image/{tenantId}` (UploadImage): uploads and resizes an image.
    ///
    /// Written by hand: the spec's `multipart/form-data` body is beyond progenitor.
    /// Public: the API key is never sent. Use [`UploadImage::tenant_id`] to upload for
    /// another tenant than the client's.
    ///
    /// ```no_run
    /// # async fn demo(client: &fastcomments::Client) -> Result<(), fastcomments::Error> {
    /// let png = std::fs::read("avatar.png").unwrap();
    /// let uploaded = client.upload_image(png, "avatar.png").url_id("my-page").send().await?;
    /// println!("{:?}", uploaded.url);
    /// # Ok(()) }
    /// ```
    pub fn upload_image(
        &self,
        image: impl Into<Bytes>,
        file_name: impl Into<String>,
    ) -> UploadImage<'_> {
        UploadImage {
            client: self,
            tenant_id: self.tenant_id.as_deref().map(str::to_owned),
            image: image.into(),
            file_name: file_name.into(),
            content_type: None,
            size_preset: None,
            url_id: None,
        }
    }
}

/// Builder for [`Client::upload_image`].
#[derive(Debug)]
#[must_use]
pub struct UploadImage<'a> {
    client: &'a Client,
    tenant_id: Option<String>,
    image: Bytes,
    file_name: String,
    content_type: Option<String>,
    size_preset: Option<generated::types::SizePreset>,
    url_id: Option<String>,
}

impl UploadImage<'_> {
    /// Uploads for this tenant instead of the client's.
    pub fn tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }

    /// The image's MIME type; guessed from the file name's extension otherwise.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// `Default` (1000×1000 px) or `CrossPlatform` (sizes for popular devices).
    pub fn size_preset(mut self, preset: generated::types::SizePreset) -> Self {
        self.size_preset = Some(preset);
        self
    }

    /// The page the upload happens from.
    pub fn url_id(mut self, url_id: impl Into<String>) -> Self {
        self.url_id = Some(url_id.into());
        self
    }

    /// Sends the upload.
    pub async fn send(self) -> Result<generated::types::UploadImageResponse, Error> {
        let tenant_id = self
            .tenant_id
            .ok_or_else(|| Error::InvalidRequest("tenant_id was not initialized".into()))?;
        let content_type = self
            .content_type
            .unwrap_or_else(|| guess_image_type(&self.file_name).into());
        let multipart =
            Multipart::single_file("file", &self.file_name, &content_type, &self.image)?;
        let url = format!(
            "{}/upload-image/{}",
            self.client.base_url(),
            progenitor_client::encode_path(&tenant_id)
        );
        let mut query: Vec<(&str, String)> = Vec::new();
        if let Some(preset) = self.size_preset {
            query.push(("sizePreset", preset.to_string()));
        }
        if let Some(url_id) = self.url_id {
            query.push(("urlId", url_id));
        }
        let raw = &self.client.raw;
        let request = raw
            .client
            .post(url)
            .query(&query)
            .header(reqwest::header::CONTENT_TYPE, multipart.content_type)
            .header(reqwest::header::ACCEPT, "application/json")
            .body(multipart.body)
            .build()
            .map_err(|e| Error::InvalidRequest(e.without_url().to_string()))?;
        let response = raw
            .inner
            .execute(&raw.client, request, "upload_image")
            .await;
        decode_response(response).await
    }
}

/// Decodes a response from [`Inner::execute`] for hand-written operations, the way
/// progenitor's `send()` + `Error::from` would for generated ones.
pub(crate) async fn decode_response<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
) -> Result<T, Error> {
    if let Some(envelope) = response.extensions().get::<Envelope>() {
        return Err(envelope.clone().into_error());
    }
    let body = response.bytes().await.map_err(Error::transport)?;
    serde_json::from_slice(&body).map_err(|e| Error::decode(&body, &e))
}

fn guess_image_type(file_name: &str) -> &'static str {
    let extension = file_name
        .rsplit('.')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "bmp" => "image/bmp",
        "avif" => "image/avif",
        _ => "application/octet-stream",
    }
}

/// A `multipart/form-data` body held in memory, so a request carrying it can be cloned
/// for the fallback host (reqwest's own multipart form is a one-shot stream).
struct Multipart {
    content_type: String,
    body: Vec<u8>,
}

impl Multipart {
    fn single_file(
        field: &str,
        file_name: &str,
        content_type: &str,
        data: &[u8],
    ) -> Result<Multipart, Error> {
        if [file_name, content_type]
            .iter()
            .any(|s| s.contains(['"', '\r', '\n']))
        {
            return Err(Error::InvalidRequest(
                "file name and content type may not contain quotes or line breaks".into(),
            ));
        }
        let boundary = format!("fastcomments-{}", uuid::Uuid::new_v4().simple());
        let mut body = Vec::with_capacity(data.len() + 256);
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; \
                 filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        Ok(Multipart {
            content_type: format!("multipart/form-data; boundary={boundary}"),
            body,
        })
    }
}

/// State the generated client carries into its hooks (`with_inner_type`).
#[derive(Clone, Debug)]
pub struct Inner(Arc<Config>);

#[derive(Clone, Debug)]
struct Config {
    api_key: Option<Secret<HeaderValue>>,
    base_url: String,
    fallback: Option<String>,
    retry: RetryPolicy,
}

/// A successful response, or how the attempt failed and what the retry policy needs to
/// know about it.
type AttemptResult = Result<reqwest::Response, FailedAttempt>;

struct FailedAttempt {
    failure: Failure,
    /// For transport failures: whether the request may have reached the server.
    sent: bool,
    /// The FastComments error code of a failed response.
    code: Option<String>,
    /// `Retry-After` of a 429 or 503.
    retry_after: Option<Duration>,
}

impl FailedAttempt {
    fn transport(error: reqwest::Error) -> FailedAttempt {
        let error = error.without_url();
        FailedAttempt {
            sent: !error.is_connect(),
            failure: Failure::Transport {
                transport: TransportKind::of(&error),
                message: describe(&error),
            },
            code: None,
            retry_after: None,
        }
    }

    fn response(status: reqwest::StatusCode, headers: &HeaderMap, body: &[u8]) -> FailedAttempt {
        let retry_after = matches!(status.as_u16(), 429 | 503)
            .then(|| headers.get(RETRY_AFTER)?.to_str().ok())
            .flatten()
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        FailedAttempt {
            failure: Failure::Response {
                status: status.as_u16(),
                body: String::from_utf8_lossy(body).into_owned(),
            },
            sent: true,
            code: failure_code(body),
            retry_after,
        }
    }

    fn as_attempt(&self) -> Attempt<'_> {
        match &self.failure {
            Failure::Transport { .. } => Attempt::Transport { sent: self.sent },
            Failure::Response { status, .. } => Attempt::Response {
                status: *status,
                code: self.code.as_deref(),
            },
        }
    }

    fn cause(&self) -> String {
        match (&self.failure, &self.code) {
            (Failure::Transport { transport, .. }, _) => transport.to_string(),
            (Failure::Response { status, .. }, Some(code)) => format!("HTTP {status} {code}"),
            (Failure::Response { status, .. }, None) => format!("HTTP {status}"),
        }
    }

    /// The response the hooks hand back for a failed call: it carries the [`Envelope`]
    /// that the `post` hook (or [`decode_response`]) turns into [`Error`].
    fn into_response(self, attempts: u32, gave_up: bool) -> reqwest::Response {
        let mut response = http::Response::new(Bytes::new());
        response.extensions_mut().insert(Envelope {
            attempts,
            gave_up,
            failure: self.failure,
        });
        reqwest::Response::from(response)
    }
}

impl Inner {
    /// Sends one call of operation `method_name` (progenitor's name for it), the one path
    /// every call takes: API key, retries, fallback host, failure detection. A failed call
    /// comes back as a response carrying an [`Envelope`].
    pub(crate) async fn execute(
        &self,
        http: &reqwest::Client,
        mut request: reqwest::Request,
        method_name: &'static str,
    ) -> reqwest::Response {
        let operation = operations::by_method_name(method_name);
        self.authorize(&mut request, operation);
        let operation_id = operation.map_or(method_name, |o| o.id);
        let span = tracing::debug_span!(
            "fastcomments",
            operation = operation_id,
            method = %request.method(),
            path = request.url().path(),
        );
        self.with_retries(http, request, operation_id)
            .instrument(span)
            .await
    }

    fn authorize(&self, request: &mut reqwest::Request, operation: Option<&Operation>) {
        let headers = request.headers_mut();
        headers.remove(API_VERSION_HEADER);
        match (&self.0.api_key, operation) {
            (Some(key), Some(op)) if op.requires_api_key => {
                headers.insert(API_KEY_HEADER, key.0.clone());
            }
            _ => {}
        }
    }

    /// Sends `request` until it succeeds or the retry policy stops, waiting the policy's
    /// schedule between attempts.
    async fn with_retries(
        &self,
        http: &reqwest::Client,
        mut request: reqwest::Request,
        operation: &'static str,
    ) -> reqwest::Response {
        let policy = &self.0.retry;
        let method = request.method().clone();
        let kind = RequestKind {
            operation,
            method: &method,
        };
        let started = tokio::time::Instant::now();
        let mut attempt = 1;
        loop {
            // Keep the request for the next attempt; a body that cannot be cloned (a
            // stream) is sent once.
            let (current, template) = match request.try_clone() {
                Some(copy) => (copy, Some(request)),
                None => (request, None),
            };
            let failed = match self.attempt(http, current).await {
                Ok(response) => return response,
                Err(failed) => failed,
            };
            let wanted = policy.should_retry(&kind, &failed.as_attempt());
            let wait = policy.next_wait(attempt, failed.retry_after);
            let next = template.filter(|_| {
                wanted
                    && attempt < policy.attempts()
                    && policy.within_deadline(started.elapsed(), wait)
            });
            let Some(next) = next else {
                return failed.into_response(attempt, wanted);
            };
            policy.notify(&RetryEvent {
                operation,
                attempt,
                wait,
                cause: failed.cause(),
            });
            tokio::time::sleep(wait).await;
            attempt += 1;
            request = next;
        }
    }

    /// One attempt: send (with the fallback host), read the whole body, classify.
    async fn attempt(&self, http: &reqwest::Client, request: reqwest::Request) -> AttemptResult {
        let response = self
            .send_with_fallback(http, request)
            .await
            .map_err(FailedAttempt::transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let version = response.version();
        let body = response.bytes().await.map_err(FailedAttempt::transport)?;
        if !status.is_success() || is_failure_body(&body) {
            tracing::debug!(
                status = status.as_u16(),
                "FastComments answered with a failure"
            );
            return Err(FailedAttempt::response(status, &headers, &body));
        }
        let mut rebuilt = http::Response::new(body);
        *rebuilt.status_mut() = status;
        *rebuilt.headers_mut() = headers;
        *rebuilt.version_mut() = version;
        Ok(reqwest::Response::from(rebuilt))
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

impl ClientHooks<Inner> for generated::Client {
    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        Ok(self
            .inner
            .execute(&self.client, request, info.operation_id)
            .await)
    }

    async fn post<E>(
        &self,
        result: &reqwest::Result<reqwest::Response>,
        _info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        match result
            .as_ref()
            .ok()
            .and_then(|r| r.extensions().get::<Envelope>())
        {
            Some(envelope) => Err(progenitor_client::Error::Custom(envelope.encode())),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn data_centres_fall_back_to_their_region() {
        assert_eq!(DataCenter::Limburg.region(), Region::Eu);
        assert_eq!(DataCenter::SaoPaulo.region(), Region::Global);
        assert_eq!(Region::Eu.default_fallback(), None);
    }

    #[test]
    fn multipart_body_names_the_file() {
        let m = Multipart::single_file("file", "a.png", "image/png", b"PNG").unwrap();
        let body = String::from_utf8(m.body).unwrap();
        assert!(body.contains("name=\"file\"; filename=\"a.png\""));
        assert!(body.contains("\r\n\r\nPNG\r\n--"));
        assert!(Multipart::single_file("file", "a\".png", "image/png", b"").is_err());
    }
}
