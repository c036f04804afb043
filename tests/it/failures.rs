//! Failures are never mistaken for successes, nor successes for failures, whatever a
//! server sends: every body whose top-level `status` is `"failed"`/`"failure"` is an API
//! error; a 201 or 204 is a success; and every error reads well on one line.

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, patch};
use fastcomments::{Client, Error, RetryPolicy};

use crate::common::{TENANT, refusing_address, serve};

/// A client for a server that answers every `GET /api/v1/pages` with `status` + `body`.
async fn answering(status: StatusCode, body: String) -> Client {
    let base = serve(axum::Router::new().route(
        "/api/v1/pages",
        get(move || {
            let body = body.clone();
            async move { (status, [("content-type", "application/json")], body) }
        }),
    ))
    .await;
    Client::builder()
        .base_url(base)
        .tenant_id(TENANT)
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

async fn error_for(status: StatusCode, body: String) -> Error {
    answering(status, body)
        .await
        .get_pages()
        .send()
        .await
        .expect_err("a failure body must not decode as a success")
}

#[tokio::test]
async fn every_failure_body_is_an_api_error_whatever_else_it_holds() {
    let deep = format!(
        r#"{{"status":"failed","code":"deep","nested":{}1{}}}"#,
        "[".repeat(500),
        "]".repeat(500)
    );
    let cases: Vec<(&str, String, Option<&str>)> = vec![
        ("code and reason null", r#"{"status":"failed","code":null,"reason":null}"#.into(), None),
        ("code and reason missing", r#"{"status":"failed"}"#.into(), None),
        ("code of another type", r#"{"status":"failed","code":{"x":1},"reason":7}"#.into(), None),
        (
            "numbers as strings and floats",
            r#"{"status":"failed","code":"banned","bannedUntil":"1700000000000","maxCharacterLength":2000.5}"#.into(),
            Some("banned"),
        ),
        ("nesting deeper than serde's limit", deep, Some("deep")),
        ("status spelled with escapes", r#"{"status":"fail\u0065d","code":"esc"}"#.into(), Some("esc")),
        ("the integration endpoints' spelling", r#"{"status":"failure","code":"f"}"#.into(), Some("f")),
        (
            "status after a success-shaped payload",
            r#"{"pages":[],"status":"failed","code":"late"}"#.into(),
            Some("late"),
        ),
        (
            "behind a UTF-8 byte-order mark",
            "\u{FEFF}{\"status\":\"failed\",\"code\":\"bom\"}".into(),
            Some("bom"),
        ),
    ];
    for (what, body, code) in cases {
        for http in [StatusCode::OK, StatusCode::BAD_REQUEST] {
            let error = error_for(http, body.clone()).await;
            let api = error
                .api_error()
                .unwrap_or_else(|| panic!("{what} (HTTP {http}): {error:?}"));
            assert_eq!(api.http_status, http.as_u16(), "{what}");
            assert_eq!(api.code.as_deref(), code, "{what}");
        }
    }
    let error = error_for(
        StatusCode::OK,
        r#"{"status":"failed","bannedUntil":"1700000000000","maxCharacterLength":2000.5}"#.into(),
    )
    .await;
    let api = error.api_error().unwrap();
    assert_eq!(
        (api.banned_until, api.max_character_length),
        (Some(1_700_000_000_000), Some(2000))
    );
}

#[tokio::test]
async fn a_success_body_is_never_an_error() {
    let client = answering(
        StatusCode::OK,
        r#"{"pages":[{"id":"p","urlId":"u","title":"T","commentCount":1,"rootCommentCount":1,
            "createdAt":"2026-01-01T00:00:00Z","status":"failed"}],"status":"success"}"#
            .into(),
    )
    .await;
    let pages = client.get_pages().send().await.unwrap();
    assert_eq!(pages.pages[0].url_id, "u");
    // The same kind of body behind a byte-order mark.
    let behind_bom = answering(
        StatusCode::OK,
        "\u{FEFF}{\"pages\":[],\"status\":\"success\"}".into(),
    )
    .await;
    assert!(
        behind_bom
            .get_pages()
            .send()
            .await
            .unwrap()
            .pages
            .is_empty()
    );
}

#[tokio::test]
async fn a_201_and_a_204_where_the_spec_promises_success_are_successes() {
    let base = serve(
        axum::Router::new()
            .route(
                "/api/v1/pages",
                get(|| async {
                    (
                        StatusCode::CREATED,
                        [("content-type", "application/json")],
                        r#"{"status":"success","pages":[]}"#,
                    )
                }),
            )
            .route(
                "/api/v1/comments/{id}",
                patch(|| async { StatusCode::NO_CONTENT.into_response() }),
            ),
    )
    .await;
    let client = Client::builder()
        .base_url(base)
        .tenant_id(TENANT)
        .build()
        .unwrap();
    assert!(client.get_pages().send().await.unwrap().pages.is_empty());
    let updated = client
        .update_comment()
        .id("c1")
        .body_map(|b| b.comment(Some("x".to_string())))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status.to_string(), "success");
}

#[tokio::test]
async fn errors_read_well_when_printed() {
    let refused = Client::builder()
        .base_url(refusing_address().await)
        .tenant_id(TENANT)
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
        .get_pages()
        .send()
        .await
        .unwrap_err();
    let printed = refused.to_string();
    assert!(printed.starts_with("connect error: "), "{printed}");
    assert!(printed.to_lowercase().contains("refused"), "{printed}");
    assert!(
        std::error::Error::source(&refused).is_some(),
        "the cause is kept"
    );

    let api = error_for(
        StatusCode::UNAUTHORIZED,
        r#"{"status":"failed","code":"invalid-api-key","reason":"Wrong key."}"#.into(),
    )
    .await;
    assert_eq!(
        api.to_string(),
        "FastComments error invalid-api-key (HTTP 401): Wrong key."
    );
    let boxed: Box<dyn std::error::Error> = Box::new(api);
    assert!(!boxed.to_string().contains('{'), "{boxed}");
}

#[tokio::test]
async fn generated_types_decode_like_serde_derive() {
    use fastcomments::types::ApiGetCommentResponse;
    let comment = r#"{"id":"c1","tenantId":"t","urlId":"p","url":"https://e.com/p",
        "comment":"hi","commentHTML":"<p>hi</p>","commenterName":"Ann","approved":true,
        "verified":false,"feedbackIds":[],"hashTags":[],"mentions":[],"locale":null,"date":null"#;
    let decode = |rest: &str| {
        serde_json::from_str::<ApiGetCommentResponse>(&format!(
            r#"{{"status":"success","comment":{comment}{rest}}}}}"#
        ))
    };
    // Optional fields missing or null are None; unknown fields are ignored.
    let full = decode(r#","votes":3,"newField":{"x":[1]}"#).unwrap();
    assert_eq!((full.comment.date, full.comment.votes), (None, Some(3)));
    assert_eq!(full.comment.locale, None);
    // A field twice, or a required one missing, is an error with serde's wording.
    let twice = decode(r#","votes":1,"votes":2"#).unwrap_err();
    assert!(
        twice.to_string().contains("duplicate field `votes`"),
        "{twice}"
    );
    let missing =
        serde_json::from_str::<ApiGetCommentResponse>(r#"{"status":"success"}"#).unwrap_err();
    assert!(
        missing.to_string().contains("missing field `comment`"),
        "{missing}"
    );
    // Required but nullable (`locale`): null is None, absent is an error.
    let absent = comment.replace(r#","locale":null"#, "");
    let absent = serde_json::from_str::<ApiGetCommentResponse>(&format!(
        r#"{{"status":"success","comment":{absent}}}}}"#
    ))
    .unwrap_err();
    assert!(
        absent.to_string().contains("missing field `locale`"),
        "{absent}"
    );
}
