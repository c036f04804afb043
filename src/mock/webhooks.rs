//! The mock's webhooks: comments created, updated and deleted through its API are queued
//! for a tenant's receiver and sent signed (signature and `token` headers), retried on
//! FastComments' schedule (1 minute × the attempts so far) on tokio's clock, so a test on
//! a paused clock runs the schedule instantly. The queue is what
//! `GetPendingWebhookEvents` lists, `GetPendingWebhookEventCount` counts and
//! `DeletePendingWebhookEvent` removes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State as AxumState};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::auth::Secured;
use super::respond::{Answer, Failure, answer};
use super::state::{Object, State, lock, new_id};
use crate::webhook::WebhookMethods;
use crate::webhook::testing::WebhookSigner;

/// The generic list collection the queue lives in.
const QUEUE: &str = "/api/v1/pending-webhook-events";

/// What changed.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Change {
    Created,
    Updated,
    Deleted,
}

impl Change {
    /// FastComments' `eventType`: 0 create, 1 delete, 2 update.
    fn event_type(self) -> u8 {
        match self {
            Change::Created => 0,
            Change::Deleted => 1,
            Change::Updated => 2,
        }
    }
}

/// A tenant's receiver.
#[derive(Clone)]
struct Receiver {
    url: String,
    secret: String,
}

/// A queued delivery, beside its listed object.
struct Pending {
    tenant_id: String,
    method: String,
    body: Vec<u8>,
    attempts: u32,
    due: Instant,
}

/// The webhook side of the mock's state.
#[derive(Default)]
pub(crate) struct Webhooks {
    receivers: HashMap<String, Receiver>,
    pending: HashMap<String, Pending>,
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

/// The verdict of FastComments' "send test payload": a receiver passes when it accepts a
/// delivery with the right secret and answers 401 to one with a wrong secret.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookTestVerdict {
    /// The status answered with the right secret (`None`: no answer).
    pub right_secret: Option<u16>,
    /// The status answered with a wrong secret.
    pub wrong_secret: Option<u16>,
}

impl WebhookTestVerdict {
    /// Whether the receiver verifies deliveries.
    pub fn passed(&self) -> bool {
        self.right_secret.is_some_and(|s| (200..300).contains(&s)) && self.wrong_secret == Some(401)
    }
}

