//! Scratch: attacks on `live` through the embedded mock.

use std::time::Duration;

use fastcomments::Client;
use fastcomments::live::{LiveEvent, LiveEvents, LiveIds, LiveItem, ReconnectBackoff};
use fastcomments::mock::{Fault, FaultRule, MockServer};
use futures::StreamExt;

const TENANT: &str = "tenant-a";
const API_KEY: &str = "sk-test-7f3a9c1e";
const GUARD: Duration = Duration::from_secs(20);

async fn mock() -> (MockServer, Client) {
    let server = MockServer::start().await.unwrap();
    server.add_tenant(TENANT, API_KEY);
    let client = server.client(TENANT, API_KEY).unwrap();
    (server, client)
}

fn quick() -> ReconnectBackoff {
    ReconnectBackoff {
        first: Duration::from_millis(5),
        cap: Duration::from_millis(20),
        healthy_after: Duration::from_secs(60),
    }
}

async fn save(client: &Client, text: &str, url_id: &str) -> String {
    client
        .save_comment()
        .body_map(|b| {
            b.comment(text)
                .commenter_name("Ann")
                .url("https://e.com/x")
                .url_id(url_id)
                .locale("en_us")
        })
        .send()
        .await
        .unwrap()
        .comment
        .id
}

async fn update(client: &Client, id: &str, text: &str) {
    client
        .update_comment()
        .id(id)
        .body_map(|b| b.comment(text.to_owned()))
        .send()
        .await
        .unwrap();
}

