//! The mock server through the client: every resource it serves, paging, its error
//! codes, and its answers checked against the schemas of the spec's generated types.

use crate::common::{TENANT, mock, raw_json, save_comment};
use fastcomments::mock::MockServer;
use fastcomments::{Error, types};
use schemars::JsonSchema;
use serde_json::Value;

fn error_code(error: Error) -> (Option<u16>, String) {
    (error.status(), error.code().unwrap_or("").to_string())
}

#[tokio::test]
async fn comments_can_be_created_read_updated_and_deleted() {
    let (_server, client) = mock().await;
    let created = client
        .save_comment()
        .body_map(|b| {
            b.comment("Hello <world>")
                .commenter_name("Ann")
                .url("https://example.com/post")
                .url_id("post")
                .locale("en_us")
        })
        .send()
        .await
        .unwrap();
    let id = created.comment.id.clone();
    assert_eq!(created.comment.comment_html, "<p>Hello &lt;world&gt;</p>");
    let date = created.comment.date.expect("a date");
    assert!(date > 1.6e12, "date is epoch milliseconds: {date}");

    let read = client.get_comment().id(&id).send().await.unwrap();
    assert_eq!(read.comment.comment, "Hello <world>");

    client
        .update_comment()
        .id(&id)
        .body_map(|b| b.comment(Some("Edited".to_string())))
        .send()
        .await
        .unwrap();
    let read = client.get_comment().id(&id).send().await.unwrap();
    assert_eq!(
        (
            read.comment.comment.as_str(),
            read.comment.comment_html.as_str()
        ),
        ("Edited", "<p>Edited</p>")
    );

    let deleted = client.delete_comment().id(&id).send().await.unwrap();
    assert_eq!(deleted.action, types::DeleteCommentAction::HardRemoved);
    let gone = client.get_comment().id(&id).send().await.unwrap_err();
    assert_eq!(error_code(gone), (Some(404), "not-found".into()));
    let again = client.delete_comment().id(&id).send().await.unwrap();
    assert_eq!(again.action, types::DeleteCommentAction::AlreadyDeleted);
}

fn texts(comments: &[types::ApiComment]) -> Vec<String> {
    comments.iter().map(|c| c.comment.clone()).collect()
}

#[tokio::test]
async fn comments_page_by_skip_and_limit_newest_first() {
    let (server, client) = mock().await;
    server.seed_comments(TENANT, "post", 25);
    server.seed_comments(TENANT, "other", 3);
    let page = client
        .get_comments()
        .url_id("post")
        .skip(20)
        .limit(10)
        .send()
        .await
        .unwrap();
    assert_eq!(
        texts(&page.comments),
        (0..5)
            .rev()
            .map(|i| format!("Comment {i} on post"))
            .collect::<Vec<_>>()
    );

    let oldest = client
        .get_comments()
        .url_id("post")
        .direction(types::SortDirections::Of)
        .limit(2)
        .send()
        .await
        .unwrap();
    assert_eq!(
        texts(&oldest.comments),
        ["Comment 0 on post", "Comment 1 on post"]
    );

    let all = client.get_comments().send().await.unwrap();
    assert_eq!(all.comments.len(), 28);
}

#[tokio::test]
async fn comments_page_by_precalculated_pages_and_page_minus_one() {
    let (server, client) = mock().await;
    server.seed_comments(TENANT, "post", 300);
    let first = client
        .get_comments()
        .url_id("post")
        .page(0)
        .send()
        .await
        .unwrap();
    assert_eq!(first.comments.len(), 30);
    assert_eq!(first.comments[0].comment, "Comment 299 on post");
    let tenth = client
        .get_comments()
        .url_id("post")
        .page(9)
        .send()
        .await
        .unwrap();
    assert_eq!(tenth.comments.last().unwrap().comment, "Comment 0 on post");
    let past = client
        .get_comments()
        .url_id("post")
        .page(10)
        .send()
        .await
        .unwrap();
    assert!(past.comments.is_empty());
    let all = client
        .get_comments()
        .url_id("post")
        .page(-1)
        .send()
        .await
        .unwrap();
    assert_eq!(all.comments.len(), 250);
}

#[tokio::test]
async fn comment_paging_limits_are_enforced_with_the_real_codes() {
    let (_server, client) = mock().await;
    let cases = [
        (
            client.get_comments().limit(101).send().await.unwrap_err(),
            "invalid-limit",
        ),
        (
            client.get_comments().limit(0).send().await.unwrap_err(),
            "invalid-limit",
        ),
        (
            client.get_comments().skip(-1).send().await.unwrap_err(),
            "invalid-skip",
        ),
        (
            client.get_comments().page(-2).send().await.unwrap_err(),
            "invalid-page",
        ),
    ];
    for (error, code) in cases {
        assert_eq!(error_code(error), (Some(400), code.to_string()));
    }
}

