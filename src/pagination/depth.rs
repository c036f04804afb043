//! How far ahead a stream fetches, and how fast it starts requests, learned from what
//! the service answers: additive increase while pages come back at a steady latency and
//! unthrottled, multiplicative decrease on a 429, a `Retry-After` or a latency rise (the
//! AIMD rule TCP uses for its congestion window, here in whole requests), and once the
//! service has throttled, a pace between request starts learned the same way.
//!
//! [`AdaptiveDepth`] is a pure function of what it observed: no clock, no I/O. Times are
//! durations since an epoch the caller picks (the stream's start). The stream measures
//! each page and each answer and feeds them in
//! ([`Pages::adaptive_depth`](super::Pages::adaptive_depth)).

use std::time::Duration;

/// A page whose latency is over this many times the fastest page seen (plus
/// [`LATENCY_SLACK`]) counts as a latency rise: the service, or the path to it, is
/// queueing the requests.
pub const LATENCY_RISE: u32 = 2;

/// Added to the latency threshold so that the jitter of a fast service (a page in 1 ms,
/// then one in 3 ms) is not read as a rise.
pub const LATENCY_SLACK: Duration = Duration::from_millis(10);

/// On a throttle, the pace becomes this fraction of the rate the service admitted (or of
/// the pace before, when that was lower): the multiplicative decrease.
pub const PACE_BACKOFF: f64 = 0.95;

/// Each answer that comes back unthrottled raises the pace by this many requests per
/// second: at 50 answers a second, 1.5 requests a second more every second (the additive
/// increase, probing for room the service may have found since).
pub const PACE_PROBE: f64 = 0.03;

/// A throttle with fewer answers than this since the one before says nothing about the
/// rate the service admits (the first request refused): it closes the gate and halves the
/// depth, but leaves the pace as it was.
pub const PACE_MIN_ANSWERS: u64 = 1;

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

/// The fetch-ahead depth of a stream and the pace of its requests, learned page by page.
///
/// The depth (requests beyond the page being waited for or consumed):
/// - starts at 1 (the fixed default), or at the ceiling when that is lower;
/// - grows by 1 per round of steady pages (`depth + 1` pages unthrottled, with a latency
///   within [`LATENCY_RISE`] × the fastest page seen \+ [`LATENCY_SLACK`]), up to the
///   ceiling: one more request in flight per round trip, as TCP's congestion avoidance
///   does, so that it meets a rate limit with few requests in flight;
/// - halves (rounding down, so 1 becomes 0: strictly sequential) on a throttled page or a
///   latency rise. The requests already in flight were sent at the old depth and answer
///   for it: until as many pages as were in flight have been observed, further bad pages
///   do not halve it again, and good ones do not grow it.
///
/// The pace (what a depth cannot express: a service that admits fewer requests a second
/// than one round trip's worth):
/// - a 429 ([`throttled`](AdaptiveDepth::throttled), told as soon as it is answered, not
///   when its page is done) with `Retry-After` closes a gate: no request starts before
///   that wait has passed, so the requests waiting behind it do not draw 429s of their
///   own. Another status with `Retry-After` (a 503,
///   [`asked_to_wait`](AdaptiveDepth::asked_to_wait)) closes the gate too.
/// - A push-back answered after the gate reopened, and more than a round trip (the
///   fastest page) after the last episode began, starts a new episode: it halves the
///   depth as a throttled page does. A 429 that starts one also sets the pace to
///   [`PACE_BACKOFF`] × the rate the service admitted while requests were being sent: the
///   answers counted by [`answered`](AdaptiveDepth::answered) since the episode before,
///   over the time from when its gate reopened to this 429. Never above the pace before.
///   The first episode counts from the first request to the end of its own gate, as if
///   the burst that met the limit had been spread over that time. A 503 leaves the pace
///   alone: one busy moment is no rate;
/// - each unthrottled answer raises the pace by [`PACE_PROBE`] requests a second;
/// - before the first 429 there is no pace: requests start as the depth allows.
///
/// ```
/// use std::time::Duration;
/// use fastcomments::pagination::{AdaptiveDepth, Observation};
///
/// let ms = Duration::from_millis;
/// let mut depth = AdaptiveDepth::new(8);
/// for _ in 0..2 + 3 + 4 {
///     depth.observe(Observation::page(ms(20)));
/// }
/// assert_eq!(depth.depth(), 4);
///
/// // 60 answers in the first second, then a 429 asking for a second's wait.
/// depth.started(ms(0));
/// for _ in 0..60 {
///     depth.answered();
/// }
/// depth.throttled(ms(1000), Some(Duration::from_secs(1)));
/// assert_eq!(depth.depth(), 2);
/// assert_eq!(depth.next_start(), ms(2000), "the gate");
/// // 60 answers in 2 s, gate included, backed off.
/// assert!((depth.pace().unwrap() - 0.95 * 30.0).abs() < 1e-9);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct AdaptiveDepth {
    ceiling: usize,
    depth: usize,
    /// The fastest page seen: the service's own time, without queueing.
    fastest: Option<Duration>,
    /// Pages still to observe before the depth may change again.
    settling: usize,
    /// Steady pages since the last step.
    credit: usize,
    /// Requests a second, once the service has throttled.
    pace: Option<f64>,
    /// No request starts before this: the gate of the last 429.
    gate: Duration,
    first_start: Option<Duration>,
    last_start: Option<Duration>,
    /// Whether the service has throttled (429) yet.
    throttled_before: bool,
    /// When the last push-back episode began.
    episode_began: Option<Duration>,
    /// Answers since the last throttle episode began (or since the first start).
    answers: u64,
}

