//! `tail URL_ID`: a page's live events as they happen, one JSON line each (the crate's
//! `live` stream: exactly once across reconnects, gaps reported as `{"type": "gap"}`).

use std::io::Write;

use clap::{Arg, ArgMatches, Command};
use fastcomments::Client;
use futures_util::TryStreamExt;

use crate::exit::Failure;

pub fn command() -> Command {
    Command::new("tail")
        .about("A page's live events as they happen, one JSON line each (Ctrl-C stops)")
        .arg(
            Arg::new("url-id")
                .value_name("URL_ID")
                .required(true)
                .value_parser(clap::builder::NonEmptyStringValueParser::new()),
        )
        .arg(Arg::new("since").long("since").value_name("DATE").help(
            "Start in the past: replay the event log from DATE (RFC 3339, YYYY-MM-DD or epoch ms)",
        ))
}

pub async fn run(args: &ArgMatches, client: &Client) -> Result<(), Failure> {
    let url_id = args.get_one::<String>("url-id").expect("required");
    let mut live = client.live(url_id.as_str());
    if let Some(since) = args.get_one::<String>("since") {
        let ms = crate::export::parse_date(since)?;
        let since = chrono::DateTime::from_timestamp_millis(ms)
            .ok_or_else(|| Failure::usage(format!("--since {since:?} is out of range")))?;
        live = live.since(since);
    }
    let mut events = live.subscribe().await?;
    let print = async {
        while let Some(item) = events.try_next().await? {
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{}", item.to_json()).and_then(|()| stdout.flush())?;
        }
        Ok::<(), Failure>(())
    };
    tokio::select! {
        printed = print => printed,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
