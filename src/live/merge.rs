//! The merge of the event log's catch-up and the socket, as a pure state machine: what
//! is delivered, in which order, and what is dropped as already delivered. No I/O here;
//! `session.rs` feeds it.
//!
//! **Why each stored event is delivered exactly once, in timestamp order.** Every event
//! the log stores carries the server's `timestamp`, and timestamps do not go back. Let
//! `cursor` be the largest timestamp delivered. On every (re)connect the socket is opened
//! first and what it sends is held; then the log is read from `cursor` (inclusive),
//! page after page, until an answer is empty or reaches the first held frame. An event
//! stored before the log answered is in an answer; one stored after reaches the open
//! socket. So every event after `cursor` arrives at least once; it can arrive more than
//! once only from different sources (the socket and a log answer, or two answers: the
//! inclusive `startTime` returns the boundary again). Within one source an event comes
//! once. So each event is identified by its content (type, timestamp, `broadcastId`, the
//! comment or vote with what changed, canonicalised: a frame has no id of its own) *and*
//! its occurrence within its source: the n-th event of one content at one timestamp in
//! an answer (or on one connection) is new only when fewer than n of that content were
//! delivered. Two writes with the same content in the same millisecond (flag, unflag,
//! flag, with no `broadcastId`) are therefore two events, and no copy of either is one
//! more. The answer is applied in its order, then the held frames in arrival order: both
//! are in timestamp order, and the held ones come after the answer's (stored later).
//! Content is kept as a 128-bit hash of the canonical bytes (SipHash-1-3, twice, keyed
//! apart): two different events collide with probability about 2⁻¹²⁸ per pair.
//!
//! **Gaps.** The events delivered at `cursor` are a witness: the log, asked from
//! `cursor`, must return them. When it does not, it has expired them (or answered less
//! than asked), and whatever it forgot after them is unknown: a [`Out::Gap`] says so.
//!
//! **Bounds.** Counts are kept for events within [`Merger::WINDOW_MS`] of `cursor`, at
//! most [`Merger::MAX_KEYS`] (the oldest forgotten first, never those at `cursor`). At
//! most `hold_limit` frames are held during a catch-up; when one more comes they are
//! dropped and the catch-up reads on until it reaches a frame held after that. A socket
//! frame more than the window older than `cursor` (a server that held it that long) is
//! delivered when its content is unknown: out of order, or twice, rather than lost.

use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hasher};

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
    /// Read again from [`Merger::read_from`].
    More,
    /// The catch-up is complete.
    Done,
}

/// How many of each content were seen at each timestamp.
type Counts = BTreeMap<i64, HashMap<Key, u32>>;

/// The merge state of one stream, kept across reconnects.
#[derive(Debug)]
pub(crate) struct Merger {
    cursor: Option<i64>,
    /// Delivered, per timestamp and content.
    delivered: Counts,
    /// How many contents `delivered` counts.
    keys: usize,
    /// The length of the last answer, and whether it brought news.
    last_answer: Option<(usize, bool)>,
    /// The longest answer the log gave, across catch-ups: its page is at least that
    /// long, so a shorter answer was not cut.
    longest_answer: usize,
    /// Seen on the current connection, per timestamp and content.
    on_socket: Counts,
    held: Vec<(i64, Value)>,
    holding: bool,
    first_page: bool,
    overflowed: bool,
    read_from: i64,
    hold_limit: usize,
    horizon: Option<i64>,
    reported: std::collections::VecDeque<u64>,
    /// Frames and log entries dropped as already delivered.
    pub(crate) duplicates: u64,
    /// Times the hold buffer overflowed.
    pub(crate) overflows: u64,
}

impl Merger {
    /// How far behind `cursor` counts are kept (1 minute of server time).
    pub(crate) const WINDOW_MS: i64 = 60_000;
    /// How far ahead of the server's clock a timestamp may be and still move `cursor`.
    pub(crate) const SKEW_MS: i64 = 10 * 60_000;
    /// The most contents counted (about 100 bytes each).
    pub(crate) const MAX_KEYS: usize = 100_000;

    /// A merge starting at `cursor` (epoch milliseconds), when known.
    pub(crate) fn new(cursor: Option<i64>, hold_limit: usize) -> Merger {
        Merger {
            cursor,
            delivered: Counts::new(),
            keys: 0,
            last_answer: None,
            longest_answer: 0,
            on_socket: Counts::new(),
            held: Vec::new(),
            holding: false,
            first_page: false,
            overflowed: false,
            read_from: cursor.unwrap_or_default(),
            hold_limit: hold_limit.max(1),
            horizon: None,
            reported: std::collections::VecDeque::new(),
            duplicates: 0,
            overflows: 0,
        }
    }

