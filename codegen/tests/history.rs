//! The whole pipeline (rewrites, progenitor, post-processing, the emitted tables) on every
//! past version of the published spec in `tests/history/` (copied from the team's
//! `shared/fastcomments/history/`; its README says where each came from) and on the
//! current `openapi.json`: what "regenerated whenever the spec changes" promises.

use std::path::PathBuf;
use std::time::Instant;

use fastcomments_codegen::{Options, generate, postprocess, rewrite, spec};
use serde_json::Value;

/// One spec version and what generation must find in it.
struct Version {
    file: &'static str,
    /// Paginated list operations found (a stream each).
    streams: usize,
    /// Whether the mock builds on it (its hand-written handlers name operations, types
    /// and fields older specs lack: `fastcomments_codegen::needs`).
    mock_builds: bool,
}

const VERSIONS: &[Version] = &[
    Version {
        file: "history/2025-10-30.json",
        streams: 7,
        mock_builds: false,
    },
    Version {
        file: "history/2025-11-20.json",
        streams: 7,
        mock_builds: false,
    },
    Version {
        file: "history/2026-03-24.json",
        streams: 20,
        mock_builds: true,
    },
    Version {
        file: "history/2026-06-15.json",
        streams: 21,
        mock_builds: true,
    },
    Version {
        file: "history/2026-06-18.json",
        streams: 22,
        mock_builds: true,
    },
    Version {
        file: "history/2026-06-22.json",
        streams: 22,
        mock_builds: true,
    },
    Version {
        file: "../../openapi.json",
        streams: 22,
        mock_builds: true,
    },
];

/// `file` relative to the codegen crate's `tests/`.
fn path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(file)
}

#[test]
fn every_version_generates_valid_rust_with_every_operation_reachable() {
    for version in VERSIONS {
        let text = std::fs::read_to_string(path(version.file))
            .unwrap_or_else(|e| panic!("{}: {e}", version.file));
        let started = Instant::now();
        let generated = generate(&text, Options { mock: false })
            .unwrap_or_else(|e| panic!("{}: {e}", version.file));
        let elapsed = started.elapsed();
        let file = |name: &str| {
            generated
                .files
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, c)| c.as_str())
                .unwrap_or_else(|| panic!("{}: no {name}", version.file))
        };
        for (name, content) in &generated.files {
            if name.ends_with(".rs") {
                syn::parse_file(content)
                    .unwrap_or_else(|e| panic!("{}: {name} is not valid Rust: {e}", version.file));
            }
        }
        let client = syn::parse_file(file("progenitor.rs")).unwrap();
        assert_eq!(
            postprocess::uninhabited::find(&client),
            Vec::<String>::new(),
            "{}: uninhabited types",
            version.file
        );
        assert_eq!(
            postprocess::any_of::find(&client),
            Vec::<String>::new(),
            "{}: anyOf structs any object decodes into",
            version.file
        );
        let any_of = file("progenitor.rs")
            .matches("crate :: response :: any_of (")
            .count();

        let published: Value = serde_json::from_str(&text).unwrap();
        let operations = spec::operations(&published).unwrap();
        let manifest: Value = serde_json::from_str(file("operations.json")).unwrap();
        let progenitor = file("progenitor.rs");
        for op in &operations {
            let entry = manifest
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["operationId"] == op.id)
                .unwrap_or_else(|| panic!("{}: {} not in the manifest", version.file, op.id));
            if entry["implementation"] == "generated" {
                let method = format!("pub fn {} (", op.method_name());
                assert!(
                    progenitor.contains(&method),
                    "{}: {} has no method {method}",
                    version.file,
                    op.id
                );
            }
        }
        let streams = file("pagination.rs").matches("pub fn stream (").count();
        assert_eq!(streams, version.streams, "{}: streams found", version.file);
        println!(
            "{:<24} {:>4} ms  {:>3} operations reachable  {:>2} streams  {} checked anyOf",
            version.file,
            elapsed.as_millis(),
            operations.len(),
            streams,
            any_of
        );
    }
}

