//! Events of the event log, decoded at both levels: the envelope
//! (`{_id, createdAt, urlId, data}`) and `data`, a JSON *string* holding
//! `{type, broadcastId, timestamp, comment?, vote?}`.
//!
//! The rule for a malformed event: an envelope with an `_id` and a `createdAt` is always
//! delivered, in order, so the checkpoint moves past it in the site's transaction; when
//! its `data` cannot be read it arrives as [`Event::Malformed`] with the reason, and the
//! tick's report lists its `_id`. An envelope without a `createdAt` cannot be placed in
//! the log: it is reported and not delivered (the next event moves the checkpoint past
//! it). An envelope without an `_id` gets one derived from its content, so it is still
//! recognised when it comes again.

use std::hash::{DefaultHasher, Hash, Hasher};

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::wire::{epoch_ms, optional_epoch_ms};

/// One event of the log, with what the log says about it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LogEvent {
    /// The event's `_id`: what recognises it when it comes again.
    pub id: String,
    /// The server's `createdAt`, in epoch milliseconds.
    pub created_at: i64,
    /// The page it concerns.
    pub url_id: Option<String>,
    /// The `broadcastId` of `data`.
    pub broadcast_id: Option<String>,
    /// What happened.
    pub event: Event,
    /// The envelope's fields this type does not model, as sent.
    pub extra: Map<String, Value>,
    /// The fields of `data` this type does not model (`timestamp`, ...), as sent; empty
    /// for an event whose `data` could not be read ([`Event::Malformed`] keeps it whole)
    /// or is of an unknown type ([`Event::Unknown`] keeps it whole).
    pub data_extra: Map<String, Value>,
}

/// What happened, by the `type` of the event's `data`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// `new-comment`.
    NewComment(EventComment),
    /// `updated-comment`.
    UpdatedComment(EventComment),
    /// `deleted-comment`.
    DeletedComment(EventComment),
    /// `new-vote`.
    NewVote(EventVote),
    /// `deleted-vote`.
    DeletedVote(EventVote),
    /// A type this crate does not know; the site may ignore it (its checkpoint still
    /// moves).
    Unknown {
        /// The `type` as sent.
        kind: String,
        /// `data`, decoded.
        raw: Value,
    },
    /// `data` could not be read: not JSON, or a known type without its payload. The site
    /// may keep it for a person to look at; its checkpoint still moves.
    Malformed {
        /// Why it could not be read.
        reason: String,
        /// `data` as sent.
        raw: String,
    },
    /// Never in the log: what the default [`Site::skip`](super::Site::skip) hands to
    /// [`Site::apply`](super::Site::apply) for an event whose `apply` failed
    /// permanently. Store the checkpoint; act on nothing else.
    Skipped {
        /// The site's error, as text.
        reason: String,
        /// The event that could not be applied.
        event: Box<Event>,
    },
}

impl Event {
    /// The `type` this event had (`"malformed"` when unreadable).
    pub fn kind(&self) -> &str {
        match self {
            Event::NewComment(_) => "new-comment",
            Event::UpdatedComment(_) => "updated-comment",
            Event::DeletedComment(_) => "deleted-comment",
            Event::NewVote(_) => "new-vote",
            Event::DeletedVote(_) => "deleted-vote",
            Event::Unknown { kind, .. } => kind,
            Event::Malformed { .. } => "malformed",
            Event::Skipped { .. } => "skipped",
        }
    }
}

