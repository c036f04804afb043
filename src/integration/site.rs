//! The site's side of the integration: its own comment store.

use std::collections::BTreeMap;
use std::future::Future;

use super::checkpoint::Checkpoint;
use super::error::BoxError;
use super::event::{Event, LogEvent};
use super::store::Fence;
use super::wire::UploadComment;

/// The site's comment store, as the integration reads and writes it.
///
/// Exactly-once rests on two writes being atomic: [`apply`](Site::apply) stores the
/// event's effect **and** the checkpoint that follows it together, and
/// [`record_upload`](Site::record_upload) stores the FastComments ids **and** the upload
/// cursor together. A database-backed site does each in one transaction. Then a crash
/// at any point leaves either both or neither, and the integration resumes from what is
/// stored: an event applied is never applied again, one not applied is applied next time.
///
/// The integration calls one method at a time, in order: an implementation needs no
/// locking of its own beyond what its store needs.
///
/// # Fencing
///
/// Every write carries the [`Fence`] of the lease it is made under. A site stores the
/// highest fence it has seen, in the same atomic write, and refuses a write with a
/// lower one by returning [`StaleFence`](super::StaleFence) (boxed) and storing
/// nothing: that write comes from a runner that was paused past its lease while
/// another took over, and must not land. [`MemorySite`](super::MemorySite) and
/// `SqlSite` (features `sqlite`, `postgres`) do this; a site that keeps no fence of its
/// own relies on the state store's lease alone, which a paused runner can outlive.
///
/// # Failures: transient or permanent
///
/// An error a method returns is **transient** (the database restarting, a lock timeout):
/// the tick stops, nothing moves, and the next tick tries the same item again, as often
/// as it takes. Nothing is ever skipped on a transient error. An error wrapped in
/// [`Permanent`](super::Permanent) says the item can never succeed (a row the schema
/// refuses): the integration gives that one item up and goes on with the rest:
///
/// - an event whose [`apply`](Site::apply) fails permanently is handed to
///   [`skip`](Site::skip), which stores the checkpoint past it (with a record of why, if
///   the site keeps one) in one write, as `apply` would have; the tick's
///   [`TickReport::skipped_events`](super::TickReport::skipped_events) lists it;
/// - a command whose work fails permanently is left for this tick and listed in
///   [`TickReport::skipped_commands`](super::TickReport::skipped_commands); the other
///   commands of the tick run.
///
/// The upload gives up a comment on FastComments' side too: one that FastComments refuses
/// even alone (HTTP 413, a body over its size limit) is handed to
/// [`skip_upload`](Site::skip_upload) and listed in
/// [`TickReport::skipped_uploads`](super::TickReport::skipped_uploads).
///
/// ```
/// use std::collections::BTreeMap;
/// use std::sync::Mutex;
/// use fastcomments::integration::{BoxError, Checkpoint, Event, Fence, LogEvent, Site, StaleFence, UploadComment};
///
/// /// Keeps FastComments' comments by id; has nothing of its own to upload.
/// #[derive(Default)]
/// struct Mirror(Mutex<(BTreeMap<String, String>, Checkpoint, Fence)>);
///
/// impl Site for Mirror {
///     async fn checkpoint(&self) -> Result<Checkpoint, BoxError> {
///         Ok(self.0.lock().unwrap().1.clone())
///     }
///     async fn apply(&self, event: &LogEvent, next: &Checkpoint, fence: Fence) -> Result<(), BoxError> {
///         let mut store = self.0.lock().unwrap(); // one "transaction"
///         if fence < store.2 {
///             return Err(StaleFence { fence, current: store.2 }.into());
///         }
///         store.2 = fence;
///         match &event.event {
///             Event::NewComment(c) | Event::UpdatedComment(c) => {
///                 store.0.insert(c.id.clone(), c.comment_html.clone().unwrap_or_default());
///             }
///             Event::DeletedComment(c) => { store.0.remove(&c.id); }
///             _ => {}
///         }
///         store.1 = next.clone();
///         Ok(())
///     }
///     async fn upload_cursor(&self) -> Result<Option<String>, BoxError> { Ok(None) }
///     async fn comments_after(&self, _: Option<&str>, _: usize) -> Result<Vec<UploadComment>, BoxError> {
///         Ok(Vec::new())
///     }
///     async fn count_after(&self, _: Option<&str>) -> Result<u64, BoxError> { Ok(0) }
///     async fn record_upload(&self, _: &BTreeMap<String, String>, _: Option<&str>, _: Fence) -> Result<(), BoxError> {
///         Ok(())
///     }
/// }
/// ```
pub trait Site: Send + Sync {
    /// The checkpoint stored by the last [`apply`](Site::apply)
    /// ([`Checkpoint::default`] before any).
    fn checkpoint(&self) -> impl Future<Output = Result<Checkpoint, BoxError>> + Send;

