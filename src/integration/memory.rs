//! [`MemorySite`]: a [`Site`] kept in memory. The reference implementation of the
//! trait's contract, and a stand-in for a real store in tests and benchmarks.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};

use super::checkpoint::Checkpoint;
use super::download::DownloadSite;
use super::error::BoxError;
use super::event::{Event, EventComment, EventVote, LogEvent};
use super::site::Site;
use super::store::{Fence, StaleFence};
use super::wire::{IdMapping, UploadComment};

/// A comment of a [`MemorySite`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LocalComment {
    /// The site's id (its `externalId` on FastComments).
    pub local_id: String,
    /// FastComments' id, once known (from an upload reply or an event).
    pub fastcomments_id: Option<String>,
    /// The parent's local id.
    pub parent: Option<String>,
    /// The page.
    pub url_id: String,
    /// The author's name.
    pub author: String,
    /// The comment's HTML.
    pub html: String,
    /// When it was written.
    pub date: DateTime<Utc>,
    /// Up votes.
    pub votes_up: i64,
    /// Down votes.
    pub votes_down: i64,
    /// Whether it came from FastComments (it is then not uploaded).
    pub from_fastcomments: bool,
}

/// Everything a [`MemorySite`] holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryData {
    /// Comments by local id; local ids sort in the order comments were added.
    pub comments: BTreeMap<String, LocalComment>,
    /// Votes by FastComments id: `(local comment id, direction)`.
    pub votes: BTreeMap<String, (String, i64)>,
    /// The event-log checkpoint.
    pub checkpoint: Checkpoint,
    /// The upload cursor.
    pub upload_cursor: Option<String>,
    /// How many times each event (by `_id`) had its effect: 1 each, always.
    pub effects: BTreeMap<String, u32>,
    /// Events the site did not act on (unknown or malformed), by `_id`.
    pub ignored: Vec<String>,
    /// Events given up through [`Site::skip`]: `(_id, reason)`.
    pub skipped_events: Vec<(String, String)>,
    /// Local comments given up through [`Site::skip_upload`]: `(local id, reason)`. They
    /// keep no FastComments id.
    pub skipped_uploads: Vec<(String, String)>,
    /// The download cursor: comments of the initial download received so far.
    pub download_cursor: u64,
    /// Id mappings of downloaded comments not yet sent to FastComments, oldest first.
    pub unsent_ids: Vec<IdMapping>,
    /// The highest [`Fence`] a write carried: a lower one is refused.
    pub fence: Fence,
    next_id: u64,
    /// FastComments id → local id.
    by_fastcomments: BTreeMap<String, String>,
}

/// A [`Site`] in memory; clones share the store.
///
/// ```
/// use chrono::Utc;
/// use fastcomments::integration::MemorySite;
/// let site = MemorySite::new();
/// let id = site.add_local("post-1", "Ada", "<p>First</p>", Utc::now(), None);
/// assert_eq!(site.data().comments[&id].author, "Ada");
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemorySite(Arc<Mutex<MemoryData>>);

impl MemorySite {
    /// An empty site.
    pub fn new() -> MemorySite {
        MemorySite::default()
    }

    /// Adds a comment written on the site; returns its local id.
    pub fn add_local(
        &self,
        url_id: &str,
        author: &str,
        html: &str,
        date: DateTime<Utc>,
        parent: Option<&str>,
    ) -> String {
        self.with(|data| {
            let local_id = data.new_id();
            data.comments.insert(
                local_id.clone(),
                LocalComment {
                    local_id: local_id.clone(),
                    fastcomments_id: None,
                    parent: parent.map(str::to_owned),
                    url_id: url_id.to_owned(),
                    author: author.to_owned(),
                    html: html.to_owned(),
                    date,
                    votes_up: 0,
                    votes_down: 0,
                    from_fastcomments: false,
                },
            );
            local_id
        })
    }

    /// A copy of everything held.
    pub fn data(&self) -> MemoryData {
        self.with(|data| data.clone())
    }

