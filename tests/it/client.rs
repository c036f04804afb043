//! The `Client` facade against the mock server: credentials, tenant, hosts, errors,
//! secrets.

use crate::common::{API_KEY, Captured, TENANT, mock, refusing_address, serve};
use axum::http::StatusCode;
use axum::routing::get;
use fastcomments::{Client, Error, Region, RetryPolicy, TransportKind};

#[tokio::test]
async fn api_key_is_sent_on_a_secured_operation_and_never_on_a_public_one() {
    let (server, client) = mock().await;
    client.get_comments().send().await.unwrap();
    // GetPagesPublic is public (`security: []`); the mock does not serve it, which does
    // not matter: what it received is what counts.
    let _ = client.get_pages_public().send().await;
    client
        .upload_image(&b"GIF89a"[..], "a.gif")
        .send()
        .await
        .unwrap();

    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].path, "/api/v1/comments");
    assert_eq!(requests[0].api_key.as_deref(), Some(API_KEY));
    assert_eq!(requests[1].path, format!("/pages/{TENANT}"));
    assert_eq!(requests[1].api_key, None);
    assert_eq!(requests[2].path, format!("/upload-image/{TENANT}"));
    assert_eq!(requests[2].api_key, None);
}

#[tokio::test]
async fn tenant_id_is_injected_in_query_and_path_and_can_be_overridden() {
    let (server, client) = mock().await;
    server.add_tenant("tenant-b", API_KEY);
    client.get_pages().send().await.unwrap();
    client
        .get_pages()
        .tenant_id("tenant-b")
        .send()
        .await
        .unwrap();
    client
        .upload_image(&b"PNG"[..], "a.png")
        .tenant_id("tenant-b")
        .send()
        .await
        .unwrap();

    let requests = server.requests();
    assert_eq!(requests[0].query_param("tenantId").as_deref(), Some(TENANT));
    assert_eq!(
        requests[1].query_param("tenantId").as_deref(),
        Some("tenant-b")
    );
    assert_eq!(requests[2].path, "/upload-image/tenant-b");
}

#[tokio::test]
async fn user_agent_names_the_crate_and_version() {
    let (server, client) = mock().await;
    client.get_pages().send().await.unwrap();
    let expected = format!("fastcomments-rust/{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        server.requests()[0].user_agent.as_deref(),
        Some(expected.as_str())
    );
}

