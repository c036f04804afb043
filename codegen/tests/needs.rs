//! `needs::NEEDS` declares everything the hand-written code names in the generated code:
//! this scans the crate's `src/` for generated type names and operation ids and fails on
//! any the declaration lacks, so the build's one message stays complete.

use std::collections::BTreeSet;
use std::path::Path;

use fastcomments_codegen::needs::{NEEDS, Need};

fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((
                path.display().to_string(),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
}

/// The identifiers or string literals following `marker` in `text`.
fn after<'t>(text: &'t str, marker: &str, end: fn(char) -> bool) -> Vec<&'t str> {
    text.match_indices(marker)
        .map(|(i, _)| {
            let rest = &text[i + marker.len()..];
            &rest[..rest.find(end).unwrap_or(rest.len())]
        })
        .filter(|name| !name.is_empty())
        .collect()
}

#[test]
fn every_generated_name_the_hand_written_code_uses_is_declared() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../src"),
        &mut files,
    );
    let declared = |pick: fn(&Need) -> Option<&'static str>| -> BTreeSet<&str> {
        NEEDS
            .iter()
            .flat_map(|n| n.needs)
            .filter_map(pick)
            .collect()
    };
    let types = declared(|n| match n {
        Need::Type(t) => Some(t),
        _ => None,
    });
    let operations = declared(|n| match n {
        Need::Operation(o) => Some(o),
        _ => None,
    });
    let mut missing = BTreeSet::new();
    for (file, text) in &files {
        let ident_end = |c: char| !(c.is_ascii_alphanumeric() || c == '_');
        for name in after(text, "types::", ident_end) {
            if name.starts_with(char::is_uppercase) && !types.contains(name) {
                missing.insert(format!("{file}: type {name}"));
            }
        }
        for marker in ["answer(\"", "operations::find(\"", "table::find(\""] {
            for id in after(text, marker, |c| c == '"') {
                if !operations.contains(id) {
                    missing.insert(format!("{file}: operation {id}"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "declare these in codegen/src/needs.rs:\n{}",
        missing.into_iter().collect::<Vec<_>>().join("\n")
    );
}
