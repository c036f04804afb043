//! What a webhook delivery says happened.

use serde::de::Deserializer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A comment as FastComments sends it to a webhook (the fields of WEBHOOKS.md, from
/// FastComments' current guide). Every field but `id` is optional (a test delete carries
/// `id` alone) and read leniently, since a delivery refused for one field's shape is
/// retried until the webhook is disabled: a number or boolean sent as a string (or a
/// string sent as a number) is read, a value of another shape is dropped; every field not modelled here (`meta`, and whatever FastComments adds) is
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
    /// The comment's FastComments id (a number is read as its text).
    #[serde(deserialize_with = "crate::lenient::id")]
    pub id: String,
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub url_id: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub user_id: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub commenter_email: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub commenter_name: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub comment: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::lenient::string",
        rename = "commentHTML"
    )]
    pub comment_html: Option<String>,
    /// The id the comment has in the site it was imported from (integration uploads).
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub external_id: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub parent_id: Option<String>,
    /// When it was written, as an ISO-8601 date string (epoch milliseconds are
    /// converted to one).
    #[serde(default, deserialize_with = "lenient_date")]
    pub date: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::integer")]
    pub votes: Option<i64>,
    #[serde(default, deserialize_with = "crate::lenient::integer")]
    pub votes_up: Option<i64>,
    #[serde(default, deserialize_with = "crate::lenient::integer")]
    pub votes_down: Option<i64>,
    #[serde(default, deserialize_with = "crate::lenient::boolean")]
    pub verified: Option<bool>,
    /// When the commenter was verified, in epoch milliseconds.
    #[serde(default, deserialize_with = "crate::lenient::integer")]
    pub verified_date: Option<i64>,
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
    #[serde(default, deserialize_with = "crate::lenient::integer")]
    pub page_number: Option<i64>,
    /// The page the comment is on when sorted oldest first.
    #[serde(
        default,
        rename = "pageNumberOF",
        deserialize_with = "crate::lenient::integer"
    )]
    pub page_number_of: Option<i64>,
    /// The page the comment is on when sorted newest first.
    #[serde(
        default,
        rename = "pageNumberNF",
        deserialize_with = "crate::lenient::integer"
    )]
    pub page_number_nf: Option<i64>,
    #[serde(default, deserialize_with = "crate::lenient::boolean")]
    pub approved: Option<bool>,
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub locale: Option<String>,
    /// The users and groups the comment mentions.
    #[serde(default, deserialize_with = "lenient_list")]
    pub mentions: Option<Vec<WebhookMention>>,
    /// The domain of the page.
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub domain: Option<String>,
    /// The moderation groups the comment belongs to.
    #[serde(default, deserialize_with = "lenient_list")]
    pub moderation_group_ids: Option<Vec<String>>,
    /// Every field not modelled above, as it came (for instance `meta`, where a site's
    /// own ids may be kept).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Whether a body's object carries the id alone (the admin's test payload for a delete,
/// and deletes before November 2023), judged from its keys, not from what was read of
/// them: a field dropped for its shape still means the comment was sent.
pub(crate) fn carries_only_id(body: &[u8]) -> bool {
    serde_json::from_slice::<std::collections::HashMap<String, serde::de::IgnoredAny>>(body)
        .is_ok_and(|fields| fields.len() == 1 && fields.contains_key("id"))
}

/// A mention in a [`WebhookComment`]: `{id, tag, rawTag, type, sent}` in FastComments'
/// guide; anything else is kept in [`extra`](Self::extra).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct WebhookMention {
    /// The id of the user mentioned (for an SSO user, prefixed with the tenant id).
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub id: Option<String>,
    /// The tag as shown, with its `@`.
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub tag: Option<String>,
    /// The tag as typed.
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub raw_tag: Option<String>,
    /// `user` (a FastComments account) or `sso` (an SSO user).
    #[serde(default, deserialize_with = "crate::lenient::string", rename = "type")]
    pub kind: Option<String>,
    /// Whether the mentioned user was notified.
    #[serde(default, deserialize_with = "crate::lenient::boolean")]
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

/// A list of the expected items, each read on its own (an item of another shape is
/// dropped, not the list); `null`, or a value that is not a list, is dropped rather than
/// failing the delivery.
fn lenient_list<'de, D, T>(deserializer: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Ok(match Option::<Value>::deserialize(deserializer)? {
        Some(Value::Array(items)) => Some(
            items
                .into_iter()
                .filter_map(|item| serde_json::from_value(item).ok())
                .collect(),
        ),
        _ => None,
    })
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
        assert!(!carries_only_id(body.to_string().as_bytes()));
        assert!(carries_only_id(br#"{"id": "c1"}"#));
        // A field dropped for its shape still means more than the id was sent.
        assert!(!carries_only_id(
            br#"{"id": "a", "date": 9223372036854775807}"#
        ));
        let odd: WebhookComment =
            serde_json::from_str(r#"{"id": "a", "mentions": [{"id": 5}, 7, {"tag": "@b"}]}"#)
                .unwrap();
        let mentions = odd.mentions.unwrap();
        assert_eq!(
            mentions.len(),
            2,
            "the item that is not an object is dropped"
        );
        assert_eq!(mentions[0].id.as_deref(), Some("5"));
    }

    /// Values of another shape than the guide's never refuse a delivery: booleans and
    /// numbers as strings (or the reverse) are read, the rest dropped.
    #[test]
    fn a_field_of_another_shape_never_fails_the_delivery() {
        let comment: WebhookComment = serde_json::from_str(
            r#"{"id": 17, "urlId": 42, "verified": "true", "approved": 1, "isSpam": "0",
                "reviewed": "maybe", "commenterName": null, "locale": {"x": 1}}"#,
        )
        .unwrap();
        assert_eq!(
            (comment.id.as_str(), comment.url_id.as_deref()),
            ("17", Some("42"))
        );
        assert!(serde_json::from_str::<WebhookComment>(r#"{"id": null}"#).is_err());
        assert!(serde_json::from_str::<WebhookComment>(r#"{"urlId": "p"}"#).is_err());
        assert_eq!(
            (
                comment.verified,
                comment.approved,
                comment.is_spam,
                comment.reviewed
            ),
            (Some(true), Some(true), Some(false), None)
        );
        assert_eq!((comment.commenter_name, comment.locale), (None, None));
    }
}
