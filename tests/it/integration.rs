//! The integration protocol against the mock server: FastComments' own harness steps,
//! crashes at every point, the log's edge cases, and a soak under random faults.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{TimeZone, Utc};
use fastcomments::integration::{
    BoxError, Checkpoint, Error, Event, Fence, Flavour, Integration, IntegrationState,
    LeaseOutcome, LogEvent, MemoryData, MemorySite, MemoryStore, Permanent, Site, StateStore,
    TickReport, Token, UploadComment,
};
use fastcomments::mock::{Fault, FaultRule, MockServer};
use fastcomments::{Client, RetryPolicy};
use serde_json::{Value, json};

use crate::common::{API_KEY, TENANT, serve};

const TOKEN: &str = "6f1c2a4e-2d0b-4c55-9a1e-0b3f6f0d9e11";

async fn server() -> MockServer {
    let server = MockServer::start().await.expect("mock server starts");
    server.add_tenant(TENANT, API_KEY);
    server
}

/// A client with no API key: the integration needs none.
fn client(base_url: &str) -> Client {
    Client::builder().base_url(base_url).build().unwrap()
}

async fn start<S: Site, St: StateStore>(base_url: &str, site: S, store: St) -> Integration<S, St> {
    Integration::builder(client(base_url), site, store)
        .token(Token::new(TOKEN))
        .domain("blog.example.com")
        .owner("runner-1")
        .build()
        .await
        .unwrap()
}

fn day(d: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, d, 12, 0, 0).unwrap()
}

/// A site with `n` comments of its own on one page, each a reply to the one before.
fn site_with(n: u32) -> MemorySite {
    let site = MemorySite::new();
    let mut parent = None;
    for i in 1..=n {
        let id = site.add_local(
            "post-1",
            &format!("Author {i}"),
            &format!("<p>Local {i}</p>"),
            day(i),
            parent.as_deref(),
        );
        parent = Some(id);
    }
    site
}

/// Ticks until a tick finds nothing to do; fails the test after `limit` ticks.
async fn settle<S: Site, St: StateStore>(
    integration: &Integration<S, St>,
    limit: usize,
) -> Vec<TickReport> {
    let mut reports = Vec::new();
    for _ in 0..limit {
        let report = integration.tick().await.unwrap();
        let idle = report.validated
            && report.applied == 0
            && report.uploaded == 0
            && !report.budget_exhausted
            && !report.commands.iter().any(|c| c == "SendComments");
        reports.push(report);
        if idle {
            return reports;
        }
    }
    panic!("no idle tick after {limit}: {reports:#?}");
}

fn event_data(kind: &str, payload: Value) -> String {
    let mut data = payload;
    data["type"] = kind.into();
    data["broadcastId"] = "b".into();
    data["timestamp"] = 0.into();
    data.to_string()
}

fn comment(id: &str, html: &str) -> Value {
    json!({"comment": {"_id": id, "externalId": null, "urlId": "post-1", "commenterName": "Remote",
                       "commentHTML": html, "date": "2024-02-01T00:00:00Z", "parentId": null}})
}

fn vote(id: &str, on: &str, direction: i64) -> Value {
    json!({"vote": {"_id": id, "commentId": on, "direction": direction, "createdAt": 1}})
}

async fn get(url: String) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

/// One comment of a site, without the ids the mock makes up per run.
#[derive(Debug, PartialEq)]
struct Row {
    key: String,
    linked: bool,
    parent: Option<String>,
    author: String,
    html: String,
    votes: (i64, i64),
    remote: bool,
}

/// What a site holds, comparable across runs.
fn content(data: &MemoryData) -> Vec<Row> {
    data.comments
        .values()
        .map(|c| Row {
            key: if c.from_fastcomments {
                c.fastcomments_id.clone().unwrap_or_default()
            } else {
                c.local_id.clone()
            },
            linked: c.fastcomments_id.is_some(),
            parent: c.parent.clone(),
            author: c.author.clone(),
            html: c.html.clone(),
            votes: (c.votes_up, c.votes_down),
            remote: c.from_fastcomments,
        })
        .collect()
}

#[tokio::test]
async fn fastcomments_harness_token_validation_upload_and_events() {
    let server = server().await;
    let site = site_with(3);
    let store = MemoryStore::new();
    // 1. Create the token: none given, so one is made and stored.
    let integration = Integration::builder(client(server.base_url()), site.clone(), store.clone())
        .domain("blog.example.com")
        .build()
        .await
        .unwrap();
    let token = store.load().await.unwrap().token.expect("token stored");
    assert_eq!(integration.api().token(), &token);
    let url = integration.confirmation_url();
    assert_eq!(
        url,
        format!(
            "{}/auth/my-account/integrations/v1/confirm?token={}",
            server.base_url(),
            token.expose()
        )
    );
    let first = integration.tick().await.unwrap();
    assert!(!first.validated, "nobody confirmed it yet");
    let put = server
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT")
        .unwrap();
    assert_eq!(put.path, "/integrations/v1/token");
    assert_eq!(
        put.query_param("domain").as_deref(),
        Some("blog.example.com")
    );
    assert_eq!(put.api_key, None, "the integration sends no API key");

    // 2. Validate it (the admin's confirmation) and obtain the tenant id.
    assert_eq!(get(url).await["tenantId"], TENANT);
    let report = integration.tick().await.unwrap();
    assert!(report.validated);
    let state = store.load().await.unwrap();
    assert!(state.validated);
    assert_eq!(state.tenant_id.as_deref(), Some(TENANT));

    // 3. Sync local comments to FastComments.
    assert_eq!(report.uploaded, 3);
    let uploads = server.integration_uploads(TENANT);
    let externals: Vec<_> = uploads
        .iter()
        .map(|c| c["externalId"].as_str().unwrap())
        .collect();
    assert_eq!(externals, ["000000000001", "000000000002", "000000000003"]);
    assert_eq!(uploads[0]["externalParentId"], Value::Null);
    assert_eq!(uploads[1]["externalParentId"], "000000000001");
    assert_eq!(uploads[2]["date"], "2024-01-03T12:00:00Z");
    assert_eq!(server.integration_batches(TENANT), [(3, 0)]);
    assert!(
        site.data()
            .comments
            .values()
            .all(|c| c.fastcomments_id.is_some()),
        "ids recorded"
    );
    // The uploads are comments of the tenant now, through the REST API too: with the
    // ids the upload answered, the parent's among them, and the HTML as sent.
    let api = server.client(TENANT, API_KEY).unwrap();
    let listed = api.get_comments().send().await.unwrap().comments;
    let data = site.data();
    let mut recorded: Vec<_> = data
        .comments
        .values()
        .map(|c| c.fastcomments_id.clone().unwrap())
        .collect();
    let mut served: Vec<_> = listed.iter().map(|c| c.id.clone()).collect();
    recorded.sort();
    served.sort();
    assert_eq!(served, recorded);
    for upload in &uploads {
        let stored = listed.iter().find(|c| c.id == upload["_id"]).unwrap();
        assert_eq!(stored.comment_html, upload["commentHTML"]);
        let parent = uploads
            .iter()
            .find(|p| p["externalId"] == upload["externalParentId"])
            .map(|p| p["_id"].as_str().unwrap());
        assert_eq!(stored.parent_id.as_deref(), parent);
    }
    drop(data);

    // 4. Sync FastComments' events to the site.
    let created = get(format!(
        "{}/auth/my-account/integrations/v1/create-testing-events?token={}",
        server.base_url(),
        token.expose()
    ))
    .await;
    assert_eq!(created["eventIds"].as_array().unwrap().len(), 9);
    let reports = settle(&integration, 5).await;
    assert_eq!(reports.iter().map(|r| r.applied).sum::<u64>(), 9);
    let data = site.data();
    let mut remote: Vec<_> = data
        .comments
        .values()
        .filter(|c| c.from_fastcomments)
        .map(|c| (c.html.as_str(), c.votes_up, c.votes_down))
        .collect();
    remote.sort();
    assert_eq!(
        remote,
        [
            ("<p>A comment that stays, edited</p>", 1, 0),
            ("<p>Another comment that stays</p>", 1, 0)
        ],
        "the deleted comment is gone"
    );
    assert_eq!(data.votes.len(), 2);
    assert_eq!(data.comments.len(), 5);
    assert!(data.effects.values().all(|&n| n == 1));
    assert!(store.load().await.unwrap().sync_done);
}

