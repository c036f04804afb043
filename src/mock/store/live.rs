//! The live-event store: who is subscribed to which room over FastComments' WebSocket
//! (`LIVE.md`), and what each subscriber's socket is to send. Serving the sockets is the
//! handlers' part (`super::super::live`); this keeps the rooms, queues each subscriber's
//! frames in order and tells its socket when to stall or to hang up.
//!
//! A room is the subscription's `urlId` query value as decoded once (`tenantId:urlId` for
//! a well-formed subscription), within the tenant its `tenantIdWS` names. What a room
//! receives: every change of the tenant's feed on that page (its entry's public `data`,
//! [`super::feed::Entry::public_data`]), presence (`p-u`, never stored in the feed) when
//! someone joins or leaves, and whatever a test sends it.
//!
//! Each subscriber has a queue of [`QUEUE`] frames. A subscriber whose queue is full (a
//! client that stopped reading) is shed: it leaves its room and its socket is closed
//! abruptly, as a server drops a slow consumer rather than hold its frames without
//! bound.

use std::collections::BTreeMap;

use serde_json::json;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};

use super::{State, lock, now_ms};

/// How many frames a subscriber may have waiting to be sent before it is shed.
pub(crate) const QUEUE: usize = 10_000;

/// What a subscriber's socket is to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Control {
    /// Send its frames, answer pings.
    Open,
    /// Send nothing and read nothing (no frames, no pongs), staying open, as a hung
    /// server's socket does; frames meant for it meanwhile are discarded.
    Stalled,
    /// Close the connection at once, without a close frame.
    Cut,
}

/// One open live-event socket, as the mock sees it
/// ([`MockServer::live_subscribers`](crate::mock::MockServer::live_subscribers)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LiveSubscriber {
    /// The room: the socket's `urlId` query value, percent-decoded once. For the
    /// `urlIdWS` that `GetCommentsPublic` answers this is `tenantId:urlId`; a `urlIdWS`
    /// encoded a second time gives a room still percent-encoded, which no change reaches.
    pub room: String,
    /// The socket's `userIdWS` query value (empty when it sent none): the id presence
    /// (`p-u`) announces it by.
    pub user_id_ws: String,
}

/// A subscriber, with the sending ends of its socket's queue and control.
struct Subscriber {
    tenant_id: String,
    seen: LiveSubscriber,
    frames: mpsc::Sender<String>,
    control: watch::Sender<Control>,
}

impl Subscriber {
    fn stalled(&self) -> bool {
        *self.control.borrow() == Control::Stalled
    }
}

/// What a socket reads its orders from: its id in the store, its frames in the order
/// they are to be sent, and its control.
pub(crate) struct Socket {
    pub(crate) id: u64,
    pub(crate) frames: mpsc::Receiver<String>,
    pub(crate) control: watch::Receiver<Control>,
}

/// Every subscriber of every tenant, in the order they joined, and how many sockets were
/// accepted since the server started.
#[derive(Default)]
pub(crate) struct Live {
    next_id: u64,
    subscribers: BTreeMap<u64, Subscriber>,
    accepted: u64,
}

impl Live {
    /// Subscribes a socket to `room` of `tenant_id`; tells the room's other subscribers
    /// (presence). Returns what the socket is to read.
    pub(crate) fn join(&mut self, tenant_id: &str, room: &str, user_id_ws: &str) -> Socket {
        let (frames_in, frames) = mpsc::channel(QUEUE);
        let (control_in, control) = watch::channel(Control::Open);
        self.next_id += 1;
        self.accepted += 1;
        let id = self.next_id;
        let seen = LiveSubscriber {
            room: room.to_owned(),
            user_id_ws: user_id_ws.to_owned(),
        };
        let presence = self.presence(tenant_id, room, "uj", user_id_ws, 1);
        self.send(tenant_id, room, &presence);
        self.subscribers.insert(
            id,
            Subscriber {
                tenant_id: tenant_id.to_owned(),
                seen,
                frames: frames_in,
                control: control_in,
            },
        );
        Socket {
            id,
            frames,
            control,
        }
    }

