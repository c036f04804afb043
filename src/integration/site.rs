//! The site's side of the integration: its own comment store.

use std::collections::BTreeMap;
use std::future::Future;

use super::checkpoint::Checkpoint;
use super::error::BoxError;
use super::event::LogEvent;
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
/// ```
/// use std::collections::BTreeMap;
/// use std::sync::Mutex;
/// use fastcomments::integration::{BoxError, Checkpoint, Event, LogEvent, Site, UploadComment};
///
/// /// Keeps FastComments' comments by id; has nothing of its own to upload.
/// #[derive(Default)]
/// struct Mirror(Mutex<(BTreeMap<String, String>, Checkpoint)>);
///
/// impl Site for Mirror {
///     async fn checkpoint(&self) -> Result<Checkpoint, BoxError> {
///         Ok(self.0.lock().unwrap().1.clone())
///     }
///     async fn apply(&self, event: &LogEvent, next: &Checkpoint) -> Result<(), BoxError> {
///         let mut store = self.0.lock().unwrap(); // one "transaction"
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
///     async fn record_upload(&self, _: &BTreeMap<String, String>, _: Option<&str>) -> Result<(), BoxError> {
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
    /// a site may ignore, but whose checkpoint it must store).
    fn apply(
        &self,
        event: &LogEvent,
        checkpoint: &Checkpoint,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;

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
    /// new upload cursor, atomically (`None` starts the upload over: a re-sync).
    fn record_upload(
        &self,
        ids: &BTreeMap<String, String>,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;
}
