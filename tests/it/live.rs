//! Live events (`fastcomments::live`) against the mock's socket and event log, over
//! loopback: exactly once and in order across forced disconnects, gaps, hostile frames,
//! dead sockets, regional hosts, and the `urlIdWS` trap.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fastcomments::live::{
    BroadcastIds, LiveEvent, LiveEvents, LiveIds, LiveItem, ReconnectBackoff,
};
use fastcomments::mock::{Fault, FaultRule, MockServer};
use fastcomments::{Client, Region};
use futures::StreamExt;
use serde_json::{Value, json};

use crate::common::{API_KEY, TENANT, mock, save_comment};

/// A hang guard, never a pause: every await below normally completes at once.
const GUARD: Duration = Duration::from_secs(60);

/// Reconnects after at most 20 ms, so a test of 100 disconnects takes no time.
fn quick() -> ReconnectBackoff {
    ReconnectBackoff {
        first: Duration::from_millis(5),
        cap: Duration::from_millis(20),
        healthy_after: Duration::from_secs(60),
    }
}

async fn subscribe(client: &Client, url_id: &str) -> LiveEvents {
    client
        .live(url_id)
        .backoff(quick())
        .jitter_seed(7)
        .subscribe()
        .await
        .expect("subscribes")
}

/// The next item, within the guard.
async fn next(events: &mut LiveEvents) -> LiveItem {
    next_within(events, GUARD).await
}

async fn next_within(events: &mut LiveEvents, guard: Duration) -> LiveItem {
    tokio::time::timeout(guard, events.next())
        .await
        .expect("an item arrives")
        .expect("the stream goes on")
        .expect("no error")
}

/// The next event, skipping presence (outside the exactly-once guarantee).
async fn next_stored(events: &mut LiveEvents) -> LiveItem {
    loop {
        match next(events).await {
            LiveItem::Event(LiveEvent::Presence(_)) => continue,
            other => return other,
        }
    }
}

