//! `sso sign`: a secure SSO token (the `sso` object FastComments' widget and public API
//! take) for a user given as JSON, signed with `FASTCOMMENTS_API_SECRET`; `--logged-out`
//! for the form without a user. The user's JSON has FastComments' camelCase keys and at
//! least `id` (and usually `email`, `username`).

use clap::{Arg, ArgAction, ArgMatches, Command};
use fastcomments::sso::{SecureSso, SsoUser};

use crate::credentials::{API_SECRET, Credentials};
use crate::exit::Failure;

pub fn command() -> Command {
    Command::new("sso")
        .about("SSO tokens")
        .subcommand_required(true)
        .subcommand(
            Command::new("sign")
                .about("A secure SSO token for a user (signed with FASTCOMMENTS_API_SECRET), printed as JSON")
                .arg(
                    Arg::new("user")
                        .long("user")
                        .value_name("JSON|@FILE|-")
                        .required_unless_present("logged-out")
                        .help("The user: {\"id\", \"email\", \"username\", ...}"),
                )
                .arg(
                    Arg::new("logged-out")
                        .long("logged-out")
                        .action(ArgAction::SetTrue)
                        .conflicts_with("user")
                        .help("The token for a visitor who is not logged in"),
                )
                .arg(Arg::new("login-url").long("login-url"))
                .arg(Arg::new("logout-url").long("logout-url")),
        )
}

pub fn run(args: &ArgMatches, credentials: &Credentials) -> Result<(), Failure> {
    let (_, sign) = args.subcommand().expect("a subcommand is required");
    let mut sso = SecureSso::new(credentials.require(API_SECRET)?);
    if let Some(url) = sign.get_one::<String>("login-url") {
        sso = sso.login_url(url);
    }
    if let Some(url) = sign.get_one::<String>("logout-url") {
        sso = sso.logout_url(url);
    }
    let payload = match sign.get_one::<String>("user") {
        None => sso.logged_out(),
        Some(user) => {
            let text = crate::input::read_argument(user, "the user")?;
            let user: SsoUser = serde_json::from_str(&text)
                .map_err(|e| Failure::usage(format!("the user is not an SSO user: {e}")))?;
            if user.id.is_empty() {
                return Err(Failure::usage("the user has no id"));
            }
            sso.sign(&user)
        }
    };
    crate::output::line(payload.to_query_param())
}
