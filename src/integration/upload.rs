//! Upstream sync: the site's comments to FastComments, batch by batch, resuming after a
//! crash at the last accepted batch.

use std::collections::BTreeMap;

use tokio::time::Instant;

use super::error::Error;
use super::runner::{Integration, TickReport};
use super::site::Site;
use super::store::{IntegrationState, StateStore};
use super::wire::UploadComment;

/// How many times a batch answered HTTP 413 is split (by ten each time) before the
/// upload gives up, as FastComments' WordPress plugin does.
const MAX_SPLITS: u32 = 5;

impl<S: Site, St: StateStore> Integration<S, St> {
    /// `SendComments` (`single` is `None`: everything from the cursor) or the older
    /// `SendNextCommentsPayload` (one batch of at most `single` comments).
    ///
    /// Each accepted batch's ids and the new cursor are stored by one
    /// [`Site::record_upload`]; a crash before it resends the batch, which the server
    /// de-duplicates.
    pub(crate) async fn upload(
        &self,
        state: &mut IntegrationState,
        single: Option<u64>,
        report: &mut TickReport,
        deadline: Instant,
    ) -> Result<(), Error> {
        if state.upload_complete && single.is_none() {
            // A new SendComments after a finished upload: an admin asked for a re-sync.
            self.site
                .record_upload(&BTreeMap::new(), None, self.fence())
                .await
                .map_err(Error::site)?;
            state.upload_complete = false;
            self.store
                .save(state, self.fence())
                .await
                .map_err(Error::store)?;
        }
        if !state.upload_in_progress {
            state.upload_in_progress = true;
            self.store
                .save(state, self.fence())
                .await
                .map_err(Error::store)?;
        }
        let mut cursor = self.site.upload_cursor().await.map_err(Error::site)?;
        let mut size = self.config.batch_size;
        let mut sent = 0u64;
        loop {
            if Instant::now() >= deadline {
                report.budget_exhausted = true;
                return Ok(());
            }
            let limit = single.map_or(size, |n| size.min(usize::try_from(n).unwrap_or(usize::MAX)));
            let remaining = self
                .site
                .count_after(cursor.as_deref())
                .await
                .map_err(Error::site)?;
            let mut batch = self
                .site
                .comments_after(cursor.as_deref(), limit.max(1))
                .await
                .map_err(Error::site)?;
            batch.truncate(limit.max(1));
            let remaining = trusted_count(remaining, batch.len(), limit.max(1));
            let sent_batch = self.send(&batch, remaining, &mut size).await?;
            // The answer is applied whatever the time; a runner whose lease was taken
            // over while it waited stops here, before writing.
            self.take_lease().await?;
            let (accepted, ids) = match sent_batch {
                Sent::Accepted(accepted, ids) => (accepted, ids),
                Sent::Refused(reason) => {
                    // Refused even alone: give it up, store the cursor past it, go on.
                    let comment = &batch[0];
                    if cursor.as_deref() == Some(comment.external_id.as_str()) {
                        return Err(Error::site(
                            "comments_after returned the comment at the cursor again".into(),
                        ));
                    }
                    self.site
                        .skip_upload(comment, &reason, &comment.external_id, self.fence())
                        .await
                        .map_err(|source| {
                            Error::skip_failed(comment.external_id.clone(), source)
                        })?;
                    tracing::warn!(comment = %comment.external_id, %reason, "local comment refused by FastComments even alone; skipped");
                    report
                        .skipped_uploads
                        .push((comment.external_id.clone(), reason));
                    cursor = Some(comment.external_id.clone());
                    // The split was for this comment: the ones after it go as before.
                    size = self.config.batch_size;
                    continue;
                }
            };
            let batch = &batch[..accepted];
            let next = batch
                .last()
                .map(|c| c.external_id.clone())
                .or(cursor.clone());
            if !batch.is_empty() && next == cursor {
                return Err(Error::site(
                    "comments_after returned the comment at the cursor again".into(),
                ));
            }
            self.site
                .record_upload(&ids, next.as_deref(), self.fence())
                .await
                .map_err(Error::site)?;
            cursor = next;
            sent += batch.len() as u64;
            report.uploaded += batch.len() as u64;
            let left = left_after(remaining, batch);
            if let Some(progress) = &self.config.on_upload {
                progress(sent, left);
            }
            if left == 0 {
                state.upload_complete = true;
                state.upload_in_progress = false;
                return self
                    .store
                    .save(state, self.fence())
                    .await
                    .map_err(Error::store);
            }
            if single.is_some() {
                return Ok(());
            }
        }
    }

    /// Sends the longest prefix of `batch` the server takes, splitting by ten on each
    /// 413. `size` keeps the smaller batch size for the rest of the upload. A 413 for
    /// the first comment alone is [`Sent::Refused`]: no split can help it.
    async fn send(
        &self,
        batch: &[UploadComment],
        remaining: u64,
        size: &mut usize,
    ) -> Result<Sent, Error> {
        let mut splits = 0;
        loop {
            let part = &batch[..batch.len().min(*size)];
            match self.api.upload(part, left_after(remaining, part)).await {
                Ok(ids) => return Ok(Sent::Accepted(part.len(), ids)),
                Err(error) if error.status() == Some(413) && part.len() == 1 => {
                    return Ok(Sent::Refused(format!(
                        "FastComments refused the comment even alone: {error}"
                    )));
                }
                Err(error) if error.status() == Some(413) && splits < MAX_SPLITS => {
                    splits += 1;
                    *size = (part.len() / 10).max(1);
                    tracing::debug!(size = *size, "upload batch too large, split");
                }
                Err(error) => return Err(Error::from_call(error)),
            }
        }
    }
}

/// What one [`send`](Integration::send) achieved.
enum Sent {
    /// The first `n` comments were accepted, with these ids.
    Accepted(usize, BTreeMap<String, String>),
    /// The first comment is refused even alone (HTTP 413): why.
    Refused(String),
}

/// What is left from the cursor, the batch included: the site's count, unless it
/// contradicts the batch the site just gave (fewer counted than handed over). Then a full
/// batch means there may be more (one more is assumed, so the upload goes on until a
/// short batch), a short one that there is nothing after it. Without this a site that
/// undercounts would have the upload marked complete with comments never sent.
fn trusted_count(counted: u64, batch: usize, limit: usize) -> u64 {
    let batch = batch as u64;
    if counted >= batch {
        counted
    } else if batch == limit as u64 {
        tracing::warn!(
            counted,
            batch,
            "the site counted fewer comments than it gave; going on"
        );
        batch + 1
    } else {
        batch
    }
}

/// `countRemaining` after `batch`: what the site counted from the cursor, less the
/// batch. An empty batch means the site has nothing more to give, whatever it counted.
fn left_after(remaining: u64, batch: &[UploadComment]) -> u64 {
    if batch.is_empty() {
        0
    } else {
        remaining.saturating_sub(batch.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::trusted_count;

    /// A site whose count contradicts its own batch: a full batch goes on, a short one
    /// ends the upload; a consistent count is kept as it is.
    #[test]
    fn a_count_below_the_batch_is_not_trusted() {
        assert_eq!(trusted_count(7, 3, 3), 7);
        assert_eq!(
            trusted_count(3, 3, 3),
            3,
            "an exact count: the last full batch ends it"
        );
        assert_eq!(
            trusted_count(2, 3, 3),
            4,
            "full batch, undercounted: more may come"
        );
        assert_eq!(trusted_count(0, 1, 3), 1, "short batch: nothing after it");
        assert_eq!(trusted_count(0, 0, 3), 0);
    }
}
