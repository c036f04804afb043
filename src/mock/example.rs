//! A request the mock accepts for any operation: required parameters and body filled
//! from the spec's schemas, the ids in the path naming objects seeded for it.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::fake::Fake;
use super::ground::Known;
use super::resources::{ItemType, is_collection};
use super::store::{State, Tenant, now_ms};
use super::table::{self, In, Kind, Param};

/// A request for one operation, every required value filled (see
/// [`MockServer::example_request`](super::MockServer::example_request)).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExampleRequest {
    /// The spec's `operationId`.
    pub operation_id: &'static str,
    /// The HTTP method.
    pub method: &'static str,
    /// The path, parameters filled in and percent-encoded.
    pub path: String,
    /// Every required path and query parameter, by the spec's name, and `sso` where the
    /// operation takes one: a moderator's secure SSO, signed with the tenant's API key.
    pub params: BTreeMap<String, Value>,
    /// The query parameters among them (`tenantId` included where the operation takes it
    /// there).
    pub query: Vec<(String, String)>,
    /// The body, with every required field, when the operation takes one.
    pub body: Option<Value>,
}

impl ExampleRequest {
    /// Parameter `name` as the type a builder setter takes.
    pub fn param<T: DeserializeOwned>(&self, name: &str) -> Result<T, serde_json::Error> {
        T::deserialize(self.params.get(name).unwrap_or(&Value::Null))
    }

    /// The body as the operation's request type.
    pub fn body<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(self.body.as_ref().unwrap_or(&Value::Null))
    }
}

/// Builds the example of `operation_id` for `tenant_id`, seeding what its path names.
pub(crate) fn build(state: &State, tenant_id: &str, operation_id: &str) -> Option<ExampleRequest> {
    let op = crate::operations::find(operation_id)?;
    let spec = table::find(op.id)?;
    let mut fake = Fake::seeded(state.seed(), &[op.id.as_bytes()]);
    let mut params = BTreeMap::new();
    let mut path = String::new();
    let mut comment_id = None;
    for segment in op.path.split('/').skip(1) {
        let value = match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            None => segment.to_string(),
            Some("tenantId") => tenant_id.to_string(),
            Some(name) => {
                let value = seed_for(state, tenant_id, op.path, &path, name, &mut comment_id)
                    .unwrap_or_else(|| example(spec.params, name, &mut fake));
                params.insert(name.to_string(), json!(value));
                value
            }
        };
        path.push('/');
        path.push_str(&percent_encoding::utf8_percent_encode(&value, SEGMENT).to_string());
    }
    let mut query = Vec::new();
    for param in spec
        .params
        .iter()
        .filter(|p| p.location == In::Query && p.required)
    {
        let value = match param.name {
            "tenantId" => json!(tenant_id),
            "urlId" => json!(seed_page(state, tenant_id)),
            "commentId" => json!(comment(state, tenant_id, &mut comment_id)),
            _ => typed_example(param, &mut fake),
        };
        let text = match &value {
            Value::String(s) => s.clone(),
            Value::Array(items) => items
                .first()
                .and_then(Value::as_str)
                .unwrap_or_default()
                .into(),
            other => other.to_string(),
        };
        query.push((param.name.to_string(), text));
        params.insert(param.name.to_string(), value);
    }
    if spec.params.iter().any(|p| p.name == "sso")
        && let Some(secret) = state.api_secret(tenant_id)
    {
        // A moderator's secure SSO: every operation that takes one lets a moderator act.
        let sso = super::sso::sign(&secret, &super::sso::example_moderator(), now_ms());
        query.push(("sso".to_string(), sso.clone()));
        params.insert("sso".to_string(), json!(sso));
    }
    let body = spec.body.as_ref().map(|b| fake.instance(&(b.schema)(), 0));
    Some(ExampleRequest {
        operation_id: op.id,
        method: op.method,
        path,
        params,
        query,
        body,
    })
}

