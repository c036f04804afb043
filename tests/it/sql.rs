//! SQL state, fencing, `SqlSite` and the fleet, on SQLite and on a real PostgreSQL server
//! (started by `.ci/with-postgres`; these tests fail without it, they never skip).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use fastcomments::integration::{
    BoxError, Checkpoint, Error, Fence, FileStore, Integration, LeaseOutcome, LogEvent, MemorySite,
    MemoryStore, Site, StateStore, TickReport, Token, UploadComment,
};
use fastcomments::mock::{Fault, FaultRule, MockServer};
use fastcomments::sql::{Fleet, FleetSite, SqlDb, SqlSite, SqlSiteFactory, SqlStateStore};
use fastcomments::{Client, RetryPolicy};
use sqlx::Connection;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub(crate) const SITE: &str = "site-1";
pub(crate) const TOKEN: &str = "0d7e3a52-7c1b-4f0e-8a63-3b2f1c9d4e77";

/// Serializes the PostgreSQL tests of this process: one of them restarts the server.
pub(crate) static POSTGRES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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
pub(crate) async fn postgres_database() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let url = postgres_url();
    // Random as well as counted: a server kept between runs may hold an earlier run's
    // database of the same pid.
    let name = format!(
        "fc_{}_{}_{:08x}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst),
        fastrand::u32(..)
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

/// A fresh SQLite database in a file of its own. The name is random, not the process
/// id alone: a container reuses pids from run to run, and an earlier run's file (its
/// migrations, its rows) must never be found again.
pub(crate) async fn sqlite() -> SqlDb {
    let dir = std::env::temp_dir().join(format!(
        "fc-sql-{}-{:016x}",
        std::process::id(),
        fastrand::u64(..)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("site.sqlite").display());
    SqlDb::connect(&url).await.unwrap()
}

pub(crate) async fn server() -> MockServer {
    let server = MockServer::start().await.unwrap();
    server.add_tenant("tenant-a", "key-a");
    server
}

pub(crate) fn client(server: &MockServer) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .retry(RetryPolicy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

pub(crate) async fn runner<S: Site>(
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
pub(crate) struct Paused {
    pub(crate) site: SqlSite,
    pub(crate) armed: Arc<AtomicBool>,
    pub(crate) paused: Arc<Notify>,
    pub(crate) resume: Arc<Notify>,
}

impl Paused {
    /// `site`, armed: its next `apply` waits for `resume`.
    pub(crate) fn new(site: SqlSite) -> Paused {
        Paused {
            site,
            armed: Arc::new(AtomicBool::new(true)),
            paused: Arc::new(Notify::new()),
            resume: Arc::new(Notify::new()),
        }
    }

    /// Starts `runner`'s tick and returns it once it is paused before its first event
    /// (holding the lease); `resume` lets it go on.
    pub(crate) async fn tick_until_paused(
        &self,
        runner: Integration<Paused, SqlStateStore>,
    ) -> JoinHandle<Result<TickReport, Error>> {
        let mut tick = tokio::spawn(async move { runner.tick().await });
        tokio::select! {
            () = self.paused.notified() => {}
            ended = &mut tick => panic!("the tick ended before its first event: {ended:?}"),
        }
        tick
    }
}

/// Lets the database's clock pass every lease: the test moves the expiry, it does not
/// wait.
pub(crate) async fn expire_leases(db: &SqlDb) {
    sqlx::query("UPDATE fastcomments_sites SET lease_until_ms = 0")
        .execute(db.pool())
        .await
        .unwrap();
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
    let paused = Paused::new(site.clone());
    let a = runner(&server, &db, paused.clone(), "runner-a").await;
    let b = runner(&server, &db, site.clone(), "runner-b").await;
    let a_tick = paused.tick_until_paused(a).await;
    let a_fence = SqlStateStore::open(db.clone(), SITE)
        .await
        .unwrap()
        .lease()
        .await
        .unwrap()
        .expect("A holds the lease")
        .fence;
    expire_leases(&db).await;

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
        let path = std::env::temp_dir().join(format!(
            "fc-skew-{}-{:016x}-{file}.json",
            std::process::id(),
            fastrand::u64(..)
        ));
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

/// A site of the fleet tests: `n` local comments to upload, FastComments' nine testing
/// events to apply.
async fn fleet_site(
    server: &MockServer,
    fleet: &Fleet,
    i: usize,
    interval: Duration,
) -> (String, String) {
    let (tenant, site_id) = (format!("tenant-{i}"), format!("site-{i}"));
    let token = format!("token-{i:04}-4f0e-8a63-3b2f1c9d4e77");
    server.add_tenant(&tenant, &format!("key-{i}"));
    server.confirm_integration(&token, &tenant);
    server.create_integration_testing_events(&tenant, 1_000 + i as i64);
    let site = SqlSite::open(fleet.db().clone(), site_id.clone())
        .await
        .unwrap();
    let mut parent = None;
    for n in 0..3 {
        let date = Utc::now() - chrono::Duration::days(3 - n);
        let id = site
            .add_local("post-1", "Local", &format!("<p>{n}</p>"), date, parent)
            .await
            .unwrap();
        parent = Some(id);
    }
    fleet
        .add_site(&FleetSite::new(&site_id, Token::new(token), interval))
        .await
        .unwrap();
    (tenant, site_id)
}

/// What a site holds, without the ids that differ between tenants.
fn shape(
    comments: &[fastcomments::sql::SqlComment],
) -> Vec<(String, String, i64, i64, bool, bool)> {
    let mut shape: Vec<_> = comments
        .iter()
        .map(|c| {
            (
                c.author.clone(),
                c.html.clone(),
                c.votes_up,
                c.votes_down,
                c.from_fastcomments,
                c.fastcomments_id.is_some(),
            )
        })
        .collect();
    shape.sort();
    shape
}

/// The fault-free result: one site synced by one runner, alone.
async fn reference_shape(server: &MockServer) -> Vec<(String, String, i64, i64, bool, bool)> {
    let fleet = Fleet::new(sqlite().await);
    let (_, site_id) = fleet_site(server, &fleet, 9_999, Duration::from_secs(60)).await;
    let worker = fleet.worker(client(server), SqlSiteFactory).build();
    for _ in 0..20 {
        sqlx::query("UPDATE fastcomments_sites SET next_due_ms = 0")
            .execute(fleet.db().pool())
            .await
            .unwrap();
        for outcome in worker.tick_due(1).await.unwrap() {
            outcome.result.unwrap();
        }
    }
    let site = SqlSite::open(fleet.db().clone(), site_id).await.unwrap();
    assert_eq!(site.applied().await.unwrap().len(), 9);
    shape(&site.comments().await.unwrap())
}

pub(crate) async fn scalar(db: &SqlDb, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db.pool()).await.unwrap()
}

/// Events applied in all, (site, event) pairs applied more than once, and local
/// comments FastComments has not given an id yet.
async fn progress(db: &SqlDb) -> (i64, i64, i64) {
    (
        scalar(db, "SELECT COUNT(*) FROM fastcomments_applied").await,
        scalar(
            db,
            "SELECT COUNT(*) FROM (SELECT site_id, event_id FROM fastcomments_applied
             GROUP BY site_id, event_id HAVING COUNT(*) > 1) AS doubled",
        )
        .await,
        scalar(
            db,
            "SELECT COUNT(*) FROM fastcomments_comments WHERE from_fastcomments = 0 AND fc_id IS NULL",
        )
        .await,
    )
}

/// Waits (polling the database, never timing anything) until every site is synced.
async fn until_synced(db: &SqlDb, sites: i64) {
    for _ in 0..1_500 {
        let (applied, doubled, unsent) = progress(db).await;
        assert_eq!(doubled, 0, "an event applied twice");
        if applied == sites * 9 && unsent == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "the fleet did not sync every site: {:?}",
        progress(db).await
    );
}

/// Every site holds what a fault-free run gives, and FastComments holds each local
/// comment once, under the id the site recorded.
async fn assert_same_as_fault_free(server: &MockServer, db: &SqlDb, sites: &[(String, String)]) {
    let reference = reference_shape(server).await;
    for (tenant, site_id) in sites {
        let site = SqlSite::open(db.clone(), site_id.clone()).await.unwrap();
        let comments = site.comments().await.unwrap();
        assert_eq!(shape(&comments), reference, "{site_id}");
        let uploads = server.integration_uploads(tenant);
        assert_eq!(uploads.len(), 3, "{tenant}: {uploads:?}");
        for upload in uploads {
            let local: i64 = upload["externalId"].as_str().unwrap().parse().unwrap();
            let row = comments.iter().find(|c| c.local_id == local).unwrap();
            assert_eq!(row.fastcomments_id.as_deref(), upload["_id"].as_str());
        }
    }
}

/// Not a test of its own: the body of one worker process of the fleet test below,
/// which starts this binary with this test's name and the environment it needs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a worker process, started by four_worker_processes_share_200_sites"]
async fn fleet_worker_process() {
    let (Ok(db), Ok(mock), Ok(id)) = (
        std::env::var("FC_FLEET_DB"),
        std::env::var("FC_FLEET_MOCK"),
        std::env::var("FC_FLEET_WORKER"),
    ) else {
        return;
    };
    let db = SqlDb::connect(&db).await.unwrap();
    let client = Client::builder()
        .base_url(mock)
        .retry(RetryPolicy::none())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let worker = Fleet::new(db)
        .worker(client, SqlSiteFactory)
        .id(id)
        .concurrency(8)
        .lease_ttl(Duration::from_secs(1))
        .poll(Duration::from_millis(100))
        .batch_size(2)
        .build();
    worker.run(std::future::pending()).await;
}

/// 4 worker processes share 200 sites; one is killed with SIGKILL while it holds
/// leases mid-sync. Every site ends as a fault-free run leaves it, every event applied
/// once, every comment uploaded once, and the killed worker's sites were taken over:
/// their fences (lease generations) moved past the ones it held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_worker_processes_share_200_sites_and_a_killed_one_loses_nothing() {
    let _one = POSTGRES.lock().await;
    const SITES: usize = 200;
    let url = postgres_database().await;
    let db = SqlDb::connect(&url).await.unwrap();
    let server = server().await;
    let fleet = Fleet::new(db.clone());
    let mut sites = Vec::new();
    for i in 0..SITES {
        sites.push(fleet_site(&server, &fleet, i, Duration::from_secs(2)).await);
    }
    let mut workers: Vec<std::process::Child> = (0..4)
        .map(|n| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "sql::fleet_worker_process",
                    "--exact",
                    "--ignored",
                    "--quiet",
                ])
                .env("FC_FLEET_DB", &url)
                .env("FC_FLEET_MOCK", server.base_url())
                .env("FC_FLEET_WORKER", format!("worker-{n}"))
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();

    let mut held: Vec<(String, i64)> = Vec::new();
    for _ in 0..3_000 {
        let (applied, _, _) = progress(&db).await;
        held = sqlx::query_as(
            "SELECT site_id, fence FROM fastcomments_sites WHERE lease_owner = 'worker-0'",
        )
        .fetch_all(db.pool())
        .await
        .unwrap();
        if !held.is_empty() && applied > 0 {
            assert!(applied < (SITES * 9) as i64, "the kill comes mid-sync");
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!held.is_empty(), "worker-0 never held a lease");
    workers[0].kill().unwrap(); // SIGKILL
    workers[0].wait().unwrap();

    until_synced(&db, SITES as i64).await;
    for worker in &mut workers[1..] {
        worker.kill().unwrap();
        worker.wait().unwrap();
    }
    let mut taken_over = 0;
    for (site_id, fence) in &held {
        let (now, owner): (i64, Option<String>) =
            sqlx::query_as("SELECT fence, lease_owner FROM fastcomments_sites WHERE site_id = $1")
                .bind(site_id)
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert!(
            now > *fence,
            "{site_id}: still at the killed worker's fence {fence}"
        );
        assert_ne!(owner.as_deref(), Some("worker-0"));
        taken_over += 1;
    }
    let (applied, doubled, unsent) = progress(&db).await;
    let uploaded: usize = sites
        .iter()
        .map(|(tenant, _)| server.integration_uploads(tenant).len())
        .sum();
    eprintln!(
        "fleet: 4 worker processes, {SITES} sites, 1 killed holding {} leases ({taken_over} taken over); \
         {applied} events applied, {doubled} doubled, {unsent} comments unsent, {uploaded} uploaded",
        held.len()
    );
    assert_same_as_fault_free(&server, &db, &sites).await;
}

/// PostgreSQL restarted under two running workers: their claims and ticks fail for a
/// moment (transient: nothing skipped), they reconnect and go on, and nothing is lost
/// or doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_under_the_fleet_loses_and_doubles_nothing() {
    let _one = POSTGRES.lock().await;
    const SITES: usize = 40;
    let restart = std::env::var("FASTCOMMENTS_TEST_POSTGRES_RESTART")
        .expect("FASTCOMMENTS_TEST_POSTGRES_RESTART, set by .ci/with-postgres");
    let url = postgres_database().await;
    let db = SqlDb::connect(&url).await.unwrap();
    let server = server().await;
    let fleet = Fleet::new(db.clone());
    let mut sites = Vec::new();
    for i in 0..SITES {
        sites.push(fleet_site(&server, &fleet, i, Duration::from_secs(2)).await);
    }
    let stop = Arc::new(Notify::new());
    let runs: Vec<_> = (0..2)
        .map(|n| {
            let worker = fleet
                .worker(client(&server), SqlSiteFactory)
                .id(format!("worker-{n}"))
                .concurrency(4)
                .lease_ttl(Duration::from_secs(1))
                .poll(Duration::from_millis(100))
                .batch_size(1)
                .build();
            let stop = stop.clone();
            tokio::spawn(async move { worker.run(stop.notified()).await })
        })
        .collect();
    loop {
        let (applied, _, _) = progress(&db).await;
        if applied > 0 {
            assert!(applied < (SITES * 9) as i64, "the restart comes mid-sync");
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A restart between two statements is invisible (the pool waits for a refused
    // connection to be accepted again); one that cuts a statement in flight is the
    // fault. So hold the sites table until a worker's statement waits on it, then
    // restart: at least one statement is cut, whatever the machine's speed.
    let mut holder = sqlx::AnyConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query("LOCK TABLE fastcomments_sites IN ACCESS EXCLUSIVE MODE")
        .execute(&mut holder)
        .await
        .unwrap();
    let mut watcher = sqlx::AnyConnection::connect(&url).await.unwrap();
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity
             WHERE wait_event_type = 'Lock' AND datname = current_database()",
        )
        .fetch_one(&mut watcher)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let restarted = std::process::Command::new(&restart).status().unwrap();
    assert!(restarted.success(), "{restart} failed");
    drop((holder, watcher)); // cut by the restart, with the statements they held

    until_synced(&db, SITES as i64).await;
    stop.notify_waiters();
    let mut interrupted = 0;
    for run in runs {
        let report = run.await.unwrap();
        interrupted += report.claim_errors + report.failed;
    }
    assert!(interrupted > 0, "the restart reached the workers");
    assert_same_as_fault_free(&server, &db, &sites).await;
}

/// A reply whose event comes before its parent's (the parent predates the integration,
/// or arrives by a re-sync) is linked to the parent when the parent comes: the kind of
/// Disqus' WordPress sync failing on a child synced before its parent.
#[tokio::test]
async fn a_reply_stored_before_its_parent_is_linked_when_the_parent_comes() {
    let server = server().await;
    server.confirm_integration(TOKEN, "tenant-a");
    let comment = |id: &str, parent: Option<&str>| {
        serde_json::json!({"type": "new-comment", "comment": {
            "_id": id, "urlId": "post-1", "commenterName": "Remote", "commentHTML": id,
            "date": "2024-02-01T00:00:00Z", "parentId": parent}})
        .to_string()
    };
    server.push_integration_event("tenant-a", 1, comment("reply", Some("parent")));
    server.push_integration_event("tenant-a", 2, comment("parent", None));
    let db = sqlite().await;
    let site = SqlSite::open(db.clone(), SITE).await.unwrap();
    let integration = runner(&server, &db, site.clone(), "runner-a").await;
    assert_eq!(integration.tick().await.unwrap().applied, 2);
    let comments = site.comments().await.unwrap();
    let id_of = |fc: &str| {
        comments
            .iter()
            .find(|c| c.fastcomments_id.as_deref() == Some(fc))
            .unwrap()
    };
    assert_eq!(id_of("reply").parent, Some(id_of("parent").local_id));
    assert_eq!(
        id_of("reply").parent_fastcomments_id.as_deref(),
        Some("parent")
    );
    assert_eq!(id_of("parent").parent, None);
}

/// A site whose token no admin has confirmed is ticked at its interval, not every poll
/// (a fleet of them would flood FastComments, the kind of Disqus' WordPress plugin's
/// sync flood); a confirmed site with setup left comes back after `poll`.
#[tokio::test]
async fn an_unconfirmed_site_waits_its_interval_and_a_confirmed_one_with_work_left_does_not() {
    let server = server().await;
    server.confirm_integration(TOKEN, "tenant-a");
    let fleet = Fleet::new(sqlite().await);
    let interval = Duration::from_secs(60);
    for (site, token) in [
        ("confirmed", TOKEN),
        ("unconfirmed", "never-confirmed-token"),
    ] {
        fleet
            .add_site(&FleetSite::new(site, Token::new(token), interval))
            .await
            .unwrap();
    }
    let worker = fleet.worker(client(&server), SqlSiteFactory).build();
    let outcomes = worker.tick_due(10).await.unwrap();
    assert_eq!(outcomes.len(), 2);
    for outcome in outcomes {
        let report = outcome.result.unwrap();
        assert_eq!(report.validated, outcome.site_id == "confirmed");
    }
    let next: Vec<(String, i64)> = sqlx::query_as(
        "SELECT site_id, next_due_ms - claimed_ms FROM fastcomments_sites ORDER BY site_id",
    )
    .fetch_all(fleet.db().pool())
    .await
    .unwrap();
    assert_eq!(next[1], ("unconfirmed".to_owned(), 60_000));
    assert!(next[0].1 < 60_000, "setup left: due again soon: {next:?}");
    // The unconfirmed tick took no lease of its own: the claim's is given back, so
    // the site is claimable when it is due, not when a lease sized for the longest
    // call expires.
    let leased = scalar(
        fleet.db(),
        "SELECT COUNT(*) FROM fastcomments_sites WHERE site_id = 'unconfirmed' AND lease_owner IS NOT NULL",
    )
    .await;
    assert_eq!(leased, 0);
}

/// A tick that fails (FastComments answers 503 and the worker's policy does not retry)
/// gives its lease back at once, keeping its cadence: the site is not held for a lease
/// sized for the longest call, and the next worker's claim takes it when it is due.
#[tokio::test]
async fn a_failed_tick_gives_its_lease_back_and_keeps_its_cadence() {
    let server = server().await;
    server.confirm_integration(TOKEN, "tenant-a");
    let fleet = Fleet::new(sqlite().await);
    fleet
        .add_site(&FleetSite::new(
            "site",
            Token::new(TOKEN),
            Duration::from_secs(60),
        ))
        .await
        .unwrap();
    server.inject(FaultRule::new(Fault::Status { status: 503 }).always());
    let worker = fleet
        .worker(client(&server), SqlSiteFactory)
        .id("first")
        .build();
    let outcomes = worker.tick_due(10).await.unwrap();
    assert!(outcomes[0].result.is_err(), "{:?}", outcomes[0].result);
    let (owner, next): (Option<String>, i64) =
        sqlx::query_as("SELECT lease_owner, next_due_ms - claimed_ms FROM fastcomments_sites")
            .fetch_one(fleet.db().pool())
            .await
            .unwrap();
    assert_eq!(owner, None, "the failed tick's lease is given back");
    assert_eq!(next, 60_000, "the site comes again at its cadence");

    // When it is due, another worker takes it with a new fence and syncs it.
    server.clear_faults();
    sqlx::query("UPDATE fastcomments_sites SET next_due_ms = 0")
        .execute(fleet.db().pool())
        .await
        .unwrap();
    let other = fleet
        .worker(client(&server), SqlSiteFactory)
        .id("second")
        .build();
    let outcomes = other.tick_due(10).await.unwrap();
    assert!(outcomes[0].result.as_ref().unwrap().validated);
}
