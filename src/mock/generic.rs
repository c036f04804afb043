//! Every operation of the spec no dedicated handler takes: the operations on one comment
//! act on the comments store ([`super::comment_actions`]), the operations of a resource
//! share its store ([`super::resources`]), and everything else answers a body generated
//! from its response schema, the same for the same request.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State as AxumState};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{Value, json};

use super::auth;
use super::comment_actions;
use super::fake::Fake;
use super::resources::{self, Action, Bound, ItemType, is_named, put, slots};
use super::respond::{Answer, Failure, no_route, operation_of};
use super::state::{Object, State};
use super::table::{self, SpecOperation};
use crate::operations::{Operation, TenantIdIn};

/// One request, as the generic handlers read it.
pub(crate) struct Call<'a> {
    pub(crate) op: &'static Operation,
    pub(crate) spec: &'static SpecOperation,
    /// The tenant the call is for; `None` for the operations without one (the
    /// moderation API), which share one store.
    pub(crate) tenant: Option<String>,
    pub(crate) path: &'a str,
    pub(crate) params: HashMap<String, String>,
    pub(crate) query: HashMap<String, String>,
    /// The body as the operation's request type read it (`Null` without one).
    pub(crate) body: Value,
    pub(crate) fake: Fake,
}

impl Call<'_> {
    /// A generated answer: an instance of the response type, `status: "success"`.
    pub(crate) fn generated(&mut self) -> Value {
        let mut body = self.fake.instance(self.spec.response_schema(), 0);
        if body.get("status").is_some() {
            put(&mut body, "status", json!("success"));
        }
        body
    }

    /// A path parameter or, failing that, a query parameter.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .or_else(|| self.query.get(name))
            .map(String::as_str)
    }
}

/// The fallback of the mock's router.
pub(crate) async fn answer(
    AxumState(state): AxumState<Arc<State>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Answer {
    let path = uri.path();
    let Some(op) = operation_of(method.as_str(), path) else {
        return Err(no_route(&method, path));
    };
    let Some(spec) = table::find(op.id) else {
        return Err(Failure::new(
            StatusCode::NOT_IMPLEMENTED,
            "mock-unimplemented",
            format!(
                "the mock server does not answer {} ({} {})",
                op.id, op.method, op.path
            ),
        ));
    };
    let query = Query::<HashMap<String, String>>::try_from_uri(&uri)
        .map(|Query(q)| q)
        .map_err(|e| Failure::bad_request("invalid-query", e.body_text()))?;
    let params = path_params(op.path, path);
    let tenant = tenant(&state, op, &headers, &query, &params)?;
    let body = match (&spec.body, bytes.is_empty()) {
        (Some(body), false) => (body.check)(&bytes).map_err(|e| {
            Failure::bad_request("invalid-body", format!("invalid request body: {e}"))
        })?,
        _ => Value::Null,
    };
    let query_text = uri.query().unwrap_or_default();
    let fake = Fake::seeded(
        state.seed(),
        &[
            method.as_str().as_bytes(),
            path.as_bytes(),
            query_text.as_bytes(),
            &bytes,
        ],
    );
    let mut call = Call {
        op,
        spec,
        tenant,
        path,
        params,
        query,
        body,
        fake,
    };
    if comment_actions::acts_on_a_comment(op) {
        return comment_actions::answer(&state, &mut call);
    }
    if let Some(bound) = resources::classify(op) {
        return crud(&state, &mut call, bound);
    }
    (spec.respond)(call.generated())
}

/// The values of a path's parameters, percent-decoded, by name.
pub(crate) fn path_params(template: &str, path: &str) -> HashMap<String, String> {
    template
        .split('/')
        .zip(path.split('/'))
        .filter_map(|(t, p)| {
            let name = t.strip_prefix('{')?.strip_suffix('}')?;
            let value = percent_encoding::percent_decode_str(p).decode_utf8_lossy();
            Some((name.to_string(), value.into_owned()))
        })
        .collect()
}

/// The tenant of a call, checked like the real service: the API key for a secured
/// operation, an existing tenant for a public one.
fn tenant(
    state: &State,
    op: &Operation,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    params: &HashMap<String, String>,
) -> Result<Option<String>, Failure> {
    if op.requires_api_key {
        return auth::secured(state, headers, query).map(Some);
    }
    let tenant = match op.tenant_id {
        TenantIdIn::None => return Ok(None),
        TenantIdIn::Path => params.get("tenantId"),
        TenantIdIn::Query => query.get("tenantId"),
    };
    let tenant =
        tenant.ok_or_else(|| Failure::bad_request("invalid-tenant-id", "tenantId is required."))?;
    auth::public(state, tenant)?;
    Ok(Some(tenant.clone()))
}

/// A resource operation on the tenant's store for its collection.
fn crud(state: &State, call: &mut Call<'_>, bound: Bound) -> Answer {
    let key = resources::store_key(bound.collection, call.path);
    let item_type = ItemType::of(bound.collection);
    let slots = slots(call.spec.response_schema());
    let mut answer = call.generated();
    let name = bound
        .item_param
        .and_then(|p| Some((p, call.params.get(p)?.clone())));
    let outcome = state
        .with_lists(call.tenant.as_deref(), |lists| {
            let items = lists.entry(key).or_default();
            let index = name
                .as_ref()
                .and_then(|(p, v)| items.iter().position(|i| is_named(i, p, v)));
            let item: Option<Object> = match (bound.action, index) {
                (Action::List, _) => {
                    let all = Value::Array(items.iter().cloned().map(Value::Object).collect());
                    if let Some((field, _)) = slots.list.as_ref().or(slots.item.as_ref()) {
                        put(&mut answer, field, all);
                    }
                    return Some(());
                }
                (Action::Create, _) => {
                    let item = item_type.build(&mut call.fake, &call.body);
                    items.push(item.clone());
                    Some(item)
                }
                (Action::Delete, Some(i)) => Some(items.remove(i)),
                (Action::Get, Some(i)) => Some(items[i].clone()),
                (Action::Replace | Action::Update | Action::OnItem, Some(i)) => {
                    let mut updated = items[i].clone();
                    item_type.overlay(&mut updated, &call.body);
                    if item_type.fits(&updated) {
                        items[i] = updated;
                    }
                    Some(items[i].clone())
                }
                (_, None) => None,
            };
            let item = item?;
            if bound.action != Action::Delete
                && let Some((field, _)) = &slots.item
            {
                put(&mut answer, field, Value::Object(item));
            }
            Some(())
        })
        .ok_or_else(|| Failure::bad_request("invalid-tenant-id", "Unknown tenant."))?;
    outcome.ok_or_else(|| {
        let what = bound.collection.rsplit('/').next().unwrap_or("item");
        Failure::not_found(what)
    })?;
    (call.spec.respond)(answer)
}
