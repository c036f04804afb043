//! SSO payloads as a public API operation receives them.

use base64::Engine;
use fastcomments::sso::{SecureSso, SsoUser};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::common::mock;

#[tokio::test]
async fn a_public_operation_receives_an_sso_parameter_the_server_can_verify() {
    let (server, client) = mock().await;
    let user = SsoUser::new("user-42", "ada@example.com", "ada");
    let payload = SecureSso::new("tenant-secret").sign(&user);
    // Whatever the mock answers, the request went out; check what it carried.
    let _ = client
        .search_users()
        .url_id("post-1")
        .username_starts_with("a")
        .sso(payload.to_query_param())
        .send()
        .await;
    let request = server
        .requests()
        .into_iter()
        .find(|r| r.path.starts_with("/user-search/"))
        .expect("the request was sent");
    assert_eq!(request.api_key, None, "a public operation gets no API key");
    let sso: Value = serde_json::from_str(&request.query_param("sso").unwrap()).unwrap();
    let (data, timestamp) = (
        sso["userDataJSONBase64"].as_str().unwrap(),
        sso["timestamp"].as_i64().unwrap(),
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(b"tenant-secret").unwrap();
    mac.update(format!("{timestamp}{data}").as_bytes());
    assert_eq!(
        sso["verificationHash"],
        hex::encode(mac.finalize().into_bytes())
    );
    let user: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(user["id"], "user-42");
    assert_eq!(user["username"], "ada");
}

/// A secure SSO token made here, independently of the crate's `sso` module: base64 of
/// the user's JSON, the hex HMAC-SHA256 of `"<timestamp><data>"` keyed with `secret`.
fn token(secret: &str, user: Value, timestamp: i64) -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(user.to_string());
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}{data}").as_bytes());
    let hash = hex::encode(mac.finalize().into_bytes());
    serde_json::json!({"userDataJSONBase64": data, "verificationHash": hash, "timestamp": timestamp})
        .to_string()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn ada() -> Value {
    serde_json::json!({"id": "user-42", "email": "ada@example.com", "username": "ada",
                       "avatar": "https://example.com/ada.png"})
}

async fn comment_as(
    client: &fastcomments::Client,
    sso: Option<String>,
) -> Result<fastcomments::types::SaveCommentsResponseWithPresence, fastcomments::Error> {
    let mut request = client
        .create_comment_public()
        .url_id("post")
        .broadcast_id("b")
        .body_map(|b| {
            b.comment("Signed in")
                .commenter_name("Whoever")
                .url("https://example.com/post")
                .url_id("post")
        });
    if let Some(sso) = sso {
        request = request.sso(sso);
    }
    request.send().await
}

#[tokio::test]
async fn the_mock_shows_a_verified_sso_user_as_the_reader_and_the_author() {
    let (_server, client) = mock().await;
    let client = client.with_retry(fastcomments::RetryPolicy::none());
    // In the mock, as in FastComments' other SDKs' tests, the API key is the API secret.
    let sso = token(crate::common::API_KEY, ada(), now_ms());
    let created = comment_as(&client, Some(sso.clone())).await.unwrap();
    assert_eq!(created.comment.commenter_name, "ada");
    assert!(created.comment.verified);
    let user = serde_json::to_value(&created.user).unwrap();
    assert_eq!(user["id"], "user-42");
    assert_eq!(user["email"], "ada@example.com");

    let page = client
        .get_comments_public()
        .url_id("post")
        .sso(sso)
        .send()
        .await
        .unwrap();
    let page = serde_json::to_value(&page).unwrap();
    assert_eq!(page["user"]["username"], "ada");
    assert_eq!(page["comments"][0]["userId"], "user-42");
    assert_eq!(
        page["comments"][0]["avatarSrc"],
        "https://example.com/ada.png"
    );

    let secured = client.get_comments().url_id("post").send().await.unwrap();
    let secured = serde_json::to_value(&secured.comments[0]).unwrap();
    assert_eq!(secured["userId"], "user-42");
    let users = client.get_sso_users().send().await.unwrap();
    let users = serde_json::to_value(users).unwrap();
    let ids: Vec<&Value> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| &u["id"])
        .collect();
    assert_eq!(ids, [&Value::from("user-42")]);

    // They vote as themself.
    let comment_id = created.comment.id.clone();
    client
        .vote_comment()
        .comment_id(&comment_id)
        .url_id("post")
        .broadcast_id("b-vote")
        .sso(token(crate::common::API_KEY, ada(), now_ms()))
        .body_map(|b| {
            b.commenter_name(Some("ada".to_string()))
                .commenter_email(None)
                .url(Some("https://example.com/post".to_string()))
                .vote_dir(fastcomments::types::VoteBodyParamsVoteDir::Up)
        })
        .send()
        .await
        .unwrap();
    let log = client
        .get_event_log()
        .url_id("post")
        .user_id_ws("user-42")
        .start_time(0)
        .send()
        .await
        .unwrap();
    let vote: Value = serde_json::from_str(&log.events.last().unwrap().data).unwrap();
    assert_eq!(vote["type"], "new-vote");
    assert_eq!(vote["vote"]["userId"], "user-42");
}

