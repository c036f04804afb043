//! SQL state, fencing, `SqlSite` and the fleet, on SQLite and on a real PostgreSQL server
//! (started by `.ci/with-postgres`; these tests fail without it, they never skip).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use fastcomments::integration::{
    BoxError, Checkpoint, Error, Fence, FileStore, Integration, LeaseOutcome, LogEvent, MemorySite,
    MemoryStore, Site, StateStore, Token, UploadComment,
};
use fastcomments::mock::MockServer;
use fastcomments::sql::{Fleet, FleetSite, SqlDb, SqlSite, SqlSiteFactory, SqlStateStore};
use fastcomments::{Client, RetryPolicy};
use sqlx::Connection;
use tokio::sync::Notify;

const SITE: &str = "site-1";
const TOKEN: &str = "0d7e3a52-7c1b-4f0e-8a63-3b2f1c9d4e77";

/// Serializes the PostgreSQL tests of this process: one of them restarts the server.
static POSTGRES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The server's URL, from `.ci/with-postgres`. Missing, the test fails: it never skips.
fn postgres_url() -> String {
    std::env::var("FASTCOMMENTS_TEST_POSTGRES").unwrap_or_else(|_| {
        panic!(
            "the PostgreSQL tests need a server: run the tests through \
             `.ci/with-postgres cargo test --all-features` (FASTCOMMENTS_TEST_POSTGRES is unset)"
        )
    })
}