#[tokio::test]
async fn pages_can_be_added_found_patched_and_deleted() {
    let (server, client) = mock().await;
    server.seed_comments(TENANT, "seeded", 4);
    let added = client
        .add_page()
        .body_map(|b| {
            b.title("About")
                .url("https://example.com/about")
                .url_id("about")
        })
        .send()
        .await
        .unwrap();
    let id = added.page.as_ref().unwrap().id.clone();

    let pages = client.get_pages().send().await.unwrap();
    let counts: Vec<(String, i64)> = pages
        .pages
        .iter()
        .map(|p| (p.url_id.clone(), p.comment_count))
        .collect();
    assert_eq!(
        counts,
        [("seeded".to_string(), 4), ("about".to_string(), 0)]
    );

    let found = client
        .get_page_by_url_id()
        .url_id("about")
        .send()
        .await
        .unwrap();
    assert_eq!(found.page.unwrap().title, "About");

    let patched = client
        .patch_page()
        .id(&id)
        .body_map(|b| b.title(Some("About us".to_string())))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.page.unwrap().title, "About us");

    client.delete_page().id(&id).send().await.unwrap();
    let missing = client
        .get_page_by_url_id()
        .url_id("about")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(missing), (Some(200), "not-found".into()));
}

#[tokio::test]
async fn sso_users_can_be_managed_and_listed_by_skip() {
    let (_server, client) = mock().await;
    for i in 0..105 {
        client
            .add_sso_user()
            .body_map(|b| {
                b.id(format!("u{i}"))
                    .email(format!("u{i}@example.com"))
                    .username(format!("user{i}"))
            })
            .send()
            .await
            .unwrap();
    }
    let duplicate = client
        .add_sso_user()
        .body_map(|b| b.id("u0").email("x@example.com").username("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(duplicate).1, "user-exists");

    let first = client.get_sso_users().send().await.unwrap();
    let rest = client.get_sso_users().skip(100).send().await.unwrap();
    assert_eq!((first.users.len(), rest.users.len()), (100, 5));
    assert_eq!(rest.users[4].id, "u104");

    let by_email = client
        .get_sso_user_by_email()
        .email("u7@example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(by_email.user.unwrap().id, "u7");
    let patched = client
        .patch_sso_user()
        .id("u7")
        .body_map(|b| b.display_name(Some("Seven".to_string())))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.user.unwrap().username, "user7");
    let by_id = client.get_sso_user_by_id().id("u7").send().await.unwrap();
    assert_eq!(by_id.user.unwrap().display_name, "Seven");

    let put = client
        .put_sso_user()
        .id("u7")
        .body_map(|b| {
            b.username(Some("seven".to_string()))
                .email(Some("7@example.com".to_string()))
                .display_name(Some("7".to_string()))
                .website_url(Some(String::new()))
                .created_from_url_id(Some(String::new()))
                .avatar_src(Some(String::new()))
                .display_label(Some(String::new()))
                .opted_in_notifications(Some(true))
                .opted_in_subscription_notifications(Some(false))
        })
        .send()
        .await
        .unwrap();
    assert!(put.user.is_some());

    client.delete_sso_user().id("u7").send().await.unwrap();
    let gone = client
        .get_sso_user_by_id()
        .id("u7")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(gone).1, "not-found");
}

#[tokio::test]
async fn votes_count_on_the_comment_and_can_be_listed_and_deleted() {
    let (server, client) = mock().await;
    let ids = server.seed_comments(TENANT, "post", 2);
    let up = client
        .create_vote()
        .comment_id(&ids[0])
        .direction(types::CreateVoteDirection::Up)
        .user_id("u1")
        .send()
        .await
        .unwrap();
    client
        .create_vote()
        .comment_id(&ids[0])
        .direction(types::CreateVoteDirection::Down)
        .anon_user_id("anon-1")
        .send()
        .await
        .unwrap();

    let votes = client.get_votes().url_id("post").send().await.unwrap();
    assert_eq!(
        (
            votes.applied_authorized_votes.len(),
            votes.applied_anonymous_votes.len()
        ),
        (1, 1)
    );
    let mine = client
        .get_votes_for_user()
        .url_id("post")
        .user_id("u1")
        .send()
        .await
        .unwrap();
    assert_eq!(mine.applied_authorized_votes[0].direction, "up");

    let comment = client
        .get_comment()
        .id(&ids[0])
        .send()
        .await
        .unwrap()
        .comment;
    assert_eq!(
        (comment.votes, comment.votes_up, comment.votes_down),
        (Some(0), Some(1), Some(1))
    );

    client
        .delete_vote()
        .id(up.vote_id.unwrap())
        .send()
        .await
        .unwrap();
    let comment = client
        .get_comment()
        .id(&ids[0])
        .send()
        .await
        .unwrap()
        .comment;
    assert_eq!((comment.votes, comment.votes_up), (Some(-1), Some(0)));
}

#[tokio::test]
async fn audit_logs_record_every_change_newest_first() {
    let (_server, client) = mock().await;
    client
        .add_page()
        .body_map(|b| b.title("A").url("https://e.com/a").url_id("a"))
        .send()
        .await
        .unwrap();
    let comment = save_comment(&client, "x", "a").await.unwrap();
    client
        .delete_comment()
        .id(&comment.comment.id)
        .send()
        .await
        .unwrap();

    let logs = client.get_audit_logs().send().await.unwrap();
    let kinds: Vec<(String, String)> = logs
        .audit_logs
        .iter()
        .map(|l| (l.resource_name.clone(), l.crud_type.to_string()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("Comment".into(), "d".into()),
            ("Comment".into(), "c".into()),
            ("Page".into(), "c".into())
        ]
    );
    let oldest = client
        .get_audit_logs()
        .order(types::SortDir::Asc)
        .limit(1.0)
        .send()
        .await
        .unwrap();
    assert_eq!(oldest.audit_logs[0].resource_name, "Page");
    let too_many = client
        .get_audit_logs()
        .limit(1001.0)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(too_many).1, "invalid-limit");
}

