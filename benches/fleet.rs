//! What the fleet costs and how well it keeps time, on PostgreSQL and the mock on
//! loopback:
//!
//! ```text
//! .ci/with-postgres cargo bench --bench fleet
//! ```
//!
//! 1. **Per tick.** One synced site ticked 200 times by a standalone [`Integration`]
//!    (over [`SqlStateStore`] and [`SqlSite`]) and 200 times by a fleet worker
//!    ([`Worker::tick_due`]): SQL statements per tick (each one round trip; counted from
//!    sqlx's own `sqlx::query` trace events) and the median milliseconds per tick, and
//!    what the fleet adds to each.
//! 2. **Lateness.** 10,000 sites, each due every 60 s, their first due times spread over
//!    one minute; 1, 2 and 4 workers (in this process, each with its own pool): how late
//!    each site's tick starts (the claim's time minus the due time, by the database's
//!    clock), p50 and p99, over one full minute.
//! 3. **Memory.** The peak of live heap while the workers run, above the heap before
//!    they start, per site of the fleet and per site in flight (a worker keeps nothing
//!    of an idle site: its rows are the database's). The mock shares the process, so
//!    its allocations are in the figure: an upper bound.
//!
//! This machine has 2 cores: more workers measure contention for them, not scaling.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fastcomments::integration::{Integration, Token};
use fastcomments::mock::MockServer;
use fastcomments::sql::{Fleet, FleetSite, SqlDb, SqlSite, SqlSiteFactory, SqlStateStore};
use fastcomments::{Client, RetryPolicy};
use sqlx::Connection;
use tokio::sync::watch;

const SITES: usize = 10_000;
const INTERVAL_MS: i64 = 60_000;
const TICKS: usize = 200;

/// Live heap bytes and their peak.
struct Counting;
static LIVE: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed) + layout.size() as i64;
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Counts sqlx's statement events (`sqlx::query`, one per statement sent).
struct Statements;
static STATEMENTS: AtomicU64 = AtomicU64::new(0);

