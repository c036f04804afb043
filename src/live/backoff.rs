//! How long a live stream waits before it reconnects: a live view's own backoff, not the
//! API's one-minute retry schedule (`DEVELOPERS.md`: loops that must react faster have
//! their own short backoff).
//!
//! FastComments' SDKs wait a random 0–4 s after every close (`LIVE.md`), and none waits
//! longer while the host stays down. Here the first wait is the same, and each further
//! failure doubles the ceiling of the random wait, up to a cap; a connection that stayed
//! up for the healthy period resets it.

use std::time::Duration;

/// The reconnect schedule of a [`LiveEvents`](super::LiveEvents) stream.
///
/// ```
/// use std::time::Duration;
/// use fastcomments::live::ReconnectBackoff;
/// let backoff = ReconnectBackoff::default();
/// assert_eq!(backoff.ceiling(0), Duration::from_secs(4));   // like the other SDKs
/// assert_eq!(backoff.ceiling(2), Duration::from_secs(16));  // the host stays down
/// assert_eq!(backoff.ceiling(30), Duration::from_secs(60)); // capped
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectBackoff {
    /// The ceiling of the first random wait: 4 s.
    pub first: Duration,
    /// The largest ceiling: 60 s.
    pub cap: Duration,
    /// How long a connection must stay up for the next failure to count as the first
    /// again: 60 s.
    pub healthy_after: Duration,
}

impl Default for ReconnectBackoff {
    fn default() -> Self {
        ReconnectBackoff {
            first: Duration::from_secs(4),
            cap: Duration::from_secs(60),
            healthy_after: Duration::from_secs(60),
        }
    }
}

impl ReconnectBackoff {
    /// The ceiling of the random wait after `failures` failures in a row (0 for the
    /// first): `first × 2^failures`, at most `cap`.
    pub fn ceiling(&self, failures: u32) -> Duration {
        let factor = 1u32.checked_shl(failures.min(31)).unwrap_or(u32::MAX);
        self.first
            .saturating_mul(factor)
            .min(self.cap.max(self.first))
    }

    /// The wait after `failures` failures in a row, for a random `unit` in `[0, 1)`: a
    /// uniform share of [`ceiling`](Self::ceiling).
    pub fn wait(&self, failures: u32, unit: f64) -> Duration {
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.ceiling(failures).mul_f64(unit)
    }

    /// The failure count after a connection ended: reset to 0 when it had been up for
    /// the healthy period, one more otherwise (`up` is `None` when it never opened).
    pub fn after(&self, failures: u32, up: Option<Duration>) -> u32 {
        match up {
            Some(up) if up >= self.healthy_after => 0,
            _ => failures.saturating_add(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_while_the_host_stays_down_then_caps() {
        let b = ReconnectBackoff::default();
        let secs: Vec<u64> = (0..7).map(|n| b.ceiling(n).as_secs()).collect();
        assert_eq!(secs, [4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn a_healthy_connection_resets_the_count_and_a_short_one_does_not() {
        let b = ReconnectBackoff::default();
        assert_eq!(b.after(3, Some(Duration::from_secs(61))), 0);
        assert_eq!(b.after(3, Some(Duration::from_secs(5))), 4);
        assert_eq!(b.after(3, None), 4);
        assert_eq!(b.after(u32::MAX, None), u32::MAX);
    }

    #[test]
    fn the_wait_is_a_share_of_the_ceiling() {
        let b = ReconnectBackoff::default();
        assert_eq!(b.wait(0, 0.0), Duration::ZERO);
        assert_eq!(b.wait(0, 0.5), Duration::from_secs(2));
        assert_eq!(
            b.wait(1, 7.0),
            Duration::from_secs(8),
            "clamped to the ceiling"
        );
        assert_eq!(b.wait(0, f64::NAN), Duration::ZERO);
    }
}
