//! The widget's public comment API on the tenant's one comment store: `GetCommentsPublic`
//! lists a page's comments and `CreateCommentPublic` stores one, both shaped as the
//! spec's `PublicComment` (`_id`, an ISO-8601 `date`, no email), with the subscription
//! ids of `LIVE.md` (`tenantIdWS`, `urlIdWS`, `userIdWS`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxumState};
use axum::routing::get;
use axum::{Extension, Router};
use schemars::schema::{RootSchema, Schema};
use serde_json::{Value, json};

use super::check::Checked;
use super::comments::{check_date, new_comment};
use super::fake::Fake;
use super::ground::{Known, view};
use super::resources::{put, slots};
use super::respond::{Answer, Failure, body};
use super::sso::Identity;
use super::store::feed::{Change, Kind};
use super::store::{Object, State, new_id};
use super::table::{self, SpecOperation};
use crate::types;

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new().route("/comments/{tenantId}", get(list).post(create))
}

type Params = Query<HashMap<String, String>>;

fn spec(operation_id: &str) -> Result<&'static SpecOperation, Failure> {
    table::find(operation_id).ok_or_else(|| Failure::not_found(operation_id))
}

fn url_id(q: &HashMap<String, String>) -> Result<&str, Failure> {
    q.get("urlId")
        .map(String::as_str)
        .ok_or_else(|| Failure::bad_request("missing-parameter", "urlId is required."))
}

