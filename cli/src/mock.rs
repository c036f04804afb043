//! `mock`: the crate's mock FastComments server, standalone, with a demo tenant and seed
//! comments, so every other command can be tried with no account. It prints the
//! credentials as `KEY=value` lines (a `--credentials` file, or `export` them) and
//! serves until Ctrl-C. Faults, latency, a rate limit and live sockets are controlled
//! over HTTP under `/__mock/` (the README's "Mock server" section).

use std::io::Write;
use std::net::SocketAddr;

use clap::{Arg, ArgMatches, Command};
use fastcomments::mock::MockServer;

use crate::exit::Failure;

/// The demo tenant.
pub const TENANT: &str = "demo";
/// The demo tenant's API key (the mock signs SSO and webhooks with it too).
pub const KEY: &str = "demo-key";

pub fn command() -> Command {
    Command::new("mock")
        .about(
            "Run the mock FastComments server (demo tenant, seed data, fault control) until Ctrl-C",
        )
        .arg(
            Arg::new("port")
                .long("port")
                .value_parser(clap::value_parser!(u16))
                .default_value("0")
                .help("The loopback port [default: any free one]"),
        )
        .arg(
            Arg::new("comments")
                .long("comments")
                .value_parser(clap::value_parser!(usize))
                .default_value("10")
                .help("How many comments to seed on page `welcome`"),
        )
        .arg(
            Arg::new("seed")
                .long("seed")
                .value_parser(clap::value_parser!(u64))
                .help("The seed of the mock's generated values"),
        )
}

pub async fn run(args: &ArgMatches) -> Result<(), Failure> {
    let port = *args.get_one::<u16>("port").expect("defaulted");
    let server = MockServer::start_on(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .map_err(|e| Failure::other(format!("starting the mock on port {port}: {e}")))?;
    if let Some(seed) = args.get_one::<u64>("seed") {
        server.set_seed(*seed);
    }
    server.add_tenant(TENANT, KEY);
    server.seed_comments(
        TENANT,
        "welcome",
        *args.get_one::<usize>("comments").expect("defaulted"),
    );
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "# The mock FastComments server; Ctrl-C stops it. Use these lines as a --credentials file or export them.\n\
         FASTCOMMENTS_BASE_URL={}\nFASTCOMMENTS_TENANT_ID={TENANT}\nFASTCOMMENTS_API_KEY={KEY}\nFASTCOMMENTS_API_SECRET={KEY}",
        server.base_url()
    )
    .and_then(|()| stdout.flush())?;
    drop(stdout);
    tokio::signal::ctrl_c().await?;
    Ok(())
}
