//! An in-process mock FastComments server (feature `mock`), for this crate's tests and
//! for yours.
//!
//! It binds `127.0.0.1:0`, keeps its data in memory per tenant, checks the API key and
//! tenant like the real service and answers its error shape (`{status: "failed", code,
//! reason}`) with the real codes. Every answer is built as the generated response type of
//! its operation before it is serialized, so the mock cannot drift from the spec's
//! shapes without failing loudly (HTTP 500, code `mock-shape`).
//!
//! Every operation of the spec answers, and an answer invents only what neither the
//! request nor the store knows: comments (one store for the secured, public and
//! moderation APIs), pages, SSO users, votes, audit logs (written by the mock on every
//! change), image upload, FastComments' side of the integration protocol
//! (`/integrations/v1/*`), and the resources found in the spec's paths (a collection with
//! items under it, one store per tenant shared by its public and secured routes) are
//! stored; every other answer is generated from its response schema, the same for the
//! same request and seed, with each field the request named set to what it named
//! (`ground`). Requests are checked against the spec first (required parameters, enum
//! values, the body's type), and an `sso` parameter like FastComments checks it (`sso`).
//!
//! Every write is one change of the tenant's change feed (`store::feed`), which the
//! live-event sockets, the webhook queue, the integration event log and the public event
//! log read alike.
//!
//! It plays FastComments' live-event WebSocket too (`LIVE.md`): `GET
//! /sub?urlId=<urlIdWS>&userIdWS=<userIdWS>&tenantIdWS=<tenantId>` subscribes to the page
//! `urlIdWS` names (as decoded once: encoded again, it names a room nothing reaches, as
//! on FastComments). Each change of the page comes as a text frame holding its event
//! log entry's `data`, in feed order; presence (`p-u`, with `uj`/`ul` and the room's
//! subscriber count `sc`) when someone joins or leaves; `pong` to the text `ping`, a Pong
//! to a Ping. A test breaks the sockets on purpose with
//! [`MockServer::drop_live_sockets`], [`MockServer::stall_live_sockets`] and
//! [`MockServer::send_live_frame`], and watches them with
//! [`MockServer::live_subscribers`] and [`MockServer::live_connections`].
//!
//! Layers, bottom up: `store` (what is kept, per area: tenants and their collections,
//! the change feed, the live rooms, the webhook queue, the integration side, the faults; no store
//! imports a handler), the spec's table and the request checks (`table`, `check`,
//! `sso`), how answers are made (`fake`, `ground`, `resources`), the handlers (one
//! module per family of routes), and the router.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use fastcomments::mock::MockServer;
//! let server = MockServer::start().await?;
//! server.add_tenant("demo", "demo-key");
//! server.seed_comments("demo", "my-page", 3);
//! let client = server.client("demo", "demo-key")?;
//! let page = client.get_comments().url_id("my-page").send().await?;
//! assert_eq!(page.comments.len(), 3);
//! # Ok(()) }
//! ```

mod audit_logs;
mod auth;
mod check;
mod comment_actions;
mod comments;
mod enums;
mod event_log;
mod example;
mod fake;
mod faults;
mod generic;
mod ground;
mod integration;
mod lists;
mod live;
mod pages;
mod public;
mod resources;
mod respond;
mod serve;
mod sso;
mod sso_users;
mod store;
mod table;
mod upload;
mod votes;
mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State as AxumState};
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::sync::oneshot;

use crate::webhook::WebhookEventType;
pub use example::ExampleRequest;
pub use store::RecordedRequest;
use store::State;
pub use store::faults::{Fault, FaultRule, MAX_LATENCY};
pub use store::live::LiveSubscriber;
pub use webhooks::{EndpointVerdict, WebhookTestVerdict};

