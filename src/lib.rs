//! A Rust client for [FastComments](https://fastcomments.com): every operation of the
//! REST API, typed errors, retries, pagination streams, and an embedded mock server
//! (feature `mock`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), fastcomments::Error> {
//! let client = fastcomments::Client::builder()
//!     .api_key(std::env::var("FASTCOMMENTS_API_KEY").unwrap_or_default())
//!     .tenant_id("my-tenant")
//!     .build()?;
//! let pages = client.get_pages().send().await?;
//! println!("{} pages", pages.pages.len());
//! # Ok(()) }
//! ```
//!
//! The low-level client is generated at build time by progenitor from `openapi.json`;
//! [`Client`] has one method per operation returning its builder ([`builder`]), whose
//! `send()` returns `Result<T, fastcomments::Error>`; the request and response types are
//! in [`types`].
//!
//! - Every call goes through one request path: the API key only where the spec asks for
//!   it, retries by the client's [`RetryPolicy`] (one minute more per attempt,
//!   `Retry-After` honoured, a POST sent twice only when that is safe), bodies read
//!   within a limit, failures told from successes once ([`Error`]).
//! - Every list operation's builder has `.stream()`: a `futures::Stream` of its items,
//!   fetched ahead while you consume them ([`pagination`]).
//! - Feature `integration`: the integration protocol that keeps a site's own comment
//!   store and FastComments in sync, exactly once ([`integration`]).
//! - Feature `sso`: secure and simple SSO payloads, signed the way FastComments checks
//!   them ([`sso`]).
//! - Feature `webhook` (and `webhook-axum`): verify FastComments' webhook deliveries
//!   and read their events ([`webhook`]).
//! - Feature `live`: a page's live events as a `Stream`, each stored event exactly once
//!   and in order across reconnects ([`live`]).
//! - Feature `mock`: an in-process FastComments server with scripted faults, for tests
//!   (`fastcomments::mock`).
#![warn(missing_docs)]

pub mod client;
pub mod error;
mod generated;
#[cfg(feature = "integration")]
pub mod integration;
#[cfg(any(feature = "integration", feature = "webhook", feature = "sso"))]
mod lenient;
#[cfg(feature = "live")]
pub mod live;
#[cfg(feature = "mock")]
pub mod mock;
pub mod operations;
pub mod pagination;
mod response;
pub mod retry;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod sql;
#[cfg(feature = "sso")]
pub mod sso;
#[cfg(feature = "webhook")]
pub mod webhook;

pub use client::{Call, Client, ClientBuilder, DataCenter, Region, UploadImage};
pub use error::{ApiError, Error, TransportKind};
pub use generated::{builder, types};
pub use retry::{RetryEvent, RetryPolicy};
