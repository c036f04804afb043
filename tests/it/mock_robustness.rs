//! No request can break the mock server: hostile numbers, bad fault rules, slow headers,
//! oversized bodies and unknown routes all get a FastComments-shaped answer, and the
//! server keeps serving.

use std::time::Duration;

use fastcomments::mock::MockServer;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{API_KEY, TENANT, mock};

/// Sends a request to the mock and returns its status and JSON body.
async fn call(
    server: &MockServer,
    method: reqwest::Method,
    path_and_query: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path_and_query}", server.base_url()))
        .header("x-api-key", API_KEY);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{path_and_query}: not JSON: {text:?}"));
    (status, json)
}

/// The mock still answers a plain request correctly.
async fn still_serving(server: &MockServer) {
    let (status, body) = call(
        server,
        reqwest::Method::GET,
        &format!("/api/v1/pages?tenantId={TENANT}"),
        None,
    )
    .await;
    assert_eq!(
        (status, &body["status"]),
        (200, &json!("success")),
        "{body}"
    );
}

fn assert_shaped(what: &str, body: &Value, code: &str) {
    assert_eq!(body["status"], "failed", "{what}: {body}");
    assert_eq!(body["code"], code, "{what}: {body}");
    assert!(body["reason"].is_string(), "{what}: {body}");
}

#[tokio::test]
async fn hostile_page_skip_and_cursor_values_are_answered_not_fatal() {
    let (server, _) = mock().await;
    server.seed_comments(TENANT, "post", 3);
    server.seed_list(TENANT, "GetPagesPublic", 3);
    let huge = [
        format!("/api/v1/comments?tenantId={TENANT}&page=1e18"),
        format!("/api/v1/comments?tenantId={TENANT}&page=9223372036854775807"),
        format!("/api/v1/comments?tenantId={TENANT}&skip=1e18"),
        format!("/api/v1/hash-tags?tenantId={TENANT}&page=1e18"),
        format!("/api/v1/sso-users?tenantId={TENANT}&skip=18446744073709551615"),
        format!("/pages/{TENANT}?cursor=18446744073709551615"),
        format!(
            "/auth/my-account/moderate-comments/mod_api/api/comments?tenantId={TENANT}&page=1e18"
        ),
        format!("/api/v1/comments?tenantId={TENANT}&page=1e300"),
        format!("/api/v1/comments?tenantId={TENANT}&limit=-9223372036854775808"),
    ];
    for path in &huge {
        let (status, body) = call(&server, reqwest::Method::GET, path, None).await;
        assert!(status == 200 || status == 400, "{path}: {status} {body}");
        if status == 200 {
            assert_eq!(body["status"], "success", "{path}");
        } else {
            assert_eq!(body["status"], "failed", "{path}");
        }
        still_serving(&server).await;
    }
}

#[tokio::test]
async fn bad_fault_rules_and_latencies_are_refused() {
    let (server, _) = mock().await;
    let rules = [
        json!({"fault": {"kind": "status", "status": 503}, "times": 0}),
        json!({"fault": {"kind": "status", "status": 99}}),
        json!({"fault": {"kind": "html", "status": 1000}}),
        json!({"fault": "nonsense"}),
        json!({"fault": {"kind": "status", "status": 503}, "tims": 2}),
    ];
    for rule in rules {
        let (status, body) = call(
            &server,
            reqwest::Method::POST,
            "/__mock/faults",
            Some(rule.clone()),
        )
        .await;
        assert_eq!(status, 400, "{rule}: {body}");
        assert_eq!(body["status"], "failed", "{rule}");
        still_serving(&server).await;
    }
    let (status, body) = call(
        &server,
        reqwest::Method::POST,
        "/__mock/latency",
        Some(json!({"millis": u64::MAX})),
    )
    .await;
    assert_shaped("latency", &body, "invalid-latency");
    assert_eq!(status, 400);
    let (status, _) = call(
        &server,
        reqwest::Method::POST,
        "/__mock/latency",
        Some(json!({"ms": 20})),
    )
    .await;
    assert_eq!(status, 400, "a misspelt key");
    still_serving(&server).await;
}

#[tokio::test]
async fn a_rule_for_no_request_is_dropped() {
    let (server, client) = mock().await;
    server.inject(
        fastcomments::mock::FaultRule::new(fastcomments::mock::Fault::Status { status: 503 })
            .times(0),
    );
    client.get_pages().send().await.unwrap();
}

#[tokio::test]
async fn every_failure_has_the_fastcomments_shape() {
    let (server, _) = mock().await;
    let (status, body) = call(&server, reqwest::Method::GET, "/nowhere", None).await;
    assert_eq!(status, 404);
    assert_shaped("unknown path", &body, "not-found");

    let path = format!("/api/v1/pages?tenantId={TENANT}");
    let (status, body) = call(&server, reqwest::Method::PUT, &path, None).await;
    assert_eq!(status, 405);
    assert_shaped("a method the path lacks", &body, "method-not-allowed");

    let (status, body) = call(
        &server,
        reqwest::Method::GET,
        &format!("/api/v1/tenants/t1?tenantId={TENANT}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_shaped(
        "an item of a resource that is not there",
        &body,
        "not-found",
    );

    let huge = json!({"comment": "x".repeat(3 * 1024 * 1024)});
    let (status, body) = call(
        &server,
        reqwest::Method::POST,
        &format!("/api/v1/comments?tenantId={TENANT}"),
        Some(huge),
    )
    .await;
    assert_eq!(status, 413);
    assert_shaped("an oversized body", &body, "body-too-large");
    still_serving(&server).await;
}

#[tokio::test(start_paused = true)]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let (server, _) = mock().await;
    let mut slow = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    slow.write_all(b"GET /api/v1/pages HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), slow.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the connection was still open after a minute");
    still_serving(&server).await;
}

#[tokio::test]
async fn a_partial_put_leaves_the_sso_user_whole() {
    let (server, client) = mock().await;
    client
        .add_sso_user()
        .body_map(|b| b.id("u1").email("u1@example.com").username("one"))
        .send()
        .await
        .unwrap();
    let path = format!("/api/v1/sso-users/u1?tenantId={TENANT}");
    let put = |body| call(&server, reqwest::Method::PUT, &path, Some(body));
    let (status, body) = put(json!({"displayName": "One"})).await;
    assert_eq!(status, 200, "{body}");
    for wrong in [
        json!({"signUpDate": "not a date", "loginCount": "many"}),
        json!({"username": 5}),
    ] {
        let (status, body) = put(wrong).await;
        assert_eq!(status, 400, "{body}");
    }
    let user = client
        .get_sso_user_by_id()
        .id("u1")
        .send()
        .await
        .unwrap()
        .user
        .unwrap();
    assert_eq!(
        (user.username.as_str(), user.display_name.as_str()),
        ("one", "One")
    );
    let listed = client.get_sso_users().send().await.unwrap();
    assert_eq!(listed.users.len(), 1);
}

#[tokio::test]
async fn the_server_debug_shows_no_api_key() {
    let (server, _) = mock().await;
    let shown = format!("{server:?}");
    assert!(!shown.contains(API_KEY), "{shown}");
}
