//! The mock's webhook deliveries: the changes of the feed the webhook store queued
//! (`store::webhooks`) are sent signed (signature and `token` headers), retried on
//! FastComments' schedule (1 minute × the attempts so far) on tokio's clock, so a test on
//! a paused clock runs the schedule instantly. The queue is what
//! `GetPendingWebhookEvents` lists, `GetPendingWebhookEventCount` counts and
//! `DeletePendingWebhookEvent` removes.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use axum::Router;
use axum::extract::{Path, State as AxumState};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::auth::Secured;
use super::respond::{Answer, Failure, answer};
use super::store::webhooks::{Due, QUEUE};
use super::store::{State, iso, lock, new_id};
use crate::webhook::WebhookEventType;
use crate::webhook::testing::WebhookSigner;

/// The verdict of FastComments' "send test payload": a receiver passes when each of its
/// endpoints accepts a delivery with the right secret and answers 401 to one with a
/// wrong secret.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookTestVerdict {
    /// Each configured endpoint's answers, in event-type order (create, update, delete).
    pub endpoints: Vec<EndpointVerdict>,
}

/// What one endpoint answered to the test payload.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointVerdict {
    /// The event type the endpoint is configured for.
    pub event_type: WebhookEventType,
    /// The status answered with the right secret (`None`: no answer).
    pub right_secret: Option<u16>,
    /// The status answered with a wrong secret.
    pub wrong_secret: Option<u16>,
}

impl EndpointVerdict {
    /// Whether this endpoint verifies deliveries.
    pub fn passed(&self) -> bool {
        self.right_secret.is_some_and(|s| (200..300).contains(&s)) && self.wrong_secret == Some(401)
    }
}

impl WebhookTestVerdict {
    /// Whether every endpoint verifies deliveries.
    pub fn passed(&self) -> bool {
        !self.endpoints.is_empty() && self.endpoints.iter().all(EndpointVerdict::passed)
    }
}

impl State {
    /// Sends every delivery that is due, oldest first (a create before the update and
    /// the delete of the same comment), to its event type's endpoint as configured now;
    /// returns when the next one is.
    async fn deliver_due(&self, http: &reqwest::Client) -> Option<Instant> {
        let now = Instant::now();
        let mut due: Vec<Due> = {
            let hooks = lock(&self.webhooks);
            hooks
                .pending
                .iter()
                .filter(|(_, p)| p.due <= now)
                .filter_map(|(id, p)| {
                    let receiver = hooks.receivers.get(&p.tenant_id)?;
                    Some(Due {
                        order: (p.due, p.sequence),
                        id: id.clone(),
                        tenant_id: p.tenant_id.clone(),
                        secret: String::new(),
                        endpoint: receiver.endpoints.get(&p.event_type)?.clone(),
                        body: p.body.clone(),
                    })
                })
                .collect()
        };
        due.sort_by_key(|d| d.order);
        for d in &mut due {
            d.secret = self.api_secret(&d.tenant_id).unwrap_or_default();
        }
        for Due {
            id,
            tenant_id,
            secret,
            endpoint,
            body,
            ..
        } in due
        {
            let delivery = WebhookSigner::new(&secret).sign(endpoint.method.as_str(), body);
            let outcome = match delivery.request(http, &endpoint.url).send().await {
                Ok(answer) if answer.status().is_success() => Ok(()),
                Ok(answer) => Err(format!("HTTP {}", answer.status().as_u16())),
                Err(error) => Err(error.without_url().to_string()),
            };
            self.settle(&id, &tenant_id, outcome);
        }
        lock(&self.webhooks).pending.values().map(|p| p.due).min()
    }

