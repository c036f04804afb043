//! `cargo xtask spec`: refreshing from files and URLs, the change report, the check.

use std::io::{Read, Write};
use std::net::TcpListener;

use serde_json::{Value, json};

fn committed_spec() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.json")).unwrap()
}

/// The committed spec with one operation removed, one added, one changed.
fn edited_spec() -> Value {
    let mut spec: Value = serde_json::from_str(&committed_spec()).unwrap();
    let paths = spec["paths"].as_object_mut().unwrap();
    paths["/api/v1/votes/{id}"]
        .as_object_mut()
        .unwrap()
        .remove("delete");
    paths.insert(
        "/api/v1/widgets".into(),
        json!({ "get": {
            "operationId": "GetWidgets",
            "parameters": [{ "in": "query", "name": "tenantId", "required": true, "schema": { "type": "string" } }],
            "responses": { "200": { "description": "Ok", "content": { "application/json": {
                "schema": { "$ref": "#/components/schemas/APIEmptyResponse" } } } } }
        } }),
    );
    let get_pages = &mut paths["/api/v1/pages"]["get"];
    get_pages["parameters"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "in": "query", "name": "skip", "required": false, "schema": { "type": "integer" } }));
    get_pages["responses"]["200"]["content"]["application/json"]["schema"] =
        json!({ "$ref": "#/components/schemas/APIEmptyResponse" });
    spec
}

#[test]
fn diff_reports_added_removed_and_changed_operations() {
    let old: Value = serde_json::from_str(&committed_spec()).unwrap();
    let diff = xtask::diff(&old, &edited_spec()).unwrap();
    let ids = |v: &[(String, xtask::OperationShape)]| {
        v.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>()
    };
    assert_eq!(ids(&diff.added), ["GetWidgets"]);
    assert_eq!(ids(&diff.removed), ["DeleteVote"]);
    assert_eq!(
        diff.changed,
        [(
            "GetPages".to_string(),
            vec![
                "+ parameter skip (query, optional, integer)".to_string(),
                "response GetPagesAPIResponse -> APIEmptyResponse".to_string(),
            ]
        )]
    );
    let report = diff.to_string();
    assert!(
        report.contains("added    GetWidgets: GET /api/v1/widgets -> APIEmptyResponse"),
        "{report}"
    );
    assert!(
        report.ends_with(
            "1 added, 1 removed, 0 renamed, 1 changed, 0 reshaped; streams 0 gained, 0 lost\n"
        ),
        "{report}"
    );
    let same = xtask::diff(&old, &old).unwrap();
    assert_eq!(
        same.to_string().lines().last(),
        Some("0 added, 0 removed, 0 renamed, 0 changed, 0 reshaped; streams 0 gained, 0 lost")
    );
    assert_eq!(
        same.generation,
        [
            "UploadImage: not generated (a multipart body progenitor cannot take); hand-written as Client::upload_image"
        ],
        "the current spec needs no other workaround"
    );
}

