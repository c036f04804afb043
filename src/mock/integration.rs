//! FastComments' side of the integration protocol (`/integrations/v1/*`), statefully:
//! tokens an admin confirms, a per-tenant event log paged by `fromDateTime` with
//! `hasMore` (several events may share a millisecond), commands derived from the state
//! (`SendComments` until an upload says `countRemaining: 0`, `FetchEvents` while events
//! wait, `SetSyncDone` after), uploads de-duplicated by `externalId` with HTTP 413 for a
//! body over the size limit in bytes (2 MB unless set otherwise, as FastComments'
//! request limit: a single comment of 2 MiB of HTML is refused even alone), the older
//! `/stream`, and the API secret.
//!
//! The admin calls are at the real service's paths, so tools written for FastComments
//! work unchanged: `GET /auth/my-account/integrations/v1/setup?token=…` and
//! `…/confirm?token=…` confirm a token (for `tenantId=` when given, otherwise the mock's
//! default tenant: the first registered in name order, or `mock-tenant`), and
//! `…/create-testing-events?token=…` writes new, updated and deleted comments and new
//! and deleted votes into the token's log, as FastComments' own test harness expects
//! them (see [`write_testing_events`]).
//!
//! The event log's `fromDateTime` is inclusive (`createdAt >= fromDateTime`); each
//! event's `createdAt` is sent as an ISO-8601 string with milliseconds, as the service
//! does (PROTOCOL.md §4).
//!
//! `POST /integrations/v1/comments` imports each new comment into the tenant's comment
//! store (the one the REST API serves and `MockServer::seed_comments` fills), with the id
//! it answers and its parent's id when the parent was uploaded;
//! `GET /integrations/v1/comments` pages through that store by `skip`, in pages of the
//! log's size; `PATCH /integrations/v1/comment-ids` stores each `{fcId, wpId}` as that
//! comment's `meta.wpId` (400 above 500 mappings).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, patch, post, put};
use serde_json::{Value, json};

use super::respond::{Answer, Failure, int_param};
use super::store::integration::TokenRecord;
use super::store::{State, iso_ms, new_id, now_ms};

/// The most the upload handler reads of a body, whatever the limit set (which is
/// checked against what it read): bounds the mock's memory.
const UPLOAD_READ_LIMIT: usize = 64 * 1024 * 1024;
/// The most comments the older `SendNextCommentsPayload` asks for at once.
const PAYLOAD_COUNT: usize = 100;

pub(crate) fn routes() -> Router<Arc<State>> {
    const ADMIN: &str = "/auth/my-account/integrations/v1";
    Router::new()
        .route("/integrations/v1/token", put(put_token))
        .route("/integrations/v1/token/{token}", put(put_token_in_path))
        .route("/integrations/v1/commands", get(commands))
        .route("/integrations/v1/events", get(events))
        .route("/integrations/v1/stream", get(stream))
        // The handler enforces the mock's own limit (in bytes, with FastComments' error
        // body); axum's default of 2 MiB would answer first, in plain text.
        .route(
            "/integrations/v1/comments",
            post(upload).layer(DefaultBodyLimit::max(UPLOAD_READ_LIMIT)),
        )
        .route("/integrations/v1/comments", get(download))
        .route("/integrations/v1/comment-ids", patch(comment_ids))
        .route("/integrations/v1/api-secret", get(api_secret))
        .route(&format!("{ADMIN}/setup"), get(confirm))
        .route(&format!("{ADMIN}/confirm"), get(confirm))
        .route(
            &format!("{ADMIN}/create-testing-events"),
            get(testing_events),
        )
}

type Params = Query<HashMap<String, String>>;

fn token_param(q: &HashMap<String, String>) -> Result<&str, Failure> {
    q.get("token")
        .map(String::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Failure::bad_request("missing-token", "token is required."))
}

fn refused(code: &'static str, reason: &str) -> Failure {
    Failure::new(StatusCode::UNAUTHORIZED, code, reason)
}

impl State {
    /// The tenant of a validated token.
    fn tenant_of(&self, token: &str) -> Result<String, Failure> {
        self.with_integrations(|i| match i.tokens.get(token) {
            None => Err(refused("invalid-token", "Unknown integration token.")),
            Some(TokenRecord {
                tenant_id: None, ..
            }) => Err(refused(
                "token-not-validated",
                "The integration token has not been confirmed yet.",
            )),
            Some(TokenRecord {
                tenant_id: Some(t), ..
            }) => Ok(t.clone()),
        })
    }
}

