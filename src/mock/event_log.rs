//! The public event log (`GetEventLog`, `GetGlobalEventLog`): the tenant's change feed
//! ([`super::feed`]) from `startTime` to `endTime` (epoch milliseconds, both inclusive;
//! `endTime` defaults to everything stored), of one page or of the whole tenant, each event's `data` as
//! the live sockets get it (no commenter e-mail, no `meta`). Events older than the feed
//! keeps are gone, as in FastComments' expiring log.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth;
use super::respond::{Answer, Failure, answer, body, int_param};
use super::store::{State, lock};

/// The public routes, and the admin calls of a standalone mock: `POST /__mock/event-time`
/// (`{"atMs": 1767225600000}` pins the feed's clock, `{"atMs": null}` frees it) and
/// `POST /__mock/event-log-capacity` (`{"entries": 3}`), as `MockServer::set_event_time`
/// and `MockServer::set_event_log_capacity`.
pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/event-log/{tenantId}", get(page))
        .route("/event-log/global/{tenantId}", get(global))
        .route("/__mock/event-time", post(event_time))
        .route("/__mock/event-log-capacity", post(capacity))
}

/// `{"atMs": ms}` or `{"atMs": null}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventTime {
    at_ms: Option<i64>,
}

async fn event_time(
    AxumState(state): AxumState<Arc<State>>,
    bytes: Bytes,
) -> Result<StatusCode, Failure> {
    let EventTime { at_ms } = body(&bytes)?;
    lock(&state.feeds).pin_clock(at_ms);
    Ok(StatusCode::NO_CONTENT)
}

/// `{"entries": n}`.
#[derive(Deserialize)]
struct Capacity {
    entries: usize,
}

async fn capacity(
    AxumState(state): AxumState<Arc<State>>,
    bytes: Bytes,
) -> Result<StatusCode, Failure> {
    let Capacity { entries } = body(&bytes)?;
    lock(&state.feeds).set_capacity(entries);
    Ok(StatusCode::NO_CONTENT)
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
    // Without an end: everything stored, a change pinned in the future
    // (`MockServer::set_event_time`) included, as the feed's clock never goes back.
    let end = int_param(q, "endTime", "invalid-end-time")?.unwrap_or(i64::MAX);
    let events: Vec<Value> = lock(&state.feeds)
        .range(tenant_id, url_id, start, end)
        .iter()
        .map(|e| e.to_log_entry(tenant_id))
        .collect();
    answer(
        operation_id,
        json!({ "status": "success", "events": events }),
    )
}
