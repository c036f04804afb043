//! A value FastComments adds to one of its enums never breaks a decode: every integer and
//! string enum of the spec, given a value outside its list inside a real response served
//! on loopback, decodes through `send()` and keeps the value. What still fails to decode
//! names the JSON path and the value; the mock still refuses a request value outside the
//! spec's list.
//!
//! The enums, and a response holding each, are found by walking `openapi.json`; the
//! response is built from the operation's success schema, with every required field and
//! the fields leading to the enum.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use axum::response::IntoResponse;
use fastcomments::mock::MockServer;
use serde_json::{Map, Value, json};

use crate::common::serve;
use crate::every_operation::calls;

const SPEC: &str = include_str!("../../openapi.json");

/// Deep enough for every response type; stops the walk at a cycle of required fields.
const MAX_DEPTH: usize = 40;

/// The spec as the walk reads it.
struct Spec {
    root: Value,
}

impl Spec {
    fn load() -> Spec {
        Spec {
            root: serde_json::from_str(SPEC).unwrap(),
        }
    }

    /// The schema at `pointer` (a `#/..` reference without its `#`).
    fn at(&self, pointer: &str) -> &Value {
        self.root.pointer(pointer).unwrap_or(&Value::Null)
    }

    /// Every schema with an `enum`, by JSON pointer, with its type.
    fn enums(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        collect_enums(&self.root, String::new(), &mut out);
        out
    }

    /// Each generated operation with its success schema's pointer, in the spec's order.
    fn successes(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (path, item) in self.root["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let Some(id) = op["operationId"].as_str() else {
                    continue;
                };
                let Some((code, _)) = op["responses"]
                    .as_object()
                    .and_then(|r| r.iter().find(|(code, _)| code.starts_with('2')))
                else {
                    continue;
                };
                let pointer = format!(
                    "/paths/{}/{method}/responses/{code}/content/application~1json/schema",
                    path.replace('~', "~0").replace('/', "~1")
                );
                if !self.at(&pointer).is_null() {
                    out.push((id.to_string(), pointer));
                }
            }
        }
        out
    }

    /// Whether the schema at `pointer` can hold the enum at `target`.
    fn contains(&self, pointer: &str, target: &str, seen: &mut BTreeSet<String>) -> bool {
        if pointer == target {
            return true;
        }
        if !seen.insert(pointer.to_string()) {
            return false;
        }
        let schema = self.at(pointer);
        if let Some(reference) = schema["$ref"].as_str() {
            return self.contains(&reference[1..], target, seen);
        }
        children(schema, pointer)
            .iter()
            .any(|child| self.contains(child, target, seen))
    }

    /// An instance of the schema at `pointer`: required fields, and the fields leading to
    /// the enum at `target`, which holds `unknown`.
    fn instance(&self, pointer: &str, target: &str, unknown: &Value, depth: usize) -> Value {
        if pointer == target {
            return unknown.clone();
        }
        let schema = self.at(pointer);
        if depth > MAX_DEPTH {
            return Value::Null;
        }
        let leads = |p: &str| self.contains(p, target, &mut BTreeSet::new());
        if let Some(reference) = schema["$ref"].as_str() {
            return self.instance(&reference[1..], target, unknown, depth + 1);
        }
        if let Some(all) = schema["allOf"].as_array() {
            // Objects merge; a single part (`allOf: [$ref]`, nullable) is that part.
            let parts: Vec<Value> = (0..all.len())
                .map(|i| self.instance(&format!("{pointer}/allOf/{i}"), target, unknown, depth + 1))
                .collect();
            if parts.len() == 1 || !parts.iter().all(Value::is_object) {
                return parts.into_iter().next().unwrap_or(Value::Null);
            }
            let mut merged = Map::new();
            for part in parts {
                if let Value::Object(fields) = part {
                    merged.extend(fields);
                }
            }
            return Value::Object(merged);
        }
        for choice in ["anyOf", "oneOf"] {
            if let Some(branches) = schema[choice].as_array() {
                let pick = (0..branches.len())
                    .find(|i| leads(&format!("{pointer}/{choice}/{i}")))
                    .unwrap_or(0);
                let branch = format!("{pointer}/{choice}/{pick}");
                return self.instance(&branch, target, unknown, depth + 1);
            }
        }
        if let Some(values) = schema["enum"].as_array() {
            return values.first().cloned().unwrap_or(Value::Null);
        }
        let kind = match &schema["type"] {
            Value::String(kind) => kind.as_str(),
            Value::Array(kinds) => kinds
                .iter()
                .filter_map(Value::as_str)
                .find(|k| *k != "null")
                .unwrap_or("null"),
            _ if schema.get("properties").is_some() => "object",
            _ => "any",
        };
        match kind {
            "object" => {
                let required: BTreeSet<&str> = schema["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let mut fields = Map::new();
                for name in schema["properties"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k)
                {
                    let field = format!("{pointer}/properties/{}", escape(name));
                    if required.contains(name.as_str()) || leads(&field) {
                        fields.insert(
                            name.clone(),
                            self.instance(&field, target, unknown, depth + 1),
                        );
                    }
                }
                let extra = format!("{pointer}/additionalProperties");
                if schema["additionalProperties"].is_object() && leads(&extra) {
                    fields.insert(
                        "key".into(),
                        self.instance(&extra, target, unknown, depth + 1),
                    );
                }
                Value::Object(fields)
            }
            "array" => {
                let items = format!("{pointer}/items");
                if leads(&items) {
                    json!([self.instance(&items, target, unknown, depth + 1)])
                } else {
                    json!([])
                }
            }
            "string" => match schema["format"].as_str() {
                Some("date-time") => json!("2026-01-01T00:00:00Z"),
                Some("date") => json!("2026-01-01"),
                Some("uuid") => json!("00000000-0000-0000-0000-000000000000"),
                _ => json!("x"),
            },
            "integer" | "number" => json!(1),
            "boolean" => json!(true),
            "null" => Value::Null,
            _ => json!({}),
        }
    }
}

