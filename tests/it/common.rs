//! Helpers shared by the integration tests.

use std::sync::{Arc, Mutex};

use fastcomments::Client;
use fastcomments::mock::MockServer;

pub const TENANT: &str = "tenant-a";
pub const API_KEY: &str = "sk-test-7f3a9c1e";

/// A mock server with [`TENANT`] registered under [`API_KEY`], and a client for it.
pub async fn mock() -> (MockServer, Client) {
    let server = MockServer::start().await.expect("mock server starts");
    server.add_tenant(TENANT, API_KEY);
    let client = server.client(TENANT, API_KEY).expect("client builds");
    (server, client)
}

/// Saves a comment by "Ann" with `text` on page `url_id` (`https://e.com/<url_id>`).
pub async fn save_comment(
    client: &Client,
    text: &str,
    url_id: &str,
) -> Result<fastcomments::types::ApiSaveCommentResponse, fastcomments::Error> {
    client
        .save_comment()
        .body_map(|b| {
            b.comment(text)
                .commenter_name("Ann")
                .url(format!("https://e.com/{url_id}"))
                .url_id(url_id)
                .locale("en_us")
        })
        .send()
        .await
}

/// Serves `router` on a free loopback port; returns its base URL. The server lives
/// as long as the test's runtime.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// The JSON the mock answers for `path_and_query`, sent with [`API_KEY`].
pub async fn raw_json(server: &MockServer, path_and_query: &str) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!("{}{path_and_query}", server.base_url()))
        .header("x-api-key", API_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A loopback address where nothing listens: connecting to it is refused.
pub async fn refusing_address() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// A `tracing` subscriber's output, kept for assertions.
///
/// One global subscriber, installed once for the whole test binary, writes each event to
/// the capture installed on the thread that emitted it (none: dropped). A subscriber set
/// per thread (`set_default`) is not enough: `tracing` caches each callsite's interest
/// process-wide, so an event first seen on a thread without a subscriber could stay
/// disabled for the test that captures it (it failed 2 runs in 3).
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

thread_local! {
    static CAPTURING: std::cell::RefCell<Option<Captured>> = const { std::cell::RefCell::new(None) };
}

/// Where the global subscriber writes: this thread's capture, if any.
struct ThreadCapture;

impl std::io::Write for ThreadCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURING.with(|c| {
            if let Some(captured) = c.borrow().as_ref() {
                captured.0.lock().unwrap().extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Stops capturing on this thread when dropped.
pub struct CaptureGuard(());

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        CAPTURING.with(|c| c.borrow_mut().take());
    }
}

impl Captured {
    /// Captures every event at every level emitted on this thread until the guard is
    /// dropped (a `#[tokio::test]` runs the client and the mock on its thread).
    pub fn install(&self) -> CaptureGuard {
        static GLOBAL: std::sync::Once = std::sync::Once::new();
        GLOBAL.call_once(|| {
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(|| ThreadCapture)
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global subscriber in the test binary");
        });
        CAPTURING.with(|c| *c.borrow_mut() = Some(self.clone()));
        CaptureGuard(())
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// The `sso` of a moderator of a tenant whose API secret is `api_key` (in the mock, a
/// tenant's API key is its API secret): what the moderation API, pinning and locking,
/// and editing another's comment need.
pub fn moderator_sso(api_key: &str) -> String {
    let mut moderator = fastcomments::sso::SsoUser::new("mod-1", "mod@example.com", "mod");
    moderator.is_moderator = Some(true);
    fastcomments::sso::SecureSso::new(api_key)
        .sign(&moderator)
        .to_query_param()
}