#[tokio::test]
async fn events_sharing_a_millisecond_across_pages_are_each_applied_once() {
    let server = server().await;
    server.confirm_integration(TOKEN, TENANT);
    server.set_integration_page_size(3);
    // Page 1: a@10 b@10 c@11 | page 2 (from 11): c d@11 e@12 | page 3 (from 12): e f@12.
    let mut ids = Vec::new();
    for (name, ms) in [
        ("a", 10),
        ("b", 10),
        ("c", 11),
        ("d", 11),
        ("e", 12),
        ("f", 12),
    ] {
        ids.push(server.push_integration_event(
            TENANT,
            ms,
            event_data("new-comment", comment(name, name)),
        ));
    }
    let site = MemorySite::new();
    let integration = start(server.base_url(), site.clone(), MemoryStore::new()).await;
    integration.tick().await.unwrap(); // upload (nothing) and the log
    let data = site.data();
    assert_eq!(data.effects.keys().cloned().collect::<Vec<_>>(), {
        let mut s = ids.clone();
        s.sort();
        s
    });
    assert!(data.effects.values().all(|&n| n == 1), "{:?}", data.effects);
    assert_eq!(data.checkpoint.at_ms, 12);
    assert_eq!(
        data.checkpoint.ids_at_ms.len(),
        2,
        "only the last millisecond is remembered"
    );
    let from: Vec<_> = server
        .requests()
        .iter()
        .filter(|r| r.path == "/integrations/v1/events")
        .map(|r| r.query_param("fromDateTime").unwrap())
        .collect();
    assert_eq!(from, ["0", "11", "12"]);

    // Asked again with nothing new: everything is recognised, nothing applied.
    let again = integration.tick().await.unwrap();
    assert!(again.commands.contains(&"FetchEvents".to_string()));
    assert_eq!((again.applied, again.skipped), (0, 2));
    assert!(site.data().effects.values().all(|&n| n == 1));
}

#[tokio::test]
async fn more_events_in_one_millisecond_than_a_page_holds_is_a_clear_error_not_a_loop() {
    let server = server().await;
    server.confirm_integration(TOKEN, TENANT);
    server.set_integration_page_size(2);
    for name in ["a", "b", "c"] {
        server.push_integration_event(TENANT, 50, event_data("new-comment", comment(name, name)));
    }
    let integration = start(server.base_url(), MemorySite::new(), MemoryStore::new()).await;
    let error = integration.tick().await.unwrap_err();
    assert!(matches!(error, Error::Stuck { at_ms: 50, .. }), "{error}");
    let pages = server
        .requests()
        .iter()
        .filter(|r| r.path == "/integrations/v1/events")
        .count();
    assert_eq!(pages, 2);
}

#[tokio::test]
async fn unknown_types_and_malformed_data_are_reported_delivered_and_passed() {
    let server = server().await;
    server.confirm_integration(TOKEN, TENANT);
    let unknown =
        server.push_integration_event(TENANT, 1, event_data("new-reaction", json!({"emoji": "x"})));
    let broken = server.push_integration_event(TENANT, 2, "{\"type\": \"new-comment\", ");
    let missing = server.push_integration_event(TENANT, 3, event_data("new-vote", json!({})));
    let fine =
        server.push_integration_event(TENANT, 4, event_data("new-comment", comment("c1", "ok")));
    let site = MemorySite::new();
    let integration = start(server.base_url(), site.clone(), MemoryStore::new()).await;
    let report = integration.tick().await.unwrap();
    assert_eq!(report.applied, 4);
    let malformed: Vec<_> = report.malformed.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(malformed, [broken.clone(), missing.clone()]);
    let data = site.data();
    assert_eq!(data.ignored, [unknown, broken, missing]);
    assert_eq!(data.effects.get(&fine), Some(&1));
    assert_eq!(data.comments.len(), 1, "the stream went on past them");
}

/// A server speaking the protocol with what the mock never says: unknown commands,
/// events without `createdAt`, `"status": "failure"`.
async fn scripted(commands: Value, events: Value) -> String {
    use axum::routing::{get, put};
    let router = axum::Router::new()
        .route(
            "/integrations/v1/token",
            put(|| async {
                axum::Json(json!({"status": "success", "isTokenValidated": true, "tenantId": "t"}))
            }),
        )
        .route(
            "/integrations/v1/commands",
            get(move || {
                let c = commands.clone();
                async move { axum::Json(c) }
            }),
        )
        .route(
            "/integrations/v1/events",
            get(move || {
                let e = events.clone();
                async move { axum::Json(e) }
            }),
        );
    serve(router).await
}

#[tokio::test]
async fn unknown_commands_are_skipped_and_events_without_created_at_reported() {
    let base = scripted(
        json!({"status": "success", "commands": [{"id": "x", "command": "Reindex"}, {"command": "FetchEvents"}, 42]}),
        json!({"status": "success", "hasMore": false, "events": [
            {"_id": "lost", "data": "{}"},
            {"_id": "kept", "createdAt": "2024-01-01T00:00:00Z", "data": event_data("deleted-comment", comment("zz", ""))}
        ]}),
    )
    .await;
    let site = MemorySite::new();
    let integration = start(&base, site.clone(), MemoryStore::new()).await;
    let report = integration.tick().await.unwrap();
    assert_eq!(report.unknown_commands, ["Reindex", ""]);
    assert_eq!(report.undeliverable.len(), 1);
    assert_eq!(report.undeliverable[0].0, "lost");
    assert_eq!(report.applied, 1);
    assert_eq!(site.data().checkpoint.at_ms, 1_704_067_200_000);
}

#[tokio::test]
async fn failure_bodies_saying_failure_are_errors_and_a_refused_token_is_named() {
    let refused = scripted(
        json!({"status": "failure", "code": "token-not-validated", "reason": "Not yet."}),
        json!({}),
    )
    .await;
    let integration = start(&refused, MemorySite::new(), MemoryStore::new()).await;
    let error = integration.tick().await.unwrap_err();
    assert!(
        matches!(&error, Error::TokenRefused { code, .. } if code == "token-not-validated"),
        "{error:?}"
    );
    assert!(
        !format!("{error} {error:?}").contains(TOKEN),
        "the token never shows"
    );

    let failing = scripted(
        json!({"status": "success", "commands": [{"command": "FetchEvents"}]}),
        json!({"status": "failure", "code": "log-unavailable", "reason": "Try later."}),
    )
    .await;
    let site = MemorySite::new();
    let second = start(&failing, site.clone(), MemoryStore::new()).await;
    let error = second.tick().await.unwrap_err();
    let Error::Client(inner) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(inner.code(), Some("log-unavailable"));
    assert_eq!(site.data().checkpoint, Checkpoint::default());
}

#[tokio::test]
async fn a_batch_too_large_is_split_until_it_passes() {
    let server = server().await;
    server.confirm_integration(TOKEN, TENANT);
    let site = site_with(25);
    // A limit in bytes a batch of 7 of these comments just fits.
    let seven = site.comments_after(None, 7).await.unwrap();
    let limit = serde_json::to_vec(&json!({"countRemaining": 18, "comments": seven}))
        .unwrap()
        .len();
    server.set_integration_body_limit(limit);
    let integration = start(server.base_url(), site.clone(), MemoryStore::new()).await;
    let report = integration.tick().await.unwrap();
    assert_eq!(report.uploaded, 25);
    assert_eq!(server.integration_uploads(TENANT).len(), 25);
    let batches = server.integration_batches(TENANT);
    assert!(batches.iter().all(|(n, _)| *n <= 7), "{batches:?}");
    let remaining: Vec<u64> = batches.iter().map(|(_, r)| *r).collect();
    let mut expected = Vec::new();
    let mut left = 25u64;
    for (n, _) in &batches {
        left -= *n as u64;
        expected.push(left);
    }
    assert_eq!(remaining, expected);
    assert_eq!(remaining.last(), Some(&0));
    let posts = server
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, batches.len() + 1, "one 413, then batches of 2");
    assert_eq!(site.data().upload_cursor.as_deref(), Some("000000000025"));
    assert!(report.skipped_uploads.is_empty());
}