#[tokio::test]
async fn the_mock_refuses_a_malformed_forged_foreign_or_stale_sso_token() {
    let (server, client) = mock().await;
    let client = client.with_retry(fastcomments::RetryPolicy::none());
    let now = now_ms();
    let mut forged: Value =
        serde_json::from_str(&token(crate::common::API_KEY, ada(), now)).unwrap();
    forged["verificationHash"] = Value::from("00".repeat(32));
    let mut altered: Value =
        serde_json::from_str(&token(crate::common::API_KEY, ada(), now)).unwrap();
    altered["userDataJSONBase64"] = Value::from(
        base64::engine::general_purpose::STANDARD
            .encode(serde_json::json!({"id": "admin", "username": "root"}).to_string()),
    );
    let two_days_ms = 2 * 24 * 60 * 60 * 1000;
    let bad = [
        ("not JSON", "invalid-sso-data".to_owned()),
        ("forged hash", forged.to_string()),
        ("altered user", altered.to_string()),
        ("another key", token("someone-elses-secret", ada(), now)),
        (
            "too old",
            token(crate::common::API_KEY, ada(), now - two_days_ms - 60_000),
        ),
        (
            "in the future",
            token(crate::common::API_KEY, ada(), now + 10 * 60_000),
        ),
        (
            "half a payload",
            serde_json::json!({"userDataJSONBase64": "e30=", "timestamp": now}).to_string(),
        ),
        (
            "no id",
            token(
                crate::common::API_KEY,
                serde_json::json!({"username": "x"}),
                now,
            ),
        ),
    ];
    for (what, sso) in bad {
        let error = comment_as(&client, Some(sso.clone())).await.unwrap_err();
        assert_eq!(error.status(), Some(401), "{what}: {error}");
        assert_eq!(error.code(), Some("invalid-sso"), "{what}");
        let read = client
            .get_comments_public()
            .url_id("post")
            .sso(sso)
            .send()
            .await
            .unwrap_err();
        assert_eq!(read.status(), Some(401), "{what}");
    }
    // Nothing refused was stored, nobody was signed in.
    let stored = client.get_comments().url_id("post").send().await.unwrap();
    assert!(stored.comments.is_empty());
    let users = serde_json::to_value(client.get_sso_users().send().await.unwrap()).unwrap();
    assert_eq!(users["users"], serde_json::json!([]));
    drop(server);
}

#[tokio::test]
async fn logged_out_and_simple_sso_are_accepted_as_what_they_are() {
    let (_server, client) = mock().await;
    let client = client.with_retry(fastcomments::RetryPolicy::none());
    let logged_out = SecureSso::new(crate::common::API_KEY)
        .login_url("https://example.com/login")
        .logged_out()
        .to_query_param();
    let anonymous = comment_as(&client, Some(logged_out)).await.unwrap();
    assert!(anonymous.user.is_none());
    assert_eq!(anonymous.comment.commenter_name, "Whoever");
    assert!(!anonymous.comment.verified);

    let simple = serde_json::json!({"username": "bo", "email": "bo@example.com"}).to_string();
    let by_bo = comment_as(&client, Some(simple)).await.unwrap();
    assert_eq!(by_bo.comment.commenter_name, "bo");
    assert!(!by_bo.comment.verified, "simple SSO is not verified");
    let widget = fastcomments::sso::SimpleSso::new("cy")
        .widget_config()
        .to_string();
    let by_cy = comment_as(&client, Some(widget)).await.unwrap();
    assert_eq!(by_cy.comment.commenter_name, "cy");
}

fn assert_denied(result: Result<impl std::fmt::Debug, fastcomments::Error>, what: &str) {
    let error = result.expect_err(what);
    assert_eq!(error.status(), Some(403), "{what}: {error}");
    assert_eq!(error.code(), Some("permission-denied"), "{what}");
}