/// The generated client of one history version.
fn client_of(file: &str) -> String {
    let text = std::fs::read_to_string(path(file)).unwrap();
    let generated = generate(&text, Options { mock: false }).unwrap();
    let (_, client) = generated
        .files
        .into_iter()
        .find(|(name, _)| *name == "progenitor.rs")
        .unwrap();
    client
}

#[test]
fn an_any_of_answer_any_object_fitted_decodes_through_the_checked_impl() {
    let client = client_of("../../openapi.json");
    let answer = client
        .split("pub struct PostRemoveCommentApiResponse {")
        .nth(1)
        .unwrap();
    assert!(
        answer.contains(
            "impl < 'de > :: serde :: Deserialize < 'de > for PostRemoveCommentApiResponse"
        ),
        "postRemoveComment's anyOf answer is not checked"
    );
    let derives = client
        .split("pub struct PostRemoveCommentApiResponse {")
        .next()
        .and_then(|before| before.rsplit("# [derive (").next())
        .unwrap();
    assert!(!derives.starts_with(":: serde :: Deserialize"), "{derives}");
}

#[test]
fn an_options_operation_is_sent_through_a_generic_request() {
    let client = client_of("history/2025-10-30.json");
    assert!(client.contains("pub fn upload_image_options ("));
    assert!(
        client.contains("client . client . request (:: reqwest :: Method :: OPTIONS , url )"),
        "reqwest::Client has no .options(): the generated code would not compile"
    );
    assert!(!client.contains("client . client . options ("));
}

#[test]
fn search_users_returns_both_of_its_answers_not_the_component_its_implicit_name_hit() {
    let client = client_of("history/2026-03-24.json");
    let send = client
        .split("impl < 'a > SearchUsers < 'a >")
        .nth(1)
        .and_then(|rest| rest.split("pub async fn send (self )-> ").nth(1))
        .unwrap();
    assert!(
        send.starts_with(":: std :: result :: Result < types :: SearchUsersResponseInline2 ,"),
        "{}",
        &send[..100]
    );
    let answer = client
        .split("pub enum SearchUsersResponseInline2 {")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .unwrap();
    assert!(
        answer.contains("SearchUsersResponse") && answer.contains("SearchUsersSectionedResponse"),
        "{answer}"
    );
}

#[test]
fn no_version_leaves_an_implicit_name_colliding_and_the_rewrites_are_idempotent() {
    for version in VERSIONS {
        let text = std::fs::read_to_string(path(version.file)).unwrap();
        let published: Value = serde_json::from_str(&text).unwrap();
        let mut once = published.clone();
        rewrite::apply_all(&mut once, &["UploadImage"]).unwrap();
        assert_eq!(
            rewrite::implicit_names::collisions(&once),
            Vec::<(String, String)>::new(),
            "{}",
            version.file
        );
        let mut twice = once.clone();
        rewrite::apply_all(&mut twice, &["UploadImage"]).unwrap();
        assert!(
            once == twice,
            "{}: the rewrites are not idempotent",
            version.file
        );
    }
}

#[test]
fn the_mock_builds_where_the_spec_has_what_it_needs_and_says_what_is_missing_elsewhere() {
    for version in VERSIONS {
        let text = std::fs::read_to_string(path(version.file)).unwrap();
        match (generate(&text, Options { mock: true }), version.mock_builds) {
            (Ok(_), true) => {}
            (Err(message), false) => {
                assert!(
                    message.starts_with("this spec lacks what the crate's hand-written code needs"),
                    "{}: {message}",
                    version.file
                );
                assert!(
                    message.contains("feature `mock`"),
                    "{}: {message}",
                    version.file
                );
                assert!(
                    !message.contains("always built"),
                    "{}: {message}",
                    version.file
                );
            }
            (Ok(_), false) => panic!("{}: the mock now builds: update VERSIONS", version.file),
            (Err(message), true) => panic!("{}: {message}", version.file),
        }
    }
}
