//! Runs the mock FastComments server standalone, for testing another program against.
//!
//! ```text
//! cargo run --example mock_server -- [PORT]
//! ```
//!
//! It registers tenant `demo` with API key `demo-key`, seeds page `welcome` with ten
//! comments, and serves until interrupted (Ctrl-C). Faults are scripted over HTTP at
//! `POST /__mock/faults` (see `fastcomments::mock::FaultRule`). Live events of page
//! `welcome` come over `ws://127.0.0.1:PORT/sub?urlId=demo%3Awelcome&userIdWS=me&tenantIdWS=demo`
//! (the live sockets' admin calls are under `/__mock/live`).

use std::net::SocketAddr;

use fastcomments::mock::MockServer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::args().nth(1) {
        Some(p) => p.parse().map_err(|_| format!("not a port number: {p}"))?,
        None => 8080,
    };
    let server = MockServer::start_on(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    server.add_tenant("demo", "demo-key");
    server.seed_comments("demo", "welcome", 10);
    println!("Mock FastComments listening on {}", server.base_url());
    println!("  tenant: demo   API key: demo-key");
    println!(
        "  try:    curl -H 'x-api-key: demo-key' '{}/api/v1/comments?tenantId=demo&limit=2'",
        server.base_url()
    );
    tokio::signal::ctrl_c().await?;
    println!("stopping");
    Ok(())
}