    fn with<R>(&self, f: impl FnOnce(&mut MemoryData) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Runs the write `f` unless `fence` is lower than the highest seen, which it then
    /// becomes: one atomic step under the lock.
    fn write(&self, fence: Fence, f: impl FnOnce(&mut MemoryData)) -> Result<(), BoxError> {
        self.with(|data| {
            if fence < data.fence {
                return Err(StaleFence {
                    fence,
                    current: data.fence,
                }
                .into());
            }
            data.fence = fence;
            f(data);
            Ok(())
        })
    }
}

impl MemoryData {
    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("{:012}", self.next_id)
    }

    /// The local id of a comment known by its `externalId` or FastComments id.
    fn find(&self, external_id: Option<&str>, fastcomments_id: Option<&str>) -> Option<String> {
        if let Some(id) = external_id.filter(|id| self.comments.contains_key(*id)) {
            return Some(id.to_owned());
        }
        self.by_fastcomments.get(fastcomments_id?).cloned()
    }

    /// Stores `comment`; returns its local id when it was added (not held before).
    fn upsert(&mut self, comment: &EventComment) -> Option<String> {
        let mut added = None;
        let local_id = match self.find(comment.external_id.as_deref(), Some(&comment.id)) {
            Some(id) => id,
            None => {
                let id = self.new_id();
                let parent = comment
                    .parent_id
                    .as_deref()
                    .and_then(|p| self.find(None, Some(p)));
                self.comments.insert(
                    id.clone(),
                    LocalComment {
                        local_id: id.clone(),
                        fastcomments_id: Some(comment.id.clone()),
                        parent,
                        url_id: comment.url_id.clone().unwrap_or_default(),
                        author: String::new(),
                        html: String::new(),
                        date: DateTime::default(),
                        votes_up: 0,
                        votes_down: 0,
                        from_fastcomments: true,
                    },
                );
                added = Some(id.clone());
                id
            }
        };
        self.link(&local_id, &comment.id);
        let Some(local) = self.comments.get_mut(&local_id) else {
            return added;
        };
        if let Some(name) = &comment.commenter_name {
            local.author.clone_from(name);
        }
        if let Some(html) = &comment.comment_html {
            local.html.clone_from(html);
        }
        if let Some(date) = comment.date.and_then(DateTime::from_timestamp_millis) {
            local.date = date;
        }
        added
    }

    /// Records that local comment `local_id` is `fastcomments_id` on FastComments.
    fn link(&mut self, local_id: &str, fastcomments_id: &str) {
        if let Some(c) = self.comments.get_mut(local_id) {
            c.fastcomments_id = Some(fastcomments_id.to_owned());
            self.by_fastcomments
                .insert(fastcomments_id.to_owned(), local_id.to_owned());
        }
    }

    fn delete(&mut self, comment: &EventComment) {
        if let Some(id) = self.find(comment.external_id.as_deref(), Some(&comment.id)) {
            let removed = self.comments.remove(&id);
            if let Some(fc) = removed.and_then(|c| c.fastcomments_id) {
                self.by_fastcomments.remove(&fc);
            }
            self.votes.retain(|_, (on, _)| *on != id);
        }
    }

    fn vote(&mut self, vote: &EventVote, add: bool) {
        let counted = |data: &mut MemoryData, on: &str, direction: i64, sign: i64| {
            if let Some(c) = data.comments.get_mut(on) {
                if direction >= 0 {
                    c.votes_up += sign;
                } else {
                    c.votes_down += sign;
                }
            }
        };
        if add {
            // The vote's `commentId`, or the `_id` of the comment its event carried.
            let comment_id = vote
                .comment_id
                .as_deref()
                .or(vote.comment.as_deref().map(|c| c.id.as_str()));
            let Some(on) = self.find(vote.comment_external_id.as_deref(), comment_id) else {
                return;
            };
            if self
                .votes
                .insert(vote.id.clone(), (on.clone(), vote.direction))
                .is_none()
            {
                counted(self, &on, vote.direction, 1);
            }
        } else if let Some((on, direction)) = self.votes.remove(&vote.id) {
            counted(self, &on, direction, -1);
        }
    }

