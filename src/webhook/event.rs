//! What a webhook delivery says happened.

use serde::de::Deserializer;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A comment as FastComments sends it to a webhook. Every field but `id` is optional
/// (a delete may carry `id` alone); unknown fields are ignored, and a number of an
/// unexpected shape is dropped rather than failing the delivery.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
#[allow(missing_docs)]
pub struct WebhookComment {
    /// The comment's FastComments id.
    pub id: String,
    pub url_id: Option<String>,
    pub url: Option<String>,
    pub user_id: Option<String>,
    pub commenter_email: Option<String>,
    pub commenter_name: Option<String>,
    pub comment: Option<String>,
    #[serde(rename = "commentHTML")]
    pub comment_html: Option<String>,
    pub parent_id: Option<String>,
    /// When it was written, as an ISO-8601 date string (epoch milliseconds are
    /// converted to one).
    #[serde(default, deserialize_with = "lenient_date")]
    pub date: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub votes: Option<i64>,
    pub verified: Option<bool>,
    /// When the commenter was verified, in epoch milliseconds.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub verified_date: Option<i64>,
    pub reviewed: Option<bool>,
    pub avatar_src: Option<String>,
    pub is_spam: Option<bool>,
    pub ai_determined_spam: Option<bool>,
    pub has_images: Option<bool>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub page_number: Option<i64>,
    pub approved: Option<bool>,
    pub locale: Option<String>,
}

/// What a delivery says happened.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum WebhookEvent {
    /// A comment was added (only when create and update use different methods).
    Created(WebhookComment),
    /// A comment was changed (only when create and update use different methods).
    Updated(WebhookComment),
    /// A comment was added or changed: with FastComments' default methods (PUT for
    /// both) a delivery does not say which. Upsert it by `id`.
    Saved(WebhookComment),
    /// A comment was removed. `comment` is `None` when the body carries the `id` alone
    /// (as the admin's test payload does).
    Deleted {
        /// The comment's id.
        id: String,
        /// The comment, when the body carries more than its id.
        comment: Option<WebhookComment>,
    },
}

impl WebhookEvent {
    /// The id of the comment concerned.
    pub fn comment_id(&self) -> &str {
        match self {
            WebhookEvent::Created(c) | WebhookEvent::Updated(c) | WebhookEvent::Saved(c) => &c.id,
            WebhookEvent::Deleted { id, .. } => id,
        }
    }
}

/// An integer sent as a number or a string holding one; anything else is dropped.
fn lenient_i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(value.as_ref().and_then(crate::response::integer_value))
}

/// A date string as sent, or epoch milliseconds turned into one; anything else is
/// dropped.
fn lenient_date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(deserializer)? {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        _ => None,
    })
}
