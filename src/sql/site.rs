//! [`SqlSite`]: a site's comments and votes in SQL tables, kept in sync exactly once.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{Any, Row, Transaction};

use super::db::SqlDb;
use super::state::{check_fence, fence_of, fence_value};
use crate::integration::{
    BoxError, Checkpoint, Event, EventComment, EventVote, Fence, LogEvent, Permanent, Site,
    UploadComment,
};

/// A comment of a [`SqlSite`] (a row of `fastcomments_comments`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SqlComment {
    /// The site's id for it, its `externalId` on FastComments (as a decimal string).
    pub local_id: i64,
    /// FastComments' id, once known (from an upload's answer or an event).
    pub fastcomments_id: Option<String>,
    /// The parent's local id, once the parent is held (a reply that arrives before its
    /// parent is linked when the parent comes).
    pub parent: Option<i64>,
    /// The parent's FastComments id, for a comment that came from FastComments.
    pub parent_fastcomments_id: Option<String>,
    /// The page.
    pub url_id: String,
    /// The author's name.
    pub author: String,
    /// The comment's HTML.
    pub html: String,
    /// When it was written, epoch milliseconds.
    pub date_ms: i64,
    /// Up votes.
    pub votes_up: i64,
    /// Down votes.
    pub votes_down: i64,
    /// Whether it came from FastComments (it is then not uploaded).
    pub from_fastcomments: bool,
}

/// A [`Site`] in SQL tables (see the [schema](crate::sql#schema)), on SQLite or
/// PostgreSQL: a database copy of a site's FastComments comments kept in sync exactly
/// once, with no code of one's own, and the reference for writing a `Site` on SQL.
///
/// Each write is one transaction that begins by checking the [`Fence`] against the
/// lease row of [`SqlStateStore`](super::SqlStateStore) for the same site in the same
/// database (use the two together; [`Fleet`](super::Fleet) does): a write from a runner
/// whose lease was taken over is refused and stores nothing. Its events are applied
/// with their checkpoint, its uploads' ids with the cursor, in one transaction each. A
/// constraint the row breaks (say, two comments claiming one FastComments id) is a
/// [`Permanent`] error: that one event is skipped and recorded in
/// `fastcomments_skipped`; anything else (a lost connection, a restarting server) is
/// transient and tried again.
///
/// The initial download ([`DownloadSite`](crate::integration::DownloadSite)) is not
/// implemented: a site that needs FastComments' older comments uses
/// [`MemorySite`](crate::integration::MemorySite)'s pattern.
#[derive(Debug, Clone)]
pub struct SqlSite {
    db: SqlDb,
    site_id: String,
}

impl SqlSite {
    /// The site `site_id` in `db`; creates its rows when it has none (the lease row
    /// too, so that a write under no lease is refused with a clear
    /// [`StaleFence`](crate::integration::StaleFence)).
    pub async fn open(db: SqlDb, site_id: impl Into<String>) -> Result<SqlSite, sqlx::Error> {
        let site_id = site_id.into();
        for table in ["fastcomments_sites", "fastcomments_sync"] {
            sqlx::query(&format!(
                "INSERT INTO {table} (site_id) VALUES ($1) ON CONFLICT (site_id) DO NOTHING"
            ))
            .bind(&site_id)
            .execute(db.pool())
            .await?;
        }
        Ok(SqlSite { db, site_id })
    }

    /// The site `site_id` in `db`, with no round trip: its rows are made by its first
    /// write (a fleet's factory uses it; its lease row exists already).
    pub fn new(db: SqlDb, site_id: impl Into<String>) -> SqlSite {
        SqlSite {
            db,
            site_id: site_id.into(),
        }
    }

    /// The site's id.
    pub fn site_id(&self) -> &str {
        &self.site_id
    }