/// A fresh, empty PostgreSQL database: its URL.
async fn postgres_database() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let url = postgres_url();
    let name = format!(
        "fc_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    sqlx::any::install_default_drivers();
    let mut admin = sqlx::AnyConnection::connect(&url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    let (server, _) = url.rsplit_once('/').unwrap();
    format!("{server}/{name}")
}

/// A fresh SQLite database in a file of its own.
async fn sqlite() -> SqlDb {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "fc-sql-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("site.sqlite").display());
    SqlDb::connect(&url).await.unwrap()
}

async fn server() -> MockServer {
    let server = MockServer::start().await.unwrap();
    server.add_tenant("tenant-a", "key-a");
    server
}

fn client(server: &MockServer) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .retry(RetryPolicy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn runner<S: Site>(
    server: &MockServer,
    db: &SqlDb,
    site: S,
    owner: &str,
) -> Integration<S, SqlStateStore> {
    let store = SqlStateStore::open(db.clone(), SITE).await.unwrap();
    Integration::builder(client(server), site, store)
        .token(Token::new(TOKEN))
        .owner(owner)
        .build()
        .await
        .unwrap()
}

/// A site whose next `apply` stops until the test lets it go: a runner paused
/// mid-tick (a GC pause, a VM migration, a debugger).
#[derive(Clone)]
struct Paused {
    site: SqlSite,
    armed: Arc<AtomicBool>,
    paused: Arc<Notify>,
    resume: Arc<Notify>,
}

impl Site for Paused {
    async fn checkpoint(&self) -> Result<Checkpoint, BoxError> {
        self.site.checkpoint().await
    }
    async fn apply(&self, e: &LogEvent, c: &Checkpoint, f: Fence) -> Result<(), BoxError> {
        if self.armed.swap(false, Ordering::SeqCst) {
            self.paused.notify_one();
            self.resume.notified().await;
        }
        self.site.apply(e, c, f).await
    }
    async fn upload_cursor(&self) -> Result<Option<String>, BoxError> {
        self.site.upload_cursor().await
    }
    async fn comments_after(
        &self,
        c: Option<&str>,
        n: usize,
    ) -> Result<Vec<UploadComment>, BoxError> {
        self.site.comments_after(c, n).await
    }
    async fn count_after(&self, c: Option<&str>) -> Result<u64, BoxError> {
        self.site.count_after(c).await
    }
    async fn record_upload(
        &self,
        i: &BTreeMap<String, String>,
        c: Option<&str>,
        f: Fence,
    ) -> Result<(), BoxError> {
        self.site.record_upload(i, c, f).await
    }
}

/// Runner A is paused before its first event, its lease expires (the database's clock
/// passes it: the test moves the expiry, it does not wait), runner B takes the site and
/// applies every event; A resumes: its write is refused, its tick ends `Fenced`, and
/// no event is applied twice.
async fn a_paused_runner_writes_nothing_after_a_takeover(db: SqlDb) {
    let server = server().await;
    server.confirm_integration(TOKEN, "tenant-a");
    let events = server.create_integration_testing_events("tenant-a", 1_000);
    let site = SqlSite::open(db.clone(), SITE).await.unwrap();
    let paused = Paused {
        site: site.clone(),
        armed: Arc::new(AtomicBool::new(true)),
        paused: Arc::new(Notify::new()),
        resume: Arc::new(Notify::new()),
    };
    let a = runner(&server, &db, paused.clone(), "runner-a").await;
    let b = runner(&server, &db, site.clone(), "runner-b").await;
    let mut a_tick = tokio::spawn(async move { a.tick().await });
    tokio::select! {
        () = paused.paused.notified() => {}
        ended = &mut a_tick => panic!("A's tick ended before its first event: {ended:?}"),
    }
    let a_fence = SqlStateStore::open(db.clone(), SITE)
        .await
        .unwrap()
        .lease()
        .await
        .unwrap()
        .expect("A holds the lease")
        .fence;
    sqlx::query("UPDATE fastcomments_sites SET lease_until_ms = 0 WHERE site_id = $1")
        .bind(SITE)
        .execute(db.pool())
        .await
        .unwrap();

    let report = b.tick().await.unwrap();
    assert_eq!(report.applied, events.len() as u64, "{report:?}");
    paused.resume.notify_one();
    let error = a_tick.await.unwrap().unwrap_err();
    let Error::Fenced { fence, current } = error else {
        panic!("A's tick must end fenced: {error:?}");
    };
    assert_eq!(fence, a_fence);
    assert!(current > fence, "{current} > {fence}");

    let applied = site.applied().await.unwrap();
    let ids: Vec<&str> = applied.iter().map(|(id, _)| id.as_str()).collect();
    let mut expected: Vec<&str> = events.iter().map(String::as_str).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    expected.sort_unstable();
    assert_eq!(sorted, expected, "every event applied exactly once");
    assert!(
        applied.iter().all(|(_, f)| *f == current),
        "none under A's fence: {applied:?}"
    );
    let comments = site.comments().await.unwrap();
    assert_eq!(
        comments.len(),
        2,
        "the testing events' net effect: {comments:?}"
    );
    assert!(
        comments
            .iter()
            .all(|c| c.votes_up == 1 && c.votes_down == 0)
    );
}

#[tokio::test]
async fn fencing_on_sqlite() {
    a_paused_runner_writes_nothing_after_a_takeover(sqlite().await).await;
}

#[tokio::test]
async fn fencing_on_postgres() {
    let _one = POSTGRES.lock().await;
    let db = SqlDb::connect(&postgres_database().await).await.unwrap();
    a_paused_runner_writes_nothing_after_a_takeover(db).await;
}

/// A runner whose clock is ten minutes ahead cannot take a live lease from a SQL store
/// (the database's clock decides), nor claim the site in a fleet; a store that trusts
/// the runners' clocks would have given it away.
async fn a_skewed_clock_cannot_take_a_live_lease(db: SqlDb) {
    let server = server().await;
    server.confirm_integration(TOKEN, "tenant-a");
    let ahead = || Utc::now().timestamp_millis() + 10 * 60 * 1000;
    let store = SqlStateStore::open(db.clone(), SITE).await.unwrap();
    let now = Utc::now().timestamp_millis();
    let LeaseOutcome::Taken(_) = store.acquire_lease("runner-a", now, 60_000).await.unwrap() else {
        panic!("a free lease is taken");
    };
    let skewed = Integration::builder(client(&server), MemorySite::new(), store.clone())
        .token(Token::new(TOKEN))
        .owner("runner-b")
        .clock(ahead)
        .build()
        .await;
    let error = match skewed {
        Ok(b) => b.tick().await.unwrap_err(),
        Err(error) => error,
    };
    assert!(
        matches!(&error, Error::LeaseHeld { owner, .. } if owner == "runner-a"),
        "{error:?}"
    );

    // The fleet's claim is the database's too.
    let fleet = Fleet::new(db.clone());
    fleet
        .add_site(&FleetSite::new(
            SITE,
            Token::new(TOKEN),
            Duration::from_secs(60),
        ))
        .await
        .unwrap();
    let worker = fleet
        .worker(client(&server), SqlSiteFactory)
        .id("worker-b")
        .clock(ahead)
        .build();
    assert!(
        worker.tick_due(10).await.unwrap().is_empty(),
        "a site leased to another is not claimed"
    );

    // What a store that compares runners' clocks does with the same skew.
    for file in [false, true] {
        let path = std::env::temp_dir().join(format!("fc-skew-{}-{file}.json", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let (held_first, taken_by_skewed) = if file {
            let s = FileStore::new(&path);
            (
                s.acquire_lease("runner-a", now, 60_000).await.unwrap(),
                s.acquire_lease("runner-b", ahead(), 60_000).await.unwrap(),
            )
        } else {
            let s = MemoryStore::new();
            (
                s.acquire_lease("runner-a", now, 60_000).await.unwrap(),
                s.acquire_lease("runner-b", ahead(), 60_000).await.unwrap(),
            )
        };
        assert!(matches!(held_first, LeaseOutcome::Taken(_)));
        assert!(
            matches!(taken_by_skewed, LeaseOutcome::Taken(_)),
            "runners' clocks decide there: why the SQL stores use the database's"
        );
    }
}

#[tokio::test]
async fn clock_skew_on_sqlite() {
    a_skewed_clock_cannot_take_a_live_lease(sqlite().await).await;
}

#[tokio::test]
async fn clock_skew_on_postgres() {
    let _one = POSTGRES.lock().await;
    let db = SqlDb::connect(&postgres_database().await).await.unwrap();
    a_skewed_clock_cannot_take_a_live_lease(db).await;
}
