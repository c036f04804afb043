//! `/api/v1/comments`: create, get, update, delete, and list by `skip`/`limit` or by
//! precalculated `page`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::routing::get;
use serde_json::{Value, json};

use super::auth::Secured;
use super::respond::{Answer, Failure, answer, body, index_param, int_param, skip_take};
use super::store::feed::{Change, Kind};
use super::store::{Object, State, Tenant, find, merge, new_id, now_ms};
use crate::types;

/// Most comments one `skip`/`limit` request may ask for.
pub(crate) const MAX_LIMIT: i64 = 100;
/// Comments per precalculated page (`page` mode).
pub(crate) const PAGE_SIZE: usize = 30;
/// Most comments `page=-1` ("all") returns.
pub(crate) const ALL_PAGES_MAX: usize = 250;

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/api/v1/comments", get(list).post(create))
        .route(
            "/api/v1/comments/{id}",
            get(get_one).patch(update).delete(delete),
        )
}

async fn list(
    AxumState(state): AxumState<Arc<State>>,
    Secured {
        tenant_id,
        query: q,
    }: Secured,
) -> Answer {
    let window = Window::from_query(&q)?;
    let comments = state
        .with_tenant(&tenant_id, |t| match window.unfiltered(t, &q) {
            Some(comments) => Ok(comments),
            None => window.apply(&matching(t, &q)?, &q),
        })
        .unwrap_or_else(|| Ok(Vec::new()))?;
    answer(
        "GetComments",
        json!({ "status": "success", "comments": comments }),
    )
}

/// Which slice of the matching comments a list request asks for.
enum Window {
    /// `skip` + `limit`.
    Offset { skip: usize, limit: usize },
    /// Precalculated page `n` of [`PAGE_SIZE`].
    Page(usize),
    /// `page=-1`: everything, up to [`ALL_PAGES_MAX`].
    All,
}

impl Window {
    fn from_query(q: &HashMap<String, String>) -> Result<Window, Failure> {
        let skip = index_param(q, "skip", "invalid-skip")?;
        let limit = int_param(q, "limit", "invalid-limit")?;
        if let Some(page) = int_param(q, "page", "invalid-page")? {
            if skip.is_some() {
                return Err(Failure::bad_request(
                    "invalid-skip",
                    "Pass either page or skip, not both.",
                ));
            }
            return match (page, usize::try_from(page)) {
                (-1, _) => Ok(Window::All),
                (_, Ok(page)) => Ok(Window::Page(page)),
                _ => Err(Failure::bad_request(
                    "invalid-page",
                    "page must be -1 or greater.",
                )),
            };
        }
        let skip = skip.unwrap_or(0);
        let limit = limit.unwrap_or(MAX_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Failure::bad_request(
                "invalid-limit",
                format!("limit must be between 1 and {MAX_LIMIT}."),
            ));
        }
        Ok(Window::Offset {
            skip,
            limit: limit.unsigned_abs() as usize,
        })
    }

    /// The first index and the number of comments the window covers (a page far past
    /// the end starts past the end).
    fn range(&self) -> (usize, usize) {
        match *self {
            Window::Offset { skip, limit } => (skip, limit),
            Window::Page(n) => (n.saturating_mul(PAGE_SIZE), PAGE_SIZE),
            Window::All => (0, ALL_PAGES_MAX),
        }
    }

    /// The window straight from the stored comments (kept oldest first) when nothing is
    /// filtered and the order is by date: a page of a million comments costs a page.
    fn unfiltered(&self, tenant: &Tenant, q: &HashMap<String, String>) -> Option<Vec<Object>> {
        const FILTERS: [&str; 6] = [
            "urlId",
            "userId",
            "anonUserId",
            "parentId",
            "fromDate",
            "toDate",
        ];
        if FILTERS.iter().any(|f| q.contains_key(*f)) {
            return None;
        }
        let newest_first = match q.get("direction").map(String::as_str) {
            None | Some("NF") => true,
            Some("OF") => false,
            Some(_) => return None,
        };
        let (start, take) = self.range();
        let all = &tenant.comments;
        let end = all.len().min(start.saturating_add(take));
        let start = start.min(end);
        Some(if newest_first {
            all[all.len() - end..all.len() - start]
                .iter()
                .rev()
                .cloned()
                .collect()
        } else {
            all[start..end].to_vec()
        })
    }

    fn apply(
        &self,
        matching: &[&Object],
        q: &HashMap<String, String>,
    ) -> Result<Vec<Object>, Failure> {
        let ordered = order(matching, q.get("direction").map(String::as_str))?;
        let (start, take) = self.range();
        Ok(skip_take(&ordered, start, take)
            .into_iter()
            .cloned()
            .collect())
    }
}

