//! Live events through [`LiveEvents`] against a raw WebSocket read loop, on the same mock.
//!
//! ```text
//! cargo bench --bench live
//! ```
//!
//! 1. **Throughput.** The mock's socket carries rounds of 8,000 comment events (the size
//!    of real ones, a new timestamp each) to one subscriber. Interleaved over rounds it
//!    measures events per second of (a) raw: `tokio-tungstenite` reading each frame and
//!    parsing it into `serde_json::Value`; (b) ours: `LiveEvents` (merge key, dedup
//!    window, typing into `LiveEvent`, the channel to the consumer). Prints (b) / (a).
//! 2. **Latency** from a write (`SaveComment` through the API) to the event leaving the
//!    stream, p50 and p99 over 300 writes, beside the raw loop's on the same writes.
//! 3. **Memory** for 1,000 concurrent subscriptions in one process: resident memory
//!    added by 1,000 `LiveEvents` streams, beside 1,000 raw sockets, each measured in a
//!    fresh child process (each figure includes the mock's side of the sockets, which is
//!    the same for both).

use std::time::{Duration, Instant};

use fastcomments::Client;
use fastcomments::live::{LiveEvent, LiveEvents, LiveItem};
use fastcomments::mock::MockServer;
use futures::StreamExt;
use serde_json::json;

const TENANT: &str = "bench";
const KEY: &str = "bench-key";
const BATCH: usize = 8_000;
const ROUNDS: usize = 5;
const WRITES: usize = 300;
const SUBSCRIPTIONS: usize = 1_000;

type Raw =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = MockServer::start().await.unwrap();
        server.add_tenant(TENANT, KEY);
        let client = server.client(TENANT, KEY).unwrap();
        // A child process measures one kind of subscription's memory from a fresh heap.
        if let Some(kind) = args
            .iter()
            .position(|a| a == "--memory")
            .and_then(|i| args.get(i + 1))
        {
            println!("{}", subscriptions(&server, &client, kind == "live").await);
            return;
        }
        throughput(&server, &client).await;
        latency(&server, &client).await;
        memory();
    });
}

/// A comment event stamped `i` ms after `base` (later than the subscription, as live
/// events are).
fn event(base: i64, i: usize) -> String {
    json!({
        "type": "new-comment", "broadcastId": format!("b{i}"), "timestamp": base + i as i64,
        "comment": {
            "_id": format!("c{i:08}"), "tenantId": TENANT, "urlId": "tp", "urlIdRaw": "https://blog.example.com/tp",
            "commenterName": "A commenter", "comment": "A comment of ordinary length, a sentence or two.",
            "commentHTML": "<p>A comment of ordinary length, a sentence or two.</p>", "parentId": null,
            "date": "2024-05-01T12:00:00.000Z", "votes": 3, "votesUp": 4, "votesDown": 1, "verified": true,
            "approved": true, "locale": "en_us", "isByAdmin": false, "isByModerator": false
        }
    })
    .to_string()
}

async fn raw_socket(server: &MockServer, client: &Client, url_id: &str) -> Raw {
    let page = client
        .get_comments_public()
        .url_id(url_id)
        .send()
        .await
        .unwrap();
    let url = format!(
        "ws://{}/sub?urlId={}&userIdWS={}&tenantIdWS={TENANT}",
        server.addr(),
        page.url_id_ws.unwrap().0,
        page.user_id_ws.unwrap().0
    );
    let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    socket
}