fn iso(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The wall-clock date of a tokio instant (tokio's clock may be paused in tests).
fn wall(at: Instant) -> chrono::DateTime<chrono::Utc> {
    let now = Instant::now();
    let wall_now = chrono::Utc::now();
    if at >= now {
        wall_now + (at - now)
    } else {
        wall_now - (now - at)
    }
}

impl State {
    /// Points a tenant's webhooks at `url`, signed with `secret`.
    pub(crate) fn set_webhook(&self, tenant_id: &str, url: &str, secret: &str) {
        lock(&self.webhooks).receivers.insert(
            tenant_id.to_owned(),
            Receiver {
                url: url.to_owned(),
                secret: secret.to_owned(),
            },
        );
    }

    /// Queues the delivery of a change to `comment`, if the tenant has a receiver.
    pub(crate) fn enqueue_webhook(&self, tenant_id: &str, change: Change, comment: &Object) {
        let mut hooks = lock(&self.webhooks);
        let Some(receiver) = hooks.receivers.get(tenant_id).cloned() else {
            return;
        };
        let methods = WebhookMethods::default();
        let method = match change {
            Change::Created => methods.create,
            Change::Updated => methods.update,
            Change::Deleted => methods.delete,
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
            "eventType": change.event_type(), "type": 1, "domain": domain(&receiver.url), "lastError": {}
        });
        hooks.pending.insert(
            id,
            Pending {
                tenant_id: tenant_id.to_owned(),
                method,
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

    /// Sends every delivery that is due; returns when the next one is.
    async fn deliver_due(&self, http: &reqwest::Client) -> Option<Instant> {
        let now = Instant::now();
        let due: Vec<(String, String, Receiver, String, Vec<u8>)> = {
            let hooks = lock(&self.webhooks);
            hooks
                .pending
                .iter()
                .filter(|(_, p)| p.due <= now)
                .filter_map(|(id, p)| {
                    let receiver = hooks.receivers.get(&p.tenant_id)?.clone();
                    Some((
                        id.clone(),
                        p.tenant_id.clone(),
                        receiver,
                        p.method.clone(),
                        p.body.clone(),
                    ))
                })
                .collect()
        };
        for (id, tenant_id, receiver, method, body) in due {
            let delivery = WebhookSigner::new(&receiver.secret).sign(&method, body);
            let outcome = match delivery.request(http, &receiver.url).send().await {
                Ok(answer) if answer.status().is_success() => Ok(()),
                Ok(answer) => Err(format!("HTTP {}", answer.status().as_u16())),
                Err(error) => Err(error.without_url().to_string()),
            };
            self.settle(&id, &tenant_id, outcome);
        }
        lock(&self.webhooks).pending.values().map(|p| p.due).min()
    }

    /// Removes a delivered event, or schedules the next attempt of a failed one.
    fn settle(&self, id: &str, tenant_id: &str, outcome: Result<(), String>) {
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

    /// FastComments' "send test payload": a delete of a test comment with the right
    /// secret, then with a wrong one.
    pub(crate) async fn test_webhook(&self, tenant_id: &str) -> Option<WebhookTestVerdict> {
        let receiver = lock(&self.webhooks).receivers.get(tenant_id).cloned()?;
        let http = client();
        let body = json!({ "id": format!("test-{}", new_id()) }).to_string();
        let status = |delivery: crate::webhook::testing::Delivery| {
            let request = delivery.request(&http, &receiver.url);
            async move { request.send().await.ok().map(|a| a.status().as_u16()) }
        };
        let methods = WebhookMethods::default();
        let right = WebhookSigner::new(&receiver.secret).sign(&methods.delete, body.clone().into());
        let wrong = WebhookSigner::new(format!("{}-wrong", receiver.secret))
            .sign(&methods.delete, body.into());
        Some(WebhookTestVerdict {
            right_secret: status(right).await,
            wrong_secret: status(wrong).await,
        })
    }
}

/// The comment as FastComments sends it to a webhook: its date as an ISO-8601 string.
fn webhook_body(comment: &Object) -> Vec<u8> {
    let mut comment = comment.clone();
    let date = comment.get("date").and_then(Value::as_i64);
    if let Some(date) = date.and_then(chrono::DateTime::from_timestamp_millis) {
        comment.insert("date".into(), iso(date).into());
    }
    serde_json::to_vec(&comment).unwrap_or_default()
}

fn domain(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default()
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

/// Delivers queued webhooks until the server stops.
pub(crate) async fn deliver(state: Weak<State>, wake: Arc<Notify>) {
    let http = client();
    loop {
        let next = {
            let Some(state) = state.upgrade() else { return };
            if lock(&state.webhooks).stopped.load(Ordering::Relaxed) {
                return;
            }
            state.deliver_due(&http).await
        };
        match next {
            Some(at) => {
                let sleep = tokio::time::sleep_until(at);
                tokio::select! {
                    () = sleep => {}
                    () = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
    }
}

/// The pending-event routes, and the admin calls of a standalone mock:
/// `POST /__mock/webhooks` (`{"tenantId", "url", "secret"}`) sets a receiver,
/// `POST /__mock/webhooks/{tenantId}/test` runs the test-payload check.
pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/api/v1/pending-webhook-events/count", get(count))
        .route("/api/v1/pending-webhook-events/{id}", delete(remove))
        .route("/__mock/webhooks", post(set_receiver))
        .route("/__mock/webhooks/{tenant_id}/test", post(test_payload))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReceiverConfig {
    tenant_id: String,
    url: String,
    secret: String,
}

async fn set_receiver(AxumState(state): AxumState<Arc<State>>, body: axum::body::Bytes) -> Answer {
    let config: ReceiverConfig = super::respond::body(&body)?;
    if reqwest::Url::parse(&config.url).is_err() {
        return Err(Failure::bad_request(
            "invalid-url",
            "url must be an absolute URL.",
        ));
    }
    state.set_webhook(&config.tenant_id, &config.url, &config.secret);
    Ok(axum::Json(json!({ "status": "success" })).into_response())
}

async fn test_payload(
    AxumState(state): AxumState<Arc<State>>,
    Path(tenant_id): Path<String>,
) -> Answer {
    let verdict = state
        .test_webhook(&tenant_id)
        .await
        .ok_or_else(|| Failure::not_found("webhook receiver"))?;
    Ok(axum::Json(json!({
        "status": "success",
        "passed": verdict.passed(),
        "rightSecretStatus": verdict.right_secret,
        "wrongSecretStatus": verdict.wrong_secret,
    }))
    .into_response())
}

async fn count(
    AxumState(state): AxumState<Arc<State>>,
    Secured { tenant_id, .. }: Secured,
) -> Answer {
    let count = state
        .with_lists(Some(&tenant_id), |lists| {
            lists.get(QUEUE).map_or(0, Vec::len)
        })
        .unwrap_or(0);
    answer(
        "GetPendingWebhookEventCount",
        json!({ "status": "success", "count": count }),
    )
}

async fn remove(
    AxumState(state): AxumState<Arc<State>>,
    Path(id): Path<String>,
    Secured { tenant_id, .. }: Secured,
) -> Answer {
    lock(&state.webhooks).pending.remove(&id);
    let removed = state
        .with_lists(Some(&tenant_id), |lists| {
            let queue = lists.entry(QUEUE.into()).or_default();
            let before = queue.len();
            queue.retain(|o| o.get("_id").and_then(Value::as_str) != Some(id.as_str()));
            before != queue.len()
        })
        .unwrap_or(false);
    if !removed {
        return Err(Failure::not_found("pending webhook event"));
    }
    answer("DeletePendingWebhookEvent", json!({ "status": "success" }))
}
