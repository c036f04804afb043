//! The mock's stores: what it keeps, per area (tenants and their collections, the change
//! feed, the live sockets' rooms, the request log, ...), below the handlers that decide
//! what each route does with them. A store imports no handler.
//!
//! Every lock is taken through [`lock`], which recovers a lock poisoned by a panic: a
//! request that panics cannot take the server down with it.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

pub(crate) mod faults;
pub(crate) mod feed;
pub(crate) mod integration;
pub(crate) mod live;
pub(crate) mod rate_limit;
pub(crate) mod webhooks;

use serde_json::{Map, Value};

use faults::Faults;
use rate_limit::RateLimit;

/// One stored object (comment, page, ...), as the JSON the API sends.
pub(crate) type Object = Map<String, Value>;

/// The most requests [`State::requests`] keeps; older ones are forgotten.
pub(crate) const MAX_RECORDED_REQUESTS: usize = 100_000;

/// Takes a lock, recovering it when a panic poisoned it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Everything the mock holds.
#[derive(Default)]
pub(crate) struct State {
    tenants: Mutex<HashMap<String, Tenant>>,
    requests: Mutex<VecDeque<RecordedRequest>>,
    pub(crate) faults: Faults,
    /// Requests per second per tenant, answered 429 beyond.
    pub(crate) rate_limit: RateLimit,
    /// The seed of generated answers and items.
    seed: AtomicU64,
    /// The collections of list operations that take no tenant (the moderation API).
    shared_lists: Mutex<HashMap<String, Vec<Object>>>,
    /// The integration protocol's side (tokens, event logs, uploads).
    pub(crate) integrations: Mutex<integration::Integrations>,
    /// Webhook receivers and the delivery queue.
    pub(crate) webhooks: Mutex<webhooks::Webhooks>,
    /// Every tenant's change feed. Taken before [`State::live`] when both are held.
    pub(crate) feeds: Mutex<feed::Feeds>,
    /// The live-event sockets' rooms and queues.
    pub(crate) live: Mutex<live::Live>,
}

impl fmt::Debug for State {
    /// Counts only: no API key, no data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("tenants", &lock(&self.tenants).len())
            .field("requests", &lock(&self.requests).len())
            .field("faults", &self.faults)
            .finish_non_exhaustive()
    }
}

/// One tenant's data. Collections keep insertion order.
#[derive(Default)]
pub(crate) struct Tenant {
    pub(crate) api_key: String,
    pub(crate) comments: Vec<Object>,
    pub(crate) pages: Vec<Object>,
    pub(crate) sso_users: Vec<Object>,
    pub(crate) votes: Vec<Object>,
    pub(crate) audit_logs: Vec<Object>,
    pub(crate) images: Vec<Vec<u8>>,
    /// The stores of the resources and list operations served generically, by
    /// collection path (`/api/v1/tenants`; see `resources::store_key`).
    pub(crate) lists: HashMap<String, Vec<Object>>,
}

/// A request as the mock received it.
#[derive(Clone)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, e.g. `/api/v1/comments`.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The `x-api-key` header as sent (shown redacted by `Debug`).
    pub api_key: Option<String>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// The body's size in bytes, as its `Content-Length` announced it (0 without a body,
    /// `None` for a chunked one).
    pub body_size: Option<u64>,
    /// The spec's `operationId` the method and path belong to (`None` for the
    /// integration protocol, the admin calls and unknown paths).
    pub operation_id: Option<&'static str>,
}

impl RecordedRequest {
    /// The value of query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let uri = format!("/?{}", self.query.as_deref()?).parse().ok()?;
        let axum::extract::Query(pairs) =
            axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&uri).ok()?;
        pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

impl fmt::Debug for RecordedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordedRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("user_agent", &self.user_agent)
            .field("body_size", &self.body_size)
            .field("operation_id", &self.operation_id)
            .finish()
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A new id, unique in the process, shaped like FastComments' (24 hex digits).
pub(crate) fn new_id() -> String {
    format!("{:024x}", NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

/// A time as FastComments writes dates: ISO-8601 with milliseconds, `Z`.
pub(crate) fn iso(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Epoch milliseconds as [`iso`]; `None` for a time no calendar holds.
pub(crate) fn iso_ms(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms).map(iso)
}

/// Shows a stored comment's date (epoch milliseconds) as events and webhooks carry it:
/// ISO-8601.
pub(crate) fn with_iso_date(comment: &mut Object) {
    if let Some(date) = comment.get("date").and_then(Value::as_i64).and_then(iso_ms) {
        comment.insert("date".into(), date.into());
    }
}

/// The current time in epoch milliseconds.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl State {
    pub(crate) fn seed(&self) -> u64 {
        self.seed.load(Ordering::Relaxed)
    }

    pub(crate) fn set_seed(&self, seed: u64) {
        self.seed.store(seed, Ordering::Relaxed);
    }

    pub(crate) fn add_tenant(&self, tenant_id: &str, api_key: &str) {
        lock(&self.tenants)
            .entry(tenant_id.to_string())
            .or_default()
            .api_key = api_key.to_string();
    }

    /// The tenant's one secret: its API key, which is also the API secret that signs
    /// its SSO, its webhooks, and what `/integrations/v1/api-secret` gives.
    pub(crate) fn api_secret(&self, tenant_id: &str) -> Option<String> {
        self.with_tenant(tenant_id, |t| t.api_key.clone())
    }

    /// The ids of the registered tenants.
    pub(crate) fn tenant_ids(&self) -> Vec<String> {
        lock(&self.tenants).keys().cloned().collect()
    }

    /// Runs `f` on a tenant's data, `None` if there is no such tenant.
    pub(crate) fn with_tenant<R>(
        &self,
        tenant_id: &str,
        f: impl FnOnce(&mut Tenant) -> R,
    ) -> Option<R> {
        lock(&self.tenants).get_mut(tenant_id).map(f)
    }

    /// Runs `f` on the generic list collections of a tenant (`None` if unknown), or on
    /// the shared ones when `tenant_id` is `None`.
    pub(crate) fn with_lists<R>(
        &self,
        tenant_id: Option<&str>,
        f: impl FnOnce(&mut HashMap<String, Vec<Object>>) -> R,
    ) -> Option<R> {
        match tenant_id {
            Some(tenant_id) => self.with_tenant(tenant_id, |t| f(&mut t.lists)),
            None => Some(f(&mut lock(&self.shared_lists))),
        }
    }

    /// Keeps a request in the log, forgetting the oldest past [`MAX_RECORDED_REQUESTS`].
    pub(crate) fn record(&self, recorded: RecordedRequest) {
        let mut requests = lock(&self.requests);
        if requests.len() == MAX_RECORDED_REQUESTS {
            requests.pop_front();
        }
        requests.push_back(recorded);
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.requests).iter().cloned().collect()
    }

    pub(crate) fn clear_requests(&self) {
        lock(&self.requests).clear();
    }
}

