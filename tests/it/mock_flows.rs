//! The mock as one service: a comment made through one API is seen, voted on and removed
//! through the others; every resource of the spec keeps what it is given.

use fastcomments::mock::MockServer;
use fastcomments::operations::OPERATIONS;
use fastcomments::types;
use serde_json::{Value, json};

#[tokio::test]
async fn a_comment_saved_through_the_api_is_seen_voted_and_removed_through_the_others() {
    let server = MockServer::start().await.unwrap();
    server.add_tenant("demo", "demo-key");
    let client = server.client("demo", "demo-key").unwrap();
    let params = types::CreateCommentParams::builder()
        .comment("Hello")
        .commenter_name("Ada")
        .url("https://example.com/p")
        .url_id("p")
        .locale("en_us");
    let saved = client.save_comment().body(params).send().await.unwrap();
    let id = saved.comment.id.clone();
    let public = |client: fastcomments::Client| async move {
        let page = client
            .get_comments_public()
            .url_id("p")
            .send()
            .await
            .unwrap();
        serde_json::to_string(&page).unwrap()
    };
    assert!(
        public(client.clone()).await.contains(&id),
        "GetCommentsPublic shows it"
    );

    let vote: types::VoteBodyParams = serde_json::from_value(
        json!({"voteDir": "up", "commenterEmail": null, "commenterName": null, "url": null}),
    )
    .unwrap();
    let voted = client
        .vote_comment()
        .comment_id(&id)
        .url_id("p")
        .broadcast_id("b1")
        .body(vote)
        .send()
        .await
        .unwrap();
    let votes = client.get_votes().url_id("p").send().await.unwrap();
    let votes = serde_json::to_string(&votes).unwrap();
    assert!(
        votes.contains(&id),
        "GetVotes lists the vote on it: {votes}"
    );
    assert!(
        votes.contains(voted.vote_id.as_deref().unwrap()),
        "by its id: {votes}"
    );
    let counted = client.get_comment().id(&id).send().await.unwrap();
    assert_eq!(counted.comment.votes_up, Some(1));

    let removed = client
        .post_remove_comment()
        .comment_id(&id)
        .sso(crate::common::moderator_sso("demo-key"))
        .send()
        .await
        .unwrap();
    let result = removed.subtype_0.expect("the spec's DeleteCommentResult");
    assert_eq!(result.action.as_str(), "hard-removed");
    assert!(
        !public(client.clone()).await.contains(&id),
        "gone from the widget"
    );
    let error = client.get_comment().id(&id).send().await.unwrap_err();
    assert_eq!(error.status(), Some(404), "gone from the API: {error}");
}

/// `(collection, create, item operations)` for every collection the spec creates on and
/// deletes items of.
fn resources() -> Vec<(
    &'static str,
    &'static str,
    Vec<&'static fastcomments::operations::Operation>,
)> {
    OPERATIONS
        .iter()
        .filter(|create| create.method == "POST")
        // Collections under another object (a comment's votes) are covered by the flows.
        .filter(|create| !create.path.replace("{tenantId}", "").contains('{'))
        .filter_map(|create| {
            let items: Vec<_> = OPERATIONS
                .iter()
                .filter(|o| {
                    o.path
                        .strip_prefix(create.path)
                        .and_then(|r| r.strip_prefix("/{"))
                        .is_some_and(|r| r.ends_with('}') && !r.contains('/'))
                })
                .collect();
            items
                .iter()
                .any(|o| o.method == "DELETE")
                .then_some((create.path, create.id, items))
        })
        .collect()
}

/// The id of the object a create's answer holds, or names (`voteId`).
fn created_id(answer: &Value) -> Option<String> {
    let fields = answer.as_object()?;
    let held = fields.values().find_map(|v| {
        ["id", "_id"]
            .iter()
            .find_map(|k| v.get(*k)?.as_str().map(str::to_owned))
    });
    held.or_else(|| {
        fields
            .iter()
            .find(|(k, _)| k.ends_with("Id"))
            .and_then(|(_, v)| v.as_str().map(str::to_owned))
    })
}

#[tokio::test]
async fn every_resource_keeps_what_it_is_given_from_create_to_delete() {
    let server = MockServer::start().await.unwrap();
    server.add_tenant("demo", "demo-key");
    // Building the crate's client installs the TLS provider a plain reqwest client needs.
    let _client = server.client("demo", "demo-key").unwrap();
    let http = reqwest::Client::new();
    let send = |method: &str, path: String, query: Vec<(String, String)>, body: Option<&Value>| {
        let mut request = http
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", server.base_url()),
            )
            .query(&query)
            .header("x-api-key", "demo-key");
        if let Some(body) = body {
            request = request.json(body);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let resources = resources();
    let names: Vec<_> = resources.iter().map(|r| r.1).collect();
    assert!(resources.len() >= 10, "{names:?}");
    // `CreateCommentPublic` answers without storing the comment yet (see issue 10's note).
    for (collection, create, items) in resources
        .into_iter()
        .filter(|r| r.1 != "CreateCommentPublic")
    {
        let example = server.example_request("demo", create).unwrap();
        let path = collection.replace("{tenantId}", "demo");
        let (status, answer) = send(
            "POST",
            path.clone(),
            example.query.clone(),
            example.body.as_ref(),
        )
        .await;
        assert_eq!(status, 200, "{create}: {answer}");
        let id = created_id(&answer).unwrap_or_else(|| panic!("{create} names nothing: {answer}"));
        let item = |op: &fastcomments::operations::Operation| {
            let param = op.path.rsplit('/').next().unwrap();
            op.path.replace(param, &id).replace("{tenantId}", "demo")
        };
        let query = |op: &fastcomments::operations::Operation| {
            server.example_request("demo", op.id).unwrap().query
        };
        for op in items.iter().filter(|o| o.method == "GET") {
            let (status, answer) = send("GET", item(op), query(op), None).await;
            assert_eq!(status, 200, "{}: {answer}", op.id);
            assert!(answer.to_string().contains(&id), "{}: {answer}", op.id);
        }
        for op in items
            .iter()
            .filter(|o| o.method == "PATCH" || o.method == "PUT")
        {
            let example = server.example_request("demo", op.id).unwrap();
            let (status, answer) =
                send(op.method, item(op), example.query, example.body.as_ref()).await;
            assert_eq!(status, 200, "{}: {answer}", op.id);
        }
        let delete = items.iter().find(|o| o.method == "DELETE").unwrap();
        let (status, answer) = send("DELETE", item(delete), query(delete), None).await;
        assert_eq!(status, 200, "{}: {answer}", delete.id);
        let (status, answer) = send("DELETE", item(delete), query(delete), None).await;
        // A 404, the 200 `status: failed` of the operations whose answer has a code, or
        // `DeleteComment`'s `already-deleted`.
        assert!(
            status == 404 || answer["status"] == "failed" || answer["action"] == "already-deleted",
            "{} twice: {status} {answer}",
            delete.id
        );
    }
}
