//! Live events against hostile servers on loopback: an API and a socket server the test
//! scripts, standing where FastComments would (found by the break-it review).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::Query;
use axum::routing::get;
use fastcomments::Client;
use fastcomments::live::{LiveEvent, LiveEvents, LiveItem, ReconnectBackoff};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

use crate::common::serve;

const GUARD: Duration = Duration::from_secs(60);

/// What a socket connection does once upgraded.
#[derive(Clone, Copy)]
enum Script {
    /// Closes at once.
    Close,
    /// Sends a text frame that is not UTF-8, then stays open.
    InvalidUtf8,
}

/// The log's entries, as `GetEventLog` answers them (`data` as given).
type Log = Arc<Mutex<Vec<(i64, Value)>>>;

/// The API: `GetCommentsPublic` answers the ids, `GetEventLog` the log from `startTime`.
async fn api(log: Log) -> String {
    let router = axum::Router::new()
        .route(
            "/comments/{tenant}",
            get(|| async {
                Json(json!({"status": "success", "comments": [], "pageNumber": 0, "user": null,
                            "tenantIdWS": "t", "urlIdWS": "t%3Apage", "userIdWS": "viewer"}))
            }),
        )
        .route(
            "/event-log/{tenant}",
            get(move |Query(q): Query<std::collections::HashMap<String, String>>| {
                let log = log.clone();
                async move {
                    let start: i64 = q.get("startTime").and_then(|s| s.parse().ok()).unwrap_or(0);
                    let events: Vec<Value> = log
                        .lock()
                        .unwrap()
                        .iter()
                        .filter(|(t, _)| *t >= start)
                        .map(|(t, data)| json!({"_id": t.to_string(), "createdAt": "2026-01-01T00:00:00Z",
                                                "tenantId": "t", "urlId": "page", "broadcastId": "b", "data": data}))
                        .collect();
                    Json(json!({"status": "success", "events": events}))
                }
            }),
        );
    serve(router).await
}

/// A socket server running `script` on every connection; counts connections.
async fn sockets(script: Script) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                match script {
                    Script::Close => drop(ws),
                    Script::InvalidUtf8 => {
                        let frame =
                            Frame::message(vec![0xff, 0xfe], OpCode::Data(Data::Text), true);
                        let _ = ws.send(Message::Frame(frame)).await;
                        while ws.next().await.is_some() {}
                    }
                }
            });
        }
    });
    (url, count)
}

async fn subscribe(api: &str, socket: &str) -> LiveEvents {
    let client = Client::builder()
        .base_url(api)
        .tenant_id("t")
        .build()
        .unwrap();
    client
        .live("page")
        .socket_url(socket)
        .backoff(ReconnectBackoff {
            first: Duration::from_millis(2),
            cap: Duration::from_millis(5),
            healthy_after: Duration::from_secs(60),
        })
        .jitter_seed(3)
        .subscribe()
        .await
        .unwrap()
}

fn comment(ts: i64, id: &str) -> Value {
    json!({"type": "new-comment", "timestamp": ts, "comment": {"_id": id}})
        .to_string()
        .into()
}

async fn next(events: &mut LiveEvents) -> LiveItem {
    tokio::time::timeout(GUARD, events.next())
        .await
        .expect("an item arrives")
        .expect("the stream goes on")
        .expect("no error")
}

#[tokio::test]
async fn a_socket_that_closes_at_once_still_lets_the_log_through() {
    let log = Log::default();
    let now = chrono::Utc::now().timestamp_millis();
    log.lock()
        .unwrap()
        .push((now + 5_000, comment(now + 5_000, "in-log")));
    let (api, (socket, _)) = (api(log).await, sockets(Script::Close).await);
    let mut events = subscribe(&api, &socket).await;
    match next(&mut events).await {
        LiveItem::Event(LiveEvent::NewComment(e)) => assert_eq!(e.comment.id, "in-log"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_malformed_log_entry_is_reported_once_across_reconnects() {
    let log = Log::default();
    let now = chrono::Utc::now().timestamp_millis();
    log.lock()
        .unwrap()
        .push((now + 5_000, Value::from("not json")));
    let (api, (socket, connections)) = (api(log.clone()).await, sockets(Script::Close).await);
    let mut events = subscribe(&api, &socket).await;
    match next(&mut events).await {
        LiveItem::Malformed { raw, .. } => assert_eq!(raw, "not json"),
        other => panic!("{other:?}"),
    }
    // Reconnect a few times more (each reads the log again), then a real event: it is
    // the next item, not the malformed entry again.
    let seen = connections.load(Ordering::SeqCst);
    let item = {
        let next = next(&mut events);
        tokio::pin!(next);
        loop {
            tokio::select! {
                item = &mut next => break item,
                _ = tokio::time::sleep(Duration::from_millis(1)) => {
                    if connections.load(Ordering::SeqCst) >= seen + 3 && log.lock().unwrap().len() == 1 {
                        log.lock().unwrap().push((now + 6_000, comment(now + 6_000, "real")));
                    }
                }
            }
        }
    };
    assert!(
        matches!(&item, LiveItem::Event(LiveEvent::NewComment(e)) if e.comment.id == "real"),
        "{item:?}"
    );
}

#[tokio::test]
async fn a_text_frame_that_is_not_utf8_is_an_item() {
    let (api, (socket, _)) = (
        api(Log::default()).await,
        sockets(Script::InvalidUtf8).await,
    );
    let mut events = subscribe(&api, &socket).await;
    match next(&mut events).await {
        LiveItem::Malformed { reason, .. } => assert!(reason.contains("UTF-8"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_absurd_ping_interval_does_not_panic() {
    let (server, client) = crate::common::mock().await;
    let mut events = client
        .live("ping")
        .ping_interval(Duration::MAX)
        .subscribe()
        .await
        .unwrap();
    let saved = crate::common::save_comment(&client, "hi", "ping")
        .await
        .unwrap();
    loop {
        if let LiveItem::Event(LiveEvent::NewComment(e)) = next(&mut events).await {
            assert_eq!(e.comment.id, saved.comment.id);
            break;
        }
    }
    drop(server);
}
