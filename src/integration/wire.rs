//! What the integration endpoints send and take. Every reply type ignores fields it does
//! not know, and the lists of commands and events are decoded one item at a time, so one
//! odd item never fails the reply that carries it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::response::integer_value;

/// The reply to `PUT /integrations/v1/token`; the fields it does not model (`status`,
/// `code`, `reason`, ...) are in [`extra`](TokenStatus::extra), as sent.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TokenStatus {
    /// Whether a site admin has confirmed the token.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub is_token_validated: bool,
    /// The tenant the token belongs to, once validated.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One command of the command stream. Each keeps the fields it does not model in
/// `extra`, as sent ([`Command::Unknown`] keeps the whole command).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Command {
    /// Page through the event log.
    FetchEvents {
        /// The command's id.
        id: Option<String>,
        /// How many events wait, when the server says.
        event_count: Option<u64>,
        /// The other fields, as sent.
        extra: Map<String, Value>,
    },
    /// Upload the site's comments (the initial sync, or a re-sync an admin asked for).
    SendComments {
        /// The command's id.
        id: Option<String>,
        /// The other fields, as sent.
        extra: Map<String, Value>,
    },
    /// The server considers the initial sync finished.
    SetSyncDone {
        /// The command's id.
        id: Option<String>,
        /// The other fields, as sent.
        extra: Map<String, Value>,
    },
    /// The older protocol's "setup is complete, stop showing the setup screen".
    SetSetupCompleted {
        /// The other fields, as sent.
        extra: Map<String, Value>,
    },
    /// The older protocol's "send the next batch of comments".
    SendNextCommentsPayload {
        /// The offset the server expects next.
        start: u64,
        /// How many comments it wants in the batch.
        count: u64,
        /// The other fields, as sent.
        extra: Map<String, Value>,
    },
    /// A command this crate does not know: logged and skipped.
    Unknown {
        /// Its name.
        name: String,
        /// The command as sent.
        raw: Value,
    },
}

impl Command {
    /// Reads one command; anything without a known name is [`Command::Unknown`].
    pub(crate) fn from_value(raw: Value) -> Command {
        let text = |key: &str| raw.get(key).and_then(Value::as_str).map(str::to_owned);
        let number = |key: &str| raw.get(key).and_then(lenient_u64);
        let name = text("command").or_else(|| text("name")).unwrap_or_default();
        let id = text("id");
        // The fields not in `modelled`, as sent.
        let extra = |modelled: &[&str]| match &raw {
            Value::Object(fields) => fields
                .iter()
                .filter(|(k, _)| !modelled.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            _ => Map::new(),
        };
        const NAMED: [&str; 3] = ["command", "name", "id"];
        match name.as_str() {
            "FetchEvents" => Command::FetchEvents {
                id,
                event_count: number("eventCount"),
                extra: extra(&[&NAMED[..], &["eventCount"]].concat()),
            },
            "SendComments" => Command::SendComments {
                id,
                extra: extra(&NAMED),
            },
            "SetSyncDone" => Command::SetSyncDone {
                id,
                extra: extra(&NAMED),
            },
            "SetSetupCompleted" => Command::SetSetupCompleted {
                extra: extra(&["command", "name"]),
            },
            "SendNextCommentsPayload" => match (number("start"), number("count")) {
                (Some(start), Some(count)) => Command::SendNextCommentsPayload {
                    start,
                    count,
                    extra: extra(&["command", "name", "start", "count"]),
                },
                _ => Command::Unknown { name, raw },
            },
            _ => Command::Unknown { name, raw },
        }
    }

    /// The command's name as sent.
    pub fn name(&self) -> &str {
        match self {
            Command::FetchEvents { .. } => "FetchEvents",
            Command::SendComments { .. } => "SendComments",
            Command::SetSyncDone { .. } => "SetSyncDone",
            Command::SetSetupCompleted { .. } => "SetSetupCompleted",
            Command::SendNextCommentsPayload { .. } => "SendNextCommentsPayload",
            Command::Unknown { name, .. } => name,
        }
    }
}

/// The reply to `GET /integrations/v1/commands`.
#[derive(Deserialize)]
pub(crate) struct CommandsReply {
    #[serde(default)]
    pub(crate) commands: Option<Vec<Value>>,
}

/// The reply to `GET /integrations/v1/events`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventsReply {
    #[serde(default)]
    pub(crate) events: Option<Vec<Value>>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub(crate) has_more: bool,
    #[serde(flatten)]
    pub(crate) extra: Map<String, Value>,
}

