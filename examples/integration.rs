//! A small site that keeps its comments in SQLite ([`SqlSite`], feature `sqlite`) and
//! mirrors them with FastComments through the integration protocol. Each event is
//! applied together with its checkpoint in one transaction, under the lease's fence:
//! that is what makes the effect exactly-once across crashes and takeovers.
//!
//! With no environment it runs against the embedded mock server: it prints the
//! confirmation URL, confirms it through the mock's admin call, uploads its comments
//! with a progress line, has the mock write FastComments' testing events, mirrors them,
//! and prints the final local table. With `FASTCOMMENTS_BASE_URL` or `FASTCOMMENTS_REGION`
//! set (and optionally `FASTCOMMENTS_INTEGRATION_TOKEN`), it runs against that host, keeps
//! its state and comments in `site.sqlite`, and waits for a person
//! to confirm the token; Ctrl-C stops it.
//!
//! ```text
//! cargo run --example integration
//! FASTCOMMENTS_REGION=eu cargo run --example integration
//! ```

use std::time::Duration;

use chrono::{TimeZone, Utc};
use fastcomments::integration::{BoxError, Integration, Site, StateStore, Token};
use fastcomments::mock::MockServer;
use fastcomments::sql::{SqlDb, SqlSite, SqlStateStore};
use fastcomments::{Client, Region};

/// Prints the site's comments table.
async fn print(site: &SqlSite) -> Result<(), BoxError> {
    println!(
        "\n{:>3} {:<26} {:<22} {:>3} {:>3}  comment",
        "id", "FastComments id", "author", "up", "dn"
    );
    for c in site.comments().await? {
        let origin = if c.from_fastcomments {
            " (from FastComments)"
        } else {
            ""
        };
        let html: String = if c.html.chars().count() > 60 {
            c.html.chars().take(60).chain(['…']).collect()
        } else {
            c.html.clone()
        };
        let fc = c.fastcomments_id.as_deref().unwrap_or("-");
        println!(
            "{:>3} {fc:<26} {:<22} {:>3} {:>3}  {html}{origin}",
            c.local_id, c.author, c.votes_up, c.votes_down
        );
    }
    for (kind, id, reason) in site.skipped().await? {
        let reason: String = reason.chars().take(80).collect();
        println!("  gave up {kind} {id}: {reason}");
    }
    Ok(())
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
    let db = SqlDb::connect("sqlite::memory:").await?;
    let site = SqlSite::open(db.clone(), "blog").await?;
    let day = |d: u32, h: u32| Utc.with_ymd_and_hms(2024, 3, d, h, 0, 0).unwrap();
    let first = site
        .add_local(
            "welcome",
            "Ada",
            "<p>Welcome to the blog!</p>",
            day(1, 9),
            None,
        )
        .await?;
    site.add_local(
        "welcome",
        "Grace",
        "<p>Glad to be here.</p>",
        day(1, 10),
        Some(first),
    )
    .await?;
    site.add_local("welcome", "Linus", "<p>Nice post.</p>", day(2, 8), None)
        .await?;
    // FastComments refuses a body over 2 MB; the mock's limit, scaled down to 16 kB,
    // refuses this comment even alone: the upload gives it up, reports it and goes on.
    let long = format!("<p>{}</p>", "very long ".repeat(2_000));
    site.add_local("welcome", "Verbose", &long, day(3, 8), None)
        .await?;
    server.set_integration_body_limit(16_000);
    let client = Client::builder().base_url(server.base_url()).build()?;
    let store = SqlStateStore::open(db, "blog").await?;
    let integration = Integration::builder(client, site, store)
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
    print(integration.site()).await?;
    Ok(())
}

async fn with_service(region: Region) -> Result<(), BoxError> {
    let client = Client::builder().region(region).build()?;
    let db = SqlDb::connect("sqlite://site.sqlite").await?;
    let site = SqlSite::open(db.clone(), "site").await?;
    let store = SqlStateStore::open(db, "site").await?;
    let mut builder = Integration::builder(client, site, store)
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
    print(integration.site()).await?;
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