impl Tenant {
    /// Stores a comment where its date puts it. The store is kept oldest first (a comment
    /// after those of the same date), as FastComments lists them: `direction=OF` and
    /// `NF` read it in order, so a backdated or imported comment is listed by its date,
    /// not by when it was added.
    pub(crate) fn add_comment(&mut self, comment: Object) {
        let date = comment_date(&comment);
        let at = self.comments.partition_point(|c| comment_date(c) <= date);
        self.comments.insert(at, comment);
    }

    /// Moves the comment with `id` to where its (changed) date puts it.
    pub(crate) fn reposition_comment(&mut self, id: &str) {
        if let Some(at) = self
            .comments
            .iter()
            .position(|c| c.get("id").and_then(Value::as_str) == Some(id))
        {
            let comment = self.comments.remove(at);
            self.add_comment(comment);
        }
    }

    /// Appends an audit log entry, as FastComments does for every API change.
    pub(crate) fn audit(&mut self, crud_type: &str, resource_name: &str, object_id: &str) {
        let mut entry = Object::new();
        entry.insert("_id".into(), new_id().into());
        entry.insert("crudType".into(), crud_type.into());
        entry.insert("resourceName".into(), resource_name.into());
        entry.insert("from".into(), "api".into());
        entry.insert("when".into(), iso(chrono::Utc::now()).into());
        entry.insert(
            "objectDetails".into(),
            serde_json::json!({ "id": object_id }),
        );
        self.audit_logs.push(entry);
    }
}

impl Tenant {
    /// Removes the object with `id` from one of the tenant's collections and writes the
    /// audit entry for it, as every delete of the API does.
    pub(crate) fn delete(
        &mut self,
        collection: fn(&mut Tenant) -> &mut Vec<Object>,
        resource_name: &str,
        id: &str,
    ) -> Option<Object> {
        let removed = remove(collection(self), id)?;
        self.audit("d", resource_name, id);
        Some(removed)
    }
}

/// Finds an object by `id` in a collection.
pub(crate) fn find<'a>(items: &'a mut [Object], id: &str) -> Option<&'a mut Object> {
    items
        .iter_mut()
        .find(|o| o.get("id").and_then(Value::as_str) == Some(id))
}

/// Removes the object with `id` from a collection, returning it.
fn remove(items: &mut Vec<Object>, id: &str) -> Option<Object> {
    let index = items
        .iter()
        .position(|o| o.get("id").and_then(Value::as_str) == Some(id))?;
    Some(items.remove(index))
}

/// Copies onto `target` every field `patch` sets, as the typed request body `T` reads
/// it: fields `T` does not know, and fields left out or null, change nothing, so an
/// update can never store a value of the wrong type.
pub(crate) fn merge<T: serde::Serialize>(target: &mut Object, patch: &T) {
    if let Ok(Value::Object(fields)) = serde_json::to_value(patch) {
        for (key, value) in fields {
            if !value.is_null() {
                target.insert(key, value);
            }
        }
    }
}

/// A stored comment's date in epoch ms (the earliest possible when it has none).
fn comment_date(comment: &Object) -> i64 {
    match comment.get("date") {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .unwrap_or(i64::MIN),
        _ => i64::MIN,
    }
}

#[cfg(test)]
mod tests {
    /// The layering holds: a store reads and writes data and imports no handler, so a
    /// change to what a route does cannot reach what is kept except through a store's
    /// own functions.
    #[test]
    fn no_store_imports_a_handler() {
        let stores = [
            ("mod.rs", include_str!("mod.rs")),
            ("faults.rs", include_str!("faults.rs")),
            ("feed.rs", include_str!("feed.rs")),
            ("integration.rs", include_str!("integration.rs")),
            ("live.rs", include_str!("live.rs")),
            ("webhooks.rs", include_str!("webhooks.rs")),
        ];
        for (file, text) in stores {
            for line in text.lines().filter(|l| l.trim_start().starts_with("use ")) {
                let outside = line.contains("super::super") || line.contains("crate::mock");
                assert!(!outside, "store/{file} imports a handler: {line}");
            }
        }
    }
}
