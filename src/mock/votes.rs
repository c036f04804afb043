//! `/api/v1/votes`: vote on a comment, list a page's votes (all, or one user's),
//! delete a vote. Votes update the comment's `votes`/`votesUp`/`votesDown`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State as AxumState};
use axum::routing::{delete as delete_route, get};
use serde_json::{Value, json};

use super::auth::Secured;
use super::respond::{Answer, Failure, answer};
use super::store::feed::{Change, Kind};
use super::store::{Object, State, Tenant, find, new_id};

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/api/v1/votes", get(list).post(create))
        .route("/api/v1/votes/for-user", get(for_user))
        .route("/api/v1/votes/{id}", delete_route(delete))
}

fn str_of<'a>(o: &'a Object, key: &str) -> Option<&'a str> {
    o.get(key).and_then(Value::as_str)
}

/// The `GetVotesResponse`/`GetVotesForUserResponse` body for the votes that pass `keep`.
fn votes_body(tenant: &Tenant, url_id: &str, keep: impl Fn(&Object) -> bool) -> Value {
    let (anonymous, authorized): (Vec<&Object>, Vec<&Object>) = tenant
        .votes
        .iter()
        .filter(|v| str_of(v, "urlId") == Some(url_id) && keep(v))
        .partition(|v| v.get("anonymous") == Some(&Value::Bool(true)));
    let public = |votes: Vec<&Object>| -> Vec<Value> {
        votes
            .into_iter()
            .map(|v| {
                let mut v = v.clone();
                v.remove("anonymous");
                v.remove("editKey");
                Value::Object(v)
            })
            .collect()
    };
    json!({
        "status": "success",
        "appliedAuthorizedVotes": public(authorized),
        "appliedAnonymousVotes": public(anonymous),
        "pendingVotes": [],
    })
}

fn required<'a>(q: &'a HashMap<String, String>, name: &str) -> Result<&'a str, Failure> {
    q.get(name)
        .map(String::as_str)
        .ok_or_else(|| Failure::bad_request("missing-parameter", format!("{name} is required.")))
}

async fn list(
    AxumState(state): AxumState<Arc<State>>,
    Secured {
        tenant_id,
        query: q,
    }: Secured,
) -> Answer {
    let url_id = required(&q, "urlId")?;
    let body = state
        .with_tenant(&tenant_id, |t| votes_body(t, url_id, |_| true))
        .unwrap_or_default();
    answer("GetVotes", body)
}

async fn for_user(
    AxumState(state): AxumState<Arc<State>>,
    Secured {
        tenant_id,
        query: q,
    }: Secured,
) -> Answer {
    let url_id = required(&q, "urlId")?;
    let voter = voter(&q).0;
    let body = state
        .with_tenant(&tenant_id, |t| {
            votes_body(t, url_id, |v| {
                voter.is_some() && str_of(v, "userId") == voter
            })
        })
        .unwrap_or_default();
    answer("GetVotesForUser", body)
}

/// Who votes: `userId` (an authorized vote), `anonUserId` or nobody named (anonymous;
/// the spec requires neither).
fn voter(q: &HashMap<String, String>) -> (Option<&str>, bool) {
    match (q.get("userId"), q.get("anonUserId")) {
        (Some(user), _) => (Some(user), false),
        (None, anon) => (anon.map(String::as_str), true),
    }
}

/// Adds `sign` (+1/-1) of a vote in `direction` to a comment's counters.
fn count(comment: &mut Object, direction: &str, sign: i64) {
    let field = if direction == "up" {
        "votesUp"
    } else {
        "votesDown"
    };
    for (key, delta) in [
        (field, sign),
        ("votes", if direction == "up" { sign } else { -sign }),
    ] {
        let now = comment.get(key).and_then(Value::as_i64).unwrap_or(0);
        comment.insert(key.into(), now.saturating_add(delta).into());
    }
}

async fn create(
    AxumState(state): AxumState<Arc<State>>,
    Secured {
        tenant_id,
        query: q,
    }: Secured,
) -> Answer {
    let comment_id = required(&q, "commentId")?;
    let direction = required(&q, "direction")?;
    if direction != "up" && direction != "down" {
        return Err(Failure::bad_request(
            "invalid-direction",
            "direction must be up or down.",
        ));
    }
    let (user, anonymous) = voter(&q);
    let (vote, comment) = state
        .with_tenant(&tenant_id, |t| {
            let vote = add(t, comment_id, direction, user, anonymous)?;
            let comment = comment_of(t, &vote)?;
            Some((vote, comment))
        })
        .flatten()
        .ok_or_else(|| Failure::not_found("comment"))?;
    state.publish(
        &tenant_id,
        Change::vote(Kind::NewVote, &vote, &comment, None),
    );
    answer(
        "VoteComment",
        json!({
            "status": "success",
            "voteId": vote["id"],
            "isVerified": !anonymous,
            "editKey": vote.get("editKey").filter(|k| !k.is_null()),
        }),
    )
}

async fn delete(
    AxumState(state): AxumState<Arc<State>>,
    Path(id): Path<String>,
    Secured { tenant_id, .. }: Secured,
) -> Answer {
    let (vote, comment) = state
        .with_tenant(&tenant_id, |t| {
            let vote = remove(t, &id)?;
            Some((vote.clone(), comment_of(t, &vote)))
        })
        .flatten()
        .ok_or_else(|| Failure::not_found("vote"))?;
    if let Some(comment) = comment {
        state.publish(
            &tenant_id,
            Change::vote(Kind::DeletedVote, &vote, &comment, None),
        );
    }
    answer(
        "DeleteCommentVote",
        json!({ "status": "success", "wasPendingVote": false }),
    )
}

/// Adds a vote by `user` (or an anonymous one) on a comment of the tenant, counted on
/// the comment; `None` when there is no such comment.
pub(crate) fn add(
    t: &mut Tenant,
    comment_id: &str,
    direction: &str,
    user: Option<&str>,
    anonymous: bool,
) -> Option<Object> {
    let comment = find(&mut t.comments, comment_id)?;
    count(comment, direction, 1);
    let vote = json!({
        "id": new_id(),
        "commentId": comment_id,
        "urlId": comment.get("urlId").cloned().unwrap_or_default(),
        "userId": user.map_or_else(new_id, str::to_owned),
        "direction": direction,
        "createdAt": super::store::iso(chrono::Utc::now()),
        "anonymous": anonymous,
        "editKey": if anonymous { Value::from(new_id()) } else { Value::Null },
    });
    let vote = vote.as_object().cloned().unwrap_or_default();
    t.audit("c", "Vote", str_of(&vote, "id").unwrap_or_default());
    t.votes.push(vote.clone());
    Some(vote)
}

/// Removes a vote and its count on the comment; returns the vote, `None` when there is
/// no such vote.
pub(crate) fn remove(t: &mut Tenant, id: &str) -> Option<Object> {
    let vote = t.delete(|t| &mut t.votes, "Vote", id)?;
    if let (Some(comment_id), Some(direction)) =
        (str_of(&vote, "commentId"), str_of(&vote, "direction"))
        && let Some(comment) = find(&mut t.comments, comment_id)
    {
        count(comment, direction, -1);
    }
    Some(vote)
}

/// The comment a vote is on, as stored now.
fn comment_of(t: &mut Tenant, vote: &Object) -> Option<Object> {
    find(&mut t.comments, str_of(vote, "commentId")?).cloned()
}
