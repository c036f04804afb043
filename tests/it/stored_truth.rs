//! The mock invents only what neither the request nor the store knows: every operation,
//! called on objects created for it first (`MockServer::example_request`), answers each
//! value the request named and each value of the comment it addresses **equal** to what
//! was sent or stored, and every answer validates against the spec's own schema (a JSON
//! Schema copy of `openapi.json`, independent of the generated types).

use std::collections::BTreeMap;

use fastcomments::mock::{ExampleRequest, MockServer};
use fastcomments::operations::{Implementation, OPERATIONS};
use serde_json::{Map, Value, json};

const TENANT: &str = "demo";
const KEY: &str = "demo-key";

/// Answer fields that share a name with a request value but mean something else there:
/// `status` is the answer's outcome, `skip`/`limit`/`page`/`count` describe the page
/// asked for, not a stored value.
const OTHER_MEANING: &[&str] = &["status", "skip", "limit", "page", "count"];

/// The spec's schemas as JSON Schema: OpenAPI's `nullable` as a `null` alternative,
/// `additionalProperties: false` dropped from `allOf` parts (JSON Schema would refuse
/// the other parts' fields), and the spec's own contradiction resolved: `APIComment`'s
/// `date` is a string in `APICommentBase` and a number in the other part of its
/// `allOf`; the number (what the API sends) is kept.
fn json_schema_components(spec: &Value) -> Value {
    let mut schemas = spec["components"]["schemas"].clone();
    let mut parts = Vec::new();
    collect_all_of_refs(&schemas, &mut parts);
    for name in parts {
        if let Some(Value::Object(s)) = schemas.get_mut(&name) {
            s.remove("additionalProperties");
        }
    }
    schemas["APICommentBase"]["properties"]["date"] = json!({});
    let mut converted = convert(&schemas);
    if let Value::Object(map) = &mut converted {
        for schema in map.values_mut() {
            strip_all_of_closure(schema);
        }
    }
    json!({ "schemas": converted })
}

/// The names `$ref`ed from any `allOf`.
fn collect_all_of_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(parts)) = map.get("allOf") {
                for part in parts {
                    if let Some(r) = part.get("$ref").and_then(Value::as_str) {
                        out.push(r.rsplit('/').next().unwrap_or_default().to_owned());
                    }
                }
            }
            map.values().for_each(|v| collect_all_of_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_all_of_refs(v, out)),
        _ => {}
    }
}

/// Drops `additionalProperties` from inline `allOf` parts.
fn strip_all_of_closure(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(parts)) = map.get_mut("allOf") {
                for part in parts.iter_mut() {
                    if let Value::Object(p) = part {
                        p.remove("additionalProperties");
                    }
                }
            }
            map.values_mut().for_each(strip_all_of_closure);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_all_of_closure),
        _ => {}
    }
}

/// OpenAPI 3.0 `nullable: true` → `anyOf: [schema, {type: null}]`, everywhere.
fn convert(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out: Map<String, Value> =
                map.iter().map(|(k, v)| (k.clone(), convert(v))).collect();
            if out.remove("nullable") == Some(Value::Bool(true)) {
                return json!({ "anyOf": [Value::Object(out), { "type": "null" }] });
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(convert).collect()),
        other => other.clone(),
    }
}

/// The 200 answer schema of each operation, by `operationId`.
fn answer_schemas(spec: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for item in spec["paths"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
    {
        for op in item.as_object().into_iter().flat_map(|o| o.values()) {
            let schema = &op["responses"]["200"]["content"]["application/json"]["schema"];
            if let Some(id) = op["operationId"].as_str()
                && !schema.is_null()
            {
                out.insert(id.to_owned(), convert(schema));
            }
        }
    }
    out
}

/// Every generated string of the example body (`value-N`) replaced by one that names
/// its field and operation, so an echo can be told from a made-up value.
fn distinctive(body: &mut Value, op: &str, path: &str) {
    match body {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                distinctive(value, op, &format!("{path}.{key}"));
            }
        }
        Value::Array(items) => {
            for (n, item) in items.iter_mut().enumerate() {
                distinctive(item, op, &format!("{path}[{n}]"));
            }
        }
        Value::String(s) if is_placeholder(s) => *s = format!("{op}{path}"),
        _ => {}
    }
}

