//! The mock's live-event WebSocket (`LIVE.md`), with tokio-tungstenite as the client over
//! loopback: what each page's subscribers get, in which order, what they never get, and
//! the faults a test scripts on the sockets. Waits are bounded by [`PATIENCE`] only as a
//! guard against a hang; nothing sleeps.

use std::time::Duration;

use fastcomments::mock::MockServer;
use fastcomments::mock::{Fault, FaultRule};
use fastcomments::types;
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::common::{API_KEY, TENANT, mock, moderator_sso, save_comment};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a frame may take before the test fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(20);

/// `urlIdWS` for a page id that needs no encoding: `tenantId:urlId`, `:` encoded.
fn url_id_ws(url_id: &str) -> String {
    format!("{TENANT}%3A{url_id}")
}

fn sub_url(server: &MockServer, url_id_ws: &str, user_id_ws: &str) -> String {
    format!(
        "ws://{}/sub?urlId={url_id_ws}&userIdWS={user_id_ws}&tenantIdWS={TENANT}",
        server.addr()
    )
}

/// A socket subscribed to the room `url_id_ws` names, as `user_id_ws`.
async fn subscribe(server: &MockServer, url_id_ws: &str, user_id_ws: &str) -> Socket {
    let url = sub_url(server, url_id_ws, user_id_ws);
    tokio_tungstenite::connect_async(url)
        .await
        .expect("the mock accepts the subscription")
        .0
}

async fn next_message(socket: &mut Socket) -> Option<Result<Message, tungstenite::Error>> {
    tokio::time::timeout(PATIENCE, socket.next())
        .await
        .expect("the socket moves within the test's patience")
}