async fn until_subscribed(server: &MockServer, n: usize) {
    tokio::time::timeout(GUARD, async {
        while server.live_subscribers(TENANT).len() != n {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("subscribed");
}

/// Next non-presence item, or None on timeout.
async fn next_stored(events: &mut LiveEvents, guard: Duration) -> Option<LiveItem> {
    loop {
        match tokio::time::timeout(guard, events.next()).await {
            Err(_) => return None,
            Ok(None) => panic!("stream ended"),
            Ok(Some(Err(e))) => panic!("err {e}"),
            Ok(Some(Ok(LiveItem::Event(LiveEvent::Presence(_))))) => continue,
            Ok(Some(Ok(item))) => return Some(item),
        }
    }
}

fn text_of(item: &LiveItem) -> String {
    match item {
        LiveItem::Event(LiveEvent::NewComment(e))
        | LiveItem::Event(LiveEvent::UpdatedComment(e)) => {
            format!("{}:{}", e.comment.id, e.comment.comment.clone().unwrap_or_default())
        }
        other => format!("{other:?}"),
    }
}

/// Three edits of one comment in one millisecond, the third reverting the second:
/// three stored events, all in the log. How many reach the stream?
#[tokio::test]
async fn edit_revert_in_one_millisecond() {
    let (server, client) = mock().await;
    let id = save(&client, "v0", "revert").await;
    let mut events = client
        .live("revert")
        .backoff(quick())
        .subscribe()
        .await
        .unwrap();
    until_subscribed(&server, 1).await;
    server.set_event_time(Some(4_102_444_800_000));
    update(&client, &id, "v1").await;
    update(&client, &id, "v2").await;
    update(&client, &id, "v1").await;
    server.set_event_time(None);
    let log = client
        .get_event_log()
        .url_id("revert")
        .user_id_ws("x")
        .start_time(4_102_444_800_000_i64)
        .send()
        .await
        .unwrap();
    eprintln!("log holds {} events at that ms", log.events.len());
    let mut got = Vec::new();
    while let Some(item) = next_stored(&mut events, Duration::from_secs(2)).await {
        got.push(text_of(&item));
    }
    eprintln!("delivered: {got:?}  stats {:?}", events.stats());
    let updates = got.iter().filter(|t| t.starts_with(&id)).count();
    assert_eq!(updates, 3 + usize::from(got.iter().any(|t| t.ends_with(":v0"))));
}

/// urlIds that are awkward in URLs.
#[tokio::test]
async fn awkward_url_ids() {
    let (server, client) = mock().await;
    for url_id in [
        "100%",
        "a%2Fb",
        "a%25b",
        "page#frag",
        "a&urlId=b",
        "a+b",
        "a b",
        "é/日本",
        "x=y;z",
        "",
    ] {
        let sub = client.live(url_id).backoff(quick()).subscribe().await;
        let mut events = match sub {
            Ok(e) => e,
            Err(e) => {
                eprintln!("{url_id:?}: subscribe error {e}");
                continue;
            }
        };
        until_subscribed(&server, 1).await;
        let room = server.live_subscribers(TENANT)[0].room.clone();
        let id = save(&client, "hi", url_id).await;
        let item = next_stored(&mut events, Duration::from_secs(3)).await;
        let ok = matches!(&item, Some(LiveItem::Event(LiveEvent::NewComment(e))) if e.comment.id == id);
        eprintln!("{url_id:?}: room {room:?} delivered={ok} {:?}", item.as_ref().map(text_of));
        // A reconnect: the catch-up must read this page's log.
        server.inject(FaultRule::new(Fault::Status { status: 503 }).path("/sub").always());
        server.drop_live_sockets(TENANT);
        let id2 = save(&client, "during outage", url_id).await;
        server.clear_faults();
        let item = next_stored(&mut events, Duration::from_secs(3)).await;
        let ok2 = matches!(&item, Some(LiveItem::Event(LiveEvent::NewComment(e))) if e.comment.id == id2);
        eprintln!("   catch-up delivered={ok2} {:?}", item.as_ref().map(text_of));
        drop(events);
        until_subscribed(&server, 0).await;
        assert!(ok && ok2, "{url_id:?}");
    }
}

/// The event log answers 503 (throttled, down) while the socket works.
#[tokio::test]
async fn log_down_socket_up() {
    let (server, client) = mock().await;
    server.inject(
        FaultRule::new(Fault::Status { status: 503 })
            .path("/event-log/tenant-a")
            .always(),
    );
    let mut events = client
        .live("logdown")
        .backoff(quick())
        .catch_up_retry(fastcomments::RetryPolicy::default().max_attempts(1))
        .subscribe()
        .await
        .unwrap();
    until_subscribed(&server, 1).await;
    let mut written = Vec::new();
    for n in 0..5 {
        written.push(save(&client, &format!("live {n}"), "logdown").await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut got = Vec::new();
    while let Some(item) = next_stored(&mut events, Duration::from_secs(3)).await {
        got.push(text_of(&item));
    }
    eprintln!("log down: delivered {got:?}; stats {:?}", events.stats());
    assert!(!got.is_empty(), "5 live writes, socket healthy, nothing delivered and no gap");
}

/// `since` older than what the log keeps: the start is gone.
#[tokio::test]
async fn since_beyond_the_log() {
    let (server, client) = mock().await;
    server.set_event_log_capacity(3);
    let start = chrono::Utc::now() - chrono::Duration::seconds(5);
    for n in 0..10 {
        save(&client, &format!("old {n}"), "expired").await;
    }
    let mut events = client
        .live("expired")
        .backoff(quick())
        .since(start)
        .subscribe()
        .await
        .unwrap();
    until_subscribed(&server, 1).await;
    let mut got = Vec::new();
    while let Some(item) = next_stored(&mut events, Duration::from_secs(2)).await {
        got.push(item);
    }
    let gaps = got.iter().filter(|i| matches!(i, LiveItem::Gap { .. })).count();
    eprintln!("since beyond log: {} items, {gaps} gaps", got.len());
    assert!(gaps >= 1, "7 of 10 events since `since` are gone from the log; no Gap");
}

#[tokio::test]
async fn no_tenant_id_and_debug() {
    let (server, _) = mock().await;
    let client = Client::builder()
        .api_key(API_KEY)
        .base_url(server.base_url())
        .build()
        .unwrap();
    let err = client.live("p").subscribe().await.unwrap_err();
    eprintln!("no tenant: {err}");
    let client = server.client(TENANT, API_KEY).unwrap();
    let builder = client
        .live("p")
        .sso("SSO-TOKEN-SECRET")
        .ids(LiveIds::new(TENANT, "tenant-a%3Ap", "USER-ID-WS-SECRET"));
    let dbg = format!("{builder:?}");
    eprintln!("{dbg}");
    assert!(!dbg.contains("SECRET") && !dbg.contains(API_KEY));
    let events = builder.subscribe().await.unwrap();
    let dbg = format!("{events:?}");
    assert!(!dbg.contains("SECRET"));
}

/// Dropping the stream while its catch-up is stalled closes the socket.
#[tokio::test]
async fn drop_during_stalled_catch_up() {
    let (server, client) = mock().await;
    server.inject(
        FaultRule::new(Fault::Stall { millis: 30_000 })
            .path("/event-log/tenant-a")
            .always(),
    );
    let events = client.live("d").backoff(quick()).subscribe().await.unwrap();
    until_subscribed(&server, 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(events);
    until_subscribed(&server, 0).await;
}

/// Duplicate / hostile frames through the mock.
#[tokio::test]
async fn hostile_frames_via_mock() {
    let (server, client) = mock().await;
    let mut events = client.live("h").backoff(quick()).subscribe().await.unwrap();
    until_subscribed(&server, 1).await;
    let now = chrono::Utc::now().timestamp_millis();
    let frame = |ts: &str, id: &str| {
        format!(r#"{{"type":"new-comment","timestamp":{ts},"comment":{{"_id":"{id}"}}}}"#)
    };
    let frames = vec![
        frame(&now.to_string(), "dup"),
        frame(&now.to_string(), "dup"),
        frame(&format!("{now}.5"), "float"),
        frame(&format!("\"{now}\""), "string"),
        frame("-5", "negative"),
        frame("-5", "negative"),
        frame(&i64::MAX.to_string(), "max"),
        frame("18446744073709551615", "u64max"),
        "[1,2]".to_string(),
        "\"str\"".to_string(),
        "null".to_string(),
        "pong".to_string(),
        "".to_string(),
        r#"{"type":"p-u","uj":"notarray"}"#.to_string(),
        r#"{"type":"new-comment","timestamp":1,"comment":null}"#.to_string(),
    ];
    for f in &frames {
        server.send_live_frame(TENANT, "h", f);
    }
    let mut got = Vec::new();
    while let Some(item) = next_stored(&mut events, Duration::from_secs(2)).await {
        got.push(item);
    }
    for g in &got {
        eprintln!("  {}", text_of(g).chars().take(160).collect::<String>());
    }
    // Real writes still flow, and a reconnect catches up.
    let id = save(&client, "after", "h").await;
    let item = next_stored(&mut events, Duration::from_secs(3)).await;
    assert!(matches!(&item, Some(LiveItem::Event(LiveEvent::NewComment(e))) if e.comment.id == id), "{item:?}");
    server.inject(FaultRule::new(Fault::Status { status: 503 }).path("/sub").always());
    server.drop_live_sockets(TENANT);
    let id2 = save(&client, "outage", "h").await;
    server.clear_faults();
    let mut after = Vec::new();
    while let Some(item) = next_stored(&mut events, Duration::from_secs(3)).await {
        after.push(text_of(&item));
    }
    eprintln!("after reconnect: {after:?}");
    assert!(after.iter().any(|t| t.starts_with(&id2)));
}