/// A string the mock makes up for a field it knows nothing of.
fn is_placeholder(s: &str) -> bool {
    s.strip_prefix("value-")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// What a request named: the tenant, its path and query parameters, its body's
/// top-level fields.
fn named(example: &ExampleRequest) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("tenantId".into(), json!(TENANT));

    for (k, v) in &example.params {
        out.insert(k.clone(), v.clone());
    }
    for (k, v) in &example.query {
        out.entry(k.clone()).or_insert_with(|| json!(v));
    }
    if let Some(Value::Object(body)) = &example.body {
        for (k, v) in body {
            if !v.is_null() {
                out.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    // What a signed-in user writes is theirs: the name and id the body gives are the
    // SSO user's.
    if let Some(user) = sso_user(example) {
        let name = user.get("displayName").unwrap_or(&user["username"]);
        for (key, value) in [("commenterName", name), ("userId", &user["id"])] {
            if let Some(named) = out.get_mut(key) {
                *named = value.clone();
            }
        }
    }
    out
}

/// The user a request's secure `sso` signs in, decoded here from its base64.
fn sso_user(example: &ExampleRequest) -> Option<Value> {
    use base64::Engine;
    let sso: Value = serde_json::from_str(example.params.get("sso")?.as_str()?).ok()?;
    let data = base64::engine::general_purpose::STANDARD
        .decode(sso["userDataJSONBase64"].as_str()?)
        .ok()?;
    serde_json::from_slice(&data).ok()
}

/// Whether an answer's value is the one named, in one of the forms the API gives a
/// value (a query parameter's text as a number, a date as epoch ms or ISO-8601).
fn same(answered: &Value, named: &Value) -> bool {
    if answered == named {
        return true;
    }
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let ms = |v: &Value| match v {
        Value::Number(n) => n.as_f64().map(|f| f as i64),
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| d.timestamp_millis()),
        _ => None,
    };
    (text(answered).is_some() && text(answered) == text(named))
        || (ms(answered).is_some() && ms(answered) == ms(named))
}

/// The objects an answer holds at its top level and one level down (the item of a get
/// or create, a comment), with their place.
fn objects(answer: &Value) -> Vec<(String, &Map<String, Value>)> {
    let mut out = Vec::new();
    if let Value::Object(top) = answer {
        out.push((String::new(), top));
        for (key, value) in top {
            if let Value::Object(inner) = value {
                out.push((format!(".{key}"), inner));
            }
        }
    }
    out
}

/// Names under which an answer shows a stored comment's fields.
fn comment_aliases(key: &str) -> &[&str] {
    match key {
        "id" => &["_id", "id"],
        "comment" => &["comment", "commentText"],
        "commentHTML" => &["commentHTML", "newCommentTextHTML"],
        _ => &[],
    }
}

/// One operation's verdict.
#[derive(Default)]
struct Verdict {
    /// Values the answer had a place for (request-named or stored).
    places: usize,
    mismatches: Vec<String>,
}

/// The properties a schema (of `root`, a JSON Schema with `components`) gives an object:
/// through `$ref`, `allOf` and the branches of `anyOf`/`oneOf`.
fn properties(schema: &Value, root: &Value, depth: usize) -> Map<String, Value> {
    let mut out = Map::new();
    if depth > 8 {
        return out;
    }
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or_default();
        return properties(&root["components"]["schemas"][name], root, depth + 1);
    }
    if let Some(Value::Object(own)) = schema.get("properties") {
        out.extend(own.clone());
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        for part in schema
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for (k, v) in properties(part, root, depth + 1) {
                out.entry(k).or_insert(v);
            }
        }
    }
    out
}

/// Where an answer's schema has room for a value: `("", key)` at the top level,
/// `(".field", key)` in an object one level down.
fn places(root: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (key, property) in properties(root, root, 0) {
        let inner = properties(&property, root, 0);
        out.push((String::new(), key.clone()));
        for inner_key in inner.keys() {
            out.push((format!(".{key}"), inner_key.clone()));
        }
    }
    out
}

