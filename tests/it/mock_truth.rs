//! What one API of the mock writes, every other reads: the public and secured comment
//! routes share one store, as do the public and secured feed-post routes, and every
//! write reaches the change feed's consumers (the public event log, the integration
//! event log) the same way.

use fastcomments::mock::MockServer;
use fastcomments::types;
use serde_json::Value;

const TENANT: &str = "demo";
const KEY: &str = "demo-key";

async fn mock() -> (MockServer, fastcomments::Client) {
    let server = MockServer::start().await.unwrap();
    server.add_tenant(TENANT, KEY);
    let client = server
        .client(TENANT, KEY)
        .unwrap()
        .with_retry(fastcomments::RetryPolicy::none());
    (server, client)
}

fn comment_data(text: &str) -> types::CommentData {
    types::CommentData::builder()
        .comment(text)
        .commenter_name("Ada")
        .url("https://example.com/post")
        .url_id("post")
        .try_into()
        .unwrap()
}

#[tokio::test]
async fn a_public_comment_is_stored_and_listed_by_both_apis() {
    let (_server, client) = mock().await;
    let before = chrono::Utc::now();
    let created = client
        .create_comment_public()
        .url_id("post")
        .broadcast_id("b-1")
        .body(comment_data("Hello <b>world</b>"))
        .send()
        .await
        .unwrap();
    let comment = &created.comment;
    assert_eq!(
        comment.comment_html,
        "<p>Hello &lt;b&gt;world&lt;/b&gt;</p>"
    );
    assert_eq!(comment.commenter_name, "Ada");
    let date = comment.date.expect("a stored comment has a date");
    assert!(date >= before - chrono::Duration::seconds(1), "{date}");
    assert!(created.user_id_ws.as_deref().is_some_and(|s| !s.is_empty()));

    let public = client
        .get_comments_public()
        .url_id("post")
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = public.comments.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, [comment.id.as_str()]);
    assert_eq!(public.comments[0].comment_html, comment.comment_html);
    assert_eq!(public.comments[0].date, comment.date);
    assert_eq!(
        public.url_id_ws.as_ref().map(|s| s.as_str()),
        Some("demo%3Apost")
    );

    let secured = client.get_comments().url_id("post").send().await.unwrap();
    assert_eq!(secured.comments.len(), 1);
    assert_eq!(secured.comments[0].id, comment.id);
    assert_eq!(secured.comments[0].comment, "Hello <b>world</b>");
}

#[tokio::test]
async fn the_operations_on_a_comment_answer_it_as_stored() {
    let (server, client) = mock().await;
    let id = server.seed_comments(TENANT, "post", 1).remove(0);
    let text = client
        .get_comment_text()
        .comment_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(text.comment_text, "Comment 0 on post");
    let moderated = client
        .get_moderation_comment()
        .comment_id(&id)
        .sso(crate::common::moderator_sso(KEY))
        .send()
        .await
        .unwrap();
    let moderated = serde_json::to_value(moderated).unwrap();
    assert_eq!(moderated["comment"]["_id"], Value::from(id.as_str()));
    assert_eq!(
        moderated["comment"]["commentHTML"],
        "<p>Comment 0 on post</p>"
    );
    assert_eq!(moderated["comment"]["urlId"], "post");
    let set = client
        .post_set_comment_text()
        .comment_id(&id)
        .sso(crate::common::moderator_sso(KEY))
        .broadcast_id("b")
        .body_map(|b| b.comment("Edited"))
        .send()
        .await
        .unwrap();
    assert_eq!(set.new_comment_text_html, "<p>Edited</p>");
    let read = client
        .get_moderation_comment_text()
        .comment_id(&id)
        .sso(crate::common::moderator_sso(KEY))
        .send()
        .await
        .unwrap();
    assert_eq!(read.comment.as_deref(), Some("Edited"));
}

#[tokio::test]
async fn created_resources_carry_the_tenant_and_what_the_request_named() {
    let (_server, client) = mock().await;
    let ticket = client
        .create_ticket()
        .user_id("u-7")
        .body_map(|b| b.subject("Broken"))
        .send()
        .await
        .unwrap();
    let ticket = serde_json::to_value(ticket.ticket).unwrap();
    assert_eq!(ticket["userId"], "u-7");
    assert_eq!(ticket["subject"], "Broken");
    let created_at = ticket["createdAt"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created_at).is_ok(),
        "{created_at}"
    );
    let tag = client
        .add_hash_tag()
        .body_map(|b| b.tag("rust"))
        .send()
        .await
        .unwrap();
    let tag = serde_json::to_value(tag).unwrap();
    assert_eq!(tag["hashTag"]["tenantId"], TENANT, "{tag}");
}

