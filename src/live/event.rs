//! What a live-event stream yields: [`LiveItem`]s, most of them a typed [`LiveEvent`].
//!
//! The shapes are the spec's `LiveEvent` (`type` is the only required field) and its
//! parts (`PubSubComment`, `PubSubVote`, `UserNotification`, `CommentUserBadgeInfo`), read
//! leniently: every field is optional unless FastComments always sends it, and every
//! field the types here do not name is kept in `extra`, so nothing the server sends is
//! lost when the spec grows.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One item of a [`LiveEvents`](super::LiveEvents) stream.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum LiveItem {
    /// An event of the page, delivered once (see the module docs for which ones).
    Event(LiveEvent),
    /// A frame that is not JSON, not an object with a string `type`, or a known type
    /// whose fields contradict the spec. The stream goes on.
    Malformed {
        /// The frame's text (lossily decoded when it was binary).
        raw: String,
        /// Why it is not an event.
        reason: String,
    },
    /// Events between `from` and `to` (server timestamps, epoch milliseconds) may be
    /// missing: the event log no longer holds them (it expires), answered less than was
    /// asked, or could not be read. Everything outside the range is still delivered
    /// exactly once.
    Gap {
        /// The last timestamp delivered (or the start of the stream).
        from: i64,
        /// The first timestamp known again: the first event the log or the socket gave
        /// after the gap, or the server's clock when there was none.
        to: i64,
    },
}

impl LiveItem {
    /// The item as one JSON object: an event as [`LiveEvent::to_json`] gives it,
    /// `{"type": "malformed", "raw", "reason"}`, or `{"type": "gap", "from", "to"}`.
    pub fn to_json(&self) -> Value {
        match self {
            LiveItem::Event(event) => event.to_json(),
            LiveItem::Malformed { raw, reason } => {
                serde_json::json!({"type": "malformed", "raw": raw, "reason": reason})
            }
            LiveItem::Gap { from, to } => {
                serde_json::json!({"type": "gap", "from": from, "to": to})
            }
        }
    }
}

/// A live event of a page, typed by its `type` (the spec's `LiveEventType`). The typed
/// events are boxed, so that an item moves as a pointer through the stream.
///
/// ```
/// use fastcomments::live::{LiveEvent, LiveItem};
/// fn show(item: LiveItem) {
///     match item {
///         LiveItem::Event(LiveEvent::NewComment(e)) => {
///             println!("{}: {}", e.comment.commenter_name.unwrap_or_default(), e.comment.id)
///         }
///         LiveItem::Event(other) => println!("{}", other.kind()),
///         LiveItem::Gap { from, to } => println!("may have missed {from}..{to}"),
///         other => println!("{other:?}"),
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum LiveEvent {
    /// `new-comment`.
    NewComment(Box<CommentEvent>),
    /// `updated-comment` (edits, approval, pins, locks, votes counted, flags...).
    UpdatedComment(Box<CommentEvent>),
    /// `deleted-comment`.
    DeletedComment(Box<CommentEvent>),
    /// `new-vote`.
    NewVote(Box<VoteEvent>),
    /// `deleted-vote`.
    DeletedVote(Box<VoteEvent>),
    /// `p-u`: users joined or left the page. Never stored in the event log, so outside
    /// the exactly-once guarantee: delivered as it comes, lost while disconnected.
    Presence(Box<PresenceEvent>),
    /// `thread-state-change`: the page's thread was closed or reopened.
    ThreadState(Box<ThreadStateEvent>),
    /// `update-badges`: a user's badges changed.
    Badges(Box<BadgesEvent>),
    /// `notification`.
    Notification(Box<NotificationEvent>),
    /// `notification-update`.
    NotificationUpdate(Box<NotificationEvent>),
    /// Any other `type` (the set grows: 23 in the spec of 2026, 21 a year before), with
    /// the whole event.
    Unknown {
        /// The event's `type`, e.g. `new-feed-post`.
        kind: String,
        /// The event as sent.
        raw: Value,
    },
}

