//! The operations on one comment, whichever API they belong to: the widget's public ones
//! (`/comments/{tenantId}/{commentId}/...`, `/flag-comment/{commentId}`), the moderation
//! API's (`/mod_api/.../{commentId}`) and the secured ones under `/api/v1/comments/{id}/`.
//! They find the comment in the tenant's comments (404 when it is not there), change it
//! where the operation changes something the API shows (removed, pinned, locked,
//! flagged, its text, its votes) and answer the operation's response type with the
//! comment where the answer has room for it.

use serde_json::{Value, json};

use super::comments::render_html;
use super::generic::Call;
use super::resources::put;
use super::respond::{Answer, Failure};
use super::store::feed::{Change, Kind};
use super::store::{Object, State, find};
use super::votes;
use crate::operations::Operation;

/// The comment collections of the API: their item operations act on comments.
const COMMENT_COLLECTIONS: &[&str] = &["/api/v1/comments/{id}", "/comments/{tenantId}/{commentId}"];

/// Whether `op` acts on one comment: it takes `{commentId}` in its path, or is an item
/// operation under a comment collection.
pub(crate) fn acts_on_a_comment(op: &Operation) -> bool {
    op.path.contains("{commentId}")
        || COMMENT_COLLECTIONS.iter().any(|c| {
            op.path
                .strip_prefix(c)
                .is_some_and(|rest| rest.starts_with('/'))
        })
}