/// Who may change what, as FastComments decides it: the author (by SSO, or an anonymous
/// commenter by the `editKey` their comment was given), the voter, a moderator; a body
/// cannot claim to be someone.
#[tokio::test]
async fn the_mock_lets_only_the_author_the_voter_or_a_moderator_change_things() {
    let (_server, client) = mock().await;
    let client = client.with_retry(fastcomments::RetryPolicy::none());
    let key = crate::common::API_KEY;
    let by_ada = comment_as(&client, Some(token(key, ada(), now_ms())))
        .await
        .unwrap();
    let ada_comment = by_ada.comment.id.clone();
    let set_text = |id: &str, edit_key: Option<&str>, sso: Option<String>| {
        let mut call = client
            .set_comment_text()
            .comment_id(id)
            .broadcast_id("b")
            .body_map(|b| b.comment("defaced"));
        if let Some(k) = edit_key {
            call = call.edit_key(k);
        }
        if let Some(sso) = sso {
            call = call.sso(sso);
        }
        call.send()
    };
    assert_denied(set_text(&ada_comment, None, None).await, "anonymous edit");
    assert_denied(
        set_text(&ada_comment, Some("zzz"), None).await,
        "a wrong editKey",
    );
    let bo = serde_json::json!({"id": "bo", "username": "bo"});
    assert_denied(
        set_text(&ada_comment, None, Some(token(key, bo.clone(), now_ms()))).await,
        "another user",
    );
    set_text(&ada_comment, None, Some(token(key, ada(), now_ms())))
        .await
        .expect("the author");
    set_text(&ada_comment, None, Some(crate::common::moderator_sso(key)))
        .await
        .expect("a moderator");

    // An anonymous comment: the editKey it was answered with is the key to it, and a
    // body's userId claims nothing.
    let anonymous = client
        .create_comment_public()
        .url_id("post")
        .broadcast_id("b")
        .body_map(|b| {
            b.comment("anon")
                .commenter_name("Eve")
                .url("https://example.com/post")
                .url_id("post")
                .user_id(Some("user-42".to_string()))
        })
        .send()
        .await
        .unwrap();
    let anonymous_json = serde_json::to_value(&anonymous.comment).unwrap();
    assert!(
        anonymous_json.get("userId").is_none_or(Value::is_null),
        "{anonymous_json}"
    );
    let edit_key = anonymous
        .comment
        .edit_key
        .clone()
        .expect("an editKey for its writer");
    set_text(&anonymous.comment.id, Some(&edit_key), None)
        .await
        .expect("the editKey's holder");
    let listed = client
        .get_comments_public()
        .url_id("post")
        .send()
        .await
        .unwrap();
    assert!(
        listed.comments.iter().all(|c| c.edit_key.is_none()),
        "never listed"
    );

    // The moderation API.
    let remove = |sso: Option<String>| {
        let mut call = client.post_remove_comment().comment_id(&ada_comment);
        if let Some(sso) = sso {
            call = call.sso(sso);
        }
        call.send()
    };
    assert_denied(remove(None).await, "anonymous moderation");
    assert_denied(
        remove(Some(token(key, bo, now_ms()))).await,
        "a user who is no moderator",
    );
    remove(Some(crate::common::moderator_sso(key)))
        .await
        .expect("a moderator");
}

/// A vote is taken back by its voter (their SSO, or the `editKey` an anonymous vote was
/// given) or a moderator, never by someone else.
#[tokio::test]
async fn the_mock_lets_only_the_voter_or_a_moderator_take_a_vote_back() {
    let (server, client) = mock().await;
    let client = client.with_retry(fastcomments::RetryPolicy::none());
    let key = crate::common::API_KEY;
    let id = server
        .seed_comments(crate::common::TENANT, "post", 1)
        .remove(0);
    let vote = |sso: Option<String>| {
        let mut call = client
            .vote_comment()
            .comment_id(&id)
            .url_id("post")
            .broadcast_id("b")
            .body_map(|b| {
                b.commenter_name(Some("v".to_string()))
                    .commenter_email(None)
                    .url(Some("https://example.com/post".to_string()))
                    .vote_dir(fastcomments::types::VoteBodyParamsVoteDir::Up)
            });
        if let Some(sso) = sso {
            call = call.sso(sso);
        }
        call.send()
    };
    let unvote = |vote_id: String, edit_key: Option<String>, sso: Option<String>| {
        let mut call = client
            .delete_comment_vote()
            .comment_id(&id)
            .vote_id(vote_id)
            .url_id("post")
            .broadcast_id("b");
        if let Some(k) = edit_key {
            call = call.edit_key(k);
        }
        if let Some(sso) = sso {
            call = call.sso(sso);
        }
        call.send()
    };
    let by_ada = vote(Some(token(key, ada(), now_ms()))).await.unwrap();
    let ada_vote = by_ada.vote_id.clone().unwrap();
    assert_denied(unvote(ada_vote.clone(), None, None).await, "anonymous");
    let bo = serde_json::json!({"id": "bo", "username": "bo"});
    assert_denied(
        unvote(ada_vote.clone(), None, Some(token(key, bo, now_ms()))).await,
        "another user",
    );
    unvote(ada_vote, None, Some(token(key, ada(), now_ms())))
        .await
        .expect("the voter");

    let anonymous = vote(None).await.unwrap();
    let anonymous_vote = anonymous.vote_id.clone().unwrap();
    let edit_key = anonymous.edit_key.clone().expect("an anonymous vote's key");
    assert_denied(
        unvote(anonymous_vote.clone(), Some("zzz".into()), None).await,
        "a wrong editKey",
    );
    unvote(anonymous_vote, Some(edit_key), None)
        .await
        .expect("the editKey's holder");
    let again = vote(None).await.unwrap();
    let again_vote = again.vote_id.clone().unwrap();
    unvote(again_vote, None, Some(crate::common::moderator_sso(key)))
        .await
        .expect("a moderator");
}
