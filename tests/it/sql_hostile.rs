//! The SQL stores and the fleet against odd and hostile inputs: two runners of one
//! name, a site removed and added again, values the database cannot hold, rows written
//! by hand, `externalId`s from elsewhere, out-of-range intervals and leases. Each test
//! is a finding of a break-it review, replayed.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use fastcomments::integration::{
    Error, Fence, LeaseOutcome, MAX_INTERVAL, Site, StateStore, Token,
};
use fastcomments::sql::{
    Fleet, FleetSite, MIN_FLEET_INTERVAL, SqlDb, SqlSite, SqlSiteFactory, SqlStateStore,
};

use super::sql::{
    POSTGRES, Paused, SITE, TOKEN, client, expire_leases, postgres_database, runner, scalar,
    server, sqlite,
};

async fn postgres() -> SqlDb {
    SqlDb::connect(&postgres_database().await).await.unwrap()
}

fn comment_event(id: &str, html: &str, parent: Option<&str>, external: Option<&str>) -> String {
    serde_json::json!({"type": "new-comment", "comment": {
        "_id": id, "urlId": "post-1", "commenterName": "Remote", "commentHTML": html,
        "date": "2024-02-01T00:00:00Z", "parentId": parent, "externalId": external}})
    .to_string()
}

/// A runner paused mid-tick past its lease while a restarted runner **of the same
/// owner name** (a stable owner, as the README advises) takes the site: the restarted
/// one gets a new fence, the paused one is fenced out and nothing is applied twice.
async fn a_restarted_runner_of_the_same_name_fences_out_the_paused_one(db: SqlDb) {
    let server = server().await;
    server.confirm_integration(TOKEN, "tenant-a");
    let events = server.create_integration_testing_events("tenant-a", 1_000);
    let site = SqlSite::open(db.clone(), SITE).await.unwrap();
    let paused = Paused::new(site.clone());
    let a = runner(&server, &db, paused.clone(), "forum-1").await;
    let b = runner(&server, &db, site.clone(), "forum-1").await;
    let a_tick = paused.tick_until_paused(a).await;
    expire_leases(&db).await;
    assert_eq!(b.tick().await.unwrap().applied, events.len() as u64);
    paused.resume.notify_one();
    let a_result = a_tick.await.unwrap();
    assert!(
        matches!(a_result, Err(Error::Fenced { .. })),
        "{a_result:?}"
    );
    assert_eq!(
        site.applied().await.unwrap().len(),
        events.len(),
        "no event applied twice"
    );
}

#[tokio::test]
async fn a_restarted_runner_of_the_same_name_fences_out_the_paused_one_on_sqlite() {
    a_restarted_runner_of_the_same_name_fences_out_the_paused_one(sqlite().await).await;
}

#[tokio::test]
async fn a_restarted_runner_of_the_same_name_fences_out_the_paused_one_on_postgres() {
    let _one = POSTGRES.lock().await;
    a_restarted_runner_of_the_same_name_fences_out_the_paused_one(postgres().await).await;
}

/// A fenced runner's tick ends by giving its lease up: it must not free the lease of
/// the holder that replaced it, even one of the same owner name (a fleet worker
/// restarted with a stable id).
async fn a_fenced_runner_leaves_the_new_holders_lease_alone(db: SqlDb) {
    let server = server().await;
    server.confirm_integration(TOKEN, "tenant-a");
    server.create_integration_testing_events("tenant-a", 1_000);
    let site = SqlSite::open(db.clone(), SITE).await.unwrap();
    let paused = Paused::new(site.clone());
    let a = runner(&server, &db, paused.clone(), "forum-1").await;
    let a_tick = paused.tick_until_paused(a).await;
    expire_leases(&db).await;
    let store = SqlStateStore::open(db.clone(), SITE).await.unwrap();
    let LeaseOutcome::Taken(new) = store.acquire_lease("forum-1", 0, 3_600_000).await.unwrap()
    else {
        panic!("the expired lease is taken")
    };
    let before = store.lease().await.unwrap().unwrap();
    assert_eq!(before.fence, new);
    paused.resume.notify_one();
    let a_result = a_tick.await.unwrap();
    assert!(
        matches!(a_result, Err(Error::Fenced { .. })),
        "{a_result:?}"
    );
    assert_eq!(
        store.lease().await.unwrap(),
        Some(before),
        "the new holder's lease stays"
    );
}