async fn put_token(AxumState(state): AxumState<Arc<State>>, Query(q): Params) -> Answer {
    let token = token_param(&q)?.to_owned();
    register(&state, &token, &q)
}

async fn put_token_in_path(
    AxumState(state): AxumState<Arc<State>>,
    Path(token): Path<String>,
    Query(q): Params,
) -> Answer {
    register(&state, &token, &q)
}

fn register(state: &State, token: &str, q: &HashMap<String, String>) -> Answer {
    let skip = q.get("skipInitialSync").is_some_and(|v| v == "true");
    let tenant = state.with_integrations(|i| {
        let record = i.tokens.entry(token.to_owned()).or_default();
        record.skip_initial_sync |= skip;
        record.tenant_id.clone()
    });
    let mut body = json!({ "status": "success", "isTokenValidated": tenant.is_some() });
    if let Some(tenant) = tenant {
        body["tenantId"] = tenant.into();
    }
    Ok(Json(body).into_response())
}

async fn confirm(AxumState(state): AxumState<Arc<State>>, Query(q): Params) -> Answer {
    let token = token_param(&q)?;
    let tenant = q
        .get("tenantId")
        .cloned()
        .unwrap_or_else(|| state.default_tenant());
    state.confirm_integration(token, &tenant);
    Ok(Json(json!({ "status": "success", "tenantId": tenant })).into_response())
}

fn from_param(q: &HashMap<String, String>, name: &str) -> Result<i64, Failure> {
    Ok(int_param(q, name, "invalid-from-date-time")?.unwrap_or(0))
}

async fn commands(AxumState(state): AxumState<Arc<State>>, Query(q): Params) -> Answer {
    let token = token_param(&q)?;
    let tenant = state.tenant_of(token)?;
    let from = from_param(&q, "fromDateTime")?;
    let commands = state.with_integrations(|i| {
        let skip = i.tokens.get(token).is_some_and(|t| t.skip_initial_sync);
        let log = i.tenants.entry(tenant.clone()).or_default();
        let mut commands = Vec::new();
        if !skip && !log.upload_done {
            commands.push(json!({ "id": format!("{tenant}-send-comments"), "command": "SendComments" }));
        }
        let waiting = log.from(from).len();
        if waiting > 0 {
            commands.push(json!({ "id": format!("{tenant}-fetch-events"), "command": "FetchEvents", "eventCount": waiting }));
        }
        if skip || log.upload_done {
            commands.push(json!({ "id": null, "command": "SetSyncDone" }));
        }
        commands
    });
    Ok(Json(json!({ "status": "success", "commands": commands })).into_response())
}

/// One page of the log from `from`, and whether there is more.
fn page(state: &State, tenant: &str, from: i64) -> (Vec<Value>, bool) {
    state.with_integrations(|i| {
        let size = i.page_size;
        let log = i.tenants.entry(tenant.to_owned()).or_default();
        let rest = log.from(from);
        let events = rest
            .iter()
            .take(size)
            .map(|e| json!({ "_id": e.id, "createdAt": iso_or_ms(e.created_at), "urlId": e.url_id, "data": e.data }))
            .collect();
        (events, rest.len() > size)
    })
}

/// A log time as the service sends it: ISO-8601 (epoch ms for a time no calendar holds).
fn iso_or_ms(ms: i64) -> Value {
    iso_ms(ms).map_or(Value::from(ms), Value::from)
}

async fn events(AxumState(state): AxumState<Arc<State>>, Query(q): Params) -> Answer {
    let tenant = state.tenant_of(token_param(&q)?)?;
    let (events, has_more) = page(&state, &tenant, from_param(&q, "fromDateTime")?);
    Ok(Json(json!({ "status": "success", "events": events, "hasMore": has_more })).into_response())
}

async fn stream(AxumState(state): AxumState<Arc<State>>, Query(q): Params) -> Answer {
    let token = token_param(&q)?;
    let tenant = state.tenant_of(token)?;
    let (events, has_more) = page(&state, &tenant, from_param(&q, "lastFetchDate")?);
    let mut commands = vec![json!({ "command": "SetSetupCompleted" })];
    state.with_integrations(|i| {
        let skip = i.tokens.get(token).is_some_and(|t| t.skip_initial_sync);
        let limit = PAYLOAD_COUNT;
        let log = i.tenants.entry(tenant.clone()).or_default();
        if !skip && !log.upload_done {
            commands.push(json!({ "command": "SendNextCommentsPayload", "start": log.uploads.len(), "count": limit }));
        }
    });
    Ok(Json(
        json!({ "status": "success", "commands": commands, "events": events, "hasMore": has_more }),
    )
    .into_response())
}

