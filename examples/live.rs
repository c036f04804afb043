//! A page's live events, as they happen.
//!
//! With no environment it starts the embedded mock server, subscribes to a page, and
//! makes a few changes through the API meanwhile (a comment, an edit, a vote, a dropped
//! connection, a comment written while it is down, a deletion): each event is printed
//! as it leaves the stream, the one written during the outage included. With
//! `FASTCOMMENTS_API_KEY` and `FASTCOMMENTS_TENANT_ID` set it subscribes to the real
//! service's page `FASTCOMMENTS_URL_ID` (default `live-demo`) and prints its events
//! until Ctrl-C, writing nothing; `FASTCOMMENTS_REGION` or `FASTCOMMENTS_BASE_URL` choose
//! the host.
//!
//! ```text
//! cargo run --example live
//! FASTCOMMENTS_API_KEY=... FASTCOMMENTS_TENANT_ID=... cargo run --example live
//! ```

use std::time::Duration;

use fastcomments::live::{LiveEvent, LiveEvents, LiveItem};
use fastcomments::mock::MockServer;
use fastcomments::{Client, Region};
use futures::TryStreamExt;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[tokio::main]
async fn main() -> Result<()> {
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
            let url_id =
                std::env::var("FASTCOMMENTS_URL_ID").unwrap_or_else(|_| "live-demo".into());
            println!(
                "Live events of {url_id} at {} (Ctrl-C to stop)",
                client.base_url()
            );
            let mut events = client.live(url_id).subscribe().await?;
            tokio::select! {
                printed = print_all(&mut events) => printed,
                _ = tokio::signal::ctrl_c() => Ok(()),
            }
        }
        _ => demo().await,
    }
}

/// The mock: subscribe, change the page meanwhile, print what arrives.
async fn demo() -> Result<()> {
    let server = MockServer::start().await?;
    server.add_tenant("demo", "demo-key");
    let client = server.client("demo", "demo-key")?;
    println!(
        "No FASTCOMMENTS_API_KEY/FASTCOMMENTS_TENANT_ID: live events of page \"welcome\" on the mock server at {}",
        client.base_url()
    );
    let mut events = client.live("welcome").subscribe().await?;
    while server.live_subscribers("demo").is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Seven stored events: new, edit, vote, new (during the outage), new, delete, new.
    let read = async {
        for _ in 0..7 {
            let Some(item) = events.try_next().await? else {
                break;
            };
            print(&item);
        }
        Ok::<_, fastcomments::Error>(())
    };
    let (written, read) = tokio::join!(write_a_few(&server, &client), read);
    written?;
    read?;
    println!("\n{:?}", events.stats());
    Ok(())
}

async fn write_a_few(server: &MockServer, client: &Client) -> Result<()> {
    let save = |text: &'static str| {
        client.save_comment().body_map(move |b| {
            b.comment(text)
                .commenter_name("Ada")
                .url("https://example.com/welcome")
                .url_id("welcome")
                .locale("en_us")
        })
    };
    let first = save("Hello, live world").send().await?.comment.id;
    client
        .update_comment()
        .id(&first)
        .body_map(|b| b.comment("Hello, live world (edited)".to_owned()))
        .send()
        .await?;
    let vote = serde_json::json!({"voteDir": "up", "commenterEmail": null, "commenterName": null, "url": null});
    client
        .vote_comment()
        .comment_id(&first)
        .url_id("welcome")
        .broadcast_id("demo-vote")
        .body(serde_json::from_value::<fastcomments::types::VoteBodyParams>(vote)?)
        .send()
        .await?;
    println!("  (dropping the socket: the next comment is written while it is down)");
    server.drop_live_sockets("demo");
    save("Written while the socket was down").send().await?;
    let second = save("Back again").send().await?.comment.id;
    client.delete_comment().id(&second).send().await?;
    save("Goodbye").send().await?;
    Ok(())
}

async fn print_all(events: &mut LiveEvents) -> Result<()> {
    while let Some(item) = events.try_next().await? {
        print(&item);
    }
    Ok(())
}

fn print(item: &LiveItem) {
    match item {
        LiveItem::Event(LiveEvent::NewComment(e)) => println!(
            "new comment    {} by {}: {}",
            e.comment.id,
            e.comment.commenter_name.as_deref().unwrap_or("?"),
            e.comment.comment.as_deref().unwrap_or_default()
        ),
        LiveItem::Event(LiveEvent::UpdatedComment(e)) => println!(
            "edited         {}: {}",
            e.comment.id,
            e.comment.comment.as_deref().unwrap_or_default()
        ),
        LiveItem::Event(LiveEvent::DeletedComment(e)) => {
            println!("deleted        {}", e.comment.id)
        }
        LiveItem::Event(LiveEvent::NewVote(e)) => {
            println!(
                "vote {:+}        on {}",
                e.vote.direction, e.vote.comment_id
            )
        }
        LiveItem::Event(LiveEvent::Presence(p)) => println!(
            "presence       +{} -{} ({} here)",
            p.joined.len(),
            p.left.len(),
            p.subscriber_count.unwrap_or_default()
        ),
        LiveItem::Event(other) => println!("{:<14} {:?}", other.kind(), other.timestamp()),
        LiveItem::Gap { from, to } => println!("GAP            events {from}..{to} may be missing"),
        LiveItem::Malformed { reason, .. } => println!("malformed      {reason}"),
        other => println!("{other:?}"),
    }
}
