//! The initial download: FastComments' comments into a site that starts without them,
//! page by page (`GET /integrations/v1/comments`), each page stored with the download
//! cursor in one write, then the ids the site gave them sent back
//! (`PATCH /integrations/v1/comment-ids`, at most 500 a call). FastComments' WordPress
//! plugin does the same from its "download comments" admin page: the first request with
//! `includeCount=true`, the next ones with `skip` = the comments received so far, while
//! `hasMore`; after each page it sends `{fcId, wpId}` mappings, so FastComments sets
//! the comment's `meta.wpId`, and queues the ones that failed for the next run.
//!
//! # Exactly once
//!
//! 1. A page and the cursor after it are stored together ([`DownloadSite::store_download`]),
//!    keyed by FastComments id: a crash before the write fetches the same page again; a
//!    crash after it asks for the next one. The site records, in the same write, the
//!    id mappings of the comments it added.
//! 2. The mappings are sent after that write, 500 at a time, and marked sent after
//!    FastComments accepted them ([`DownloadSite::ids_sent`]): a crash in between sends
//!    them again, which only sets the same `meta.wpId` again.
//!
//! A comment created on FastComments while the download runs also comes through the
//! event log; a site that keys both [`Site::apply`] and `store_download` on the
//! FastComments id holds it once. Paging is by offset (`skip`): a comment deleted on
//! FastComments during the download shifts the later ones back by one, so one of them
//! may be missed by the download (its later events still reach the site); run the
//! download while the site is quiet, as the WordPress plugin's admin page does.

use std::future::Future;

use tokio::time::Instant;

use super::error::{BoxError, Error};
use super::event::EventComment;
use super::runner::Integration;
use super::site::Site;
use super::store::{Fence, StateStore};
use super::wire::IdMapping;

/// The most mappings one `PATCH /integrations/v1/comment-ids` takes (FastComments'
/// limit, as the WordPress plugin batches them; the endpoint answers 400 above it).
pub const MAX_ID_MAPPINGS: usize = 500;

/// A [`Site`] that can take FastComments' comments in an initial download
/// ([`Integration::download`]).
///
/// `store_download` is atomic like [`Site::apply`]: the page's comments, the cursor
/// after them and the id mappings of the comments it added, or none of them.
pub trait DownloadSite: Site {
    /// How many comments of the download are stored: the `skip` of the next page (0
    /// before any).
    fn download_cursor(&self) -> impl Future<Output = Result<u64, BoxError>> + Send;

    /// Stores one page of downloaded comments and `cursor` (the comments received so
    /// far, this page included), atomically, unless `fence` is lower than the highest
    /// the site has seen ([`StaleFence`](super::StaleFence) then, and nothing stored). A comment the site holds already (by its
    /// FastComments id, or by `externalId` for one it uploaded) is updated, not added
    /// again; for each comment it adds, the site records the mapping
    /// (FastComments id → its own id) to send, in the same write.
    fn store_download(
        &self,
        comments: &[EventComment],
        cursor: u64,
        fence: Fence,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// Up to `limit` recorded mappings not yet marked sent, oldest first.
    fn unsent_ids(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<IdMapping>, BoxError>> + Send;

    /// Marks `mappings` sent: FastComments accepted them.
    fn ids_sent(&self, mappings: &[IdMapping])
    -> impl Future<Output = Result<(), BoxError>> + Send;
}

/// What one [`Integration::download`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DownloadReport {
    /// Comments received and stored by this call.
    pub downloaded: u64,
    /// How many comments FastComments holds for the site, when it said
    /// (`includeCount=true`, sent on the first page of a download).
    pub total_count: Option<u64>,
    /// Id mappings FastComments accepted in this call.
    pub ids_sent: u64,
    /// Id mappings FastComments refused for good (a 4xx other than 401, 403, 408 and
    /// 429): `(fcId, reason)`. They are given up, not sent again, so one refused batch
    /// never blocks the rest of the download; the comments are stored all the same,
    /// FastComments just does not learn their local ids (`meta.wpId`).
    pub ids_refused: Vec<(String, String)>,
    /// Comments that could not be read: `(_id, reason)`. They count in the cursor (the
    /// server's `skip` counts them) and are not stored.
    pub undecodable: Vec<(String, String)>,
    /// Whether the download is over: the last page is stored and every mapping sent.
    pub done: bool,
    /// Whether the call stopped at its time budget with work left.
    pub budget_exhausted: bool,
}

impl<S: DownloadSite, St: StateStore> Integration<S, St> {
    /// Downloads FastComments' comments into the site, resuming at the stored cursor,
    /// and sends back the ids the site gave them. Call it until
    /// [`done`](DownloadReport::done); calling it again after is cheap (one page request
    /// that comes back empty, and the mappings still unsent, if any).
    ///
    /// Holds the lease like [`tick`](Integration::tick) (renewed after every page and
    /// every `PATCH`, before what they brought is stored) and stops at the tick budget:
    /// no page or `PATCH` starts past it, and a page that arrived past it is stored all
    /// the same. Errors are transient: nothing moves but what was stored, and the next
    /// call resumes.
    pub async fn download(&self) -> Result<DownloadReport, Error> {
        let state = self.store.load().await.map_err(Error::store)?;
        if !state.validated {
            return Err(Error::TokenRefused {
                code: "token-not-validated".into(),
                reason: "the token is not validated yet: tick until it is".into(),
            });
        }
        self.begin_lease().await?;
        let deadline = Instant::now() + self.config.tick_budget;
        let mut report = DownloadReport::default();
        let outcome = self.download_pages(&mut report, deadline).await;
        let released = self
            .store
            .release_lease(&self.config.owner, self.fence())
            .await;
        outcome?;
        released.map_err(Error::store)?;
        Ok(report)
    }