#[tokio::test]
async fn a_fenced_runner_leaves_the_new_holders_lease_alone_on_sqlite() {
    a_fenced_runner_leaves_the_new_holders_lease_alone(sqlite().await).await;
}

#[tokio::test]
async fn a_fenced_runner_leaves_the_new_holders_lease_alone_on_postgres() {
    let _one = POSTGRES.lock().await;
    a_fenced_runner_leaves_the_new_holders_lease_alone(postgres().await).await;
}

/// A site removed from the fleet and added again (a token rotation script, a
/// re-import) keeps growing its fence: the holder from before the removal writes
/// nothing after it.
async fn a_site_added_again_never_gives_a_fence_twice(db: SqlDb) {
    let fleet = Fleet::new(db.clone());
    let site = FleetSite::new(SITE, Token::new(TOKEN), Duration::from_secs(60));
    fleet.add_site(&site).await.unwrap();
    let store = SqlStateStore::open(db.clone(), SITE).await.unwrap();
    let LeaseOutcome::Taken(old) = store.acquire_lease("runner-a", 0, 60_000).await.unwrap() else {
        panic!("a free lease is taken")
    };
    assert!(fleet.remove_site(SITE).await.unwrap());
    assert!(!fleet.remove_site(SITE).await.unwrap(), "removed once");
    fleet.add_site(&site).await.unwrap();
    let LeaseOutcome::Taken(new) = store.acquire_lease("runner-b", 0, 60_000).await.unwrap() else {
        panic!("the re-added site's lease is free")
    };
    assert!(new > old, "{new:?} after {old:?}");
    let sql_site = SqlSite::new(db.clone(), SITE);
    let late = sql_site
        .record_upload(&BTreeMap::new(), Some("999"), old)
        .await;
    assert!(late.is_err(), "the old holder's write is refused");
    assert_eq!(sql_site.upload_cursor().await.unwrap(), None);
}

#[tokio::test]
async fn a_site_added_again_never_gives_a_fence_twice_on_sqlite() {
    a_site_added_again_never_gives_a_fence_twice(sqlite().await).await;
}

#[tokio::test]
async fn a_site_added_again_never_gives_a_fence_twice_on_postgres() {
    let _one = POSTGRES.lock().await;
    a_site_added_again_never_gives_a_fence_twice(postgres().await).await;
}

/// Fence 0 is no lease's: a write under it is refused before any runner took one.
#[tokio::test]
async fn a_write_under_no_lease_is_refused() {
    let db = sqlite().await;
    let site = SqlSite::open(db.clone(), SITE).await.unwrap();
    let write = site
        .record_upload(&BTreeMap::new(), Some("42"), Fence::default())
        .await;
    assert!(write.is_err());
    assert_eq!(site.upload_cursor().await.unwrap(), None);
}

