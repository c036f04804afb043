//! Every operation of the spec, called through the client against the mock: each answers
//! a typed success to a request with its required values, and a typed 400 to one missing
//! a required parameter or body field. Derived from the spec: the calls are generated
//! (`every_call.rs`), the values come from `MockServer::example_request`.

use fastcomments::mock::MockServer;
use fastcomments::operations::{Implementation, OPERATIONS};
use serde_json::Value;

pub mod calls {
    #![allow(clippy::all)]
    use fastcomments::types;
    include!(concat!(env!("OUT_DIR"), "/every_call.rs"));
}

async fn server() -> MockServer {
    let server = MockServer::start().await.unwrap();
    server.add_tenant("demo", "demo-key");
    server
}

#[tokio::test]
async fn every_operation_answers_a_typed_success() {
    let server = server().await;
    let client = server
        .client("demo", "demo-key")
        .unwrap()
        .with_retry(fastcomments::RetryPolicy::none());
    let mut failures = Vec::new();
    let mut succeeded = 0;
    for op in OPERATIONS {
        let result = match op.implementation {
            Implementation::HandWritten(_) => client
                .upload_image(b"\x89PNG\r\n\x1a\n".to_vec(), "a.png")
                .send()
                .await
                .map(|_| ()),
            _ => {
                let example = server
                    .example_request("demo", op.id)
                    .unwrap_or_else(|| panic!("no example for {}", op.id));
                calls::call(op.id, &client, &example)
                    .await
                    .unwrap_or_else(|| panic!("{} is not generated", op.id))
                    .map(|_| ())
            }
        };
        match result {
            Ok(()) => succeeded += 1,
            Err(e) => failures.push(format!("{}: {e}", op.id)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(succeeded, OPERATIONS.len());
}

#[tokio::test]
async fn a_request_missing_a_required_value_gets_a_typed_400() {
    let server = server().await;
    // Building the crate's client installs the TLS provider a plain reqwest client needs.
    let _client = server.client("demo", "demo-key").unwrap();
    let http = reqwest::Client::new();
    let mut checked = 0;
    let mut failures = Vec::new();
    for op in OPERATIONS {
        let Some(example) = server.example_request("demo", op.id) else {
            continue;
        };
        let mut query = example.query.clone();
        let mut body = example.body.clone();
        // The first required query parameter, else the first required body field (the
        // example's `sso` is optional).
        let required = query.iter().position(|(name, _)| name != "sso");
        let omitted = if let Some(at) = required {
            query.remove(at).0
        } else if let Some(Value::Object(fields)) = body.as_mut()
            && let Some(first) = fields
                .iter()
                .find(|(k, v)| !v.is_null() && *k != "id" && *k != "_id")
                .map(|(k, _)| k.clone())
        {
            fields.remove(&first);
            first
        } else {
            continue;
        };
        let url = format!("{}{}", server.base_url(), example.path);
        let method = reqwest::Method::from_bytes(example.method.as_bytes()).unwrap();
        let mut request = http
            .request(method, url)
            .query(&query)
            .header("x-api-key", "demo-key");
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let error: Result<fastcomments::types::ApiError, _> = serde_json::from_str(&text);
        checked += 1;
        if status != 400 || error.is_err() {
            failures.push(format!("{} without {omitted}: {status} {text}", op.id));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // 196 of the 209 operations of today's spec have a required query parameter or body
    // field; the others take only path parameters (which a route cannot lack).
    assert!(
        checked > 150,
        "only {checked} operations have a required value"
    );
}

/// Every path parameter of every operation (generated and hand-written), set to each value
/// that would change the request's path once the URL removes dot segments: refused with
/// an error naming that parameter, and nothing reaches the server. Values with the other
/// characters a URL treats specially (`\`, which it reads as `/`; `/`, `?`, `#`, `%`)
/// are sent, and reach the operation they were meant for.
#[tokio::test]
async fn no_path_value_can_change_which_endpoint_is_called() {
    const VALUES: [&str; 6] = [".", "..", "%2e%2e", ".%2E", "%2E.", ""];
    const SENT: [&str; 7] = [
        "a\\b",
        "..\\pages",
        "..\\..",
        "a/b",
        "%2F..",
        "?x#y",
        "\u{FF0E}\u{FF0E}",
    ];
    let enum_path_parameters = enum_path_parameters();
    let server = server().await;
    let client = server
        .client("demo", "demo-key")
        .unwrap()
        .with_retry(fastcomments::RetryPolicy::none());
    let mut pairs = 0;
    let mut failures = Vec::new();
    for op in OPERATIONS {
        if matches!(op.implementation, Implementation::HandWritten(_)) {
            continue;
        }
        let example = server.example_request("demo", op.id).unwrap();
        let names = op
            .path
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split('}').next());
        for name in names {
            if !example.params.get(name).is_some_and(Value::is_string)
                || enum_path_parameters.contains(&(op.id.to_string(), name.to_string()))
            {
                continue; // a number or an enum: its type cannot hold a dot segment
            }
            pairs += 1;
            for value in VALUES {
                let mut request = example.clone();
                request.params.insert(name.into(), Value::from(value));
                server.clear_requests();
                let result = calls::call(op.id, &client, &request).await.unwrap();
                match result {
                    Err(fastcomments::Error::InvalidPathParameter { parameter, .. })
                        if parameter == name => {}
                    other => failures.push(format!("{} {name}={value:?}: {other:?}", op.id)),
                }
                if !server.requests().is_empty() {
                    failures.push(format!("{} {name}={value:?} reached the server", op.id));
                }
            }
            for value in SENT {
                let mut request = example.clone();
                request.params.insert(name.into(), Value::from(value));
                server.clear_requests();
                let _ = calls::call(op.id, &client, &request).await.unwrap();
                let arrived: Vec<_> = server.requests().iter().map(|r| r.operation_id).collect();
                if arrived != [Some(op.id)] {
                    failures.push(format!("{} {name}={value:?} arrived as {arrived:?}", op.id));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Today's spec: 141 text path parameters across the generated operations (and 3 enums).
    assert!(pairs > 100, "only {pairs} path parameters checked");

    // The hand-written upload takes the client's tenant in its path.
    for value in VALUES {
        let odd = server
            .client(value, "demo-key")
            .unwrap()
            .with_retry(fastcomments::RetryPolicy::none());
        server.clear_requests();
        let result = odd
            .upload_image(b"\x89PNG\r\n\x1a\n".to_vec(), "a.png")
            .send()
            .await;
        assert!(
            matches!(&result, Err(fastcomments::Error::InvalidPathParameter { parameter, .. }) if parameter == "tenantId"),
            "{value:?}: {result:?}"
        );
        assert!(server.requests().is_empty());
    }
}

/// `(operationId, parameter)` of the spec's path parameters whose schema is an enum.
fn enum_path_parameters() -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json")).unwrap();
    let spec: Value = serde_json::from_str(&text).unwrap();
    let resolve = |v: &Value| -> Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => spec
                .pointer(r.trim_start_matches('#'))
                .cloned()
                .unwrap_or(Value::Null),
            None => v.clone(),
        }
    };
    let mut found = Vec::new();
    for item in spec["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let Some(id) = op.get("operationId").and_then(Value::as_str) else {
                continue;
            };
            for p in op["parameters"].as_array().into_iter().flatten() {
                let p = resolve(p);
                if p["in"] == "path" && resolve(&p["schema"]).get("enum").is_some() {
                    found.push((id.to_string(), p["name"].as_str().unwrap().to_string()));
                }
            }
        }
    }
    found
}

/// Every operation's answer refuses the bodies its spec refuses, and takes the ones it
/// allows: `{}` and `{"status": "success"}` (what a server that forgot the payload might
/// send) are sent as the 200 of every generated operation by a loopback server, and each
/// either decodes or fails with `Error::Decode`, exactly as the operation's success schema
/// (with the codegen's documented rewrites: unknown fields allowed, `APIError` not a
/// success) accepts or refuses it. Derived from the spec: no list of types is kept here.
///
/// What it guards: typify renders an `anyOf` whose branches may overlap as a struct of
/// flattened optional parts, which any object fitted (`postRemoveComment` took `{}` as a
/// success); the codegen's `any_of` pass makes such a body a decode error.
#[tokio::test]
async fn every_answer_takes_exactly_the_bodies_its_spec_allows() {
    use std::sync::{Arc, Mutex};

    const PROBES: [&str; 2] = ["{}", r#"{"status":"success"}"#];
    let spec = rewritten_spec();
    let answer: Arc<Mutex<&'static str>> = Arc::new(Mutex::new("{}"));
    let body = answer.clone();
    let base = crate::common::serve(axum::Router::new().fallback(move || {
        let text = *body.lock().unwrap();
        async move { ([("content-type", "application/json")], text) }
    }))
    .await;
    let examples = server().await;
    let client = fastcomments::Client::builder()
        .base_url(base)
        .api_key("demo-key")
        .tenant_id("demo")
        .retry(fastcomments::RetryPolicy::none())
        .build()
        .unwrap();
    let mut mismatches = Vec::new();
    let mut checked = 0;
    for op in OPERATIONS {
        if matches!(op.implementation, Implementation::HandWritten(_)) {
            continue;
        }
        let Some(schema) = success_schema(&spec, op.id) else {
            continue;
        };
        let example = examples.example_request("demo", op.id).unwrap();
        for probe in PROBES {
            *answer.lock().unwrap() = probe;
            let allowed = jsonschema::is_valid(&schema, &serde_json::from_str(probe).unwrap());
            let result = calls::call(op.id, &client, &example).await.unwrap();
            checked += 1;
            match (allowed, result) {
                (true, Ok(_)) | (false, Err(fastcomments::Error::Decode { .. })) => {}
                (true, Err(e)) => mismatches.push(format!("{} refused {probe}: {e}", op.id)),
                (false, Ok(v)) => mismatches.push(format!("{} took {probe} as {v}", op.id)),
                (false, Err(e)) => {
                    mismatches.push(format!("{} {probe}: not a decode error: {e}", op.id))
                }
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    // Today's spec: every generated operation has a JSON 200 schema.
    assert!(checked > 300, "only {checked} answers checked");
}

/// `openapi.json` with the codegen's rewrites applied: the spec the client is generated
/// from.
fn rewritten_spec() -> Value {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json")).unwrap();
    let mut spec: Value = serde_json::from_str(&text).unwrap();
    let hand_written: Vec<&str> = fastcomments_codegen::HAND_WRITTEN
        .iter()
        .map(|(id, _)| *id)
        .collect();
    fastcomments_codegen::rewrite::apply_all(&mut spec, &hand_written).unwrap();
    spec
}

/// The JSON schema of operation `id`'s 200 answer, its `$ref`s resolvable (the spec's
/// components beside it); `None` when it answers no JSON.
fn success_schema(spec: &Value, id: &str) -> Option<Value> {
    let operations = fastcomments_codegen::spec::operations(spec).unwrap();
    let op = operations.iter().find(|op| op.id == id)?;
    let schema = op.success_schema();
    (!schema.is_null())
        .then(|| serde_json::json!({ "allOf": [schema], "components": spec["components"] }))
}
