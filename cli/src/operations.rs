//! One subcommand per operation of the spec, grouped, built at run time from
//! `fastcomments::operations::OPERATIONS` (generated from `openapi.json`), and sent
//! through `Client::call`.
//!
//! Why not progenitor's clap generator: it emits code against progenitor's own builders
//! and `send()`, which this crate rewrites to return its own `Result` with retries and
//! path checks; and it would compile a typed function per operation (209) into the
//! binary. The table already holds what a command needs (group, parameters and their
//! kinds, body), and `Client::call` sends any operation through the one request path.
//!
//! Names: a group is the spec's tag (`public`, `moderation`) or, untagged, the resource
//! (`comments`, `sso-users`); a command is the operation id in kebab case
//! (`get-comments`); a flag is the parameter in kebab case (`--url-id`). A parameter
//! whose flag would clash with a global one is `--param-<name>`.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use clap::{Arg, ArgAction, ArgMatches, Command};
use fastcomments::Client;
use fastcomments::operations::{
    Body, OPERATIONS, Operation, Parameter, ParameterIn, ParameterKind,
};
use heck::ToKebabCase;
use serde_json::Value;

use crate::credentials::{API_KEY, Credentials, TENANT_ID};
use crate::exit::Failure;
use crate::{input, output};

/// Subcommand names the tool itself uses; a group of the same name is `api-<name>`.
const BUILT_IN: [&str; 8] = [
    "export",
    "tail",
    "sync",
    "fleet-worker",
    "webhook",
    "mock",
    "sso",
    "help",
];

/// Flags an operation's command has besides its parameters.
const RESERVED: [&str; 9] = [
    "body",
    "file",
    "content-type",
    "credentials",
    "output",
    "no-retry",
    "help",
    "version",
    "o",
];

/// The group command an operation is under.
pub fn group_name(op: &Operation) -> String {
    let name = op.group.to_kebab_case();
    if BUILT_IN.contains(&name.as_str()) {
        format!("api-{name}")
    } else {
        name
    }
}

/// The operation's command name.
pub fn command_name(op: &Operation) -> String {
    op.id.to_kebab_case()
}

/// The flag of a parameter.
fn flag_name(p: &Parameter) -> String {
    let name = p.name.to_kebab_case();
    if RESERVED.contains(&name.as_str()) {
        format!("param-{name}")
    } else {
        name
    }
}

/// Every group command with its operations' commands.
pub fn groups() -> Vec<Command> {
    let mut groups: BTreeMap<String, Vec<&'static Operation>> = BTreeMap::new();
    for op in OPERATIONS {
        groups.entry(group_name(op)).or_default().push(op);
    }
    groups
        .into_iter()
        .map(|(name, ops)| {
            let names: Vec<String> = ops.iter().take(3).map(|op| command_name(op)).collect();
            let more = if ops.len() > 3 { ", ..." } else { "" };
            let about = format!("{} operation(s): {}{more}", ops.len(), names.join(", "));
            Command::new(name)
                .about(about)
                .subcommand_required(true)
                .subcommands(ops.into_iter().map(operation_command))
        })
        .collect()
}

fn operation_command(op: &'static Operation) -> Command {
    let key = if op.requires_api_key {
        "sends the API key"
    } else {
        "public: never sends the API key"
    };
    let mut command = Command::new(command_name(op))
        .about(op.summary.to_owned())
        .long_about(format!(
            "{} {} ({}; {key}). {}",
            op.method, op.path, op.id, op.summary
        ))
        .args(op.parameters.iter().map(parameter_arg));
    command = match op.body {
        Body::None => command,
        Body::Json { required } => command.arg(
            Arg::new("body")
                .long("body")
                .value_name("JSON|@FILE|-")
                .help(if required {
                    "The JSON body (required): inline, @file, or - for stdin (read from stdin when piped)"
                } else {
                    "The JSON body: inline, @file, or - for stdin"
                }),
        ),
        Body::Multipart => command
            .arg(
                Arg::new("file")
                    .long("file")
                    .value_name("PATH")
                    .required(true)
                    .help("The file to upload"),
            )
            .arg(
                Arg::new("content-type")
                    .long("content-type")
                    .help("Its MIME type [default: from the file name]"),
            ),
    };
    command
}

fn parameter_arg(p: &'static Parameter) -> Arg {
    let tenant = p.name == "tenantId";
    let mut arg = Arg::new(p.name)
        .long(flag_name(p))
        .value_name(p.name.to_uppercase())
        .required(p.required && !tenant && p.place != ParameterIn::Header)
        .help(if tenant {
            let what = if p.description.is_empty() {
                "The tenant"
            } else {
                p.description
            };
            format!("{what} [default: FASTCOMMENTS_TENANT_ID]")
        } else {
            p.description.to_owned()
        });
    arg = match p.kind {
        ParameterKind::Boolean => arg
            .value_parser(["true", "false"])
            .num_args(0..=1)
            .default_missing_value("true"),
        ParameterKind::Enum(values) => arg.value_parser(values.to_vec()),
        ParameterKind::Array => arg.action(ArgAction::Append),
        _ => arg,
    };
    arg
}