/// A running mock server. Dropping it stops it and closes its live-event sockets (as
/// [`MockServer::drop_live_sockets`] does: no close frame).
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    base_url: String,
    state: Arc<State>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl MockServer {
    /// Starts a server on `127.0.0.1` at a free port.
    pub async fn start() -> std::io::Result<MockServer> {
        MockServer::start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts a server on `addr` (port 0 picks a free one).
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<MockServer> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::default());
        let app = router(state.clone());
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(serve::serve(listener, app, stopped));
        let wake = store::lock(&state.webhooks).wake.clone();
        tokio::spawn(webhooks::deliver(Arc::downgrade(&state), wake));
        Ok(MockServer {
            addr,
            base_url: format!("http://{addr}"),
            state,
            shutdown: Some(shutdown),
        })
    }

    /// The base URL to give [`ClientBuilder::base_url`](crate::ClientBuilder::base_url).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Registers a tenant and the API key that authorizes it. Registering it again
    /// replaces the key and keeps the data.
    ///
    /// As FastComments' other SDKs use it, the API key is also the tenant's API secret:
    /// the mock checks secure SSO signed with it, signs the tenant's webhooks (signature
    /// and `token` header) with it, and gives it as `/integrations/v1/api-secret`.
    pub fn add_tenant(&self, tenant_id: &str, api_key: &str) {
        self.state.add_tenant(tenant_id, api_key);
    }

    /// A client for `tenant_id` pointed at this server.
    pub fn client(&self, tenant_id: &str, api_key: &str) -> Result<crate::Client, crate::Error> {
        crate::Client::builder()
            .base_url(&self.base_url)
            .tenant_id(tenant_id)
            .api_key(api_key)
            .build()
    }

    /// Adds `count` comments to page `url_id` of a registered tenant, one second apart,
    /// the newest last; returns their ids. Creates the page if needed.
    ///
    /// # Panics
    /// If the tenant was not registered with [`MockServer::add_tenant`].
    pub fn seed_comments(&self, tenant_id: &str, url_id: &str, count: usize) -> Vec<String> {
        self.state
            .with_tenant(tenant_id, |t| comments::seed(t, tenant_id, url_id, count))
            .unwrap_or_else(|| panic!("seed_comments: unknown tenant {tenant_id}"))
    }

    /// Adds a page to a registered tenant; returns its id.
    ///
    /// # Panics
    /// If the tenant was not registered with [`MockServer::add_tenant`].
    pub fn seed_page(&self, tenant_id: &str, url_id: &str, title: &str) -> String {
        self.state
            .with_tenant(tenant_id, |t| pages::seed(t, url_id, title))
            .unwrap_or_else(|| panic!("seed_page: unknown tenant {tenant_id}"))
    }

    /// Adds `count` SSO users (`user0`, `user1`, ...) to a registered tenant.
    ///
    /// # Panics
    /// If the tenant was not registered with [`MockServer::add_tenant`].
    pub fn seed_sso_users(&self, tenant_id: &str, count: usize) {
        self.state
            .with_tenant(tenant_id, |t| sso_users::seed(t, count))
            .unwrap_or_else(|| panic!("seed_sso_users: unknown tenant {tenant_id}"));
    }

    /// Adds `count` generated items to the collection of a list operation the mock
    /// serves generically (every list operation with a stream but `GetComments`,
    /// `GetAuditLogs` and `GetSSOUsers`, which have seeding methods of their own). The
    /// items have every field the spec requires and unique ids; they are listed in the
    /// order added. Operations without a tenant (the moderation API's `getApiComments`)
    /// share one collection whatever `tenant_id` says.
    ///
    /// # Panics
    /// If the tenant was not registered or the operation is not served generically.
    pub fn seed_list(&self, tenant_id: &str, operation_id: &str, count: usize) {
        lists::seed(&self.state, tenant_id, operation_id, count).unwrap_or_else(|| {
            panic!(
                "seed_list: unknown tenant {tenant_id}, or {operation_id} is not a list the \
                 mock serves generically"
            )
        });
    }

    /// A request the mock accepts for `operation_id`: every required parameter and body
    /// field filled from the spec's schemas, and each id in its path naming an object
    /// seeded for it in `tenant_id` (a comment for `{commentId}`, a tenant user for
    /// `/tenant-users/{id}`, ...). `None` for an operation the spec does not have or the
    /// client does not generate.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use fastcomments::mock::MockServer;
    /// let server = MockServer::start().await?;
    /// server.add_tenant("demo", "key");
    /// let example = server.example_request("demo", "GetTenant").unwrap();
    /// let client = server.client("demo", "key")?;
    /// let id: String = example.param("id")?;
    /// let found = client.get_tenant().id(id).send().await?;
    /// assert_eq!(found.tenant.id, example.params["id"]);
    /// # Ok(()) }
    /// ```
    pub fn example_request(&self, tenant_id: &str, operation_id: &str) -> Option<ExampleRequest> {
        example::build(&self.state, tenant_id, operation_id)
    }

    /// Seeds what the mock generates (answers of the operations it keeps no state for,
    /// items it makes up): the same seed and the same requests give the same answers.
    /// The default is 0.
    pub fn set_seed(&self, seed: u64) {
        self.state.set_seed(seed);
    }

    /// Confirms an integration token for `tenant_id`, as a site admin does on
    /// FastComments' confirmation page (also `GET
    /// /auth/my-account/integrations/v1/confirm?token=…&tenantId=…`).
    pub fn confirm_integration(&self, token: &str, tenant_id: &str) {
        self.state.confirm_integration(token, tenant_id);
    }

    /// Writes an event into `tenant_id`'s integration log at `created_at_ms`; `data` is
    /// the event's `data` string as sent (any text: malformed data is allowed, to test
    /// with). Returns the event's `_id`. The log stays in `createdAt` order.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use fastcomments::mock::MockServer;
    /// let server = MockServer::start().await?;
    /// let data = serde_json::json!({"type": "deleted-comment", "comment": {"_id": "c1"}});
    /// let id = server.push_integration_event("demo", 1_700_000_000_000, data.to_string());
    /// assert_eq!(id.len(), 24);
    /// # Ok(()) }
    /// ```
    pub fn push_integration_event(
        &self,
        tenant_id: &str,
        created_at_ms: i64,
        data: impl Into<String>,
    ) -> String {
        self.state
            .push_integration_event(tenant_id, created_at_ms, data.into())
    }

    /// Writes FastComments' testing events into `tenant_id`'s log from `created_at_ms`
    /// on, one a millisecond (what `GET /auth/my-account/integrations/v1/create-testing-events`
    /// does at the current time), nine in all: three new comments, an edit of the first,
    /// an up vote on each of the first two, a down vote on the third, that vote deleted,
    /// the third comment deleted. Each vote event carries the comment voted on beside
    /// the vote, as the service sends it. Net: two new comments, one up vote each.
    /// Returns the events' ids, in log order.
    pub fn create_integration_testing_events(
        &self,
        tenant_id: &str,
        created_at_ms: i64,
    ) -> Vec<String> {
        integration::write_testing_events(&self.state, tenant_id, created_at_ms)
    }

    /// The comments uploaded to `tenant_id` through the integration, one per
    /// `externalId` (a batch sent again is de-duplicated), each with the `_id` given.
    pub fn integration_uploads(&self, tenant_id: &str) -> Vec<serde_json::Value> {
        self.state.integration_uploads(tenant_id)
    }

    /// Every upload batch `tenant_id` received, as `(comments, countRemaining)`.
    pub fn integration_batches(&self, tenant_id: &str) -> Vec<(usize, u64)> {
        self.state.integration_batches(tenant_id)
    }

    /// Events per page of `GET /integrations/v1/events` (default 100, at least 1).
    pub fn set_integration_page_size(&self, events: usize) {
        self.state.set_integration_limits(Some(events), None);
    }

    /// The largest body `POST /integrations/v1/comments` accepts, in bytes; a larger one
    /// gets HTTP 413 `payload-too-large`, whatever the number of comments in it, as a
    /// server's request limit does (default 2,000,000, FastComments' 2 MB; at least 1).
    /// A body over 64 MiB is refused by the mock whatever this limit.
    pub fn set_integration_body_limit(&self, bytes: usize) {
        self.state.set_integration_limits(None, Some(bytes));
    }

    /// Sends `tenant_id`'s webhooks of every event type to `url`, with FastComments'
    /// default methods (PUT, PUT, DELETE), signed with the tenant's API secret (its API
    /// key: in the mock a tenant has one secret, see [`MockServer::add_tenant`]): from
    /// now on every comment created, updated or deleted through any of the mock's APIs
    /// is delivered there, retried 1 minute × the attempts so far after a failure, and
    /// listed by `GetPendingWebhookEvents` until delivered.
    pub fn set_webhook_receiver(&self, tenant_id: &str, url: &str) {
        for event_type in WebhookEventType::ALL {
            self.state
                .set_webhook(tenant_id, event_type, url, event_type.default_method());
        }
    }

    /// Sends `tenant_id`'s webhooks of one event type to `url` with `method`, as
    /// FastComments' admin configures each event type (its own URL and method), signed
    /// with the tenant's API secret. Fails, changing nothing, for a method the admin
    /// does not offer for that type ([`WebhookEventType::offered_methods`]).
    pub fn set_webhook_endpoint(
        &self,
        tenant_id: &str,
        event_type: WebhookEventType,
        url: &str,
        method: reqwest::Method,
    ) -> Result<(), crate::webhook::WebhookConfigError> {
        event_type.check_offered(&method)?;
        self.state.set_webhook(tenant_id, event_type, url, method);
        Ok(())
    }

    /// FastComments' "send test payload" for `tenant_id`'s endpoints: to each, one
    /// delivery of a test comment (its id alone) with the right secret, which must
    /// succeed, and one with a wrong secret, which must get 401. `None` when the tenant
    /// has no endpoint.
    pub async fn send_webhook_test_payload(&self, tenant_id: &str) -> Option<WebhookTestVerdict> {
        self.state.test_webhook(tenant_id).await
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.requests()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        self.state.clear_requests();
    }

    /// Scripts a fault: the requests `rule` matches get its [`Fault`] instead of their
    /// normal answer. Rules apply in the order given, first match wins.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use fastcomments::mock::{Fault, FaultRule, MockServer};
    /// use fastcomments::{Error, RetryPolicy};
    /// let server = MockServer::start().await?;
    /// server.add_tenant("demo", "key");
    /// server.inject(FaultRule::new(Fault::Status { status: 503 }).path("/api/v1/pages").times(2));
    /// let client = server.client("demo", "key")?.with_retry(RetryPolicy::none());
    /// let error = client.get_pages().send().await.unwrap_err();
    /// assert_eq!(error.status(), Some(503));
    /// # Ok(()) }
    /// ```
    pub fn inject(&self, rule: FaultRule) {
        self.state.faults.add(rule);
    }

    /// Makes every request wait `latency` before it is handled, as a distant server
    /// would (zero turns it off).
    pub fn set_latency(&self, latency: std::time::Duration) {
        self.state.faults.set_latency(latency);
    }

    /// Limits every tenant to `per_second` requests a second (a token bucket holding a
    /// second's worth), as FastComments' rate limit does: a request beyond it is
    /// answered 429 with `Retry-After` in whole seconds. The tenant is the request's
    /// `tenantId` query parameter (requests without one share a bucket). `None` lifts it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use fastcomments::RetryPolicy;
    /// use fastcomments::mock::MockServer;
    /// let server = MockServer::start().await?;
    /// server.add_tenant("demo", "key");
    /// server.set_rate_limit(Some(1));
    /// let client = server.client("demo", "key")?.with_retry(RetryPolicy::none());
    /// client.get_pages().send().await?;
    /// let error = client.get_pages().send().await.unwrap_err();
    /// assert_eq!(error.status(), Some(429));
    /// assert!(error.retry_after().is_some());
    /// assert_eq!(server.rate_limited(), 1);
    /// # Ok(()) }
    /// ```
    pub fn set_rate_limit(&self, per_second: Option<u32>) {
        self.state.rate_limit.set(per_second);
    }

    /// How many requests the rate limit answered 429 since it was set.
    pub fn rate_limited(&self) -> u64 {
        self.state.rate_limit.refused()
    }

    /// Forgets every scripted fault.
    pub fn clear_faults(&self) {
        self.state.faults.clear();
    }

    /// Closes every open live-event socket of `tenant_id` at once, as a server that
    /// crashed or a network that failed does: no close frame, the TCP connection closed.
    /// Returns how many were closed. Frames still waiting for them are lost.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use fastcomments::mock::MockServer;
    /// use futures_util::StreamExt;
    /// use tokio_tungstenite::tungstenite::Message;
    /// let server = MockServer::start().await?;
    /// server.add_tenant("demo", "key");
    /// let url = format!(
    ///     "ws://{}/sub?urlId=demo%3Apage&userIdWS=me&tenantIdWS=demo",
    ///     server.addr()
    /// );
    /// let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
    /// assert_eq!(server.drop_live_sockets("demo"), 1);
    /// // The stream ends (an error or its end) without a close frame.
    /// assert!(!matches!(socket.next().await, Some(Ok(Message::Close(_)))));
    /// # Ok(()) }
    /// ```
    pub fn drop_live_sockets(&self, tenant_id: &str) -> usize {
        store::lock(&self.state.live).cut(Some(tenant_id))
    }

    /// Stalls (`true`) the live-event sockets of `tenant_id` open now, as a hung server's
    /// are: they stay open but send nothing (no frames, no presence, no Pong or `pong`)
    /// and read nothing; the frames meant for them meanwhile, and those still waiting,
    /// are discarded. `false` ends the stall of those still open (a Ping sent during the
    /// stall is answered then). A socket opened during a stall is not stalled.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use fastcomments::mock::MockServer;
    /// let server = MockServer::start().await?;
    /// server.add_tenant("demo", "key");
    /// let url = format!(
    ///     "ws://{}/sub?urlId=demo%3Apage&userIdWS=me&tenantIdWS=demo",
    ///     server.addr()
    /// );
    /// let (_socket, _) = tokio_tungstenite::connect_async(url).await?;
    /// server.stall_live_sockets("demo", true);
    /// assert_eq!(server.send_live_frame("demo", "page", "lost"), 0);
    /// server.stall_live_sockets("demo", false);
    /// assert_eq!(server.send_live_frame("demo", "page", "sent"), 1);
    /// # Ok(()) }
    /// ```
    pub fn stall_live_sockets(&self, tenant_id: &str, stalled: bool) {
        store::lock(&self.state.live).stall(tenant_id, stalled);
    }

    /// Sends `frame` as it is, as one text frame (malformed JSON, an event type no SDK
    /// knows, anything), to every live-event subscriber of page `url_id` of `tenant_id`
    /// (room `tenantId:urlId`), after the frames already waiting for them. Returns how
    /// many got it (a stalled socket does not). Nothing is written to the event log.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use fastcomments::mock::MockServer;
    /// use futures_util::StreamExt;
    /// let server = MockServer::start().await?;
    /// server.add_tenant("demo", "key");
    /// let url = format!(
    ///     "ws://{}/sub?urlId=demo%3Apage&userIdWS=me&tenantIdWS=demo",
    ///     server.addr()
    /// );
    /// let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
    /// assert_eq!(server.send_live_frame("demo", "page", r#"{"type":"brand-new"}"#), 1);
    /// let frame = socket.next().await.unwrap()?;
    /// assert_eq!(frame.into_text()?.as_str(), r#"{"type":"brand-new"}"#);
    /// # Ok(()) }
    /// ```
    pub fn send_live_frame(&self, tenant_id: &str, url_id: &str, frame: &str) -> usize {
        let room = format!("{tenant_id}:{url_id}");
        store::lock(&self.state.live).send(tenant_id, &room, frame)
    }

    /// The live-event sockets of `tenant_id` (its `tenantIdWS`) open now, in the order
    /// they joined: each one's room (its `urlId` as decoded once) and `userIdWS`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use fastcomments::mock::MockServer;
    /// let server = MockServer::start().await?;
    /// server.add_tenant("demo", "key");
    /// // `urlIdWS` encoded a second time: `%3A` became `%253A`.
    /// let url = format!(
    ///     "ws://{}/sub?urlId=demo%253Apage&userIdWS=me&tenantIdWS=demo",
    ///     server.addr()
    /// );
    /// let (_socket, _) = tokio_tungstenite::connect_async(url).await?;
    /// let subscribers = server.live_subscribers("demo");
    /// assert_eq!(subscribers[0].room, "demo%3Apage"); // not "demo:page": nothing comes
    /// assert_eq!(subscribers[0].user_id_ws, "me");
    /// # Ok(()) }
    /// ```
    pub fn live_subscribers(&self, tenant_id: &str) -> Vec<LiveSubscriber> {
        store::lock(&self.state.live).subscribers(tenant_id)
    }

    /// How many live-event sockets the server accepted since it started, of every tenant
    /// (an upgrade refused, by a scripted fault or a bad subscription, does not count):
    /// a test counts a client's reconnects with it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use fastcomments::mock::MockServer;
    /// let server = MockServer::start().await?;
    /// server.add_tenant("demo", "key");
    /// let url = format!(
    ///     "ws://{}/sub?urlId=demo%3Apage&userIdWS=me&tenantIdWS=demo",
    ///     server.addr()
    /// );
    /// let _first = tokio_tungstenite::connect_async(&url).await?;
    /// let _second = tokio_tungstenite::connect_async(&url).await?;
    /// assert_eq!(server.live_connections(), 2);
    /// # Ok(()) }
    /// ```
    pub fn live_connections(&self) -> u64 {
        store::lock(&self.state.live).accepted()
    }

    /// Pins the clock of the change feed: with `Some(ms)` (epoch milliseconds) every new
    /// event (its log entry's `createdAt` and its `timestamp`) is stamped `ms`, or the
    /// previous event's time if later (times never go back), so that a test makes two
    /// changes in one millisecond; `None` goes back to the system clock (still never
    /// before the previous event).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use fastcomments::mock::MockServer;
    /// let server = MockServer::start().await?;
    /// server.add_tenant("demo", "key");
    /// server.set_event_time(Some(1_767_225_600_000));
    /// let client = server.client("demo", "key")?;
    /// let body = fastcomments::types::CreateCommentParams::builder()
    ///     .comment("hi").commenter_name("Ann").url("https://e.com/p").url_id("p").locale("en_us");
    /// client.save_comment().body(body).send().await?;
    /// let log = client.get_event_log().url_id("p").user_id_ws("me")
    ///     .start_time(0).end_time(1_767_225_600_000_i64).send().await?;
    /// let event: serde_json::Value = serde_json::from_str(&log.events[0].data)?;
    /// assert_eq!(event["timestamp"], 1_767_225_600_000_i64);
    /// # Ok(()) }
    /// ```
    pub fn set_event_time(&self, at_ms: Option<i64>) {
        store::lock(&self.state.feeds).pin_clock(at_ms);
    }

    /// How many events each tenant's change feed keeps (default 100,000, at least 1);
    /// older ones are forgotten at once, as FastComments' event log expires: a catch-up
    /// (`GetEventLog`) from before the oldest kept event has a gap. The webhook queue and
    /// the integration event log keep their own.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use fastcomments::mock::MockServer;
    /// let server = MockServer::start().await?;
    /// server.add_tenant("demo", "key");
    /// server.set_event_log_capacity(1);
    /// let client = server.client("demo", "key")?;
    /// for text in ["one", "two"] {
    ///     let body = fastcomments::types::CreateCommentParams::builder()
    ///         .comment(text)
    ///         .commenter_name("Ann")
    ///         .url("https://e.com/p")
    ///         .url_id("p")
    ///         .locale("en_us");
    ///     client.save_comment().body(body).send().await?;
    /// }
    /// let log = client.get_event_log().url_id("p").user_id_ws("me").start_time(0).send().await?;
    /// assert_eq!(log.events.len(), 1);
    /// assert!(log.events[0].data.contains("two"));
    /// # Ok(()) }
    /// ```
    pub fn set_event_log_capacity(&self, entries: usize) {
        store::lock(&self.state.feeds).set_capacity(entries);
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        let hooks = store::lock(&self.state.webhooks);
        hooks
            .stopped
            .store(true, std::sync::atomic::Ordering::Relaxed);
        hooks.wake.notify_one();
        drop(hooks);
        store::lock(&self.state.live).cut(None);
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

fn router(state: Arc<State>) -> Router {
    Router::new()
        .merge(faults::control_routes())
        .merge(comments::routes())
        .merge(public::routes())
        .merge(pages::routes())
        .merge(sso_users::routes())
        .merge(votes::routes())
        .merge(upload::routes())
        .merge(audit_logs::routes())
        .merge(webhooks::routes())
        .merge(lists::routes())
        .merge(integration::routes())
        .merge(event_log::routes())
        .merge(live::routes())
        .fallback(generic::answer)
        .method_not_allowed_fallback(generic::answer)
        .layer(middleware::from_fn_with_state(state.clone(), check::check))
        .layer(middleware::from_fn(respond::shape))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            faults::inject,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), record))
        .with_state(state)
}

/// Records every request but the mock's own control calls before it is handled.
async fn record(AxumState(state): AxumState<Arc<State>>, request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with(faults::CONTROL_PREFIX) {
        state.record(recorded(&request));
    }
    next.run(request).await
}

/// A request as the log keeps it, with the spec's operation it is for.
fn recorded(request: &Request) -> RecordedRequest {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    RecordedRequest {
        method: request.method().to_string(),
        path: request.uri().path().to_string(),
        query: request.uri().query().map(str::to_owned),
        api_key: header("x-api-key"),
        user_agent: header("user-agent"),
        body_size: match (header("content-length"), header("transfer-encoding")) {
            (Some(n), _) => n.parse().ok(),
            (None, Some(_)) => None,
            (None, None) => Some(0),
        },
        operation_id: respond::operation_of(request.method().as_str(), request.uri().path())
            .map(|op| op.id),
    }
}