/// The reply to the older `GET /integrations/v1/stream`: commands and events at once.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StreamReply {
    #[serde(default)]
    pub(crate) commands: Option<Vec<Value>>,
    #[serde(default)]
    pub(crate) events: Option<Vec<Value>>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub(crate) has_more: bool,
    #[serde(flatten)]
    pub(crate) extra: Map<String, Value>,
}

/// The reply to `GET /integrations/v1/comments`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CommentsReply {
    #[serde(default)]
    pub(crate) comments: Option<Vec<Value>>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub(crate) has_more: bool,
    #[serde(default)]
    pub(crate) total_count: Option<Value>,
    #[serde(flatten)]
    pub(crate) extra: Map<String, Value>,
}

/// The body of `PATCH /integrations/v1/comment-ids`.
#[derive(Serialize)]
pub(crate) struct IdMappings<'a> {
    pub(crate) mappings: &'a [IdMapping],
}

/// One mapping of `PATCH /integrations/v1/comment-ids`: a comment FastComments holds
/// and the id the site gave it, sent as `{"fcId": …, "wpId": …}` (the field names of
/// FastComments' WordPress plugin, whatever the platform). FastComments keeps it as the
/// comment's `meta.wpId`, which comes back in the event log and in the download
/// ([`EventComment::meta`](super::EventComment::meta)).
///
/// ```
/// use fastcomments::integration::IdMapping;
/// let m = IdMapping::new("64f0c2a1e4b0a1b2c3d4e5f6", "17");
/// assert_eq!(
///     serde_json::to_string(&m).unwrap(),
///     r#"{"fcId":"64f0c2a1e4b0a1b2c3d4e5f6","wpId":"17"}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IdMapping {
    /// FastComments' id of the comment (`fcId`).
    #[serde(rename = "fcId")]
    pub fastcomments_id: String,
    /// The site's id for it (`wpId`).
    #[serde(rename = "wpId")]
    pub local_id: String,
}

impl IdMapping {
    /// FastComments' comment `fastcomments_id` is the site's `local_id`.
    pub fn new(fastcomments_id: impl Into<String>, local_id: impl Into<String>) -> IdMapping {
        IdMapping {
            fastcomments_id: fastcomments_id.into(),
            local_id: local_id.into(),
        }
    }
}

/// The reply to `GET /integrations/v1/api-secret`.
#[derive(Deserialize)]
pub(crate) struct SecretReply {
    pub(crate) secret: String,
}

/// The body of `POST /integrations/v1/comments`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UploadBatch<'a> {
    pub(crate) count_remaining: u64,
    pub(crate) comments: &'a [UploadComment],
}

/// The reply to `POST /integrations/v1/comments`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UploadReply {
    #[serde(default)]
    pub(crate) comment_ids: Option<BTreeMap<String, Value>>,
}

impl UploadReply {
    /// `externalId → FastComments id`, keeping the entries whose id is a string.
    pub(crate) fn ids(self) -> BTreeMap<String, String> {
        let ids = self.comment_ids.unwrap_or_default();
        ids.into_iter()
            .filter_map(|(external, id)| match id {
                Value::String(id) => Some((external, id)),
                _ => None,
            })
            .collect()
    }
}