/// The tenant's comments that pass the request's filters, oldest first.
fn matching<'a>(
    tenant: &'a Tenant,
    q: &HashMap<String, String>,
) -> Result<Vec<&'a Object>, Failure> {
    let from = int_param(q, "fromDate", "invalid-from-date")?;
    let to = int_param(q, "toDate", "invalid-to-date")?;
    let field_is = |c: &Object, field: &str, param: &str| {
        q.get(param)
            .is_none_or(|want| c.get(field).and_then(Value::as_str) == Some(want.as_str()))
    };
    Ok(tenant
        .comments
        .iter()
        .filter(|c| {
            field_is(c, "urlId", "urlId")
                && field_is(c, "userId", "userId")
                && field_is(c, "anonUserId", "anonUserId")
                && field_is(c, "parentId", "parentId")
        })
        .filter(|c| {
            let date = date_of(c);
            from.is_none_or(|f| date >= f) && to.is_none_or(|t| date <= t)
        })
        .collect())
}

fn date_of(comment: &Object) -> i64 {
    comment.get("date").and_then(Value::as_f64).unwrap_or(0.0) as i64
}

/// Sorts by `direction`: `NF` newest first (the default), `OF` oldest first, `MR` most
/// relevant (most votes, then newest).
fn order<'a>(
    oldest_first: &[&'a Object],
    direction: Option<&str>,
) -> Result<Vec<&'a Object>, Failure> {
    let mut out = oldest_first.to_vec();
    match direction.unwrap_or("NF") {
        "OF" => {}
        "NF" => out.reverse(),
        "MR" => {
            out.reverse();
            let votes = |c: &Object| c.get("votes").and_then(Value::as_i64).unwrap_or(0);
            out.sort_by_key(|c| std::cmp::Reverse(votes(c)));
        }
        other => {
            return Err(Failure::bad_request(
                "invalid-direction",
                format!("direction must be OF, NF or MR, not {other}."),
            ));
        }
    }
    Ok(out)
}

async fn get_one(
    AxumState(state): AxumState<Arc<State>>,
    Path(id): Path<String>,
    Secured { tenant_id, .. }: Secured,
) -> Answer {
    let comment = state
        .with_tenant(&tenant_id, |t| find(&mut t.comments, &id).cloned())
        .flatten()
        .ok_or_else(|| Failure::not_found("comment"))?;
    answer(
        "GetComment",
        json!({ "status": "success", "comment": comment }),
    )
}

async fn create(
    AxumState(state): AxumState<Arc<State>>,
    Secured { tenant_id, query }: Secured,
    bytes: Bytes,
) -> Answer {
    let params: types::CreateCommentParams = body(&bytes)?;
    check_date(params.date)?;
    let comment = new_comment(&tenant_id, params);
    state.with_tenant(&tenant_id, |t| {
        t.audit("c", "Comment", comment["id"].as_str().unwrap_or_default());
        t.add_comment(comment.clone());
    });
    let broadcast_id = query.get("broadcastId").map(String::as_str);
    state.publish(
        &tenant_id,
        Change::comment(Kind::NewComment, &comment, broadcast_id),
    );
    answer(
        "SaveComment",
        json!({ "status": "success", "comment": comment, "user": null }),
    )
}

pub(crate) fn new_comment(tenant_id: &str, params: types::CreateCommentParams) -> Object {
    let date = params.date.unwrap_or_else(now_ms);
    let mut comment = Object::new();
    let mut set = |k: &str, v: Value| {
        comment.insert(k.to_string(), v);
    };
    set("id", new_id().into());
    set("tenantId", tenant_id.into());
    set("urlId", params.url_id.into());
    set("url", params.url.into());
    set("commentHTML", render_html(&params.comment).into());
    set("comment", params.comment.into());
    set("commenterName", params.commenter_name.into());
    set("date", date.into());
    set("locale", params.locale.into());
    set("approved", params.approved.unwrap_or(true).into());
    set("verified", params.verified.unwrap_or(false).into());
    set("votes", params.votes.unwrap_or(0).into());
    set("votesUp", params.votes_up.unwrap_or(0).into());
    set("votesDown", params.votes_down.unwrap_or(0).into());
    set("feedbackIds", json!(params.feedback_ids));
    set("hashTags", json!([]));
    set("mentions", json!([]));
    let optional = [
        ("commenterEmail", params.commenter_email),
        ("commenterLink", params.commenter_link),
        ("userId", params.user_id),
        ("parentId", params.parent_id),
        ("avatarSrc", params.avatar_src),
        ("pageTitle", params.page_title),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            set(key, value.into());
        }
    }
    comment
}

/// Refuses a comment date no calendar holds (beyond ±262,000 years): every API shows a
/// comment's date as ISO-8601 too.
pub(crate) fn check_date(date: Option<i64>) -> Result<(), Failure> {
    match date {
        Some(ms) if chrono::DateTime::from_timestamp_millis(ms).is_none() => {
            Err(Failure::bad_request(
                "invalid-date",
                "date must be epoch milliseconds of a real date.",
            ))
        }
        _ => Ok(()),
    }
}

/// The HTML FastComments renders for plain text: escaped, in a paragraph.
pub(crate) fn render_html(text: &str) -> String {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    format!("<p>{escaped}</p>")
}