    /// Where the next read of the log starts (inclusive).
    pub(crate) fn read_from(&self) -> i64 {
        self.read_from
    }

    /// The largest timestamp delivered, or the start.
    #[cfg(test)]
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

    /// A socket (re)connected: a new source; hold stored events until the catch-up is
    /// done, which reads from `cursor`.
    pub(crate) fn begin_catch_up(&mut self) {
        self.on_socket.clear();
        self.holding = true;
        self.first_page = true;
        self.overflowed = false;
        self.last_answer = None;
        self.read_from = self.cursor.unwrap_or_default();
    }

    /// A stored event (one with a `timestamp`) from the socket.
    pub(crate) fn socket(&mut self, timestamp: i64, event: Value) -> Vec<Out> {
        if !self.holding {
            return self
                .offer_from_socket(timestamp, event)
                .into_iter()
                .collect();
        }
        if self.held.len() >= self.hold_limit {
            self.held.clear();
            self.overflows += 1;
            self.overflowed = true;
        }
        self.held.push((timestamp, event));
        Vec::new()
    }

    /// One answer of the log, read from [`read_from`](Self::read_from); `server_now` is
    /// the server's clock when it answered, if known.
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
        let first = events.first().map(|(timestamp, _)| *timestamp);
        let count = events.len();
        let mut in_answer = Counts::new();
        for (timestamp, event) in events {
            out.extend(self.offer(timestamp, event, Source::Answer(&mut in_answer)));
        }
        let brought_new = out[before..].iter().any(|o| matches!(o, Out::Event(_)));
        let previous = self.last_answer.replace((count, brought_new));
        // Whether this answer can have been cut at the log's page: as long as the longest
        // yet, and of more than one event. (A log paging at one event could not be read
        // past any millisecond; taken as one that does not page, so that a lone event read
        // twice is not a gap.)
        let maybe_cut = count >= 2 && count >= self.longest_answer;
        self.longest_answer = self.longest_answer.max(count);
        let first_held = self.held.first().map(|(t, _)| *t);
        let next = match (last, first_held) {
            (Some(last), Some(first_held)) if last >= first_held => Next::Done,
            (None, first_held) => {
                if let (true, Some(to)) = (self.overflowed, first_held) {
                    // The log has nothing where the dropped frames were.
                    out.push(Out::Gap {
                        from: self.read_from,
                        to: to.max(self.read_from),
                    });
                }
                Next::Done
            }
            (Some(last), _) => {
                // Read on: from the last timestamp again while answers bring news (the
                // log may cut an answer inside a millisecond), past it otherwise. An
                // answer that repeats the last one, all in one millisecond, means that
                // millisecond holds a whole page: the log cannot be read past it.
                let stuck = !brought_new
                    && maybe_cut
                    && first == Some(self.read_from)
                    && last == self.read_from
                    && previous == Some((count, true));
                if stuck {
                    out.push(Out::Gap {
                        from: self.read_from,
                        to: self.read_from.saturating_add(1),
                    });
                }
                self.read_from = if brought_new {
                    last
                } else {
                    last.saturating_add(1)
                };
                Next::More
            }
        };
        (out, next)
    }

    /// The catch-up could not read the log (a permanent failure, or it stopped before
    /// reaching the socket): what it should have covered is a gap.
    pub(crate) fn catch_up_failed(&mut self, server_now: Option<i64>) -> Vec<Out> {
        self.first_page = false;
        let Some(cursor) = self.cursor else {
            return Vec::new();
        };
        let from = self.read_from.max(cursor);
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
            .filter_map(|(timestamp, event)| self.offer_from_socket(timestamp, event))
            .collect()
    }

    /// The connection ended during a catch-up: its held frames are dropped (the next
    /// catch-up reads them from the log).
    pub(crate) fn abandon_catch_up(&mut self) {
        self.holding = false;
        self.first_page = false;
        self.held.clear();
    }

    /// Whether a malformed log entry is reported for the first time (the log returns it
    /// again on every catch-up that covers it). Remembers the last 1,024.
    pub(crate) fn first_report(&mut self, raw: &str) -> bool {
        let mut hasher = DefaultHasher::new();
        hasher.write(raw.as_bytes());
        let hash = hasher.finish();
        if self.reported.contains(&hash) {
            return false;
        }
        if self.reported.len() == 1024 {
            self.reported.pop_front();
        }
        self.reported.push_back(hash);
        true
    }

    /// Whether a catch-up is running.
    pub(crate) fn catching_up(&self) -> bool {
        self.holding
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
        let witnesses = self.delivered.get(&from).filter(|w| !w.is_empty())?;
        let mut returned: HashMap<Key, u32> = HashMap::new();
        for (_, event) in events.iter().filter(|(t, _)| *t == from) {
            *returned.entry(key(event)).or_default() += 1;
        }
        let all_there = witnesses
            .iter()
            .all(|(k, n)| returned.get(k).is_some_and(|r| r >= n));
        if all_there {
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

    fn offer_from_socket(&mut self, timestamp: i64, event: Value) -> Option<Out> {
        let mut on_socket = std::mem::take(&mut self.on_socket);
        let out = self.offer(timestamp, event, Source::Socket(&mut on_socket));
        self.on_socket = on_socket;
        out
    }

    /// Delivers `event` unless this occurrence of it was delivered already.
    fn offer(&mut self, timestamp: i64, event: Value, source: Source<'_>) -> Option<Out> {
        let key = key(&event);
        let seen = match source {
            Source::Answer(counts) | Source::Socket(counts) => {
                let n = counts.entry(timestamp).or_default().entry(key).or_default();
                *n += 1;
                *n
            }
        };
        let at = self.delivered.entry(timestamp).or_default();
        let delivered = at.get(&key).copied().unwrap_or_default();
        if seen <= delivered {
            self.duplicates += 1;
            return None;
        }
        if delivered == 0 {
            self.keys += 1;
        }
        at.insert(key, delivered + 1);
        if self.horizon.is_none_or(|h| timestamp <= h) {
            let cursor = self.cursor.map_or(timestamp, |c| c.max(timestamp));
            self.cursor = Some(cursor);
        }
        self.forget();
        Some(Out::Event(event))
    }

    /// Forgets counts older than the window, then the oldest while there are too many
    /// (never those at `cursor`, the witness).
    fn forget(&mut self) {
        let Some(cursor) = self.cursor else { return };
        let oldest_kept = cursor.saturating_sub(Self::WINDOW_MS);
        while let Some(entry) = self.delivered.first_entry() {
            if *entry.key() >= oldest_kept {
                break;
            }
            self.keys -= entry.remove().len();
        }
        while let Some(entry) = self.on_socket.first_entry() {
            if *entry.key() >= oldest_kept {
                break;
            }
            entry.remove();
        }
        while self.keys > Self::MAX_KEYS {
            let entry = match self.delivered.first_entry() {
                Some(entry) if *entry.key() != cursor => entry,
                _ => match self.delivered.last_entry() {
                    Some(entry) if *entry.key() != cursor => entry,
                    _ => break,
                },
            };
            self.keys -= entry.remove().len();
        }
    }
}

/// Where an event came from: its occurrence counts within that source.
enum Source<'a> {
    Answer(&'a mut Counts),
    Socket(&'a mut Counts),
}

/// An event's identity: a 128-bit hash of its content with object keys sorted, so that
/// the same event read from the socket and from the log has the same key whatever order
/// the server wrote its fields in.
pub(crate) type Key = u128;

/// The key of `event`.
pub(crate) fn key(event: &Value) -> Key {
    let mut bytes = Vec::with_capacity(512);
    canonical(event, &mut bytes);
    let half = |tag: u8| {
        let mut hasher = DefaultHasher::new();
        hasher.write_u8(tag);
        hasher.write(&bytes);
        hasher.finish()
    };
    (u128::from(half(1)) << 64) | u128::from(half(2))
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

    /// Runs a whole catch-up against `log` (every stored event), as the session does.
    fn catch_up_all(m: &mut Merger, log: &[(i64, Value)], page: usize) -> Vec<Out> {
        let mut out = Vec::new();
        for _ in 0..100 {
            let from = m.read_from();
            let answer: Vec<_> = log
                .iter()
                .filter(|(t, _)| *t >= from)
                .take(page)
                .cloned()
                .collect();
            let (o, next) = m.catch_up(answer, None);
            out.extend(o);
            if next == Next::Done {
                out.extend(m.end_catch_up());
                return out;
            }
        }
        panic!("the catch-up did not end")
    }

    #[test]
    fn two_updates_of_one_comment_in_one_millisecond_are_two_events() {
        let mut m = Merger::new(Some(0), 10);
        m.begin_catch_up();
        m.end_catch_up();
        let (a, b) = (update(7, "first"), update(7, "second"));
        assert_eq!(m.socket(a.0, a.1.clone()).len(), 1);
        assert_eq!(m.socket(b.0, b.1.clone()).len(), 1);
        // The reconnect's inclusive catch-up returns both again: neither comes twice.
        m.begin_catch_up();
        let out = catch_up_all(&mut m, &[a, b], 100);
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(m.duplicates, 2);
    }

    #[test]
    fn the_same_content_twice_in_one_millisecond_is_two_events_and_never_a_third() {
        // Flag, unflag, flag with no broadcastId: the first and the last are alike.
        let flag = |n: i64| {
            (
                5,
                json!({"type": "updated-comment", "timestamp": 5, "comment": {"_id": "c", "flagCount": n}}),
            )
        };
        let log = [flag(1), flag(0), flag(1)];
        let mut m = Merger::new(Some(0), 10);
        m.begin_catch_up();
        m.socket(5, flag(1).1); // the socket saw the first one during the catch-up
        let out = catch_up_all(&mut m, &log, 100);
        let counts: Vec<_> = events(&out)
            .iter()
            .map(|e| e["comment"]["flagCount"].clone())
            .collect();
        assert_eq!(counts, [json!(1), json!(0), json!(1)]);
        // A reconnect reads them all again, and the socket repeats the last: nothing new.
        m.begin_catch_up();
        m.socket(5, flag(1).1);
        assert!(events(&catch_up_all(&mut m, &log, 100)).is_empty());
    }

    #[test]
    fn a_log_that_answers_a_page_at_a_time_is_read_to_the_end() {
        let log: Vec<_> = [10, 20, 30, 30, 40]
            .iter()
            .enumerate()
            .map(|(i, t)| update(*t, &i.to_string()))
            .collect();
        for page in [2, 3, 100] {
            let mut m = Merger::new(Some(0), 10);
            m.begin_catch_up();
            let out = catch_up_all(&mut m, &log, page);
            let texts: Vec<_> = events(&out)
                .iter()
                .map(|e| e["comment"]["comment"].clone())
                .collect();
            let gaps: Vec<_> = out
                .iter()
                .filter(|o| matches!(o, Out::Gap { .. }))
                .collect();
            if page >= 3 {
                assert_eq!(
                    texts,
                    ["0", "1", "2", "3", "4"].map(|t| json!(t)),
                    "page of {page}"
                );
                assert!(gaps.is_empty(), "page of {page}: {gaps:?}");
            } else {
                // A millisecond holding a whole page cannot be read past: a gap there.
                assert!(
                    gaps.contains(&&Out::Gap { from: 30, to: 31 }),
                    "page of {page}: {out:?}"
                );
                assert!(
                    texts.contains(&json!("4")),
                    "read on after it, page of {page}"
                );
            }
        }
    }

    #[test]
    fn a_lone_event_read_twice_is_no_gap() {
        // `tail --since`: one event since the cursor; the log is read from it again to
        // see that no more share its millisecond, and answers it alone again.
        for log in [vec![update(10, "a")], vec![update(5, "x"), update(10, "a")]] {
            let mut m = Merger::new(Some(0), 10);
            m.begin_catch_up();
            let out = catch_up_all(&mut m, &log, 100);
            assert!(!out.iter().any(|o| matches!(o, Out::Gap { .. })), "{out:?}");
            assert_eq!(events(&out).len(), log.len());
        }
        // Once the log has answered more than one event at a time, an answer of that
        // length all in one millisecond, repeated, is still a page it cannot read past.
        let log: Vec<_> = [10, 20, 20, 20]
            .iter()
            .map(|t| update(*t, &t.to_string()))
            .collect();
        let mut m = Merger::new(Some(0), 10);
        m.begin_catch_up();
        let out = catch_up_all(&mut m, &log, 2);
        assert!(out.contains(&Out::Gap { from: 20, to: 21 }), "{out:?}");
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
        // A stale answer (read before 1..3 were stored) arrives after their frames.
        for ts in 1..=3 {
            m.socket(ts, update(ts, &ts.to_string()).1);
        }
        assert_eq!((m.held(), m.overflows), (1, 1));
        let (out, next) = m.catch_up(Vec::new(), None);
        assert!(events(&out).is_empty());
        assert_eq!(next, Next::Done);
        assert!(matches!(out[..], [Out::Gap { from: 0, to: 3 }]), "{out:?}");
        let mut m = Merger::new(Some(0), 2);
        m.begin_catch_up();
        for ts in 1..=3 {
            m.socket(ts, update(ts, &ts.to_string()).1);
        }
        let log: Vec<_> = (1..=3).map(|ts| update(ts, &ts.to_string())).collect();
        assert_eq!(events(&catch_up_all(&mut m, &log, 1)).len(), 3);
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
        m.begin_catch_up();
        let (out, _) = m.catch_up(vec![bogus], None);
        assert!(
            events(&out).is_empty(),
            "and the log does not deliver it again"
        );
        m.end_catch_up();
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
        let c: Value =
            serde_json::from_str(r#"{"type":"x","timestamp":1,"c":{"a":1,"b":3}}"#).unwrap();
        assert_ne!(key(&a), key(&c));
    }
}