/// One local comment, as uploaded to FastComments.
///
/// `external_id` is the site's own id for it; `external_parent_id` its parent's (sent as
/// `null` for a root comment). The notification flags default to `true`, so importing
/// old comments e-mails nobody.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use fastcomments::integration::UploadComment;
/// let date = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
/// let mut comment = UploadComment::new("42", "post-7", "Ada", "<p>Hello</p>", date);
/// comment.external_parent_id = Some("41".into());
/// let json = serde_json::to_value(&comment).unwrap();
/// assert_eq!(json["externalId"], "42");
/// assert_eq!(json["date"], "2024-05-01T12:00:00Z");
/// assert_eq!(json["notificationSentForParent"], true);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UploadComment {
    /// The site's id of the comment.
    pub external_id: String,
    /// The site's id of its parent; `None` for a root comment (sent as `null`).
    pub external_parent_id: Option<String>,
    /// The page's id on FastComments (`urlId`).
    pub url_id: String,
    /// The page's URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The page's title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_title: Option<String>,
    /// The commenter's user id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The commenter's name.
    pub commenter_name: String,
    /// The commenter's e-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commenter_email: Option<String>,
    /// The comment as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The comment as HTML.
    #[serde(rename = "commentHTML")]
    pub comment_html: String,
    /// When it was written (sent as an ISO-8601 string).
    pub date: DateTime<Utc>,
    /// Net votes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub votes: Option<i64>,
    /// Up votes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub votes_up: Option<i64>,
    /// Down votes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub votes_down: Option<i64>,
    /// Whether the commenter is verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    /// When the commenter was verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_date: Option<DateTime<Utc>>,
    /// Whether the parent's author was notified (true: do not notify now).
    pub notification_sent_for_parent: bool,
    /// Whether the tenant was notified (true: do not notify now).
    pub notification_sent_for_parent_tenant: bool,
    /// Whether a moderator reviewed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewed: Option<bool>,
    /// Whether it is an import.
    pub imported: bool,
    /// Whether it is spam.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_spam: Option<bool>,
    /// The commenter's avatar.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar_src: Option<String>,
    /// Whether it contains images.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_images: Option<bool>,
    /// Whether it contains links.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_links: Option<bool>,
    /// Whether it is approved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved: Option<bool>,
    /// Fields this type does not model, sent as given (e.g. `meta`, which FastComments
    /// keeps on the comment and sends back in the event log), and read back as sent.
    #[serde(flatten, serialize_with = "upload_extra")]
    pub extra: Map<String, Value>,
}

/// The keys [`UploadComment`]'s fields are sent as: `extra` never sends one of them (an
/// `externalId` there would break the id mapping of the upload).
const UPLOAD_COMMENT_KEYS: &[&str] = &[
    "externalId",
    "externalParentId",
    "urlId",
    "url",
    "pageTitle",
    "userId",
    "commenterName",
    "commenterEmail",
    "comment",
    "commentHTML",
    "date",
    "votes",
    "votesUp",
    "votesDown",
    "verified",
    "verifiedDate",
    "notificationSentForParent",
    "notificationSentForParentTenant",
    "reviewed",
    "imported",
    "isSpam",
    "avatarSrc",
    "hasImages",
    "hasLinks",
    "approved",
];

fn upload_extra<S: serde::Serializer>(extra: &Map<String, Value>, s: S) -> Result<S::Ok, S::Error> {
    crate::lenient::unmodelled(extra, UPLOAD_COMMENT_KEYS, s)
}

impl UploadComment {
    /// A root comment with the fields FastComments needs; set the others as fields.
    pub fn new(
        external_id: impl Into<String>,
        url_id: impl Into<String>,
        commenter_name: impl Into<String>,
        comment_html: impl Into<String>,
        date: DateTime<Utc>,
    ) -> UploadComment {
        UploadComment {
            external_id: external_id.into(),
            external_parent_id: None,
            url_id: url_id.into(),
            url: None,
            page_title: None,
            user_id: None,
            commenter_name: commenter_name.into(),
            commenter_email: None,
            comment: None,
            comment_html: comment_html.into(),
            date,
            votes: None,
            votes_up: None,
            votes_down: None,
            verified: None,
            verified_date: None,
            notification_sent_for_parent: true,
            notification_sent_for_parent_tenant: true,
            reviewed: None,
            imported: true,
            is_spam: None,
            avatar_src: None,
            has_images: None,
            has_links: None,
            approved: None,
            extra: Map::new(),
        }
    }
}

/// A boolean that may arrive as `true`, `"true"`, `1` or `null` (false).
fn lenient_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Bool(b) => b,
        Value::String(s) => s == "true",
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        _ => false,
    })
}

/// A non-negative integer sent as a number or a string.
pub(crate) fn lenient_u64(value: &Value) -> Option<u64> {
    integer_value(value).and_then(|n| u64::try_from(n).ok())
}

/// An instant in epoch milliseconds, sent as a number (ms) or as a string: digits (ms)
/// or an RFC 3339 date.
pub(crate) fn epoch_ms(value: &Value) -> Option<i64> {
    integer_value(value).or_else(|| {
        let text = value.as_str()?;
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|d| d.timestamp_millis())
    })
}

/// [`epoch_ms`] for an optional field: `null` and absence are `None`, a value that is
/// no instant is an error.
pub(crate) fn optional_epoch_ms<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(value) => epoch_ms(&value)
            .map(Some)
            .ok_or_else(|| de::Error::custom(format!("not an instant: {value}"))),
    }
}

