//! One worker of a fleet: ticks the sites listed in `fastcomments_sites`, each into a
//! `SqlSite` in the same database, sharing them with every other worker on that
//! database, until Ctrl-C (which releases its sites at once).
//!
//! ```text
//! FASTCOMMENTS_FLEET_DB=postgres://fc@db.internal/fc cargo run --example fleet_worker
//! FASTCOMMENTS_FLEET_DB=sqlite://fleet.sqlite FASTCOMMENTS_REGION=eu cargo run --example fleet_worker
//! ```
//!
//! Sites are added by your code ([`Fleet::add_site`]) or by SQL (`INSERT INTO
//! fastcomments_sites (site_id, token, domain) VALUES (...)`). The API host comes from
//! `FASTCOMMENTS_REGION` or `FASTCOMMENTS_BASE_URL` as in the other examples; the
//! worker's id from `FASTCOMMENTS_WORKER_ID` (default a random one).
//!
//! With no `FASTCOMMENTS_FLEET_DB` it runs a demo with no account: the embedded mock
//! server with five sites (each a tenant with comments to upload and events to apply),
//! a SQLite database in a temporary directory, and two workers sharing it, until every
//! site is synced.

use std::time::Duration;

use chrono::Utc;
use fastcomments::integration::{BoxError, Token};
use fastcomments::mock::MockServer;
use fastcomments::sql::{Fleet, FleetSite, SqlDb, SqlSite, SqlSiteFactory};
use fastcomments::{Client, Region};
use tokio::sync::watch;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    match std::env::var("FASTCOMMENTS_FLEET_DB") {
        Ok(url) => worker(&url).await,
        Err(_) => demo().await,
    }
}

async fn worker(url: &str) -> Result<(), BoxError> {
    let mut client = Client::builder();
    if let Ok(base) = std::env::var("FASTCOMMENTS_BASE_URL") {
        client = client.base_url(base);
    } else if let Ok(region) = std::env::var("FASTCOMMENTS_REGION") {
        client = client.region(region.parse::<Region>()?);
    }
    let db = SqlDb::connect(url).await?;
    println!("fleet worker on {db:?}");
    let mut worker = Fleet::new(db).worker(client.build()?, SqlSiteFactory);
    if let Ok(id) = std::env::var("FASTCOMMENTS_WORKER_ID") {
        worker = worker.id(id);
    }
    let worker = worker.build();
    println!(
        "worker {} running; Ctrl-C releases its sites and stops it",
        worker.id()
    );
    let report = worker
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    println!("stopped: {report:?}");
    Ok(())
}

async fn demo() -> Result<(), BoxError> {
    let server = MockServer::start().await?;
    // A fresh database each run: a container reuses pids, so the pid alone could find
    // an earlier demo's sites.
    let dir = std::env::temp_dir().join(format!("fastcomments-fleet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}", dir.join("fleet.sqlite").display());
    println!(
        "No FASTCOMMENTS_FLEET_DB: a demo fleet on the mock server at {} and {url}",
        server.base_url()
    );
    let db = SqlDb::connect(&url).await?;
    let fleet = Fleet::new(db.clone());
    for i in 1..=5 {
        let (tenant, token) = (format!("tenant-{i}"), format!("demo-token-{i}"));
        server.add_tenant(&tenant, &format!("key-{i}"));
        server.confirm_integration(&token, &tenant);
        server.create_integration_testing_events(&tenant, Utc::now().timestamp_millis());
        let site = SqlSite::open(db.clone(), format!("blog-{i}")).await?;
        for n in 1..=3 {
            let html = format!("<p>Post {n} of blog {i}</p>");
            site.add_local("welcome", "Ada", &html, Utc::now(), None)
                .await?;
        }
        let entry = FleetSite::new(
            format!("blog-{i}"),
            Token::new(token),
            Duration::from_secs(5),
        )
        .domain(format!("blog-{i}.example.com"));
        fleet.add_site(&entry).await?;
    }
    let client = Client::builder().base_url(server.base_url()).build()?;
    let (stop, stopped) = watch::channel(false);
    let workers: Vec<_> = ["worker-a", "worker-b"]
        .into_iter()
        .map(|id| {
            let worker = fleet
                .worker(client.clone(), SqlSiteFactory)
                .id(id)
                .poll(Duration::from_millis(200))
                .concurrency(3)
                .build();
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                let report = worker
                    .run(async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    })
                    .await;
                (worker.id().to_owned(), report)
            })
        })
        .collect();
    loop {
        let (applied, unsent): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM fastcomments_applied),
                    (SELECT COUNT(*) FROM fastcomments_comments
                     WHERE from_fastcomments = 0 AND fc_id IS NULL)",
        )
        .fetch_one(db.pool())
        .await?;
        println!("  {applied}/45 events applied, {unsent} local comments not uploaded yet");
        if applied == 45 && unsent == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    stop.send(true)?;
    for run in workers {
        let (id, report) = run.await?;
        println!("{id}: {} ticks, {} failed", report.ticks, report.failed);
    }
    let owners: Vec<(String, i64)> =
        sqlx::query_as("SELECT site_id, fence FROM fastcomments_sites ORDER BY site_id")
            .fetch_all(db.pool())
            .await?;
    for (site, fence) in owners {
        println!("{site}: {fence} leases taken so far");
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
