//! `/api/v1/sso-users`: list (100 per page through `skip`), add, get by id or email,
//! patch, put, delete.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::routing::get;
use serde_json::{Value, json};

use super::auth::Secured;
use super::respond::{Answer, Failure, answer, body, index_param, skip_take};
use super::store::{Object, State, find, merge, now_ms};
use crate::types;

/// SSO users per page.
pub(crate) const PAGE_SIZE: usize = 100;

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/api/v1/sso-users", get(list).post(add))
        .route("/api/v1/sso-users/by-id/{id}", get(by_id))
        .route("/api/v1/sso-users/by-email/{email}", get(by_email))
        .route(
            "/api/v1/sso-users/{id}",
            axum::routing::patch(patch).put(put).delete(delete),
        )
}

async fn list(
    AxumState(state): AxumState<Arc<State>>,
    Secured {
        tenant_id,
        query: q,
    }: Secured,
) -> Answer {
    let skip = index_param(&q, "skip", "invalid-skip")?.unwrap_or(0);
    let users = state
        .with_tenant(&tenant_id, |t| skip_take(&t.sso_users, skip, PAGE_SIZE))
        .unwrap_or_default();
    answer(
        "GetSSOUsers",
        json!({ "status": "success", "users": users }),
    )
}

fn lookup(state: &State, tenant_id: &str, field: &str, value: &str) -> Option<Object> {
    state
        .with_tenant(tenant_id, |t| {
            t.sso_users
                .iter()
                .find(|u| u.get(field).and_then(Value::as_str) == Some(value))
                .cloned()
        })
        .flatten()
}

async fn by_id(
    AxumState(state): AxumState<Arc<State>>,
    Path(id): Path<String>,
    Secured { tenant_id, .. }: Secured,
) -> Answer {
    let user =
        lookup(&state, &tenant_id, "id", &id).ok_or_else(|| Failure::not_found_ok("SSO user"))?;
    answer(
        "GetSSOUserById",
        json!({ "status": "success", "user": user }),
    )
}

async fn by_email(
    AxumState(state): AxumState<Arc<State>>,
    Path(email): Path<String>,
    Secured { tenant_id, .. }: Secured,
) -> Answer {
    let user = lookup(&state, &tenant_id, "email", &email)
        .ok_or_else(|| Failure::not_found_ok("SSO user"))?;
    answer(
        "GetSSOUserByEmail",
        json!({ "status": "success", "user": user }),
    )
}

/// A new SSO user as the API stores it, with every field the spec requires.
fn new_user(id: &str, username: &str, email: &str) -> Object {
    json!({
        "id": id,
        "username": username,
        "email": email,
        "websiteUrl": "",
        "signUpDate": now_ms(),
        "createdFromUrlId": "",
        "loginCount": 0,
        "avatarSrc": "",
        "optedInNotifications": false,
        "optedInSubscriptionNotifications": false,
        "displayLabel": "",
        "displayName": username,
        "groupIds": [],
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

/// Adds `count` users without going through the API.
pub(crate) fn seed(tenant: &mut super::store::Tenant, count: usize) {
    let first = tenant.sso_users.len();
    for i in first..first + count {
        let user = new_user(
            &format!("user{i}"),
            &format!("user{i}"),
            &format!("user{i}@example.com"),
        );
        tenant.sso_users.push(user);
    }
}

async fn add(
    AxumState(state): AxumState<Arc<State>>,
    Secured { tenant_id, .. }: Secured,
    bytes: Bytes,
) -> Answer {
    let data: types::CreateApissoUserData = body(&bytes)?;
    let mut user = new_user(&data.id, &data.username, &data.email);
    merge(&mut user, &data);
    let added = state
        .with_tenant(&tenant_id, |t| {
            if t.sso_users.iter().any(|u| u.get("id") == user.get("id")) {
                return false;
            }
            t.audit("c", "SSOUser", &data.id);
            t.sso_users.push(user.clone());
            true
        })
        .unwrap_or(false);
    if !added {
        return Err(Failure::bad_request(
            "user-exists",
            "An SSO user with this id exists.",
        ));
    }
    answer("AddSSOUser", json!({ "status": "success", "user": user }))
}

/// Applies an update. `replace` (PUT) resets what the body leaves out to a new user's
/// value, keeping the user's identity (id, username, email unless given) and history
/// (sign-up date, login count): a partial PUT leaves a whole user.
fn update(
    state: &State,
    tenant_id: &str,
    id: &str,
    bytes: &[u8],
    replace: bool,
) -> Result<Object, Failure> {
    let data: types::UpdateApissoUserData = body(bytes)?;
    state
        .with_tenant(tenant_id, |t| {
            let user = find(&mut t.sso_users, id)?;
            if replace {
                let field = |name: &str| user.get(name).and_then(Value::as_str).unwrap_or("");
                let mut fresh = new_user(id, field("username"), field("email"));
                for kept in ["signUpDate", "loginCount"] {
                    if let Some(value) = user.get(kept) {
                        fresh.insert(kept.into(), value.clone());
                    }
                }
                *user = fresh;
            }
            merge(user, &data);
            let user = user.clone();
            t.audit("u", "SSOUser", id);
            Some(user)
        })
        .flatten()
        .ok_or_else(|| Failure::not_found_ok("SSO user"))
}

async fn patch(
    AxumState(state): AxumState<Arc<State>>,
    Path(id): Path<String>,
    Secured { tenant_id, .. }: Secured,
    bytes: Bytes,
) -> Answer {
    let user = update(&state, &tenant_id, &id, &bytes, false)?;
    answer("PatchSSOUser", json!({ "status": "success", "user": user }))
}

async fn put(
    AxumState(state): AxumState<Arc<State>>,
    Path(id): Path<String>,
    Secured { tenant_id, .. }: Secured,
    bytes: Bytes,
) -> Answer {
    let user = update(&state, &tenant_id, &id, &bytes, true)?;
    answer("PutSSOUser", json!({ "status": "success", "user": user }))
}

async fn delete(
    AxumState(state): AxumState<Arc<State>>,
    Path(id): Path<String>,
    Secured { tenant_id, .. }: Secured,
) -> Answer {
    let user = state
        .with_tenant(&tenant_id, |t| {
            t.delete(|t| &mut t.sso_users, "SSOUser", &id)
        })
        .flatten()
        .ok_or_else(|| Failure::not_found_ok("SSO user"))?;
    answer(
        "DeleteSSOUser",
        json!({ "status": "success", "user": user }),
    )
}