async fn next_text(socket: &mut Socket) -> String {
    match next_message(socket).await {
        Some(Ok(Message::Text(text))) => text.to_string(),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

async fn next_json(socket: &mut Socket) -> Value {
    let text = next_text(socket).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The stream ends (its end, or an error such as a reset) with nothing before it, and
/// in particular no close frame.
async fn assert_cut(socket: &mut Socket) {
    match next_message(socket).await {
        None | Some(Err(_)) => {}
        Some(Ok(message)) => panic!("expected the stream to end, got {message:?}"),
    }
}

/// A marker sent to `url_id` after everything else: the first frame a socket of that page
/// gets once nothing else was meant for it.
fn mark(server: &MockServer, url_id: &str) -> usize {
    server.send_live_frame(TENANT, url_id, "marker")
}

fn comment_data(text: &str, url_id: &str) -> types::CommentData {
    types::CommentData::builder()
        .comment(text)
        .commenter_name("Ada")
        .commenter_email(Some("ada@private.example".to_string()))
        .url(format!("https://example.com/{url_id}"))
        .url_id(url_id)
        .try_into()
        .unwrap()
}

/// The `data` of every event of page `url_id` in the public event log, oldest first.
async fn logged(client: &fastcomments::Client, url_id: &str) -> Vec<String> {
    let log = client
        .get_event_log()
        .url_id(url_id)
        .user_id_ws("reader")
        .start_time(0)
        .end_time(i64::from(i32::MAX) * 1_000_000)
        .send()
        .await
        .unwrap();
    log.events.into_iter().map(|e| e.data).collect()
}

#[tokio::test]
async fn every_announced_write_reaches_the_sockets_of_its_page_as_the_event_log_shows_it() {
    let (server, client) = mock().await;
    let mut first = subscribe(&server, &url_id_ws("page-p"), "u1").await;
    let mut second = subscribe(&server, &url_id_ws("page-p"), "u2").await;
    assert_eq!(next_json(&mut first).await["type"], "p-u");
    let mut elsewhere = subscribe(&server, &url_id_ws("page-q"), "u3").await;

    client
        .create_comment_public()
        .url_id("page-p")
        .broadcast_id("b-public")
        .body(comment_data("public", "page-p"))
        .send()
        .await
        .unwrap();
    let id = save_comment(&client, "secured", "page-p")
        .await
        .unwrap()
        .comment
        .id;
    client
        .update_comment()
        .id(&id)
        .body_map(|b| b.comment(Some("edited".to_string())))
        .send()
        .await
        .unwrap();
    client
        .create_vote()
        .comment_id(&id)
        .direction(types::CreateVoteDirection::Up)
        .user_id("voter")
        .send()
        .await
        .unwrap();
    client
        .lock_comment()
        .comment_id(&id)
        .broadcast_id("b-lock")
        .sso(moderator_sso(API_KEY))
        .send()
        .await
        .unwrap();
    client.delete_comment().id(&id).send().await.unwrap();

    let log = logged(&client, "page-p").await;
    let kinds: Vec<Value> = log
        .iter()
        .map(|d| serde_json::from_str::<Value>(d).unwrap()["type"].clone())
        .collect();
    assert_eq!(
        kinds,
        [
            "new-comment",
            "new-comment",
            "updated-comment",
            "new-vote",
            "updated-comment",
            "deleted-comment"
        ]
    );
    for socket in [&mut first, &mut second] {
        let mut frames = Vec::new();
        for _ in 0..log.len() {
            frames.push(next_text(socket).await);
        }
        assert_eq!(frames, log, "each frame is its event log entry's data");
        assert!(!frames.iter().any(|f| f.contains("ada@private.example")));
    }
    assert_eq!(mark(&server, "page-q"), 1);
    assert_eq!(
        next_text(&mut elsewhere).await,
        "marker",
        "another page's socket got none of them"
    );
}

/// Handlers on several threads publish at once: the frames still follow the feed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_reach_every_socket_in_feed_order() {
    let (server, client) = mock().await;
    let mut socket = subscribe(&server, &url_id_ws("busy"), "u1").await;
    let writes = (0..64).map(|n| {
        let client = client.clone();
        async move {
            save_comment(&client, &format!("c{n}"), "busy")
                .await
                .unwrap()
        }
    });
    futures::future::join_all(writes).await;
    let log = logged(&client, "busy").await;
    assert_eq!(log.len(), 64);
    let mut frames = Vec::new();
    for _ in 0..log.len() {
        frames.push(next_text(&mut socket).await);
    }
    assert_eq!(frames, log);
}

#[tokio::test]
async fn the_url_id_ws_answered_is_the_room_and_encoding_it_again_joins_another() {
    let (server, client) = mock().await;
    let url_id = "https://example.com/a b?x=1&y=é";
    let public = client
        .get_comments_public()
        .url_id(url_id)
        .send()
        .await
        .unwrap();
    let url_id_ws = public
        .url_id_ws
        .expect("GetCommentsPublic answers urlIdWS")
        .0;
    assert!(
        !url_id_ws.contains([':', ' ', '/', '?', '&', 'é']),
        "{url_id_ws}"
    );
    let mut right = subscribe(&server, &url_id_ws, "u1").await;
    // encodeURIComponent of an encoded id changes only its `%`s.
    let twice = url_id_ws.replace('%', "%25");
    let mut wrong = subscribe(&server, &twice, "u2").await;

    let rooms: Vec<String> = server
        .live_subscribers(TENANT)
        .into_iter()
        .map(|s| s.room)
        .collect();
    assert_eq!(rooms, [format!("{TENANT}:{url_id}"), url_id_ws.clone()]);

    save_comment(&client, "hello", url_id).await.unwrap();
    let event = next_json(&mut right).await;
    assert_eq!(event["type"], "new-comment");
    assert_eq!(event["comment"]["urlId"], url_id);

    // A third socket joins the wrong room: its presence is the first frame there.
    let _third = subscribe(&server, &twice, "u3").await;
    let first = next_json(&mut wrong).await;
    assert_eq!(
        (&first["type"], &first["uj"]),
        (&Value::from("p-u"), &serde_json::json!(["u3"])),
        "the doubly encoded room got no event"
    );
}

#[tokio::test]
async fn presence_tells_who_joins_and_leaves_and_never_reaches_the_event_log() {
    let (server, client) = mock().await;
    let mut first = subscribe(&server, &url_id_ws("p"), "u1").await;
    let mut second = subscribe(&server, &url_id_ws("p"), "u2").await;
    let joined = next_json(&mut first).await;
    assert_eq!(joined["type"], "p-u");
    assert_eq!(joined["uj"], serde_json::json!(["u2"]));
    assert_eq!(joined["sc"], 2);
    assert!(
        joined["ts"]
            .as_i64()
            .is_some_and(|ts| ts > 1_600_000_000_000)
    );
    assert_eq!(mark(&server, "p"), 2);
    assert_eq!(
        next_text(&mut second).await,
        "marker",
        "no presence of one's own join"
    );
    assert_eq!(next_text(&mut first).await, "marker");

    second.close(None).await.unwrap();
    let left = next_json(&mut first).await;
    assert_eq!(left["ul"], serde_json::json!(["u2"]));
    assert_eq!(left["sc"], 1);

    save_comment(&client, "after", "p").await.unwrap();
    assert_eq!(next_json(&mut first).await["type"], "new-comment");
    let log = client
        .get_global_event_log()
        .url_id("p")
        .user_id_ws("u1")
        .start_time(0)
        .send()
        .await
        .unwrap();
    let kinds: Vec<Value> = log
        .events
        .iter()
        .map(|e| serde_json::from_str::<Value>(&e.data).unwrap()["type"].clone())
        .collect();
    assert_eq!(kinds, ["new-comment"]);
}

#[tokio::test]
async fn pings_are_answered_with_pongs_protocol_and_text() {
    let (server, _client) = mock().await;
    let mut socket = subscribe(&server, &url_id_ws("p"), "u1").await;
    socket
        .send(Message::Ping("are-you-there".into()))
        .await
        .unwrap();
    match next_message(&mut socket).await {
        Some(Ok(Message::Pong(payload))) => assert_eq!(&payload[..], b"are-you-there"),
        other => panic!("expected a Pong, got {other:?}"),
    }
    socket.send(Message::text("ping")).await.unwrap();
    assert_eq!(next_text(&mut socket).await, "pong");
}

#[tokio::test]
async fn dropped_sockets_end_without_a_close_frame_and_clients_can_reconnect() {
    let (server, _client) = mock().await;
    server.add_tenant("tenant-b", "key-b");
    let mut sockets = [
        subscribe(&server, &url_id_ws("p"), "u1").await,
        subscribe(&server, &url_id_ws("q"), "u2").await,
    ];
    let other_url = format!(
        "ws://{}/sub?urlId=tenant-b%3Ap&userIdWS=u3&tenantIdWS=tenant-b",
        server.addr()
    );
    let (mut other, _) = tokio_tungstenite::connect_async(&other_url).await.unwrap();

    assert_eq!(server.drop_live_sockets(TENANT), 2);
    for socket in &mut sockets {
        assert_cut(socket).await;
    }
    assert!(server.live_subscribers(TENANT).is_empty());
    assert_eq!(server.send_live_frame("tenant-b", "p", "still here"), 1);
    assert_eq!(next_text(&mut other).await, "still here");

    assert_eq!(server.live_connections(), 3);
    let mut again = subscribe(&server, &url_id_ws("p"), "u1").await;
    assert_eq!(server.live_connections(), 4);
    assert_eq!(mark(&server, "p"), 1);
    assert_eq!(next_text(&mut again).await, "marker");
}

#[tokio::test]
async fn a_stalled_socket_stays_open_and_sends_nothing_until_the_stall_ends() {
    let (server, client) = mock().await;
    let mut socket = subscribe(&server, &url_id_ws("p"), "u1").await;
    server.stall_live_sockets(TENANT, true);
    socket.send(Message::Ping("stalled".into())).await.unwrap();
    socket.send(Message::text("ping")).await.unwrap();
    save_comment(&client, "lost on the socket", "p")
        .await
        .unwrap();
    assert_eq!(mark(&server, "p"), 0, "a stalled socket gets nothing");
    assert_eq!(server.live_subscribers(TENANT).len(), 1, "but stays open");

    server.stall_live_sockets(TENANT, false);
    assert_eq!(mark(&server, "p"), 1);
    // After the stall: the marker, and the answers to the pings sent during it, in an
    // order the socket's reads decide; the event of the stall never.
    let (mut pong, mut text_pong, mut marker) = (false, false, false);
    while !(pong && text_pong && marker) {
        match next_message(&mut socket).await {
            Some(Ok(Message::Pong(payload))) if &payload[..] == b"stalled" => pong = true,
            Some(Ok(Message::Text(text))) if text.as_str() == "pong" => text_pong = true,
            Some(Ok(Message::Text(text))) if text.as_str() == "marker" => marker = true,
            other => panic!("unexpected after the stall: {other:?}"),
        }
    }
    assert_eq!(logged(&client, "p").await.len(), 1, "the change was made");
}

#[tokio::test]
async fn a_stalled_socket_answers_no_ping_before_it_is_dropped() {
    let (server, client) = mock().await;
    let mut socket = subscribe(&server, &url_id_ws("p"), "u1").await;
    socket.send(Message::Ping("before".into())).await.unwrap();
    assert!(matches!(
        next_message(&mut socket).await,
        Some(Ok(Message::Pong(_)))
    ));
    server.stall_live_sockets(TENANT, true);
    socket.send(Message::Ping("during".into())).await.unwrap();
    socket.send(Message::text("ping")).await.unwrap();
    save_comment(&client, "discarded", "p").await.unwrap();
    assert_eq!(server.drop_live_sockets(TENANT), 1);
    assert_cut(&mut socket).await;
}

#[tokio::test]
async fn a_raw_frame_reaches_the_page_as_sent_and_the_socket_goes_on() {
    let (server, client) = mock().await;
    let mut socket = subscribe(&server, &url_id_ws("p"), "u1").await;
    let _elsewhere = subscribe(&server, &url_id_ws("q"), "u2").await;
    for frame in ["{not json", r#"{"type":"brand-new-type","x":1}"#, ""] {
        assert_eq!(server.send_live_frame(TENANT, "p", frame), 1);
        assert_eq!(next_text(&mut socket).await, frame);
    }
    assert_eq!(server.send_live_frame(TENANT, "nobody", "x"), 0);
    save_comment(&client, "after the garbage", "p")
        .await
        .unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "new-comment");
}

#[tokio::test]
async fn a_scripted_fault_refuses_the_upgrade() {
    let (server, _client) = mock().await;
    server.inject(FaultRule::new(Fault::Status { status: 503 }).path("/sub"));
    let url = sub_url(&server, &url_id_ws("p"), "u1");
    match tokio_tungstenite::connect_async(&url).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 503),
        other => panic!("expected HTTP 503, got {other:?}"),
    }
    assert_eq!(server.live_connections(), 0);
    assert!(server.live_subscribers(TENANT).is_empty());
    let _socket = tokio_tungstenite::connect_async(&url).await.unwrap();
    assert_eq!(server.live_connections(), 1);
}

