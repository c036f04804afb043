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
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Captures every event at every level on this thread until the guard is dropped.
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}