/// A comment as the event log carries it. Its id is `_id` here (`id` is read too).
/// Every field is read leniently (booleans and numbers as strings, a numeric id, a float
/// vote count): a field of another shape is dropped, never the comment.
///
/// Nothing sent is dropped: `meta` (what a site stored on the comment, e.g. the
/// WordPress plugin's `{"wpId": "17", "wpPostId": 5, "wpUserId": 3}`) is kept as sent,
/// and every field this type does not model is in [`extra`](EventComment::extra), as
/// sent (the values' types vary between the spec and real payloads).
///
/// ```
/// use fastcomments::integration::EventComment;
/// let c: EventComment = serde_json::from_str(
///     r#"{"_id": "c1", "meta": {"wpId": "17", "wpPostId": 5}, "flagCount": 2}"#,
/// ).unwrap();
/// assert_eq!(c.meta.unwrap()["wpId"], "17");
/// assert_eq!(c.extra["flagCount"], 2);
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
#[allow(missing_docs)]
pub struct EventComment {
    /// The FastComments id.
    #[serde(deserialize_with = "crate::lenient::id", rename = "_id", alias = "id")]
    pub id: String,
    /// The site's id, for a comment the site uploaded.
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub external_id: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub tenant_id: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub url_id: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub url_id_raw: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub page_title: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub user_id: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub commenter_name: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub commenter_email: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub comment: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::lenient::string",
        rename = "commentHTML"
    )]
    pub comment_html: Option<String>,
    /// The parent's FastComments id.
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub parent_id: Option<String>,
    /// When it was written, in epoch milliseconds.
    #[serde(default, deserialize_with = "optional_epoch_ms")]
    pub date: Option<i64>,
    #[serde(default, deserialize_with = "crate::lenient::integer")]
    pub votes: Option<i64>,
    #[serde(default, deserialize_with = "crate::lenient::integer")]
    pub votes_up: Option<i64>,
    #[serde(default, deserialize_with = "crate::lenient::integer")]
    pub votes_down: Option<i64>,
    #[serde(default, deserialize_with = "crate::lenient::boolean")]
    pub verified: Option<bool>,
    #[serde(default, deserialize_with = "crate::lenient::boolean")]
    pub notification_sent_for_parent: Option<bool>,
    #[serde(default, deserialize_with = "crate::lenient::boolean")]
    pub notification_sent_for_parent_tenant: Option<bool>,
    #[serde(default, deserialize_with = "crate::lenient::boolean")]
    pub reviewed: Option<bool>,
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub avatar_src: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::boolean")]
    pub is_spam: Option<bool>,
    #[serde(default, deserialize_with = "crate::lenient::boolean")]
    pub ai_determined_spam: Option<bool>,
    #[serde(default, deserialize_with = "crate::lenient::boolean")]
    pub has_images: Option<bool>,
    #[serde(default, deserialize_with = "crate::lenient::boolean")]
    pub has_links: Option<bool>,
    #[serde(default, deserialize_with = "crate::lenient::boolean")]
    pub approved: Option<bool>,
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub locale: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::boolean")]
    pub is_by_admin: Option<bool>,
    #[serde(default, deserialize_with = "crate::lenient::boolean")]
    pub is_by_moderator: Option<bool>,
    /// What a site stored on the comment (the WordPress plugin: `wpId`, `wpPostId`,
    /// `wpUserId`; FastComments sets `wpId` from `PATCH /comment-ids`), as sent.
    pub meta: Option<Value>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A vote as the event log carries it; the fields it does not model are in
/// [`extra`](EventVote::extra), as sent.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
#[allow(missing_docs)]
pub struct EventVote {
    /// The vote's FastComments id.
    #[serde(deserialize_with = "crate::lenient::id", rename = "_id", alias = "id")]
    pub id: String,
    /// The site's id of the comment voted on, for a comment the site uploaded.
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub comment_external_id: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub tenant_id: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub url_id: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub url_id_raw: Option<String>,
    /// The FastComments id of the comment voted on.
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub comment_id: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub user_id: Option<String>,
    /// `1` up, `-1` down.
    #[serde(deserialize_with = "crate::lenient::required_integer")]
    pub direction: i64,
    /// When it was cast, in epoch milliseconds.
    #[serde(default, deserialize_with = "optional_epoch_ms")]
    pub created_at: Option<i64>,
    /// The comment voted on, as the event's `data.comment` carries it beside `vote`
    /// (FastComments' reference cores find the local comment by its `_id`); `None`
    /// when the event sent none.
    #[serde(skip)]
    pub comment: Option<Box<EventComment>>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl EventVote {
    /// The vote with the comment its event carried.
    fn on(mut self, comment: Option<EventComment>) -> EventVote {
        self.comment = comment.map(Box::new);
        self
    }
}

/// An envelope that could not be delivered (no `createdAt`), for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Undeliverable {
    pub(crate) id: String,
    pub(crate) reason: String,
}