/// The pointers of the schemas directly inside `schema` (at `pointer`).
fn children(schema: &Value, pointer: &str) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["allOf", "anyOf", "oneOf"] {
        for i in 0..schema[key].as_array().map_or(0, Vec::len) {
            out.push(format!("{pointer}/{key}/{i}"));
        }
    }
    for name in schema["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
    {
        out.push(format!("{pointer}/properties/{}", escape(name)));
    }
    for key in ["items", "additionalProperties"] {
        if schema[key].is_object() {
            out.push(format!("{pointer}/{key}"));
        }
    }
    out
}

fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

fn collect_enums(value: &Value, pointer: String, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(fields) => {
            if fields.get("enum").is_some_and(Value::is_array) {
                let kind = fields.get("type").and_then(Value::as_str).unwrap_or("");
                out.insert(pointer.clone(), kind.to_string());
            }
            for (key, child) in fields {
                collect_enums(child, format!("{pointer}/{}", escape(key)), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_enums(child, format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// A value outside the enum's list, of its type.
fn unknown_value(values: &[Value], kind: &str) -> Value {
    match kind {
        "integer" => {
            let max = values.iter().filter_map(Value::as_i64).max().unwrap_or(0);
            json!(max + 1000)
        }
        _ => json!("value-added-by-fastcomments-later"),
    }
}

/// The JSON paths (as pointers) where `value` holds `wanted`.
fn paths_of(value: &Value, wanted: &Value, at: String, out: &mut Vec<String>) {
    if value == wanted {
        out.push(at);
        return;
    }
    match value {
        Value::Object(fields) => fields
            .iter()
            .for_each(|(k, v)| paths_of(v, wanted, format!("{at}/{}", escape(k)), out)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| paths_of(v, wanted, format!("{at}/{i}"), out)),
        _ => {}
    }
}

/// A loopback server answering every request with the body last set.
async fn canned() -> (String, Arc<Mutex<String>>) {
    let body = Arc::new(Mutex::new(String::from("{}")));
    let served = body.clone();
    let router = axum::Router::new().fallback(move || {
        let body = served.lock().unwrap().clone();
        async move { ([("content-type", "application/json")], body).into_response() }
    });
    (serve(router).await, body)
}

/// A client for the canned server, and the mock that fills each operation's required
/// request values.
async fn setup() -> (MockServer, fastcomments::Client, Arc<Mutex<String>>) {
    let mock = MockServer::start().await.unwrap();
    mock.add_tenant("demo", "demo-key");
    let (url, body) = canned().await;
    let client = fastcomments::Client::builder()
        .base_url(url)
        .tenant_id("demo")
        .api_key("demo-key")
        .build()
        .unwrap()
        .with_retry(fastcomments::RetryPolicy::none());
    (mock, client, body)
}

#[tokio::test]
async fn every_enum_of_the_spec_keeps_a_value_outside_its_list() {
    let spec = Spec::load();
    let enums = spec.enums();
    let successes = spec.successes();
    let (mock, client, served) = setup().await;
    let (mut integer, mut string, mut other_kind) = (0, 0, Vec::new());
    let mut in_no_response = Vec::new();
    let mut failures = Vec::new();
    for (target, kind) in &enums {
        match kind.as_str() {
            "integer" => integer += 1,
            "string" => string += 1,
            // `enum: [true]` booleans: constants, not enums FastComments extends.
            _ => {
                other_kind.push(target.clone());
                continue;
            }
        }
        let Some((id, response)) = successes
            .iter()
            .find(|(_, response)| spec.contains(response, target, &mut BTreeSet::new()))
        else {
            // Only in parameters or request bodies: nothing decodes it.
            in_no_response.push(target.clone());
            continue;
        };
        let values = spec.at(target)["enum"].as_array().unwrap().clone();
        let unknown = unknown_value(&values, kind);
        let body = spec.instance(response, target, &unknown, 0);
        let mut sent = Vec::new();
        paths_of(&body, &unknown, String::new(), &mut sent);
        assert!(
            !sent.is_empty(),
            "{target}: the built {id} answer lacks the value"
        );
        *served.lock().unwrap() = body.to_string();
        let example = mock.example_request("demo", id).unwrap();
        let answer = calls::call(id, &client, &example)
            .await
            .unwrap_or_else(|| panic!("{id} is not generated"));
        match answer {
            Ok(decoded) => {
                let lost: Vec<&String> = sent
                    .iter()
                    .filter(|p| decoded.pointer(p) != Some(&unknown))
                    .collect();
                if !lost.is_empty() {
                    failures.push(format!("{target} via {id}: {unknown} lost at {lost:?}"));
                }
            }
            Err(e) => failures.push(format!("{target} via {id}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} enums broke a decode:\n{}",
        failures.len(),
        enums.len(),
        failures.join("\n")
    );
    // The spec of today: 20 integer and 31 string enums, 4 boolean constants.
    assert_eq!(
        (integer, string, other_kind.len()),
        (20, 31, 4),
        "{other_kind:?}"
    );
    // Enums no response holds are listed, not decoded: 13 that only requests carry (query
    // and path parameters, request bodies) and `LiveEventType`, which only the live
    // event stream (LIVE.md), not the REST API, sends. 37 are decoded above.
    let tested = integer + string - in_no_response.len();
    assert_eq!(
        (tested, in_no_response.len()),
        (37, 14),
        "enums in no response: {in_no_response:#?}"
    );
}

/// The body of `id`'s success with `unknown` at the enum at `target` (a pointer into the
/// spec), built as the test above builds it.
fn answer_with(spec: &Spec, id: &str, target: &str, unknown: Value) -> String {
    let (_, response) = spec
        .successes()
        .into_iter()
        .find(|(op, _)| op == id)
        .unwrap();
    spec.instance(&response, target, &unknown, 0).to_string()
}

#[tokio::test]
async fn a_notification_of_a_new_type_is_kept_and_told_from_the_known_ones() {
    let spec = Spec::load();
    let (_mock, client, served) = setup().await;
    *served.lock().unwrap() = answer_with(
        &spec,
        "GetNotifications",
        "/components/schemas/NotificationType",
        json!(11),
    );
    let page = client.get_notifications().send().await.unwrap();
    let kind = &page.notifications[0].type_;
    assert_eq!(**kind, 11);
    assert!(!kind.is_known());
    assert_eq!(serde_json::to_value(kind).unwrap(), json!(11));
    assert!(
        fastcomments::types::NotificationType::try_from(1)
            .unwrap()
            .is_known()
    );
    // A request still carries only a value of the list unless the caller writes another.
    assert!(fastcomments::types::NotificationType::try_from(11).is_err());
}

#[tokio::test]
async fn a_new_string_value_is_kept_and_encoded_back_unchanged() {
    use fastcomments::types::ApiStatus;
    let status: ApiStatus = serde_json::from_str(r#""throttled""#).unwrap();
    assert_eq!(status, ApiStatus::Other("throttled".into()));
    assert!(!status.is_known() && status.as_str() == "throttled");
    assert_eq!(serde_json::to_string(&status).unwrap(), r#""throttled""#);
    let known: ApiStatus = serde_json::from_str(r#""success""#).unwrap();
    assert_eq!(known, ApiStatus::Success);
    assert_eq!(known.to_string(), "success");
    assert!("throttled".parse::<ApiStatus>().is_err());
}

#[tokio::test]
async fn a_decode_error_names_the_json_path_and_the_value() {
    let spec = Spec::load();
    let (_mock, client, served) = setup().await;
    // A string where the spec has an integer enum: still a decode error.
    *served.lock().unwrap() = answer_with(
        &spec,
        "GetNotifications",
        "/components/schemas/NotificationType",
        json!("eleven"),
    );
    let error = client.get_notifications().send().await.unwrap_err();
    let fastcomments::Error::Decode { message, .. } = &error else {
        panic!("not a decode error: {error:?}");
    };
    assert!(
        message.starts_with(r#"notifications[0].type: "eleven" (invalid type: string"#),
        "{message}"
    );
}

/// POSTs `body` to the path of `example` on the mock; returns the status and the body.
async fn post(
    mock: &MockServer,
    example: &fastcomments::mock::ExampleRequest,
    body: &Value,
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .request(
            example.method.parse().unwrap(),
            format!("{}{}", mock.base_url(), example.path),
        )
        .query(&example.query)
        .header("x-api-key", "demo-key")
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_mock_refuses_a_request_value_outside_the_spec_list() {
    let (mock, _client, _) = setup().await;
    // A string enum at the top of a body.
    let vote = mock.example_request("demo", "VoteComment").unwrap();
    let mut body = vote.body.clone().unwrap();
    body["voteDir"] = json!("sideways");
    let (status, answer) = post(&mock, &vote, &body).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["code"], "invalid-body");
    assert!(
        answer["reason"]
            .as_str()
            .unwrap()
            .contains(r#".voteDir: "sideways""#),
        "{answer}"
    );
    body["voteDir"] = json!("up");
    let (status, answer) = post(&mock, &vote, &body).await;
    assert_ne!(answer["code"], "invalid-body", "{status} {answer}");
    // An integer enum inside an array.
    let tenant = mock.example_request("demo", "CreateTenant").unwrap();
    let mut body = tenant.body.clone().unwrap();
    let config = |site_type: i64| json!([{"id": "d1", "domain": "e.com", "createdAt": "2026-01-01T00:00:00Z", "siteType": site_type}]);
    body["domainConfiguration"] = config(7);
    let (status, answer) = post(&mock, &tenant, &body).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["reason"]
            .as_str()
            .unwrap()
            .contains(".domainConfiguration[0].siteType: 7"),
        "{answer}"
    );
    body["domainConfiguration"] = config(1);
    let (status, answer) = post(&mock, &tenant, &body).await;
    assert_ne!(answer["code"], "invalid-body", "{status} {answer}");
}
