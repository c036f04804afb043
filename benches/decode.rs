//! How much of a page's round trip is decoding.
//!
//! ```text
//! cargo bench --bench decode
//! ```
//!
//! A loopback server answers `GET /api/v1/comments` with the same 174 KB page of 100
//! comments (status first, as FastComments sends it). At concurrency 1, in one run and
//! interleaved in rounds, it measures requests per second of:
//! (a) the bytes only (reqwest, body read, nothing decoded),
//! (b) the bytes decoded into a `serde_json::Value`,
//! (c) this crate's `send()`: the request path, failure detection, and the decode into
//!     `ApiGetCommentsResponse`,
//! (d) reqwest's `.json()` into the same type: `serde_json::from_slice` after the bytes,
//!     the way progenitor's own `send()` decodes, without failure detection,
//!
//! and prints each as a ratio of (a). A last line measures (c) on the same page with
//! `status` last.
#![recursion_limit = "256"]

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::routing::get;
use fastcomments::Client;
use fastcomments::types::ApiGetCommentsResponse;
use serde_json::{Value, json};

const ROUNDS: usize = 5;
const PER_ROUND: Duration = Duration::from_millis(1500);

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

/// A page of 100 comments of about 1.7 KB each, fields as FastComments sends them.
fn page(status_first: bool) -> Bytes {
    let comments: Vec<Value> = (0..100)
        .map(|i| {
            let text = format!(
                "Comment {i}: {}",
                "This is a thoughtful reply about the article, with a few sentences of \
                 substance, a link or two, and the odd \"quoted\" phrase. "
                    .repeat(2)
            );
            json!({
                "id": format!("6650a1b2c3d4e5f6a7b8{i:04x}"),
                "tenantId": "L177BUDVvSe",
                "urlId": "https://example.com/blog/2026/11/a-long-article-slug",
                "url": "https://example.com/blog/2026/11/a-long-article-slug?utm_source=feed",
                "pageTitle": "A Long Article Title That Readers Comment On",
                "userId": format!("user-{}", i % 17),
                "commenterName": format!("Reader Number {i}"),
                "commenterLink": format!("https://example.com/users/{i}"),
                "avatarSrc": format!("https://cdn.fastcomments.com/avatars/{i}.webp"),
                "comment": text,
                "commentHTML": format!("<p>{}</p>", text.replace('"', "&quot;")),
                "parentId": if i % 3 == 0 { Value::Null } else { json!(format!("6650a1b2c3d4e5f6a7b8{:04x}", i - 1)) },
                "date": 1_763_000_000_000_i64 + i * 60_000,
                "localDateString": "Sat Nov 22 2026",
                "localDateHours": 14,
                "votes": i % 7, "votesUp": i % 7, "votesDown": 0,
                "flagCount": 0,
                "expireAt": null,
                "verified": true, "verifiedDate": "2026-11-22T10:00:00.000Z",
                "approved": true, "reviewed": false, "isSpam": false, "aiDeterminedSpam": false,
                "hasImages": false, "hasLinks": true, "hasCode": false,
                "isByAdmin": false, "isByModerator": false, "isPinned": false, "isLocked": false,
                "isDeleted": false, "isDeletedUser": false,
                "locale": "en_us",
                "badges": [{"id": "b1", "type": 1, "description": "Top Commenter",
                            "displayLabel": "Top", "displaySrc": null, "backgroundColor": "#333",
                            "borderColor": null, "textColor": "#fff", "cssClass": null}],
                "hashTags": [], "mentions": [], "feedbackIds": [],
                "notificationSentForParent": true, "notificationSentForParentTenant": false,
                "domain": "example.com",
            })
        })
        .collect();
    let body = if status_first {
        json!({ "status": "success", "comments": comments })
    } else {
        json!({ "comments": comments, "status": "success" })
    };
    Bytes::from(serde_json::to_vec(&body).unwrap())
}

/// Serves `body` for every request on a free loopback port; returns its base URL.
async fn serve(body: Bytes) -> String {
    let app = axum::Router::new().route(
        "/api/v1/comments",
        get(move || {
            let body = body.clone();
            async move { ([("content-type", "application/json")], body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// Requests per second of `call`, run back to back for [`PER_ROUND`].
async fn rate<F, Fut>(mut call: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let started = Instant::now();
    let mut n = 0u64;
    let mut checksum = 0;
    while started.elapsed() < PER_ROUND {
        checksum += call().await;
        n += 1;
    }
    assert!(checksum > 0);
    n as f64 / started.elapsed().as_secs_f64()
}

async fn run() {
    let first = page(true);
    let last = page(false);
    println!(
        "page: {} bytes, 100 comments; concurrency 1; {ROUNDS} rounds of {PER_ROUND:?} per variant",
        first.len()
    );
    let base_first = serve(first).await;
    let base_last = serve(last).await;
    let url = format!("{base_first}/api/v1/comments?tenantId=bench");
    let client = Client::builder()
        .base_url(&base_first)
        .api_key("bench-key")
        .tenant_id("bench")
        .build()
        .unwrap();
    let client_last = Client::builder()
        .base_url(&base_last)
        .api_key("bench-key")
        .tenant_id("bench")
        .build()
        .unwrap();

    // After the first fastcomments client: it installs the TLS provider reqwest needs.
    let http = reqwest::Client::new();
    let bytes = || async {
        let body = http.get(&url).send().await.unwrap().bytes().await.unwrap();
        body.len()
    };
    let value = || async {
        let body = http.get(&url).send().await.unwrap().bytes().await.unwrap();
        let value: Value = serde_json::from_slice(&body).unwrap();
        value["comments"].as_array().unwrap().len()
    };
    let json = || async {
        let page: ApiGetCommentsResponse =
            http.get(&url).send().await.unwrap().json().await.unwrap();
        page.comments.len()
    };
    async fn send(client: &Client) -> usize {
        client.get_comments().send().await.unwrap().comments.len()
    }

    let mut sums = [0.0; 5];
    for _ in 0..ROUNDS {
        sums[0] += rate(bytes).await;
        sums[1] += rate(value).await;
        sums[2] += rate(|| send(&client)).await;
        sums[3] += rate(json).await;
        sums[4] += rate(|| send(&client_last)).await;
    }
    let [a, b, c, d, c_last] = sums.map(|s| s / ROUNDS as f64);
    println!("(a) bytes only                 {a:>8.0} req/s  1.00x");
    println!(
        "(b) serde_json::Value          {b:>8.0} req/s  {:.2}x",
        b / a
    );
    println!(
        "(c) send() into the types      {c:>8.0} req/s  {:.2}x",
        c / a
    );
    println!(
        "(d) .json() into the same type {d:>8.0} req/s  {:.2}x",
        d / a
    );
    println!(
        "    send(), status last         {c_last:>8.0} req/s  {:.2}x",
        c_last / a
    );
}
