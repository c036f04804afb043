//! Reading the event log into the site: each event applied once, in order, with the
//! checkpoint that follows it (see [`Checkpoint`]).
//!
//! The tick's budget is checked before a page is asked for, never between the events of
//! a page fetched: a page that arrived late (its call retried a minute later) is applied
//! whole, so a slow service slows the log down but never stops it.

use tokio::time::Instant;

use super::api::EventsPage;
use super::checkpoint::Checkpoint;
use super::error::{Error, Permanent};
use super::event::Event;
use super::runner::{Integration, TickReport};
use super::site::Site;
use super::store::StateStore;

impl<S: Site, St: StateStore> Integration<S, St> {
    /// `FetchEvents`: pages through the log from the site's checkpoint while `hasMore`,
    /// moving `checkpoint` with each event applied.
    pub(crate) async fn fetch_events(
        &self,
        checkpoint: &mut Checkpoint,
        report: &mut TickReport,
        deadline: Instant,
    ) -> Result<(), Error> {
        loop {
            if Instant::now() >= deadline {
                report.budget_exhausted = true;
                return Ok(());
            }
            let page = self
                .api
                .events(checkpoint.from_date_time())
                .await
                .map_err(Error::from_call)?;
            // A runner whose lease was taken over while the page came stops here, before
            // writing; otherwise the renewed lease covers the page's writes.
            self.take_lease().await?;
            let has_more = page.has_more;
            let before = progress(report);
            *checkpoint = self.apply_page(page, checkpoint.clone(), report).await?;
            if !has_more {
                return Ok(());
            }
            if progress(report) == before {
                return Err(stuck(checkpoint));
            }
        }
    }

    /// The events of a `/stream` reply, applied whole (they are fetched already); the
    /// older flavour pages by calling `/stream` again, which the next tick does.
    pub(crate) async fn stream_events(
        &self,
        page: EventsPage,
        checkpoint: Checkpoint,
        report: &mut TickReport,
    ) -> Result<(), Error> {
        let has_more = page.has_more;
        let before = progress(report);
        self.take_lease().await?;
        let checkpoint = self.apply_page(page, checkpoint, report).await?;
        if has_more && progress(report) == before {
            return Err(stuck(&checkpoint));
        }
        if has_more {
            report.budget_exhausted = true;
        }
        Ok(())
    }

    /// Applies the events of one page not covered by `checkpoint`, all of them: the
    /// budget does not cut a page fetched (it was spent on the call that brought it).
    /// Returns the new checkpoint.
    async fn apply_page(
        &self,
        page: EventsPage,
        mut checkpoint: Checkpoint,
        report: &mut TickReport,
    ) -> Result<Checkpoint, Error> {
        for (id, reason) in page.undeliverable {
            tracing::warn!(event = %id, %reason, "integration event without createdAt, not delivered");
            report.undeliverable.push((id, reason));
        }
        for event in page.events {
            if checkpoint.covers(&event) {
                report.skipped += 1;
                continue;
            }
            let next = checkpoint.after(&event);
            match self.site.apply(&event, &next, self.fence()).await {
                Ok(()) => {
                    report.applied += 1;
                    if let Event::Malformed { reason, .. } = &event.event {
                        tracing::warn!(event = %event.id, %reason, "malformed integration event delivered as such");
                        report.malformed.push((event.id.clone(), reason.clone()));
                    }
                }
                Err(error) if Permanent::is(&*error) => {
                    // Given up: the checkpoint moves past it in the site's one write.
                    let reason = error.to_string();
                    self.site
                        .skip(&event, &next, &reason, self.fence())
                        .await
                        .map_err(|source| Error::skip_failed(event.id.clone(), source))?;
                    tracing::warn!(event = %event.id, %reason, "integration event failed permanently; skipped");
                    report.skipped_events.push((event.id.clone(), reason));
                }
                // Transient: the tick stops, the checkpoint stays, the next tick retries.
                Err(error) => return Err(Error::site(error)),
            }
            checkpoint = next;
        }
        Ok(checkpoint)
    }
}

/// Events the tick has moved past: applied or given up.
fn progress(report: &TickReport) -> usize {
    usize::try_from(report.applied).unwrap_or(usize::MAX) + report.skipped_events.len()
}

fn stuck(checkpoint: &Checkpoint) -> Error {
    Error::Stuck {
        at_ms: checkpoint.at_ms,
        detail: format!(
            "a page with more to come brought no new event; {} events of that millisecond are applied",
            checkpoint.ids_at_ms.len()
        ),
    }
}
