//! `cargo xtask spec <file-or-url>`: replace `openapi.json` and print what changed.
//! `cargo xtask spec --diff <old> <new>`: print what changed between two specs.
//! `cargo xtask spec --check [<file>]`: build the crate from a spec, without replacing
//! `openapi.json`, and fail when generation and the spec disagree.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "usage:
  cargo xtask spec <file-or-url>        replace openapi.json and print what changed
  cargo xtask spec --diff <old> <new>   print what changed between two specs, replace nothing
  cargo xtask spec --check [<file>]     build the crate (default features, then mock) from
                                        openapi.json or <file>; openapi.json is left as it is";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["spec", "--check"] => xtask::check(&root, None).map(|report| println!("{report}")),
        ["spec", "--check", file] => {
            xtask::check(&root, Some(Path::new(file))).map(|report| println!("{report}"))
        }
        ["spec", "--diff", old, new] => xtask::diff_files(old, new).map(|diff| print!("{diff}")),
        ["spec", source] => {
            xtask::refresh(source, &root.join("openapi.json")).map(|diff| print!("{diff}"))
        }
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
