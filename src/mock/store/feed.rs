//! The mock's change feed: every write made through any of its APIs (public, secured,
//! moderation) that FastComments announces becomes one [`Change`], stamped by the mock's
//! clock and appended to the tenant's feed. Every consumer reads the same change in the
//! same order: the live-event sockets of the change's page ([`super::live`]), the webhook
//! queue (comment changes), the integration event log (a tenant with a confirmed
//! integration token), and the public event log (`GetEventLog`, `GetGlobalEventLog`),
//! which answers from the feed itself.
//!
//! An entry is shaped as the spec's `EventLogEntry` and its `data` as a `LiveEvent`
//! (`LIVE.md`): `{type, timestamp, broadcastId, comment, vote?}`, the comment with `_id`
//! and an ISO-8601 `date`, a vote with its comment and `direction` ±1. Timestamps never
//! go back: a change made in the millisecond of the previous one shares it. The clock can
//! be pinned ([`Feeds::pin_clock`]) so that a test makes two changes in one millisecond.

use std::collections::{HashMap, VecDeque};

use serde_json::{Value, json};

use super::{Object, State, iso_ms, lock, new_id, now_ms, with_iso_date};

/// How many entries a tenant's feed keeps unless told otherwise ([`Feeds::set_capacity`]);
/// older ones are forgotten, as FastComments' event log expires (a catch-up from before
/// the oldest kept entry has a gap).
pub(crate) const DEFAULT_CAPACITY: usize = 100_000;

/// What the public event log and the live sockets may show of a comment: the integration
/// log (authenticated by its token) carries the commenter's e-mail and the site's `meta`,
/// the public ones do not, as the spec's `PubSubComment` has neither.
const PRIVATE: [&str; 2] = ["commenterEmail", "meta"];

/// What changed, as FastComments names it in its event log and live events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    NewComment,
    UpdatedComment,
    DeletedComment,
    NewVote,
    DeletedVote,
}

impl Kind {
    /// The event's `type`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::NewComment => "new-comment",
            Kind::UpdatedComment => "updated-comment",
            Kind::DeletedComment => "deleted-comment",
            Kind::NewVote => "new-vote",
            Kind::DeletedVote => "deleted-vote",
        }
    }
}

/// One write, as its handler reports it: the comment as stored after the write (before
/// it, for a deletion), the vote for a vote change, and the caller's `broadcastId`.
pub(crate) struct Change {
    pub(crate) kind: Kind,
    pub(crate) comment: Object,
    pub(crate) vote: Option<Object>,
    pub(crate) broadcast_id: Option<String>,
}

impl Change {
    /// A change to a comment.
    pub(crate) fn comment(kind: Kind, comment: &Object, broadcast_id: Option<&str>) -> Change {
        Change {
            kind,
            comment: comment.clone(),
            vote: None,
            broadcast_id: broadcast_id.map(str::to_owned),
        }
    }

    /// A vote added to or removed from `comment`.
    pub(crate) fn vote(
        kind: Kind,
        vote: &Object,
        comment: &Object,
        broadcast_id: Option<&str>,
    ) -> Change {
        Change {
            kind,
            comment: comment.clone(),
            vote: Some(vote.clone()),
            broadcast_id: broadcast_id.map(str::to_owned),
        }
    }
}

/// One entry of a tenant's feed.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) id: String,
    /// The server's time of the change, epoch milliseconds.
    pub(crate) at_ms: i64,
    pub(crate) url_id: String,
    pub(crate) broadcast_id: String,
    /// The `LiveEvent`, as JSON text.
    pub(crate) data: String,
}

impl Entry {
    /// The entry as the spec's `EventLogEntry`, its `data` as the public event log shows
    /// it ([`Entry::public_data`]).
    pub(crate) fn to_log_entry(&self, tenant_id: &str) -> Value {
        json!({
            "_id": self.id, "createdAt": iso_ms(self.at_ms), "tenantId": tenant_id,
            "urlId": self.url_id, "broadcastId": self.broadcast_id, "data": self.public_data(),
        })
    }

    /// The entry's `data` as the public event log and the live sockets show it: without
    /// the comment's [`PRIVATE`] fields (the integration log, behind its token, keeps
    /// them). Data that is not JSON is shown as it is.
    pub(crate) fn public_data(&self) -> String {
        let Ok(mut event) = serde_json::from_str::<Value>(&self.data) else {
            return self.data.clone();
        };
        if let Some(comment) = event.get_mut("comment").and_then(Value::as_object_mut) {
            for key in PRIVATE {
                comment.remove(key);
            }
        }
        event.to_string()
    }
}

