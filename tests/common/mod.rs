//! Helpers shared by the integration tests.
#![allow(dead_code)]

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

/// Serves `router` on a free loopback port; returns its base URL. The server lives
/// as long as the test's runtime.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// A loopback address where nothing listens: connecting to it is refused.
pub async fn refusing_address() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}