/// An event whose HTML holds a NUL character: SQLite stores it; PostgreSQL's text
/// cannot, which fails the same way at every try (SQLSTATE class 22), so the event is
/// skipped and recorded, and the log goes on, instead of blocking the site forever.
async fn an_event_the_database_cannot_hold_is_skipped_and_the_log_goes_on(db: SqlDb) {
    let server = server().await;
    server.confirm_integration(TOKEN, "tenant-a");
    server.push_integration_event("tenant-a", 1, comment_event("c1", "a\u{0}b", None, None));
    server.push_integration_event("tenant-a", 2, comment_event("c2", "after", None, None));
    let site = SqlSite::open(db.clone(), SITE).await.unwrap();
    let integration = runner(&server, &db, site.clone(), "runner-a").await;
    let report = integration.tick().await.unwrap();
    let held = site.comments().await.unwrap();
    let html = |id: &str| {
        held.iter()
            .find(|c| c.fastcomments_id.as_deref() == Some(id))
            .map(|c| c.html.clone())
    };
    assert_eq!(html("c2").as_deref(), Some("after"));
    if db.backend() == fastcomments::sql::Backend::Postgres {
        assert_eq!(report.skipped_events.len(), 1, "{report:?}");
        assert_eq!(site.skipped().await.unwrap().len(), 1);
        assert_eq!(html("c1"), None);
    } else {
        assert!(report.skipped_events.is_empty(), "{report:?}");
        assert_eq!(html("c1").as_deref(), Some("a\u{0}b"));
    }
}

#[tokio::test]
async fn an_event_the_database_cannot_hold_is_skipped_and_the_log_goes_on_on_sqlite() {
    an_event_the_database_cannot_hold_is_skipped_and_the_log_goes_on(sqlite().await).await;
}

#[tokio::test]
async fn an_event_the_database_cannot_hold_is_skipped_and_the_log_goes_on_on_postgres() {
    let _one = POSTGRES.lock().await;
    an_event_the_database_cannot_hold_is_skipped_and_the_log_goes_on(postgres().await).await;
}

/// Intervals and leases out of range are brought within bounds: a zero interval
/// would tick a site in a hot loop, `Duration::MAX` would overflow a due time (on
/// PostgreSQL, failing every claim of the fleet), and so would a lease of
/// `Duration::MAX`.
async fn out_of_range_intervals_and_leases_stop_no_claim(db: SqlDb) {
    let server = server().await;
    server.confirm_integration(TOKEN, "tenant-a");
    let fleet = Fleet::new(db.clone());
    let zero = FleetSite::new("zero", Token::new("zero-token"), Duration::ZERO);
    let huge = FleetSite::new("huge", Token::new("huge-token"), Duration::MAX);
    assert_eq!(zero.interval, MIN_FLEET_INTERVAL);
    assert_eq!(huge.interval, MAX_INTERVAL);
    let mut set_by_hand = FleetSite::new("good", Token::new(TOKEN), Duration::from_secs(60));
    set_by_hand.interval = Duration::MAX; // the field is public
    for site in [&zero, &huge, &set_by_hand] {
        fleet.add_site(site).await.unwrap();
    }
    let intervals: Vec<(String, i64)> =
        sqlx::query_as("SELECT site_id, interval_ms FROM fastcomments_sites ORDER BY site_id")
            .fetch_all(db.pool())
            .await
            .unwrap();
    let two_weeks = i64::try_from(MAX_INTERVAL.as_millis()).unwrap();
    assert_eq!(
        intervals,
        [
            ("good".to_owned(), two_weeks),
            ("huge".to_owned(), two_weeks),
            ("zero".to_owned(), 1_000)
        ]
    );
    let worker = fleet
        .worker(client(&server), SqlSiteFactory)
        .lease_ttl(Duration::MAX)
        .build();
    let outcomes = worker.tick_due(10).await.unwrap();
    assert_eq!(outcomes.len(), 3, "every site claimed");
    let good = outcomes.iter().find(|o| o.site_id == "good").unwrap();
    assert!(good.result.as_ref().unwrap().validated);
}

#[tokio::test]
async fn out_of_range_intervals_and_leases_stop_no_claim_on_sqlite() {
    out_of_range_intervals_and_leases_stop_no_claim(sqlite().await).await;
}

#[tokio::test]
async fn out_of_range_intervals_and_leases_stop_no_claim_on_postgres() {
    let _one = POSTGRES.lock().await;
    out_of_range_intervals_and_leases_stop_no_claim(postgres().await).await;
}