async fn update(
    AxumState(state): AxumState<Arc<State>>,
    Path(id): Path<String>,
    Secured { tenant_id, query }: Secured,
    bytes: Bytes,
) -> Answer {
    let mut patch: types::UpdatableCommentParams = body(&bytes)?;
    if let (Some(text), None) = (&patch.comment, &patch.comment_html) {
        patch.comment_html = Some(render_html(text));
    }
    let updated = state
        .with_tenant(&tenant_id, |t| {
            let comment = find(&mut t.comments, &id)?;
            merge(comment, &patch);
            let updated = comment.clone();
            if patch.date.is_some() {
                t.reposition_comment(&id);
            }
            t.audit("u", "Comment", &id);
            Some(updated)
        })
        .flatten()
        .ok_or_else(|| Failure::not_found("comment"))?;
    let broadcast_id = query.get("broadcastId").map(String::as_str);
    state.publish(
        &tenant_id,
        Change::comment(Kind::UpdatedComment, &updated, broadcast_id),
    );
    answer("UpdateComment", json!({ "status": "success" }))
}

async fn delete(
    AxumState(state): AxumState<Arc<State>>,
    Path(id): Path<String>,
    Secured { tenant_id, query }: Secured,
) -> Answer {
    let removed = state
        .with_tenant(&tenant_id, |t| {
            t.delete(|t| &mut t.comments, "Comment", &id)
        })
        .flatten();
    if let Some(comment) = &removed {
        let broadcast_id = query.get("broadcastId").map(String::as_str);
        state.publish(
            &tenant_id,
            Change::comment(Kind::DeletedComment, comment, broadcast_id),
        );
    }
    let removed = removed.is_some();
    let action = if removed {
        "hard-removed"
    } else {
        "already-deleted"
    };
    answer(
        "DeleteComment",
        json!({ "status": "success", "action": action }),
    )
}

/// Adds `count` comments to `url_id`, one second apart and ending now.
pub(crate) fn seed(
    tenant: &mut Tenant,
    tenant_id: &str,
    url_id: &str,
    count: usize,
) -> Vec<String> {
    if !tenant
        .pages
        .iter()
        .any(|p| p.get("urlId").and_then(Value::as_str) == Some(url_id))
    {
        super::pages::seed(tenant, url_id, url_id);
    }
    let spacing = 1000_i64;
    let apart = |n: usize| spacing.saturating_mul(i64::try_from(n).unwrap_or(i64::MAX));
    let start = now_ms().saturating_sub(apart(count));
    (0..count)
        .filter_map(|i| {
            let params = types::CreateCommentParams::builder()
                .comment(format!("Comment {i} on {url_id}"))
                .commenter_name(format!("Seeded User {}", i % 7))
                .url(format!("https://example.com/{url_id}"))
                .url_id(url_id)
                .locale("en_us")
                .date(Some(start.saturating_add(apart(i))));
            let params = types::CreateCommentParams::try_from(params).ok()?;
            let comment = new_comment(tenant_id, params);
            let id = comment["id"].as_str().unwrap_or_default().to_string();
            tenant.add_comment(comment);
            Some(id)
        })
        .collect()
}

/// The stored comment for one comment uploaded through the integration protocol
/// (PROTOCOL.md §3), with the id the upload answered and its parent's id when the parent
/// was uploaded too: an import, so the REST API and the integration's download list it
/// like any other comment.
pub(crate) fn imported(
    tenant_id: &str,
    id: &str,
    uploaded: &Value,
    parent: Option<&str>,
) -> Object {
    let text = |key: &str| {
        uploaded
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let date = match uploaded.get("date") {
        Some(Value::String(s)) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|d| d.timestamp_millis())
            .ok(),
        Some(Value::Number(n)) => n.as_i64(),
        _ => None,
    };
    let params = types::CreateCommentParams::builder()
        .comment(text("comment"))
        .commenter_name(text("commenterName"))
        .url(text("url"))
        .url_id(text("urlId"))
        .locale("en_us")
        .date(date);
    // Every field the builder requires is set above (empty when not uploaded): this
    // does not fail.
    let mut comment = match types::CreateCommentParams::try_from(params) {
        Ok(params) => new_comment(tenant_id, params),
        Err(_) => Object::new(),
    };
    comment.insert("id".into(), id.into());
    if let Some(html) = uploaded.get("commentHTML").and_then(Value::as_str) {
        comment.insert("commentHTML".into(), html.into());
    }
    for key in [
        "approved",
        "votes",
        "votesUp",
        "votesDown",
        "verified",
        "userId",
        "commenterEmail",
        "avatarSrc",
        "pageTitle",
    ] {
        if let Some(value) = uploaded.get(key).filter(|v| !v.is_null()) {
            comment.insert(key.into(), value.clone());
        }
    }
    comment.insert("parentId".into(), parent.map_or(Value::Null, Value::from));
    comment.insert("imported".into(), true.into());
    comment.insert(
        "externalId".into(),
        uploaded.get("externalId").cloned().unwrap_or(Value::Null),
    );
    comment
}
