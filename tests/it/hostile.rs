//! Servers that misbehave on purpose: endless and huge bodies, redirects to other hosts,
//! and list endpoints that never make progress. Each must end in a clear error, within
//! bounded memory and a bounded number of requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fastcomments::mock::MockServer;
use fastcomments::{Client, Error, RetryPolicy};
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;

use crate::common::{API_KEY, TENANT, raw_json, serve};

const MIB: u64 = 1024 * 1024;

/// A body of `chunk`s repeated up to `total` bytes (or forever), counting what the
/// server managed to hand to the connection.
fn counted_body(chunk: &'static [u8], total: Option<u64>, sent: Arc<AtomicU64>) -> Body {
    let stream = futures::stream::repeat(Bytes::from_static(chunk))
        .take_while(move |_| {
            let so_far = sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            futures::future::ready(total.is_none_or(|t| so_far < t))
        })
        .map(Ok::<_, std::io::Error>);
    Body::from_stream(stream)
}

fn client(base: String) -> Client {
    Client::builder()
        .base_url(base)
        .api_key(API_KEY)
        .tenant_id(TENANT)
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_endless_body_fails_at_the_limit_without_reading_on() {
    static CHUNK: [u8; 64 * 1024] = [b' '; 64 * 1024];
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let base = serve(axum::Router::new().route(
        "/api/v1/pages",
        get(move || {
            let body = counted_body(&CHUNK, None, counter.clone());
            async move { (StatusCode::OK, body) }
        }),
    ))
    .await;
    let limited = Client::builder()
        .base_url(base)
        .tenant_id(TENANT)
        .max_body_size(MIB as usize)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let error = limited.get_pages().send().await.unwrap_err();
    assert!(
        matches!(error, Error::BodyTooLarge { limit } if limit == MIB as usize),
        "{error:?}"
    );
    // What the server got rid of: the client's megabyte and what the kernel's socket
    // buffers held when the client hung up, not an endless stream.
    let sent = sent.load(Ordering::Relaxed);
    assert!(sent < 32 * MIB, "{sent} bytes sent");
}

#[tokio::test]
async fn a_body_announced_beyond_the_limit_is_refused_before_reading() {
    // A raw server: announces 100 GiB, sends two bytes, and waits.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = [0; 4096];
        let _ = socket.read(&mut request).await;
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{{}}",
            100 * 1024 * MIB
        );
        socket.write_all(head.as_bytes()).await.unwrap();
        std::future::pending::<()>().await;
    });
    let error = client(base).get_pages().send().await.unwrap_err();
    assert!(
        matches!(error, Error::BodyTooLarge { limit } if limit == fastcomments::client::DEFAULT_MAX_BODY_SIZE),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_500_mb_error_page_costs_a_small_excerpt() {
    static CHUNK: [u8; 64 * 1024] = [b'x'; 64 * 1024];
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let base = serve(axum::Router::new().route(
        "/api/v1/pages",
        get(move || {
            let page = futures::stream::once(async { Ok(Bytes::from_static(b"<html>")) })
                .chain(counted_body(&CHUNK, Some(500 * MIB), counter.clone()).into_data_stream());
            async move { (StatusCode::BAD_GATEWAY, Body::from_stream(page)) }
        }),
    ))
    .await;
    match client(base).get_pages().send().await.unwrap_err() {
        Error::Http {
            status, excerpt, ..
        } => {
            assert_eq!(status, 502);
            assert!(excerpt.starts_with("<html>xxx"), "{excerpt}");
            assert!(excerpt.chars().count() <= 201);
        }
        other => panic!("expected Error::Http, got {other:?}"),
    }
    let sent = sent.load(Ordering::Relaxed);
    assert!(sent < 32 * MIB, "{sent} bytes of a 500 MB page sent");
}

/// A server that records the headers of every request it gets.
async fn recording() -> (String, Arc<std::sync::Mutex<Vec<HeaderMap>>>) {
    let seen: Arc<std::sync::Mutex<Vec<HeaderMap>>> = Arc::default();
    let log = seen.clone();
    let base = serve(axum::Router::new().fallback(move |request: Request| {
        log.lock().unwrap().push(request.headers().clone());
        async { StatusCode::OK }
    }))
    .await;
    (base, seen)
}

#[tokio::test]
async fn a_redirect_to_another_host_gets_neither_the_key_nor_a_referer() {
    let (elsewhere, reached) = recording().await;
    // Same machine, another host name: what a browser or reqwest treats as another site.
    let target = elsewhere.replace("127.0.0.1", "localhost");
    let (origin, origin_seen) =
        {
            let seen: Arc<std::sync::Mutex<Vec<HeaderMap>>> = Arc::default();
            let log = seen.clone();
            let base =
                serve(axum::Router::new().fallback(move |request: Request| {
                    log.lock().unwrap().push(request.headers().clone());
                    let location = format!("{target}{}", request.uri());
                    async move {
                        (StatusCode::TEMPORARY_REDIRECT, [("location", location)]).into_response()
                    }
                }))
                .await;
            (base, seen)
        };
    let error = client(origin).get_pages().send().await.unwrap_err();
    assert_eq!(error.status(), Some(307), "{error}");
    assert!(
        reached.lock().unwrap().is_empty(),
        "the other host was contacted"
    );
    let origin_seen = origin_seen.lock().unwrap();
    assert_eq!(origin_seen.len(), 1);
    assert!(
        origin_seen[0].get("x-api-key").is_some(),
        "the API host got the key"
    );
    assert!(origin_seen[0].get("referer").is_none());
}

/// A server answering the bodies of `pages` in turn (cycling), counting requests.
async fn replaying(path: &'static str, pages: Vec<Value>) -> (String, Arc<AtomicU64>) {
    let count = Arc::new(AtomicU64::new(0));
    let counter = count.clone();
    let pages = Arc::new(pages);
    let base = serve(axum::Router::new().route(
        path,
        get(move || {
            let n = counter.fetch_add(1, Ordering::Relaxed) as usize;
            let body = pages[n % pages.len()].to_string();
            async move { Response::new(Body::from(body)) }
        }),
    ))
    .await;
    (base, count)
}

async fn ended_with_no_progress<T>(results: Vec<Result<T, Error>>, requests: &AtomicU64) -> usize {
    let last = results.last().expect("the stream yielded something");
    assert!(
        matches!(last, Err(Error::NoProgress { .. })),
        "the stream must end with NoProgress"
    );
    assert!(results[..results.len() - 1].iter().all(Result::is_ok));
    let requests = requests.load(Ordering::Relaxed);
    assert!(requests <= 4, "{requests} requests");
    results.len() - 1
}

#[tokio::test]
async fn a_server_ignoring_skip_ends_the_stream_with_an_error() {
    let mock = MockServer::start().await.unwrap();
    mock.add_tenant(TENANT, API_KEY);
    mock.seed_comments(TENANT, "post", 10);
    let page = raw_json(
        &mock,
        &format!("/api/v1/comments?tenantId={TENANT}&limit=10"),
    )
    .await;
    let (base, requests) = replaying("/api/v1/comments", vec![page]).await;
    let results: Vec<_> = client(base)
        .get_comments()
        .stream()
        .page_size(10)
        .collect()
        .await;
    assert_eq!(ended_with_no_progress(results, &requests).await, 10);
}

#[tokio::test]
async fn a_server_cycling_two_pages_ends_the_stream_with_an_error() {
    let mock = MockServer::start().await.unwrap();
    mock.add_tenant(TENANT, API_KEY);
    mock.seed_comments(TENANT, "post", 20);
    let first = raw_json(
        &mock,
        &format!("/api/v1/comments?tenantId={TENANT}&limit=10"),
    )
    .await;
    let second = raw_json(
        &mock,
        &format!("/api/v1/comments?tenantId={TENANT}&limit=10&skip=10"),
    )
    .await;
    let (base, requests) = replaying("/api/v1/comments", vec![first, second]).await;
    let results: Vec<_> = client(base)
        .get_comments()
        .stream()
        .page_size(10)
        .depth(0)
        .collect()
        .await;
    assert_eq!(ended_with_no_progress(results, &requests).await, 20);
}

#[tokio::test]
async fn a_server_repeating_a_cursor_ends_the_stream_with_an_error() {
    let mock = MockServer::start().await.unwrap();
    mock.add_tenant(TENANT, API_KEY);
    mock.seed_list(TENANT, "GetPagesPublic", 20);
    let path = format!("/pages/{TENANT}?limit=5");
    let first = raw_json(&mock, &path).await;
    let mut second = raw_json(&mock, &format!("{path}&cursor=5")).await;
    // New items each time, but the cursor of the first page again.
    second["nextCursor"] = first["nextCursor"].clone();
    let (base, requests) = replaying("/pages/{tenantId}", vec![first, second]).await;
    let results: Vec<_> = client(base)
        .get_pages_public()
        .stream()
        .page_size(5)
        .collect()
        .await;
    let yielded = ended_with_no_progress(results, &requests).await;
    assert_eq!(
        yielded, 5,
        "the first page, then the repeated cursor is refused"
    );
}

#[tokio::test]
async fn a_server_ignoring_after_id_while_saying_has_more_ends_the_stream() {
    let mock = MockServer::start().await.unwrap();
    mock.add_tenant(TENANT, API_KEY);
    mock.seed_list(TENANT, "GetUserNotifications", 20);
    let path = format!("/user-notifications?tenantId={TENANT}&pageSize=5");
    let page = raw_json(&mock, &path).await;
    assert_eq!(page["hasMore"], true);
    let (base, requests) = replaying("/user-notifications", vec![page]).await;
    let items: Vec<_> = client(base)
        .get_user_notifications()
        .stream()
        .page_size(5)
        .into_stream()
        .collect()
        .await;
    assert_eq!(ended_with_no_progress(items, &requests).await, 5);
}

/// `postRemoveComment`'s spec answer is `anyOf [DeleteCommentResult,
/// RemoveCommentActionResponse]`, both requiring `status` and `action`. A body with
/// neither (what the mock once answered) is a decode error naming both branches, not a
/// success with nothing in it; a body with them decodes as before.
#[tokio::test]
async fn a_remove_comment_answer_matching_no_branch_of_its_any_of_is_a_decode_error() {
    for body in [
        "{}",
        r#"{"status":"success"}"#,
        r#"{"action":"anonymized"}"#,
    ] {
        let base = serve(
            axum::Router::new()
                .fallback(move || async move { ([("content-type", "application/json")], body) }),
        )
        .await;
        let error = client(base)
            .post_remove_comment()
            .comment_id("c1")
            .send()
            .await
            .unwrap_err();
        let Error::Decode { message, .. } = &error else {
            panic!("{body}: expected Error::Decode, got {error:?}");
        };
        assert!(
            message.contains("matches none of the spec's anyOf branches: DeleteCommentResult (")
                && message.contains("); RemoveCommentActionResponse (missing field"),
            "{body}: {message}"
        );
        assert!(!error.is_retryable(), "{error}");
    }

    let base = serve(axum::Router::new().fallback(|| async {
        (
            [("content-type", "application/json")],
            r#"{"status":"success","action":"hard-removed"}"#,
        )
    }))
    .await;
    let removed = client(base)
        .post_remove_comment()
        .comment_id("c1")
        .send()
        .await
        .unwrap();
    let result = removed.subtype_0.expect("a DeleteCommentResult");
    assert_eq!(result.action.as_str(), "hard-removed");
    assert_eq!(result.status, fastcomments::types::ApiStatus::Success);
    assert!(
        removed.subtype_1.is_none(),
        "decoded as before: the first branch claims the keys"
    );
}