#[tokio::test]
async fn a_subscription_missing_its_ids_or_for_an_unknown_tenant_is_refused() {
    let (server, _client) = mock().await;
    let base = format!("ws://{}/sub", server.addr());
    for (query, code) in [
        (format!("userIdWS=u&tenantIdWS={TENANT}"), 400),
        ("urlId=tenant-a%3Ap&userIdWS=u".to_string(), 400),
        (
            "urlId=nobody%3Ap&userIdWS=u&tenantIdWS=nobody".to_string(),
            400,
        ),
    ] {
        match tokio_tungstenite::connect_async(format!("{base}?{query}")).await {
            Err(tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), code, "{query}");
                let body: Value = serde_json::from_slice(response.body().as_deref().unwrap())
                    .expect("a FastComments error body");
                assert_eq!(body["status"], "failed");
            }
            other => panic!("{query}: expected a refusal, got {other:?}"),
        }
    }
    let plain = reqwest::get(format!(
        "{}/sub?urlId=tenant-a%3Ap&tenantIdWS={TENANT}",
        server.base_url()
    ))
    .await
    .unwrap();
    assert!(plain.status().is_client_error(), "{}", plain.status());
    let body: Value = plain.json().await.unwrap();
    assert_eq!(body["code"], "not-a-websocket");
    assert_eq!(server.live_connections(), 0);
}

