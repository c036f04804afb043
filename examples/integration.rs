//! A small site that keeps its comments in SQLite and mirrors them with FastComments
//! through the integration protocol. Each event is applied together with its checkpoint
//! in one SQLite transaction: that is what makes the effect exactly-once across crashes.
//!
//! With no environment it runs against the embedded mock server: it prints the
//! confirmation URL, confirms it through the mock's admin call, uploads its comments
//! with a progress line, has the mock write FastComments' testing events, mirrors them,
//! and prints the final local table. With `FASTCOMMENTS_BASE_URL` or `FASTCOMMENTS_REGION`
//! set (and optionally `FASTCOMMENTS_INTEGRATION_TOKEN`), it runs against that host, keeps
//! its state in `fastcomments-integration.json` and `site.sqlite`, and waits for a person
//! to confirm the token; Ctrl-C stops it.
//!
//! ```text
//! cargo run --example integration
//! FASTCOMMENTS_REGION=eu cargo run --example integration
//! ```

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use fastcomments::integration::{
    BoxError, Checkpoint, Event, Fence, FileStore, Integration, LogEvent, MemoryStore, Permanent,
    Site, StateStore, Token, UploadComment,
};
use fastcomments::mock::MockServer;
use fastcomments::{Client, Region};
use rusqlite::{Connection, OptionalExtension, params};

/// The site's store: its comments, the votes FastComments reports, and the sync state.
struct SqliteSite(Mutex<Connection>);

impl SqliteSite {
    fn open(path: &str) -> rusqlite::Result<SqliteSite> {
        let db = Connection::open(path)?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS comments (
                 local_id INTEGER PRIMARY KEY, fc_id TEXT UNIQUE, parent INTEGER,
                 url_id TEXT NOT NULL, author TEXT NOT NULL, html TEXT NOT NULL,
                 date TEXT NOT NULL, votes_up INTEGER NOT NULL DEFAULT 0,
                 votes_down INTEGER NOT NULL DEFAULT 0, from_fc INTEGER NOT NULL DEFAULT 0);
             CREATE TABLE IF NOT EXISTS votes (fc_id TEXT PRIMARY KEY, comment INTEGER, direction INTEGER);
             CREATE TABLE IF NOT EXISTS sync (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS skipped (kind TEXT NOT NULL, id TEXT NOT NULL, reason TEXT NOT NULL);",
        )?;
        Ok(SqliteSite(Mutex::new(db)))
    }

    fn add(
        &self,
        parent: Option<i64>,
        author: &str,
        html: &str,
        date: DateTime<Utc>,
    ) -> rusqlite::Result<i64> {
        let db = self.0.lock().unwrap();
        db.execute(
            "INSERT INTO comments (parent, url_id, author, html, date) VALUES (?1, 'welcome', ?2, ?3, ?4)",
            params![parent, author, html, date.to_rfc3339()],
        )?;
        Ok(db.last_insert_rowid())
    }

    fn print(&self) -> rusqlite::Result<()> {
        let db = self.0.lock().unwrap();
        let mut rows = db.prepare(
            "SELECT local_id, coalesce(fc_id, '-'), author, html, votes_up, votes_down, from_fc FROM comments ORDER BY local_id",
        )?;
        println!(
            "\n{:>3} {:<26} {:<22} {:>3} {:>3}  comment",
            "id", "FastComments id", "author", "up", "dn"
        );
        let rows = rows.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, bool>(6)?,
            ))
        })?;
        for row in rows {
            let (id, fc, author, html, up, down, remote) = row?;
            let origin = if remote { " (from FastComments)" } else { "" };
            let html: String = if html.chars().count() > 60 {
                html.chars().take(60).chain(['…']).collect()
            } else {
                html
            };
            println!("{id:>3} {fc:<26} {author:<22} {up:>3} {down:>3}  {html}{origin}");
        }
        Ok(())
    }
}

fn local_of(
    tx: &rusqlite::Transaction<'_>,
    external: Option<&str>,
    fc_id: Option<&str>,
) -> rusqlite::Result<Option<i64>> {
    if let Some(id) = external.and_then(|e| e.parse::<i64>().ok()) {
        return Ok(Some(id));
    }
    tx.query_row(
        "SELECT local_id FROM comments WHERE fc_id = ?1",
        [fc_id],
        |r| r.get(0),
    )
    .optional()
}

