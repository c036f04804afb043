//! The merge of the event log's catch-up and the socket, as a pure state machine: what
//! is delivered, in which order, and what is dropped as already delivered. No I/O here;
//! `session.rs` feeds it.
//!
//! **Why each stored event is delivered exactly once, in timestamp order.** Every event
//! the log stores carries the server's `timestamp`, and timestamps do not go back. Let
//! `cursor` be the largest timestamp delivered. On every (re)connect the socket is opened
//! first and what it sends is held; then the log is read from `cursor` (inclusive). An
//! event stored before the log answered is in the answer; one stored after reaches the
//! open socket. So every event after `cursor` arrives at least once, and the only ones
//! that can arrive twice are those in both, and those at `cursor` itself, which the
//! inclusive `startTime` returns again. Each is recognised by its key: the event's whole
//! content (type, timestamp, `broadcastId`, the comment or vote with what changed),
//! canonicalised, since a frame has no id of its own. Two different writes never share a
//! key (they differ in what changed, or in their `broadcastId`), and one write has one.
//! Keys are kept for events within [`Merger::WINDOW_MS`] of `cursor`, always all of
//! those at `cursor`. The log's answer is applied in its order, then the held frames in
//! arrival order: both are in timestamp order, and the held ones all come after the
//! answer's (stored later).
//!
//! **Gaps.** The events delivered at `cursor` are a witness: the log, asked from
//! `cursor`, must return them. When it does not, it has expired them (or answered less
//! than asked), and whatever it forgot after them is unknown: a [`Out::Gap`] says so.
//!
//! **Bounds.** At most [`Merger::hold_limit`] frames are held during a catch-up; when one
//! more comes they are all dropped, and the catch-up goes on until it reaches the first
//! frame held after that, so they are read from the log instead. A socket frame more
//! than the window older than `cursor` (a server that held it that long) is delivered
//! when its key is unknown, out of order rather than lost.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

/// What the merge decided to deliver.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Out {
    /// A stored event, first time seen.
    Event(Value),
    /// Events from `from` to `to` may be missing.
    Gap { from: i64, to: i64 },
}

/// Whether the catch-up must read the log again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Read again from [`Merger::start`]: the answer brought new events and the socket
    /// has not shown that the log reached it.
    More,
    /// The catch-up is complete.
    Done,
}

/// The merge state of one stream, kept across reconnects.
#[derive(Debug)]
pub(crate) struct Merger {
    cursor: Option<i64>,
    seen: BTreeMap<i64, HashSet<Key>>,
    held: Vec<(i64, Value)>,
    holding: bool,
    first_page: bool,
    hold_limit: usize,
    horizon: Option<i64>,
    /// Frames and log entries dropped as already delivered.
    pub(crate) duplicates: u64,
    /// Times the hold buffer overflowed.
    pub(crate) overflows: u64,
}

impl Merger {
    /// How far behind `cursor` keys are kept (1 minute of server time).
    pub(crate) const WINDOW_MS: i64 = 60_000;
    /// How far ahead of the server's clock a timestamp may be and still move `cursor`.
    pub(crate) const SKEW_MS: i64 = 10 * 60_000;
    /// The most keys kept of events stamped beyond the horizon.
    const MAX_AHEAD: usize = 10_000;

    /// A merge starting at `cursor` (epoch milliseconds), when known.
    pub(crate) fn new(cursor: Option<i64>, hold_limit: usize) -> Merger {
        Merger {
            cursor,
            seen: BTreeMap::new(),
            held: Vec::new(),
            holding: false,
            first_page: false,
            hold_limit: hold_limit.max(1),
            horizon: None,
            duplicates: 0,
            overflows: 0,
        }
    }

    /// Where the next read of the log starts: the largest timestamp delivered (or the
    /// start), inclusive.
    pub(crate) fn start(&self) -> Option<i64> {
        self.cursor
    }

    /// The latest timestamp that can be genuine: the server's clock as last read, plus
    /// [`Merger::SKEW_MS`]. An event stamped later (a hostile or broken frame, a year
    /// ahead) is delivered once but does not move the start of the next catch-up, which
    /// would otherwise skip every real event written before that time.
    pub(crate) fn set_horizon(&mut self, server_now: i64) {
        self.horizon = Some(server_now.saturating_add(Self::SKEW_MS));
    }

    /// Sets the start when none is known yet (the server's clock at the subscription).
    pub(crate) fn start_at_least(&mut self, at_ms: i64) {
        self.cursor.get_or_insert(at_ms);
    }

    /// A socket (re)connected: hold stored events until the catch-up is done.
    pub(crate) fn begin_catch_up(&mut self) {
        self.holding = true;
        self.first_page = true;
    }