#[tokio::test]
async fn a_pinned_clock_stamps_two_updates_alike_and_keeps_their_order() {
    let (server, client) = mock().await;
    let mut socket = subscribe(&server, &url_id_ws("p"), "u1").await;
    let id = save_comment(&client, "original", "p")
        .await
        .unwrap()
        .comment
        .id;
    let pinned = chrono::Utc::now().timestamp_millis();
    server.set_event_time(Some(pinned));
    for text in ["first edit", "second edit"] {
        client
            .update_comment()
            .id(&id)
            .body_map(|b| b.comment(Some(text.to_string())))
            .send()
            .await
            .unwrap();
    }
    let mut frames = Vec::new();
    for _ in 0..3 {
        frames.push(next_text(&mut socket).await);
    }
    assert_eq!(frames, logged(&client, "p").await);
    let events: Vec<Value> = frames
        .iter()
        .map(|f| serde_json::from_str(f).unwrap())
        .collect();
    assert_eq!(
        (&events[1]["timestamp"], &events[2]["timestamp"]),
        (&Value::from(pinned), &Value::from(pinned))
    );
    assert_eq!(
        (
            &events[1]["comment"]["comment"],
            &events[2]["comment"]["comment"]
        ),
        (&Value::from("first edit"), &Value::from("second edit"))
    );

    server.set_event_time(None);
    client
        .update_comment()
        .id(&id)
        .body_map(|b| b.comment(Some("third edit".to_string())))
        .send()
        .await
        .unwrap();
    let third = next_json(&mut socket).await;
    assert!(third["timestamp"].as_i64().unwrap() >= pinned);
}