fn compare_named(answer: &Value, root: &Value, example: &ExampleRequest, verdict: &mut Verdict) {
    let named = named(example);
    // An operation on an object its path names answers that object as stored: a query
    // parameter there is the caller's (`ChangeTicketState?userId=` is who acts, not
    // whose ticket it is).
    let addresses_an_object = example
        .params
        .keys()
        .any(|k| k != "tenantId" && !example.query.iter().any(|(q, _)| q == k));
    for (place, object) in objects(answer) {
        for (key, value) in object {
            if OTHER_MEANING.contains(&key.as_str()) || value.is_object() || value.is_array() {
                continue;
            }
            // Below the top level, `id`s belong to the object they are in.
            if !place.is_empty() && matches!(key.as_str(), "id" | "_id") {
                continue;
            }
            let from_query = key != "tenantId" && example.query.iter().any(|(q, _)| q == key);
            if !place.is_empty() && addresses_an_object && from_query {
                continue;
            }
            if let Some(sent) = named.get(key) {
                verdict.places += 1;
                if !same(value, sent) {
                    verdict
                        .mismatches
                        .push(format!("{place}.{key}: answered {value}, named {sent}"));
                }
            }
        }
    }
    // A place the schema has for a named value must not be left empty.
    for (place, key) in places(root) {
        let object = match place.strip_prefix('.') {
            None => answer.as_object(),
            Some(field) => answer.get(field).and_then(Value::as_object),
        };
        let Some(object) = object else { continue };
        let skipped = OTHER_MEANING.contains(&key.as_str())
            || (!place.is_empty() && matches!(key.as_str(), "id" | "_id"))
            || (!place.is_empty()
                && addresses_an_object
                && key != "tenantId"
                && example.query.iter().any(|(q, _)| *q == key));
        if skipped || object.contains_key(&key) {
            continue;
        }
        if let Some(sent) = named.get(&key) {
            verdict.places += 1;
            verdict
                .mismatches
                .push(format!("{place}.{key}: absent, named {sent}"));
        }
    }
}

fn compare_comment(answer: &Value, stored: &Map<String, Value>, verdict: &mut Verdict) {
    // The comment is where the answer holds it: the top level for its text, `.comment`
    // (an object) for the whole of it.
    for (place, object) in objects(answer) {
        let whole = place == ".comment";
        for (key, value) in stored {
            let names = comment_aliases(key);
            let names: Vec<&str> = if names.is_empty() {
                vec![key.as_str()]
            } else {
                names.to_vec()
            };
            for name in names {
                let text_only = matches!(name, "commentText" | "newCommentTextHTML")
                    || (name == "comment" && place.is_empty());
                if !(whole || text_only) {
                    continue;
                }
                if let Some(answered) = object.get(name)
                    && !answered.is_object()
                    && !answered.is_array()
                {
                    verdict.places += 1;
                    if !same(answered, value) {
                        verdict.mismatches.push(format!(
                            "{place}.{name}: answered {answered}, stored {key} {value}"
                        ));
                    }
                }
            }
        }
    }
}

async fn send(http: &reqwest::Client, server: &MockServer, example: &ExampleRequest) -> Value {
    let url = format!("{}{}", server.base_url(), example.path);
    let method = reqwest::Method::from_bytes(example.method.as_bytes()).unwrap();
    let mut request = http
        .request(method, url)
        .query(&example.query)
        .header("x-api-key", KEY);
    if let Some(body) = &example.body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(
        status.is_success(),
        "{} answered {status}: {text}",
        example.operation_id
    );
    serde_json::from_str(&text).unwrap()
}

/// `GET path` for the tenant with its key, as JSON; `None` when it fails.
async fn get_json(http: &reqwest::Client, server: &MockServer, path: &str) -> Option<Value> {
    let url = format!("{}{path}", server.base_url());
    let request = http
        .get(url)
        .query(&[("tenantId", TENANT)])
        .header("x-api-key", KEY);
    request.send().await.ok()?.json().await.ok()
}

/// The comment a request addresses, as the secured API reads it from the store.
async fn stored_comment(
    http: &reqwest::Client,
    server: &MockServer,
    example: &ExampleRequest,
) -> Option<Map<String, Value>> {
    let id = example
        .params
        .get("commentId")
        .or_else(|| {
            example
                .path
                .starts_with("/api/v1/comments/")
                .then(|| example.params.get("id"))?
        })?
        .as_str()?;
    let answer = get_json(http, server, &format!("/api/v1/comments/{id}")).await?;
    answer.get("comment")?.as_object().cloned()
}

/// The object another operation addresses, as the operation that reads it (`GET` on its
/// item path: `GetTicket` for `ChangeTicketState`) answers it: the stored object, read
/// through the API. `None` when the spec has no such read, or the object is gone.
async fn stored_item(
    http: &reqwest::Client,
    server: &MockServer,
    op: &fastcomments::operations::Operation,
    example: &ExampleRequest,
) -> Option<Map<String, Value>> {
    let template: Vec<&str> = op.path.split('/').collect();
    let last_param = template
        .iter()
        .rposition(|s| s.starts_with('{') && *s != "{tenantId}")?;
    let item_template = template[..=last_param].join("/");
    let read = OPERATIONS
        .iter()
        .find(|o| o.method == "GET" && o.path == item_template)?;
    if read.id == op.id || item_template.starts_with("/api/v1/comments/") {
        return None;
    }
    let path: Vec<&str> = example.path.split('/').take(last_param + 1).collect();
    let answer = get_json(http, server, &path.join("/")).await?;
    answer
        .as_object()?
        .iter()
        .find(|(k, v)| *k != "status" && v.is_object())
        .and_then(|(_, v)| v.as_object().cloned())
}