    /// FastComments' "send test payload": to each endpoint, with its method, the test
    /// body of its event type with the right secret, then with a wrong one.
    pub(crate) async fn test_webhook(&self, tenant_id: &str) -> Option<WebhookTestVerdict> {
        let receiver = lock(&self.webhooks).receivers.get(tenant_id).cloned()?;
        let secret = self.api_secret(tenant_id)?;
        let http = client();
        let status = |delivery: crate::webhook::testing::Delivery, url: &str| {
            let request = delivery.request(&http, url);
            async move { request.send().await.ok().map(|a| a.status().as_u16()) }
        };
        let mut endpoints = Vec::new();
        for (event_type, endpoint) in &receiver.endpoints {
            let body = test_payload_body(*event_type).to_string();
            let method = endpoint.method.as_str();
            let right = WebhookSigner::new(&secret).sign(method, body.clone().into());
            let wrong = WebhookSigner::new(format!("{secret}-wrong")).sign(method, body.into());
            endpoints.push(EndpointVerdict {
                event_type: *event_type,
                right_secret: status(right, &endpoint.url).await,
                wrong_secret: status(wrong, &endpoint.url).await,
            });
        }
        Some(WebhookTestVerdict { endpoints })
    }
}

/// The admin's test body, as FastComments' guide describes it: a dummy `WebhookComment`
/// for create and update, a body with an id alone for delete. The id is new each time.
fn test_payload_body(event_type: WebhookEventType) -> Value {
    let id = format!("test-{}", new_id());
    match event_type {
        WebhookEventType::Delete => json!({ "id": id }),
        WebhookEventType::Create | WebhookEventType::Update => json!({
            "id": id, "urlId": "fastcomments-test", "commenterName": "FastComments Test",
            "comment": "This is a test comment.",
            "commentHTML": "<p>This is a test comment.</p>",
            "date": iso(chrono::Utc::now()), "votes": 0, "votesUp": 0, "votesDown": 0,
            "verified": false, "reviewed": false, "isSpam": false, "aiDeterminedSpam": false,
            "hasImages": false, "pageNumber": 0, "pageNumberOF": 0, "pageNumberNF": 0,
            "approved": true, "locale": "en_us"
        }),
    }
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
/// `POST /__mock/webhooks` (`{"tenantId", "url"}`, signed with the tenant's API key, and optionally
/// `"eventType": "create"|"update"|"delete"` with `"method"`) sets a receiver for every
/// event type with the default methods, or one event type's endpoint,
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
    event_type: Option<String>,
    method: Option<String>,
}

async fn set_receiver(AxumState(state): AxumState<Arc<State>>, body: axum::body::Bytes) -> Answer {
    let config: ReceiverConfig = super::respond::body(&body)?;
    if reqwest::Url::parse(&config.url).is_err() {
        return Err(Failure::bad_request(
            "invalid-url",
            "url must be an absolute URL.",
        ));
    }
    let event_types = match config.event_type.as_deref() {
        None => WebhookEventType::ALL.to_vec(),
        Some("create") => vec![WebhookEventType::Create],
        Some("update") => vec![WebhookEventType::Update],
        Some("delete") => vec![WebhookEventType::Delete],
        Some(_) => {
            return Err(Failure::bad_request(
                "invalid-event-type",
                "eventType must be create, update or delete.",
            ));
        }
    };
    let method = |event_type: WebhookEventType| -> Result<Method, Failure> {
        let Some(name) = &config.method else {
            return Ok(event_type.default_method());
        };
        let method = Method::from_bytes(name.to_ascii_uppercase().as_bytes())
            .map_err(|_| Failure::bad_request("invalid-method", "method is not an HTTP method."))?;
        event_type
            .check_offered(&method)
            .map_err(|e| Failure::bad_request("invalid-method", e.to_string()))?;
        Ok(method)
    };
    let endpoints = event_types
        .into_iter()
        .map(|t| Ok((t, method(t)?)))
        .collect::<Result<Vec<_>, Failure>>()?;
    for (event_type, method) in endpoints {
        state.set_webhook(&config.tenant_id, event_type, &config.url, method);
    }
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
        "endpoints": verdict.endpoints.iter().map(|e| json!({
            "eventType": e.event_type.to_string(),
            "passed": e.passed(),
            "rightSecretStatus": e.right_secret,
            "wrongSecretStatus": e.wrong_secret,
        })).collect::<Vec<_>>(),
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
    {
        // Only the tenant's own event: another tenant's id is a 404 and stays queued.
        let mut hooks = lock(&state.webhooks);
        if hooks
            .pending
            .get(&id)
            .is_some_and(|p| p.tenant_id == tenant_id)
        {
            hooks.pending.remove(&id);
        }
    }
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
