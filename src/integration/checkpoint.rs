//! Where the site is in the event log.
//!
//! The checkpoint is the server's `createdAt` (epoch ms, never local time) of the last
//! event applied, plus the `_id`s of the events applied at that very millisecond. The log
//! is read again from that millisecond (FastComments' `fromDateTime` is inclusive: the
//! events of that millisecond come back); those already applied are recognised by their
//! `_id` and skipped, those not yet applied (the rest of a millisecond split across
//! pages) are applied. The set only ever holds one millisecond's events, so it stays
//! small. One limit no client can lift: when more events share one millisecond than a
//! page holds, paging by time cannot reach past them
//! ([`Error::Stuck`](super::Error::Stuck)).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::event::LogEvent;

/// Where the site is in the event log; stored by the site with each event it applies.
///
/// ```
/// use fastcomments::integration::Checkpoint;
/// let start = Checkpoint::default();
/// assert_eq!(start.from_date_time(), 0);
/// let json = serde_json::to_string(&start).unwrap();
/// assert_eq!(serde_json::from_str::<Checkpoint>(&json).unwrap(), start);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// The `createdAt` of the last event applied, in epoch milliseconds (0: none yet).
    pub at_ms: i64,
    /// The `_id`s of the events applied at `at_ms`.
    pub ids_at_ms: BTreeSet<String>,
}

impl Checkpoint {
    /// The `fromDateTime` to ask the log from: the checkpoint's millisecond itself, so
    /// the events of it not applied yet come (again).
    pub fn from_date_time(&self) -> i64 {
        self.at_ms.max(0)
    }

    /// Whether `event` was applied already (or lies before the checkpoint: the log is in
    /// `createdAt` order, so it was).
    pub fn covers(&self, event: &LogEvent) -> bool {
        event.created_at < self.at_ms
            || (event.created_at == self.at_ms && self.ids_at_ms.contains(&event.id))
    }

    /// The checkpoint once `event` (not covered) is applied.
    pub fn after(&self, event: &LogEvent) -> Checkpoint {
        if event.created_at == self.at_ms {
            let mut ids = self.ids_at_ms.clone();
            ids.insert(event.id.clone());
            Checkpoint {
                at_ms: self.at_ms,
                ids_at_ms: ids,
            }
        } else {
            Checkpoint {
                at_ms: event.created_at,
                ids_at_ms: BTreeSet::from([event.id.clone()]),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integration::Event;

    fn at(id: &str, ms: i64) -> LogEvent {
        LogEvent {
            id: id.into(),
            created_at: ms,
            url_id: None,
            broadcast_id: None,
            event: Event::Unknown {
                kind: "x".into(),
                raw: serde_json::Value::Null,
            },
            extra: serde_json::Map::new(),
            data_extra: serde_json::Map::new(),
        }
    }

    #[test]
    fn events_of_the_same_millisecond_are_told_apart_by_id() {
        let c = Checkpoint::default()
            .after(&at("a", 10))
            .after(&at("b", 10));
        assert_eq!(c.at_ms, 10);
        assert!(c.covers(&at("a", 10)) && c.covers(&at("b", 10)));
        assert!(!c.covers(&at("c", 10)));
        assert!(c.covers(&at("z", 9)));
        assert_eq!(c.from_date_time(), 10);
    }

    #[test]
    fn a_later_millisecond_forgets_the_earlier_ids() {
        let c = Checkpoint::default()
            .after(&at("a", 10))
            .after(&at("b", 11));
        assert_eq!(c.ids_at_ms.len(), 1);
        assert!(c.covers(&at("a", 10)));
    }

    #[test]
    fn a_checkpoint_before_the_epoch_asks_from_zero() {
        assert_eq!(Checkpoint::default().from_date_time(), 0);
        let c = Checkpoint {
            at_ms: i64::MIN,
            ids_at_ms: BTreeSet::new(),
        };
        assert_eq!(c.from_date_time(), 0);
    }
}