#[tokio::test]
async fn a_site_without_comments_sends_one_empty_batch() {
    let server = server().await;
    server.confirm_integration(TOKEN, TENANT);
    let store = MemoryStore::new();
    let integration = start(server.base_url(), MemorySite::new(), store.clone()).await;
    settle(&integration, 3).await;
    assert_eq!(server.integration_batches(TENANT), [(0, 0)]);
    assert!(store.load().await.unwrap().upload_complete);
}

#[tokio::test]
async fn the_older_stream_flavour_end_to_end() {
    let server = server().await;
    server.confirm_integration(TOKEN, TENANT);
    server.create_integration_testing_events(TENANT, 1_000);
    let site = site_with(3);
    let store = MemoryStore::new();
    let integration = Integration::builder(client(server.base_url()), site.clone(), store.clone())
        .token(Token::new(TOKEN))
        .flavour(Flavour::Stream)
        .build()
        .await
        .unwrap();
    let report = integration.tick().await.unwrap();
    assert_eq!(
        report.commands,
        ["SetSetupCompleted", "SendNextCommentsPayload"]
    );
    assert_eq!((report.uploaded, report.applied), (3, 9));
    let report = integration.tick().await.unwrap();
    assert_eq!(report.commands, ["SetSetupCompleted"], "the upload is done");
    // Read again from the checkpoint's millisecond: the last event, recognised.
    assert_eq!((report.applied, report.skipped), (0, 1));
    assert!(store.load().await.unwrap().setup_completed);
    assert_eq!(
        site.data().comments.len(),
        5,
        "3 local, 2 from FastComments"
    );
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.path != "/integrations/v1/events")
    );
}

#[tokio::test]
async fn a_second_runner_is_refused_while_the_first_holds_the_lease() {
    let server = server().await;
    server.confirm_integration(TOKEN, TENANT);
    let store = MemoryStore::new();
    let integration = start(server.base_url(), site_with(2), store.clone()).await;
    let now = Utc::now().timestamp_millis();
    let LeaseOutcome::Taken(fence) = store.acquire_lease("runner-0", now, 60_000).await.unwrap()
    else {
        panic!("runner-0 takes the free lease")
    };
    let error = integration.tick().await.unwrap_err();
    assert!(
        matches!(&error, Error::LeaseHeld { owner, .. } if owner == "runner-0"),
        "{error}"
    );
    assert!(
        server.integration_uploads(TENANT).is_empty(),
        "nothing uploaded by the second"
    );
    store.release_lease("runner-0", fence).await.unwrap();
    assert_eq!(integration.tick().await.unwrap().uploaded, 2);
    let lease = store.acquire_lease("runner-0", now, 1).await.unwrap();
    assert!(
        matches!(lease, LeaseOutcome::Taken(_)),
        "the tick gave the lease back"
    );
}

#[tokio::test]
async fn the_api_secret_and_setup_calls_need_no_api_key() {
    let server = server().await;
    server.confirm_integration(TOKEN, TENANT);
    let api = client(server.base_url()).integration(Token::new(TOKEN));
    let secret = api.api_secret().await.unwrap();
    assert_eq!(secret.expose(), API_KEY, "the tenant's one secret");
    assert!(!format!("{secret:?}").contains(API_KEY));
    let status = api.register("rust", "example.com", true).await.unwrap();
    assert!(status.is_token_validated);
    assert_eq!(status.tenant_id.as_deref(), Some(TENANT));
    assert_eq!(
        status.extra["status"], "success",
        "fields not modelled are kept"
    );
    let unknown = client(server.base_url()).integration(Token::new("nope"));
    let error = unknown.commands(0).await.unwrap_err();
    assert_eq!(
        (error.status(), error.code()),
        (Some(401), Some("invalid-token"))
    );
    assert!(server.requests().iter().all(|r| r.api_key.is_none()));
}

/// Crashes the process (an error out of every layer) at the `n`-th call into the site or
/// the state store, before or after the call's write.
#[derive(Clone)]
struct Crash(Arc<Mutex<(Option<u32>, bool, bool)>>);

impl Crash {
    fn at(n: u32, after: bool) -> Crash {
        Crash(Arc::new(Mutex::new((Some(n), after, false))))
    }

    fn fired(&self) -> bool {
        self.0.lock().unwrap().2
    }

    async fn step<T>(
        &self,
        call: impl Future<Output = Result<T, BoxError>>,
    ) -> Result<T, BoxError> {
        let (now, after) = {
            let mut plan = self.0.lock().unwrap();
            let now = plan.0 == Some(1);
            plan.0 = plan.0.and_then(|n| n.checked_sub(1)).filter(|&n| n > 0);
            if now {
                plan.2 = true;
            }
            (now, plan.1)
        };
        if now && !after {
            return Err("crash before the write".into());
        }
        let result = call.await?;
        if now {
            return Err("crash after the write".into());
        }
        Ok(result)
    }
}

#[derive(Clone)]
struct CrashingSite(MemorySite, Crash);