    /// A stored event (one with a `timestamp`) from the socket.
    pub(crate) fn socket(&mut self, timestamp: i64, event: Value) -> Vec<Out> {
        if !self.holding {
            return self.offer(timestamp, event).into_iter().collect();
        }
        if self.held.len() >= self.hold_limit {
            self.held.clear();
            self.overflows += 1;
        }
        self.held.push((timestamp, event));
        Vec::new()
    }

    /// One answer of the log, read from [`start`](Self::start); `server_now` is the
    /// server's clock when it answered, if known.
    pub(crate) fn catch_up(
        &mut self,
        mut events: Vec<(i64, Value)>,
        server_now: Option<i64>,
    ) -> (Vec<Out>, Next) {
        events.sort_by_key(|(timestamp, _)| *timestamp);
        let mut out = Vec::new();
        if std::mem::take(&mut self.first_page) {
            out.extend(self.witness_gap(&events, server_now));
        }
        let before = out.len();
        let last = events.last().map(|(timestamp, _)| *timestamp);
        for (timestamp, event) in events {
            out.extend(self.offer(timestamp, event));
        }
        let brought_new = out[before..].iter().any(|o| matches!(o, Out::Event(_)));
        let reached_socket = match (self.held.first(), last) {
            (Some((first_held, _)), Some(last)) => last >= *first_held,
            _ => false,
        };
        let next = if brought_new && !reached_socket {
            Next::More
        } else {
            Next::Done
        };
        (out, next)
    }

    /// The catch-up could not read the log (a permanent failure, or it stopped before
    /// reaching the socket): what it should have covered is a gap.
    pub(crate) fn catch_up_failed(&mut self, server_now: Option<i64>) -> Vec<Out> {
        self.first_page = false;
        let Some(from) = self.cursor else {
            return Vec::new();
        };
        let to = self
            .held
            .first()
            .map(|(t, _)| *t)
            .or(server_now)
            .unwrap_or(from);
        vec![Out::Gap {
            from,
            to: to.max(from),
        }]
    }

    /// The catch-up is complete: deliver what the socket sent meanwhile.
    pub(crate) fn end_catch_up(&mut self) -> Vec<Out> {
        self.holding = false;
        std::mem::take(&mut self.held)
            .into_iter()
            .filter_map(|(timestamp, event)| self.offer(timestamp, event))
            .collect()
    }

    /// Frames held now.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.held.len()
    }

    /// The gap the witness shows: the events delivered at `cursor` are missing from an
    /// answer read from `cursor`.
    fn witness_gap(&self, events: &[(i64, Value)], server_now: Option<i64>) -> Option<Out> {
        let from = self.cursor?;
        let witnesses = self.seen.get(&from).filter(|w| !w.is_empty())?;
        let returned: HashSet<Key> = events
            .iter()
            .filter(|(timestamp, _)| *timestamp == from)
            .map(|(_, event)| key(event))
            .collect();
        if witnesses.iter().all(|w| returned.contains(w)) {
            return None;
        }
        let to = events
            .iter()
            .map(|(t, _)| *t)
            .find(|t| *t > from)
            .or(server_now)
            .unwrap_or(from);
        Some(Out::Gap {
            from,
            to: to.max(from),
        })
    }

    /// Delivers `event` unless it was delivered already.
    fn offer(&mut self, timestamp: i64, event: Value) -> Option<Out> {
        let key = key(&event);
        if self
            .seen
            .get(&timestamp)
            .is_some_and(|keys| keys.contains(&key))
        {
            self.duplicates += 1;
            return None;
        }
        self.seen.entry(timestamp).or_default().insert(key);
        if self.horizon.is_none_or(|h| timestamp <= h) {
            let cursor = self.cursor.map_or(timestamp, |c| c.max(timestamp));
            self.cursor = Some(cursor);
            let oldest_kept = cursor.saturating_sub(Self::WINDOW_MS);
            while self
                .seen
                .first_key_value()
                .is_some_and(|(t, _)| *t < oldest_kept)
            {
                self.seen.pop_first();
            }
        }
        self.forget_far_ahead();
        Some(Out::Event(event))
    }

    /// Bounds the keys of events stamped beyond the horizon (they never fall out of the
    /// window): past [`Self::MAX_AHEAD`], the furthest ahead are forgotten.
    fn forget_far_ahead(&mut self) {
        let Some(horizon) = self.horizon else { return };
        let ahead = |seen: &BTreeMap<i64, HashSet<Key>>| {
            seen.range(horizon.saturating_add(1)..)
                .map(|(_, k)| k.len())
                .sum::<usize>()
        };
        while ahead(&self.seen) > Self::MAX_AHEAD {
            self.seen.pop_last();
        }
    }
}

/// An event's identity: its content with object keys sorted, so that the same event
/// read from the socket and from the log has the same key whatever order the server
/// wrote its fields in. Exact (the bytes themselves, not a hash of them).
pub(crate) type Key = Vec<u8>;

/// The key of `event`.
pub(crate) fn key(event: &Value) -> Key {
    let mut out = Vec::with_capacity(512);
    canonical(event, &mut out);
    out
}