#[tokio::test]
async fn failed_status_in_an_http_200_body_is_an_api_error() {
    let (_server, client) = mock().await;
    let error = client
        .get_page_by_url_id()
        .url_id("missing")
        .send()
        .await
        .unwrap_err();
    let api = error.api_error().expect("an API error");
    assert_eq!(
        (api.http_status, api.code.as_deref()),
        (200, Some("not-found"))
    );
    assert_eq!(error.status(), Some(200));
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn a_401_json_error_is_an_api_error_with_its_status() {
    let (server, _) = mock().await;
    let wrong = server.client(TENANT, "not-the-key").unwrap();
    let error = wrong.get_comments().send().await.unwrap_err();
    assert_eq!(error.status(), Some(401));
    assert_eq!(error.code(), Some("invalid-api-key"));

    let keyless = Client::builder()
        .base_url(server.base_url())
        .tenant_id(TENANT)
        .build()
        .unwrap();
    let error = keyless.get_comments().send().await.unwrap_err();
    assert_eq!(
        (error.status(), error.code()),
        (Some(401), Some("missing-api-key"))
    );
}

#[tokio::test]
async fn unknown_tenant_is_invalid_tenant_id() {
    let (server, _) = mock().await;
    let client = server.client("nobody", API_KEY).unwrap();
    let error = client.get_pages().send().await.unwrap_err();
    assert_eq!(error.code(), Some("invalid-tenant-id"));
}

#[tokio::test]
async fn a_502_html_page_is_an_http_error_with_an_excerpt() {
    let base = serve(axum::Router::new().fallback(|| async {
        (
            StatusCode::BAD_GATEWAY,
            "<html><body>Bad gateway from the proxy</body></html>",
        )
    }))
    .await;
    let client = Client::builder()
        .base_url(base)
        .tenant_id(TENANT)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    match client.get_pages().send().await.unwrap_err() {
        Error::Http {
            status, excerpt, ..
        } => {
            assert_eq!(status, 502);
            assert!(excerpt.contains("Bad gateway from the proxy"), "{excerpt}");
        }
        other => panic!("expected Error::Http, got {other:?}"),
    }
}

#[tokio::test]
async fn unknown_fields_in_a_success_body_are_accepted() {
    let base = serve(axum::Router::new().route(
        "/api/v1/comments/{id}",
        get(|| async {
            axum::Json(serde_json::json!({
                "status": "success",
                "addedNextYear": {"x": 1},
                "comment": {
                    "id": "c1", "tenantId": TENANT, "urlId": "p", "url": "https://e.com/p",
                    "comment": "hi", "commentHTML": "<p>hi</p>", "commenterName": "Ann",
                    "date": 1_700_000_000_000_u64, "approved": true, "verified": false,
                    "locale": "en_us", "feedbackIds": [], "hashTags": [], "mentions": [],
                    "someNewField": [1, 2, 3]
                }
            }))
        }),
    ))
    .await;
    let client = Client::builder()
        .base_url(base)
        .tenant_id(TENANT)
        .build()
        .unwrap();
    let found = client.get_comment().id("c1").send().await.unwrap();
    assert_eq!(found.comment.commenter_name, "Ann");
    assert_eq!(found.comment.date, Some(1_700_000_000_000.0));
}

#[tokio::test]
async fn a_missing_required_parameter_fails_without_sending_anything() {
    let (server, client) = mock().await;
    let error = client.get_comment().send().await.unwrap_err();
    assert!(
        matches!(&error, Error::InvalidRequest(m) if m.contains("id")),
        "{error:?}"
    );

    let tenantless = Client::builder()
        .base_url(server.base_url())
        .api_key(API_KEY)
        .build()
        .unwrap();
    let error = tenantless.get_comments().send().await.unwrap_err();
    assert!(
        matches!(&error, Error::InvalidRequest(m) if m.contains("tenant_id")),
        "{error:?}"
    );
    let error = tenantless
        .upload_image(&b"x"[..], "x.png")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidRequest(_)));

    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn the_fallback_host_is_used_when_the_primary_refuses_connections() {
    let (server, _) = mock().await;
    let client = Client::builder()
        .base_url(refusing_address().await)
        .fallback(Region::Custom(server.base_url().to_string()))
        .api_key(API_KEY)
        .tenant_id(TENANT)
        .build()
        .unwrap();
    client.get_pages().send().await.unwrap();
    client
        .upload_image(&b"PNG"[..], "a.png")
        .send()
        .await
        .unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].api_key.as_deref(), Some(API_KEY));
}

#[tokio::test]
async fn without_a_fallback_a_refused_connection_is_a_connect_error() {
    let client = Client::builder()
        .base_url(refusing_address().await)
        .tenant_id(TENANT)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let error = client.get_pages().send().await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Transport {
                kind: TransportKind::Connect,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_retryable());
}

#[tokio::test]
async fn the_api_key_appears_in_no_debug_output_error_or_log() {
    let (server, _) = mock().await;
    let secret = "sk-live-do-not-leak-0123456789";
    let client = server.client(TENANT, secret).unwrap();
    let builder = Client::builder().api_key(secret);

    let logs = Captured::default();
    let error = {
        let _guard = logs.install();
        client.get_comments().send().await.unwrap_err()
    };
    assert_eq!(error.code(), Some("invalid-api-key"));
    let logs = logs.text();
    assert!(logs.contains("GetComments"), "the call was logged: {logs}");

    for (what, text) in [
        ("client", format!("{client:?}")),
        ("builder", format!("{builder:?}")),
        ("error Debug", format!("{error:?}")),
        ("error Display", error.to_string()),
        ("requests", format!("{:?}", server.requests())),
        ("logs", logs),
    ] {
        assert!(!text.contains(secret), "{what} shows the API key: {text}");
    }
}

#[test]
fn a_base_url_that_is_no_url_is_refused_when_the_client_is_built() {
    for url in ["notaurl", "ftp://example.com", "http://", "secret-token@/x"] {
        let error = fastcomments::Client::builder()
            .base_url(url)
            .build()
            .err()
            .unwrap_or_else(|| panic!("{url} accepted"));
        assert!(
            matches!(error, fastcomments::Error::InvalidRequest(_)),
            "{url}"
        );
        assert!(!error.to_string().contains(url), "{error}");
    }
    fastcomments::Client::builder()
        .base_url("http://127.0.0.1:1")
        .build()
        .unwrap();
}