/// Checks one uploaded comment as the service does; returns its `externalId`.
/// An uploaded field stored as the comment's own: its name, its type's test, the type.
type FieldType = (&'static str, fn(&Value) -> bool, &'static str);

fn check_comment(comment: &Value) -> Result<String, Failure> {
    let invalid = |reason: &str| Failure::bad_request("invalid-comment", reason.to_owned());
    let external = comment
        .get("externalId")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| invalid("Every comment needs an externalId string."))?;
    match comment.get("externalParentId") {
        None | Some(Value::Null | Value::String(_)) => {}
        Some(_) => return Err(invalid("externalParentId must be null or a string.")),
    }
    let date_ok = match comment.get("date") {
        Some(Value::String(s)) => chrono::DateTime::parse_from_rfc3339(s).is_ok(),
        Some(Value::Number(n)) => n.as_i64().is_some(),
        _ => false,
    };
    if !date_ok {
        return Err(invalid("date must be an ISO-8601 string."));
    }
    // The fields stored as the comment's own: each of its type, or absent (null).
    let typed: [FieldType; 11] = [
        ("approved", Value::is_boolean, "a boolean"),
        ("verified", Value::is_boolean, "a boolean"),
        ("votes", Value::is_i64, "an integer"),
        ("votesUp", Value::is_i64, "an integer"),
        ("votesDown", Value::is_i64, "an integer"),
        ("userId", Value::is_string, "a string"),
        ("commenterEmail", Value::is_string, "a string"),
        ("avatarSrc", Value::is_string, "a string"),
        ("pageTitle", Value::is_string, "a string"),
        ("comment", Value::is_string, "a string"),
        ("commentHTML", Value::is_string, "a string"),
    ];
    for (key, is, kind) in typed {
        if let Some(value) = comment.get(key).filter(|v| !v.is_null())
            && !is(value)
        {
            return Err(invalid(&format!("{key} must be {kind}.")));
        }
    }
    Ok(external.to_owned())
}

async fn upload(AxumState(state): AxumState<Arc<State>>, Query(q): Params, body: Bytes) -> Answer {
    let tenant = state.tenant_of(token_param(&q)?)?;
    let limit = state.with_integrations(|i| i.body_limit);
    if body.len() > limit {
        return Err(Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            format!(
                "The request body is {} bytes; at most {limit} are accepted.",
                body.len()
            ),
        ));
    }
    let body: Value = serde_json::from_slice(&body)
        .map_err(|e| Failure::bad_request("invalid-body", format!("invalid request body: {e}")))?;
    let remaining = body
        .get("countRemaining")
        .and_then(Value::as_u64)
        .ok_or_else(|| {
            Failure::bad_request(
                "invalid-body",
                "countRemaining must be a non-negative integer.",
            )
        })?;
    let comments = body
        .get("comments")
        .and_then(Value::as_array)
        .ok_or_else(|| Failure::bad_request("invalid-body", "comments must be an array."))?;
    let externals = comments
        .iter()
        .map(check_comment)
        .collect::<Result<Vec<_>, _>>()?;
    let (ids, new, orphans) = state.with_integrations(|i| {
        let log = i.tenants.entry(tenant.clone()).or_default();
        log.batches.push((comments.len(), remaining));
        let mut ids = serde_json::Map::new();
        let mut new = Vec::new();
        for (external, comment) in externals.into_iter().zip(comments) {
            let stored = log.uploads.entry(external.clone()).or_insert_with(|| {
                let mut stored = comment.clone();
                stored["_id"] = new_id().into();
                new.push(external.clone());
                stored
            });
            ids.insert(external, stored["_id"].clone());
        }
        if remaining == 0 {
            log.upload_done = true;
        }
        // Earlier uploads whose parent is among the new ones: (child id, parent id).
        let orphans: Vec<(String, String)> = log
            .uploads
            .values()
            .filter_map(|c| {
                let parent = c.get("externalParentId")?.as_str()?;
                if !new.iter().any(|n| n == parent)
                    || new
                        .iter()
                        .any(|n| Some(n.as_str()) == c.get("externalId").and_then(Value::as_str))
                {
                    return None;
                }
                let parent = log.uploads.get(parent)?["_id"].as_str()?.to_owned();
                Some((c["_id"].as_str()?.to_owned(), parent))
            })
            .collect();
        // Each new comment with its id and its parent's, when the parent was uploaded.
        let new: Vec<(Value, Option<String>)> = new
            .iter()
            .filter_map(|external| {
                let comment = log.uploads.get(external)?.clone();
                let parent = comment
                    .get("externalParentId")
                    .and_then(Value::as_str)
                    .and_then(|p| log.uploads.get(p))
                    .and_then(|p| p["_id"].as_str())
                    .map(str::to_owned);
                Some((comment, parent))
            })
            .collect();
        (ids, new, orphans)
    });
    // Imported into the tenant's comment store, the one the REST API serves; a child
    // uploaded before its parent is linked when the parent comes.
    state.with_tenant(&tenant, |t| {
        for (comment, parent) in &new {
            let id = comment["_id"].as_str().unwrap_or_default();
            t.add_comment(super::comments::imported(
                &tenant,
                id,
                comment,
                parent.as_deref(),
            ));
        }
        for (child, parent) in &orphans {
            if let Some(stored) = t
                .comments
                .iter_mut()
                .find(|c| c.get("id").and_then(Value::as_str) == Some(child.as_str()))
            {
                stored.insert("parentId".into(), parent.as_str().into());
            }
        }
    });
    Ok(Json(json!({ "status": "success", "commentIds": ids })).into_response())
}