    /// Unsubscribes socket `id` (its socket closed); tells its room's other subscribers.
    pub(crate) fn leave(&mut self, id: u64) {
        self.remove(id, Control::Open);
    }

    /// Sends `frame` to every subscriber of `room` of `tenant_id` but the stalled ones;
    /// returns how many got it. A subscriber whose queue is full is shed.
    pub(crate) fn send(&mut self, tenant_id: &str, room: &str, frame: &str) -> usize {
        let (sent, mut shed) = self.offer(tenant_id, room, frame);
        while let Some(id) = shed.pop() {
            shed.extend(self.remove(id, Control::Cut));
        }
        sent
    }

    /// Closes every socket of `tenant_id` (every socket when `None`) without a close
    /// frame; returns how many.
    pub(crate) fn cut(&mut self, tenant_id: Option<&str>) -> usize {
        let ids = self.ids_of(tenant_id);
        for &id in &ids {
            let mut shed = self.remove(id, Control::Cut);
            while let Some(id) = shed.pop() {
                shed.extend(self.remove(id, Control::Cut));
            }
        }
        ids.len()
    }

    /// Stalls the open sockets of `tenant_id`, or ends their stall.
    pub(crate) fn stall(&mut self, tenant_id: &str, stalled: bool) {
        let to = if stalled {
            Control::Stalled
        } else {
            Control::Open
        };
        for id in self.ids_of(Some(tenant_id)) {
            if let Some(subscriber) = self.subscribers.get(&id) {
                subscriber.control.send_replace(to);
            }
        }
    }

    /// The subscribers of `tenant_id`, in the order they joined.
    pub(crate) fn subscribers(&self, tenant_id: &str) -> Vec<LiveSubscriber> {
        self.subscribers
            .values()
            .filter(|s| s.tenant_id == tenant_id)
            .map(|s| s.seen.clone())
            .collect()
    }

    /// How many sockets were accepted since the server started.
    pub(crate) fn accepted(&self) -> u64 {
        self.accepted
    }

    fn ids_of(&self, tenant_id: Option<&str>) -> Vec<u64> {
        self.subscribers
            .iter()
            .filter(|(_, s)| tenant_id.is_none_or(|t| s.tenant_id == t))
            .map(|(&id, _)| id)
            .collect()
    }

    /// Queues `frame` for the room's subscribers that are not stalled: how many took it,
    /// and the ones that could not (a full queue, or a socket gone).
    fn offer(&self, tenant_id: &str, room: &str, frame: &str) -> (usize, Vec<u64>) {
        let mut sent = 0;
        let mut shed = Vec::new();
        let members = self
            .subscribers
            .iter()
            .filter(|(_, s)| s.tenant_id == tenant_id && s.seen.room == room && !s.stalled());
        for (&id, subscriber) in members {
            match subscriber.frames.try_send(frame.to_owned()) {
                Ok(()) => sent += 1,
                Err(TrySendError::Full(_) | TrySendError::Closed(_)) => shed.push(id),
            }
        }
        (sent, shed)
    }

    /// Removes subscriber `id`, telling its socket `control` (unless `Open`: it closed
    /// itself) and its room that it left; returns the subscribers shed on the way.
    fn remove(&mut self, id: u64, control: Control) -> Vec<u64> {
        let Some(gone) = self.subscribers.remove(&id) else {
            return Vec::new();
        };
        if control != Control::Open {
            gone.control.send_replace(control);
        }
        let presence = self.presence(
            &gone.tenant_id,
            &gone.seen.room,
            "ul",
            &gone.seen.user_id_ws,
            0,
        );
        self.offer(&gone.tenant_id, &gone.seen.room, &presence).1
    }

