//! The public event log (`GetEventLog`, `GetGlobalEventLog`): the tenant's change feed
//! ([`super::feed`]) from `startTime` to `endTime` (epoch milliseconds, both inclusive;
//! `endTime` defaults to now), of one page or of the whole tenant. Events older than the
//! feed keeps are gone, as in FastComments' expiring log.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State as AxumState};
use axum::routing::get;
use serde_json::{Value, json};

use super::auth;
use super::respond::{Answer, Failure, answer, int_param};
use super::store::{State, lock, now_ms};

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/event-log/{tenantId}", get(page))
        .route("/event-log/global/{tenantId}", get(global))
}

async fn page(
    AxumState(state): AxumState<Arc<State>>,
    Path(tenant_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let url_id = q
        .get("urlId")
        .ok_or_else(|| Failure::bad_request("missing-parameter", "urlId is required."))?;
    read(&state, &tenant_id, Some(url_id), &q, "GetEventLog")
}

async fn global(
    AxumState(state): AxumState<Arc<State>>,
    Path(tenant_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    read(&state, &tenant_id, None, &q, "GetGlobalEventLog")
}

/// What the public log may show of a comment: the integration log (authenticated by its
/// token) carries the commenter's e-mail and the site's `meta`, the public one does not,
/// as the spec's `PubSubComment` has neither.
const PRIVATE: [&str; 2] = ["commenterEmail", "meta"];

/// An event's data as the public log shows it.
fn public_data(data: &str) -> String {
    let Ok(mut event) = serde_json::from_str::<Value>(data) else {
        return data.to_owned();
    };
    if let Some(comment) = event.get_mut("comment").and_then(Value::as_object_mut) {
        for key in PRIVATE {
            comment.remove(key);
        }
    }
    event.to_string()
}

fn read(
    state: &State,
    tenant_id: &str,
    url_id: Option<&str>,
    q: &HashMap<String, String>,
    operation_id: &str,
) -> Answer {
    auth::public(state, tenant_id)?;
    let start = int_param(q, "startTime", "invalid-start-time")?
        .ok_or_else(|| Failure::bad_request("missing-parameter", "startTime is required."))?;
    let end = int_param(q, "endTime", "invalid-end-time")?.unwrap_or_else(now_ms);
    let events: Vec<Value> = lock(&state.feeds)
        .range(tenant_id, url_id, start, end)
        .iter()
        .map(|e| {
            let mut entry = e.to_log_entry(tenant_id);
            entry["data"] = Value::from(public_data(&e.data));
            entry
        })
        .collect();
    answer(
        operation_id,
        json!({ "status": "success", "events": events }),
    )
}