#[tokio::test]
async fn a_smaller_event_log_forgets_the_oldest_events() {
    let (server, client) = mock().await;
    for n in 0..5 {
        save_comment(&client, &format!("c{n}"), "p").await.unwrap();
    }
    server.set_event_log_capacity(3);
    let texts = |log: Vec<String>| -> Vec<Value> {
        log.iter()
            .map(|d| serde_json::from_str::<Value>(d).unwrap()["comment"]["comment"].clone())
            .collect()
    };
    assert_eq!(texts(logged(&client, "p").await), ["c2", "c3", "c4"]);
    save_comment(&client, "c5", "p").await.unwrap();
    assert_eq!(texts(logged(&client, "p").await), ["c3", "c4", "c5"]);
}

#[tokio::test]
async fn a_client_that_stops_reading_is_shed() {
    let (server, _client) = mock().await;
    let mut socket = subscribe(&server, &url_id_ws("p"), "u1").await;
    let frame = "x".repeat(2048);
    // The socket's queue (10,000 frames) and the loopback buffers fill; then it is shed.
    let sent = (0..1_000_000)
        .take_while(|_| server.send_live_frame(TENANT, "p", &frame) == 1)
        .count();
    assert!(sent >= 10_000, "shed after {sent} frames");
    assert!(server.live_subscribers(TENANT).is_empty());
    let mut received = 0;
    loop {
        match next_message(&mut socket).await {
            Some(Ok(Message::Text(text))) if text.len() == frame.len() => received += 1,
            None | Some(Err(_)) => break,
            Some(Ok(other)) => panic!("unexpected {other:?}"),
        }
    }
    assert!(received < sent, "{received} of {sent} frames arrived");
}

#[tokio::test]
async fn dropping_the_server_closes_its_sockets() {
    let (server, _client) = mock().await;
    let mut socket = subscribe(&server, &url_id_ws("p"), "u1").await;
    drop(server);
    assert_cut(&mut socket).await;
}

#[tokio::test]
async fn a_standalone_mock_takes_the_live_faults_over_http() {
    let (server, client) = mock().await;
    let mut socket = subscribe(&server, &url_id_ws("p"), "u1").await;
    let http = reqwest::Client::new();
    let admin = |path: &str| format!("{}/__mock/{path}", server.base_url());
    let get = |path: String| {
        let http = http.clone();
        async move {
            let answer = http.get(path).send().await.unwrap();
            answer.json::<Value>().await.unwrap()
        }
    };
    let post = |path: String, body: Value| {
        let http = http.clone();
        async move {
            let answer = http.post(path).json(&body).send().await.unwrap();
            assert!(answer.status().is_success(), "{}", answer.status());
            answer.text().await.unwrap()
        }
    };
    assert_eq!(get(admin("live")).await["connections"], 1);
    let listed = get(admin(&format!("live/{TENANT}/subscribers"))).await;
    assert_eq!(
        listed["subscribers"],
        serde_json::json!([{"room": format!("{TENANT}:p"), "userIdWS": "u1"}])
    );
    let sent = post(
        admin(&format!("live/{TENANT}/frame")),
        serde_json::json!({"urlId": "p", "frame": "over http"}),
    )
    .await;
    assert_eq!(serde_json::from_str::<Value>(&sent).unwrap()["sent"], 1);
    assert_eq!(next_text(&mut socket).await, "over http");

    post(
        admin(&format!("live/{TENANT}/stall")),
        serde_json::json!({"stalled": true}),
    )
    .await;
    assert_eq!(mark(&server, "p"), 0);
    post(
        admin(&format!("live/{TENANT}/stall")),
        serde_json::json!({"stalled": false}),
    )
    .await;

    post(
        admin("event-time"),
        serde_json::json!({"atMs": 1_767_225_600_000_i64}),
    )
    .await;
    post(
        admin("event-log-capacity"),
        serde_json::json!({"entries": 1}),
    )
    .await;
    for text in ["one", "two"] {
        save_comment(&client, text, "p").await.unwrap();
    }
    let log = logged(&client, "p").await;
    assert_eq!(log.len(), 1);
    let event: Value = serde_json::from_str(&log[0]).unwrap();
    assert_eq!(event["timestamp"], 1_767_225_600_000_i64);
    assert_eq!(event["comment"]["comment"], "two");
    post(admin("event-time"), serde_json::json!({"atMs": null})).await;

    let dropped = post(admin(&format!("live/{TENANT}/drop")), Value::Null).await;
    assert_eq!(
        serde_json::from_str::<Value>(&dropped).unwrap()["dropped"],
        1
    );
}
