//! `fastcomments`: every operation of the FastComments API from the shell, and `export`,
//! `tail`, `sync`, `fleet-worker`, `webhook`, `mock` and `sso` as commands.
//!
//! The operations' subcommands are built at run time from the crate's operation table
//! (`fastcomments::operations::OPERATIONS`, generated from `openapi.json` by the codegen
//! crate), so a new spec brings its commands with no hand work. Credentials come from
//! the environment or `--credentials FILE` (`-` for stdin), never from a flag
//! (`credentials.rs`). A failure prints one line and exits with the code of its kind
//! (`exit.rs`).

mod credentials;
mod exit;
mod export;
mod fleet;
mod input;
#[cfg(feature = "mock")]
mod mock;
mod operations;
mod output;
mod sso;
mod tail;
mod webhook;

use std::process::ExitCode;

use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::credentials::Credentials;
use crate::exit::Failure;

fn command() -> Command {
    let command = Command::new("fastcomments")
        .version(env!("CARGO_PKG_VERSION"))
        .about("The FastComments API from the shell")
        .after_help(
            "Credentials: FASTCOMMENTS_API_KEY, FASTCOMMENTS_TENANT_ID, FASTCOMMENTS_REGION \
             (global, eu, ...), FASTCOMMENTS_BASE_URL and FASTCOMMENTS_API_SECRET from the \
             environment or --credentials FILE (KEY=value lines; - reads stdin). \
             `fastcomments mock` starts a server to try every command with no account.",
        )
        .subcommand_required(true)
        .arg(
            Arg::new("credentials")
                .long("credentials")
                .global(true)
                .value_name("FILE")
                .help("Read credentials from FILE (KEY=value lines, - for stdin) over the environment"),
        )
        .arg(
            Arg::new("output")
                .long("output")
                .short('o')
                .global(true)
                .value_parser(["json", "compact", "table"])
                .help("Answer format [default: json on a terminal, compact when piped]"),
        )
        .arg(
            Arg::new("no-retry")
                .long("no-retry")
                .global(true)
                .action(ArgAction::SetTrue)
                .help("Fail at once instead of retrying on FastComments' schedule"),
        )
        .subcommands(operations::groups())
        .subcommand(export::command())
        .subcommand(tail::command())
        .subcommand(fleet::sync_command())
        .subcommand(fleet::worker_command())
        .subcommand(webhook::command())
        .subcommand(sso::command());
    #[cfg(feature = "mock")]
    let command = command.subcommand(mock::command());
    command
}

#[tokio::main]
async fn main() -> ExitCode {
    // reqwest is built without a default TLS provider (the crate picks ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let matches = command().get_matches();
    match run(&matches).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) if failure.is_closed_pipe() => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.one_line());
            ExitCode::from(failure.code())
        }
    }
}

async fn run(matches: &ArgMatches) -> Result<(), Failure> {
    let credentials = || Credentials::load(matches.get_one::<String>("credentials"));
    let (name, sub) = matches.subcommand().expect("a subcommand is required");
    match name {
        #[cfg(feature = "mock")]
        "mock" => mock::run(sub).await,
        "sso" => sso::run(sub, &credentials()?),
        "webhook" => webhook::run(sub, &credentials()?).await,
        "export" => export::run(sub, &credentials()?.tenant_client(matches)?).await,
        "tail" => tail::run(sub, &credentials()?.tenant_client(matches)?).await,
        "sync" => fleet::sync(sub, &credentials()?, matches).await,
        "fleet-worker" => fleet::worker(sub, &credentials()?, matches).await,
        group => operations::run(group, sub, &credentials()?, matches).await,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_tree_is_consistent() {
        super::command().debug_assert();
    }
}