/// A comment event: `new-comment`, `updated-comment`, `deleted-comment`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct CommentEvent {
    /// When the server stored it, epoch milliseconds.
    pub timestamp: Option<i64>,
    /// The `broadcastId` of the write that made it.
    #[serde(rename = "broadcastId")]
    pub broadcast_id: Option<String>,
    /// The comment after the change (before it, for a deletion).
    pub comment: LiveComment,
    /// Every other field of the event (`extraInfo`, `userId`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A comment as live events carry it (the spec's `PubSubComment`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct LiveComment {
    /// The comment's id.
    #[serde(rename = "_id")]
    pub id: String,
    /// The page's `urlId`.
    #[serde(rename = "urlId")]
    pub url_id: Option<String>,
    /// The parent comment's id, for a reply.
    #[serde(rename = "parentId")]
    pub parent_id: Option<String>,
    /// The author's display name.
    #[serde(rename = "commenterName")]
    pub commenter_name: Option<String>,
    /// The author's user id.
    #[serde(rename = "userId")]
    pub user_id: Option<String>,
    /// The text as written.
    pub comment: Option<String>,
    /// The rendered HTML.
    #[serde(rename = "commentHTML")]
    pub comment_html: Option<String>,
    /// When it was written, ISO-8601.
    pub date: Option<String>,
    /// Whether it is shown.
    pub approved: Option<bool>,
    /// The vote total.
    pub votes: Option<i64>,
    /// Every other field (`tenantId`, `verified`, `locale`, `isLocked`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A vote event: `new-vote`, `deleted-vote`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct VoteEvent {
    /// When the server stored it, epoch milliseconds.
    pub timestamp: Option<i64>,
    /// The `broadcastId` of the write that made it.
    #[serde(rename = "broadcastId")]
    pub broadcast_id: Option<String>,
    /// The vote (the spec's `PubSubVote`).
    pub vote: LiveVote,
    /// The comment voted on, when the server sends it.
    pub comment: Option<LiveComment>,
    /// Every other field of the event.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A vote as live events carry it (the spec's `PubSubVote`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct LiveVote {
    /// The vote's id.
    #[serde(rename = "_id")]
    pub id: String,
    /// The comment voted on.
    #[serde(rename = "commentId")]
    pub comment_id: String,
    /// `1` up, `-1` down.
    pub direction: i64,
    /// When it was cast, epoch milliseconds.
    #[serde(rename = "createdAt")]
    pub created_at: Option<i64>,
    /// The voter's user id, when known.
    #[serde(rename = "userId")]
    pub user_id: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `p-u`: presence on the page.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct PresenceEvent {
    /// The server's time of the update, epoch milliseconds (`ts`).
    pub ts: Option<i64>,
    /// Users who joined (`uj`), by their `userIdWS`.
    #[serde(rename = "uj", default)]
    pub joined: Vec<String>,
    /// Users who left (`ul`).
    #[serde(rename = "ul", default)]
    pub left: Vec<String>,
    /// How many are subscribed to the page (`sc`).
    #[serde(rename = "sc")]
    pub subscriber_count: Option<i64>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `thread-state-change`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ThreadStateEvent {
    /// When the server stored it, epoch milliseconds.
    pub timestamp: Option<i64>,
    /// Whether the thread is now closed to new comments.
    #[serde(rename = "isClosed")]
    pub is_closed: Option<bool>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `update-badges`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct BadgesEvent {
    /// When the server stored it, epoch milliseconds.
    pub timestamp: Option<i64>,
    /// The user whose badges changed.
    #[serde(rename = "userId")]
    pub user_id: Option<String>,
    /// The badges (the spec's `CommentUserBadgeInfo`), as sent.
    #[serde(default)]
    pub badges: Vec<Value>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `notification` and `notification-update`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct NotificationEvent {
    /// When the server stored it, epoch milliseconds.
    pub timestamp: Option<i64>,
    /// The user notified.
    #[serde(rename = "userId")]
    pub user_id: Option<String>,
    /// The notification (the spec's `UserNotification`), as sent.
    pub notification: Option<Value>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl LiveEvent {
    /// The event's `type`, e.g. `new-comment`.
    pub fn kind(&self) -> &str {
        match self {
            LiveEvent::NewComment(_) => "new-comment",
            LiveEvent::UpdatedComment(_) => "updated-comment",
            LiveEvent::DeletedComment(_) => "deleted-comment",
            LiveEvent::NewVote(_) => "new-vote",
            LiveEvent::DeletedVote(_) => "deleted-vote",
            LiveEvent::Presence(_) => "p-u",
            LiveEvent::ThreadState(_) => "thread-state-change",
            LiveEvent::Badges(_) => "update-badges",
            LiveEvent::Notification(_) => "notification",
            LiveEvent::NotificationUpdate(_) => "notification-update",
            LiveEvent::Unknown { kind, .. } => kind,
        }
    }

    /// When the server stored the event (epoch milliseconds); `None` for presence and
    /// any event the event log does not keep.
    pub fn timestamp(&self) -> Option<i64> {
        match self {
            LiveEvent::NewComment(e)
            | LiveEvent::UpdatedComment(e)
            | LiveEvent::DeletedComment(e) => e.timestamp,
            LiveEvent::NewVote(e) | LiveEvent::DeletedVote(e) => e.timestamp,
            LiveEvent::Presence(_) => None,
            LiveEvent::ThreadState(e) => e.timestamp,
            LiveEvent::Badges(e) => e.timestamp,
            LiveEvent::Notification(e) | LiveEvent::NotificationUpdate(e) => e.timestamp,
            LiveEvent::Unknown { raw, .. } => raw.get("timestamp").and_then(Value::as_i64),
        }
    }

    /// The event as JSON, in FastComments' own field names with its `type`: what was
    /// read, plus `null` for a modelled field the event did not carry.
    ///
    /// ```
    /// # use fastcomments::live::LiveItem;
    /// fn print(item: &LiveItem) {
    ///     println!("{}", item.to_json()); // {"type":"new-comment","comment":{...},...}
    /// }
    /// ```
    pub fn to_json(&self) -> Value {
        let value = match self {
            LiveEvent::NewComment(e)
            | LiveEvent::UpdatedComment(e)
            | LiveEvent::DeletedComment(e) => serde_json::to_value(e),
            LiveEvent::NewVote(e) | LiveEvent::DeletedVote(e) => serde_json::to_value(e),
            LiveEvent::Presence(e) => serde_json::to_value(e),
            LiveEvent::ThreadState(e) => serde_json::to_value(e),
            LiveEvent::Badges(e) => serde_json::to_value(e),
            LiveEvent::Notification(e) | LiveEvent::NotificationUpdate(e) => {
                serde_json::to_value(e)
            }
            LiveEvent::Unknown { raw, .. } => return raw.clone(),
        };
        let mut value = value.unwrap_or_default();
        if let Value::Object(map) = &mut value {
            map.insert("type".into(), Value::String(self.kind().to_owned()));
        }
        value
    }

    /// Reads one event. `Err` holds why it is not one, and the value back.
    pub(crate) fn from_value(value: Value) -> Result<LiveEvent, (String, Value)> {
        let kind = match value.get("type") {
            Some(Value::String(kind)) => kind.clone(),
            Some(_) => return Err(("`type` is not a string".into(), value)),
            None if value.is_object() => return Err(("no `type`".into(), value)),
            None => return Err(("not a JSON object".into(), value)),
        };
        let wrap: fn(&Value) -> Result<LiveEvent, String> = match kind.as_str() {
            "new-comment" => |v| typed(v, LiveEvent::NewComment),
            "updated-comment" => |v| typed(v, LiveEvent::UpdatedComment),
            "deleted-comment" => |v| typed(v, LiveEvent::DeletedComment),
            "new-vote" => |v| typed(v, LiveEvent::NewVote),
            "deleted-vote" => |v| typed(v, LiveEvent::DeletedVote),
            "p-u" => |v| typed(v, LiveEvent::Presence),
            "thread-state-change" => |v| typed(v, LiveEvent::ThreadState),
            "update-badges" => |v| typed(v, LiveEvent::Badges),
            "notification" => |v| typed(v, LiveEvent::Notification),
            "notification-update" => |v| typed(v, LiveEvent::NotificationUpdate),
            _ => return Ok(LiveEvent::Unknown { kind, raw: value }),
        };
        wrap(&value).map_err(|e| (format!("{kind}: {e}"), value))
    }
}

fn typed<T: serde::de::DeserializeOwned>(
    value: &Value,
    wrap: fn(Box<T>) -> LiveEvent,
) -> Result<LiveEvent, String> {
    serde_path_to_error::deserialize(value)
        .map(|event| wrap(Box::new(event)))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn known_types_are_typed_and_keep_every_other_field() {
        let event = LiveEvent::from_value(json!({
            "type": "new-comment", "timestamp": 5, "broadcastId": "b",
            "comment": {"_id": "c1", "commentHTML": "<p>hi</p>", "isLocked": true},
            "extraInfo": {"commentPositions": {}}
        }))
        .unwrap();
        let LiveEvent::NewComment(e) = &event else {
            panic!("{event:?}")
        };
        assert_eq!(e.comment.id, "c1");
        assert_eq!(e.comment.extra["isLocked"], true);
        assert!(e.extra.contains_key("extraInfo"));
        assert_eq!(event.timestamp(), Some(5));
    }

    #[test]
    fn an_event_as_json_is_what_was_read_with_its_type() {
        let read = json!({
            "type": "new-vote", "timestamp": 5, "broadcastId": "b",
            "vote": {"_id": "v", "commentId": "c", "direction": 1, "createdAt": 4, "userId": "u"},
            "extra": [1]
        });
        let event = LiveEvent::from_value(read.clone()).unwrap();
        let mut expected = read;
        expected["comment"] = Value::Null; // modelled, not sent
        assert_eq!(event.to_json(), expected);
        let gap = LiveItem::Gap { from: 1, to: 2 }.to_json();
        assert_eq!(gap, json!({"type": "gap", "from": 1, "to": 2}));
    }

    #[test]
    fn an_unknown_type_is_delivered_whole() {
        let raw = json!({"type": "page-react", "timestamp": 9, "x": [1]});
        let event = LiveEvent::from_value(raw.clone()).unwrap();
        assert_eq!(
            event,
            LiveEvent::Unknown {
                kind: "page-react".into(),
                raw
            }
        );
        assert_eq!(event.timestamp(), Some(9));
    }

    #[test]
    fn what_is_not_an_event_says_why() {
        for (value, reason) in [
            (json!([1]), "not a JSON object"),
            (json!({"a": 1}), "no `type`"),
            (json!({"type": 3}), "`type` is not a string"),
        ] {
            assert_eq!(LiveEvent::from_value(value).unwrap_err().0, reason);
        }
        let wrong = LiveEvent::from_value(json!({"type": "new-vote", "vote": {"_id": 1}}));
        assert!(wrong.unwrap_err().0.starts_with("new-vote: vote._id"));
    }
}