/// Rows written by hand: an interval out of range is refused by the schema; a row the
/// worker cannot read (a token stored as bytes) is reported and given back, never a
/// panic, and the other sites are ticked.
#[tokio::test]
async fn a_row_written_by_hand_stops_neither_the_worker_nor_the_other_sites() {
    let server = server().await;
    server.confirm_integration(TOKEN, "tenant-a");
    let db = sqlite().await;
    let fleet = Fleet::new(db.clone());
    fleet
        .add_site(&FleetSite::new(
            "good",
            Token::new(TOKEN),
            Duration::from_secs(60),
        ))
        .await
        .unwrap();
    for interval in ["'60s'", "0", "-5"] {
        let refused = sqlx::query(&format!(
            "INSERT INTO fastcomments_sites (site_id, token, interval_ms) VALUES ('odd', 't', {interval})"
        ))
        .execute(db.pool())
        .await;
        assert!(refused.is_err(), "interval {interval} is refused");
    }
    sqlx::query(
        "INSERT INTO fastcomments_sites (site_id, token, interval_ms) VALUES ('bytes', x'00ff', 60000)",
    )
    .execute(db.pool())
    .await
    .unwrap();
    let worker = fleet.worker(client(&server), SqlSiteFactory).build();
    let outcomes = tokio::spawn(async move { worker.tick_due(10).await })
        .await
        .expect("no panic")
        .unwrap();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].site_id, "good");
    assert!(outcomes[0].result.as_ref().unwrap().validated);
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM fastcomments_sites WHERE site_id = 'bytes' AND lease_owner IS NULL"
        )
        .await,
        1,
        "the unreadable row's lease is given back"
    );
}

/// An event whose comment carries an `externalId` from elsewhere (a WordPress id,
/// another integration's) that happens to be one of this site's local ids does not
/// land on that unrelated local comment: it is stored as a comment of its own.
#[tokio::test]
async fn a_foreign_external_id_never_overwrites_a_local_comment() {
    let db = sqlite().await;
    let server = server().await;
    server.confirm_integration(TOKEN, "tenant-a");
    let site = SqlSite::open(db.clone(), SITE).await.unwrap();
    let local = site
        .add_local("post-1", "Alice", "<p>mine</p>", Utc::now(), None)
        .await
        .unwrap();
    let integration = runner(&server, &db, site.clone(), "r").await;
    // The local comment is uploaded and gets its own FastComments id.
    integration.tick().await.unwrap();
    let mine = site.comments().await.unwrap()[0].clone();
    assert!(mine.fastcomments_id.is_some());
    server.push_integration_event(
        "tenant-a",
        Utc::now().timestamp_millis(),
        comment_event("fc-other", "someone else's", None, Some(&local.to_string())),
    );
    integration.tick().await.unwrap();
    let comments = site.comments().await.unwrap();
    assert_eq!(comments.len(), 2, "{comments:#?}");
    let now_mine = comments.iter().find(|c| c.local_id == local).unwrap();
    assert_eq!(now_mine, &mine, "the local comment is untouched");
    assert!(
        comments
            .iter()
            .any(|c| c.fastcomments_id.as_deref() == Some("fc-other") && c.html == "someone else's")
    );
}

