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
        // The first required query parameter, else the first required body field.
        let omitted = if !query.is_empty() {
            query.remove(0).0
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