/// The most mappings one `PATCH /integrations/v1/comment-ids` takes.
const MAX_ID_MAPPINGS: usize = 500;

/// `GET /integrations/v1/comments?skip=&includeCount=`: the tenant's comments (the mock's
/// comment store, the one the REST API serves), in stored order, a page at a time, each
/// with its id as `_id` like the event log's payload.
async fn download(AxumState(state): AxumState<Arc<State>>, Query(q): Params) -> Answer {
    let tenant = state.tenant_of(token_param(&q)?)?;
    let skip = usize::try_from(int_param(&q, "skip", "invalid-skip")?.unwrap_or(0).max(0))
        .unwrap_or(usize::MAX);
    let include_count = q.get("includeCount").is_some_and(|v| v == "true");
    let size = state.with_integrations(|i| i.page_size);
    let (comments, total) = state
        .with_tenant(&tenant, |t| {
            let page: Vec<Value> = t
                .comments
                .iter()
                .skip(skip)
                .take(size)
                .map(|c| {
                    let mut c = c.clone();
                    if let Some(id) = c.remove("id") {
                        c.insert("_id".into(), id);
                    }
                    Value::Object(c)
                })
                .collect();
            (page, t.comments.len())
        })
        .unwrap_or_default();
    let mut body = json!({
        "status": "success",
        "comments": comments,
        "hasMore": skip.saturating_add(size) < total,
    });
    if include_count {
        body["totalCount"] = total.into();
    }
    Ok(Json(body).into_response())
}