/// Waits until the mock has `n` sockets open for the tenant (the subscription is live).
async fn until_subscribed(server: &MockServer, n: usize) {
    tokio::time::timeout(GUARD, async {
        while server.live_subscribers(TENANT).len() != n {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("the socket opens");
}

/// The page's event log from the beginning, each entry's `data` as JSON.
async fn log(client: &Client, url_id: &str) -> Vec<Value> {
    let answer = client
        .get_event_log()
        .url_id(url_id)
        .user_id_ws("test")
        .start_time(0)
        .send()
        .await
        .expect("the log answers");
    answer
        .events
        .iter()
        .map(|e| serde_json::from_str(&e.data).expect("data is JSON"))
        .collect()
}

/// What identifies a stored event in these tests: type, timestamp, comment id, text.
fn summary(event: &LiveEvent) -> Value {
    let (id, text) = match event {
        LiveEvent::NewComment(e) | LiveEvent::UpdatedComment(e) | LiveEvent::DeletedComment(e) => {
            (Some(e.comment.id.clone()), e.comment.comment.clone())
        }
        LiveEvent::NewVote(e) | LiveEvent::DeletedVote(e) => {
            (Some(e.vote.comment_id.clone()), None)
        }
        _ => (None, None),
    };
    json!({"type": event.kind(), "timestamp": event.timestamp(), "id": id, "text": text})
}

/// The same summary of a log entry's data.
fn logged(data: &Value) -> Value {
    let id = data["comment"]["_id"]
        .as_str()
        .or(data["vote"]["commentId"].as_str());
    let text = data["vote"]
        .is_null()
        .then(|| data["comment"]["comment"].clone());
    json!({"type": data["type"], "timestamp": data["timestamp"], "id": id,
           "text": text.unwrap_or(Value::Null)})
}

fn stored(item: &LiveItem) -> Value {
    match item {
        LiveItem::Event(event) => summary(event),
        other => panic!("not an event: {other:?}"),
    }
}

async fn update(client: &Client, id: &str, text: &str) {
    client
        .update_comment()
        .id(id)
        .body_map(|b| b.comment(text.to_owned()))
        .send()
        .await
        .expect("updates");
}

#[tokio::test]
async fn a_hundred_disconnects_during_a_thousand_changes_lose_and_repeat_nothing() {
    let (server, client) = mock().await;
    let mut events = subscribe(&client, "storm").await;
    until_subscribed(&server, 1).await;
    // A consumer that keeps up, as a live view does: each stored event with the
    // stream's counters at that point.
    let (tx, mut received) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let item = next_stored(&mut events).await;
            if tx.send((stored(&item), events.stats())).is_err() {
                return;
            }
        }
    });
    let mut rng = fastrand::Rng::with_seed(19);
    let mut drops: Vec<usize> = (0..1000).collect();
    rng.shuffle(&mut drops);
    let drops: std::collections::HashSet<usize> = drops.into_iter().take(100).collect();
    let mut ids: Vec<String> = Vec::new();
    let mut disconnects = 0;
    for change in 0..1000 {
        match change % 8 {
            1 | 2 | 5 | 6 if !ids.is_empty() => {
                let id = ids[rng.usize(..ids.len())].clone();
                update(&client, &id, &format!("edit {change}")).await;
            }
            7 if !ids.is_empty() => {
                let id = ids.swap_remove(rng.usize(..ids.len()));
                client
                    .delete_comment()
                    .id(&id)
                    .send()
                    .await
                    .expect("deletes");
            }
            _ => {
                let text = format!("change {change}");
                let saved = save_comment(&client, &text, "storm").await.expect("saves");
                ids.push(saved.comment.id);
            }
        }
        if drops.contains(&change) {
            // A disconnect only counts when a socket was open to drop.
            until_subscribed(&server, 1).await;
            disconnects += server.drop_live_sockets(TENANT);
        }
    }
    let expected: Vec<Value> = log(&client, "storm").await.iter().map(logged).collect();
    let mut next = async || {
        tokio::time::timeout(GUARD, received.recv())
            .await
            .expect("an event arrives")
            .expect("the consumer goes on")
    };
    let mut delivered = Vec::new();
    while delivered.len() < expected.len() {
        delivered.push(next().await.0);
    }
    // Nothing more is pending: the next stored event is a new one.
    save_comment(&client, "marker", "storm")
        .await
        .expect("saves");
    let (after, stats) = next().await;
    let duplicates = delivered.len()
        - delivered
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len();
    let lost = expected.iter().filter(|e| !delivered.contains(e)).count();
    eprintln!(
        "live storm: {disconnects} disconnects, 1000 changes, {} events stored, {} delivered, \
         {duplicates} duplicates, {lost} lost; {} overlaps dropped, {} connections, {} log reads",
        expected.len(),
        delivered.len(),
        stats.duplicates,
        stats.connections,
        stats.log_reads
    );
    assert_eq!(disconnects, 100);
    assert_eq!(
        delivered, expected,
        "every stored event once, in the log's order"
    );
    assert_eq!(after["text"], "marker", "and nothing after them repeats");
    assert!(stats.connections >= 101);
}