    fn uploadable(&self, cursor: Option<&str>) -> impl Iterator<Item = &LocalComment> {
        let after = cursor.map(str::to_owned);
        self.comments
            .values()
            .filter(move |c| after.as_ref().is_none_or(|a| c.local_id > *a))
            .filter(|c| !c.from_fastcomments)
    }
}

impl Site for MemorySite {
    async fn checkpoint(&self) -> Result<Checkpoint, BoxError> {
        Ok(self.with(|data| data.checkpoint.clone()))
    }

    async fn apply(
        &self,
        event: &LogEvent,
        checkpoint: &Checkpoint,
        fence: Fence,
    ) -> Result<(), BoxError> {
        self.write(fence, |data| {
            match &event.event {
                Event::NewComment(c) | Event::UpdatedComment(c) => {
                    data.upsert(c);
                }
                Event::DeletedComment(c) => data.delete(c),
                Event::NewVote(v) => data.vote(v, true),
                Event::DeletedVote(v) => data.vote(v, false),
                _ => data.ignored.push(event.id.clone()),
            }
            *data.effects.entry(event.id.clone()).or_default() += 1;
            data.checkpoint = checkpoint.clone();
        })
    }

    async fn skip(
        &self,
        event: &LogEvent,
        checkpoint: &Checkpoint,
        reason: &str,
        fence: Fence,
    ) -> Result<(), BoxError> {
        self.write(fence, |data| {
            data.skipped_events
                .push((event.id.clone(), reason.to_owned()));
            data.checkpoint = checkpoint.clone();
        })
    }

    async fn upload_cursor(&self) -> Result<Option<String>, BoxError> {
        Ok(self.with(|data| data.upload_cursor.clone()))
    }

    async fn comments_after(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Vec<UploadComment>, BoxError> {
        Ok(self.with(|data| {
            data.uploadable(cursor)
                .take(limit)
                .map(|c| {
                    let mut up =
                        UploadComment::new(&c.local_id, &c.url_id, &c.author, &c.html, c.date);
                    up.external_parent_id = c.parent.clone();
                    up
                })
                .collect()
        }))
    }

    async fn count_after(&self, cursor: Option<&str>) -> Result<u64, BoxError> {
        Ok(self.with(|data| data.uploadable(cursor).count() as u64))
    }

    async fn record_upload(
        &self,
        ids: &BTreeMap<String, String>,
        cursor: Option<&str>,
        fence: Fence,
    ) -> Result<(), BoxError> {
        self.write(fence, |data| {
            for (external, id) in ids {
                data.link(external, id);
            }
            data.upload_cursor = cursor.map(str::to_owned);
        })
    }

    async fn skip_upload(
        &self,
        comment: &UploadComment,
        reason: &str,
        cursor: &str,
        fence: Fence,
    ) -> Result<(), BoxError> {
        self.write(fence, |data| {
            data.skipped_uploads
                .push((comment.external_id.clone(), reason.to_owned()));
            data.upload_cursor = Some(cursor.to_owned());
        })
    }
}

impl DownloadSite for MemorySite {
    async fn download_cursor(&self) -> Result<u64, BoxError> {
        Ok(self.with(|data| data.download_cursor))
    }

    async fn store_download(
        &self,
        comments: &[EventComment],
        cursor: u64,
        fence: Fence,
    ) -> Result<(), BoxError> {
        self.write(fence, |data| {
            for comment in comments {
                if let Some(local_id) = data.upsert(comment) {
                    data.unsent_ids
                        .push(IdMapping::new(comment.id.clone(), local_id));
                }
            }
            data.download_cursor = cursor;
        })
    }

    async fn unsent_ids(&self, limit: usize) -> Result<Vec<IdMapping>, BoxError> {
        Ok(self.with(|data| data.unsent_ids.iter().take(limit).cloned().collect()))
    }

    async fn ids_sent(&self, mappings: &[IdMapping]) -> Result<(), BoxError> {
        self.with(|data| data.unsent_ids.retain(|m| !mappings.contains(m)));
        Ok(())
    }
}
