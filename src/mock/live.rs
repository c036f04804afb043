//! FastComments' live-event WebSocket (`LIVE.md`), as its SDKs subscribe to it:
//! `GET /sub?urlId=<urlIdWS>&userIdWS=<userIdWS>&tenantIdWS=<tenantId>`, the URL alone
//! being the subscription.
//!
//! The room is the `urlId` query value as decoded once by the query parser: the
//! `urlIdWS` of `GetCommentsPublic` (`tenantId:urlId` percent-encoded) sent as given
//! joins `tenantId:urlId`, where the page's changes go; encoded again it joins another
//! room and receives nothing, as on FastComments. `urlId` or `tenantIdWS` missing is HTTP
//! 400 `missing-parameter`, an unknown tenant 400 `invalid-tenant-id` (as every public
//! route answers it, `auth::public`), both before the upgrade; scripted faults apply to
//! the upgrade request as to any other.
//!
//! A socket sends each frame its room gets ([`super::store::live`]) as a text frame, in
//! feed order; answers a protocol Ping with a Pong (tungstenite does, on its next read)
//! and the text `ping` with the text `pong` (the JavaScript and C++ SDKs' keep-alive); and
//! ignores anything else it receives. A stalled socket neither reads nor writes; a cut
//! one is dropped without a close frame, which closes the TCP connection.
//!
//! The admin calls of a standalone mock: `GET /__mock/live` (`{"connections": n}`),
//! `GET /__mock/live/{tenantId}/subscribers` (`{"subscribers": [{"room", "userIdWS"}]}`),
//! `POST /__mock/live/{tenantId}/drop` (`{"dropped": n}`),
//! `POST /__mock/live/{tenantId}/stall` (`{"stalled": true}`), and
//! `POST /__mock/live/{tenantId}/frame` (`{"urlId", "frame"}`, answered `{"sent": n}`).

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use axum::body::Bytes;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State as AxumState};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::watch;

use super::auth;
use super::respond::{Failure, body};
use super::store::live::{Control, Socket};
use super::store::{State, lock};

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/sub", get(subscribe))
        .route("/__mock/live", get(connections))
        .route("/__mock/live/{tenant_id}/subscribers", get(subscribers))
        .route("/__mock/live/{tenant_id}/drop", post(drop_sockets))
        .route("/__mock/live/{tenant_id}/stall", post(stall))
        .route("/__mock/live/{tenant_id}/frame", post(frame))
}

/// `GET /sub`: checks the subscription, joins its room, then upgrades. The socket joins
/// before the `101` is sent, so a change made once the client has its socket reaches it.
async fn subscribe(
    AxumState(state): AxumState<Arc<State>>,
    Query(q): Query<HashMap<String, String>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, Failure> {
    let room = required(&q, "urlId")?;
    let tenant_id = required(&q, "tenantIdWS")?;
    auth::public(&state, tenant_id)?;
    let upgrade = upgrade.map_err(|rejection| {
        Failure::new(rejection.status(), "not-a-websocket", rejection.body_text())
    })?;
    let user_id_ws = q.get("userIdWS").map_or("", String::as_str);
    let socket = lock(&state.live).join(tenant_id, room, user_id_ws);
    let membership = Membership {
        state: Arc::downgrade(&state),
        id: socket.id,
    };
    Ok(upgrade.on_upgrade(move |ws| serve(ws, socket, membership)))
}

fn required<'a>(q: &'a HashMap<String, String>, name: &str) -> Result<&'a str, Failure> {
    q.get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Failure::bad_request("missing-parameter", format!("{name} is required.")))
}

/// A socket's place in its room, given up when it is dropped: when its socket ends, or
/// when the upgrade fails and the socket never starts.
struct Membership {
    state: Weak<State>,
    id: u64,
}

impl Drop for Membership {
    fn drop(&mut self) {
        if let Some(state) = self.state.upgrade() {
            lock(&state.live).leave(self.id);
        }
    }
}

