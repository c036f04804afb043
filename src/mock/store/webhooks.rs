//! The webhook store: each tenant's endpoints (URL and method per event type) and the
//! queue of deliveries, with what `GetPendingWebhookEvents` lists of each. Sending is the
//! handlers' part (`super::super::webhooks`); this keeps what is due and what happened.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::feed::{Change, Kind};
use super::{Object, State, iso, lock, new_id, with_iso_date};
use crate::webhook::WebhookEventType;

/// The generic list collection the queue lives in (the store of
/// `/api/v1/pending-webhook-events`, see `resources::store_key`).
pub(crate) const QUEUE: &str = "/pending-webhook-events";

/// The webhook event type of a change, `None` for a change FastComments sends no
/// webhook for (a vote).
fn event_type(kind: Kind) -> Option<WebhookEventType> {
    match kind {
        Kind::NewComment => Some(WebhookEventType::Create),
        Kind::UpdatedComment => Some(WebhookEventType::Update),
        Kind::DeletedComment => Some(WebhookEventType::Delete),
        Kind::NewVote | Kind::DeletedVote => None,
    }
}

/// FastComments' `eventType`: 0 create, 1 delete, 2 update.
fn code(event_type: WebhookEventType) -> u8 {
    match event_type {
        WebhookEventType::Create => 0,
        WebhookEventType::Delete => 1,
        WebhookEventType::Update => 2,
    }
}

/// A tenant's receiver: each event type's URL and method. Every delivery is signed with
/// the tenant's one secret, its API key, as it is when sent.
#[derive(Clone, Default)]
pub(crate) struct Receiver {
    pub(crate) endpoints: BTreeMap<WebhookEventType, Endpoint>,
}

/// Where and how one event type is delivered.
#[derive(Clone)]
pub(crate) struct Endpoint {
    pub(crate) url: String,
    pub(crate) method: Method,
}

/// A queued delivery, beside its listed object.
pub(crate) struct Pending {
    /// Queue order: deliveries due together go out in the order the changes happened.
    pub(crate) sequence: u64,
    pub(crate) tenant_id: String,
    pub(crate) event_type: WebhookEventType,
    pub(crate) body: Vec<u8>,
    pub(crate) attempts: u32,
    pub(crate) due: Instant,
}

/// A delivery due now, as it is sent.
pub(crate) struct Due {
    /// When it came due, then the queue order.
    pub(crate) order: (Instant, u64),
    pub(crate) id: String,
    pub(crate) tenant_id: String,
    pub(crate) secret: String,
    pub(crate) endpoint: Endpoint,
    pub(crate) body: Vec<u8>,
}

/// The webhook side of the mock's state.
#[derive(Default)]
pub(crate) struct Webhooks {
    pub(crate) receivers: HashMap<String, Receiver>,
    pub(crate) pending: HashMap<String, Pending>,
    pub(crate) queued: u64,
    pub(crate) wake: Arc<Notify>,
    pub(crate) stopped: AtomicBool,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("receivers", &self.receivers.len())
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

/// The wall-clock date of a tokio instant (tokio's clock may be paused in tests).
pub(crate) fn wall(at: Instant) -> chrono::DateTime<chrono::Utc> {
    let now = Instant::now();
    let wall_now = chrono::Utc::now();
    if at >= now {
        wall_now + (at - now)
    } else {
        wall_now - (now - at)
    }
}

impl State {
    /// Points a tenant's webhooks of `event_type` at `url` with `method`.
    pub(crate) fn set_webhook(
        &self,
        tenant_id: &str,
        event_type: WebhookEventType,
        url: &str,
        method: Method,
    ) {
        let mut hooks = lock(&self.webhooks);
        let receiver = hooks.receivers.entry(tenant_id.to_owned()).or_default();
        receiver.endpoints.insert(
            event_type,
            Endpoint {
                url: url.to_owned(),
                method,
            },
        );
    }

    /// Queues the delivery of a change of the feed, if FastComments sends a webhook for
    /// it and the tenant has an endpoint for its event type.
    pub(crate) fn enqueue_webhook(&self, tenant_id: &str, change: &Change) {
        let Some(event_type) = event_type(change.kind) else {
            return;
        };
        let comment = &change.comment;
        let mut hooks = lock(&self.webhooks);
        let Some(endpoint) = hooks
            .receivers
            .get(tenant_id)
            .and_then(|r| r.endpoints.get(&event_type))
            .cloned()
        else {
            return;
        };
        let id = new_id();
        let comment_id = comment
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let now = Instant::now();
        let listed = json!({
            "_id": id, "commentId": comment_id, "externalId": null, "createdAt": iso(wall(now)),
            "tenantId": tenant_id, "attemptCount": 0, "nextAttemptAt": iso(wall(now)),
            "eventType": code(event_type), "type": 1, "domain": domain(&endpoint.url), "lastError": {}
        });
        hooks.queued += 1;
        let sequence = hooks.queued;
        hooks.pending.insert(
            id,
            Pending {
                sequence,
                tenant_id: tenant_id.to_owned(),
                event_type,
                body: webhook_body(comment),
                attempts: 0,
                due: now,
            },
        );
        hooks.wake.notify_one();
        drop(hooks);
        if let Value::Object(listed) = listed {
            self.with_lists(Some(tenant_id), |lists| {
                lists.entry(QUEUE.into()).or_default().push(listed)
            });
        }
    }

    /// Removes a delivered event, or schedules the next attempt of a failed one.
    pub(crate) fn settle(&self, id: &str, tenant_id: &str, outcome: Result<(), String>) {
        let next = {
            let mut hooks = lock(&self.webhooks);
            match outcome {
                Ok(()) => {
                    hooks.pending.remove(id);
                    None
                }
                Err(error) => hooks.pending.get_mut(id).map(|p| {
                    p.attempts = p.attempts.saturating_add(1);
                    p.due = Instant::now() + Duration::from_secs(60).saturating_mul(p.attempts);
                    (p.attempts, p.due, error)
                }),
            }
        };
        self.with_lists(Some(tenant_id), |lists| {
            let queue = lists.entry(QUEUE.into()).or_default();
            let at = queue
                .iter()
                .position(|o| o.get("_id").and_then(Value::as_str) == Some(id));
            match (at, next) {
                (Some(at), None) => {
                    queue.remove(at);
                }
                (Some(at), Some((attempts, due, error))) => {
                    let listed = &mut queue[at];
                    listed.insert("attemptCount".into(), attempts.into());
                    listed.insert("nextAttemptAt".into(), iso(wall(due)).into());
                    listed.insert("lastError".into(), json!({ "message": error }));
                }
                (None, _) => {}
            }
        });
    }
}

/// The comment as FastComments sends it to a webhook: its date as an ISO-8601 string.
fn webhook_body(comment: &Object) -> Vec<u8> {
    let mut comment = comment.clone();
    with_iso_date(&mut comment);
    serde_json::to_vec(&comment).unwrap_or_default()
}

fn domain(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default()
}