    /// Adds a comment written on the site (to be uploaded); returns its local id.
    pub async fn add_local(
        &self,
        url_id: &str,
        author: &str,
        html: &str,
        date: DateTime<Utc>,
        parent: Option<i64>,
    ) -> Result<i64, sqlx::Error> {
        let mut tx = self.db.pool().begin().await?;
        let local_id = next_local_id(&mut tx, &self.site_id).await?;
        sqlx::query(
            "INSERT INTO fastcomments_comments
                 (site_id, local_id, parent_local_id, url_id, author, html, date_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&self.site_id)
        .bind(local_id)
        .bind(parent)
        .bind(url_id)
        .bind(author)
        .bind(html)
        .bind(date.timestamp_millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(local_id)
    }

    /// Every comment, by local id.
    pub async fn comments(&self) -> Result<Vec<SqlComment>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT local_id, fc_id, parent_local_id, url_id, author, html, date_ms,
                    votes_up, votes_down, from_fastcomments, parent_fc_id
             FROM fastcomments_comments WHERE site_id = $1 ORDER BY local_id",
        )
        .bind(&self.site_id)
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| SqlComment {
                local_id: r.get(0),
                fastcomments_id: r.get(1),
                parent: r.get(2),
                url_id: r.get(3),
                author: r.get(4),
                html: r.get(5),
                date_ms: r.get(6),
                votes_up: r.get(7),
                votes_down: r.get(8),
                from_fastcomments: r.get::<i64, _>(9) != 0,
                parent_fastcomments_id: r.get(10),
            })
            .collect())
    }

    /// Every event applied, in order: `(_id, the fence it was applied under)`. An event
    /// appears once: that is the exactly-once guarantee, and what tests count.
    pub async fn applied(&self) -> Result<Vec<(String, Fence)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT event_id, fence FROM fastcomments_applied WHERE site_id = $1 ORDER BY fence, event_id",
        )
        .bind(&self.site_id)
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), fence_of(r.get(1))))
            .collect())
    }

    /// Items given up: `(kind, id, reason)`, `kind` `event` or `upload`.
    pub async fn skipped(&self) -> Result<Vec<(String, String, String)>, sqlx::Error> {
        let rows =
            sqlx::query("SELECT kind, item, reason FROM fastcomments_skipped WHERE site_id = $1")
                .bind(&self.site_id)
                .fetch_all(self.db.pool())
                .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    /// Begins a fenced write: the transaction, with the fence checked and the lease row
    /// locked until it ends.
    async fn begin(&self, fence: Fence) -> Result<Transaction<'static, Any>, BoxError> {
        let mut tx = self.db.pool().begin().await?;
        check_fence(&mut tx, &self.site_id, fence).await?;
        Ok(tx)
    }

    async fn set_checkpoint(
        &self,
        tx: &mut Transaction<'static, Any>,
        checkpoint: &Checkpoint,
    ) -> Result<(), BoxError> {
        sqlx::query(
            "INSERT INTO fastcomments_sync (site_id, checkpoint) VALUES ($1, $2)
             ON CONFLICT (site_id) DO UPDATE SET checkpoint = excluded.checkpoint",
        )
        .bind(&self.site_id)
        .bind(serde_json::to_string(checkpoint)?)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn set_cursor(
        &self,
        tx: &mut Transaction<'static, Any>,
        cursor: Option<&str>,
    ) -> Result<(), BoxError> {
        sqlx::query(
            "INSERT INTO fastcomments_sync (site_id, upload_cursor) VALUES ($1, $2)
             ON CONFLICT (site_id) DO UPDATE SET upload_cursor = excluded.upload_cursor",
        )
        .bind(&self.site_id)
        .bind(cursor)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn record_skip(
        &self,
        tx: &mut Transaction<'static, Any>,
        kind: &str,
        item: &str,
        reason: &str,
    ) -> Result<(), BoxError> {
        sqlx::query("INSERT INTO fastcomments_skipped (site_id, kind, item, reason) VALUES ($1, $2, $3, $4)")
            .bind(&self.site_id)
            .bind(kind)
            .bind(item)
            .bind(reason)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

async fn next_local_id(
    tx: &mut Transaction<'static, Any>,
    site_id: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO fastcomments_sync (site_id, next_local_id) VALUES ($1, 2)
         ON CONFLICT (site_id) DO UPDATE SET next_local_id = fastcomments_sync.next_local_id + 1
         RETURNING next_local_id - 1",
    )
    .bind(site_id)
    .fetch_one(&mut **tx)
    .await
}

/// A constraint the row breaks fails the same way every time: permanent. Anything else
/// (a lost connection, a busy database) is transient.
fn classify(error: sqlx::Error) -> BoxError {
    use sqlx::error::ErrorKind;
    let permanent = matches!(
        &error,
        sqlx::Error::Database(db) if matches!(
            db.kind(),
            ErrorKind::UniqueViolation
                | ErrorKind::ForeignKeyViolation
                | ErrorKind::NotNullViolation
                | ErrorKind::CheckViolation
        ) || db.code().is_some_and(|code| is_data_exception(&code))
    );
    if permanent {
        Permanent::new(error).into()
    } else {
        error.into()
    }
}

/// Whether a database error code is a SQLSTATE of class 22, "data exception": a value
/// the column cannot hold (a NUL character in PostgreSQL text, a number out of range),
/// the same whenever the same event is applied again. SQLite's numeric result codes
/// never have five characters.
fn is_data_exception(code: &str) -> bool {
    code.len() == 5 && code.starts_with("22")
}

/// The effect of one event, inside its transaction.
struct Effect<'a> {
    tx: &'a mut Transaction<'static, Any>,
    site_id: &'a str,
}

impl Effect<'_> {
    /// The local id of a comment known by its FastComments id or, for one this site
    /// uploaded whose id it has not recorded yet, its `externalId` (a local id). An
    /// `externalId` is trusted only for a local comment with no FastComments id or the
    /// same one: another integration's `externalId` (a WordPress id, say) that happens
    /// to be a number never lands on an unrelated local comment.
    async fn local_of(
        &mut self,
        external: Option<&str>,
        fc_id: Option<&str>,
    ) -> Result<Option<i64>, sqlx::Error> {
        if let Some(fc_id) = fc_id {
            let found: Option<i64> = sqlx::query_scalar(
                "SELECT local_id FROM fastcomments_comments WHERE site_id = $1 AND fc_id = $2",
            )
            .bind(self.site_id)
            .bind(fc_id)
            .fetch_optional(&mut **self.tx)
            .await?;
            if found.is_some() {
                return Ok(found);
            }
        }
        let Some(local) = external.and_then(|e| e.parse::<i64>().ok()) else {
            return Ok(None);
        };
        sqlx::query_scalar(
            "SELECT local_id FROM fastcomments_comments
             WHERE site_id = $1 AND local_id = $2 AND from_fastcomments = 0
               AND (fc_id IS NULL OR fc_id = $3)",
        )
        .bind(self.site_id)
        .bind(local)
        .bind(fc_id)
        .fetch_optional(&mut **self.tx)
        .await
    }

    async fn upsert(&mut self, c: &EventComment) -> Result<(), sqlx::Error> {
        match self.local_of(c.external_id.as_deref(), Some(&c.id)).await? {
            Some(local) => {
                sqlx::query(
                    "UPDATE fastcomments_comments SET fc_id = $3,
                         html = COALESCE($4, html), author = COALESCE($5, author)
                     WHERE site_id = $1 AND local_id = $2",
                )
                .bind(self.site_id)
                .bind(local)
                .bind(&c.id)
                .bind(c.comment_html.as_deref())
                .bind(c.commenter_name.as_deref())
                .execute(&mut **self.tx)
                .await?;
                self.adopt(local, &c.id).await?;
            }
            None => {
                let parent = self.local_of(None, c.parent_id.as_deref()).await?;
                let local = next_local_id(self.tx, self.site_id).await?;
                sqlx::query(
                    "INSERT INTO fastcomments_comments
                         (site_id, local_id, fc_id, parent_local_id, parent_fc_id, url_id,
                          author, html, date_ms, from_fastcomments)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1)",
                )
                .bind(self.site_id)
                .bind(local)
                .bind(&c.id)
                .bind(parent)
                .bind(c.parent_id.as_deref())
                .bind(c.url_id.as_deref().unwrap_or_default())
                .bind(c.commenter_name.as_deref().unwrap_or_default())
                .bind(c.comment_html.as_deref().unwrap_or_default())
                .bind(c.date.unwrap_or_default())
                .execute(&mut **self.tx)
                .await?;
                self.adopt(local, &c.id).await?;
            }
        }
        Ok(())
    }

    /// Replies stored before their parent (its event came later, or the parent predates
    /// the integration and arrived by a re-sync) get their parent's local id now.
    async fn adopt(&mut self, parent: i64, parent_fc_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE fastcomments_comments SET parent_local_id = $2
             WHERE site_id = $1 AND parent_fc_id = $3 AND parent_local_id IS NULL",
        )
        .bind(self.site_id)
        .bind(parent)
        .bind(parent_fc_id)
        .execute(&mut **self.tx)
        .await?;
        Ok(())
    }

    async fn delete(&mut self, c: &EventComment) -> Result<(), sqlx::Error> {
        if let Some(local) = self.local_of(c.external_id.as_deref(), Some(&c.id)).await? {
            for table in ["fastcomments_votes", "fastcomments_comments"] {
                sqlx::query(&format!(
                    "DELETE FROM {table} WHERE site_id = $1 AND local_id = $2"
                ))
                .bind(self.site_id)
                .bind(local)
                .execute(&mut **self.tx)
                .await?;
            }
        }
        Ok(())
    }

    /// Counts a vote up (`direction` 1) or down (-1). Any other direction is kept in
    /// `fastcomments_votes` as sent and counted in neither column.
    async fn count_vote(&mut self, local: i64, direction: i64, by: i64) -> Result<(), sqlx::Error> {
        let column = match direction.signum() {
            1 => "votes_up",
            -1 => "votes_down",
            _ => return Ok(()),
        };
        sqlx::query(&format!(
            "UPDATE fastcomments_comments SET {column} = {column} + $3
             WHERE site_id = $1 AND local_id = $2"
        ))
        .bind(self.site_id)
        .bind(local)
        .bind(by)
        .execute(&mut **self.tx)
        .await?;
        Ok(())
    }

    async fn add_vote(&mut self, v: &EventVote) -> Result<(), sqlx::Error> {
        let comment_id = v
            .comment_id
            .as_deref()
            .or(v.comment.as_deref().map(|c| c.id.as_str()));
        let Some(local) = self
            .local_of(v.comment_external_id.as_deref(), comment_id)
            .await?
        else {
            return Ok(());
        };
        let added = sqlx::query(
            "INSERT INTO fastcomments_votes (site_id, vote_id, local_id, direction)
             VALUES ($1, $2, $3, $4) ON CONFLICT (site_id, vote_id) DO NOTHING",
        )
        .bind(self.site_id)
        .bind(&v.id)
        .bind(local)
        .bind(v.direction)
        .execute(&mut **self.tx)
        .await?;
        if added.rows_affected() == 1 {
            self.count_vote(local, v.direction, 1).await?;
        }
        Ok(())
    }

    async fn remove_vote(&mut self, v: &EventVote) -> Result<(), sqlx::Error> {
        let row = sqlx::query(
            "DELETE FROM fastcomments_votes WHERE site_id = $1 AND vote_id = $2
             RETURNING local_id, direction",
        )
        .bind(self.site_id)
        .bind(&v.id)
        .fetch_optional(&mut **self.tx)
        .await?;
        if let Some(row) = row {
            self.count_vote(row.get(0), row.get(1), -1).await?;
        }
        Ok(())
    }

    async fn apply(&mut self, event: &Event) -> Result<(), sqlx::Error> {
        match event {
            Event::NewComment(c) | Event::UpdatedComment(c) => self.upsert(c).await,
            Event::DeletedComment(c) => self.delete(c).await,
            Event::NewVote(v) => self.add_vote(v).await,
            Event::DeletedVote(v) => self.remove_vote(v).await,
            _ => Ok(()),
        }
    }
}