/// What woke a socket up.
enum Step {
    Control,
    Frame(Option<String>),
    Incoming(Option<Result<Message, axum::Error>>),
}

/// Serves one socket until it closes, its client goes away or the store cuts it.
async fn serve(mut ws: WebSocket, mut socket: Socket, _membership: Membership) {
    loop {
        let control = *socket.control.borrow_and_update();
        match control {
            Control::Cut => return,
            Control::Stalled => {
                // A hung server: what was waiting is lost, nothing is read (no pong).
                while socket.frames.try_recv().is_ok() {}
                if socket.control.changed().await.is_err() {
                    return;
                }
                continue;
            }
            Control::Open => {}
        }
        let step = tokio::select! {
            biased;
            changed = socket.control.changed() => match changed {
                Ok(()) => Step::Control,
                Err(_) => return,
            },
            frame = socket.frames.recv() => Step::Frame(frame),
            incoming = ws.recv() => Step::Incoming(incoming),
        };
        let message = match step {
            Step::Control => continue,
            Step::Frame(Some(text)) => Message::Text(text.into()),
            Step::Incoming(Some(Ok(Message::Text(text)))) if text.as_str() == "ping" => {
                Message::Text("pong".into())
            }
            // A Ping's Pong and a Close's reply are sent by tungstenite on the next read.
            Step::Incoming(Some(Ok(_))) => continue,
            Step::Frame(None) | Step::Incoming(None | Some(Err(_))) => return,
        };
        if !send(&mut ws, &mut socket.control, message).await {
            return;
        }
    }
}

/// Sends `message`, giving up when the socket is told something meanwhile (a client that
/// reads nothing must not keep a cut or stalled socket writing). False when the socket
/// is done.
async fn send(
    ws: &mut WebSocket,
    control: &mut watch::Receiver<Control>,
    message: Message,
) -> bool {
    tokio::select! {
        biased;
        changed = control.changed() => changed.is_ok(),
        sent = ws.send(message) => sent.is_ok(),
    }
}

async fn connections(AxumState(state): AxumState<Arc<State>>) -> Response {
    Json(json!({ "connections": lock(&state.live).accepted() })).into_response()
}

async fn subscribers(
    AxumState(state): AxumState<Arc<State>>,
    Path(tenant_id): Path<String>,
) -> Response {
    let subscribers: Vec<_> = lock(&state.live)
        .subscribers(&tenant_id)
        .into_iter()
        .map(|s| json!({ "room": s.room, "userIdWS": s.user_id_ws }))
        .collect();
    Json(json!({ "subscribers": subscribers })).into_response()
}

async fn drop_sockets(
    AxumState(state): AxumState<Arc<State>>,
    Path(tenant_id): Path<String>,
) -> Response {
    let dropped = lock(&state.live).cut(Some(&tenant_id));
    Json(json!({ "dropped": dropped })).into_response()
}

/// `{"stalled": true}`.
#[derive(Deserialize)]
struct Stall {
    stalled: bool,
}

async fn stall(
    AxumState(state): AxumState<Arc<State>>,
    Path(tenant_id): Path<String>,
    bytes: Bytes,
) -> Result<Response, Failure> {
    let Stall { stalled } = body(&bytes)?;
    lock(&state.live).stall(&tenant_id, stalled);
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

/// `{"urlId": "page", "frame": "any text"}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFrame {
    url_id: String,
    frame: String,
}

async fn frame(
    AxumState(state): AxumState<Arc<State>>,
    Path(tenant_id): Path<String>,
    bytes: Bytes,
) -> Result<Response, Failure> {
    let RawFrame { url_id, frame } = body(&bytes)?;
    let room = format!("{tenant_id}:{url_id}");
    let sent = lock(&state.live).send(&tenant_id, &room, &frame);
    Ok(Json(json!({ "sent": sent })).into_response())
}