/// Every tenant's feed, oldest entry first, with how many entries each keeps and the
/// clock that stamps them.
#[derive(Debug)]
pub(crate) struct Feeds {
    tenants: HashMap<String, VecDeque<Entry>>,
    /// How many entries each tenant's feed keeps (at least 1).
    capacity: usize,
    /// The time new entries are stamped with (epoch milliseconds) instead of the system
    /// clock's, when pinned.
    pinned_ms: Option<i64>,
}

impl Default for Feeds {
    fn default() -> Feeds {
        Feeds {
            tenants: HashMap::new(),
            capacity: DEFAULT_CAPACITY,
            pinned_ms: None,
        }
    }
}

impl Feeds {
    /// Keeps `entries` entries per tenant from now on (at least 1), forgetting at once the
    /// oldest of a feed that holds more.
    pub(crate) fn set_capacity(&mut self, entries: usize) {
        self.capacity = entries.max(1);
        for feed in self.tenants.values_mut() {
            let excess = feed.len().saturating_sub(self.capacity);
            feed.drain(..excess);
        }
    }

    /// Stamps new entries with `at_ms` (epoch milliseconds) instead of the system clock's
    /// time; `None` goes back to the system clock. Either way an entry is never stamped
    /// before the previous one of its feed.
    pub(crate) fn pin_clock(&mut self, at_ms: Option<i64>) {
        self.pinned_ms = at_ms;
    }

    /// Appends a change; returns the entry as stored.
    fn append(&mut self, tenant_id: &str, change: &Change) -> Entry {
        let now = self.pinned_ms.unwrap_or_else(now_ms);
        let feed = self.tenants.entry(tenant_id.to_owned()).or_default();
        let at_ms = now.max(feed.back().map_or(i64::MIN, |e| e.at_ms));
        let broadcast_id = change.broadcast_id.clone().unwrap_or_else(new_id);
        let mut event = json!({
            "type": change.kind.name(),
            "timestamp": at_ms,
            "broadcastId": broadcast_id,
            "comment": event_comment(&change.comment),
        });
        if let Some(vote) = &change.vote {
            event["vote"] = event_vote(tenant_id, vote);
        }
        let entry = Entry {
            id: new_id(),
            at_ms,
            url_id: str_field(&change.comment, "urlId").to_owned(),
            broadcast_id,
            data: event.to_string(),
        };
        if feed.len() >= self.capacity {
            let excess = feed.len() + 1 - self.capacity;
            feed.drain(..excess);
        }
        feed.push_back(entry.clone());
        entry
    }

    /// The entries of `tenant_id` from `start_ms` to `end_ms` (both inclusive), of one
    /// page when `url_id` is given.
    pub(crate) fn range(
        &self,
        tenant_id: &str,
        url_id: Option<&str>,
        start_ms: i64,
        end_ms: i64,
    ) -> Vec<Entry> {
        let Some(feed) = self.tenants.get(tenant_id) else {
            return Vec::new();
        };
        let first = feed.partition_point(|e| e.at_ms < start_ms);
        feed.range(first..)
            .take_while(|e| e.at_ms <= end_ms)
            .filter(|e| url_id.is_none_or(|u| e.url_id == u))
            .cloned()
            .collect()
    }
}

impl State {
    /// Publishes a write: appends it to the tenant's feed and hands it to every consumer,
    /// in this order: the live sockets of its page, the webhook queue, the integration
    /// event log. The sockets get it under the feed's lock, so that two writes published
    /// at once reach every socket in feed order.
    pub(crate) fn publish(&self, tenant_id: &str, change: Change) {
        let entry = {
            let mut feeds = lock(&self.feeds);
            let entry = feeds.append(tenant_id, &change);
            self.push_live(tenant_id, &entry.url_id, &entry.public_data());
            entry
        };
        self.enqueue_webhook(tenant_id, &change);
        self.log_integration_event(tenant_id, &entry);
    }
}

fn str_field<'a>(object: &'a Object, key: &str) -> &'a str {
    object.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// A stored comment as events carry it: `_id` for `id`, the date as an ISO-8601 string.
pub(crate) fn event_comment(comment: &Object) -> Value {
    let mut shown = comment.clone();
    if let Some(id) = shown.remove("id") {
        shown.insert("_id".into(), id);
    }
    with_iso_date(&mut shown);
    shown
        .entry("urlIdRaw")
        .or_insert_with(|| comment.get("urlId").cloned().unwrap_or_default());
    Value::Object(shown)
}