/// A reply whose event comes before its parent's FastComments id is recorded (the
/// runner stopped between uploading the parent and recording its id) is linked when
/// the id is recorded.
#[tokio::test]
async fn a_reply_is_linked_when_its_parents_id_comes_by_an_upload() {
    let db = sqlite().await;
    let server = server().await;
    server.confirm_integration(TOKEN, "tenant-a");
    let site = SqlSite::open(db.clone(), SITE).await.unwrap();
    let parent = site
        .add_local("post-1", "Local", "<p>parent</p>", Utc::now(), None)
        .await
        .unwrap();
    server.push_integration_event(
        "tenant-a",
        1,
        comment_event("fc-reply", "reply", Some("fc-parent"), None),
    );
    let integration = runner(&server, &db, site.clone(), "r").await;
    integration.tick().await.unwrap(); // the reply, before the parent's id is known
    let store = SqlStateStore::open(db.clone(), SITE).await.unwrap();
    let LeaseOutcome::Taken(fence) = store.acquire_lease("r", 0, 60_000).await.unwrap() else {
        panic!("a free lease is taken")
    };
    // The re-upload's answer names the parent's FastComments id.
    let ids = BTreeMap::from([(parent.to_string(), "fc-parent".to_owned())]);
    site.record_upload(&ids, Some(&parent.to_string()), fence)
        .await
        .unwrap();
    let comments = site.comments().await.unwrap();
    let reply = comments
        .iter()
        .find(|c| c.fastcomments_id.as_deref() == Some("fc-reply"))
        .unwrap();
    assert_eq!(reply.parent, Some(parent));
}

/// A vote of direction 0 is kept as sent and counted neither up nor down; a vote
/// delivered twice counts once.
#[tokio::test]
async fn a_vote_counts_by_its_direction_once() {
    let db = sqlite().await;
    let server = server().await;
    server.confirm_integration(TOKEN, "tenant-a");
    server.push_integration_event("tenant-a", 1, comment_event("c1", "hi", None, None));
    let vote = |id: &str, direction: i64| {
        serde_json::json!({"type": "new-vote", "vote": {"_id": id, "commentId": "c1", "direction": direction}})
            .to_string()
    };
    server.push_integration_event("tenant-a", 2, vote("v0", 0));
    server.push_integration_event("tenant-a", 3, vote("v1", 1));
    server.push_integration_event("tenant-a", 4, vote("v1", 1));
    server.push_integration_event("tenant-a", 5, vote("v2", -1));
    let site = SqlSite::open(db.clone(), SITE).await.unwrap();
    let integration = runner(&server, &db, site.clone(), "r").await;
    integration.tick().await.unwrap();
    let comment = site.comments().await.unwrap().remove(0);
    assert_eq!((comment.votes_up, comment.votes_down), (1, 1));
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM fastcomments_votes").await,
        3
    );
}

/// Adding a site again with a shorter interval brings its next tick forward, instead
/// of waiting out the old interval.
#[tokio::test]
async fn a_shorter_interval_takes_effect_at_once() {
    let server = server().await;
    let fleet = Fleet::new(sqlite().await);
    // A token not confirmed yet: the tick leaves the site due after its interval.
    let token = Token::new("not-confirmed-yet");
    let daily = FleetSite::new(SITE, token.clone(), Duration::from_secs(86_400));
    fleet.add_site(&daily).await.unwrap();
    let worker = fleet.worker(client(&server), SqlSiteFactory).build();
    assert_eq!(worker.tick_due(10).await.unwrap().len(), 1);
    let due = "SELECT next_due_ms - claimed_ms FROM fastcomments_sites";
    assert_eq!(scalar(fleet.db(), due).await, 86_400_000);
    fleet
        .add_site(&FleetSite::new(SITE, token, Duration::from_secs(60)))
        .await
        .unwrap();
    // Due a minute after the update (which comes a moment after the claim).
    assert!((60_000..3_600_000).contains(&scalar(fleet.db(), due).await));
}

/// A password in the URL's query (`?password=`) is hidden like one in its user info.
#[tokio::test]
async fn a_password_in_the_query_is_never_shown() {
    let _one = POSTGRES.lock().await;
    let url = format!(
        "{}?password=S3CRETPW&application_name=fc",
        postgres_database().await
    );
    let db = SqlDb::connect(&url).await.unwrap();
    let fleet = Fleet::new(db.clone());
    let worker = fleet.worker(
        fastcomments::Client::builder().build().unwrap(),
        SqlSiteFactory,
    );
    let shown = format!("{db:?} {fleet:?} {worker:?}");
    assert!(!shown.contains("S3CRETPW"), "{shown}");
    assert!(shown.contains("application_name=fc"), "{shown}");
}
