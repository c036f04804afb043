//! Credentials and settings: from the environment (the names the crate's examples use),
//! overridden by `--credentials FILE` (`KEY=value` lines, `#` comments, `-` for stdin).
//! Never from a flag: a flag's value is in `ps` and the shell's history. `Debug` shows no
//! secret.

use std::collections::BTreeMap;
use std::io::Write;

use clap::ArgMatches;
use fastcomments::{Client, Region, RetryPolicy};

use crate::exit::Failure;

/// The names read, from the environment or the file.
pub const API_KEY: &str = "FASTCOMMENTS_API_KEY";
/// The tenant id.
pub const TENANT_ID: &str = "FASTCOMMENTS_TENANT_ID";
/// The region (`global`, the default, `eu`, a data center name: `fastcomments::Region`).
pub const REGION: &str = "FASTCOMMENTS_REGION";
/// A base URL instead of a region (the mock's, a proxy).
pub const BASE_URL: &str = "FASTCOMMENTS_BASE_URL";
/// The API secret: signs SSO tokens and webhook deliveries.
pub const API_SECRET: &str = "FASTCOMMENTS_API_SECRET";
/// The integration token `sync` resumes with.
pub const INTEGRATION_TOKEN: &str = "FASTCOMMENTS_INTEGRATION_TOKEN";
/// A database URL with a password, which `--db` refuses.
pub const DATABASE_URL: &str = "FASTCOMMENTS_DATABASE_URL";

const NAMES: [&str; 7] = [
    API_KEY,
    TENANT_ID,
    REGION,
    BASE_URL,
    API_SECRET,
    INTEGRATION_TOKEN,
    DATABASE_URL,
];
const SECRETS: [&str; 4] = [API_KEY, API_SECRET, INTEGRATION_TOKEN, DATABASE_URL];

/// What was found, by name.
pub struct Credentials {
    values: BTreeMap<&'static str, String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut map = f.debug_map();
        for (name, value) in &self.values {
            let shown = if SECRETS.contains(name) {
                "<redacted>"
            } else {
                value
            };
            map.entry(name, &shown);
        }
        map.finish()
    }
}

impl Credentials {
    /// The environment's values, then the file's (`-`: stdin) over them.
    pub fn load(file: Option<&String>) -> Result<Credentials, Failure> {
        let mut values: BTreeMap<&'static str, String> = NAMES
            .iter()
            .filter_map(|name| Some((*name, std::env::var(name).ok()?)))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        if let Some(file) = file {
            values.extend(parse(&crate::input::read_file(file, "credentials")?)?);
        }
        Ok(Credentials { values })
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The value of `name`, or a usage failure saying where to set it.
    pub fn require(&self, name: &str) -> Result<&str, Failure> {
        self.get(name).ok_or_else(|| {
            Failure::usage(format!(
                "{name} is not set: export it, or put `{name}=...` in a --credentials file"
            ))
        })
    }

    /// A client for these credentials: the base URL (or region), the API key and
    /// tenant when set; FastComments' retry schedule, each retry told on stderr, or no
    /// retries with `--no-retry`.
    pub fn client(&self, matches: &ArgMatches) -> Result<Client, Failure> {
        let mut builder = Client::builder();
        builder = match (self.get(BASE_URL), self.get(REGION)) {
            (Some(url), _) => builder.base_url(url),
            (None, Some(region)) => builder.region(
                region
                    .parse::<Region>()
                    .map_err(|e| Failure::usage(format!("{REGION}: {e}")))?,
            ),
            (None, None) => builder,
        };
        if let Some(key) = self.get(API_KEY) {
            builder = builder.api_key(key);
        }
        if let Some(tenant) = self.get(TENANT_ID) {
            builder = builder.tenant_id(tenant);
        }
        builder = builder.retry(if matches.get_flag("no-retry") {
            RetryPolicy::none()
        } else {
            // A retry can wait minutes: say so, rather than hang in silence.
            RetryPolicy::default().on_retry(|event| {
                let _ = writeln!(
                    std::io::stderr(),
                    "{}: attempt {} failed ({}); retrying in {} s",
                    event.operation,
                    event.attempt,
                    crate::exit::printable(&event.cause),
                    event.wait.as_secs_f64().ceil()
                );
            })
        });
        // What the builder refuses is the configuration (a base URL that is no URL).
        builder
            .build()
            .map_err(|e| Failure::usage(format!("the client's settings: {e}")))
    }

    /// [`client`](Self::client), for a command that needs the tenant id.
    pub fn tenant_client(&self, matches: &ArgMatches) -> Result<Client, Failure> {
        self.require(TENANT_ID)?;
        self.client(matches)
    }
}

/// `KEY=value` lines; blank lines and `#` comments skipped, `export ` allowed, one level
/// of quotes removed. Unknown names are refused (a typo would otherwise go unnoticed).
fn parse(text: &str) -> Result<Vec<(&'static str, String)>, Failure> {
    let mut out = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            return Err(Failure::usage(format!(
                "credentials line {} is not KEY=value",
                number + 1
            )));
        };
        let name = NAMES.iter().find(|n| **n == name.trim()).ok_or_else(|| {
            let shown: String = name.trim().chars().take(40).collect();
            Failure::usage(format!(
                "credentials line {}: unknown name {shown:?} (known: {})",
                number + 1,
                NAMES.join(", ")
            ))
        })?;
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        out.push((*name, value.to_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_takes_env_style_lines_and_refuses_unknown_names_without_echoing_values() {
        let parsed =
            parse("# demo\nexport FASTCOMMENTS_API_KEY=\"k=1\"\n\nFASTCOMMENTS_TENANT_ID = t\n")
                .unwrap();
        assert_eq!(
            parsed,
            vec![(API_KEY, "k=1".to_owned()), (TENANT_ID, "t".to_owned())]
        );
        let refused = parse("FASTCOMMENTS_APIKEY=hunter2")
            .err()
            .unwrap()
            .one_line();
        assert!(refused.contains("FASTCOMMENTS_APIKEY"), "{refused}");
        assert!(!refused.contains("hunter2"), "{refused}");
        let refused = parse("hunter2").err().unwrap().one_line();
        assert!(!refused.contains("hunter2"), "{refused}");
    }

    #[test]
    fn debug_hides_every_secret() {
        let credentials = Credentials {
            values: [(API_KEY, "s1"), (API_SECRET, "s2"), (TENANT_ID, "t")]
                .into_iter()
                .map(|(k, v)| (k, v.to_owned()))
                .collect(),
        };
        let shown = format!("{credentials:?}");
        assert!(!shown.contains("s1") && !shown.contains("s2"), "{shown}");
        assert!(shown.contains("\"t\""), "{shown}");
    }
}