    /// Applies `event` and stores `checkpoint` with it, atomically. Called once per event
    /// of the log, in order, including events of unknown types and malformed ones (which
    /// a site may ignore, but whose checkpoint it must store). Refused with
    /// [`StaleFence`](super::StaleFence), nothing stored, when `fence` is lower than the
    /// highest the site has seen (see [Fencing](Site#fencing)).
    fn apply(
        &self,
        event: &LogEvent,
        checkpoint: &Checkpoint,
        fence: Fence,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// Stores `checkpoint` for an event the site could not apply (its
    /// [`apply`](Site::apply) failed with a [`Permanent`](super::Permanent) error),
    /// atomically with whatever record of it the site keeps: the event is given up, and
    /// the log goes on after it. `reason` is the error's text.
    ///
    /// Exactly once: the checkpoint moves in this one write, as it does in `apply`, so a
    /// crash before it applies (or skips) the event again and a crash after it finds it
    /// covered. The default calls [`apply`](Site::apply) with the same envelope and
    /// [`Event::Skipped`] in place of the event: a site whose `apply` ignores variants it
    /// does not act on (`_ => {}`) stores the checkpoint and nothing else. Override it to
    /// keep a table of skipped events for a person to look at.
    fn skip(
        &self,
        event: &LogEvent,
        checkpoint: &Checkpoint,
        reason: &str,
        fence: Fence,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        let marker = LogEvent {
            event: Event::Skipped {
                reason: reason.to_owned(),
                event: Box::new(event.event.clone()),
            },
            ..event.clone()
        };
        async move { self.apply(&marker, checkpoint, fence).await }
    }

    /// The upload cursor stored by the last [`record_upload`](Site::record_upload): the
    /// `externalId` of the last comment FastComments accepted (`None` before any).
    fn upload_cursor(&self) -> impl Future<Output = Result<Option<String>, BoxError>> + Send;

    /// Up to `limit` local comments after `cursor` (from the first with `None`), in the
    /// site's upload order: oldest first, and stable (a comment added later comes last).
    fn comments_after(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<UploadComment>, BoxError>> + Send;

    /// How many local comments come after `cursor` in that order.
    fn count_after(
        &self,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<u64, BoxError>> + Send;

    /// Stores the FastComments ids given to uploaded comments (`externalId → id`) and the
    /// new upload cursor, atomically (`None` starts the upload over: a re-sync); refused
    /// like [`apply`](Site::apply) under a stale `fence`.
    fn record_upload(
        &self,
        ids: &BTreeMap<String, String>,
        cursor: Option<&str>,
        fence: Fence,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// Stores the upload cursor past `comment`, which FastComments refuses even alone
    /// (`reason` says why: HTTP 413 for a body over its size limit), with no
    /// FastComments id for it, atomically with whatever record of it the site keeps.
    /// The upload then goes on with the next comment.
    ///
    /// Its replies are uploaded as usual, with `externalParentId` naming it:
    /// FastComments keeps them but does not show a reply whose parent it does not have,
    /// so they stay hidden until the parent reaches FastComments (a shortened copy
    /// uploaded by a re-sync) or the site re-parents them. The default stores the cursor
    /// through [`record_upload`](Site::record_upload) with no ids; override it to keep
    /// the list for the site's admin.
    fn skip_upload(
        &self,
        comment: &UploadComment,
        reason: &str,
        cursor: &str,
        fence: Fence,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        let _ = (comment, reason);
        async move {
            self.record_upload(&BTreeMap::new(), Some(cursor), fence)
                .await
        }
    }
}
