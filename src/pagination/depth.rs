//! How far ahead a stream fetches, learned from what the service answers: additive
//! increase while pages come back at a steady latency and unthrottled, multiplicative
//! decrease on a 429, a `Retry-After` or a latency rise (the AIMD rule TCP uses for its
//! congestion window, here in whole requests).
//!
//! [`AdaptiveDepth`] is a pure function of what it observed: no clock, no I/O. The
//! stream measures each page and feeds it in ([`Pages::adaptive_depth`](super::Pages::adaptive_depth)).

use std::time::Duration;

/// A page whose latency is over this many times the fastest page seen (plus
/// [`LATENCY_SLACK`]) counts as a latency rise: the service, or the path to it, is
/// queueing the requests.
pub const LATENCY_RISE: u32 = 2;

/// Added to the latency threshold so that the jitter of a fast service (a page in 1 ms,
/// then one in 3 ms) is not read as a rise.
pub const LATENCY_SLACK: Duration = Duration::from_millis(10);

/// What one page told the controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Observation {
    /// From the request's start to its answer, retries and their waits included.
    pub latency: Duration,
    /// Whether the service throttled the call: an answer 429, or one with `Retry-After`,
    /// on any of its attempts.
    pub throttled: bool,
}

impl Observation {
    /// A page that took `latency`, unthrottled.
    pub fn page(latency: Duration) -> Observation {
        Observation {
            latency,
            throttled: false,
        }
    }

    /// A page that took `latency` and was throttled on the way.
    pub fn throttled(latency: Duration) -> Observation {
        Observation {
            latency,
            throttled: true,
        }
    }
}

/// The fetch-ahead depth of a stream, learned page by page.
///
/// - It starts at 1 (the fixed default), or at the ceiling when that is lower.
/// - A steady page (unthrottled, latency within [`LATENCY_RISE`] × the fastest page seen
///   \+ [`LATENCY_SLACK`]) adds 1, up to the ceiling, until the service has pushed back
///   once; from then on it adds 1 per `depth + 1` steady pages (one step per round of
///   requests), probing slowly for room the service may have found since (TCP's
///   congestion avoidance).
/// - A throttled page, or a latency rise, halves it (rounding down, so 1 becomes 0:
///   strictly sequential). The requests already in flight were sent at the old depth and
///   answer for it: until as many pages as were in flight have been observed, further
///   bad pages do not halve it again, and good ones do not grow it.
///
/// ```
/// use std::time::Duration;
/// use fastcomments::pagination::{AdaptiveDepth, Observation};
///
/// let ms = Duration::from_millis;
/// let mut depth = AdaptiveDepth::new(8);
/// for _ in 0..3 {
///     depth.observe(Observation::page(ms(20)));
/// }
/// assert_eq!(depth.depth(), 4);
/// assert_eq!(depth.observe(Observation::throttled(ms(1020))), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdaptiveDepth {
    ceiling: usize,
    depth: usize,
    /// The fastest page seen: the service's own time, without queueing.
    fastest: Option<Duration>,
    /// Pages still to observe before the depth may change again.
    settling: usize,
    /// Whether the service pushed back once: growth is one step per round since.
    pushed_back: bool,
    /// Steady pages since the last step, in the slow growth.
    credit: usize,
}

impl AdaptiveDepth {
    /// A controller that never goes beyond `ceiling` requests ahead.
    pub fn new(ceiling: usize) -> AdaptiveDepth {
        AdaptiveDepth {
            ceiling,
            depth: ceiling.min(1),
            fastest: None,
            settling: 0,
            pushed_back: false,
            credit: 0,
        }
    }

    /// The depth now: requests beyond the page being waited for or consumed.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// The ceiling it was made with.
    pub fn ceiling(&self) -> usize {
        self.ceiling
    }

