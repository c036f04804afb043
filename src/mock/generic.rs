//! Every operation of the spec no dedicated handler takes: the operations on one comment
//! act on the comments store ([`super::comment_actions`]), the operations of a resource
//! share its store ([`super::resources`]), and everything else answers a body generated
//! from its response schema, the same for the same request.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, Method, Uri};
use schemars::schema::Schema;
use serde_json::{Value, json};

use super::auth;
use super::check::Checked;
use super::comment_actions;
use super::fake::Fake;
use super::ground::{Known, ground};
use super::resources::{self, Action, Bound, ItemType, is_named, put, slots};
use super::respond::{Answer, Failure, no_route};
use super::store::{Object, State, now_ms};
use super::table::SpecOperation;
use crate::operations::{Operation, TenantIdIn};

/// One request, as the generic handlers read it.
pub(crate) struct Call {
    pub(crate) op: &'static Operation,
    pub(crate) spec: &'static SpecOperation,
    /// What the checks read: parameters and the typed body.
    pub(crate) request: Arc<Checked>,
    /// The tenant the call is for; `None` for the operations without one, which share
    /// one store.
    pub(crate) tenant: Option<String>,
    pub(crate) fake: Fake,
}

impl Call {
    /// A generated answer: an instance of the response type, `status: "success"`.
    pub(crate) fn generated(&mut self) -> Value {
        success(&mut self.fake, self.spec)
    }

    /// A path parameter or, failing that, a query parameter.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.request
            .params
            .get(name)
            .or_else(|| self.request.query.get(name))
            .map(String::as_str)
    }

    /// The body as the operation's request type read it (`Null` without one).
    pub(crate) fn body(&self) -> &Value {
        &self.request.body
    }

    /// What the request names: the tenant, the path parameters, the query parameters
    /// and the body's top-level fields, in that order of precedence.
    pub(crate) fn known(&self) -> Known {
        let mut known = Known::default();
        if let Some(tenant) = &self.tenant {
            known.add("tenantId", Value::from(tenant.as_str()));
        }
        for (key, value) in self.request.params.iter().chain(&self.request.query) {
            known.add(key, Value::from(value.as_str()));
        }
        if let Value::Object(fields) = self.body() {
            known.add_object(fields);
        }
        if let (Some(tenant), Some(url_id)) = (&self.tenant, self.param("urlId")) {
            known.add("urlIdWS", super::public::url_id_ws(tenant, url_id).into());
        }
        known
    }

    /// An answer grounded in what the request and `item` (the object it addresses,
    /// as stored) know: see [`super::ground`].
    pub(crate) fn grounded(&self, mut answer: Value, item: Option<&Object>) -> Value {
        let mut top = Known::default();
        // Without a stored object, the one the answer holds is the one the path names.
        let mut own = Known::default();
        if let Some(tenant) = &self.tenant {
            own.add("tenantId", Value::from(tenant.as_str()));
        }
        for (key, value) in &self.request.params {
            own.add(key, Value::from(value.as_str()));
        }
        let mut inner = Some(own);
        if let Some(item) = item {
            top.add_object(item);
            let mut own = Known::default();
            own.add_object(item);
            if let Some(tenant) = &self.tenant {
                own.add("tenantId", Value::from(tenant.as_str()));
            }
            inner = Some(own);
        }
        let request = self.known();
        top.extend(&request);
        ground(
            &mut answer,
            self.spec.response_schema(),
            &top,
            inner.as_ref(),
            self.spec.fits,
        );
        answer
    }
}

/// An instance of `spec`'s response type from `fake`, with `status: "success"` where the
/// type has a status: the start of every answer the mock makes up. For a response that
/// is one of several shapes (`anyOf [{code, reason, status}, {configuration, status}]`)
/// it is the success shape, whatever the order.
pub(crate) fn success(fake: &mut Fake, spec: &SpecOperation) -> Value {
    let root = spec.response_schema();
    let mut body = match resources::success_object(&root.schema, root) {
        Some(shape) => fake.instance_in(&Schema::Object(shape.clone()), root),
        None => fake.instance(root, 0),
    };
    if body.get("status").is_some() {
        put(&mut body, "status", json!("success"));
    }
    body
}

/// The fallback of the mock's router: every request of a generated operation reaches it
/// checked ([`Checked`]); any other is a 404 or 405.
pub(crate) async fn answer(
    AxumState(state): AxumState<Arc<State>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    checked: Option<Extension<Arc<Checked>>>,
    bytes: Bytes,
) -> Answer {
    let Some(Extension(request)) = checked else {
        return Err(no_route(&method, uri.path()));
    };
    let (op, spec) = (request.op, request.spec);
    let tenant = tenant(&state, op, &headers, &request.query, &request.params)?;
    let fake = Fake::seeded(
        state.seed(),
        &[
            method.as_str().as_bytes(),
            uri.path().as_bytes(),
            uri.query().unwrap_or_default().as_bytes(),
            &bytes,
        ],
    );
    let mut call = Call {
        op,
        spec,
        request,
        tenant,
        fake,
    };
    if comment_actions::acts_on_a_comment(op) {
        return comment_actions::answer(&state, &mut call);
    }
    if let Some(bound) = resources::classify(op) {
        return crud(&state, &mut call, bound);
    }
    let answer = call.generated();
    (spec.respond)(call.grounded(answer, None))
}

/// The tenant of a call, checked like the real service: the API key for a secured
/// operation, an existing tenant for a public one.
pub(crate) fn tenant(
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
fn crud(state: &State, call: &mut Call, bound: Bound) -> Answer {
    let item_type = ItemType::of(bound.collection);
    let slots = slots(call.spec.response_schema());
    let mut answer = call.generated();
    let name = bound
        .item_param
        .and_then(|p| Some((p, call.request.params.get(p)?.clone())));
    let tenant = call.tenant.clone();
    let outcome = state
        .with_lists(tenant.as_deref(), |lists| {
            let items = lists
                .entry(resources::store_key(bound.collection))
                .or_default();
            let index = name
                .as_ref()
                .and_then(|(p, v)| items.iter().position(|i| is_named(i, p, v)));
            let item: Option<Object> = match (bound.action, index) {
                (Action::List, _) => {
                    let all = Value::Array(items.iter().cloned().map(Value::Object).collect());
                    if let Some((field, _)) = slots.list.as_ref().or(slots.item.as_ref()) {
                        put(&mut answer, field, all);
                    }
                    return Some(None);
                }
                (Action::Create, _) => {
                    let mut known = call.known();
                    known.written_at(now_ms());
                    let item = item_type.build(&mut call.fake, &call.request.body, &known);
                    items.push(item.clone());
                    Some(item)
                }
                (Action::Delete, Some(i)) => Some(items.remove(i)),
                (Action::Get, Some(i)) => Some(items[i].clone()),
                (Action::Replace | Action::Update | Action::OnItem, Some(i)) => {
                    let mut updated = items[i].clone();
                    item_type.overlay(&mut updated, &call.request.body);
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
                put(&mut answer, field, Value::Object(item.clone()));
            }
            Some(Some(item))
        })
        .ok_or_else(|| Failure::bad_request("invalid-tenant-id", "Unknown tenant."))?;
    let item = outcome.ok_or_else(|| {
        let what = bound
            .collection
            .rsplit('/')
            .find(|s| !s.starts_with('{'))
            .unwrap_or("item");
        Failure::not_found(what)
    })?;
    let answer = call.grounded(answer, item.as_ref());
    (call.spec.respond)(answer)
}