/// `GetCommentsPublic`: the page's comments, oldest first, as the secured API stores them.
async fn list(
    AxumState(state): AxumState<Arc<State>>,
    Path(tenant_id): Path<String>,
    Query(q): Params,
    checked: Option<Extension<Arc<Checked>>>,
) -> Answer {
    let identity = identity(checked.as_ref());
    super::auth::public(&state, &tenant_id)?;
    let url_id = url_id(&q)?;
    let comments: Vec<Object> = state
        .with_tenant(&tenant_id, |t| {
            t.comments
                .iter()
                .filter(|c| c.get("urlId").and_then(Value::as_str) == Some(url_id))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let spec = spec("GetCommentsPublic")?;
    let root = spec.response_schema();
    let mut fake = Fake::seeded(state.seed(), &[url_id.as_bytes()]);
    let mut answer = super::generic::success(&mut fake, spec);
    if let Some((field, item)) = slots(root).list {
        let shown: Vec<Value> = comments
            .iter()
            .map(|c| {
                let mut listed = c.clone();
                listed.remove("editKey");
                public_view(&listed, &item, root, &mut fake)
            })
            .collect();
        put(&mut answer, &field, json!(shown));
    }
    put(&mut answer, "commentCount", json!(comments.len()));
    put(&mut answer, "urlIdClean", json!(url_id));
    let page = q
        .get("page")
        .and_then(|p| p.parse::<i64>().ok())
        .unwrap_or(0);
    put(&mut answer, "pageNumber", json!(page.max(0)));
    put(&mut answer, "user", identity.session());
    presence(&mut answer, &tenant_id, url_id, &q, &identity);
    (spec.respond)(answer)
}

/// `CreateCommentPublic`: stores the comment on the page `urlId` names, as `SaveComment`
/// does, and answers it as the widget sees it.
async fn create(
    AxumState(state): AxumState<Arc<State>>,
    Path(tenant_id): Path<String>,
    Query(q): Params,
    checked: Option<Extension<Arc<Checked>>>,
    bytes: Bytes,
) -> Answer {
    super::auth::public(&state, &tenant_id)?;
    let identity = identity(checked.as_ref());
    let url_id = url_id(&q)?.to_owned();
    let data: types::CommentData = body(&bytes)?;
    check_date(data.date)?;
    let mut comment = stored_comment(&tenant_id, &url_id, data)?;
    if identity.user_id().is_none() {
        // Anonymous: who wrote it is not the body's to say; the key to edit it is the
        // writer's alone (answered here, never listed).
        comment.remove("userId");
        comment.insert("editKey".into(), new_id().into());
    }
    identity.author(&mut comment);
    let id = comment["id"].as_str().unwrap_or_default().to_owned();
    state.with_tenant(&tenant_id, |t| {
        t.audit("c", "Comment", &id);
        t.add_comment(comment.clone());
    });
    let broadcast_id = q.get("broadcastId").map(String::as_str);
    state.publish(
        &tenant_id,
        Change::comment(Kind::NewComment, &comment, broadcast_id),
    );
    let spec = spec("CreateCommentPublic")?;
    let root = spec.response_schema();
    let mut fake = Fake::seeded(state.seed(), &[id.as_bytes()]);
    let mut answer = super::generic::success(&mut fake, spec);
    let item = public_comment_schema(root);
    put(
        &mut answer,
        "comment",
        public_view(&comment, &item, root, &mut fake),
    );
    put(&mut answer, "user", identity.session());
    answer["userIdWS"] = json!(user_id_ws(&q, &identity));
    (spec.respond)(answer)
}

/// The comment `CommentData` describes, as the store keeps comments (those of
/// `SaveComment`): on page `url_id`, approved, not verified, dated now unless it says.
fn stored_comment(
    tenant_id: &str,
    url_id: &str,
    data: types::CommentData,
) -> Result<Object, Failure> {
    let params = types::CreateCommentParams::builder()
        .comment(data.comment)
        .commenter_name(data.commenter_name)
        .commenter_email(data.commenter_email)
        .commenter_link(data.commenter_link)
        .url(data.url)
        .url_id(url_id)
        .locale("en_us")
        .date(data.date)
        .user_id(data.user_id)
        .parent_id(data.parent_id)
        .avatar_src(data.avatar_src)
        .page_title(data.page_title)
        .feedback_ids(data.feedback_ids);
    let params = types::CreateCommentParams::try_from(params)
        .map_err(|e| Failure::bad_request("invalid-body", e.to_string()))?;
    Ok(new_comment(tenant_id, params))
}

/// The schema of `PublicComment` in an answer with a `comment` field.
fn public_comment_schema(root: &RootSchema) -> Schema {
    slots(root)
        .item
        .filter(|(name, _)| name == "comment")
        .map_or(Schema::Bool(true), |(_, s)| s)
}

/// A stored comment as the widget sees it: the fields of the `PublicComment` schema the
/// comment has (`_id` for `id`, the date as ISO-8601), the others generated.
pub(crate) fn public_view(
    comment: &Object,
    item: &Schema,
    root: &RootSchema,
    fake: &mut Fake,
) -> Value {
    let mut known = Known::default();
    known.add_object(comment);
    view(&known, item, root, fake)
}

/// The subscription ids of `LIVE.md`: `urlIdWS` is `tenantId:urlId` percent-encoded as
/// FastComments sends it, `tenantIdWS` the tenant, `userIdWS` the caller's session.
fn presence(
    answer: &mut Value,
    tenant_id: &str,
    url_id: &str,
    q: &HashMap<String, String>,
    identity: &Identity,
) {
    answer["urlIdWS"] = json!(url_id_ws(tenant_id, url_id));
    answer["tenantIdWS"] = json!(tenant_id);
    answer["userIdWS"] = json!(user_id_ws(q, identity));
}

/// A page's live room, as FastComments names it: `tenantId:urlId`, percent-encoded.
pub(crate) fn url_id_ws(tenant_id: &str, url_id: &str) -> String {
    let room = format!("{tenant_id}:{url_id}");
    percent_encoding::utf8_percent_encode(&room, URI_COMPONENT).to_string()
}

/// What JavaScript's `encodeURIComponent` leaves as it is.
const URI_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// The caller's live session: its `sessionId` when it sent one, else its SSO user's
/// id, else a new one.
fn user_id_ws(q: &HashMap<String, String>, identity: &Identity) -> String {
    q.get("sessionId")
        .cloned()
        .or_else(|| identity.user_id().map(str::to_owned))
        .unwrap_or_else(new_id)
}

/// Who the call acts as, as the checks read its `sso`.
fn identity(checked: Option<&Extension<Arc<Checked>>>) -> Identity {
    checked.map_or(Identity::Anonymous, |c| c.identity.clone())
}