fn local_id_of(external_id: &str) -> Result<i64, BoxError> {
    external_id
        .parse()
        .map_err(|_| format!("{external_id:?} is not a local id of this SqlSite").into())
}

impl Site for SqlSite {
    async fn checkpoint(&self) -> Result<Checkpoint, BoxError> {
        let json: Option<Option<String>> =
            sqlx::query_scalar("SELECT checkpoint FROM fastcomments_sync WHERE site_id = $1")
                .bind(&self.site_id)
                .fetch_optional(self.db.pool())
                .await?;
        Ok(match json.flatten() {
            Some(json) => serde_json::from_str(&json)?,
            None => Checkpoint::default(),
        })
    }

    async fn apply(
        &self,
        event: &LogEvent,
        checkpoint: &Checkpoint,
        fence: Fence,
    ) -> Result<(), BoxError> {
        let mut tx = self.begin(fence).await?;
        Effect {
            tx: &mut tx,
            site_id: &self.site_id,
        }
        .apply(&event.event)
        .await
        .map_err(classify)?;
        sqlx::query(
            "INSERT INTO fastcomments_applied (site_id, event_id, fence) VALUES ($1, $2, $3)",
        )
        .bind(&self.site_id)
        .bind(&event.id)
        .bind(fence_value(fence))
        .execute(&mut *tx)
        .await?;
        self.set_checkpoint(&mut tx, checkpoint).await?;
        tx.commit().await?; // the effect and the checkpoint, or neither
        Ok(())
    }