fn apply_event(tx: &rusqlite::Transaction<'_>, event: &LogEvent) -> rusqlite::Result<()> {
    match &event.event {
        Event::NewComment(c) | Event::UpdatedComment(c) => {
            let date = c
                .date
                .and_then(DateTime::from_timestamp_millis)
                .unwrap_or_default()
                .to_rfc3339();
            match local_of(tx, c.external_id.as_deref(), Some(&c.id))? {
                Some(local) => tx.execute(
                    "UPDATE comments SET fc_id = ?2, html = coalesce(?3, html) WHERE local_id = ?1",
                    params![local, c.id, c.comment_html],
                )?,
                None => tx.execute(
                    "INSERT INTO comments (fc_id, url_id, author, html, date, from_fc) VALUES (?1, ?2, ?3, ?4, ?5, 1)",
                    params![c.id, c.url_id.as_deref().unwrap_or(""), c.commenter_name.as_deref().unwrap_or(""),
                            c.comment_html.as_deref().unwrap_or(""), date],
                )?,
            };
        }
        Event::DeletedComment(c) => {
            if let Some(local) = local_of(tx, c.external_id.as_deref(), Some(&c.id))? {
                tx.execute("DELETE FROM votes WHERE comment = ?1", [local])?;
                tx.execute("DELETE FROM comments WHERE local_id = ?1", [local])?;
            }
        }
        Event::NewVote(v) => {
            let on = local_of(
                tx,
                v.comment_external_id.as_deref(),
                v.comment_id.as_deref(),
            )?;
            let Some(local) = on else { return Ok(()) };
            let new = tx.execute(
                "INSERT OR IGNORE INTO votes VALUES (?1, ?2, ?3)",
                params![v.id, local, v.direction],
            )?;
            if new == 1 {
                let column = if v.direction >= 0 {
                    "votes_up"
                } else {
                    "votes_down"
                };
                tx.execute(
                    &format!("UPDATE comments SET {column} = {column} + 1 WHERE local_id = ?1"),
                    [local],
                )?;
            }
        }
        Event::DeletedVote(v) => {
            let vote: Option<(i64, i64)> = tx
                .query_row(
                    "SELECT comment, direction FROM votes WHERE fc_id = ?1",
                    [&v.id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if let Some((local, direction)) = vote {
                tx.execute("DELETE FROM votes WHERE fc_id = ?1", [&v.id])?;
                let column = if direction >= 0 {
                    "votes_up"
                } else {
                    "votes_down"
                };
                tx.execute(
                    &format!("UPDATE comments SET {column} = {column} - 1 WHERE local_id = ?1"),
                    [local],
                )?;
            }
        }
        other => println!("  skipped event {} ({})", event.id, other.kind()),
    }
    Ok(())
}

fn set(tx: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO sync VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
        [key, value],
    )?;
    Ok(())
}

fn get(db: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    db.query_row("SELECT value FROM sync WHERE key = ?1", [key], |r| r.get(0))
        .optional()
}

impl Site for SqliteSite {
    async fn checkpoint(&self) -> Result<Checkpoint, BoxError> {
        let db = self.0.lock().unwrap();
        Ok(match get(&db, "checkpoint")? {
            Some(json) => serde_json::from_str(&json)?,
            None => Checkpoint::default(),
        })
    }

    async fn apply(
        &self,
        event: &LogEvent,
        checkpoint: &Checkpoint,
        _fence: Fence,
    ) -> Result<(), BoxError> {
        let mut db = self.0.lock().unwrap();
        let tx = db.transaction()?;
        apply_event(&tx, event).map_err(classify)?;
        set(&tx, "checkpoint", &serde_json::to_string(checkpoint)?)?;
        tx.commit()?; // the effect and the checkpoint, or neither
        Ok(())
    }

    /// An event `apply` can never store: the checkpoint past it and a row saying why,
    /// in one transaction.
    async fn skip(
        &self,
        event: &LogEvent,
        checkpoint: &Checkpoint,
        reason: &str,
        _fence: Fence,
    ) -> Result<(), BoxError> {
        let mut db = self.0.lock().unwrap();
        let tx = db.transaction()?;
        tx.execute(
            "INSERT INTO skipped VALUES ('event', ?1, ?2)",
            [&event.id, reason],
        )?;
        set(&tx, "checkpoint", &serde_json::to_string(checkpoint)?)?;
        tx.commit()?;
        Ok(())
    }

    async fn upload_cursor(&self) -> Result<Option<String>, BoxError> {
        Ok(get(&self.0.lock().unwrap(), "upload_cursor")?)
    }

    async fn comments_after(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Vec<UploadComment>, BoxError> {
        let db = self.0.lock().unwrap();
        let after: i64 = cursor.map_or(Ok(0), str::parse)?;
        let mut query = db.prepare(
            "SELECT local_id, parent, url_id, author, html, date FROM comments
             WHERE from_fc = 0 AND local_id > ?1 ORDER BY local_id LIMIT ?2",
        )?;
        let rows = query.query_map(params![after, limit as i64], |r| {
            let date: String = r.get(5)?;
            let date = DateTime::parse_from_rfc3339(&date)
                .map(|d| d.to_utc())
                .unwrap_or_default();
            let mut comment = UploadComment::new(
                r.get::<_, i64>(0)?.to_string(),
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                date,
            );
            comment.external_parent_id = r.get::<_, Option<i64>>(1)?.map(|p| p.to_string());
            Ok(comment)
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    async fn count_after(&self, cursor: Option<&str>) -> Result<u64, BoxError> {
        let db = self.0.lock().unwrap();
        let after: i64 = cursor.map_or(Ok(0), str::parse)?;
        let n: i64 = db.query_row(
            "SELECT count(*) FROM comments WHERE from_fc = 0 AND local_id > ?1",
            [after],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    async fn record_upload(
        &self,
        ids: &BTreeMap<String, String>,
        cursor: Option<&str>,
        _fence: Fence,
    ) -> Result<(), BoxError> {
        let mut db = self.0.lock().unwrap();
        let tx = db.transaction()?;
        for (local, fc_id) in ids {
            tx.execute(
                "UPDATE comments SET fc_id = ?2 WHERE local_id = ?1",
                params![local.parse::<i64>()?, fc_id],
            )?;
        }
        match cursor {
            Some(cursor) => set(&tx, "upload_cursor", cursor)?,
            None => {
                tx.execute("DELETE FROM sync WHERE key = 'upload_cursor'", [])?;
            }
        }
        tx.commit()?; // the ids and the cursor, or neither
        Ok(())
    }

    /// A comment FastComments refuses even alone: the cursor past it and a row saying
    /// why, in one transaction; it keeps no FastComments id.
    async fn skip_upload(
        &self,
        comment: &UploadComment,
        reason: &str,
        cursor: &str,
        _fence: Fence,
    ) -> Result<(), BoxError> {
        let mut db = self.0.lock().unwrap();
        let tx = db.transaction()?;
        tx.execute(
            "INSERT INTO skipped VALUES ('upload', ?1, ?2)",
            [&comment.external_id, reason],
        )?;
        set(&tx, "upload_cursor", cursor)?;
        tx.commit()?;
        Ok(())
    }
}

/// A constraint the row breaks fails the same way every time: permanent. Anything else
/// (a busy or locked database, a full disk) is transient and retried at the next tick.
fn classify(error: rusqlite::Error) -> BoxError {
    match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => Permanent::new(error).into(),
        _ => error.into(),
    }
}

/// Ticks until a tick finds nothing left to do.
async fn settle<S: Site, St: StateStore>(integration: &Integration<S, St>) -> Result<(), BoxError> {
    loop {
        let report = integration.tick().await?;
        for (id, reason) in &report.malformed {
            println!("  malformed event {id}: {reason}");
        }
        for (id, reason) in report.skipped_events.iter().chain(&report.skipped_uploads) {
            println!("  gave up {id}: {reason}");
        }
        if report.applied > 0 {
            println!(
                "  applied {} events ({} seen before)",
                report.applied, report.skipped
            );
        }
        if report.applied == 0 && report.uploaded == 0 && !report.budget_exhausted {
            return Ok(());
        }
    }
}

async fn with_mock() -> Result<(), BoxError> {
    let server = MockServer::start().await?;
    server.add_tenant("demo", "demo-key");
    println!(
        "No FASTCOMMENTS_BASE_URL/FASTCOMMENTS_REGION: using the mock server at {}",
        server.base_url()
    );
    let site = SqliteSite::open(":memory:")?;
    let first = site.add(
        None,
        "Ada",
        "<p>Welcome to the blog!</p>",
        Utc.with_ymd_and_hms(2024, 3, 1, 9, 0, 0).unwrap(),
    )?;
    site.add(
        Some(first),
        "Grace",
        "<p>Glad to be here.</p>",
        Utc.with_ymd_and_hms(2024, 3, 1, 10, 0, 0).unwrap(),
    )?;
    site.add(
        None,
        "Linus",
        "<p>Nice post.</p>",
        Utc.with_ymd_and_hms(2024, 3, 2, 8, 30, 0).unwrap(),
    )?;
    // FastComments refuses a body over 2 MB; the mock's limit, scaled down to 16 kB,
    // refuses this comment even alone: the upload gives it up, reports it and goes on.
    site.add(
        None,
        "Verbose",
        &format!("<p>{}</p>", "very long ".repeat(2_000)),
        Utc.with_ymd_and_hms(2024, 3, 3, 8, 0, 0).unwrap(),
    )?;
    server.set_integration_body_limit(16_000);
    let client = Client::builder().base_url(server.base_url()).build()?;
    let integration = Integration::builder(client, site, MemoryStore::new())
        .domain("blog.example.com")
        .batch_size(2)
        .on_upload(|sent, left| println!("  uploaded {sent} comments, {left} to go"))
        .build()
        .await?;
    let confirm = integration.confirmation_url();
    println!("1. token created; an admin confirms it at\n   {confirm}");
    assert!(!integration.tick().await?.validated);
    reqwest::get(&confirm).await?.error_for_status()?;
    println!("2. confirmed through the mock's admin call");
    println!("3. uploading the site's comments");
    let report = integration.tick().await?;
    println!(
        "   validated for tenant {:?}, {} comments uploaded",
        integration.store().load().await?.tenant_id,
        report.uploaded
    );
    for (id, reason) in &report.skipped_uploads {
        println!("   comment {id} given up: {reason}");
    }
    let token = integration.api().token().expose().to_owned();
    let testing = format!(
        "{}/auth/my-account/integrations/v1/create-testing-events?token={token}",
        server.base_url()
    );
    reqwest::get(testing).await?.error_for_status()?;
    println!("4. FastComments' testing events written; mirroring them");
    settle(&integration).await?;
    integration.site().print()?;
    Ok(())
}

async fn with_service(region: Region) -> Result<(), BoxError> {
    let client = Client::builder().region(region).build()?;
    let site = SqliteSite::open("site.sqlite")?;
    let mut builder = Integration::builder(
        client,
        site,
        FileStore::new("fastcomments-integration.json"),
    )
    .integration_type("rust-example")
    .domain(std::env::var("FASTCOMMENTS_DOMAIN").unwrap_or_else(|_| "localhost".into()))
    .on_upload(|sent, left| println!("uploaded {sent} comments, {left} to go"));
    if let Ok(token) = std::env::var("FASTCOMMENTS_INTEGRATION_TOKEN") {
        builder = builder.token(Token::new(token));
    }
    let integration = builder.build().await?;
    println!(
        "Confirm the integration at {}",
        integration.confirmation_url()
    );
    while !integration.tick().await?.validated {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    println!("Confirmed; syncing until Ctrl-C");
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    integration.run(shutdown).await?;
    integration.site().print()?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    match (
        std::env::var("FASTCOMMENTS_BASE_URL"),
        std::env::var("FASTCOMMENTS_REGION"),
    ) {
        (Ok(url), _) => with_service(Region::Custom(url)).await,
        (_, Ok(region)) => with_service(region.parse()?).await,
        _ => with_mock().await,
    }
}