impl AdaptiveDepth {
    /// A controller that never goes beyond `ceiling` requests ahead.
    pub fn new(ceiling: usize) -> AdaptiveDepth {
        AdaptiveDepth {
            ceiling,
            depth: ceiling.min(1),
            fastest: None,
            settling: 0,
            credit: 0,
            pace: None,
            gate: Duration::ZERO,
            first_start: None,
            last_start: None,
            throttled_before: false,
            episode_began: None,
            answers: 0,
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

    /// The pace in requests a second, once the service has throttled; `None` before.
    pub fn pace(&self) -> Option<f64> {
        self.pace
    }

    /// Takes in one page; returns the depth to use from now on.
    pub fn observe(&mut self, page: Observation) -> usize {
        if !page.throttled {
            // A throttled page's latency holds its waits, not the service's time.
            let fastest = self.fastest.map_or(page.latency, |f| f.min(page.latency));
            self.fastest = Some(fastest);
        }
        let threshold = self.fastest.map_or(Duration::MAX, |fastest| {
            fastest
                .saturating_mul(LATENCY_RISE)
                .saturating_add(LATENCY_SLACK)
        });
        let congested = page.throttled || page.latency > threshold;
        if self.settling > 0 {
            self.settling -= 1;
        } else if congested {
            self.halve();
        } else if self.depth < self.ceiling {
            self.credit += 1;
            if self.credit > self.depth {
                self.depth += 1;
                self.credit = 0;
            }
        }
        self.depth
    }

    /// The multiplicative decrease of the depth. The other pages in flight (as many as
    /// the depth) were sent at the old depth: their answers say nothing about the new one.
    fn halve(&mut self) {
        self.settling = self.depth;
        self.depth /= 2;
        self.credit = 0;
    }

    /// A request started at `at`.
    pub fn started(&mut self, at: Duration) {
        self.first_start.get_or_insert(at);
        self.last_start = Some(at);
    }

    /// A request was answered without being throttled.
    pub fn answered(&mut self) {
        self.answers = self.answers.saturating_add(1);
        if let Some(pace) = &mut self.pace {
            *pace += PACE_PROBE;
        }
    }

    /// An attempt was answered 429 Too Many Requests at `at`, with this `Retry-After`: a
    /// rate limit. Closes the gate for `retry_after` (none without one: the request's own
    /// retry waits on the policy's schedule), and a new episode halves the depth and sets
    /// the pace.
    pub fn throttled(&mut self, at: Duration, retry_after: Option<Duration>) {
        if let Some(reopened) = self.episode(at, retry_after) {
            self.learn_pace(at, reopened);
        }
    }

    /// An attempt was answered with `Retry-After` but another status than 429 (a 503:
    /// the service is busy, not rationing): the gate and the depth as for a 429, not the
    /// pace, which one busy moment says nothing about.
    pub fn asked_to_wait(&mut self, at: Duration, retry_after: Duration) {
        self.episode(at, Some(retry_after));
    }

    /// Closes the gate; when this push-back begins a new episode (answered after the last
    /// gate reopened, and more than a round trip after the last episode began, so not by
    /// a request already in flight then), halves the depth and returns when the previous
    /// gate reopened.
    fn episode(&mut self, at: Duration, retry_after: Option<Duration>) -> Option<Duration> {
        let round_trip = self.fastest.unwrap_or(Duration::ZERO);
        let new = at >= self.gate
            && self
                .episode_began
                .is_none_or(|began| at > began.saturating_add(round_trip));
        let reopened = self.gate;
        let gate = at.saturating_add(retry_after.unwrap_or(Duration::ZERO));
        self.gate = self.gate.max(gate);
        if !new {
            return None;
        }
        self.episode_began = Some(at);
        if self.settling == 0 {
            self.halve();
        }
        Some(reopened)
    }

    /// The multiplicative decrease of the pace, from the rate admitted since the last
    /// episode's gate `reopened` (or since the first request, this gate included).
    fn learn_pace(&mut self, at: Duration, reopened: Duration) {
        let since = match (self.throttled_before, self.first_start) {
            (true, _) => Some(at.saturating_sub(reopened)),
            (false, Some(first)) => Some(self.gate.saturating_sub(first)),
            (false, None) => None,
        };
        if let Some(window) = since.filter(|w| !w.is_zero())
            && self.answers >= PACE_MIN_ANSWERS
        {
            let admitted = self.answers as f64 / window.as_secs_f64();
            let before = self.pace.unwrap_or(f64::INFINITY);
            self.pace = Some(PACE_BACKOFF * admitted.min(before));
        }
        self.throttled_before = true;
        self.answers = 0;
    }

    /// The earliest time the next request may start: after the gate of the last 429, and
    /// one pace interval after the last start. Earlier than now means now.
    pub fn next_start(&self) -> Duration {
        let paced = match (self.pace, self.last_start) {
            (Some(pace), Some(last)) if pace > 0.0 => {
                last.saturating_add(Duration::from_secs_f64((1.0 / pace).min(3600.0)))
            }
            _ => Duration::ZERO,
        };
        self.gate.max(paced)
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

    fn answers(depth: &mut AdaptiveDepth, n: usize) {
        for _ in 0..n {
            depth.answered();
        }
    }

    #[test]
    fn it_starts_at_one_and_grows_by_one_per_round_of_steady_pages_up_to_the_ceiling() {
        let mut depth = AdaptiveDepth::new(5);
        assert_eq!(depth.depth(), 1);
        assert_eq!(depth.observe(Observation::page(ms(20))), 1);
        assert_eq!(depth.observe(Observation::page(ms(25))), 2, "a round of 2");
        assert_eq!(steady(&mut depth, 2), 2);
        assert_eq!(steady(&mut depth, 1), 3, "a round of 3");
        assert_eq!(steady(&mut depth, 4), 4);
        assert_eq!(steady(&mut depth, 100), 5, "never past the ceiling");
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
        assert_eq!(steady(&mut depth, 2 + 3 + 4 + 5 + 6 + 7 + 8), 8);
        assert_eq!(depth.observe(Observation::throttled(ms(1020))), 4);
        // The other 8 requests in flight were sent at depth 8: their 429s are the same
        // event, and their good answers are no sign that 4 is too little.
        for _ in 0..4 {
            assert_eq!(depth.observe(Observation::throttled(ms(1020))), 4);
            assert_eq!(depth.observe(Observation::page(ms(20))), 4);
        }
        // Then one step per round of requests (depth + 1 steady pages).
        assert_eq!(steady(&mut depth, 4), 4);
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
        assert_eq!(steady(&mut depth, 2 + 3 + 4 + 5 + 6), 6);
        // 2 × 20 ms + 10 ms: still steady.
        assert_eq!(steady(&mut depth, 6), 6);
        assert_eq!(depth.observe(Observation::page(ms(50))), 7);
        assert_eq!(depth.observe(Observation::page(ms(51))), 3, "a rise");
    }

    #[test]
    fn the_threshold_follows_the_fastest_page_seen() {
        let mut depth = AdaptiveDepth::new(16);
        depth.observe(Observation::page(ms(100)));
        assert_eq!(depth.observe(Observation::page(ms(200))), 2, "2 × 100 + 10");
        depth.observe(Observation::page(ms(5)));
        assert_eq!(
            depth.observe(Observation::page(ms(30))),
            1,
            "the fastest is 5 ms now: 30 ms is a rise"
        );
    }

    #[test]
    fn a_throttled_pages_latency_is_not_the_services_time() {
        let mut depth = AdaptiveDepth::new(16);
        depth.observe(Observation::throttled(ms(1000)));
        assert_eq!(depth.fastest, None);
        depth.observe(Observation::page(ms(900)));
        assert_eq!(depth.fastest, Some(ms(900)));
    }

    #[test]
    fn an_absurd_latency_cannot_overflow() {
        let mut depth = AdaptiveDepth::new(3);
        depth.observe(Observation::page(Duration::MAX));
        assert_eq!(steady(&mut depth, 1), 2);
        assert_eq!(depth.observe(Observation::page(Duration::MAX)), 1);
    }

    #[test]
    fn before_any_429_nothing_waits() {
        let mut depth = AdaptiveDepth::new(16);
        assert_eq!(depth.next_start(), Duration::ZERO);
        depth.started(ms(5));
        answers(&mut depth, 100);
        depth.started(ms(6));
        assert_eq!(depth.pace(), None);
        assert_eq!(depth.next_start(), Duration::ZERO);
    }

    #[test]
    fn a_429_closes_the_gate_for_its_retry_after_and_a_bare_one_does_not() {
        let mut depth = AdaptiveDepth::new(16);
        depth.started(ms(0));
        depth.throttled(ms(100), Some(Duration::from_secs(3)));
        assert_eq!(depth.next_start(), ms(3100));
        // A later 429 from a request sent before the gate closed extends it.
        depth.throttled(ms(120), Some(Duration::from_secs(5)));
        assert_eq!(depth.next_start(), ms(5120));
        // Without `Retry-After` the request's own retry waits on the policy's schedule;
        // the others go on.
        let mut bare = AdaptiveDepth::new(16);
        bare.throttled(ms(100), None);
        assert!(bare.next_start() <= ms(100), "no later than the 429 itself");
    }

    #[test]
    fn a_503_with_retry_after_closes_the_gate_and_halves_the_depth_but_sets_no_pace() {
        let mut depth = AdaptiveDepth::new(16);
        steady(&mut depth, 2 + 3 + 4 + 5);
        depth.started(ms(0));
        answers(&mut depth, 4);
        depth.asked_to_wait(ms(100), Duration::from_secs(5));
        assert_eq!(depth.depth(), 2);
        assert_eq!(depth.next_start(), ms(5100));
        assert_eq!(depth.pace(), None, "a busy moment is no rate");
    }

    #[test]
    fn bare_429s_within_a_round_trip_of_each_other_are_one_episode() {
        let mut depth = AdaptiveDepth::new(16);
        steady(&mut depth, 2 + 3 + 4 + 5 + 6 + 7 + 8);
        depth.started(ms(0));
        answers(&mut depth, 10);
        depth.throttled(ms(100), None);
        let pace = depth.pace();
        // The fastest page took 20 ms: a 429 within that came from a request already in
        // flight when the episode began.
        answers(&mut depth, 10);
        depth.throttled(ms(119), None);
        assert_eq!(depth.depth(), 4, "halved once");
        let probed = pace.unwrap() + 10.0 * PACE_PROBE;
        assert!(
            (depth.pace().unwrap() - probed).abs() < 1e-9,
            "estimated once"
        );
        while depth.settling > 0 {
            depth.observe(Observation::page(ms(20)));
        }
        depth.throttled(ms(121), None);
        assert_eq!(depth.depth(), 2, "a new episode");
    }

    #[test]
    fn the_429s_of_one_gate_are_one_episode() {
        let mut depth = AdaptiveDepth::new(16);
        steady(&mut depth, 2 + 3 + 4 + 5 + 6 + 7 + 8);
        depth.started(ms(0));
        answers(&mut depth, 100);
        depth.throttled(ms(100), Some(Duration::from_secs(1)));
        let after_first = depth.clone();
        assert_eq!(depth.depth(), 4);
        for at in 101..117 {
            depth.throttled(ms(at), Some(Duration::from_secs(1)));
        }
        assert_eq!(depth.depth(), 4, "halved once");
        assert_eq!(depth.pace(), after_first.pace(), "estimated once");
        assert_eq!(depth.next_start(), ms(1116));
    }

    #[test]
    fn the_pace_is_the_rate_admitted_while_sending_backed_off() {
        let mut depth = AdaptiveDepth::new(16);
        depth.started(ms(0));
        // First episode: 66 answers from the first start to the 429 at 100 ms, whose gate
        // ends at 1,100 ms: 60 a second.
        answers(&mut depth, 66);
        depth.throttled(ms(100), Some(Duration::from_secs(1)));
        let pace = depth.pace().unwrap();
        assert!((pace - PACE_BACKOFF * 60.0).abs() < 1e-9, "{pace}");
        // Then 100 answers in the 2 s from the gate's end to the next 429: 50 a second,
        // below the pace probed up to since.
        answers(&mut depth, 100);
        let probed = depth.pace().unwrap();
        assert!((probed - (pace + 100.0 * PACE_PROBE)).abs() < 1e-9);
        depth.throttled(ms(3100), Some(Duration::from_secs(1)));
        let pace = depth.pace().unwrap();
        assert!((pace - PACE_BACKOFF * 50.0).abs() < 1e-9, "{pace}");
        // A 429 after a time that admitted more than the pace: the pace still falls.
        answers(&mut depth, 1000);
        let probed = depth.pace().unwrap();
        depth.throttled(ms(6100), Some(Duration::from_secs(1)));
        let pace = depth.pace().unwrap();
        assert!(
            (pace - PACE_BACKOFF * probed).abs() < 1e-9,
            "{pace} {probed}"
        );
        // A 429 the moment the gate reopens measures nothing.
        answers(&mut depth, 10);
        depth.throttled(ms(7100), Some(Duration::from_secs(1)));
        let unchanged = pace + 10.0 * PACE_PROBE;
        assert!((depth.pace().unwrap() - unchanged).abs() < 1e-9);
    }

    #[test]
    fn requests_start_one_pace_interval_apart_after_the_gate() {
        let mut depth = AdaptiveDepth::new(16);
        depth.started(ms(0));
        answers(&mut depth, 50);
        // 50 answers over 2 s, × 0.95: 23.75 a second, 42.1 ms apart.
        depth.throttled(ms(1000), Some(Duration::from_secs(1)));
        assert_eq!(depth.next_start(), ms(2000), "the gate first");
        depth.started(ms(2000));
        let interval = depth.next_start() - ms(2000);
        assert!(interval > ms(42) && interval < ms(43), "{interval:?}");
        // Late is late: no credit builds up for a request that started late.
        depth.started(ms(5000));
        assert!(depth.next_start() > ms(5042));
    }

    #[test]
    fn a_first_request_refused_leaves_the_pace_as_it_was() {
        let mut depth = AdaptiveDepth::new(16);
        depth.started(ms(0));
        depth.throttled(ms(10), Some(Duration::from_secs(1)));
        assert_eq!(
            depth.pace(),
            None,
            "the first request throttled says nothing"
        );
        assert_eq!(depth.next_start(), ms(1010), "but the gate holds");
        // 100 answers in the second since the gate reopened.
        answers(&mut depth, 100);
        depth.throttled(ms(2010), Some(Duration::from_secs(1)));
        let pace = depth.pace().unwrap();
        assert!((pace - PACE_BACKOFF * 100.0).abs() < 1e-9, "{pace}");
    }

    #[test]
    fn a_tiny_pace_waits_at_most_an_hour_between_starts() {
        let mut depth = AdaptiveDepth::new(16);
        depth.started(ms(0));
        answers(&mut depth, PACE_MIN_ANSWERS as usize);
        depth.throttled(ms(10), Some(Duration::from_secs(u32::MAX as u64)));
        depth.started(depth.next_start());
        assert!(depth.next_start() <= depth.gate + Duration::from_secs(3600));
    }
}