/// `PATCH /integrations/v1/comment-ids` with `{mappings: [{fcId, wpId}]}` (at most 500):
/// each comment of the tenant's store named by `fcId` gets `meta.wpId` = `wpId`, as sent
/// (a string or a number). An `fcId` the store does not hold changes nothing.
async fn comment_ids(
    AxumState(state): AxumState<Arc<State>>,
    Query(q): Params,
    body: Bytes,
) -> Answer {
    let tenant = state.tenant_of(token_param(&q)?)?;
    let invalid = |reason: &str| Failure::bad_request("invalid-body", reason.to_owned());
    let body: Value = serde_json::from_slice(&body)
        .map_err(|e| Failure::bad_request("invalid-body", format!("invalid request body: {e}")))?;
    let mappings = body
        .get("mappings")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("mappings must be an array."))?;
    if mappings.len() > MAX_ID_MAPPINGS {
        return Err(Failure::bad_request(
            "too-many-mappings",
            format!(
                "At most {MAX_ID_MAPPINGS} mappings per call; got {}.",
                mappings.len()
            ),
        ));
    }
    let pairs = mappings
        .iter()
        .map(|m| {
            let fc_id = m.get("fcId").and_then(Value::as_str);
            let wp_id = m.get("wpId").filter(|v| v.is_string() || v.is_number());
            match (fc_id, wp_id) {
                (Some(fc), Some(wp)) => Ok((fc.to_owned(), wp.clone())),
                _ => Err(invalid(
                    "every mapping needs fcId (a string) and wpId (a string or a number).",
                )),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    state.with_tenant(&tenant, |t| {
        for (fc_id, wp_id) in pairs {
            if let Some(comment) = super::store::find(&mut t.comments, &fc_id) {
                let meta = comment
                    .entry("meta")
                    .or_insert_with(|| Value::Object(serde_json::Map::new()));
                if !meta.is_object() {
                    *meta = Value::Object(serde_json::Map::new());
                }
                meta["wpId"] = wp_id;
            }
        }
    });
    Ok(Json(json!({ "status": "success" })).into_response())
}

async fn api_secret(AxumState(state): AxumState<Arc<State>>, Query(q): Params) -> Answer {
    let tenant = state.tenant_of(token_param(&q)?)?;
    let secret = state.api_secret(&tenant).ok_or_else(|| {
        Failure::bad_request("invalid-tenant-id", "The token's tenant is not registered.")
    })?;
    Ok(Json(json!({ "status": "success", "secret": secret })).into_response())
}

async fn testing_events(AxumState(state): AxumState<Arc<State>>, Query(q): Params) -> Answer {
    let tenant = state.tenant_of(token_param(&q)?)?;
    let ids = write_testing_events(&state, &tenant, now_ms());
    Ok(Json(json!({ "status": "success", "eventIds": ids })).into_response())
}

/// FastComments' test harness, as the service plays it: three new comments, an edit,
/// votes (each event carrying the comment voted on beside the vote, which the reference
/// cores' vote handlers read), one vote withdrawn and one comment deleted, one event a
/// millisecond from `at` on. Net: two new comments, the first edited with one up vote,
/// the second with one up vote. Returns the events' ids, in log order.
pub(crate) fn write_testing_events(state: &State, tenant: &str, at: i64) -> Vec<String> {
    const URL_ID: &str = "fastcomments-integration-test";
    let comment = |id: &str, html: &str, votes: (i64, i64)| {
        json!({
            "_id": id, "externalId": null, "tenantId": tenant, "urlId": URL_ID,
            "urlIdRaw": URL_ID, "url": format!("https://example.com/{URL_ID}"),
            "pageTitle": "Integration test", "userId": null, "commenterName": "FastComments Tester",
            "commenterEmail": "tester@fastcomments.com", "comment": html, "commentHTML": format!("<p>{html}</p>"),
            "parentId": null, "date": iso_or_ms(at), "votes": votes.0 - votes.1, "votesUp": votes.0,
            "votesDown": votes.1, "verified": true, "notificationSentForParent": true,
            "notificationSentForParentTenant": true, "reviewed": false, "avatarSrc": null,
            "isSpam": false, "aiDeterminedSpam": false, "hasImages": false, "hasLinks": false,
            "approved": true, "locale": "en_us", "isByAdmin": false, "isByModerator": false
        })
    };
    let vote = |id: &str, on: &str, direction: i64, cast: i64| {
        json!({ "_id": id, "commentExternalId": null, "tenantId": tenant, "urlId": URL_ID,
                "urlIdRaw": URL_ID, "commentId": on, "userId": "tester", "direction": direction, "createdAt": cast })
    };
    let (first, second, gone) = (new_id(), new_id(), new_id());
    let (up, other, down) = (new_id(), new_id(), new_id());
    let (stays, edited) = ("A comment that stays", "A comment that stays, edited");
    let (also, goes) = ("Another comment that stays", "A comment that goes");
    let events = [
        (
            "new-comment",
            json!({ "comment": comment(&first, stays, (0, 0)) }),
        ),
        (
            "new-comment",
            json!({ "comment": comment(&second, also, (0, 0)) }),
        ),
        (
            "new-comment",
            json!({ "comment": comment(&gone, goes, (0, 0)) }),
        ),
        (
            "updated-comment",
            json!({ "comment": comment(&first, edited, (0, 0)) }),
        ),
        (
            "new-vote",
            json!({ "vote": vote(&up, &first, 1, at + 4), "comment": comment(&first, edited, (1, 0)) }),
        ),
        (
            "new-vote",
            json!({ "vote": vote(&other, &second, 1, at + 5), "comment": comment(&second, also, (1, 0)) }),
        ),
        (
            "new-vote",
            json!({ "vote": vote(&down, &gone, -1, at + 6), "comment": comment(&gone, goes, (0, 1)) }),
        ),
        (
            "deleted-vote",
            json!({ "vote": vote(&down, &gone, -1, at + 6), "comment": comment(&gone, goes, (0, 0)) }),
        ),
        (
            "deleted-comment",
            json!({ "comment": comment(&gone, goes, (0, 0)) }),
        ),
    ];
    state.with_integrations(|i| {
        let log = i.tenants.entry(tenant.to_owned()).or_default();
        events
            .into_iter()
            .zip(at..)
            .map(|((kind, mut payload), created_at)| {
                payload["type"] = kind.into();
                payload["broadcastId"] = new_id().into();
                payload["timestamp"] = created_at.into();
                log.push(created_at, URL_ID, payload.to_string())
            })
            .collect()
    })
}