    /// A presence update (`p-u`, `LIVE.md`): `key` (`uj` joined, `ul` left) lists the
    /// user when it has a `userIdWS`; `sc` is the room's subscriber count after the
    /// change (`joining`: 1 for the one about to be added). `ts` is epoch milliseconds.
    fn presence(
        &self,
        tenant_id: &str,
        room: &str,
        key: &str,
        user_id_ws: &str,
        joining: usize,
    ) -> String {
        let count = self
            .subscribers
            .values()
            .filter(|s| s.tenant_id == tenant_id && s.seen.room == room)
            .count()
            + joining;
        let mut update = json!({"type": "p-u", "ts": now_ms(), "sc": count});
        if !user_id_ws.is_empty() {
            update[key] = json!([user_id_ws]);
        }
        update.to_string()
    }
}

impl State {
    /// Sends a change's public `data` to the subscribers of its page (room
    /// `tenantId:urlId`). Called under the feed's lock, which orders the frames.
    pub(crate) fn push_live(&self, tenant_id: &str, url_id: &str, data: &str) {
        lock(&self.live).send(tenant_id, &format!("{tenant_id}:{url_id}"), data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(socket: &mut Socket) -> Vec<String> {
        std::iter::from_fn(|| socket.frames.try_recv().ok()).collect()
    }

    #[test]
    fn a_room_gets_its_frames_in_order_and_presence_counts_its_subscribers() {
        let mut live = Live::default();
        let mut first = live.join("t", "t:p", "u1");
        let mut other = live.join("t", "t:q", "u3");
        let mut second = live.join("t", "t:p", "u2");
        assert_eq!(live.send("t", "t:p", "a"), 2);
        assert_eq!(live.send("u", "t:p", "b"), 0, "another tenant's room");
        live.send("t", "t:p", "c");
        let seen = frames(&mut first);
        let joined: serde_json::Value = serde_json::from_str(&seen[0]).unwrap();
        assert_eq!((&joined["uj"], &joined["sc"]), (&json!(["u2"]), &json!(2)));
        assert_eq!(seen[1..], ["a", "c"]);
        assert_eq!(frames(&mut second), ["a", "c"]);
        assert!(frames(&mut other).is_empty());
        live.leave(second.id);
        let left: serde_json::Value = serde_json::from_str(&frames(&mut first)[0]).unwrap();
        assert_eq!((&left["ul"], &left["sc"]), (&json!(["u2"]), &json!(1)));
        assert_eq!(live.accepted(), 3);
    }

    #[test]
    fn a_subscriber_whose_queue_is_full_is_cut_and_leaves_its_room() {
        let mut live = Live::default();
        let mut reader = live.join("t", "t:p", "r");
        let slow = live.join("t", "t:p", "s");
        frames(&mut reader);
        for n in 0..QUEUE {
            assert_eq!(live.send("t", "t:p", &n.to_string()), 2);
            frames(&mut reader);
        }
        assert_eq!(live.send("t", "t:p", "one too many"), 1);
        assert_eq!(*slow.control.borrow(), Control::Cut);
        let seen = frames(&mut reader);
        assert_eq!(seen[0], "one too many");
        assert!(seen[1].contains("\"ul\":[\"s\"]"), "{seen:?}");
        assert_eq!(live.subscribers("t").len(), 1);
    }

    #[test]
    fn a_stalled_subscriber_is_sent_nothing_until_its_stall_ends() {
        let mut live = Live::default();
        let mut socket = live.join("t", "t:p", "u");
        live.stall("t", true);
        assert_eq!(live.send("t", "t:p", "lost"), 0);
        live.stall("t", false);
        assert_eq!(live.send("t", "t:p", "kept"), 1);
        assert_eq!(frames(&mut socket), ["kept"]);
        assert_eq!(live.cut(Some("t")), 1);
        assert_eq!(*socket.control.borrow(), Control::Cut);
        assert!(live.subscribers("t").is_empty());
    }
}
