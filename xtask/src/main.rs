//! `cargo xtask spec <file-or-url>`: replace `openapi.json` and print what changed.
//! `cargo xtask spec --check`: fail when generation and the committed spec disagree.

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage:\n  cargo xtask spec <file-or-url>   replace openapi.json and print what changed\n  cargo xtask spec --check         fail when generation and openapi.json disagree";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["spec", "--check"] => xtask::check(&root).map(|report| println!("{report}")),
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