#[tokio::test]
async fn feed_posts_are_one_store_for_the_public_and_secured_routes() {
    let (_server, client) = mock().await;
    let created = client
        .create_feed_post()
        .body_map(|b| {
            b.title("Launch".to_string())
                .content_html("<p>We launched</p>".to_string())
        })
        .send()
        .await
        .unwrap();
    let created = serde_json::to_value(created).unwrap();
    let id = created["feedPost"]["_id"].as_str().unwrap().to_owned();
    assert_eq!(created["feedPost"]["tenantId"], TENANT);

    let public = client.get_feed_posts_public().send().await.unwrap();
    let public = serde_json::to_value(public).unwrap();
    let titles: Vec<&Value> = public["feedPosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["title"])
        .collect();
    assert_eq!(titles, [&Value::from("Launch")]);

    let updated = client
        .update_feed_post_public()
        .post_id(&id)
        .body_map(|b| b.title("Launched".to_string()))
        .send()
        .await
        .unwrap();
    let updated = serde_json::to_value(updated).unwrap();
    assert_eq!(updated["feedPost"]["title"], "Launched");
    client
        .delete_feed_post_public()
        .post_id(&id)
        .send()
        .await
        .unwrap();
    let secured = client.get_feed_posts().send().await.unwrap();
    let secured = serde_json::to_value(secured).unwrap();
    assert_eq!(secured["feedPosts"], serde_json::json!([]));
}

#[tokio::test]
async fn every_write_reaches_the_public_and_integration_event_logs_in_order() {
    let (server, client) = mock().await;
    server.confirm_integration("tok", TENANT);
    let start = chrono::Utc::now().timestamp_millis() - 1;
    let created = client
        .create_comment_public()
        .url_id("post")
        .broadcast_id("b-public")
        .body(comment_data("First"))
        .send()
        .await
        .unwrap();
    let id = created.comment.id.clone();
    client
        .pin_comment()
        .comment_id(&id)
        .sso(crate::common::moderator_sso(KEY))
        .broadcast_id("b-pin")
        .send()
        .await
        .unwrap();
    client
        .vote_comment()
        .comment_id(&id)
        .url_id("post")
        .broadcast_id("b-vote")
        .body_map(|b| {
            b.commenter_name(Some("Bo".to_string()))
                .commenter_email(None)
                .url(Some("https://example.com/post".to_string()))
                .vote_dir(types::VoteBodyParamsVoteDir::Up)
        })
        .send()
        .await
        .unwrap();
    client.delete_comment().id(&id).send().await.unwrap();

    let log = client
        .get_event_log()
        .url_id("post")
        .user_id_ws("me")
        .start_time(start)
        .send()
        .await
        .unwrap();
    let events: Vec<Value> = log
        .events
        .iter()
        .map(|e| serde_json::from_str(&e.data).unwrap())
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "new-comment",
            "updated-comment",
            "new-vote",
            "deleted-comment"
        ]
    );
    assert_eq!(events[0]["broadcastId"], "b-public");
    assert_eq!(events[0]["comment"]["_id"], Value::from(id.as_str()));
    assert_eq!(events[2]["vote"]["direction"], 1);
    assert_eq!(events[2]["comment"]["_id"], Value::from(id.as_str()));
    assert!(
        log.events
            .windows(2)
            .all(|w| w[0].created_at <= w[1].created_at)
    );

    let url = format!(
        "{}/integrations/v1/events?token=tok&fromDateTime=0",
        server.base_url()
    );
    let integration: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    let logged: Vec<String> = integration["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["data"].as_str().unwrap().to_owned())
        .collect();
    let public: Vec<&String> = log.events.iter().map(|e| &e.data).collect();
    assert_eq!(logged.iter().collect::<Vec<_>>(), public);
}

/// An imported comment keeps its old date, and every API shows it; the public event log
/// never shows the commenter's e-mail (the integration log, behind its token, does).
#[tokio::test]
async fn an_old_date_and_an_email_are_shown_where_they_belong() {
    let (server, client) = mock().await;
    server.confirm_integration("tok", TENANT);
    for date in [0, 1000, -5] {
        client
            .save_comment()
            .body_map(|b| {
                b.comment("old import")
                    .commenter_name("A")
                    .commenter_email(Some("a@private.example".to_string()))
                    .url("https://e/p")
                    .url_id("p")
                    .locale("en_us")
                    .date(Some(date))
            })
            .send()
            .await
            .unwrap();
    }
    let public = client
        .get_comments_public()
        .url_id("p")
        .send()
        .await
        .unwrap();
    let dates: Vec<i64> = public
        .comments
        .iter()
        .map(|c| c.date.unwrap().timestamp_millis())
        .collect();
    assert_eq!(
        dates,
        [-5, 0, 1000],
        "listed by date, not by when they were saved"
    );
    let absurd = client
        .save_comment()
        .body_map(|b| {
            b.comment("x")
                .commenter_name("A")
                .url("https://e/p")
                .url_id("p")
                .locale("en_us")
                .date(Some(i64::MAX))
        })
        .send()
        .await
        .unwrap_err();
    assert_eq!(absurd.code(), Some("invalid-date"));

    let log = client
        .get_global_event_log()
        .url_id("p")
        .user_id_ws("x")
        .start_time(0)
        .send()
        .await
        .unwrap();
    assert_eq!(log.events.len(), 3);
    assert!(
        log.events
            .iter()
            .all(|e| !e.data.contains("a@private.example"))
    );
    let url = format!(
        "{}/integrations/v1/events?token=tok&fromDateTime=0",
        server.base_url()
    );
    let integration = reqwest::get(url).await.unwrap().text().await.unwrap();
    assert!(integration.contains("a@private.example"));
}