/// What a path segment may hold unescaped.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Seeds the object the path parameter `name` names and returns its key: a comment, a
/// vote, an SSO user, a page, or an item of the resource at the path so far.
fn seed_for(
    state: &State,
    tenant_id: &str,
    template: &str,
    so_far: &str,
    name: &str,
    comment_id: &mut Option<String>,
) -> Option<String> {
    let under = |prefix: &str| template.starts_with(prefix);
    match name {
        "commentId" => return Some(comment(state, tenant_id, comment_id)),
        _ if name == "voteId" || under("/api/v1/votes/") => {
            let comment = comment(state, tenant_id, comment_id);
            return state
                .with_tenant(tenant_id, |t| {
                    super::votes::add(t, &comment, "up", Some("user0"), false)
                })
                .flatten()
                .and_then(|v| v.get("id")?.as_str().map(str::to_owned));
        }
        _ if under("/api/v1/comments/") => return Some(comment(state, tenant_id, comment_id)),
        _ if under("/api/v1/sso-users/") => {
            return state.with_tenant(tenant_id, |t| {
                super::sso_users::seed(t, 1);
                let user = t.sso_users.last()?;
                let field = if name == "email" { "email" } else { "id" };
                user.get(field)?.as_str().map(str::to_owned)
            })?;
        }
        _ if under("/api/v1/pages/") => {
            return state.with_tenant(tenant_id, |t| {
                super::pages::seed(t, "example-page", "Example")
            });
        }
        _ => {}
    }
    // The collection this parameter names an item of.
    let collection = template
        .split('/')
        .take(so_far.matches('/').count() + 1)
        .collect::<Vec<_>>()
        .join("/");
    if !is_collection(&collection) {
        return None;
    }
    let item_type = ItemType::of(&collection);
    let mut fake = Fake::seeded(state.seed(), &[so_far.as_bytes(), name.as_bytes()]);
    let mut known = Known::default();
    known.add("tenantId", tenant_id.into());
    known.written_at(super::store::now_ms());
    let mut item = item_type.build(&mut fake, &Value::Null, &known);
    // An item named by a field of its own (`{tag}`, `{domain}`) gets a unique value there.
    if item.get(name).is_some_and(Value::is_string) {
        item.insert(name.into(), fake.id().into());
    }
    let id = [name, "id", "_id"]
        .iter()
        .find_map(|k| item.get(*k)?.as_str().map(str::to_owned))?;
    state.with_lists(Some(tenant_id), |lists| {
        lists
            .entry(super::resources::store_key(&collection))
            .or_default()
            .push(item)
    })?;
    Some(id)
}

/// The comment of the example (seeded once).
fn comment(state: &State, tenant_id: &str, comment_id: &mut Option<String>) -> String {
    comment_id
        .get_or_insert_with(|| {
            state
                .with_tenant(tenant_id, |t: &mut Tenant| {
                    super::comments::seed(t, tenant_id, "example-page", 1)
                })
                .and_then(|ids| ids.into_iter().next())
                .unwrap_or_default()
        })
        .clone()
}

/// A page's `urlId`, the page seeded with one comment if it is not there yet.
fn seed_page(state: &State, tenant_id: &str) -> String {
    let url_id = "example-page";
    state.with_tenant(tenant_id, |t| {
        if !t
            .pages
            .iter()
            .any(|p| p.get("urlId").and_then(Value::as_str) == Some(url_id))
        {
            super::comments::seed(t, tenant_id, url_id, 1);
        }
    });
    url_id.to_string()
}

/// A value of the parameter's type, from the spec.
fn example(params: &[Param], name: &str, fake: &mut Fake) -> String {
    match params
        .iter()
        .find(|p| p.name == name)
        .map(|p| typed_example(p, fake))
    {
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
        None => fake.id(),
    }
}

fn typed_example(param: &Param, fake: &mut Fake) -> Value {
    if let Some(first) = param.values.first() {
        return match param.kind {
            Kind::Integer | Kind::Number => serde_json::from_str(first).unwrap_or(json!(first)),
            _ => json!(first),
        };
    }
    match param.kind {
        Kind::Integer => json!(1),
        Kind::Number => json!(1.0),
        Kind::Boolean => json!(true),
        Kind::Array => json!([fake.id()]),
        Kind::String => json!(fake.id()),
    }
}