/// `data` read in one pass, when every part of it fits.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypedData {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    broadcast_id: Option<String>,
    #[serde(default)]
    comment: Option<EventComment>,
    #[serde(default)]
    vote: Option<EventVote>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl TypedData {
    /// The event, when its type is known and its payload is there.
    fn event(self) -> Option<ReadData> {
        let event = match (self.kind.as_str(), self.comment, self.vote) {
            ("new-comment", Some(c), _) => Event::NewComment(c),
            ("updated-comment", Some(c), _) => Event::UpdatedComment(c),
            ("deleted-comment", Some(c), _) => Event::DeletedComment(c),
            ("new-vote", c, Some(v)) => Event::NewVote(v.on(c)),
            ("deleted-vote", c, Some(v)) => Event::DeletedVote(v.on(c)),
            _ => return None,
        };
        Some(ReadData {
            event,
            broadcast_id: self.broadcast_id,
            extra: self.extra,
        })
    }
}

/// What `data` held.
struct ReadData {
    event: Event,
    broadcast_id: Option<String>,
    extra: Map<String, Value>,
}

impl ReadData {
    fn bare(event: Event, broadcast_id: Option<String>) -> ReadData {
        ReadData {
            event,
            broadcast_id,
            extra: Map::new(),
        }
    }
}

/// `data` read loosely, to say what is wrong with it or keep an unknown type whole.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    broadcast_id: Option<String>,
    #[serde(default)]
    comment: Option<Box<RawValue>>,
    #[serde(default)]
    vote: Option<Box<RawValue>>,
}

/// Decodes one event of a page (read as a [`Value`]: an envelope is small, and its
/// `data` string is unescaped once, while the page is read): a [`LogEvent`], or why it
/// cannot be delivered.
pub(crate) fn decode(raw: Value) -> Result<LogEvent, Undeliverable> {
    let Value::Object(mut envelope) = raw else {
        return Err(Undeliverable {
            id: derived_id(&raw.to_string()),
            reason: "the event is not an object".into(),
        });
    };
    let id = match envelope.remove("_id").or_else(|| envelope.remove("id")) {
        Some(Value::String(id)) => id,
        Some(Value::Number(n)) => n.to_string(),
        _ => derived_id(&Value::Object(envelope.clone()).to_string()),
    };
    let Some(created_at) = envelope.remove("createdAt").as_ref().and_then(epoch_ms) else {
        return Err(Undeliverable {
            id,
            reason: "the event has no readable createdAt".into(),
        });
    };
    let url_id = match envelope.remove("urlId") {
        Some(Value::String(url_id)) => Some(url_id),
        _ => None,
    };
    let data = read_data(envelope.remove("data"));
    Ok(LogEvent {
        id,
        created_at,
        url_id,
        broadcast_id: data.broadcast_id,
        event: data.event,
        extra: envelope,
        data_extra: data.extra,
    })
}

/// An id for an event that came without one: the same content gives the same id.
fn derived_id(raw: &str) -> String {
    let mut hasher = DefaultHasher::new();
    raw.hash(&mut hasher);
    format!("derived-{:016x}", hasher.finish())
}

fn malformed(reason: impl Into<String>, raw: &str) -> Event {
    Event::Malformed {
        reason: reason.into(),
        raw: raw.to_owned(),
    }
}

/// `data` is a JSON string holding JSON; an object is read as it is.
fn read_data(data: Option<Value>) -> ReadData {
    let text = match data {
        Some(Value::String(text)) => text,
        Some(object @ Value::Object(_)) => object.to_string(),
        None => return ReadData::bare(malformed("the event has no data", ""), None),
        Some(other) => {
            let raw = other.to_string();
            return ReadData::bare(
                malformed("data is neither a JSON string nor an object", &raw),
                None,
            );
        }
    };
    // serde reads a struct from an array too; `data` is an object.
    if !text.trim_start().starts_with('{') {
        return ReadData::bare(malformed("data is not a JSON object", &text), None);
    }
    let fast = serde_json::from_str::<TypedData>(&text)
        .ok()
        .and_then(TypedData::event);
    if let Some(typed) = fast {
        return typed;
    }
    let parsed: Data = match serde_json::from_str(&text) {
        Ok(parsed) => parsed,
        Err(e) => {
            return ReadData::bare(malformed(format!("data does not decode: {e}"), &text), None);
        }
    };
    let event = typed(&parsed, &text);
    ReadData::bare(event, parsed.broadcast_id)
}