/// A backdated comment (an import, or a date set on save or update) is listed where its
/// date puts it, oldest first and newest first, as FastComments sorts by date.
#[tokio::test]
async fn comments_are_listed_by_date_whenever_they_were_saved_or_redated() {
    let (_server, client) = mock().await;
    let mut ids = Vec::new();
    for date in [3_000, 1_000, 2_000] {
        let saved = client
            .save_comment()
            .body_map(|b| {
                b.comment(format!("at {date}"))
                    .commenter_name("A")
                    .url("https://e/p")
                    .url_id("p")
                    .locale("en_us")
                    .date(Some(date))
            })
            .send()
            .await
            .unwrap();
        ids.push(saved.comment.id);
    }
    let listed = |direction: types::SortDirections| {
        let client = client.clone();
        async move {
            client
                .get_comments()
                .direction(direction)
                .send()
                .await
                .unwrap()
                .comments
                .into_iter()
                .map(|c| c.comment)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        listed(types::SortDirections::Of).await,
        ["at 1000", "at 2000", "at 3000"]
    );
    assert_eq!(
        listed(types::SortDirections::Nf).await,
        ["at 3000", "at 2000", "at 1000"]
    );
    // The comment at 3,000 moved to 500.
    client
        .update_comment()
        .id(&ids[0])
        .body_map(|b| b.date(Some(500.0)))
        .send()
        .await
        .unwrap();
    assert_eq!(
        listed(types::SortDirections::Of).await,
        ["at 3000", "at 1000", "at 2000"]
    );
}

/// Comments uploaded through the integration protocol, as the API lists them: a reply
/// sent before its parent is linked once the parent comes, and a field of the wrong type
/// is refused (not stored to break every later listing).
#[tokio::test]
async fn uploads_are_linked_to_parents_that_come_later_and_checked_for_types() {
    let (server, client) = mock().await;
    server.confirm_integration("tok", TENANT);
    let upload = |comments: Value, remaining: u64| {
        let url = format!("{}/integrations/v1/comments?token=tok", server.base_url());
        async move {
            let answer = reqwest::Client::new()
                .post(url)
                .json(&serde_json::json!({"countRemaining": remaining, "comments": comments}))
                .send()
                .await
                .unwrap();
            (
                answer.status().as_u16(),
                answer.json::<Value>().await.unwrap(),
            )
        }
    };
    let comment = |external: &str, parent: Option<&str>| {
        serde_json::json!({
            "externalId": external, "externalParentId": parent, "urlId": "imp",
            "url": "https://e/imp", "commenterName": "A", "comment": external,
            "commentHTML": format!("<p>{external}</p>"), "date": "2020-01-05T00:00:00Z",
            "approved": true
        })
    };
    let (status, child) = upload(serde_json::json!([comment("child", Some("parent"))]), 1).await;
    assert_eq!(status, 200, "{child}");
    let (status, parent) = upload(serde_json::json!([comment("parent", None)]), 0).await;
    assert_eq!(status, 200, "{parent}");
    let listed = client
        .get_comments()
        .url_id("imp")
        .send()
        .await
        .unwrap()
        .comments;
    let child = listed
        .iter()
        .find(|c| c.id == child["commentIds"]["child"])
        .unwrap();
    assert_eq!(
        child.parent_id.as_deref(),
        parent["commentIds"]["parent"].as_str()
    );
    let mut odd = comment("odd", None);
    odd["approved"] = "yes".into();
    let (status, body) = upload(serde_json::json!([odd]), 0).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "invalid-comment", "{body}");
    let mut fractional = comment("fractional", None);
    fractional["date"] = serde_json::json!(1_577_836_800_000.5);
    assert_eq!(upload(serde_json::json!([fractional]), 0).await.0, 400);
    // A comment with nothing but its ids and date is stored with the spec's required
    // fields empty, not as a shape the listing cannot answer.
    let bare = serde_json::json!({"externalId": "bare", "urlId": "imp", "date": 0});
    assert_eq!(upload(serde_json::json!([bare]), 0).await.0, 200);
    assert_eq!(
        client
            .get_comments()
            .url_id("imp")
            .send()
            .await
            .unwrap()
            .comments
            .len(),
        3,
        "the listing still works, and holds what was accepted"
    );
}

/// A request the rate limit refuses is not handled, so a fault rule waiting for it is
/// still there for the next one.
#[tokio::test]
async fn a_fault_rule_is_not_used_up_by_a_request_the_rate_limit_refused() {
    let (server, client) = mock().await;
    server.set_rate_limit(Some(1));
    client.get_pages().send().await.unwrap();
    server.inject(
        fastcomments::mock::FaultRule::new(fastcomments::mock::Fault::Status { status: 418 })
            .path("/api/v1/pages"),
    );
    assert_eq!(
        client.get_pages().send().await.unwrap_err().status(),
        Some(429)
    );
    server.set_rate_limit(None);
    assert_eq!(
        client.get_pages().send().await.unwrap_err().status(),
        Some(418)
    );
}