async fn until_subscribed(server: &MockServer, n: usize) {
    while server.live_subscribers(TENANT).len() < n {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn raw_next(socket: &mut Raw) -> serde_json::Value {
    loop {
        match socket.next().await.unwrap().unwrap() {
            tokio_tungstenite::tungstenite::Message::Text(text) => {
                return serde_json::from_str(text.as_str()).unwrap();
            }
            _ => continue,
        }
    }
}

async fn live_next(events: &mut LiveEvents) -> LiveEvent {
    loop {
        match events.next().await.unwrap().unwrap() {
            LiveItem::Event(LiveEvent::Presence(_)) => continue,
            LiveItem::Event(event) => return event,
            other => panic!("{other:?}"),
        }
    }
}

async fn throughput(server: &MockServer, client: &Client) {
    let base = chrono::Utc::now().timestamp_millis() + 60_000;
    let frames: Vec<String> = (0..BATCH * ROUNDS * 2).map(|i| event(base, i)).collect();
    let mut frames = frames.into_iter();
    let (mut raw_rates, mut live_rates) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let mut socket = raw_socket(server, client, "tp").await;
        until_subscribed(server, 1).await;
        let batch: Vec<String> = frames.by_ref().take(BATCH).collect();
        let started = Instant::now();
        for frame in &batch {
            server.send_live_frame(TENANT, "tp", frame);
        }
        for _ in 0..BATCH {
            std::hint::black_box(raw_next(&mut socket).await);
        }
        raw_rates.push(BATCH as f64 / started.elapsed().as_secs_f64());
        drop(socket);
        until_gone(server).await;

        let mut events = client.live("tp").subscribe().await.unwrap();
        until_subscribed(server, 1).await;
        let batch: Vec<String> = frames.by_ref().take(BATCH).collect();
        let started = Instant::now();
        for frame in &batch {
            server.send_live_frame(TENANT, "tp", frame);
        }
        for _ in 0..BATCH {
            std::hint::black_box(live_next(&mut events).await);
        }
        live_rates.push(BATCH as f64 / started.elapsed().as_secs_f64());
        drop(events);
        until_gone(server).await;
    }
    let (raw, live) = (median(&mut raw_rates), median(&mut live_rates));
    println!(
        "throughput: raw {raw:.0} events/s, LiveEvents {live:.0} events/s: {:.2}x of raw",
        live / raw
    );
}

async fn until_gone(server: &MockServer) {
    while !server.live_subscribers(TENANT).is_empty() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn latency(server: &MockServer, client: &Client) {
    let mut socket = raw_socket(server, client, "lat").await;
    let mut events = client.live("lat").subscribe().await.unwrap();
    until_subscribed(server, 2).await;
    // The raw socket sees the stream's own arrival as presence: read it out of the way.
    let _joined = raw_next(&mut socket).await;
    let (mut raw, mut ours) = (Vec::new(), Vec::new());
    for i in 0..WRITES {
        let started = Instant::now();
        client
            .save_comment()
            .body_map(|b| {
                b.comment(format!("write {i}"))
                    .commenter_name("Ann")
                    .url("https://e.com/lat")
                    .url_id("lat")
                    .locale("en_us")
            })
            .send()
            .await
            .unwrap();
        let (raw_at, ours_at) = tokio::join!(
            async {
                raw_next(&mut socket).await;
                started.elapsed()
            },
            async {
                live_next(&mut events).await;
                started.elapsed()
            }
        );
        raw.push(raw_at);
        ours.push(ours_at);
    }
    let (raw50, raw99) = percentiles(&mut raw);
    let (ours50, ours99) = percentiles(&mut ours);
    println!(
        "latency write -> event (includes the write's own round trip): raw p50 {raw50:?} p99 {raw99:?}; \
         LiveEvents p50 {ours50:?} p99 {ours99:?} ({:.2}x, {:.2}x of raw)",
        ours50.as_secs_f64() / raw50.as_secs_f64(),
        ours99.as_secs_f64() / raw99.as_secs_f64()
    );
}

/// Resident memory added by `SUBSCRIPTIONS` open subscriptions (one page each, so no
/// subscription sees another's presence), in KiB: `LiveEvents` streams or raw sockets.
async fn subscriptions(server: &MockServer, client: &Client, live: bool) -> u64 {
    let before = rss_kib();
    let mut raw = Vec::new();
    let mut streams = Vec::new();
    for i in 0..SUBSCRIPTIONS {
        if live {
            streams.push(client.live(format!("mem-{i}")).subscribe().await.unwrap());
        } else {
            raw.push(raw_socket(server, client, &format!("mem-{i}")).await);
        }
    }
    until_subscribed(server, SUBSCRIPTIONS).await;
    rss_kib().saturating_sub(before)
}

/// Each kind measured in a process of its own, so neither inherits the other's heap.
fn memory() {
    let me = std::env::current_exe().unwrap();
    let measure = |kind: &str| -> u64 {
        let out = std::process::Command::new(&me)
            .args(["--memory", kind])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0)
    };
    let (raw_kib, live_kib) = (measure("raw"), measure("live"));
    println!(
        "memory for {SUBSCRIPTIONS} subscriptions (client and mock sides, a fresh process each): \
         raw sockets {raw_kib} KiB ({:.1} KiB each), LiveEvents {live_kib} KiB ({:.1} KiB each): {:.2}x",
        raw_kib as f64 / SUBSCRIPTIONS as f64,
        live_kib as f64 / SUBSCRIPTIONS as f64,
        live_kib as f64 / raw_kib.max(1) as f64
    );
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn percentiles(values: &mut [Duration]) -> (Duration, Duration) {
    values.sort();
    let at = |p: f64| values[((values.len() as f64 * p) as usize).min(values.len() - 1)];
    (at(0.5), at(0.99))
}

/// Resident memory now, from `/proc/self/statm` (0 where it does not exist).
fn rss_kib() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0);
    pages * 4
}
