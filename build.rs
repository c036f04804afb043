//! Generates the low-level client from `openapi.json` into `OUT_DIR`: a thin entry point
//! into the `fastcomments-codegen` crate, where every spec rewrite and emitted table
//! lives (and is tested).
//!
//! `FASTCOMMENTS_SPEC=<path>` generates from another spec instead of `openapi.json`:
//! `cargo xtask spec --check FILE` uses it to try a spec without replacing the committed one.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=FASTCOMMENTS_SPEC");
    let path = std::env::var("FASTCOMMENTS_SPEC").unwrap_or_else(|_| "openapi.json".into());
    println!("cargo:rerun-if-changed={path}");
    let spec = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let options = fastcomments_codegen::Options {
        mock: std::env::var_os("CARGO_FEATURE_MOCK").is_some(),
    };
    let generated = match fastcomments_codegen::generate(&spec, options) {
        Ok(generated) => generated,
        Err(message) => {
            // A message, not a panic: it is read by people, a backtrace would bury it.
            eprintln!("generating the client from {path}: {message}");
            std::process::exit(1);
        }
    };
    let out = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    for (name, content) in generated.files {
        write_if_changed(&Path::new(&out).join(name), &content);
    }
}

/// Writes only when the content changed, so an unchanged spec does not touch the
/// generated files' timestamps.
fn write_if_changed(path: &Path, content: &str) {
    if std::fs::read_to_string(path).ok().as_deref() != Some(content) {
        std::fs::write(path, content).unwrap_or_else(|e| panic!("writing {path:?}: {e}"));
    }
}
