//! The integration protocol (feature `integration`): keep a site's own comment store and
//! FastComments in sync, as FastComments' WordPress and Drupal plugins do, with an
//! exactly-once effect on the site's store across crashes, retries and restarts.
//!
//! - [`IntegrationApi`] (from [`Client::integration`](crate::Client::integration)): the
//!   endpoints, one call each: token, commands, events, the older `/stream`, upload, the
//!   download of FastComments' comments and the `comment-ids` mappings, API secret. They go through the client's one request path, so retries, the fallback
//!   host, body limits, `tracing` spans and [`crate::Error`] are those of every call.
//! - [`Integration::download`] (for a [`DownloadSite`]): FastComments' comments into a
//!   site that starts without them, page by page, exactly once, and the site's ids sent
//!   back (`PATCH /comment-ids`, 500 a call).
//! - [`Integration`]: the protocol. Setup (announce the token until an admin confirms
//!   it), the command stream, the event log applied one event at a time with its
//!   [`Checkpoint`], the upstream sync of the site's comments, driven by
//!   [`tick`](Integration::tick) or [`run`](Integration::run).
//! - [`Site`]: the one trait a site implements; [`StateStore`] for the integration's own
//!   settings ([`MemoryStore`], [`FileStore`]); [`MemorySite`] as a reference.
//!
//! # Exactly once
//!
//! Every durable write is one atomic step, and each step's effect and its progress
//! marker are written together:
//!
//! 1. an event's effect and the checkpoint after it ([`Site::apply`]), or, for an event
//!    the site can never apply, the checkpoint after it and the site's record of the
//!    skip ([`Site::skip`]);
//! 2. an accepted upload batch's ids and the upload cursor ([`Site::record_upload`]), or
//!    the cursor past a comment FastComments refuses even alone ([`Site::skip_upload`]);
//! 3. the token, its validation and the setup flags ([`StateStore::save`]);
//! 4. a downloaded page, the download cursor and the id mappings to send
//!    ([`DownloadSite::store_download`]); the mappings are sent after it and marked
//!    sent after FastComments took them (sending one again is harmless).
//!
//! A crash before a write repeats the step (an event fetched again is applied; a batch
//! sent again is de-duplicated by the server); a crash after it finds the step done (the
//! event is covered by the checkpoint and skipped). The checkpoint keeps the server's
//! `createdAt` and the `_id`s of that millisecond, and the log is read again from that
//! millisecond (inclusive), so events sharing a millisecond, even across pages, are neither
//! lost nor applied twice. One runner at a time: a tick holds a lease in the state store
//! (owner and expiry), and a second runner gets [`Error::LeaseHeld`]. The lease is
//! renewed after every call and before the writes that use its answer (a page of
//! events, an accepted upload batch, a downloaded page, accepted id mappings, a
//! command's state), and it lasts the longest call the client can make, its retries
//! included ([`Client::longest_call`](crate::Client::longest_call)), plus
//! [`lease_ttl`](IntegrationBuilder::lease_ttl): a runner waiting on a slow call keeps
//! it, and a runner whose lease was taken over anyway (it stalled outside a call) gets
//! the error at its next renewal and writes nothing more.
//!
//! # Budgets bound new work, never work fetched
//!
//! A tick's budget ([`tick_budget`](IntegrationBuilder::tick_budget), counted from the
//! arrival of the commands) bounds when new work *starts*: the next page of events, the
//! next upload batch, the next downloaded page or `PATCH` of id mappings. What a call
//! brought back is applied whatever the time: a page of events is applied whole, an
//! accepted batch's ids are recorded, a downloaded page is stored. A call retried on
//! FastComments' schedule (a minute × attempt) outlasts a 30-second budget, so a rule
//! that dropped a late page would meet the same fault at the same checkpoint on every
//! tick and never progress; under this one every tick whose commands arrive takes at
//! least one step (one page, one batch), so a slow service slows the sync down and
//! never stops it.
//!
//! # One item refused forever never blocks the rest
//!
//! A failure is **transient** unless it is known to be **permanent**. A transient one
//! (a call that failed after its retries, a site error not marked [`Permanent`], a state
//! store error) stops the tick; the next tick tries the same item again, and nothing is
//! skipped. A permanent one concerns one item, which is given up, reported in the
//! [`TickReport`], and passed: an event whose [`Site::apply`] fails with a [`Permanent`]
//! error ([`TickReport::skipped_events`], the checkpoint moves past it through
//! [`Site::skip`]), a comment FastComments answers HTTP 413 even alone
//! ([`TickReport::skipped_uploads`], the cursor moves past it through
//! [`Site::skip_upload`]; its replies stay hidden on FastComments until it exists there),
//! a command whose work fails permanently ([`TickReport::skipped_commands`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use fastcomments::integration::{FileStore, Integration, MemorySite};
//! let client = fastcomments::Client::builder().build()?; // no API key needed
//! let integration = Integration::builder(client, MemorySite::new(), FileStore::new("fc.json"))
//!     .integration_type("my-forum")
//!     .domain("forum.example.com")
//!     .build()
//!     .await?;
//! println!("confirm at {}", integration.confirmation_url());
//! loop {
//!     let report = integration.tick().await?;
//!     if report.validated { break; }
//!     tokio::time::sleep(std::time::Duration::from_secs(3)).await;
//! }
//! # Ok(()) }
//! ```

mod api;
mod checkpoint;
mod download;
mod error;
mod event;
mod event_log;
mod memory;
mod runner;
mod site;
mod store;
mod token;
mod upload;
mod wire;

pub use api::{ApiSecret, CommentsPage, EventsPage, IntegrationApi, StreamPage};
pub use checkpoint::Checkpoint;
pub use download::{DownloadReport, DownloadSite, MAX_ID_MAPPINGS};
pub use error::{BoxError, Error, Permanent};
pub use event::{Event, EventComment, EventVote, LogEvent};
pub use memory::{LocalComment, MemoryData, MemorySite};
pub use runner::{Flavour, Integration, IntegrationBuilder, MAX_INTERVAL, TickReport};
pub use site::Site;
pub use store::{
    Fence, FileStore, IntegrationState, Lease, LeaseOutcome, MemoryStore, StaleFence, StateStore,
};
pub use token::Token;
pub use wire::{Command, IdMapping, TokenStatus, UploadComment};