fn typed(data: &Data, text: &str) -> Event {
    let comment = || payload::<EventComment>(data.comment.as_deref(), "comment");
    let vote = || payload::<EventVote>(data.vote.as_deref(), "vote");
    let result = match data.kind.as_str() {
        "new-comment" => comment().map(Event::NewComment),
        "updated-comment" => comment().map(Event::UpdatedComment),
        "deleted-comment" => comment().map(Event::DeletedComment),
        "new-vote" => vote().map(Event::NewVote),
        "deleted-vote" => vote().map(Event::DeletedVote),
        other => Ok(Event::Unknown {
            kind: other.to_owned(),
            raw: serde_json::from_str(text).unwrap_or(Value::Null),
        }),
    };
    result.unwrap_or_else(|reason| malformed(reason, text))
}

fn payload<T: for<'de> Deserialize<'de>>(raw: Option<&RawValue>, field: &str) -> Result<T, String> {
    let raw = raw.ok_or_else(|| format!("a {field} event without its {field}"))?;
    serde_json::from_str(raw.get()).map_err(|e| format!("its {field} does not decode: {e}"))
}

#[cfg(test)]
mod tests {
    /// A comment whose fields come in other shapes than the spec's (as PHP-made payloads
    /// send them) is read, each field as well as it can be, never lost as malformed.
    #[test]
    fn a_comment_with_fields_of_other_shapes_is_read_not_lost() {
        let c: EventComment = serde_json::from_str(
            r#"{"_id": 17, "approved": "true", "isSpam": 0, "votes": 2.0, "votesUp": "3",
                "urlId": 42, "reviewed": "maybe", "commenterName": {"x": 1}}"#,
        )
        .unwrap();
        assert_eq!((c.id.as_str(), c.url_id.as_deref()), ("17", Some("42")));
        assert_eq!(
            (c.approved, c.is_spam, c.reviewed),
            (Some(true), Some(false), None)
        );
        assert_eq!(
            (c.votes, c.votes_up, c.commenter_name),
            (Some(2), Some(3), None)
        );
        let v: EventVote =
            serde_json::from_str(r#"{"_id": "v1", "direction": "-1", "commentId": 5}"#).unwrap();
        assert_eq!((v.direction, v.comment_id.as_deref()), (-1, Some("5")));
    }

    use super::*;
    use serde_json::json;

    fn event(envelope: Value) -> Result<LogEvent, Undeliverable> {
        decode(envelope)
    }

    fn data(value: Value) -> String {
        value.to_string()
    }

    #[test]
    fn both_levels_decode() {
        let e = event(json!({
            "_id": "e1", "createdAt": 1000, "urlId": "p",
            "data": data(json!({"type": "new-comment", "broadcastId": "b", "timestamp": 5,
                "comment": {"_id": "c1", "commentHTML": "<p>hi</p>", "date": "2024-01-01T00:00:00Z",
                            "externalId": null, "brandNew": true}}))
        }))
        .unwrap();
        assert_eq!(e.id, "e1");
        assert_eq!(e.created_at, 1000);
        assert_eq!(e.broadcast_id.as_deref(), Some("b"));
        let Event::NewComment(c) = e.event else {
            panic!("{e:?}")
        };
        assert_eq!(c.id, "c1");
        assert_eq!(c.date, Some(1_704_067_200_000));
        assert_eq!(c.comment_html.as_deref(), Some("<p>hi</p>"));
    }

