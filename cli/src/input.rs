//! A value given on the command line inline, as `@FILE`, or as `-` for stdin: how
//! `--body`, `--user` and `--credentials` are read.

use std::io::Read;

use crate::exit::Failure;

/// The text `value` stands for; `what` names it in a failure (exit code 2).
pub fn read_argument(value: &str, what: &str) -> Result<String, Failure> {
    if value == "-" {
        return read_stdin(what);
    }
    match value.strip_prefix('@') {
        Some(path) => read_file(path, what),
        None => Ok(value.to_owned()),
    }
}

/// All of stdin.
pub fn read_stdin(what: &str) -> Result<String, Failure> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| Failure::usage(format!("reading {what} from stdin: {e}")))?;
    Ok(text)
}

/// The file at `path`, or stdin for `-`.
pub fn read_file(path: &str, what: &str) -> Result<String, Failure> {
    if path == "-" {
        return read_stdin(what);
    }
    std::fs::read_to_string(path)
        .map_err(|e| Failure::usage(format!("reading {what} from {path}: {e}")))
}
