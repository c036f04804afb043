//! Pagination streams against the mock server: counts and order, start offsets, both
//! comment paging modes, failures mid-stream, pipelining, cancellation.

use std::time::Duration;

use crate::common::{TENANT, mock};
use fastcomments::mock::{Fault, FaultRule, MockServer};
use fastcomments::pagination::{LIST_OPERATIONS, Paginated, PagingMode};
use fastcomments::{Error, RetryPolicy};
use futures::{StreamExt, TryStreamExt};

/// The seeded comment texts of page `post`, newest first (the API's default order).
fn newest_first(count: usize) -> Vec<String> {
    (0..count)
        .rev()
        .map(|i| format!("Comment {i} on post"))
        .collect()
}

fn comment_requests(server: &MockServer) -> Vec<String> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v1/comments")
        .map(|r| r.query.unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn a_stream_yields_every_comment_once_in_order_over_1_2_and_10_and_a_half_pages() {
    for (count, pages) in [(10, 2), (20, 3), (105, 11)] {
        for depth in [0, 1, 3] {
            let (server, client) = mock().await;
            server.seed_comments(TENANT, "post", count);
            let texts: Vec<String> = client
                .get_comments()
                .url_id("post")
                .stream()
                .page_size(10)
                .depth(depth)
                .map_ok(|c| c.comment)
                .try_collect()
                .await
                .unwrap();
            assert_eq!(
                texts,
                newest_first(count),
                "{count} comments, depth {depth}"
            );
            // Sequentially, full pages end with an empty one and a short page is the
            // last; ahead of that, at most `depth` requests more.
            let requests = comment_requests(&server).len();
            assert!(
                requests >= pages && requests <= pages + depth,
                "{count}/{depth}: {requests}"
            );
            if depth == 0 {
                assert_eq!(requests, pages, "{count} comments");
            }
        }
    }
}

#[tokio::test]
async fn an_empty_collection_is_an_empty_stream() {
    let (server, client) = mock().await;
    let all: Vec<_> = client
        .get_comments()
        .stream()
        .depth(0)
        .try_collect()
        .await
        .unwrap();
    assert!(all.is_empty());
    assert_eq!(comment_requests(&server).len(), 1);
}

#[tokio::test]
async fn a_stream_can_start_at_any_offset() {
    let (server, client) = mock().await;
    server.seed_comments(TENANT, "post", 25);
    let texts: Vec<String> = client
        .get_comments()
        .stream()
        .start(5)
        .page_size(10)
        .map_ok(|c| c.comment)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(texts, newest_first(25)[5..]);
    assert!(comment_requests(&server)[0].contains("skip=5"));
}

#[tokio::test]
async fn comments_stream_by_precalculated_pages_too() {
    let (server, client) = mock().await;
    server.seed_comments(TENANT, "post", 65);
    let texts: Vec<String> = client
        .get_comments()
        .url_id("post")
        .stream()
        .mode(PagingMode::Page)
        .map_ok(|c| c.comment)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(texts, newest_first(65));
    let requests = comment_requests(&server);
    assert!(
        requests
            .iter()
            .all(|q| q.contains("page=") && !q.contains("skip=") && !q.contains("limit="))
    );
    // 30 + 30 + 5: the short third page is the last; depth 1 had asked for a fourth.
    assert!(requests.len() <= 4, "{requests:?}");
}

#[tokio::test]
async fn a_mode_the_operation_lacks_is_an_invalid_request() {
    let (_server, client) = mock().await;
    let mut stream = client.get_sso_users().stream().mode(PagingMode::Page);
    let first = stream.next().await.unwrap();
    assert!(matches!(first, Err(Error::InvalidRequest(m)) if m.contains("GetSSOUsers")));
    assert!(stream.next().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn a_503_on_page_3_is_retried_and_the_stream_goes_on_without_gap_or_duplicate() {
    let (server, client) = mock().await;
    server.seed_comments(TENANT, "post", 50);
    server.inject(
        FaultRule::new(Fault::Status { status: 503 })
            .path("/api/v1/comments")
            .query("skip=20"),
    );
    let client = client.with_retry(RetryPolicy::default().base(Duration::from_secs(1)));
    let texts: Vec<String> = client
        .get_comments()
        .stream()
        .page_size(10)
        .map_ok(|c| c.comment)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(texts, newest_first(50));
    let page_3: Vec<String> = comment_requests(&server)
        .into_iter()
        .filter(|q| q.contains("skip=20"))
        .collect();
    assert_eq!(page_3.len(), 2, "page 3 was asked for twice");
}

/// Under the mock's rate limit (4 requests a second, 429 with `Retry-After` beyond), an
/// adaptive stream is throttled, waits what the server says, shrinks its depth, and
/// still yields every comment once and in order.
#[tokio::test]
async fn an_adaptive_stream_under_a_rate_limit_backs_off_and_yields_every_comment_once() {
    let (server, client) = mock().await;
    server.seed_comments(TENANT, "post", 60);
    server.set_rate_limit(Some(4));
    let client = client.with_retry(RetryPolicy::default().base(Duration::from_secs(1)));
    let mut stream = client
        .get_comments()
        .stream()
        .page_size(5)
        .adaptive_depth(8);
    assert_eq!(stream.current_depth(), 1, "it starts at 1");
    let mut texts = Vec::new();
    while let Some(comment) = stream.try_next().await.unwrap() {
        texts.push(comment.comment);
    }
    assert_eq!(texts, newest_first(60));
    assert!(server.rate_limited() > 0, "the limit was met");
    // A burst of 4 fast pages can grow it to 5 at most; the 429s halve it.
    assert!(stream.current_depth() < 5, "{}", stream.current_depth());
}

#[tokio::test]
async fn a_400_on_page_3_is_yielded_and_ends_the_stream() {
    let (server, client) = mock().await;
    server.seed_comments(TENANT, "post", 50);
    server.inject(
        FaultRule::new(Fault::Status { status: 400 })
            .path("/api/v1/comments")
            .query("skip=20"),
    );
    let results: Vec<Result<_, Error>> =
        client.get_comments().stream().page_size(10).collect().await;
    assert_eq!(results.len(), 21);
    assert!(results[..20].iter().all(Result::is_ok));
    assert_eq!(results[20].as_ref().unwrap_err().status(), Some(400));
}

/// How many items of the first page were consumed when the server first saw the
/// request for the second page (None: not before the first page was used up).
async fn consumed_when_page_2_was_requested(depth: usize) -> Option<usize> {
    let (server, client) = mock().await;
    server.seed_comments(TENANT, "post", 30);
    let mut stream = client.get_comments().stream().page_size(10).depth(depth);
    for consumed in 1..=10 {
        stream.next().await.unwrap().unwrap();
        // The caller's own work on the item: other tasks (the server) run meanwhile.
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
        if comment_requests(&server)
            .iter()
            .any(|q| q.contains("skip=10"))
        {
            return Some(consumed);
        }
    }
    None
}

#[tokio::test]
async fn with_pipelining_the_next_page_is_requested_while_the_current_one_is_consumed() {
    let seen_at = consumed_when_page_2_was_requested(1).await;
    assert!(
        seen_at.is_some_and(|n| n < 10),
        "requested after {seen_at:?} items"
    );
    assert_eq!(
        consumed_when_page_2_was_requested(0).await,
        None,
        "depth 0 is sequential"
    );
}

#[tokio::test]
async fn dropping_a_stream_leaves_no_request_running() {
    let (server, client) = mock().await;
    server.seed_comments(TENANT, "post", 100);
    let mut stream = client.get_comments().stream().page_size(10).depth(3);
    for _ in 0..15 {
        stream.next().await.unwrap().unwrap();
    }
    drop(stream);
    let before = server.requests().len();
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    client.get_pages().send().await.unwrap();
    let after: Vec<String> = server.requests()[before..]
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(
        after,
        ["/api/v1/pages"],
        "only the probe reached the server"
    );
}

#[tokio::test]
async fn sso_users_stream_learns_the_page_size_from_the_first_page() {
    let (server, client) = mock().await;
    server.seed_sso_users(TENANT, 250);
    let ids: Vec<String> = client
        .get_sso_users()
        .stream()
        .map_ok(|u| u.id)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        ids,
        (0..250).map(|i| format!("user{i}")).collect::<Vec<_>>()
    );
    let skips: Vec<Option<String>> = server
        .requests()
        .iter()
        .map(|r| r.query_param("skip"))
        .collect();
    // 100 + 100 + 50: the short page ends it; depth 1 may have asked for one more.
    assert_eq!(
        skips[..3],
        [Some("0".into()), Some("100".into()), Some("200".into())]
    );
    assert!(skips.len() <= 4, "{skips:?}");
}

#[tokio::test]
async fn audit_logs_stream_newest_first() {
    let (_server, client) = mock().await;
    for i in 0..5 {
        client
            .add_page()
            .body_map(|b| {
                b.title(format!("P{i}"))
                    .url(format!("https://e.com/{i}"))
                    .url_id(format!("p{i}"))
            })
            .send()
            .await
            .unwrap();
    }
    let logs: Vec<_> = client
        .get_audit_logs()
        .stream()
        .page_size(2)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(logs.len(), 5);
    assert!(logs.iter().all(|l| l.resource_name == "Page"));
    let when: Vec<_> = logs.iter().map(|l| l.when).collect();
    assert!(
        when.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {when:?}"
    );
}

#[test]
fn every_list_operation_has_a_stream() {
    let ids: Vec<&str> = LIST_OPERATIONS.iter().map(|(id, _)| *id).collect();
    for expected in [
        "GetComments",
        "GetAuditLogs",
        "GetSSOUsers",
        "GetTenantUsers",
        "GetModerators",
        "GetTenants",
        "GetTenantPackages",
        "GetPendingWebhookEvents",
        "GetEmailTemplates",
        "GetHashTags",
        "GetNotifications",
        "GetQuestionConfigs",
        "GetQuestionResults",
        "GetUserBadges",
        "GetUserBadgeProgressList",
        "GetFeedPosts",
    ] {
        assert!(ids.contains(&expected), "{expected} has no stream");
    }
    let comments = LIST_OPERATIONS
        .iter()
        .find(|(id, _)| *id == "GetComments")
        .unwrap()
        .1;
    assert_eq!(comments, [PagingMode::Skip, PagingMode::Page]);
}

/// Seeds 25 items for the operation of `builder`, streams them back 10 at a time where
/// the operation takes a page size, and checks that each came once, in order.
async fn streams_every_item<'a, B>(server: &MockServer, builder: B) -> &'static str
where
    B: Paginated<'a>,
    B::Item: serde::Serialize,
{
    server.seed_list(TENANT, B::OPERATION, 25);
    let items: Vec<B::Item> = builder
        .stream()
        .page_size(10)
        .try_collect()
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", B::OPERATION));
    // An item's identity: its id, or the whole item for types without one (the mock's
    // generated items differ in every field).
    let ids: Vec<String> = items
        .iter()
        .map(|item| {
            let value = serde_json::to_value(item).unwrap();
            match value
                .get("id")
                .or_else(|| value.get("_id"))
                .and_then(|v| v.as_str())
            {
                Some(id) => id.to_string(),
                None => value.to_string(),
            }
        })
        .collect();
    assert_eq!(ids.len(), 25, "{}", B::OPERATION);
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 25, "{}: every item once", B::OPERATION);
    let has_ids = ids.iter().all(|id| !id.starts_with('{'));
    if has_ids {
        // The mock's ids grow with each item added.
        assert_eq!(ids, sorted, "{}: in the order added", B::OPERATION);
    }
    B::OPERATION
}

#[tokio::test]
async fn every_list_operation_streams_against_the_mock() {
    let (server, client) = mock().await;
    // A mock bug (HTTP 500 `mock-shape`) should fail the test now, not be retried.
    let client = client.with_retry(RetryPolicy::none());
    let checked = vec![
        streams_every_item(
            &server,
            client.get_email_template_render_errors().id("template-1"),
        )
        .await,
        streams_every_item(&server, client.get_email_templates()).await,
        streams_every_item(&server, client.get_feed_posts()).await,
        streams_every_item(&server, client.get_hash_tags()).await,
        streams_every_item(&server, client.get_moderators()).await,
        streams_every_item(&server, client.get_notifications()).await,
        streams_every_item(&server, client.get_pages_public()).await,
        streams_every_item(&server, client.get_pending_webhook_events()).await,
        streams_every_item(&server, client.get_question_configs()).await,
        streams_every_item(&server, client.get_question_results()).await,
        streams_every_item(&server, client.get_tenant_daily_usages()).await,
        streams_every_item(&server, client.get_tenant_packages()).await,
        streams_every_item(&server, client.get_tenant_users()).await,
        streams_every_item(&server, client.get_tenants()).await,
        streams_every_item(&server, client.get_tickets()).await,
        streams_every_item(&server, client.get_user_badge_progress_list()).await,
        streams_every_item(&server, client.get_user_badges()).await,
        streams_every_item(&server, client.get_user_notifications()).await,
        streams_every_item(&server, client.get_api_comments()).await,
    ];
    // With the dedicated tests above (comments, audit logs, SSO users), every stream has
    // run against the mock.
    let mut covered: Vec<&str> = checked;
    covered.extend(["GetComments", "GetAuditLogs", "GetSSOUsers"]);
    covered.sort_unstable();
    let mut all: Vec<&str> = LIST_OPERATIONS.iter().map(|(id, _)| *id).collect();
    all.sort_unstable();
    assert_eq!(covered, all);
}