#[tokio::test]
async fn image_upload_takes_a_multipart_file_and_answers_the_preset_sizes() {
    let (server, client) = mock().await;
    let uploaded = client
        .upload_image(vec![0x89, b'P', b'N', b'G'], "cat.png")
        .size_preset(types::SizePreset::CrossPlatform)
        .url_id("post")
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.media.len(), 3);
    assert!(uploaded.url.unwrap().contains(TENANT));
    assert_eq!(
        server.requests()[0].query_param("sizePreset").as_deref(),
        Some("CrossPlatform")
    );

    let empty = client
        .upload_image(Vec::new(), "empty.png")
        .send()
        .await
        .unwrap_err();
    assert_eq!(empty.code(), Some("missing-file"));
}

/// Fetches `path` from the mock as raw JSON, authorized for [`TENANT`].
async fn raw(server: &MockServer, path_and_query: &str) -> Value {
    let sep = if path_and_query.contains('?') {
        '&'
    } else {
        '?'
    };
    raw_json(server, &format!("{path_and_query}{sep}tenantId={TENANT}")).await
}

/// Checks `value` against the JSON schema schemars derives for the generated type `T`.
fn assert_conforms<T: JsonSchema>(value: &Value) {
    let schema = serde_json::to_value(schemars::schema_for!(T)).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let problems: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        problems.is_empty(),
        "{} does not conform: {problems:?}\n{value:#}",
        std::any::type_name::<T>()
    );
}

#[tokio::test]
async fn mock_answers_conform_to_the_spec_schemas() {
    let (server, client) = mock().await;
    let ids = server.seed_comments(TENANT, "post", 3);
    client
        .create_vote()
        .comment_id(&ids[0])
        .direction(types::CreateVoteDirection::Up)
        .user_id("u")
        .send()
        .await
        .unwrap();
    client
        .add_sso_user()
        .body_map(|b| b.id("u").email("u@e.com").username("u"))
        .send()
        .await
        .unwrap();

    assert_conforms::<types::ApiGetCommentsResponse>(&raw(&server, "/api/v1/comments").await);
    assert_conforms::<types::ApiGetCommentResponse>(
        &raw(&server, &format!("/api/v1/comments/{}", ids[0])).await,
    );
    assert_conforms::<types::GetPagesApiResponse>(&raw(&server, "/api/v1/pages").await);
    assert_conforms::<types::GetSsoUsersResponse>(&raw(&server, "/api/v1/sso-users").await);
    assert_conforms::<types::GetVotesResponse>(&raw(&server, "/api/v1/votes?urlId=post").await);
    assert_conforms::<types::GetAuditLogsResponse>(&raw(&server, "/api/v1/audit-logs").await);
    assert_conforms::<types::ApiError>(&raw(&server, "/api/v1/comments?limit=1000").await);

    // The check has teeth: a body without its required `comments` is refused.
    let schema =
        serde_json::to_value(schemars::schema_for!(types::ApiGetCommentsResponse)).unwrap();
    assert!(!jsonschema::is_valid(
        &schema,
        &serde_json::json!({ "status": "success" })
    ));
}

#[tokio::test]
async fn the_request_log_names_each_operation_and_its_body_size() {
    let (server, client) = mock().await;
    save_comment(&client, "Sized", "p").await.unwrap();
    client.get_comments().url_id("p").send().await.unwrap();
    let log: Vec<_> = server
        .requests()
        .into_iter()
        .map(|r| (r.operation_id, r.body_size))
        .collect();
    assert_eq!(log[1], (Some("GetComments"), Some(0)));
    let (operation, size) = log[0];
    assert_eq!(operation, Some("SaveComment"));
    assert!(size.is_some_and(|n| n > 50), "{size:?}");
}