fn history(name: &str) -> Value {
    let path = format!(
        "{}/../codegen/tests/history/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn case_only_renames_are_renames_not_removals_and_additions() {
    let current: Value = serde_json::from_str(&committed_spec()).unwrap();
    let diff = xtask::diff(&history("2026-06-22"), &current).unwrap();
    assert!(diff.added.is_empty() && diff.removed.is_empty(), "{diff}");
    assert_eq!(diff.renamed.len(), 43, "{diff}");
    assert!(
        diff.renamed
            .contains(&("DeleteModerationVote".into(), "deleteModerationVote".into()))
    );
    assert!(
        diff.streams_gained.is_empty() && diff.streams_lost.is_empty(),
        "{diff}"
    );
    assert!(
        diff.to_string()
            .contains("renamed  GetApiComments -> getApiComments (case only: same Rust method)"),
        "{diff}"
    );
}

#[test]
fn a_parameter_that_became_required_is_one_line() {
    let mut new: Value = serde_json::from_str(&committed_spec()).unwrap();
    let old = new.clone();
    let params = new["paths"]["/api/v1/pages"]["get"]["parameters"]
        .as_array_mut()
        .unwrap();
    let tenant_id = params.iter_mut().find(|p| p["name"] == "tenantId").unwrap();
    tenant_id["required"] = json!(false);
    let diff = xtask::diff(&new, &old).unwrap();
    assert_eq!(
        diff.changed,
        [(
            "GetPages".to_owned(),
            vec!["~ parameter tenantId (query, optional, string) -> (required, string)".to_owned()]
        )]
    );
}

#[test]
fn going_back_to_an_older_spec_reports_the_streams_lost_and_what_the_mock_lacks() {
    let diff = xtask::diff(&history("2026-03-24"), &history("2025-11-20")).unwrap();
    assert_eq!(diff.streams_lost.len(), 13, "{diff}");
    assert!(
        diff.streams_lost.contains(&"GetTenants".to_owned()),
        "{diff}"
    );
    assert!(diff.streams_gained.is_empty(), "{diff}");
    let report = diff.to_string();
    assert!(
        report.contains("stream-  GetTenants: no longer a list operation"),
        "{report}"
    );
    assert!(
        diff.generation
            .iter()
            .any(|n| n.starts_with("APIError dropped from ")),
        "{report}"
    );
    assert!(
        diff.generation
            .iter()
            .any(|n| n.starts_with("feature `mock` will not build: ")
                && n.contains("operation `GetVotes` is not in the spec")),
        "{report}"
    );
}

#[test]
fn the_report_names_the_workarounds_generation_needs() {
    let diff = xtask::diff(&history("2025-10-30"), &history("2026-03-24")).unwrap();
    assert!(
        diff.generation.contains(&"SearchUsers: its inline type would be named SearchUsersResponse, a component's name: generated as SearchUsersResponseInline<N> instead".to_owned()),
        "{diff}"
    );
    let oldest = xtask::diff(&history("2025-10-30"), &history("2025-10-30")).unwrap();
    assert!(
        oldest.generation.contains(&"UploadImageOptions: OPTIONS /upload-image/{tenantId} sent through request(Method::OPTIONS, ..) (reqwest has no shorthand)".to_owned()),
        "{oldest}"
    );
    let reshaped = xtask::diff(&history("2025-10-30"), &history("2025-11-20")).unwrap();
    assert!(
        !reshaped.reshaped.is_empty(),
        "fields of kept response types changed: {reshaped}"
    );
}

#[test]
fn refresh_from_a_file_replaces_the_spec_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("openapi.json");
    std::fs::write(&target, committed_spec()).unwrap();
    let source = dir.path().join("new.json");
    let new_text = serde_json::to_string(&edited_spec()).unwrap();
    std::fs::write(&source, &new_text).unwrap();

    let diff = xtask::refresh(source.to_str().unwrap(), &target).unwrap();
    assert_eq!(
        (diff.added.len(), diff.removed.len(), diff.changed.len()),
        (1, 1, 1)
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), new_text);
}

#[test]
fn refresh_refuses_a_document_that_is_not_a_spec_and_keeps_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("openapi.json");
    std::fs::write(&target, committed_spec()).unwrap();
    for (name, text) in [
        ("html.json", "<html>503</html>"),
        ("swagger2.json", r#"{"swagger":"2.0","paths":{}}"#),
    ] {
        let source = dir.path().join(name);
        std::fs::write(&source, text).unwrap();
        let error = xtask::refresh(source.to_str().unwrap(), &target).unwrap_err();
        assert!(error.contains(name), "{error}");
    }
    assert!(xtask::refresh("/no/such/file.json", &target).is_err());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), committed_spec());
}

/// Serves `body` once over HTTP on loopback; returns the URL.
fn serve_once(body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request);
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body.as_bytes()).unwrap();
    });
    format!("http://{addr}/js/swagger.json")
}

#[test]
fn refresh_from_a_url() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("openapi.json");
    std::fs::write(&target, committed_spec()).unwrap();
    let new_text = serde_json::to_string(&edited_spec()).unwrap();
    let diff = xtask::refresh(&serve_once(new_text.clone()), &target).unwrap();
    assert_eq!(diff.added.len(), 1);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), new_text);
}

#[test]
fn compare_fails_when_an_operation_is_not_reachable() {
    let spec: Value = serde_json::from_str(&committed_spec()).unwrap();
    let mut manifest: Vec<Value> = xtask::operations(&spec)
        .unwrap()
        .keys()
        .map(|id| json!({ "operationId": id, "implementation": "generated" }))
        .collect();
    let total = manifest.len();
    assert!(
        xtask::compare(&spec, &Value::Array(manifest.clone()))
            .unwrap()
            .starts_with(&format!("{total} of {total}"))
    );
    manifest.retain(|e| e["operationId"] != "GetComments");
    let error = xtask::compare(&spec, &Value::Array(manifest)).unwrap_err();
    assert!(error.contains("GetComments"), "{error}");
}
