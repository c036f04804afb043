//! What a webhook delivery says happened.

use serde::de::Deserializer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A comment as FastComments sends it to a webhook (the fields of WEBHOOKS.md, from
/// FastComments' current guide). Every field but `id` is optional (a test delete carries
/// `id` alone); a number of an unexpected shape is dropped rather than failing the
/// delivery; every field not modelled here (`meta`, and whatever FastComments adds) is
/// kept as it came in [`extra`](Self::extra), and serialized back.
///
/// ```
/// use fastcomments::webhook::WebhookComment;
/// let c: WebhookComment = serde_json::from_str(
///     r#"{"id": "c1", "votesUp": 3, "meta": {"wpId": "17"}, "brandNew": [1]}"#).unwrap();
/// assert_eq!(c.votes_up, Some(3));
/// assert_eq!(c.extra["meta"]["wpId"], "17");
/// assert_eq!(c.extra["brandNew"], serde_json::json!([1]));
/// ```
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
    /// The id the comment has in the site it was imported from (integration uploads).
    pub external_id: Option<String>,
    pub parent_id: Option<String>,
    /// When it was written, as an ISO-8601 date string (epoch milliseconds are
    /// converted to one).
    #[serde(default, deserialize_with = "lenient_date")]
    pub date: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub votes: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub votes_up: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub votes_down: Option<i64>,
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
    /// The page the comment is on when sorted oldest first.
    #[serde(default, rename = "pageNumberOF", deserialize_with = "lenient_i64")]
    pub page_number_of: Option<i64>,
    /// The page the comment is on when sorted newest first.
    #[serde(default, rename = "pageNumberNF", deserialize_with = "lenient_i64")]
    pub page_number_nf: Option<i64>,
    pub approved: Option<bool>,
    pub locale: Option<String>,
    /// The users and groups the comment mentions.
    #[serde(default, deserialize_with = "lenient_list")]
    pub mentions: Option<Vec<WebhookMention>>,
    /// The domain of the page.
    pub domain: Option<String>,
    /// The moderation groups the comment belongs to.
    #[serde(default, deserialize_with = "lenient_list")]
    pub moderation_group_ids: Option<Vec<String>>,
    /// Every field not modelled above, as it came (for instance `meta`, where a site's
    /// own ids may be kept).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl WebhookComment {
    /// Whether the body carried the id alone (the admin's test payload, and deletes
    /// before November 2023).
    pub(crate) fn is_id_only(&self) -> bool {
        *self
            == WebhookComment {
                id: self.id.clone(),
                ..WebhookComment::default()
            }
    }
}

/// A mention in a [`WebhookComment`]: `{id, tag, rawTag, type, sent}` in FastComments'
/// guide; anything else is kept in [`extra`](Self::extra).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct WebhookMention {
    /// The id of the user (or group) mentioned.
    pub id: Option<String>,
    /// The tag as shown, e.g. `@Ann`.
    pub tag: Option<String>,
    /// The tag as typed.
    pub raw_tag: Option<String>,
    /// What was mentioned, e.g. `user`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Whether the mentioned user was notified.
    pub sent: Option<bool>,
    /// Every field not modelled above, as it came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What a delivery says happened.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum WebhookEvent {
    /// A comment was added: a delivery on the create endpoint, or with create's method
    /// where it is no other type's.
    Created(WebhookComment),
    /// A comment was changed: a delivery on the update endpoint, or with update's
    /// method where it is no other type's.
    Updated(WebhookComment),
    /// A comment was added or changed, on an endpoint serving both with one method
    /// (FastComments' default: PUT for both), where a delivery does not say which.
    /// Upsert it by `id`.
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

/// A list of the expected items; `null`, or a value of another shape, is dropped rather
/// than failing the delivery.
fn lenient_list<'de, D, T>(deserializer: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Ok(Option::<Value>::deserialize(deserializer)?.and_then(|v| serde_json::from_value(v).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A delivery with every field of FastComments' current guide, and some it does not
    /// list: each modelled field read, the rest kept as it came and written back.
    #[test]
    fn every_field_of_the_guide_is_read_and_the_rest_is_kept() {
        let body = serde_json::json!({
            "id": "c1", "urlId": "p", "externalId": "wp-17", "votes": 3, "votesUp": 4,
            "votesDown": 1, "pageNumberOF": 2, "pageNumberNF": 0, "domain": "blog.example",
            "mentions": [{"id": "u1", "tag": "@Ann", "rawTag": "@Ann", "type": "user",
                          "sent": true, "weight": 1}],
            "moderationGroupIds": null,
            "meta": {"wpId": "17", "wpPostId": 5}, "feedbackIds": ["f1"]
        });
        let comment: WebhookComment = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(comment.external_id.as_deref(), Some("wp-17"));
        assert_eq!(
            (comment.votes_up, comment.votes_down, comment.page_number_of),
            (Some(4), Some(1), Some(2))
        );
        let mention = &comment.mentions.as_ref().unwrap()[0];
        assert_eq!(
            (mention.raw_tag.as_deref(), mention.kind.as_deref()),
            (Some("@Ann"), Some("user"))
        );
        assert_eq!(mention.extra["weight"], 1);
        assert_eq!(comment.moderation_group_ids, None);
        assert_eq!(comment.extra["meta"]["wpPostId"], 5);
        assert_eq!(comment.extra["feedbackIds"][0], "f1");
        let back = serde_json::to_value(&comment).unwrap();
        assert_eq!(back["meta"], body["meta"]);
        assert_eq!(back["feedbackIds"], body["feedbackIds"]);
        assert!(!comment.is_id_only());
        let bare: WebhookComment = serde_json::from_str(r#"{"id": "c1"}"#).unwrap();
        assert!(bare.is_id_only());
    }
}