#[tokio::test]
async fn writes_during_an_outage_arrive_through_the_catch_up() {
    let (server, client) = mock().await;
    let mut events = subscribe(&client, "outage").await;
    until_subscribed(&server, 1).await;
    server.inject(
        FaultRule::new(Fault::Status { status: 503 })
            .path("/sub")
            .always(),
    );
    assert_eq!(server.drop_live_sockets(TENANT), 1);
    let mut written = Vec::new();
    for n in 0..5 {
        let saved = save_comment(&client, &format!("while down {n}"), "outage")
            .await
            .unwrap();
        written.push(saved.comment.id);
    }
    // The stream keeps trying while it is polled; what the log gave it before the
    // socket was found closed may come meanwhile.
    let refused = || {
        server
            .requests()
            .iter()
            .filter(|r| r.path == "/sub")
            .count()
    };
    let mut delivered = Vec::new();
    while refused() < 3 {
        tokio::select! {
            item = next_stored(&mut events) => {
                if let LiveItem::Event(LiveEvent::NewComment(e)) = item {
                    delivered.push(e.comment.id);
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(1)) => {}
        }
    }
    server.clear_faults();
    while delivered.len() < written.len() {
        if let LiveItem::Event(LiveEvent::NewComment(e)) = next_stored(&mut events).await {
            delivered.push(e.comment.id);
        }
    }
    assert_eq!(delivered, written);
    assert!(events.stats().reconnects >= 2, "{:?}", events.stats());
}

#[tokio::test]
async fn two_updates_of_one_comment_in_one_millisecond_are_two_events_once_each() {
    let (server, client) = mock().await;
    let saved = save_comment(&client, "v0", "same-ms").await.unwrap();
    let id = saved.comment.id;
    let mut events = subscribe(&client, "same-ms").await;
    until_subscribed(&server, 1).await;
    server.set_event_time(Some(4_102_444_800_000));
    update(&client, &id, "v1").await;
    update(&client, &id, "v2").await;
    server.set_event_time(None);
    // The stream starts at the server's clock (a whole second) when it answered the id
    // request: the comment's creation, just before, may come first.
    let mut updates = Vec::new();
    while updates.len() < 2 {
        match next_stored(&mut events).await {
            LiveItem::Event(LiveEvent::UpdatedComment(e)) => {
                updates.push((e.timestamp, e.comment.comment))
            }
            LiveItem::Event(LiveEvent::NewComment(e)) if e.comment.id == id => {}
            other => panic!("{other:?}"),
        }
    }
    let texts = |item: LiveItem| match item {
        LiveItem::Event(LiveEvent::UpdatedComment(e)) => (e.timestamp, e.comment.comment),
        other => panic!("{other:?}"),
    };
    let second = updates.pop().unwrap();
    let first = updates.pop().unwrap();
    assert_eq!(first.0, second.0, "one millisecond");
    assert_eq!(
        (first.1.as_deref(), second.1.as_deref()),
        (Some("v1"), Some("v2"))
    );
    // A reconnect reads the log from that millisecond again: neither comes back.
    server.drop_live_sockets(TENANT);
    update(&client, &id, "v3").await;
    let third = texts(next_stored(&mut events).await);
    assert_eq!(third.1.as_deref(), Some("v3"));
    assert!(events.stats().duplicates >= 2, "{:?}", events.stats());
}

#[tokio::test]
async fn the_url_id_ws_goes_to_the_socket_as_the_server_gave_it() {
    let (server, client) = mock().await;
    let url_id = "https://example.com/a b?x=1&y=é";
    let mut events = subscribe(&client, url_id).await;
    until_subscribed(&server, 1).await;
    let rooms: Vec<String> = server
        .live_subscribers(TENANT)
        .into_iter()
        .map(|s| s.room)
        .collect();
    assert_eq!(rooms, vec![format!("{TENANT}:{url_id}")]);
    let saved = save_comment(&client, "hello", url_id).await.unwrap();
    match next_stored(&mut events).await {
        LiveItem::Event(LiveEvent::NewComment(e)) => assert_eq!(e.comment.id, saved.comment.id),
        other => panic!("{other:?}"),
    }
    drop(events);
    // Encoding the id again (the bug one SDK shipped) would join another room.
    let encoded_twice = "tenant-a%253Ahttps%253A%252F%252Fexample.com";
    let _other = client
        .live(url_id)
        .ids(LiveIds::new(TENANT, encoded_twice, "viewer"))
        .subscribe()
        .await
        .unwrap();
    tokio::time::timeout(GUARD, async {
        loop {
            let rooms: Vec<String> = server
                .live_subscribers(TENANT)
                .into_iter()
                .map(|s| s.room)
                .collect();
            if rooms == ["tenant-a%3Ahttps%3A%2F%2Fexample.com"] {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("the given id, decoded once by the server, names the room");
}

/// A TCP relay to `target` that counts the connections it carries: stands for one host.
async fn relay(target: std::net::SocketAddr) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (format!("http://{addr}"), count)
}

#[tokio::test]
async fn the_socket_and_the_catch_up_reach_the_hosts_of_the_clients_region() {
    use fastcomments::DataCenter;
    let hosts = [
        "fastcomments.com",
        "ws.fastcomments.com",
        "eu.fastcomments.com",
        "ws-eu.fastcomments.com",
        "eudc-limburg.fastcomments.com",
        "gdc-oregon.fastcomments.com",
    ];
    let cases = [
        (Region::Eu, 2, 3),
        (Region::DataCenter(DataCenter::Limburg), 4, 3),
        (Region::Global, 0, 1),
        (Region::DataCenter(DataCenter::Oregon), 5, 1),
    ];
    for (region, api, socket) in cases {
        let (server, writer) = mock().await;
        let mut builder = Client::builder()
            .api_key(API_KEY)
            .tenant_id(TENANT)
            .region(region.clone());
        let mut counts = Vec::new();
        for host in hosts {
            let (url, count) = relay(server.addr()).await;
            builder = builder.route_host(host, url);
            counts.push(count);
        }
        let client = builder.build().unwrap();
        let mut events = subscribe(&client, "regional").await;
        until_subscribed(&server, 1).await;
        save_comment(&writer, "hi", "regional").await.unwrap();
        let item = next_stored(&mut events).await;
        assert!(
            matches!(item, LiveItem::Event(LiveEvent::NewComment(_))),
            "{item:?}"
        );
        let used: Vec<usize> = counts.iter().map(|c| c.load(Ordering::SeqCst)).collect();
        assert!(
            used[api] >= 1,
            "{region:?}: ids and catch-up on {}: {used:?}",
            hosts[api]
        );
        assert_eq!(
            used[socket], 1,
            "{region:?}: the socket on {}: {used:?}",
            hosts[socket]
        );
        let elsewhere: usize = (0..hosts.len())
            .filter(|i| *i != api && *i != socket)
            .map(|i| used[i])
            .sum();
        assert_eq!(elsewhere, 0, "{region:?}: no other host: {used:?}");
        let log_reads = server
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/event-log/"))
            .count();
        assert!(log_reads >= 1, "the catch-up ran");
    }
}

#[tokio::test]
async fn unknown_and_malformed_frames_are_items_and_the_stream_goes_on() {
    let (server, client) = mock().await;
    let mut events = subscribe(&client, "hostile").await;
    until_subscribed(&server, 1).await;
    for frame in [
        "not json",
        r#"{"no":"type"}"#,
        r#"{"type":"page-react","reaction":"x"}"#,
        r#"{"type":"new-vote","vote":{"_id":3}}"#,
    ] {
        assert_eq!(server.send_live_frame(TENANT, "hostile", frame), 1);
    }
    let saved = save_comment(&client, "after", "hostile").await.unwrap();
    let mut items = Vec::new();
    for _ in 0..5 {
        items.push(next_stored(&mut events).await);
    }
    assert!(
        matches!(&items[0], LiveItem::Malformed { raw, reason } if raw == "not json" && reason.starts_with("not JSON"))
    );
    assert!(matches!(&items[1], LiveItem::Malformed { reason, .. } if reason == "no `type`"));
    assert!(
        matches!(&items[2], LiveItem::Event(LiveEvent::Unknown { kind, raw }) if kind == "page-react" && raw["reaction"] == "x")
    );
    assert!(
        matches!(&items[3], LiveItem::Malformed { reason, .. } if reason.starts_with("new-vote: vote._id"))
    );
    assert!(
        matches!(&items[4], LiveItem::Event(LiveEvent::NewComment(e)) if e.comment.id == saved.comment.id)
    );
}

#[tokio::test]
async fn a_gap_the_log_cannot_cover_is_reported() {
    let (server, client) = mock().await;
    server.set_event_log_capacity(3);
    let mut events = subscribe(&client, "gap").await;
    until_subscribed(&server, 1).await;
    // Each write in a millisecond of its own, so the log's edges are unambiguous.
    let far = chrono::Utc::now().timestamp_millis() + 1_000;
    server.set_event_time(Some(far));
    save_comment(&client, "seen", "gap").await.unwrap();
    let seen = match next_stored(&mut events).await {
        LiveItem::Event(e) => e.timestamp().unwrap(),
        other => panic!("{other:?}"),
    };
    server.inject(
        FaultRule::new(Fault::Status { status: 503 })
            .path("/sub")
            .always(),
    );
    server.drop_live_sockets(TENANT);
    let mut kept = Vec::new();
    for n in 0..10 {
        server.set_event_time(Some(far + 10 * (n + 1)));
        let saved = save_comment(&client, &format!("missed {n}"), "gap")
            .await
            .unwrap();
        kept.push(saved.comment.id);
    }
    let kept = kept.split_off(7);
    server.clear_faults();
    let LiveItem::Gap { from, to } = next_stored(&mut events).await else {
        panic!("a gap first")
    };
    assert_eq!(from, seen);
    let mut after = Vec::new();
    while after.len() < 3 {
        if let LiveItem::Event(LiveEvent::NewComment(e)) = next_stored(&mut events).await {
            after.push((e.timestamp.unwrap(), e.comment.id));
        }
    }
    assert_eq!(to, after[0].0, "the gap ends where the log starts again");
    assert_eq!(
        after.into_iter().map(|(_, id)| id).collect::<Vec<_>>(),
        kept
    );
}

#[tokio::test(start_paused = true)]
async fn a_dead_socket_is_found_by_missed_pongs_and_what_it_lost_is_caught_up() {
    let (server, client) = mock().await;
    let mut events = subscribe(&client, "dead").await;
    until_subscribed(&server, 1).await;
    // One event first: the stream is live and its first catch-up done.
    save_comment(&client, "while alive", "dead").await.unwrap();
    assert!(matches!(
        next(&mut events).await,
        LiveItem::Event(LiveEvent::NewComment(_))
    ));
    server.stall_live_sockets(TENANT, true);
    let started = tokio::time::Instant::now();
    let saved = save_comment(&client, "sent to a dead socket", "dead")
        .await
        .unwrap();
    // The guard runs on the paused clock too: well beyond the detection's 75 s.
    match next_within(&mut events, Duration::from_secs(600)).await {
        LiveItem::Event(LiveEvent::NewComment(e)) => assert_eq!(e.comment.id, saved.comment.id),
        other => panic!("{other:?}"),
    }
    let waited = started.elapsed();
    let stats = events.stats();
    assert_eq!((stats.dead_sockets, stats.connections), (1, 2), "{stats:?}");
    // Two pings of 25 s unanswered, then a reconnect within the first backoff.
    assert!(
        waited >= Duration::from_secs(50) && waited < Duration::from_secs(80),
        "{waited:?}"
    );
}

#[tokio::test]
async fn presence_is_delivered_and_dropping_the_stream_closes_its_socket() {
    let (server, client) = mock().await;
    let mut events = subscribe(&client, "presence").await;
    until_subscribed(&server, 1).await;
    let mut watcher = client.live("presence").subscribe().await.unwrap();
    let joined = loop {
        if let LiveItem::Event(LiveEvent::Presence(p)) = next(&mut events).await {
            break p;
        }
    };
    assert_eq!((joined.joined.len(), joined.subscriber_count), (1, Some(2)));
    drop(events);
    let left = loop {
        if let LiveItem::Event(LiveEvent::Presence(p)) = next(&mut watcher).await
            && !p.left.is_empty()
        {
            break p;
        }
    };
    assert_eq!(left.subscriber_count, Some(1));
    assert_eq!(server.live_subscribers(TENANT).len(), 1);
    assert!(
        log(&client, "presence").await.is_empty(),
        "presence is never logged"
    );
}

#[tokio::test]
async fn a_client_drops_the_echo_of_its_own_writes() {
    let (server, client) = mock().await;
    let own = BroadcastIds::default();
    let mut events = client
        .live("echo")
        .backoff(quick())
        .skip_own(own.clone())
        .subscribe()
        .await
        .unwrap();
    until_subscribed(&server, 1).await;
    let body = |text: &str| {
        fastcomments::types::CommentData::builder()
            .comment(text)
            .commenter_name("Ann")
            .url("https://e.com/echo")
            .url_id("echo")
    };
    for (text, broadcast_id) in [("mine", own.next()), ("theirs", "someone-else".to_owned())] {
        client
            .create_comment_public()
            .url_id("echo")
            .broadcast_id(broadcast_id)
            .body(body(text))
            .send()
            .await
            .unwrap();
    }
    match next_stored(&mut events).await {
        LiveItem::Event(LiveEvent::NewComment(e)) => {
            assert_eq!(e.comment.comment.as_deref(), Some("theirs"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(events.stats().own_echoes, 1);
}

#[tokio::test]
async fn a_subscription_refused_for_good_ends_the_stream_with_its_error() {
    let (server, client) = mock().await;
    let refuse = || {
        FaultRule::new(Fault::Status { status: 403 })
            .path("/sub")
            .always()
    };
    server.inject(refuse());
    let error = client.live("refused").subscribe().await.unwrap_err();
    assert_eq!(
        error.status(),
        Some(403),
        "refused at once: subscribe fails"
    );
    server.clear_faults();
    let mut events = subscribe(&client, "refused").await;
    server.inject(refuse());
    server.drop_live_sockets(TENANT);
    let error = tokio::time::timeout(GUARD, events.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(
        error.status(),
        Some(403),
        "refused on a reconnect: the stream's last item"
    );
    assert!(
        tokio::time::timeout(GUARD, events.next())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_frame_stamped_years_ahead_does_not_make_the_catch_up_skip_real_events() {
    // The kind of bug FastComments' Swift SDK documents: a timestamp that is not an
    // event log time (there, presence's `ts`) moving the catch-up's start past real
    // events.
    let (server, client) = mock().await;
    let mut events = subscribe(&client, "future").await;
    until_subscribed(&server, 1).await;
    let bogus = r#"{"type":"new-comment","timestamp":4102444800000,"comment":{"_id":"bogus"}}"#;
    server.send_live_frame(TENANT, "future", bogus);
    match next_stored(&mut events).await {
        LiveItem::Event(LiveEvent::NewComment(e)) => assert_eq!(e.comment.id, "bogus"),
        other => panic!("{other:?}"),
    }
    server.inject(
        FaultRule::new(Fault::Status { status: 503 })
            .path("/sub")
            .always(),
    );
    server.drop_live_sockets(TENANT);
    let mut written = Vec::new();
    for n in 0..3 {
        let saved = save_comment(&client, &format!("real {n}"), "future")
            .await
            .unwrap();
        written.push(saved.comment.id);
    }
    server.clear_faults();
    let mut delivered = Vec::new();
    while delivered.len() < written.len() {
        match next_stored(&mut events).await {
            LiveItem::Event(LiveEvent::NewComment(e)) => delivered.push(e.comment.id),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(delivered, written);
}

#[tokio::test]
async fn since_starts_from_a_past_moment_with_the_catch_up_first() {
    let (server, client) = mock().await;
    let mut earlier = Vec::new();
    for n in 0..3 {
        let saved = save_comment(&client, &format!("before {n}"), "since")
            .await
            .unwrap();
        earlier.push(saved.comment.id);
    }
    let log = log(&client, "since").await;
    let first = log[0]["timestamp"].as_i64().unwrap();
    let since = chrono::DateTime::from_timestamp_millis(first).unwrap();
    let mut events = client
        .live("since")
        .backoff(quick())
        .since(since)
        .subscribe()
        .await
        .unwrap();
    until_subscribed(&server, 1).await;
    let live = save_comment(&client, "after", "since")
        .await
        .unwrap()
        .comment
        .id;
    let mut delivered = Vec::new();
    while delivered.len() < 4 {
        if let LiveItem::Event(LiveEvent::NewComment(e)) = next_stored(&mut events).await {
            delivered.push(e.comment.id);
        }
    }
    earlier.push(live);
    assert_eq!(
        delivered, earlier,
        "the past first, then what happens live, each once"
    );
}

/// `since` a moment with exactly one event after it: that event, then what happens live,
/// and no gap (the log, read again from the event to see that no more share its
/// millisecond, answers it alone again: a break-it review saw a gap reported there).
#[tokio::test]
async fn since_with_one_event_reports_no_gap() {
    let (server, client) = mock().await;
    let before = save_comment(&client, "the one", "one").await.unwrap();
    let mut events = client
        .live("one")
        .backoff(quick())
        .since(chrono::DateTime::from_timestamp_millis(0).unwrap())
        .subscribe()
        .await
        .unwrap();
    until_subscribed(&server, 1).await;
    let LiveItem::Event(LiveEvent::NewComment(past)) = next_stored(&mut events).await else {
        panic!("the past event first");
    };
    assert_eq!(past.comment.id, before.comment.id);
    // Nothing more while nothing happens: the catch-up reads the log again and ends.
    // (A wait for an absence: a gap, when there was one, came within milliseconds.)
    let quiet = tokio::time::timeout(Duration::from_millis(500), next_stored(&mut events)).await;
    assert!(quiet.is_err(), "{quiet:?}");
    let after = save_comment(&client, "live", "one").await.unwrap();
    let LiveItem::Event(LiveEvent::NewComment(live)) = next_stored(&mut events).await else {
        panic!("the live event next");
    };
    assert_eq!(live.comment.id, after.comment.id);
}

#[tokio::test]
async fn a_log_outage_reports_a_gap_and_the_healthy_socket_goes_on() {
    let (server, client) = mock().await;
    server.inject(
        FaultRule::new(Fault::Status { status: 503 })
            .path("/event-log/tenant-a")
            .always(),
    );
    let mut events = client
        .live("log-down")
        .backoff(quick())
        .catch_up_retry(fastcomments::RetryPolicy::none())
        .subscribe()
        .await
        .unwrap();
    until_subscribed(&server, 1).await;
    let saved = save_comment(&client, "live while the log is down", "log-down")
        .await
        .unwrap();
    let mut items = Vec::new();
    loop {
        let item = next_stored(&mut events).await;
        let done = matches!(&item, LiveItem::Event(LiveEvent::NewComment(e)) if e.comment.id == saved.comment.id);
        items.push(item);
        if done {
            break;
        }
    }
    assert!(
        matches!(items[0], LiveItem::Gap { .. }),
        "the catch-up that could not run is a gap: {items:?}"
    );
    assert_eq!(events.stats().connections, 1, "and the socket was kept");
}

#[tokio::test]
async fn a_log_that_refuses_for_good_reports_a_gap_covering_the_outage() {
    let (server, client) = mock().await;
    let mut events = subscribe(&client, "refusing-log").await;
    until_subscribed(&server, 1).await;
    save_comment(&client, "seen", "refusing-log").await.unwrap();
    let LiveItem::Event(seen) = next_stored(&mut events).await else {
        panic!("an event first")
    };
    server.inject(
        FaultRule::new(Fault::Status { status: 503 })
            .path("/sub")
            .always(),
    );
    server.drop_live_sockets(TENANT);
    for n in 0..3 {
        save_comment(&client, &format!("lost {n}"), "refusing-log")
            .await
            .unwrap();
    }
    let stamps: Vec<i64> = log(&client, "refusing-log")
        .await
        .iter()
        .map(|e| e["timestamp"].as_i64().unwrap())
        .collect();
    server.clear_faults();
    server.inject(
        FaultRule::new(Fault::Status { status: 400 })
            .path("/event-log/tenant-a")
            .always(),
    );
    let LiveItem::Gap { from, to } = next_stored(&mut events).await else {
        panic!("a gap")
    };
    assert_eq!(from, seen.timestamp().unwrap());
    assert!(
        to >= stamps[2],
        "the gap covers the writes it could not read: {to} < {stamps:?}"
    );
}

#[tokio::test]
async fn a_proxy_error_or_a_redirect_on_a_reconnect_is_tried_again() {
    for status in [521u16, 502, 301] {
        let (server, client) = mock().await;
        let mut events = subscribe(&client, "flaky").await;
        until_subscribed(&server, 1).await;
        server.inject(
            FaultRule::new(Fault::Status { status })
                .path("/sub")
                .times(3),
        );
        server.drop_live_sockets(TENANT);
        let saved = save_comment(&client, "after", "flaky").await.unwrap();
        match next_stored(&mut events).await {
            LiveItem::Event(LiveEvent::NewComment(e)) => assert_eq!(e.comment.id, saved.comment.id),
            other => panic!("{status}: {other:?}"),
        }
    }
}
