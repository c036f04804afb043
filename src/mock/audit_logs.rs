//! `/api/v1/audit-logs`: the entries the mock wrote for every change, newest first by
//! default, 1000 per page through `skip`, filtered by `after`/`before`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State as AxumState;
use axum::routing::get;
use serde_json::{Value, json};

use super::auth::Secured;
use super::respond::{Answer, Failure, answer, index_param, int_param, skip_take};
use super::store::{Object, State};

/// Most entries one request returns.
pub(crate) const MAX_LIMIT: i64 = 1000;

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new().route("/api/v1/audit-logs", get(list))
}

fn when_ms(entry: &Object) -> i64 {
    entry
        .get("when")
        .and_then(Value::as_str)
        .and_then(|w| chrono::DateTime::parse_from_rfc3339(w).ok())
        .map_or(0, |w| w.timestamp_millis())
}

async fn list(
    AxumState(state): AxumState<Arc<State>>,
    Secured {
        tenant_id,
        query: q,
    }: Secured,
) -> Answer {
    let limit = int_param(&q, "limit", "invalid-limit")?.unwrap_or(MAX_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Failure::bad_request(
            "invalid-limit",
            format!("limit must be between 1 and {MAX_LIMIT}."),
        ));
    }
    let skip = index_param(&q, "skip", "invalid-skip")?.unwrap_or(0);
    let after = int_param(&q, "after", "invalid-after")?;
    let before = int_param(&q, "before", "invalid-before")?;
    let newest_first = match q.get("order").map(String::as_str) {
        None | Some("DESC") => true,
        Some("ASC") => false,
        Some(other) => {
            return Err(Failure::bad_request(
                "invalid-order",
                format!("order must be ASC or DESC, not {other}."),
            ));
        }
    };
    let entries = state
        .with_tenant(&tenant_id, |t| {
            let mut matching: Vec<&Object> = t
                .audit_logs
                .iter()
                .filter(|e| {
                    let when = when_ms(e);
                    after.is_none_or(|a| when > a) && before.is_none_or(|b| when < b)
                })
                .collect();
            if newest_first {
                matching.reverse();
            }
            skip_take(&matching, skip, limit.unsigned_abs() as usize)
                .into_iter()
                .cloned()
                .collect::<Vec<Object>>()
        })
        .unwrap_or_default();
    answer(
        "GetAuditLogs",
        json!({ "status": "success", "auditLogs": entries }),
    )
}