    async fn download_pages(
        &self,
        report: &mut DownloadReport,
        deadline: Instant,
    ) -> Result<(), Error> {
        let mut pages_done = false;
        loop {
            self.send_ids(report, deadline).await?;
            if pages_done || report.budget_exhausted {
                report.done = pages_done && !report.budget_exhausted;
                return Ok(());
            }
            if Instant::now() >= deadline {
                report.budget_exhausted = true;
                return Ok(());
            }
            let cursor = self.site.download_cursor().await.map_err(Error::site)?;
            let page = self
                .api
                .comments(cursor, cursor == 0)
                .await
                .map_err(Error::from_call)?;
            // A page fetched is stored whatever the time, under a renewed lease.
            self.take_lease().await?;
            if page.total_count.is_some() {
                report.total_count = page.total_count;
            }
            let received = (page.comments.len() + page.undecodable.len()) as u64;
            if received > 0 {
                self.site
                    .store_download(&page.comments, cursor + received, self.fence())
                    .await
                    .map_err(Error::site)?;
            }
            report.downloaded += page.comments.len() as u64;
            report.undecodable.extend(page.undecodable);
            // An empty page with `hasMore` would ask for the same page forever.
            pages_done = !page.has_more || received == 0;
        }
    }

    /// Sends the unsent mappings, [`MAX_ID_MAPPINGS`] a call.
    async fn send_ids(&self, report: &mut DownloadReport, deadline: Instant) -> Result<(), Error> {
        loop {
            let batch = self
                .site
                .unsent_ids(MAX_ID_MAPPINGS)
                .await
                .map_err(Error::site)?;
            if batch.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                report.budget_exhausted = true;
                return Ok(());
            }
            let answer = self.api.comment_ids(&batch).await;
            self.take_lease().await?;
            match answer {
                Ok(_) => report.ids_sent += batch.len() as u64,
                Err(error) if refused_for_good(&error) => {
                    let reason = error.to_string();
                    tracing::warn!(%reason, mappings = batch.len(), "id mappings refused by FastComments; given up");
                    report.ids_refused.extend(
                        batch
                            .iter()
                            .map(|m| (m.fastcomments_id.clone(), reason.clone())),
                    );
                }
                Err(error) => return Err(Error::from_call(error)),
            }
            // Accepted or given up: either way not sent again.
            self.site.ids_sent(&batch).await.map_err(Error::site)?;
        }
    }
}

/// Whether FastComments refused a call in a way no retry changes: a 4xx answer, except
/// a refused token (401, 403: the token must be fixed, never an item skipped), a
/// timeout (408) and throttling (429).
fn refused_for_good(error: &crate::Error) -> bool {
    error
        .status()
        .is_some_and(|s| (400..500).contains(&s) && !matches!(s, 401 | 403 | 408 | 429))
}