fn canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            if !entries.is_sorted_by(|a, b| a.0 <= b.0) {
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            }
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                scalar(k, out);
                out.push(b':');
                canonical(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical(item, out);
            }
            out.push(b']');
        }
        other => scalar(other, out),
    }
}

/// Writes a string, number, boolean or null as JSON.
fn scalar<T: serde::Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    // Writing JSON into memory fails only for a value that cannot be JSON, which a
    // scalar of a parsed `Value` never is.
    let _ = serde_json::to_writer(&mut *out, value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn update(ts: i64, text: &str) -> (i64, Value) {
        (
            ts,
            json!({"type": "updated-comment", "timestamp": ts, "comment": {"_id": "c", "comment": text}}),
        )
    }

    fn events(out: &[Out]) -> Vec<Value> {
        out.iter()
            .filter_map(|o| match o {
                Out::Event(e) => Some(e.clone()),
                Out::Gap { .. } => None,
            })
            .collect()
    }

    #[test]
    fn two_updates_of_one_comment_in_one_millisecond_are_two_events() {
        let mut m = Merger::new(Some(0), 10);
        let (a, b) = (update(7, "first"), update(7, "second"));
        assert_eq!(m.socket(a.0, a.1.clone()).len(), 1);
        assert_eq!(m.socket(b.0, b.1.clone()).len(), 1);
        // The reconnect's inclusive catch-up returns both again: neither comes twice.
        m.begin_catch_up();
        let (out, next) = m.catch_up(vec![a, b], None);
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(next, Next::Done);
        assert_eq!(m.duplicates, 2);
    }

    #[test]
    fn the_socket_and_the_log_overlap_without_duplicates_in_order() {
        let mut m = Merger::new(Some(0), 10);
        m.begin_catch_up();
        // The socket sends 2 and 3 while the log answers 1 and 2.
        assert!(m.socket(2, update(2, "b").1).is_empty());
        assert!(m.socket(3, update(3, "c").1).is_empty());
        let (out, next) = m.catch_up(vec![update(1, "a"), update(2, "b")], None);
        assert_eq!(next, Next::Done, "the log reached the first held frame");
        let mut all = events(&out);
        all.extend(events(&m.end_catch_up()));
        let texts: Vec<_> = all
            .iter()
            .map(|e| e["comment"]["comment"].clone())
            .collect();
        assert_eq!(texts, vec![json!("a"), json!("b"), json!("c")]);
    }

    #[test]
    fn a_missing_witness_is_a_gap() {
        let mut m = Merger::new(Some(0), 10);
        let delivered = update(5, "seen");
        m.socket(delivered.0, delivered.1);
        m.begin_catch_up();
        let (out, _) = m.catch_up(vec![update(9, "after")], Some(20));
        assert_eq!(out[0], Out::Gap { from: 5, to: 9 });
        assert_eq!(events(&out).len(), 1);
    }

    #[test]
    fn a_full_hold_buffer_is_read_from_the_log_instead() {
        let mut m = Merger::new(Some(0), 2);
        m.begin_catch_up();
        for ts in 1..=3 {
            m.socket(ts, update(ts, &ts.to_string()).1);
        }
        assert_eq!((m.held(), m.overflows), (1, 1));
        // The first answer stops short of the held frame (3): read on.
        let (_, next) = m.catch_up(vec![update(1, "1")], None);
        assert_eq!(next, Next::More);
        let (out, next) = m.catch_up(vec![update(1, "1"), update(2, "2"), update(3, "3")], None);
        assert_eq!((events(&out).len(), next), (2, Next::Done));
        assert!(m.end_catch_up().is_empty());
    }

    #[test]
    fn an_event_stamped_far_ahead_of_the_server_does_not_move_the_catch_up() {
        let mut m = Merger::new(Some(100), 10);
        m.set_horizon(1_000);
        let bogus = update(1_000 + Merger::SKEW_MS + 1, "from the future");
        assert_eq!(events(&m.socket(bogus.0, bogus.1.clone())).len(), 1);
        assert_eq!(
            m.start(),
            Some(100),
            "the next catch-up still reads from 100"
        );
        assert!(
            m.socket(bogus.0, bogus.1).is_empty(),
            "and it is delivered once"
        );
        let genuine = update(1_500, "now");
        m.socket(genuine.0, genuine.1);
        assert_eq!(m.start(), Some(1_500));
    }

    #[test]
    fn keys_do_not_depend_on_field_order() {
        let a: Value =
            serde_json::from_str(r#"{"type":"x","timestamp":1,"c":{"a":1,"b":2}}"#).unwrap();
        let b: Value =
            serde_json::from_str(r#"{"c":{"b":2,"a":1},"timestamp":1,"type":"x"}"#).unwrap();
        assert_eq!(key(&a), key(&b));
    }
}