/// The operation a group's subcommand names.
fn find(group: &str, command: &str) -> Option<&'static Operation> {
    OPERATIONS
        .iter()
        .find(|op| group_name(op) == group && command_name(op) == command)
}

/// Sends the operation `group sub` names and prints its answer.
pub async fn run(
    group: &str,
    matches: &ArgMatches,
    credentials: &Credentials,
    global: &ArgMatches,
) -> Result<(), Failure> {
    let (name, args) = matches.subcommand().expect("a subcommand is required");
    let op = find(group, name).expect("clap only accepts the commands built from the table");
    // A credential the operation needs is named before anything is sent.
    if op.requires_api_key {
        credentials.require(API_KEY)?;
    }
    let tenant_given = args
        .try_get_one::<String>("tenantId")
        .ok()
        .flatten()
        .is_some();
    if op.parameter("tenantId").is_some_and(|p| p.required) && !tenant_given {
        credentials.require(TENANT_ID)?;
    }
    let client = &credentials.client(global)?;
    let answer = match op.body {
        Body::Multipart => upload(op, args, client).await?,
        _ => {
            let mut call = client.call(op.id)?;
            for p in op.parameters {
                for value in args.get_many::<String>(p.name).into_iter().flatten() {
                    call = call.param(p.name, value.as_str());
                }
            }
            let stdin_taken =
                global.get_one::<String>("credentials").map(String::as_str) == Some("-");
            if let Some(body) = body(op, args, stdin_taken)? {
                call = call.body(body);
            }
            call.send().await?
        }
    };
    output::print(&answer, global)
}

/// The JSON body from `--body JSON`, `--body @file`, `--body -`, or stdin when the
/// operation requires one and stdin is not a terminal.
/// With `--credentials -` stdin holds the credentials, so a body from stdin is refused.
fn body(op: &Operation, args: &ArgMatches, stdin_taken: bool) -> Result<Option<Value>, Failure> {
    let required = matches!(op.body, Body::Json { required: true });
    let given = args.try_get_one::<String>("body").ok().flatten();
    if stdin_taken && (given.is_some_and(|b| b == "-") || (given.is_none() && required)) {
        return Err(Failure::usage(
            "stdin holds the credentials (--credentials -): give the body as --body JSON or --body @FILE",
        ));
    }
    let text = match given {
        Some(body) => input::read_argument(body, "the body")?,
        None if required && !std::io::stdin().is_terminal() => input::read_stdin("the body")?,
        None => return Ok(None),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Failure::usage(format!("the body is not JSON: {e}")))
}

/// The multipart operation (`UploadImage`), through the crate's hand-written builder.
async fn upload(op: &Operation, args: &ArgMatches, client: &Client) -> Result<Value, Failure> {
    let path = args.get_one::<String>("file").expect("required");
    let bytes = std::fs::read(path).map_err(|e| Failure::usage(format!("reading {path}: {e}")))?;
    let file_name = std::path::Path::new(path)
        .file_name()
        .map_or_else(|| path.clone(), |n| n.to_string_lossy().into_owned());
    let mut upload = client.upload_image(bytes, file_name);
    if let Some(tenant) = args.get_one::<String>("tenantId") {
        upload = upload.tenant_id(tenant);
    }
    if let Some(url_id) = args.get_one::<String>("urlId") {
        upload = upload.url_id(url_id);
    }
    if let Some(preset) = args.get_one::<String>("sizePreset") {
        let preset = preset
            .parse::<fastcomments::types::SizePreset>()
            .map_err(|e| Failure::usage(format!("{}: sizePreset: {e}", op.id)))?;
        upload = upload.size_preset(preset);
    }
    if let Some(content_type) = args.get_one::<String>("content-type") {
        upload = upload.content_type(content_type);
    }
    let answer = upload.send().await?;
    serde_json::to_value(answer).map_err(Failure::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_one_command_and_the_help_lists_groups() {
        let groups = groups();
        let total: usize = groups.iter().map(|g| g.get_subcommands().count()).sum();
        assert_eq!(total, OPERATIONS.len());
        assert!(groups.len() < 40, "{} groups", groups.len());
        for op in OPERATIONS {
            assert_eq!(
                find(&group_name(op), &command_name(op)).map(|o| o.id),
                Some(op.id)
            );
        }
        assert!(groups.iter().any(|g| g.get_name() == "public"));
        assert!(groups.iter().any(|g| g.get_name() == "comments"));
    }
}