impl Site for CrashingSite {
    async fn checkpoint(&self) -> Result<Checkpoint, BoxError> {
        self.1.step(self.0.checkpoint()).await
    }
    async fn apply(
        &self,
        event: &LogEvent,
        checkpoint: &Checkpoint,
        fence: Fence,
    ) -> Result<(), BoxError> {
        self.1.step(self.0.apply(event, checkpoint, fence)).await
    }
    async fn upload_cursor(&self) -> Result<Option<String>, BoxError> {
        self.1.step(self.0.upload_cursor()).await
    }
    async fn comments_after(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Vec<UploadComment>, BoxError> {
        self.1.step(self.0.comments_after(cursor, limit)).await
    }
    async fn count_after(&self, cursor: Option<&str>) -> Result<u64, BoxError> {
        self.1.step(self.0.count_after(cursor)).await
    }
    async fn record_upload(
        &self,
        ids: &BTreeMap<String, String>,
        cursor: Option<&str>,
        fence: Fence,
    ) -> Result<(), BoxError> {
        self.1.step(self.0.record_upload(ids, cursor, fence)).await
    }
}

#[derive(Clone)]
struct CrashingStore(MemoryStore, Crash);

impl StateStore for CrashingStore {
    async fn load(&self) -> Result<IntegrationState, BoxError> {
        self.1.step(self.0.load()).await
    }
    async fn save(&self, state: &IntegrationState, fence: Fence) -> Result<(), BoxError> {
        self.1.step(self.0.save(state, fence)).await
    }
    async fn acquire_lease(
        &self,
        owner: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<LeaseOutcome, BoxError> {
        self.1
            .step(self.0.acquire_lease(owner, now_ms, ttl_ms))
            .await
    }
    async fn release_lease(&self, owner: &str, fence: Fence) -> Result<(), BoxError> {
        self.1.step(self.0.release_lease(owner, fence)).await
    }
}

/// The crash scenario: 5 local comments uploaded 2 at a time, 10 remote events over
/// pages of 4 with shared milliseconds.
async fn crash_scenario() -> MockServer {
    let server = server().await;
    server.confirm_integration(TOKEN, TENANT);
    server.set_integration_page_size(4);
    let events = [
        (1, "new-comment", comment("r1", "one")),
        (1, "new-comment", comment("r2", "two")),
        (2, "new-vote", vote("v1", "r1", 1)),
        (2, "new-vote", vote("v2", "r2", -1)),
        (3, "updated-comment", comment("r1", "one, edited")),
        (3, "deleted-vote", vote("v2", "r2", -1)),
        (4, "new-comment", comment("r3", "three")),
        (4, "deleted-comment", comment("r2", "two")),
        (4, "new-vote", vote("v3", "r3", 1)),
        (5, "new-vote", vote("v4", "r3", -1)),
    ];
    for (ms, kind, payload) in events {
        server.push_integration_event(TENANT, ms, event_data(kind, payload));
    }
    server
}

/// Runs the scenario to its end, restarting from the stores after every crash.
async fn run_with_crash(crash: Crash) -> (MockServer, MemoryData, usize) {
    let server = crash_scenario().await;
    let site = site_with(5);
    let store = MemoryStore::new();
    let mut restarts = 0;
    for _ in 0..30 {
        let built = Integration::builder(
            client(server.base_url()),
            CrashingSite(site.clone(), crash.clone()),
            CrashingStore(store.clone(), crash.clone()),
        )
        .token(Token::new(TOKEN))
        .owner("runner-1")
        .batch_size(2)
        .build()
        .await;
        let Ok(integration) = built else {
            restarts += 1;
            continue;
        };
        let mut done = false;
        for _ in 0..10 {
            match integration.tick().await {
                Ok(r)
                    if r.applied == 0
                        && r.uploaded == 0
                        && !r.commands.iter().any(|c| c == "SendComments") =>
                {
                    done = true;
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        if done {
            return (server, site.data(), restarts);
        }
        restarts += 1; // the process "died": everything in memory is dropped
    }
    panic!("the scenario did not finish");
}

fn remote(server: &MockServer) -> Vec<(String, Value)> {
    server
        .integration_uploads(TENANT)
        .into_iter()
        .map(|c| {
            (
                c["externalId"].as_str().unwrap().to_owned(),
                c["commentHTML"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_crash_at_every_point_changes_nothing_in_the_end() {
    let (clean_server, clean, restarts) = run_with_crash(Crash::at(0, false)).await;
    assert_eq!(restarts, 0);
    assert_eq!(clean.effects.len(), 10);
    assert_eq!(clean.comments.len(), 7, "5 local, r1 and r3");
    let expected_remote = remote(&clean_server);
    assert_eq!(expected_remote.len(), 5);
    let mut points = 0;
    for n in 1.. {
        let mut fired = false;
        for after in [false, true] {
            let crash = Crash::at(n, after);
            let (server, data, _) = run_with_crash(crash.clone()).await;
            fired |= crash.fired();
            let at = format!(
                "crash at call {n}, {}",
                if after { "after its write" } else { "before" }
            );
            assert_eq!(content(&data), content(&clean), "{at}");
            assert_eq!(data.votes, clean.votes, "{at}");
            assert_eq!(data.checkpoint.at_ms, clean.checkpoint.at_ms, "{at}");
            assert_eq!(
                data.checkpoint.ids_at_ms.len(),
                clean.checkpoint.ids_at_ms.len(),
                "{at}"
            );
            assert_eq!(data.effects.len(), 10, "{at}");
            assert!(
                data.effects.values().all(|&n| n == 1),
                "{at}: {:?}",
                data.effects
            );
            assert_eq!(remote(&server), expected_remote, "{at}");
        }
        if !fired {
            break;
        }
        points += 1;
    }
    assert!(points > 30, "only {points} crash points");
}

/// `n` events: comments, edits, votes and deletions, three per millisecond, with a few
/// unknown and malformed ones.
fn soak_events(n: usize) -> Vec<(i64, String)> {
    (0..n)
        .map(|i| {
            let ms = 1_000 + (i / 3) as i64;
            let data = match i % 10 {
                0 | 1 | 5 | 6 => event_data(
                    "new-comment",
                    comment(&format!("c{i}"), &format!("text {i}")),
                ),
                2 | 7 => event_data(
                    "updated-comment",
                    comment(&format!("c{}", i - 2), &format!("edit {i}")),
                ),
                3 | 8 => event_data(
                    "new-vote",
                    vote(
                        &format!("v{i}"),
                        &format!("c{}", i - 3),
                        if i % 2 == 0 { 1 } else { -1 },
                    ),
                ),
                4 if i % 100 == 4 => "{\"type\": \"new-comment\", \"comment\"".to_owned(),
                4 => event_data(
                    "deleted-vote",
                    vote(&format!("v{}", i - 1), &format!("c{}", i - 4), -1),
                ),
                _ if i % 50 == 9 => event_data("new-reaction", json!({})),
                _ => event_data("deleted-comment", comment(&format!("c{}", i - 9), "")),
            };
            (ms, data)
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn soak_ten_thousand_events_under_random_faults_lose_and_double_nothing() {
    let server = server().await;
    server.confirm_integration(TOKEN, TENANT);
    let events = soak_events(10_000);
    for (ms, data) in &events {
        server.push_integration_event(TENANT, *ms, data.clone());
    }
    // What the site must hold in the end: the same events applied once each, in order.
    let reference = MemorySite::new();
    for i in 1..=7 {
        reference.add_local(
            "post-1",
            &format!("Author {i}"),
            &format!("<p>Local {i}</p>"),
            day(i),
            None,
        );
    }
    let page = client(server.base_url()).integration(Token::new(TOKEN));
    let mut checkpoint = Checkpoint::default();
    let mut pages = Vec::new();
    loop {
        pages.push(checkpoint.from_date_time());
        let p = page.events(checkpoint.from_date_time()).await.unwrap();
        for e in &p.events {
            if checkpoint.covers(e) {
                continue;
            }
            checkpoint = checkpoint.after(e);
            reference.apply(e, &checkpoint, Fence(1)).await.unwrap();
        }
        if !p.has_more {
            break;
        }
    }
    assert_eq!(reference.data().effects.len(), 10_000);
    server.clear_requests();

    let site = MemorySite::new();
    for i in 1..=7 {
        site.add_local(
            "post-1",
            &format!("Author {i}"),
            &format!("<p>Local {i}</p>"),
            day(i),
            None,
        );
    }
    let integration = Integration::builder(
        client(server.base_url()).with_retry(RetryPolicy::default().max_attempts(3)),
        site.clone(),
        MemoryStore::new(),
    )
    .token(Token::new(TOKEN))
    .batch_size(2)
    .build()
    .await
    .unwrap();
    // Faults spread over the whole run: on about half the pages of the log (matched by
    // their `fromDateTime`), and on the first uploads and command polls.
    let mut rng = fastrand::Rng::with_seed(7);
    let faults = [
        Fault::Status { status: 500 },
        Fault::Status { status: 503 },
        Fault::RetryAfter {
            status: 429,
            retry_after: "90".into(),
        },
        Fault::ResetBeforeHandling,
        Fault::ResetAfterHandling,
        Fault::CutBody,
        Fault::Truncated,
        Fault::Malformed,
    ];
    let mut random_fault = || faults[rng.usize(..faults.len())].clone();
    let mut injected = 0;
    for from in &pages {
        for _ in 0..[0, 0, 1, 2, 4][(*from as usize) % 5] {
            let rule = FaultRule::new(random_fault()).path("/integrations/v1/events");
            server.inject(rule.query(format!("fromDateTime={from}")).times(2));
            injected += 2;
        }
    }
    for path in ["/integrations/v1/comments", "/integrations/v1/commands"] {
        for _ in 0..4 {
            server.inject(FaultRule::new(random_fault()).path(path).times(2));
            injected += 2;
        }
    }
    let (mut failed_ticks, mut idle) = (0, false);
    for _ in 0..2_000 {
        match integration.tick().await {
            Ok(r)
                if r.applied == 0
                    && r.uploaded == 0
                    && !r.budget_exhausted
                    && !r.commands.iter().any(|c| c == "SendComments") =>
            {
                idle = true;
                break;
            }
            Ok(_) => {}
            Err(_) => failed_ticks += 1,
        }
    }
    assert!(idle, "never settled");
    assert!(
        failed_ticks > 10,
        "the faults stopped ticks: {failed_ticks}"
    );
    let sent = server.requests().len();
    assert!(
        sent > pages.len() + injected / 2,
        "{sent} requests for {} pages",
        pages.len()
    );
    let data = site.data();
    let expected = reference.data();
    assert_eq!(data.effects.len(), 10_000);
    assert!(
        data.effects.values().all(|&n| n == 1),
        "an event applied twice"
    );
    let remote_part = |d: &MemoryData| {
        let mut c = content(d);
        c.retain(|c| c.remote);
        c
    };
    assert!(
        remote_part(&data) == remote_part(&expected),
        "the mirrored comments differ"
    );
    assert!(data.votes == expected.votes, "the votes differ");
    assert!(
        data.comments.values().all(|c| c.fastcomments_id.is_some()),
        "an upload id was lost"
    );
    assert_eq!(data.ignored.len(), expected.ignored.len());
    assert_eq!(server.integration_uploads(TENANT).len(), 7);
}

#[tokio::test(start_paused = true)]
async fn run_polls_every_few_seconds_until_setup_is_done_then_at_the_interval() {
    use std::time::Duration;
    let server = server().await;
    let requests = |path: &str| server.requests().iter().filter(|r| r.path == path).count();
    let integration = Integration::builder(
        client(server.base_url()),
        MemorySite::new(),
        MemoryStore::new(),
    )
    .token(Token::new(TOKEN))
    .interval(Duration::from_secs(24 * 3600))
    .build()
    .await
    .unwrap();
    // Not confirmed: a PUT every 3 s (at 0, 3, 6 and 9 s), until the shutdown at 10 s.
    integration
        .run(tokio::time::sleep(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(requests("/integrations/v1/token"), 4);
    assert_eq!(requests("/integrations/v1/commands"), 0);

    server.confirm_integration(TOKEN, TENANT);
    // At 0 s: validated, the empty upload; at 3 s: SetSyncDone, setup done; then daily.
    integration
        .run(tokio::time::sleep(Duration::from_secs(3 * 24 * 3600)))
        .await
        .unwrap();
    assert_eq!(
        requests("/integrations/v1/commands"),
        4,
        "0 s, 3 s, 1 day and 2 days"
    );
    assert_eq!(server.integration_batches(TENANT), [(0, 0)]);
}

#[tokio::test(start_paused = true)]
async fn the_interval_never_exceeds_two_weeks_when_events_would_expire() {
    use std::time::Duration;
    let server = server().await;
    server.confirm_integration(TOKEN, TENANT);
    let integration = Integration::builder(
        client(server.base_url()),
        MemorySite::new(),
        MemoryStore::new(),
    )
    .token(Token::new(TOKEN))
    .interval(Duration::from_secs(30 * 24 * 3600))
    .build()
    .await
    .unwrap();
    integration
        .run(tokio::time::sleep(Duration::from_secs(15 * 24 * 3600)))
        .await
        .unwrap();
    let polls = server
        .requests()
        .iter()
        .filter(|r| r.path == "/integrations/v1/commands")
        .count();
    assert_eq!(polls, 3, "0 s, 3 s, then 14 days later");
}

#[tokio::test]
async fn a_tick_out_of_budget_stops_early_and_the_next_one_goes_on() {
    use std::time::Duration;
    let server = server().await;
    server.confirm_integration(TOKEN, TENANT);
    for ms in 1..=5 {
        server.push_integration_event(
            TENANT,
            ms,
            event_data("new-comment", comment(&format!("c{ms}"), "x")),
        );
    }
    let site = MemorySite::new();
    let store = MemoryStore::new();
    let hurried = Integration::builder(client(server.base_url()), site.clone(), store.clone())
        .token(Token::new(TOKEN))
        .tick_budget(Duration::ZERO)
        .build()
        .await
        .unwrap();
    let report = hurried.tick().await.unwrap();
    assert!(report.budget_exhausted);
    assert_eq!((report.applied, report.uploaded), (0, 0));
    let patient = start(server.base_url(), site.clone(), store).await;
    assert_eq!(patient.tick().await.unwrap().applied, 5);
}

/// A site whose `apply` fails for the events of chosen comments: `times` times (then it
/// works), permanently or not. It keeps the default `Site::skip`, which hands the site
/// an `Event::Skipped` marker through `apply`.
#[derive(Clone, Default)]
struct Failing {
    site: MemorySite,
    /// Comment `_id` → (failures left, permanent).
    plan: Arc<Mutex<BTreeMap<String, (u32, bool)>>>,
    /// The `_id`s of the events applied, in order.
    order: Arc<Mutex<Vec<String>>>,
    /// The events applied, as the site received them.
    seen: Arc<Mutex<Vec<LogEvent>>>,
    /// Called after every successful apply (to play another runner, say).
    after_apply: Option<Arc<dyn Fn() + Send + Sync>>,
    /// Refuses every event permanently, the default skip's marker included.
    refuse_all: bool,
}

impl Failing {
    fn on(comment_id: &str, times: u32, permanent: bool) -> Failing {
        let f = Failing::default();
        f.plan
            .lock()
            .unwrap()
            .insert(comment_id.to_owned(), (times, permanent));
        f
    }
}

impl Site for Failing {
    async fn checkpoint(&self) -> Result<Checkpoint, BoxError> {
        self.site.checkpoint().await
    }
    async fn apply(
        &self,
        event: &LogEvent,
        checkpoint: &Checkpoint,
        fence: Fence,
    ) -> Result<(), BoxError> {
        if self.refuse_all {
            return Err(Permanent::new("this site refuses everything").into());
        }
        if let Event::NewComment(c) = &event.event {
            let mut plan = self.plan.lock().unwrap();
            if let Some((left, permanent)) = plan.get_mut(&c.id).filter(|(n, _)| *n > 0) {
                *left -= 1;
                let error = format!("the row for {} is refused", c.id);
                return Err(if *permanent {
                    Permanent::new(error).into()
                } else {
                    error.into()
                });
            }
        }
        self.site.apply(event, checkpoint, fence).await?;
        self.order.lock().unwrap().push(event.id.clone());
        self.seen.lock().unwrap().push(event.clone());
        if let Some(f) = &self.after_apply {
            f();
        }
        Ok(())
    }
    async fn upload_cursor(&self) -> Result<Option<String>, BoxError> {
        self.site.upload_cursor().await
    }
    async fn comments_after(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Vec<UploadComment>, BoxError> {
        self.site.comments_after(cursor, limit).await
    }
    async fn count_after(&self, cursor: Option<&str>) -> Result<u64, BoxError> {
        if self.plan.lock().unwrap().contains_key("count_after") {
            return Err(Permanent::new("the comments table is gone").into());
        }
        self.site.count_after(cursor).await
    }
    async fn record_upload(
        &self,
        ids: &BTreeMap<String, String>,
        cursor: Option<&str>,
        fence: Fence,
    ) -> Result<(), BoxError> {
        self.site.record_upload(ids, cursor, fence).await
    }
}

/// Three comment events at 1, 2 and 3 ms; returns their `_id`s.
fn three_events(server: &MockServer) -> Vec<String> {
    [(1, "c1"), (2, "c2"), (3, "c3")]
        .into_iter()
        .map(|(ms, id)| {
            server.push_integration_event(TENANT, ms, event_data("new-comment", comment(id, id)))
        })
        .collect()
}

#[tokio::test]
async fn a_comment_refused_even_alone_is_skipped_reported_and_the_upload_completes() {
    let server = server().await;
    server.confirm_integration(TOKEN, TENANT); // the default limit: 2 MB of body
    let site = MemorySite::new();
    let first = site.add_local("post-1", "Ada", "<p>one</p>", day(1), None);
    let second = site.add_local("post-1", "Bob", "<p>two</p>", day(2), None);
    let huge = format!("<p>{}</p>", "x".repeat(2 * 1024 * 1024));
    let big = site.add_local("post-1", "Cy", &huge, day(3), None);
    let reply = site.add_local("post-1", "Di", "<p>re</p>", day(4), Some(&big));
    let last = site.add_local("post-1", "Ed", "<p>five</p>", day(5), None);
    let store = MemoryStore::new();
    let integration = start(server.base_url(), site.clone(), store.clone()).await;
    let report = integration.tick().await.unwrap();

    assert_eq!(report.uploaded, 4);
    assert_eq!(report.skipped_uploads.len(), 1, "{report:#?}");
    let (skipped, reason) = &report.skipped_uploads[0];
    assert_eq!(skipped, &big);
    assert!(reason.contains("413"), "{reason}");
    assert!(!reason.contains(TOKEN), "the token never shows: {reason}");
    let uploaded: Vec<_> = server
        .integration_uploads(TENANT)
        .iter()
        .map(|c| c["externalId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        uploaded,
        [first.clone(), second.clone(), reply.clone(), last.clone()]
    );
    let reply_up = server
        .integration_uploads(TENANT)
        .into_iter()
        .find(|c| c["externalId"] == reply.as_str())
        .unwrap();
    assert_eq!(
        reply_up["externalParentId"],
        big.as_str(),
        "its reply still names it"
    );
    assert_eq!(
        server.integration_batches(TENANT).last(),
        Some(&(2, 0)),
        "after the skip, the rest in one batch, countRemaining 0"
    );
    let data = site.data();
    assert_eq!(data.skipped_uploads, report.skipped_uploads);
    assert_eq!(data.comments[&big].fastcomments_id, None);
    assert_eq!(data.upload_cursor.as_deref(), Some(last.as_str()));
    assert!(store.load().await.unwrap().upload_complete);
    let posts = server
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    // 5 (413), 1, 1, the huge one alone (413), then the last two.
    assert_eq!(posts, 5);
    // The upload is over: the next ticks neither upload nor report it again.
    let reports = settle(&integration, 3).await;
    assert!(
        reports
            .iter()
            .all(|r| r.skipped_uploads.is_empty() && r.uploaded == 0)
    );
}

#[tokio::test]
async fn an_event_whose_apply_fails_permanently_is_skipped_reported_and_the_next_applied() {
    let server = server().await;
    server.confirm_integration(TOKEN, TENANT);
    let ids = three_events(&server);
    let site = Failing::on("c2", u32::MAX, true);
    let integration = start(server.base_url(), site.clone(), MemoryStore::new()).await;
    let report = integration.tick().await.unwrap();
    assert_eq!(report.applied, 2);
    assert_eq!(report.skipped_events.len(), 1, "{report:#?}");
    assert_eq!(report.skipped_events[0].0, ids[1]);
    assert!(report.skipped_events[0].1.contains("refused"));
    assert_eq!(
        *site.order.lock().unwrap(),
        [ids[0].clone(), ids[1].clone(), ids[2].clone()],
        "c1, then the skip marker for c2 (through apply, the default skip), then c3"
    );
    let data = site.site.data();
    assert_eq!(
        data.ignored,
        [ids[1].clone()],
        "the default skip hands over a marker"
    );
    assert!(
        data.comments
            .values()
            .all(|c| c.fastcomments_id.as_deref() != Some("c2"))
    );
    assert_eq!(data.comments.len(), 2);
    assert_eq!(data.checkpoint.at_ms, 3);
    // Nothing is tried again: the checkpoint is past it.
    let again = integration.tick().await.unwrap();
    assert_eq!((again.applied, again.skipped_events.len()), (0, 0));
}

/// When even giving an event up fails (the default skip hands the site a marker its
/// `apply` refuses too), the tick fails with `SkipFailed`, never permanent: nothing
/// moves, nothing is skipped in silence, and the next tick meets the same event.
#[tokio::test]
async fn a_skip_that_fails_stops_the_tick_and_moves_nothing() {
    let server = server().await;
    server.confirm_integration(TOKEN, TENANT);
    let ids = three_events(&server);
    let site = Failing {
        refuse_all: true,
        ..Failing::default()
    };
    let integration = start(server.base_url(), site.clone(), MemoryStore::new()).await;
    for _ in 0..2 {
        let error = integration.tick().await.unwrap_err();
        assert!(
            matches!(&error, Error::SkipFailed { item, .. } if *item == ids[0]),
            "{error:?}"
        );
        assert!(!error.is_permanent());
        assert_eq!(site.site.data().checkpoint.at_ms, 0);
    }
}

#[tokio::test(start_paused = true)]
async fn a_transient_failure_is_retried_at_the_next_tick_and_never_skipped() {
    use std::time::Duration;
    let server = server().await;
    server.confirm_integration(TOKEN, TENANT);
    let ids = three_events(&server);
    let site = Failing::on("c2", 3, false);
    let integration = start(server.base_url(), site.clone(), MemoryStore::new()).await;
    let first = integration.tick().await.unwrap_err();
    assert!(
        matches!(first, Error::Site(_)) && !first.is_permanent(),
        "{first:?}"
    );
    assert_eq!(site.site.data().checkpoint.at_ms, 1, "stopped before c2");
    // `run` tries again a minute after each failed tick: c2 fails twice more, then passes.
    integration
        .run(tokio::time::sleep(Duration::from_secs(10 * 60)))
        .await
        .unwrap();
    assert_eq!(*site.order.lock().unwrap(), ids, "in order, each once");
    let data = site.site.data();
    assert!(data.skipped_events.is_empty() && data.ignored.is_empty());
    assert!(data.effects.values().all(|&n| n == 1));
    assert_eq!(data.comments.len(), 3);
    let polls = server
        .requests()
        .iter()
        .filter(|r| r.path == "/integrations/v1/events")
        .count();
    assert!(polls >= 4, "one page per try: {polls}");
}

#[tokio::test]
async fn a_command_failing_permanently_is_skipped_and_the_others_run() {
    let server = server().await;
    server.confirm_integration(TOKEN, TENANT);
    let ids = three_events(&server);
    let site = Failing::on("count_after", 0, true);
    let integration = start(server.base_url(), site.clone(), MemoryStore::new()).await;
    let report = integration.tick().await.unwrap();
    assert_eq!(report.commands, ["SendComments", "FetchEvents"]);
    assert_eq!(report.skipped_commands.len(), 1, "{report:#?}");
    assert_eq!(report.skipped_commands[0].0, "SendComments");
    assert!(report.skipped_commands[0].1.contains("table is gone"));
    assert_eq!(*site.order.lock().unwrap(), ids, "the event log still ran");
}

#[tokio::test]
async fn a_runner_whose_lease_was_taken_over_stops_before_the_next_page() {
    let server = server().await;
    server.confirm_integration(TOKEN, TENANT);
    server.set_integration_page_size(1);
    let ids = three_events(&server);
    let store = MemoryStore::new();
    let mut site = Failing::default();
    let thief = store.clone();
    // While the first event is applied, this runner's lease expires (by the clock of
    // a runner a year ahead) and another runner takes it.
    site.after_apply = Some(Arc::new(move || {
        let thief = thief.clone();
        let later = Utc::now().timestamp_millis() + 365 * 24 * 3_600_000;
        futures::executor::block_on(async move {
            assert!(matches!(
                thief
                    .acquire_lease("runner-2", later, 60_000)
                    .await
                    .unwrap(),
                LeaseOutcome::Taken(_)
            ));
        });
    }));
    let integration = start(server.base_url(), site.clone(), store).await;
    let error = integration.tick().await.unwrap_err();
    assert!(
        matches!(&error, Error::LeaseHeld { owner, .. } if owner == "runner-2"),
        "{error:?}"
    );
    assert!(!error.is_permanent());
    assert_eq!(
        *site.order.lock().unwrap(),
        ids[..1],
        "nothing written after the takeover"
    );
}

#[tokio::test]
async fn meta_and_every_field_not_modelled_reach_the_site_as_sent() {
    let server = server().await;
    server.confirm_integration(TOKEN, TENANT);
    let mut payload = comment("c1", "hi");
    payload["comment"]["meta"] = json!({"wpId": "17", "wpPostId": 5, "wpUserId": 3});
    payload["comment"]["flagCount"] = json!(2);
    server.push_integration_event(TENANT, 1, event_data("new-comment", payload));
    let mut up = vote("v1", "c1", 1);
    up["vote"]["voteKind"] = json!("star");
    server.push_integration_event(TENANT, 2, event_data("new-vote", up));
    let site = Failing::default();
    let integration = start(server.base_url(), site.clone(), MemoryStore::new()).await;
    assert_eq!(integration.tick().await.unwrap().applied, 2);
    let seen = site.seen.lock().unwrap().clone();
    let Event::NewComment(c) = &seen[0].event else {
        panic!("{seen:?}")
    };
    assert_eq!(
        c.meta,
        Some(json!({"wpId": "17", "wpPostId": 5, "wpUserId": 3}))
    );
    assert_eq!(c.extra["flagCount"], 2);
    assert_eq!(seen[0].data_extra["timestamp"], 0, "data's own fields too");
    let Event::NewVote(v) = &seen[1].event else {
        panic!("{seen:?}")
    };
    assert_eq!(v.extra["voteKind"], "star");
}

#[tokio::test]
async fn the_initial_download_pages_by_skip_stores_each_comment_once_and_sends_ids_back() {
    use fastcomments::integration::{DownloadSite, IdMapping};
    let server = server().await;
    server.confirm_integration(TOKEN, TENANT);
    server.set_integration_page_size(4);
    let ids = server.seed_comments(TENANT, "post-1", 10);
    let site = MemorySite::new();
    let store = MemoryStore::new();
    let integration = start(server.base_url(), site.clone(), store.clone()).await;
    integration.tick().await.unwrap(); // validated
    let report = integration.download().await.unwrap();
    assert!(report.done, "{report:#?}");
    assert_eq!(
        (report.downloaded, report.total_count, report.ids_sent),
        (10, Some(10), 10)
    );
    let skips: Vec<_> = server
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == "/integrations/v1/comments")
        .map(|r| {
            (
                r.query_param("skip").unwrap(),
                r.query_param("includeCount"),
            )
        })
        .collect();
    assert_eq!(
        skips,
        [
            ("0".to_owned(), Some("true".to_owned())),
            ("4".to_owned(), None),
            ("8".to_owned(), None)
        ]
    );
    let data = site.data();
    assert_eq!(data.comments.len(), 10);
    assert_eq!(data.download_cursor, 10);
    assert!(data.unsent_ids.is_empty());
    // FastComments now knows each comment's local id, as its meta.wpId.
    let api = client(server.base_url()).integration(Token::new(TOKEN));
    let page = api.comments(0, false).await.unwrap();
    for c in &page.comments {
        let local = data
            .comments
            .values()
            .find(|l| l.fastcomments_id.as_deref() == Some(c.id.as_str()))
            .unwrap();
        assert_eq!(c.meta.as_ref().unwrap()["wpId"], local.local_id.as_str());
    }
    assert_eq!(
        page.comments
            .iter()
            .map(|c| c.id.clone())
            .collect::<Vec<_>>(),
        ids[..4]
    );
    // Again: nothing new is stored, nothing sent.
    let again = integration.download().await.unwrap();
    assert_eq!((again.downloaded, again.ids_sent, again.done), (0, 0, true));
    assert_eq!(site.data().comments.len(), 10);
    // More than 500 mappings in one call is a 400, as documented.
    let many: Vec<_> = (0..501)
        .map(|i| IdMapping::new(format!("fc{i}"), i.to_string()))
        .collect();
    let error = api.comment_ids(&many).await.unwrap_err();
    assert_eq!(
        (error.status(), error.code()),
        (Some(400), Some("too-many-mappings"))
    );
    assert_eq!(site.unsent_ids(10).await.unwrap(), []);
}

#[tokio::test]
async fn a_crash_at_every_point_of_the_download_neither_loses_nor_doubles_a_comment() {
    use fastcomments::integration::{DownloadSite, IdMapping};
    #[derive(Clone)]
    struct Crashing(MemorySite, Crash);
    impl Site for Crashing {
        async fn checkpoint(&self) -> Result<Checkpoint, BoxError> {
            self.0.checkpoint().await
        }
        async fn apply(&self, e: &LogEvent, c: &Checkpoint, f: Fence) -> Result<(), BoxError> {
            self.0.apply(e, c, f).await
        }
        async fn upload_cursor(&self) -> Result<Option<String>, BoxError> {
            self.0.upload_cursor().await
        }
        async fn comments_after(
            &self,
            c: Option<&str>,
            n: usize,
        ) -> Result<Vec<UploadComment>, BoxError> {
            self.0.comments_after(c, n).await
        }
        async fn count_after(&self, c: Option<&str>) -> Result<u64, BoxError> {
            self.0.count_after(c).await
        }
        async fn record_upload(
            &self,
            i: &BTreeMap<String, String>,
            c: Option<&str>,
            f: Fence,
        ) -> Result<(), BoxError> {
            self.0.record_upload(i, c, f).await
        }
    }
    impl DownloadSite for Crashing {
        async fn download_cursor(&self) -> Result<u64, BoxError> {
            self.1.step(self.0.download_cursor()).await
        }
        async fn store_download(
            &self,
            c: &[fastcomments::integration::EventComment],
            n: u64,
            f: Fence,
        ) -> Result<(), BoxError> {
            self.1.step(self.0.store_download(c, n, f)).await
        }
        async fn unsent_ids(&self, n: usize) -> Result<Vec<IdMapping>, BoxError> {
            self.1.step(self.0.unsent_ids(n)).await
        }
        async fn ids_sent(&self, m: &[IdMapping]) -> Result<(), BoxError> {
            self.1.step(self.0.ids_sent(m)).await
        }
    }
    let mut points = 0;
    for n in 1.. {
        let mut fired = false;
        for after in [false, true] {
            let server = server().await;
            server.confirm_integration(TOKEN, TENANT);
            server.set_integration_page_size(3);
            server.seed_comments(TENANT, "post-1", 7);
            let site = MemorySite::new();
            let store = MemoryStore::new();
            let crash = Crash::at(n, after);
            let mut done = false;
            for _ in 0..20 {
                let integration = start(
                    server.base_url(),
                    Crashing(site.clone(), crash.clone()),
                    store.clone(),
                )
                .await;
                integration.tick().await.unwrap();
                if integration.download().await.is_ok_and(|r| r.done) {
                    done = true;
                    break;
                }
            }
            fired |= crash.fired();
            let at = format!("crash at call {n}, after: {after}");
            assert!(done, "{at}");
            let data = site.data();
            assert_eq!(data.comments.len(), 7, "{at}");
            assert!(data.unsent_ids.is_empty(), "{at}");
            let api = client(server.base_url()).integration(Token::new(TOKEN));
            let all = api.comments(0, false).await.unwrap().comments;
            let rest = api.comments(3, false).await.unwrap().comments;
            let last = api.comments(6, false).await.unwrap().comments;
            for c in all.iter().chain(&rest).chain(&last) {
                let local = data
                    .comments
                    .values()
                    .find(|l| l.fastcomments_id.as_deref() == Some(c.id.as_str()))
                    .unwrap_or_else(|| panic!("{at}: {} missing", c.id));
                assert_eq!(
                    c.meta.as_ref().unwrap()["wpId"],
                    local.local_id.as_str(),
                    "{at}"
                );
            }
        }
        if !fired {
            break;
        }
        points += 1;
    }
    assert!(points >= 8, "only {points} crash points");
}

/// FastComments refusing the id mappings for good (a 400 on every `PATCH comment-ids`)
/// never blocks the download: every comment is stored, the refused mappings are reported
/// and given up, and the download is done.
#[tokio::test]
async fn refused_id_mappings_are_reported_and_never_block_the_download() {
    let server = server().await;
    server.confirm_integration(TOKEN, TENANT);
    server.set_integration_page_size(4);
    server.seed_comments(TENANT, "post-1", 10);
    server.inject(
        FaultRule::new(Fault::Status { status: 400 })
            .method("PATCH")
            .path("/integrations/v1/comment-ids")
            .times(1000),
    );
    let site = MemorySite::new();
    let integration = start(server.base_url(), site.clone(), MemoryStore::new()).await;
    integration.tick().await.unwrap(); // validated
    let report = integration.download().await.unwrap();
    assert!(report.done, "{report:#?}");
    assert_eq!((report.downloaded, report.ids_sent), (10, 0));
    assert_eq!(report.ids_refused.len(), 10, "{report:#?}");
    let data = site.data();
    assert_eq!(data.comments.len(), 10);
    assert!(data.unsent_ids.is_empty(), "given up, not sent again");
}

/// [`slow_retries_case`]'s scenario: 40 events in pages of 4 and 3 local comments
/// uploaded one a batch, every `every`-th integration request failing with 503 (none
/// when `None`), ticked until idle (at most `limit` ticks). Returns the site's data, the
/// ticks and the requests for a page of events.
async fn sync_under(every: Option<u32>, limit: usize) -> (MemoryData, usize, usize) {
    let server = server().await;
    server.confirm_integration(TOKEN, TENANT);
    server.set_integration_page_size(4);
    for (ms, data) in soak_events(40) {
        server.push_integration_event(TENANT, ms, data);
    }
    if let Some(n) = every {
        server.inject(
            FaultRule::new(Fault::Status { status: 503 })
                .path("/integrations/v1/*")
                .every(n),
        );
    }
    let site = site_with(3);
    // The client's default retry policy: a failed call is tried again 60 s later.
    let integration =
        Integration::builder(client(server.base_url()), site.clone(), MemoryStore::new())
            .token(Token::new(TOKEN))
            .batch_size(1)
            .build()
            .await
            .unwrap();
    let mut reports = Vec::new();
    for ticks in 1..=limit {
        let report = integration.tick().await.unwrap();
        let idle = report.applied == 0
            && report.uploaded == 0
            && !report.budget_exhausted
            && !report.commands.iter().any(|c| c == "SendComments");
        reports.push((report.applied, report.uploaded, report.budget_exhausted));
        if idle {
            let pages = server
                .requests()
                .iter()
                .filter(|r| r.path == "/integrations/v1/events")
                .count();
            return (site.data(), ticks, pages);
        }
    }
    panic!(
        "every {every:?}: no idle tick after {limit}: (applied, uploaded, out of budget) {reports:?}"
    );
}

/// Issue 18: a service failing every n-th request, with retries a minute later, well
/// past the tick's 30 s budget. Each tick still applies what its calls brought, so the
/// site reaches the state of a fault-free run within a bounded number of ticks.
async fn slow_retries_case(n: u32) {
    let (clean, clean_ticks, pages) = sync_under(None, 5).await;
    assert!(clean_ticks <= 3, "{clean_ticks}");
    // Each tick takes at least one step (a page of events or an upload batch), so the
    // pages, the 3 batches and the idle tick bound the ticks.
    let (data, _, _) = sync_under(Some(n), pages + 3 + 1).await;
    assert_eq!(data.effects.len(), clean.effects.len(), "every {n}");
    assert!(
        data.effects.values().all(|&k| k == 1),
        "an event applied twice"
    );
    assert!(
        content(&data) == content(&clean),
        "every {n}: the comments differ"
    );
    assert!(data.votes == clean.votes, "every {n}: the votes differ");
    assert_eq!(data.checkpoint.at_ms, clean.checkpoint.at_ms);
}

#[tokio::test(start_paused = true)]
async fn a_service_failing_every_second_request_never_livelocks_the_runner() {
    slow_retries_case(2).await;
}

#[tokio::test(start_paused = true)]
async fn a_service_failing_every_third_request_never_livelocks_the_runner() {
    slow_retries_case(3).await;
}

#[tokio::test(start_paused = true)]
async fn a_service_failing_every_fifth_request_never_livelocks_the_runner() {
    slow_retries_case(5).await;
}

/// Issue 18: `create-testing-events` as the service plays it. The raw `/events` answer
/// gives `createdAt` as ISO-8601 strings over several milliseconds, each vote event
/// carries the comment voted on (what FastComments' reference cores read), and the
/// runner leaves the site with two new comments net, each with its vote.
#[tokio::test]
async fn the_testing_events_are_realistic_and_leave_two_new_comments_with_their_votes() {
    let server = server().await;
    server.confirm_integration(TOKEN, TENANT);
    let at = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .unwrap()
        .timestamp_millis();
    let ids = server.create_integration_testing_events(TENANT, at);
    let raw = get(format!(
        "{}/integrations/v1/events?token={TOKEN}&fromDateTime=0",
        server.base_url()
    ))
    .await;
    let events = raw["events"].as_array().unwrap();
    assert_eq!(events.len(), ids.len());
    let stamps: Vec<&str> = events
        .iter()
        .map(|e| e["createdAt"].as_str().expect("createdAt is a string"))
        .collect();
    assert_eq!(stamps[0], "2026-01-01T00:00:00.000Z");
    for stamp in &stamps {
        chrono::DateTime::parse_from_rfc3339(stamp).expect("ISO-8601");
    }
    let mut distinct = stamps.clone();
    distinct.dedup();
    assert!(distinct.len() > 1, "one millisecond: {stamps:?}");
    let data: Vec<Value> = events
        .iter()
        .map(|e| serde_json::from_str(e["data"].as_str().unwrap()).unwrap())
        .collect();
    let mut votes = 0;
    for d in data
        .iter()
        .filter(|d| d["type"].as_str().unwrap().ends_with("-vote"))
    {
        votes += 1;
        assert_eq!(d["comment"]["_id"], d["vote"]["commentId"], "{d}");
    }
    assert!(votes >= 2);
    let kinds = |kind: &str| data.iter().filter(|d| d["type"] == kind).count();
    assert!(kinds("new-comment") - kinds("deleted-comment") >= 2);
    assert!(kinds("updated-comment") >= 1 && kinds("deleted-vote") >= 1);

    let site = MemorySite::new();
    let integration =
        Integration::builder(client(server.base_url()), site.clone(), MemoryStore::new())
            .token(Token::new(TOKEN))
            .skip_initial_sync(true)
            .build()
            .await
            .unwrap();
    let report = integration.tick().await.unwrap();
    assert_eq!(report.applied, ids.len() as u64, "{report:#?}");
    assert!(report.malformed.is_empty() && report.undeliverable.is_empty());
    let seen = site.data();
    assert_eq!(seen.checkpoint.at_ms, at + ids.len() as i64 - 1);
    let comments: Vec<_> = seen.comments.values().collect();
    assert_eq!(comments.len(), 2, "two new comments net: {comments:#?}");
    assert!(
        comments
            .iter()
            .all(|c| (c.votes_up, c.votes_down) == (1, 0))
    );
    assert_eq!(seen.votes.len(), 2);
}

/// The service sends `createdAt` as a string; a number (an older or other server) is
/// still read as epoch milliseconds.
#[tokio::test]
async fn an_event_whose_created_at_is_a_number_still_decodes() {
    let body = json!({"status": "success", "hasMore": false, "events": [
        {"_id": "e1", "createdAt": 1_500, "urlId": "p",
         "data": event_data("new-comment", comment("c1", "hi"))}
    ]});
    let base = scripted(json!({"status": "success", "commands": []}), body).await;
    let page = client(&base)
        .integration(Token::new(TOKEN))
        .events(0)
        .await
        .unwrap();
    assert_eq!(page.events[0].created_at, 1_500);
}
