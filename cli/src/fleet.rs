//! `sync`: the integration protocol for one site into a SQL site (`SqlSite` and its
//! state in the same database), printing the confirmation URL and each tick's progress.
//! `fleet-worker`: one worker of a fleet, ticking the sites of `fastcomments_sites`.
//!
//! The database URL comes from `--db` or `FASTCOMMENTS_DATABASE_URL`; `--db` refuses a
//! URL with a password (it would be in `ps` and the shell's history).

use std::time::Duration;

use clap::{Arg, ArgAction, ArgMatches, Command};
use fastcomments::integration::{self, Integration, StateStore, Token};
use fastcomments::sql::{Fleet, SqlDb, SqlSite, SqlSiteFactory, SqlStateStore};

use crate::credentials::{Credentials, DATABASE_URL, INTEGRATION_TOKEN};
use crate::exit::{Failure, code_of};
use crate::output::line;

fn db_arg() -> Arg {
    Arg::new("db")
        .long("db")
        .value_name("sqlite://FILE|postgres://...")
        .help("The database [default: FASTCOMMENTS_DATABASE_URL]; a password only from the environment or a --credentials file")
}

pub fn sync_command() -> Command {
    Command::new("sync")
        .about("Run the integration protocol for a site into a SQL database, until Ctrl-C")
        .arg(db_arg())
        .arg(
            Arg::new("site")
                .long("site")
                .default_value("site")
                .help("The site's id in the database"),
        )
        .arg(
            Arg::new("domain")
                .long("domain")
                .help("The site's domain, as FastComments shows it"),
        )
        .arg(
            Arg::new("once")
                .long("once")
                .action(ArgAction::SetTrue)
                .help("Stop when caught up instead of running until Ctrl-C"),
        )
}

pub fn worker_command() -> Command {
    Command::new("fleet-worker")
        .about("Run one worker of a fleet on the sites of fastcomments_sites, until Ctrl-C")
        .arg(db_arg())
        .arg(
            Arg::new("worker-id")
                .long("worker-id")
                .help("The worker's id [default: a random one]"),
        )
}

/// The database URL from `--db` (without a password) or the credentials.
async fn database(args: &ArgMatches, credentials: &Credentials) -> Result<SqlDb, Failure> {
    let url = match args.get_one::<String>("db") {
        Some(url) => {
            let has_password = reqwest::Url::parse(url).is_ok_and(|u| {
                u.password().is_some()
                    || u.query_pairs()
                        .any(|(k, _)| k.to_ascii_lowercase().contains("pass"))
            });
            if has_password {
                return Err(Failure::usage(format!(
                    "--db carries a password, which would show in ps and the shell's history: put the URL in {DATABASE_URL}"
                )));
            }
            url.as_str()
        }
        None => credentials.require(DATABASE_URL)?,
    };
    SqlDb::connect(url).await.map_err(database_failure)
}

fn database_failure(error: impl std::fmt::Display) -> Failure {
    Failure::other(format!("the database: {error}"))
}

fn integration_failure(error: integration::Error) -> Failure {
    match error {
        integration::Error::Client(e) => Failure::new(code_of(&e), e.to_string()),
        other => Failure::other(other),
    }
}

pub async fn sync(
    args: &ArgMatches,
    credentials: &Credentials,
    global: &ArgMatches,
) -> Result<(), Failure> {
    let db = database(args, credentials).await?;
    let site_id = args.get_one::<String>("site").expect("defaulted");
    let site = SqlSite::open(db.clone(), site_id.as_str())
        .await
        .map_err(database_failure)?;
    let store = SqlStateStore::open(db, site_id.as_str())
        .await
        .map_err(database_failure)?;
    let validated = store
        .load()
        .await
        .map_err(|e| Failure::other(format!("reading the site's state: {e}")))?
        .validated;
    let mut builder = Integration::builder(credentials.client(global)?, site, store)
        .integration_type("rust-cli")
        .on_upload(|sent, left| {
            // A closed stdout shows at the next line the loop prints.
            let _ = line(format!("uploaded {sent} comments, {left} to go"));
        });
    if let Some(domain) = args.get_one::<String>("domain") {
        builder = builder.domain(domain);
    }
    if let Some(token) = credentials.get(INTEGRATION_TOKEN) {
        builder = builder.token(Token::new(token));
    }
    let integration = builder.build().await.map_err(integration_failure)?;
    if !validated {
        // The URL holds the integration token: shown only until it is confirmed.
        line(format!(
            "confirm the integration at {}",
            integration.confirmation_url()
        ))?;
    }
    let once = args.get_flag("once");
    let work = async {
        let mut confirmed = false;
        loop {
            let report = integration.tick().await.map_err(integration_failure)?;
            if report.validated && !confirmed {
                line("confirmed")?;
                confirmed = true;
            }
            if report.applied > 0 || report.uploaded > 0 {
                line(format!(
                    "applied {} events, uploaded {} comments",
                    report.applied, report.uploaded
                ))?;
            }
            for (id, reason) in report.skipped_events.iter().chain(&report.skipped_uploads) {
                line(format!("gave up {id}: {reason}"))?;
            }
            let idle = report.applied == 0 && report.uploaded == 0 && !report.budget_exhausted;
            if once && report.validated && idle {
                return Ok(());
            }
            if !report.budget_exhausted {
                let wait = if report.validated { 5 } else { 3 };
                tokio::time::sleep(Duration::from_secs(wait)).await;
            }
        }
    };
    tokio::select! {
        done = work => done,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

pub async fn worker(
    args: &ArgMatches,
    credentials: &Credentials,
    global: &ArgMatches,
) -> Result<(), Failure> {
    let db = database(args, credentials).await?;
    let mut builder = Fleet::new(db).worker(credentials.client(global)?, SqlSiteFactory);
    if let Some(id) = args.get_one::<String>("worker-id") {
        builder = builder.id(id);
    }
    let worker = builder.build();
    line(format!(
        "worker {} running; Ctrl-C releases its sites and stops it",
        worker.id()
    ))?;
    let report = worker
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    line(format!(
        "stopped: {} ticks, {} failed ({} fenced), {} failed claims",
        report.ticks, report.failed, report.fenced, report.claim_errors
    ))
}