    #[test]
    fn fields_not_modelled_are_kept_at_every_level() {
        let e = event(json!({
            "_id": "e1", "createdAt": 1000, "urlId": "p", "tenantId": "t", "shard": 3,
            "data": data(json!({"type": "new-comment", "broadcastId": "b", "timestamp": 5,
                "origin": {"app": "widget"},
                "comment": {"_id": "c1", "meta": {"wpId": "17", "wpPostId": 5, "wpUserId": 3},
                            "flagCount": 2, "feedbackIds": ["f"]}}))
        }))
        .unwrap();
        assert_eq!(
            Value::Object(e.extra.clone()),
            json!({"tenantId": "t", "shard": 3})
        );
        assert_eq!(
            Value::Object(e.data_extra.clone()),
            json!({"timestamp": 5, "origin": {"app": "widget"}})
        );
        let Event::NewComment(c) = &e.event else {
            panic!("{e:?}")
        };
        assert_eq!(
            c.meta,
            Some(json!({"wpId": "17", "wpPostId": 5, "wpUserId": 3}))
        );
        assert_eq!(
            Value::Object(c.extra.clone()),
            json!({"flagCount": 2, "feedbackIds": ["f"]})
        );
        let v = event(json!({"_id": "e2", "createdAt": 1,
            "data": data(json!({"type": "new-vote", "vote": {"_id": "v", "direction": 1, "voterIp": "x"}}))}))
        .unwrap();
        let Event::NewVote(v) = v.event else { panic!() };
        assert_eq!(v.extra["voterIp"], "x");
        assert_eq!(v.comment, None);
    }

    /// A vote event carries the comment voted on beside the vote, as the service sends
    /// it (the reference cores read `data.comment._id`): it is kept on the vote.
    #[test]
    fn a_vote_keeps_the_comment_its_event_carried() {
        let e = event(json!({"_id": "e3", "createdAt": 7,
            "data": data(json!({"type": "deleted-vote", "vote": {"_id": "v", "direction": -1},
                                "comment": {"_id": "c9", "commentHTML": "<p>hi</p>"}}))}))
        .unwrap();
        let Event::DeletedVote(v) = e.event else {
            panic!("{e:?}")
        };
        let comment = v.comment.expect("the comment voted on");
        assert_eq!(
            (comment.id.as_str(), comment.comment_html.as_deref()),
            ("c9", Some("<p>hi</p>"))
        );
        assert!(e.data_extra.is_empty(), "{:?}", e.data_extra);
    }

    #[test]
    fn id_is_read_as_well_as_underscore_id_and_iso_created_at() {
        let e = event(json!({
            "id": "e2", "createdAt": "1970-01-01T00:00:01.500Z",
            "data": data(json!({"type": "deleted-vote", "vote": {"id": "v", "direction": -1}}))
        }))
        .unwrap();
        assert_eq!((e.id.as_str(), e.created_at), ("e2", 1500));
        assert!(matches!(
            e.event,
            Event::DeletedVote(EventVote { direction: -1, .. })
        ));
    }

    #[test]
    fn unknown_types_and_malformed_data_are_delivered_as_such() {
        let unknown = event(json!({"_id": "u", "createdAt": 1, "data": data(json!({"type": "new-reaction", "x": 1}))})).unwrap();
        assert!(matches!(&unknown.event, Event::Unknown { kind, .. } if kind == "new-reaction"));
        for bad in [
            json!("{not json"),
            json!(data(json!({"type": "new-comment"}))),
            json!(data(
                json!({"type": "new-vote", "vote": {"_id": "v", "direction": "up"}})
            )),
            json!(17),
            json!(null),
        ] {
            let e = event(json!({"_id": "m", "createdAt": 1, "data": bad})).unwrap();
            assert!(matches!(e.event, Event::Malformed { .. }), "{e:?}");
            assert_eq!(e.id, "m");
        }
    }

    #[test]
    fn an_event_without_created_at_is_undeliverable_and_one_without_id_gets_a_stable_one() {
        let lost = event(json!({"_id": "x", "data": "{}"})).unwrap_err();
        assert_eq!(lost.id, "x");
        let a = event(json!({"createdAt": 3, "data": "{}"})).unwrap();
        let b = event(json!({"createdAt": 3, "data": "{}"})).unwrap();
        assert_eq!(a.id, b.id);
        assert!(a.id.starts_with("derived-"));
        assert!(event(json!([1, 2])).is_err());
    }
}
