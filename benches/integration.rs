//! Events applied per second through the integration's event-log path, against the
//! same pages fetched and decoded by hand.
//!
//! ```text
//! cargo bench --bench integration
//! ```
//!
//! One mock server holds 20,000 events (three per millisecond, the `data` strings of
//! real comment events) in pages of 100. In one run, interleaved over rounds, it measures
//! events per second of:
//! (a) raw: `GET /integrations/v1/events` page after page with reqwest, each body decoded
//!     by `serde_json` into the envelopes (`_id`, `createdAt`, `urlId`, `data` as a
//!     string), following `fromDateTime` like the reference cores;
//! (b) ours: `Integration::tick` into a [`MemorySite`]: the request path, both levels of
//!     each event decoded into typed events, the checkpoint kept, every event applied;
//!
//! and prints (b) / (a).

use std::time::{Duration, Instant};

use fastcomments::Client;
use fastcomments::integration::{Integration, MemorySite, MemoryStore, Token};
use fastcomments::mock::MockServer;
use serde::Deserialize;
use serde_json::json;

const EVENTS: usize = 20_000;
const ROUNDS: usize = 5;
const TENANT: &str = "bench";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

fn comment_event(i: usize) -> String {
    json!({
        "type": "new-comment", "broadcastId": format!("b{i}"), "timestamp": 1_700_000_000_000_i64 + i as i64,
        "comment": {
            "_id": format!("c{i:08}"), "externalId": null, "tenantId": TENANT, "urlId": "post-1",
            "urlIdRaw": "https://blog.example.com/post-1", "url": "https://blog.example.com/post-1",
            "pageTitle": "A post", "userId": format!("u{}", i % 97), "commenterName": "A commenter",
            "commenterEmail": "someone@example.com", "comment": "A comment of ordinary length, a sentence or two.",
            "commentHTML": "<p>A comment of ordinary length, a sentence or two.</p>", "parentId": null,
            "date": "2024-05-01T12:00:00.000Z", "votes": 3, "votesUp": 4, "votesDown": 1, "verified": true,
            "notificationSentForParent": true, "notificationSentForParentTenant": true, "reviewed": false,
            "avatarSrc": null, "isSpam": false, "aiDeterminedSpam": false, "hasImages": false,
            "hasLinks": false, "approved": true, "locale": "en_us", "isByAdmin": false, "isByModerator": false
        }
    })
    .to_string()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct RawEvent {
    #[serde(rename = "_id")]
    id: String,
    created_at: i64,
    url_id: String,
    data: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPage {
    events: Vec<RawEvent>,
    has_more: bool,
}

/// (a): the pages by hand; returns the events read.
async fn raw(http: &reqwest::Client, base: &str) -> usize {
    let (mut from, mut seen) = (0_i64, std::collections::HashSet::new());
    loop {
        let url = format!(
            "{base}/integrations/v1/events?token={}&fromDateTime={from}",
            token().expose()
        );
        let body = http.get(url).send().await.unwrap().bytes().await.unwrap();
        let page: RawPage = serde_json::from_slice(&body).unwrap();
        for event in &page.events {
            seen.insert(event.id.clone());
            from = event.created_at;
        }
        if !page.has_more {
            return seen.len();
        }
    }
}

/// (b): a fresh site, ticked until the log is applied; returns the events applied.
async fn ours(base: &str) -> usize {
    let client = Client::builder().base_url(base).build().unwrap();
    let integration = Integration::builder(client, MemorySite::new(), MemoryStore::new())
        .token(token())
        .skip_initial_sync(true)
        .tick_budget(Duration::from_secs(600))
        .build()
        .await
        .unwrap();
    let report = integration.tick().await.unwrap();
    report.applied as usize
}

fn token() -> Token {
    Token::new("bench-token")
}

async fn run() {
    let server = MockServer::start().await.unwrap();
    server.add_tenant(TENANT, "key");
    server.confirm_integration(token().expose(), TENANT);
    for i in 0..EVENTS {
        server.push_integration_event(TENANT, 1_700_000_000_000 + (i / 3) as i64, comment_event(i));
    }
    // After a fastcomments client: it installs the TLS provider reqwest needs.
    let _ = Client::builder().build().unwrap();
    let http = reqwest::Client::new();
    let base = server.base_url().to_owned();
    let (mut best_raw, mut best_ours) = (0.0_f64, 0.0_f64);
    for round in 1..=ROUNDS {
        let started = Instant::now();
        assert_eq!(raw(&http, &base).await, EVENTS);
        let raw_rate = EVENTS as f64 / started.elapsed().as_secs_f64();
        let started = Instant::now();
        assert_eq!(ours(&base).await, EVENTS);
        let our_rate = EVENTS as f64 / started.elapsed().as_secs_f64();
        println!(
            "round {round}: (a) raw {raw_rate:>8.0} events/s   (b) ours {our_rate:>8.0} events/s"
        );
        best_raw = best_raw.max(raw_rate);
        best_ours = best_ours.max(our_rate);
    }
    println!("\nbest of {ROUNDS} rounds, {EVENTS} events in pages of 100:");
    println!("(a) raw fetch + JSON decode     {best_raw:>8.0} events/s");
    println!(
        "(b) Integration::tick, applied  {best_ours:>8.0} events/s   {:.2}x (a)",
        best_ours / best_raw
    );
}