impl tracing::Subscriber for Statements {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target() == "sqlx::query"
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if event.metadata().target() == "sqlx::query" {
            STATEMENTS.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

fn main() {
    tracing::subscriber::set_global_default(Statements).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let url = std::env::var("FASTCOMMENTS_TEST_POSTGRES")
        .expect("run it through .ci/with-postgres cargo bench --bench fleet");
    let server = MockServer::start().await.unwrap();
    per_tick(&server, &url).await;
    for i in 0..SITES {
        server.add_tenant(&format!("tenant-{i}"), &format!("key-{i}"));
        server.confirm_integration(&token(i), &format!("tenant-{i}"));
    }
    println!("\nlateness: {SITES} sites due every 60 s, one minute of ticks");
    for workers in [1, 2, 4] {
        lateness(&server, &url, workers).await;
    }
}

fn token(i: usize) -> String {
    format!("bench-token-{i:05}")
}

fn client(server: &MockServer) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .retry(RetryPolicy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn database(url: &str, name: &str) -> SqlDb {
    let mut admin = sqlx::AnyConnection::connect(url).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    SqlDb::connect(&db_url(url, name)).await.unwrap()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn per_tick(server: &MockServer, url: &str) {
    sqlx::any::install_default_drivers();
    let db = database(url, "fc_bench_tick").await;
    server.add_tenant("tenant-solo", "key-solo");
    server.confirm_integration("solo-token", "tenant-solo");
    let fleet = Fleet::new(db.clone());
    fleet
        .add_site(&FleetSite::new(
            "solo",
            Token::new("solo-token"),
            Duration::from_secs(60),
        ))
        .await
        .unwrap();
    let worker = fleet.worker(client(server), SqlSiteFactory).build();
    let due_now = || async {
        sqlx::query("UPDATE fastcomments_sites SET next_due_ms = 0")
            .execute(db.pool())
            .await
            .unwrap();
    };
    // Sync it: setup, upload, SetSyncDone.
    for _ in 0..5 {
        due_now().await;
        worker.tick_due(1).await.unwrap();
    }
    let store = SqlStateStore::open(db.clone(), "solo").await.unwrap();
    let solo = Integration::builder(client(server), SqlSite::new(db.clone(), "solo"), store)
        .token(Token::new("solo-token"))
        .build()
        .await
        .unwrap();
    let (mut solo_ms, mut fleet_ms) = (Vec::new(), Vec::new());
    let (mut solo_statements, mut fleet_statements) = (0, 0);
    for _ in 0..TICKS {
        let before = STATEMENTS.load(Ordering::Relaxed);
        let start = Instant::now();
        let report = solo.tick().await.unwrap();
        solo_ms.push(start.elapsed().as_secs_f64() * 1000.0);
        solo_statements += STATEMENTS.load(Ordering::Relaxed) - before;
        assert!(report.setup_done && report.applied == 0);

        due_now().await;
        let before = STATEMENTS.load(Ordering::Relaxed);
        let start = Instant::now();
        let outcomes = worker.tick_due(1).await.unwrap();
        fleet_ms.push(start.elapsed().as_secs_f64() * 1000.0);
        fleet_statements += STATEMENTS.load(Ordering::Relaxed) - before;
        assert_eq!(outcomes.len(), 1);
        outcomes.into_iter().next().unwrap().result.unwrap();
    }
    let solo_per = solo_statements as f64 / TICKS as f64;
    let fleet_per = fleet_statements as f64 / TICKS as f64;
    let (solo_med, fleet_med) = (median(solo_ms), median(fleet_ms));
    println!("per tick of one synced site, {TICKS} ticks each:");
    println!("  standalone Integration: {solo_per:.1} statements, {solo_med:.2} ms (median)");
    println!(
        "  fleet worker:           {fleet_per:.1} statements, {fleet_med:.2} ms (median)  \
         => the fleet adds {:.1} round trips and {:.2} ms ({:.2}x)",
        fleet_per - solo_per,
        fleet_med - solo_med,
        fleet_med / solo_med
    );
}

async fn lateness(server: &MockServer, url: &str, workers: usize) {
    let db = database(url, &format!("fc_bench_late_{workers}")).await;
    let start: i64 = db.now().await.unwrap() + 3_000;
    let spacing = INTERVAL_MS / SITES as i64;
    for chunk in (0..SITES).collect::<Vec<_>>().chunks(500) {
        let mut sql = String::from(
            "INSERT INTO fastcomments_sites (site_id, token, interval_ms, next_due_ms, state) VALUES ",
        );
        for (n, i) in chunk.iter().enumerate() {
            let state = format!(
                r#"{{"token":"{}","validated":true,"tenantId":"tenant-{i}","setupCompleted":true,"syncDone":true}}"#,
                token(*i)
            );
            if n > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "('site-{i}', '{}', {INTERVAL_MS}, {}, '{state}')",
                token(*i),
                start + spacing * *i as i64
            ));
        }
        sqlx::query(&sql).execute(db.pool()).await.unwrap();
    }
    let baseline = LIVE.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let (stop, stopped) = watch::channel(false);
    let mut runs = Vec::new();
    for n in 0..workers {
        let own = SqlDb::connect(&db_url(url, &format!("fc_bench_late_{workers}")))
            .await
            .unwrap();
        let worker = Fleet::new(own)
            .worker(client(server), SqlSiteFactory)
            .id(format!("worker-{n}"))
            .build();
        let mut stopped = stopped.clone();
        runs.push(tokio::spawn(async move {
            worker
                .run(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await
        }));
    }
    let begun = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let claimed: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM fastcomments_sites WHERE claimed_ms > 0")
                .fetch_one(db.pool())
                .await
                .unwrap();
        if claimed == SITES as i64 || begun.elapsed() > Duration::from_secs(180) {
            break;
        }
    }
    stop.send(true).unwrap();
    let mut ticks = 0;
    let mut failed = 0;
    for run in runs {
        let report = run.await.unwrap();
        ticks += report.ticks;
        failed += report.failed;
    }
    let peak = PEAK.load(Ordering::Relaxed) - baseline;
    let mut late: Vec<i64> = sqlx::query_scalar(
        "SELECT claimed_ms - last_due_ms FROM fastcomments_sites WHERE claimed_ms > 0",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    late.sort_unstable();
    let in_flight = workers * 16;
    println!(
        "  {workers} worker(s): {} of {SITES} sites ticked ({ticks} ticks, {failed} failed); \
         lateness p50 {} ms, p99 {} ms, max {} ms; heap peak +{:.1} MiB = {:.0} B per site, \
         {:.1} KiB per site in flight ({in_flight})",
        late.len(),
        percentile(&late, 0.5),
        percentile(&late, 0.99),
        late.last().copied().unwrap_or_default(),
        peak as f64 / (1 << 20) as f64,
        peak as f64 / SITES as f64,
        peak as f64 / in_flight as f64 / 1024.0,
    );
}

fn db_url(url: &str, name: &str) -> String {
    let (server, _) = url.rsplit_once('/').unwrap();
    format!("{server}/{name}")
}
