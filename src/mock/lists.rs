//! The list operations the mock has no dedicated handler for, served generically from the
//! table `build.rs` derives from the spec: one collection per operation and tenant,
//! seeded with [`MockServer::seed_list`](super::MockServer::seed_list), paged the way the
//! operation pages (`skip`, `page`, `afterId` or `cursor`, 100 per page unless the
//! request asks for fewer), answered as the operation's response type.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Extension, Router};
use schemars::schema::RootSchema;
use serde_json::{Value, json};

use super::check::Checked;
use super::fake::Fake;
use super::generic::{success, tenant};
use super::resources::store_key;
use super::respond::{Answer, Failure, index_param, int_param, skip_take};
use super::store::{Object, State, new_id};
use crate::operations::TenantIdIn;
use crate::pagination::PagingMode;

/// One list operation as the mock serves it.
pub(crate) struct ListOperation {
    pub(crate) operation: &'static str,
    path: &'static str,
    field: &'static str,
    modes: &'static [PagingMode],
    size_parameter: Option<&'static str>,
    pub(crate) item_schema: fn() -> RootSchema,
}

include!(concat!(env!("OUT_DIR"), "/mock_lists.rs"));

/// Served by their own handlers, with their own rules.
const DEDICATED: &[&str] = &[
    "GetComments",
    "GetCommentsPublic",
    "GetAuditLogs",
    "GetSSOUsers",
];

/// Items per page unless the request asks for fewer; asking for more is `invalid-limit`.
pub(crate) const PAGE_SIZE: i64 = 100;

/// The operations served here.
pub(crate) fn served() -> impl Iterator<Item = ListOperation> {
    list_operations()
        .into_iter()
        .filter(|o| !DEDICATED.contains(&o.operation))
}

pub(crate) fn routes() -> Router<Arc<State>> {
    served().fold(Router::new(), |router, op| {
        let op = Arc::new(op);
        let path = op.path;
        router.route(
            path,
            get(
                move |state: AxumState<Arc<State>>,
                      headers: HeaderMap,
                      checked: Extension<Arc<Checked>>| {
                    list(op.clone(), state, headers, checked)
                },
            ),
        )
    })
}

async fn list(
    op: Arc<ListOperation>,
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    Extension(request): Extension<Arc<Checked>>,
) -> Answer {
    let (q, spec) = (&request.query, request.spec);
    // `None` for the moderation API: a moderator's session cookie in real life, which
    // the mock does not check; its collections are shared by every tenant.
    let tenant_id = tenant(&state, request.op, &headers, q, &request.params)?;
    let size = match op.size_parameter {
        Some(name) => int_param(q, name, "invalid-limit")?.unwrap_or(PAGE_SIZE),
        None => PAGE_SIZE,
    };
    if !(1..=PAGE_SIZE).contains(&size) {
        return Err(Failure::bad_request(
            "invalid-limit",
            format!("the page size must be between 1 and {PAGE_SIZE}."),
        ));
    }
    let size = size.unsigned_abs() as usize;
    let window = state
        .with_lists(tenant_id.as_deref(), |lists| {
            let items = lists
                .get(&store_key(op.path))
                .map(Vec::as_slice)
                .unwrap_or_default();
            page(&op, items, q, size)
        })
        .unwrap_or_else(|| Ok(Window::default()))?;
    let mut body = success(
        &mut Fake::seeded(state.seed(), &[op.operation.as_bytes()]),
        spec,
    );
    body[op.field] = json!(window.items);
    if body.get("hasMore").is_some() {
        body["hasMore"] = json!(window.has_more);
    }
    if body.get("nextCursor").is_some() || op.modes.contains(&PagingMode::Cursor) {
        body["nextCursor"] = json!(window.next_cursor);
    }
    (spec.respond)(body)
}

#[derive(Default)]
struct Window {
    items: Vec<Object>,
    has_more: bool,
    next_cursor: Option<String>,
}

/// The page a request asks for, by the first of the operation's modes it uses.
fn page(
    op: &ListOperation,
    items: &[Object],
    q: &HashMap<String, String>,
    size: usize,
) -> Result<Window, Failure> {
    let uses = |mode: PagingMode, param: &str| op.modes.contains(&mode) && q.contains_key(param);
    let start = if uses(PagingMode::Page, "page") {
        // A page far past the end starts past the end.
        index_param(q, "page", "invalid-page")?
            .unwrap_or(0)
            .saturating_mul(size)
    } else if op.modes.contains(&PagingMode::Skip) {
        index_param(q, "skip", "invalid-skip")?.unwrap_or(0)
    } else if uses(PagingMode::AfterId, "afterId") {
        let after = &q["afterId"];
        let index = items
            .iter()
            .position(|i| {
                ["id", "_id"]
                    .iter()
                    .any(|k| i.get(*k).and_then(Value::as_str) == Some(after))
            })
            .ok_or_else(|| Failure::bad_request("invalid-after-id", "afterId names no item."))?;
        index.saturating_add(1)
    } else if uses(PagingMode::Cursor, "cursor") {
        q["cursor"]
            .parse::<usize>()
            .map_err(|_| Failure::bad_request("invalid-cursor", "Unknown cursor."))?
    } else {
        0
    };
    let window = skip_take(items, start, size);
    let end = start.saturating_add(window.len());
    Ok(Window {
        has_more: end < items.len(),
        next_cursor: (end < items.len()).then(|| end.to_string()),
        items: window,
    })
}

/// Adds `count` generated items to an operation's collection (the tenant's, or the shared
/// one of an operation without tenant); `None` when the operation is not served here or
/// the tenant is unknown.
pub(crate) fn seed(state: &State, tenant_id: &str, operation: &str, count: usize) -> Option<()> {
    let op = served().find(|o| o.operation == operation)?;
    let schema = (op.item_schema)();
    let has_tenant = crate::operations::find(op.operation)?.tenant_id != TenantIdIn::None;
    state.with_lists(has_tenant.then_some(tenant_id), |lists| {
        let list = lists.entry(store_key(op.path)).or_default();
        let first = list.len();
        let mut fake = Fake::seeded(state.seed(), &[op.path.as_bytes(), &first.to_le_bytes()]);
        // Ids from the process-wide counter: seeded items sort in the order added.
        list.extend((first..first + count).filter_map(|n| {
            let mut item = fake.instance(&schema, n).as_object().cloned()?;
            for key in ["id", "_id"] {
                if item.contains_key(key) {
                    item.insert(key.into(), new_id().into());
                }
            }
            Some(item)
        }));
    })
}