/// What an operation does to the comment.
enum Effect {
    Remove,
    Set(&'static str, Value),
    Count(&'static str, i64),
    Text,
    Vote,
    Unvote,
    Nothing,
}

fn change_of(id: &str) -> Effect {
    match id {
        "DeleteCommentPublic" | "postRemoveComment" => Effect::Remove,
        "PinComment" => Effect::Set("isPinned", json!(true)),
        "UnPinComment" => Effect::Set("isPinned", json!(false)),
        "LockComment" => Effect::Set("isLocked", json!(true)),
        "UnLockComment" => Effect::Set("isLocked", json!(false)),
        "FlagComment" | "FlagCommentPublic" | "postFlagComment" => Effect::Count("flagCount", 1),
        "UnFlagComment" | "postUnFlagComment" => Effect::Count("flagCount", -1),
        "SetCommentText" | "postSetCommentText" => Effect::Text,
        "VoteComment" | "postVote" => Effect::Vote,
        "DeleteCommentVote" | "deleteModerationVote" => Effect::Unvote,
        _ => Effect::Nothing,
    }
}

/// Who may do an operation on a comment, as FastComments decides it from the caller's
/// SSO (or an anonymous commenter's `editKey`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Permission {
    Anyone,
    /// The moderation API, pinning and locking: a moderator or admin.
    Moderator,
    /// Editing or deleting a comment: its author (by SSO, or by the `editKey` an
    /// anonymous comment was given), or a moderator.
    AuthorOrModerator,
    /// Taking a vote back: its voter (by SSO or `editKey`), or a moderator.
    VoterOrModerator,
}

fn permission_of(op: &Operation) -> Permission {
    if op.path.contains("/mod_api/") {
        return Permission::Moderator;
    }
    match op.id {
        "PinComment" | "UnPinComment" | "LockComment" | "UnLockComment" => Permission::Moderator,
        "SetCommentText" | "DeleteCommentPublic" => Permission::AuthorOrModerator,
        "DeleteCommentVote" => Permission::VoterOrModerator,
        _ => Permission::Anyone,
    }
}

fn denied(reason: &str) -> Failure {
    Failure::new(
        axum::http::StatusCode::FORBIDDEN,
        "permission-denied",
        reason,
    )
}

/// Checks that the caller may do the call's operation on the comment (and vote) it
/// names. A missing comment or vote is left to the operation (404).
fn authorize(state: &State, tenant: &str, call: &Call, comment_id: &str) -> Result<(), Failure> {
    let permission = permission_of(call.op);
    let identity = &call.request.identity;
    if permission == Permission::Anyone || identity.is_moderator() {
        return Ok(());
    }
    if permission == Permission::Moderator {
        return Err(denied("Only a moderator (signed in by SSO) may do this."));
    }
    let owner = |object: &Object| {
        let field = |k: &str| {
            object
                .get(k)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
        };
        let by_sso = identity.user_id().is_some() && identity.user_id() == field("userId");
        let by_key = call.param("editKey").is_some() && call.param("editKey") == field("editKey");
        by_sso || by_key
    };
    let allowed = state.with_tenant(tenant, |t| match permission {
        Permission::VoterOrModerator => {
            let vote_id = call.param("voteId").unwrap_or_default();
            find(&mut t.votes, vote_id).is_none_or(|vote| owner(vote))
        }
        _ => find(&mut t.comments, comment_id).is_none_or(|comment| owner(comment)),
    });
    match allowed {
        Some(false) => Err(denied(match permission {
            Permission::VoterOrModerator => {
                "Only the voter (by SSO or editKey) may take a vote back."
            }
            _ => "Only the author (by SSO or editKey) may change this comment.",
        })),
        _ => Ok(()),
    }
}

/// Answers an operation on one comment.
pub(crate) fn answer(state: &State, call: &mut Call) -> Answer {
    let comment_id = call
        .param("commentId")
        .or_else(|| call.param("id"))
        .unwrap_or_default()
        .to_string();
    let tenant = call.tenant.clone().unwrap_or_default();
    authorize(state, &tenant, call, &comment_id)?;
    let mut answer = call.generated();
    let change = change_of(call.op.id);
    let direction = call
        .body()
        .get("voteDir")
        .and_then(Value::as_str)
        .or_else(|| call.param("direction"))
        .unwrap_or("up")
        .to_string();
    let vote_id = call.param("voteId").map(str::to_owned);
    let request = call.request.clone();
    let outcome = state
        .with_tenant(&tenant, |t| {
            let comment = find(&mut t.comments, &comment_id)?.clone();
            let result = match change {
                Effect::Remove => {
                    let removed = t.delete(|t| &mut t.comments, "Comment", &comment_id)?;
                    return Some((Some(Kind::DeletedComment), removed, None));
                }
                Effect::Set(field, value) => {
                    find(&mut t.comments, &comment_id)?.insert(field.into(), value);
                    Some(Kind::UpdatedComment)
                }
                Effect::Count(field, delta) => {
                    let c = find(&mut t.comments, &comment_id)?;
                    let now = c.get(field).and_then(Value::as_i64).unwrap_or(0);
                    c.insert(field.into(), now.saturating_add(delta).max(0).into());
                    Some(Kind::UpdatedComment)
                }
                Effect::Text => {
                    let text = request
                        .body
                        .get("comment")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let c = find(&mut t.comments, &comment_id)?;
                    c.insert("comment".into(), text.into());
                    c.insert("commentHTML".into(), render_html(text).into());
                    Some(Kind::UpdatedComment)
                }
                Effect::Vote => {
                    // The SSO user votes as themself; anyone else anonymously.
                    let voter = request.identity.user_id();
                    let vote = votes::add(t, &comment_id, &direction, voter, voter.is_none())?;
                    put(&mut answer, "voteId", vote["id"].clone());
                    // An anonymous voter's key to take the vote back, theirs alone.
                    if let Some(key) = vote.get("editKey").filter(|k| k.is_string()) {
                        put(&mut answer, "editKey", key.clone());
                    }
                    let comment = find(&mut t.comments, &comment_id)?.clone();
                    return Some((Some(Kind::NewVote), comment, Some(vote)));
                }
                Effect::Unvote => {
                    let vote = votes::remove(t, vote_id.as_deref().unwrap_or_default())?;
                    let comment = find(&mut t.comments, &comment_id)?.clone();
                    return Some((Some(Kind::DeletedVote), comment, Some(vote)));
                }
                Effect::Nothing => None,
            };
            let comment = find(&mut t.comments, &comment_id)
                .cloned()
                .unwrap_or(comment);
            Some((result, comment, None))
        })
        .flatten();
    let Some((change, comment, vote)) = outcome else {
        return Err(Failure::not_found("comment"));
    };
    let broadcast_id = call.param("broadcastId").map(str::to_owned);
    let broadcast_id = broadcast_id.as_deref();
    match (change, &vote) {
        (Some(kind), Some(vote)) => {
            state.publish(&tenant, Change::vote(kind, vote, &comment, broadcast_id));
        }
        (Some(kind), None) => state.publish(&tenant, Change::comment(kind, &comment, broadcast_id)),
        (None, _) => {}
    }
    if call.op.id == "postRemoveComment" {
        // Its answer is `anyOf [DeleteCommentResult, RemoveCommentActionResponse]`, both
        // requiring `status` and `action`, which the generic answer (`{}`) lacks: the
        // first branch, as `DeleteComment` answers it (the comment was removed outright).
        put(&mut answer, "status", json!("success"));
        put(&mut answer, "action", json!("hard-removed"));
    }
    let answer = call.grounded(answer, Some(&comment));
    (call.spec.respond)(answer)
}