    /// Takes in one page; returns the depth to use from now on.
    pub fn observe(&mut self, page: Observation) -> usize {
        let fastest = self.fastest.map_or(page.latency, |f| f.min(page.latency));
        self.fastest = Some(fastest);
        let threshold = fastest
            .saturating_mul(LATENCY_RISE)
            .saturating_add(LATENCY_SLACK);
        let congested = page.throttled || page.latency > threshold;
        if self.settling > 0 {
            self.settling -= 1;
        } else if congested {
            // The other pages in flight (as many as the depth) were sent at the old
            // depth: their answers say nothing about the new one.
            self.settling = self.depth;
            self.depth /= 2;
            self.pushed_back = true;
            self.credit = 0;
        } else if self.depth < self.ceiling {
            self.credit += 1;
            if !self.pushed_back || self.credit > self.depth {
                self.depth += 1;
                self.credit = 0;
            }
        }
        self.depth
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn steady(depth: &mut AdaptiveDepth, pages: usize) -> usize {
        for _ in 0..pages {
            depth.observe(Observation::page(ms(20)));
        }
        depth.depth()
    }

    #[test]
    fn it_starts_at_one_and_grows_by_one_per_steady_page_up_to_the_ceiling() {
        let mut depth = AdaptiveDepth::new(5);
        assert_eq!(depth.depth(), 1);
        assert_eq!(depth.observe(Observation::page(ms(20))), 2);
        assert_eq!(depth.observe(Observation::page(ms(25))), 3);
        assert_eq!(steady(&mut depth, 10), 5, "never past the ceiling");
    }

    #[test]
    fn a_ceiling_of_zero_is_strictly_sequential() {
        let mut depth = AdaptiveDepth::new(0);
        assert_eq!(depth.depth(), 0);
        assert_eq!(steady(&mut depth, 5), 0);
    }

    #[test]
    fn a_throttled_page_halves_it_once_for_the_pages_already_in_flight() {
        let mut depth = AdaptiveDepth::new(16);
        assert_eq!(steady(&mut depth, 7), 8);
        assert_eq!(depth.observe(Observation::throttled(ms(1020))), 4);
        // The other 8 requests in flight were sent at depth 8: their 429s are the same
        // event, and their good answers are no sign that 4 is too little.
        for _ in 0..4 {
            assert_eq!(depth.observe(Observation::throttled(ms(1020))), 4);
            assert_eq!(depth.observe(Observation::page(ms(20))), 4);
        }
        // Then one step per round of requests (depth + 1 steady pages).
        for _ in 0..4 {
            assert_eq!(depth.observe(Observation::page(ms(20))), 4);
        }
        assert_eq!(depth.observe(Observation::page(ms(20))), 5, "grows again");
        assert_eq!(steady(&mut depth, 5), 5);
        assert_eq!(steady(&mut depth, 1), 6);
    }

    #[test]
    fn throttling_brings_it_down_to_sequential_and_it_recovers() {
        let mut depth = AdaptiveDepth::new(4);
        let mut seen = vec![depth.depth()];
        for _ in 0..3 {
            depth.observe(Observation::throttled(ms(1000)));
            seen.push(depth.depth());
            // Let the pages in flight settle.
            while depth.settling > 0 {
                depth.observe(Observation::throttled(ms(1000)));
            }
        }
        assert_eq!(seen, [1, 0, 0, 0]);
        assert_eq!(steady(&mut depth, 1), 1, "a round at depth 0 is one page");
        assert_eq!(steady(&mut depth, 1), 1);
        assert_eq!(steady(&mut depth, 1), 2);
    }

    #[test]
    fn a_latency_rise_halves_it_and_steady_latency_does_not() {
        let mut depth = AdaptiveDepth::new(16);
        assert_eq!(steady(&mut depth, 5), 6);
        // 2 × 20 ms + 10 ms: still steady.
        assert_eq!(depth.observe(Observation::page(ms(50))), 7);
        assert_eq!(depth.observe(Observation::page(ms(51))), 3, "a rise");
    }

    #[test]
    fn the_threshold_follows_the_fastest_page_seen() {
        let mut depth = AdaptiveDepth::new(16);
        depth.observe(Observation::page(ms(100)));
        assert_eq!(depth.observe(Observation::page(ms(200))), 3, "2 × 100 + 10");
        depth.observe(Observation::page(ms(5)));
        assert_eq!(
            depth.observe(Observation::page(ms(30))),
            2,
            "the fastest is 5 ms now: 30 ms is a rise"
        );
    }

    #[test]
    fn an_absurd_latency_cannot_overflow() {
        let mut depth = AdaptiveDepth::new(3);
        depth.observe(Observation::page(Duration::MAX));
        assert_eq!(depth.observe(Observation::page(Duration::MAX)), 3);
    }
}
