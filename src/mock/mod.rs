//! An in-process mock FastComments server (feature `mock`), for this crate's tests and
//! for yours.
//!
//! It binds `127.0.0.1:0`, keeps its data in memory per tenant, checks the API key and
//! tenant like the real service and answers its error shape (`{status: "failed", code,
//! reason}`) with the real codes. Every answer is built as the generated response type of
//! its operation before it is serialized, so the mock cannot drift from the spec's
//! shapes without failing loudly (HTTP 500, code `mock-shape`).
//!
//! Served: comments (create, get, update, delete, list by `skip`/`limit` or `page`),
//! pages, SSO users, votes, audit logs (written by the mock on every change), and image
//! upload.
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
mod comments;
mod pages;
mod respond;
mod sso_users;
mod state;
mod upload;
mod votes;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State as AxumState};
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::sync::oneshot;

pub use state::RecordedRequest;
use state::State;

/// A running mock server. Dropping it stops it.
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
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                tracing::error!(%error, "mock server stopped");
            }
        });
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

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.requests()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        self.state.clear_requests();
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

fn router(state: Arc<State>) -> Router {
    Router::new()
        .merge(comments::routes())
        .merge(pages::routes())
        .merge(sso_users::routes())
        .merge(votes::routes())
        .merge(upload::routes())
        .merge(audit_logs::routes())
        .fallback(respond::no_route)
        .layer(middleware::from_fn_with_state(state.clone(), record))
        .with_state(state)
}

/// Records every request before it is handled.
async fn record(AxumState(state): AxumState<Arc<State>>, request: Request, next: Next) -> Response {
    state.record(&request);
    next.run(request).await
}