/// Each field of the stored item that the answer holds, in an object of the answer
/// that is the item (it has the item's id), must be equal.
fn compare_item(answer: &Value, stored: &Map<String, Value>, verdict: &mut Verdict) {
    let id_of = |o: &Map<String, Value>| o.get("id").or_else(|| o.get("_id")).cloned();
    let Some(id) = id_of(stored) else { return };
    for (place, object) in objects(answer) {
        if id_of(object).as_ref() != Some(&id) {
            continue;
        }
        for (key, value) in stored {
            if let Some(answered) = object.get(key) {
                verdict.places += 1;
                if answered != value {
                    verdict.mismatches.push(format!(
                        "{place}.{key}: answered {answered}, stored {value}"
                    ));
                }
            }
        }
    }
}

#[tokio::test]
async fn every_answer_holds_what_was_sent_and_stored_and_fits_the_spec() {
    let spec: Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/openapi.json"
    )))
    .unwrap();
    let components = json_schema_components(&spec);
    let schemas = answer_schemas(&spec);
    let server = MockServer::start().await.unwrap();
    server.add_tenant(TENANT, KEY);
    // Building the crate's client installs the TLS provider a plain reqwest client needs.
    let _client = server.client(TENANT, KEY).unwrap();
    let http = reqwest::Client::new();

    let (mut with_place, mut fully_derived) = (0, 0);
    // Answers that still hold a generated string: what neither the request nor the
    // store knew (a ticket's `subject` when it was not sent), reported, not refused.
    let mut with_generated = Vec::new();
    let mut failures = Vec::new();
    for op in OPERATIONS {
        if matches!(op.implementation, Implementation::HandWritten(_)) {
            continue;
        }
        let mut example = server.example_request(TENANT, op.id).unwrap();
        if let Some(body) = &mut example.body {
            distinctive(body, op.id, "");
        }
        let before = stored_comment(&http, &server, &example).await;
        let item_before = stored_item(&http, &server, op, &example).await;
        let answer = send(&http, &server, &example).await;
        // What the store holds now: after a write, the object as written.
        let stored = stored_comment(&http, &server, &example).await.or(before);
        let item = stored_item(&http, &server, op, &example)
            .await
            .or(item_before);

        let mut root = schemas[op.id].clone();
        root["components"] = components.clone();
        let validator = jsonschema::validator_for(&root).unwrap();
        let problems: Vec<String> = validator
            .iter_errors(&answer)
            .take(3)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        if !problems.is_empty() {
            failures.push(format!("{}: breaks the spec: {problems:?}", op.id));
        }

        if answer.to_string().contains("\"value-") {
            with_generated.push(op.id);
        }
        let mut verdict = Verdict::default();
        compare_named(&answer, &root, &example, &mut verdict);
        if let Some(stored) = &stored {
            compare_comment(&answer, stored, &mut verdict);
        }
        if let Some(item) = &item {
            compare_item(&answer, item, &mut verdict);
        }
        if verdict.places > 0 {
            with_place += 1;
            if verdict.mismatches.is_empty() {
                fully_derived += 1;
            }
        }
        for mismatch in verdict.mismatches {
            failures.push(format!("{}: {mismatch}", op.id));
        }
    }
    eprintln!(
        "{fully_derived} of {with_place} operations whose answer has a place for a sent or \
         stored value answer every such value equal; {} answers hold a generated string \
         nobody sent: {with_generated:?}",
        with_generated.len()
    );
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Today's spec: 39 operations' answers have a place (in the schema) for a value the
    // request named or the addressed object holds; the others answer lists, counts or
    // computed values.
    assert!(with_place >= 35, "only {with_place} operations compared");
}

#[test]
fn the_schema_check_has_teeth() {
    let spec: Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/openapi.json"
    )))
    .unwrap();
    let mut root = answer_schemas(&spec)["postRemoveComment"].clone();
    root["components"] = json_schema_components(&spec);
    let validator = jsonschema::validator_for(&root).unwrap();
    assert!(!validator.is_valid(&json!({})));
    assert!(validator.is_valid(&json!({"status": "success", "action": "deleted"})));
    assert!(is_placeholder("value-12") && !is_placeholder("value-x"));
    assert!(same(
        &json!(1_767_225_600_000_i64),
        &json!("2026-01-01T00:00:00Z")
    ));
    assert!(!same(&json!("value-0"), &json!("asked")));
}
