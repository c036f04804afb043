//! The [`Client`]: credentials, tenant, host and timeouts around the generated client.
//!
//! Every operation of the spec is a method on [`Client`] returning the generated builder
//! for it (`crate::builder::*`), with `tenantId` preset from the client; its `send()`
//! returns `Result<_, fastcomments::Error>`. Every call goes through one request path
//! (`request.rs`).

mod builder;
mod call;
mod path;
mod region;
mod request;
mod upload;

use std::sync::Arc;

#[cfg(any(
    feature = "integration",
    feature = "sso",
    feature = "webhook",
    feature = "live"
))]
pub(crate) use builder::Secret;
pub use builder::{ClientBuilder, DEFAULT_MAX_BODY_SIZE};
pub use call::Call;
pub(crate) use path::{BuildError, path_segment};
pub use region::{DataCenter, Region};
#[cfg(feature = "live")]
pub(crate) use request::send_dated;
pub(crate) use request::{Inner, send};
pub use upload::UploadImage;

use crate::{RetryPolicy, generated};

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
    generated: generated::Client,
    tenant_id: Option<Arc<str>>,
}

impl Client {
    /// Starts a [`ClientBuilder`].
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The tenant id given to the builder.
    pub fn tenant_id(&self) -> Option<&str> {
        self.tenant_id.as_deref()
    }

    /// The primary base URL.
    pub fn base_url(&self) -> &str {
        &self.generated.inner.0.base_url
    }

    /// The retry policy of this client.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.generated.inner.0.retry
    }

    /// The longest one call can take, its retries included: the retry policy's worst
    /// case ([`RetryPolicy::longest_call`]) for attempts bounded by the client's
    /// timeout (plus its connect timeout when a fallback host is tried after the
    /// primary). With the defaults (30 s timeout, 10 s connect timeout, 5 attempts,
    /// waits of at most 10 minutes) about 43 minutes.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fastcomments::{Client, RetryPolicy};
    /// let client = Client::builder()
    ///     .timeout(Duration::from_secs(20))
    ///     .retry(RetryPolicy::default().deadline(Duration::from_secs(300)))
    ///     .build()?;
    /// assert_eq!(client.longest_call(), Duration::from_secs(300));
    /// # Ok::<(), fastcomments::Error>(())
    /// ```
    pub fn longest_call(&self) -> std::time::Duration {
        let config = &self.generated.inner.0;
        config.retry.longest_call(config.attempt_limit)
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
        let mut config = request::Config::clone(&self.generated.inner.0);
        config.retry = policy;
        Client {
            generated: generated::Client::new_with_client(
                self.base_url(),
                self.generated.client.clone(),
                Inner(Arc::new(config)),
            ),
            tenant_id: self.tenant_id.clone(),
        }
    }

    /// A copy of this client acting for another tenant (an agency or reseller account
    /// managing its tenants' data with its own API key).
    pub fn for_tenant(&self, tenant_id: impl Into<String>) -> Client {
        Client {
            generated: self.generated.clone(),
            tenant_id: Some(Arc::from(tenant_id.into())),
        }
    }

    /// The generated client the builders borrow.
    pub(crate) fn generated(&self) -> &generated::Client {
        &self.generated
    }
}
