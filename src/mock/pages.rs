//! `/api/v1/pages`: list, add, get by URL id, patch, delete.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::routing::{get, patch};
use serde_json::{Value, json};

use super::auth::Secured;
use super::respond::{Answer, Failure, answer, body};
use super::store::{Object, State, Tenant, find, merge, new_id};
use crate::types;

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/api/v1/pages", get(list).post(add))
        .route("/api/v1/pages/by-url-id", get(by_url_id))
        .route("/api/v1/pages/{id}", patch(update).delete(delete))
}

/// A page as the API sends it, with its comment counts taken from the comments.
fn with_counts(tenant: &Tenant, page: &Object) -> Object {
    let url_id = page.get("urlId").and_then(Value::as_str);
    let on_page = tenant
        .comments
        .iter()
        .filter(|c| c.get("urlId").and_then(Value::as_str) == url_id);
    let (all, roots) = on_page.fold((0, 0), |(all, roots), c| {
        (
            all + 1,
            roots + usize::from(c.get("parentId").is_none_or(Value::is_null)),
        )
    });
    let mut page = page.clone();
    page.insert("commentCount".into(), all.into());
    page.insert("rootCommentCount".into(), roots.into());
    page
}

async fn list(
    AxumState(state): AxumState<Arc<State>>,
    Secured { tenant_id, .. }: Secured,
) -> Answer {
    let pages: Vec<Object> = state
        .with_tenant(&tenant_id, |t| {
            t.pages.iter().map(|p| with_counts(t, p)).collect()
        })
        .unwrap_or_default();
    answer("GetPages", json!({ "status": "success", "pages": pages }))
}

async fn by_url_id(
    AxumState(state): AxumState<Arc<State>>,
    Secured {
        tenant_id,
        query: q,
    }: Secured,
) -> Answer {
    let url_id = q
        .get("urlId")
        .ok_or_else(|| Failure::bad_request("invalid-url-id", "urlId is required."))?;
    let page = state
        .with_tenant(&tenant_id, |t| {
            t.pages
                .iter()
                .find(|p| p.get("urlId").and_then(Value::as_str) == Some(url_id.as_str()))
                .map(|p| with_counts(t, p))
        })
        .flatten()
        .ok_or_else(|| Failure::not_found_ok("page"))?;
    answer(
        "GetPageByURLId",
        json!({ "status": "success", "page": page }),
    )
}

async fn add(
    AxumState(state): AxumState<Arc<State>>,
    Secured { tenant_id, .. }: Secured,
    bytes: Bytes,
) -> Answer {
    let data: types::CreateApiPageData = body(&bytes)?;
    let page = state
        .with_tenant(&tenant_id, |t| {
            let mut page = new_page(&data.url_id, &data.title);
            page.insert("url".into(), data.url.into());
            page.insert(
                "accessibleByGroupIds".into(),
                json!(data.accessible_by_group_ids),
            );
            let id = page["id"].as_str().unwrap_or_default().to_string();
            t.pages.push(page.clone());
            t.audit("c", "Page", &id);
            with_counts(t, &page)
        })
        .unwrap_or_default();
    answer("AddPage", json!({ "status": "success", "page": page }))
}

async fn update(
    AxumState(state): AxumState<Arc<State>>,
    Path(id): Path<String>,
    Secured { tenant_id, .. }: Secured,
    bytes: Bytes,
) -> Answer {
    let patch: types::UpdateApiPageData = body(&bytes)?;
    let page = state
        .with_tenant(&tenant_id, |t| {
            let page = find(&mut t.pages, &id)?;
            merge(page, &patch);
            let page = page.clone();
            t.audit("u", "Page", &id);
            Some(with_counts(t, &page))
        })
        .flatten()
        .ok_or_else(|| Failure::not_found_ok("page"))?;
    answer(
        "PatchPage",
        json!({ "status": "success", "page": page, "commentsUpdated": 0 }),
    )
}

async fn delete(
    AxumState(state): AxumState<Arc<State>>,
    Path(id): Path<String>,
    Secured { tenant_id, .. }: Secured,
) -> Answer {
    let removed = state
        .with_tenant(&tenant_id, |t| t.delete(|t| &mut t.pages, "Page", &id))
        .flatten()
        .is_some();
    if !removed {
        return Err(Failure::not_found_ok("page"));
    }
    answer("DeletePage", json!({ "status": "success" }))
}

/// A new page as the API stores it.
fn new_page(url_id: &str, title: &str) -> Object {
    json!({
        "id": new_id(),
        "urlId": url_id,
        "title": title,
        "createdAt": super::store::iso(chrono::Utc::now()),
        "accessibleByGroupIds": [],
        "commentCount": 0,
        "rootCommentCount": 0,
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

/// Adds a page without going through the API; returns its id.
pub(crate) fn seed(tenant: &mut Tenant, url_id: &str, title: &str) -> String {
    let page = new_page(url_id, title);
    let id = page["id"].as_str().unwrap_or_default().to_string();
    tenant.pages.push(page);
    id
}
