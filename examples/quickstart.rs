//! A first session with FastComments.
//!
//! With no environment it starts the embedded mock server, seeds it, and runs a whole
//! session against it: list pages, stream the comments, create a comment, read it back,
//! update it, and show a typed error, then ride out two injected 503s with retries. With `FASTCOMMENTS_API_KEY` and `FASTCOMMENTS_TENANT_ID` set it runs the
//! read-only part against the real service; `FASTCOMMENTS_REGION` (`global`, `eu`,
//! `gdc-oregon`, ...) or `FASTCOMMENTS_BASE_URL` choose the host.
//!
//! ```text
//! cargo run --example quickstart
//! FASTCOMMENTS_API_KEY=... FASTCOMMENTS_TENANT_ID=... cargo run --example quickstart
//! ```

use std::time::Duration;

use fastcomments::mock::{Fault, FaultRule, MockServer};
use fastcomments::{Client, Region, RetryPolicy};
use futures::TryStreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    match (
        std::env::var("FASTCOMMENTS_API_KEY"),
        std::env::var("FASTCOMMENTS_TENANT_ID"),
    ) {
        (Ok(key), Ok(tenant)) => {
            let region = match std::env::var("FASTCOMMENTS_BASE_URL") {
                Ok(url) => Region::Custom(url),
                Err(_) => std::env::var("FASTCOMMENTS_REGION")
                    .unwrap_or_default()
                    .parse()?,
            };
            let client = Client::builder()
                .api_key(key)
                .tenant_id(tenant)
                .region(region)
                .build()?;
            println!("FastComments at {} (read-only)", client.base_url());
            read_only(&client).await
        }
        _ => {
            let server = MockServer::start().await?;
            server.add_tenant("demo", "demo-key");
            server.seed_comments("demo", "welcome", 3);
            let client = server.client("demo", "demo-key")?;
            println!(
                "No FASTCOMMENTS_API_KEY/FASTCOMMENTS_TENANT_ID: using the mock server at {}",
                client.base_url()
            );
            read_only(&client).await?;
            read_write(&client).await?;
            show_a_retry(&server, &client).await
        }
    }
}

/// What is safe to run against any account: reads, and one request that fails.
async fn read_only(client: &Client) -> Result<(), Box<dyn std::error::Error>> {
    let pages = client.get_pages().send().await?;
    println!("\n{} page(s):", pages.pages.len());
    for page in pages.pages.iter().take(5) {
        println!(
            "  {:<20} {:>4} comments  {}",
            page.url_id, page.comment_count, page.title
        );
    }

    let latest = client.get_comments().limit(3).send().await?;
    println!("\nLatest comments:");
    for comment in &latest.comments {
        println!(
            "  [{}] {}: {}",
            comment.url_id, comment.commenter_name, comment.comment
        );
    }

    // Every comment, page after page, the next page fetched while this one is read.
    let mut all = client.get_comments().stream().page_size(50);
    let mut count = 0;
    while let Some(_comment) = all.try_next().await? {
        count += 1;
    }
    println!("\n{count} comment(s) in all, streamed");

    println!("\nA typed error:");
    match client.get_comment().id("no-such-comment").send().await {
        Ok(_) => println!("  unexpectedly found it"),
        Err(error) => println!(
            "  status {:?}, code {:?}, retryable: {} ({error})",
            error.status(),
            error.code(),
            error.is_retryable()
        ),
    }
    Ok(())
}

/// Writes, only against the mock server.
async fn read_write(client: &Client) -> Result<(), Box<dyn std::error::Error>> {
    let created = client
        .save_comment()
        .body_map(|c| {
            c.url_id("welcome")
                .url("https://example.com/welcome")
                .commenter_name("Quickstart")
                .comment("Hello from Rust!")
                .locale("en_us")
        })
        .send()
        .await?;
    let id = created.comment.id.clone();
    println!("\nCreated comment {id}");

    let read = client.get_comment().id(&id).send().await?;
    println!(
        "Read back: {:?} ({})",
        read.comment.comment, read.comment.comment_html
    );

    client
        .update_comment()
        .id(&id)
        .body_map(|c| c.comment(Some("Hello from Rust, edited!".to_string())))
        .send()
        .await?;
    let read = client.get_comment().id(&id).send().await?;
    println!("Updated:   {:?}", read.comment.comment);

    let page = client
        .get_comments()
        .url_id("welcome")
        .skip(0)
        .limit(10)
        .send()
        .await?;
    println!("Page 'welcome' now has {} comments", page.comments.len());
    Ok(())
}

/// The mock answers the next two page listings with 503; the client waits and retries.
/// (The default schedule waits 1 min, then 2 min, ...; this demo uses half a second.)
async fn show_a_retry(
    server: &MockServer,
    client: &Client,
) -> Result<(), Box<dyn std::error::Error>> {
    println!("\nTwo injected 503s:");
    server.inject(
        FaultRule::new(Fault::Status { status: 503 })
            .method("GET")
            .path("/api/v1/pages")
            .times(2),
    );
    let policy = RetryPolicy::default()
        .base(Duration::from_millis(500))
        .on_retry(|e| {
            println!(
                "  attempt {} of {} failed ({}), retrying in {:?}",
                e.attempt, e.operation, e.cause, e.wait
            )
        });
    let pages = client.with_retry(policy).get_pages().send().await?;
    println!("  then it worked: {} page(s)", pages.pages.len());
    Ok(())
}