#[cfg(test)]
mod tests {

    /// `extra` cannot duplicate or override a modelled field on the wire, and the key
    /// list covers every field.
    #[test]
    fn upload_extra_never_sends_a_modelled_key() {
        let mut c = UploadComment::new("e1", "p", "Ann", "<p>x</p>", DateTime::<Utc>::UNIX_EPOCH);
        c.external_parent_id = Some(String::new());
        c.url = Some(String::new());
        c.page_title = Some(String::new());
        c.user_id = Some(String::new());
        c.commenter_email = Some(String::new());
        c.comment = Some(String::new());
        (c.votes, c.votes_up, c.votes_down) = (Some(0), Some(0), Some(0));
        (c.verified, c.reviewed, c.is_spam) = (Some(true), Some(true), Some(false));
        c.verified_date = Some(DateTime::<Utc>::UNIX_EPOCH);
        c.avatar_src = Some(String::new());
        (c.has_images, c.has_links, c.approved) = (Some(false), Some(false), Some(true));
        crate::lenient::assert_lists_every_key(&c, UPLOAD_COMMENT_KEYS);
        c.extra.insert("externalId".into(), "hijack".into());
        c.extra.insert("date".into(), "not a date".into());
        c.extra.insert("meta".into(), json!({"wpId": "1"}));
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(text.matches("\"externalId\"").count(), 1, "{text}");
        assert!(
            !text.contains("hijack") && !text.contains("not a date"),
            "{text}"
        );
        assert!(text.contains("\"meta\":{\"wpId\":\"1\"}"), "{text}");
    }

    use super::*;
    use serde_json::json;

    #[test]
    fn commands_of_both_vocabularies_and_unknown_ones() {
        let read = |v: Value| Command::from_value(v);
        assert_eq!(
            read(json!({"id": "c1", "command": "FetchEvents", "eventCount": 3})),
            Command::FetchEvents {
                id: Some("c1".into()),
                event_count: Some(3),
                extra: Map::new(),
            }
        );
        assert_eq!(
            read(json!({"id": null, "command": "SendComments"})),
            Command::SendComments {
                id: None,
                extra: Map::new()
            }
        );
        assert_eq!(
            read(json!({"command": "SetSyncDone", "at": 5})),
            Command::SetSyncDone {
                id: None,
                extra: Map::from_iter([("at".to_owned(), json!(5))]),
            },
            "a field not modelled is kept"
        );
        assert!(matches!(
            read(json!({"command": "SetSetupCompleted"})),
            Command::SetSetupCompleted { extra } if extra.is_empty()
        ));
        assert_eq!(
            read(json!({"command": "SendNextCommentsPayload", "start": "100", "count": 50})),
            Command::SendNextCommentsPayload {
                start: 100,
                count: 50,
                extra: Map::new(),
            }
        );
        let odd = json!({"command": "Reindex", "scope": "all"});
        assert_eq!(
            read(odd.clone()),
            Command::Unknown {
                name: "Reindex".into(),
                raw: odd
            }
        );
        assert!(matches!(read(json!(17)), Command::Unknown { .. }));
    }

    #[test]
    fn instants_in_every_spelling() {
        assert_eq!(
            epoch_ms(&json!(1_700_000_000_123_i64)),
            Some(1_700_000_000_123)
        );
        assert_eq!(
            epoch_ms(&json!(1_700_000_000_123.0)),
            Some(1_700_000_000_123)
        );
        assert_eq!(epoch_ms(&json!("1700000000123")), Some(1_700_000_000_123));
        assert_eq!(
            epoch_ms(&json!("2023-11-14T22:13:20.123Z")),
            Some(1_700_000_000_123)
        );
        assert_eq!(epoch_ms(&json!(1e300)), None);
        assert_eq!(epoch_ms(&json!(true)), None);
        assert_eq!(epoch_ms(&json!("yesterday")), None);
        assert_eq!(epoch_ms(&json!(null)), None);
    }

    #[test]
    fn upload_ids_keep_the_strings() {
        let reply: UploadReply = serde_json::from_value(
            json!({"status": "success", "commentIds": {"a": "fc1", "b": null}}),
        )
        .unwrap();
        assert_eq!(
            reply.ids(),
            BTreeMap::from([("a".to_string(), "fc1".to_string())])
        );
    }
}