    async fn skip(
        &self,
        event: &LogEvent,
        checkpoint: &Checkpoint,
        reason: &str,
        fence: Fence,
    ) -> Result<(), BoxError> {
        let mut tx = self.begin(fence).await?;
        self.record_skip(&mut tx, "event", &event.id, reason)
            .await?;
        self.set_checkpoint(&mut tx, checkpoint).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn upload_cursor(&self) -> Result<Option<String>, BoxError> {
        let cursor: Option<Option<String>> =
            sqlx::query_scalar("SELECT upload_cursor FROM fastcomments_sync WHERE site_id = $1")
                .bind(&self.site_id)
                .fetch_optional(self.db.pool())
                .await?;
        Ok(cursor.flatten())
    }

    async fn comments_after(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Vec<UploadComment>, BoxError> {
        let after = cursor.map_or(Ok(0), local_id_of)?;
        let rows = sqlx::query(
            "SELECT local_id, parent_local_id, url_id, author, html, date_ms
             FROM fastcomments_comments
             WHERE site_id = $1 AND from_fastcomments = 0 AND local_id > $2
             ORDER BY local_id LIMIT $3",
        )
        .bind(&self.site_id)
        .bind(after)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let date = DateTime::from_timestamp_millis(r.get(5)).unwrap_or_default();
                let mut comment = UploadComment::new(
                    r.get::<i64, _>(0).to_string(),
                    r.get::<String, _>(2),
                    r.get::<String, _>(3),
                    r.get::<String, _>(4),
                    date,
                );
                comment.external_parent_id = r.get::<Option<i64>, _>(1).map(|p| p.to_string());
                comment
            })
            .collect())
    }

    async fn count_after(&self, cursor: Option<&str>) -> Result<u64, BoxError> {
        let after = cursor.map_or(Ok(0), local_id_of)?;
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM fastcomments_comments
             WHERE site_id = $1 AND from_fastcomments = 0 AND local_id > $2",
        )
        .bind(&self.site_id)
        .bind(after)
        .fetch_one(self.db.pool())
        .await?;
        Ok(u64::try_from(n).unwrap_or_default())
    }

    async fn record_upload(
        &self,
        ids: &BTreeMap<String, String>,
        cursor: Option<&str>,
        fence: Fence,
    ) -> Result<(), BoxError> {
        let mut tx = self.begin(fence).await?;
        for (external, fc_id) in ids {
            // The server answers with the ids this site sent: another one is its fault,
            // the same at every try.
            let local = local_id_of(external).map_err(Permanent::new)?;
            sqlx::query(
                "UPDATE fastcomments_comments SET fc_id = $3 WHERE site_id = $1 AND local_id = $2",
            )
            .bind(&self.site_id)
            .bind(local)
            .bind(fc_id)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
            // Replies whose events came before this id was recorded.
            Effect {
                tx: &mut tx,
                site_id: &self.site_id,
            }
            .adopt(local, fc_id)
            .await
            .map_err(classify)?;
        }
        self.set_cursor(&mut tx, cursor).await?;
        tx.commit().await?; // the ids and the cursor, or neither
        Ok(())
    }

    async fn skip_upload(
        &self,
        comment: &UploadComment,
        reason: &str,
        cursor: &str,
        fence: Fence,
    ) -> Result<(), BoxError> {
        let mut tx = self.begin(fence).await?;
        self.record_skip(&mut tx, "upload", &comment.external_id, reason)
            .await?;
        self.set_cursor(&mut tx, Some(cursor)).await?;
        tx.commit().await?;
        Ok(())
    }
}