/// A stored vote as events carry it (`PubSubVote`): `_id`, `direction` ±1, `createdAt`
/// in epoch milliseconds.
fn event_vote(tenant_id: &str, vote: &Object) -> Value {
    let created_ms = vote
        .get("createdAt")
        .and_then(Value::as_str)
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map_or_else(now_ms, |d| d.timestamp_millis());
    let url_id = str_field(vote, "urlId");
    json!({
        "_id": str_field(vote, "id"),
        "tenantId": tenant_id,
        "urlId": url_id,
        "urlIdRaw": url_id,
        "commentId": str_field(vote, "commentId"),
        "userId": vote.get("userId").cloned().unwrap_or_default(),
        "direction": if str_field(vote, "direction") == "down" { -1 } else { 1 },
        "createdAt": created_ms,
        "verificationId": null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comment(id: &str, url_id: &str) -> Object {
        json!({"id": id, "urlId": url_id, "date": 1_767_225_600_000_i64, "comment": "hi"})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn entries_keep_write_order_and_never_go_back_in_time() {
        let mut feeds = Feeds::default();
        for n in 0..50 {
            let change = Change::comment(Kind::NewComment, &comment(&n.to_string(), "p"), None);
            feeds.append("t", &change);
        }
        let all = feeds.range("t", None, i64::MIN, i64::MAX);
        assert_eq!(all.len(), 50);
        assert!(all.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
        let ids: Vec<String> = all
            .iter()
            .map(|e| {
                let data: Value = serde_json::from_str(&e.data).unwrap_or_default();
                data["comment"]["_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        assert_eq!(ids, (0..50).map(|n| n.to_string()).collect::<Vec<_>>());
    }

    #[test]
    fn a_range_is_inclusive_at_both_ends_and_filters_by_page() {
        let mut feeds = Feeds::default();
        feeds.append(
            "t",
            &Change::comment(Kind::NewComment, &comment("a", "p"), Some("b1")),
        );
        feeds.append(
            "t",
            &Change::comment(Kind::NewComment, &comment("b", "q"), None),
        );
        let all = feeds.range("t", None, i64::MIN, i64::MAX);
        let (first, last) = (all[0].at_ms, all[1].at_ms);
        assert_eq!(feeds.range("t", None, first, last).len(), 2);
        assert_eq!(feeds.range("t", Some("q"), first, last).len(), 1);
        assert_eq!(all[0].broadcast_id, "b1");
        assert!(feeds.range("t", None, last + 1, i64::MAX).is_empty());
        assert!(feeds.range("other", None, i64::MIN, i64::MAX).is_empty());
    }

    #[test]
    fn a_pinned_clock_never_goes_back_and_a_smaller_capacity_forgets_at_once() {
        let mut feeds = Feeds::default();
        let add = |feeds: &mut Feeds, id: &str| {
            feeds
                .append(
                    "t",
                    &Change::comment(Kind::NewComment, &comment(id, "p"), None),
                )
                .at_ms
        };
        feeds.pin_clock(Some(5_000));
        assert_eq!((add(&mut feeds, "a"), add(&mut feeds, "b")), (5_000, 5_000));
        feeds.pin_clock(Some(1_000));
        assert_eq!(
            add(&mut feeds, "c"),
            5_000,
            "never before the previous entry"
        );
        feeds.set_capacity(2);
        let kept = feeds.range("t", None, i64::MIN, i64::MAX);
        assert_eq!(kept.len(), 2);
        add(&mut feeds, "d");
        let kept = feeds.range("t", None, i64::MIN, i64::MAX);
        assert!(kept[0].data.contains("\"c\"") && kept[1].data.contains("\"d\""));
        feeds.set_capacity(0);
        assert_eq!(
            feeds.range("t", None, i64::MIN, i64::MAX).len(),
            1,
            "at least 1"
        );
    }

    #[test]
    fn a_vote_event_carries_its_comment_and_a_signed_direction() {
        let mut feeds = Feeds::default();
        let vote = json!({"id": "v", "commentId": "a", "urlId": "p", "userId": "u",
                          "direction": "down", "createdAt": "2026-01-01T00:00:00.000Z"});
        let vote = vote.as_object().cloned().unwrap_or_default();
        let entry = feeds.append(
            "t",
            &Change::vote(Kind::NewVote, &vote, &comment("a", "p"), None),
        );
        let data: Value = serde_json::from_str(&entry.data).unwrap_or_default();
        assert_eq!(data["type"], "new-vote");
        assert_eq!(data["vote"]["direction"], -1);
        assert_eq!(data["vote"]["createdAt"], 1_767_225_600_000_i64);
        assert_eq!(data["comment"]["_id"], "a");
        assert_eq!(data["comment"]["date"], "2026-01-01T00:00:00.000Z");
    }
}
