//! The stream against a rate-limited service, on a paused clock: a list whose every
//! request goes through the client's retry loop and a rate limit of `RATE` requests a
//! second, answered 429 with `Retry-After` in whole seconds beyond, in two shapes: a
//! token bucket (a second's burst, then `RATE` a second, as the mock's) and a fixed
//! window (`RATE × 10` requests per 10 s, `Retry-After` until the window turns, as many
//! public APIs document theirs).

use std::sync::Mutex;

use futures_util::TryStreamExt;
use tokio::time::Instant;

use super::*;
use crate::RetryPolicy;
use crate::retry::RequestKind;

/// Requests a second the service admits.
const RATE: f64 = 60.0;
const LATENCY: Duration = Duration::from_millis(20);
const PAGE: u64 = 100;

/// How the service counts.
#[derive(Debug, Clone, Copy, Default)]
enum Limit {
    #[default]
    TokenBucket,
    FixedWindow,
    /// No limit, but one busy moment: the 6th request is answered 503 with
    /// `Retry-After: 5`.
    OneBusyMoment,
}

/// The fixed window's length.
const WINDOW: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
struct Service {
    total: u64,
    limit: Limit,
    /// Tokens and when they were counted; or requests in the window and its start.
    bucket: Mutex<Option<(f64, Instant)>>,
    /// 429s answered.
    refusals: Mutex<u64>,
}

impl Service {
    fn admit(&self, now: Instant) -> Result<(), Duration> {
        match self.limit {
            Limit::TokenBucket => self.take_token(now),
            Limit::FixedWindow => self.count_in_window(now),
            Limit::OneBusyMoment => self.busy_once(),
        }
    }

    fn busy_once(&self) -> Result<(), Duration> {
        let mut seen = self.bucket.lock().unwrap();
        let (count, _) = seen.get_or_insert((0.0, Instant::now()));
        *count += 1.0;
        if *count == 6.0 {
            *self.refusals.lock().unwrap() += 1;
            return Err(Duration::from_secs(5));
        }
        Ok(())
    }

    fn count_in_window(&self, now: Instant) -> Result<(), Duration> {
        let mut window = self.bucket.lock().unwrap();
        let (count, start) = window.get_or_insert((0.0, now));
        if now.duration_since(*start) >= WINDOW {
            *start +=
                WINDOW * (now.duration_since(*start).as_secs_f64() / WINDOW.as_secs_f64()) as u32;
            *count = 0.0;
        }
        if *count < RATE * WINDOW.as_secs_f64() {
            *count += 1.0;
            return Ok(());
        }
        *self.refusals.lock().unwrap() += 1;
        let left = (*start + WINDOW).duration_since(now);
        Err(Duration::from_secs(
            left.as_secs_f64().ceil().max(1.0) as u64
        ))
    }

    fn take_token(&self, now: Instant) -> Result<(), Duration> {
        let mut bucket = self.bucket.lock().unwrap();
        let (tokens, at) = bucket.get_or_insert((RATE, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * RATE).min(RATE);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            return Ok(());
        }
        let wait = Duration::from_secs_f64(((1.0 - *tokens) / RATE).ceil().max(1.0));
        *self.refusals.lock().unwrap() += 1;
        Err(wait)
    }

    async fn answer(&self, skip: u64) -> Result<Page<u64>, Error> {
        tokio::time::sleep(LATENCY).await;
        match self.admit(Instant::now()) {
            Ok(()) => Ok(Page::new(
                (skip..(skip + PAGE).min(self.total)).collect(),
                None,
                None,
            )),
            Err(wait) => Err(Error::Http {
                status: match self.limit {
                    Limit::OneBusyMoment => 503,
                    _ => 429,
                },
                excerpt: String::new(),
                retry_after: Some(wait),
            }),
        }
    }
}

#[derive(Debug, Clone)]
struct List {
    service: Arc<Service>,
    skip: u64,
}

impl Paginated<'static> for List {
    type Item = u64;
    const OPERATION: &'static str = "GetComments";
    const MODES: &'static [PagingMode] = &[PagingMode::Skip];
    const PAGE_SIZE_PARAMETER: Option<&'static str> = Some("limit");

    fn at(mut self, position: &Position, page_size: Option<u64>) -> Result<Self, Error> {
        assert_eq!(page_size, Some(PAGE));
        let Position::Offset(skip) = position else {
            unreachable!("skip paging")
        };
        self.skip = *skip;
        Ok(self)
    }

    fn fetch(self) -> BoxFuture<'static, Result<Page<u64>, Error>> {
        Box::pin(async move {
            let kind = RequestKind {
                operation: "GetComments",
                method: &reqwest::Method::GET,
            };
            crate::retry::run(&RetryPolicy::default(), &kind, || {
                let service = self.service.clone();
                let skip = self.skip;
                Some(async move { service.answer(skip).await })
            })
            .await
        })
    }

    fn item_id(item: &u64) -> Option<String> {
        Some(item.to_string())
    }
}

/// Lists `pages` pages through `configure`; what the service saw, and the time taken.
async fn list(
    limit: Limit,
    pages: u64,
    configure: impl FnOnce(Pages<'static, List>) -> Pages<'static, List>,
) -> (Arc<Service>, Duration) {
    let service = Arc::new(Service {
        total: pages * PAGE,
        limit,
        ..Service::default()
    });
    let started = Instant::now();
    let stream = configure(
        List {
            service: service.clone(),
            skip: 0,
        }
        .stream(),
    );
    let items: Vec<u64> = stream.try_collect().await.unwrap();
    assert_eq!(
        items,
        (0..pages * PAGE).collect::<Vec<_>>(),
        "every item, once"
    );
    (service, started.elapsed())
}

fn refused(service: &Service) -> u64 {
    *service.refusals.lock().unwrap()
}

/// Lists `pages` pages at depth 1 and at an adaptive depth under `limit`; the 429s each
/// drew and the rate each reached, as a fraction of `RATE`.
async fn compare(limit: Limit, pages: u64) -> [(u64, f64); 2] {
    let [(depth_1, depth_1_time), (adaptive, adaptive_time)] = compare_times(limit, pages).await;
    let rate = |time: Duration| pages as f64 / time.as_secs_f64() / RATE;
    [
        (depth_1, rate(depth_1_time)),
        (adaptive, rate(adaptive_time)),
    ]
}

/// [`compare`]'s 429s and times.
async fn compare_times(limit: Limit, pages: u64) -> [(u64, Duration); 2] {
    let (depth_1, depth_1_time) = list(limit, pages, |s| s.page_size(PAGE).depth(1)).await;
    let (adaptive, adaptive_time) =
        list(limit, pages, |s| s.page_size(PAGE).adaptive_depth(16)).await;
    [
        (refused(&depth_1), depth_1_time),
        (refused(&adaptive), adaptive_time),
    ]
}

/// The figures `cargo bench --bench pagination -- --rate-limited` measures on the mock,
/// here on a paused clock: over 2,000 pages (about 33 s of the limit), the adaptive depth
/// draws no more 429s than depth 1, which keeps running into the limit, and keeps within
/// 10% of the rate the limit allows.
#[tokio::test(start_paused = true)]
async fn under_a_rate_limit_the_adaptive_depth_keeps_the_rate_without_a_storm_of_429s() {
    let [depth_1, adaptive] = compare(Limit::TokenBucket, 2_000).await;
    assert!(
        adaptive.0 <= depth_1.0,
        "429s: {adaptive:?} against {depth_1:?}"
    );
    assert!(adaptive.1 >= 0.9, "rate: {adaptive:?} against {depth_1:?}");
}

/// A limit of another shape: a fixed window that turns every 10 s. Depth 1 spends each
/// window's allowance in 6 s and is refused until it turns. The adaptive depth meets the
/// first window's end at the depth it had grown to, and each request then in flight is
/// refused: that start costs at most a ceiling's worth of 429s more than depth 1. Then
/// it paces at the rate it learned and keeps within 10% of the limit's.
#[tokio::test(start_paused = true)]
async fn under_a_fixed_window_the_adaptive_depth_pays_its_start_and_keeps_the_rate() {
    let [depth_1, adaptive] = compare(Limit::FixedWindow, 2_000).await;
    assert!(
        adaptive.0 <= depth_1.0 + 16,
        "429s: {adaptive:?} against {depth_1:?}"
    );
    assert!(adaptive.1 >= 0.9, "rate: {adaptive:?} against {depth_1:?}");
}

/// A 503 with `Retry-After` once, and no limit: the stream waits what it was told, then
/// goes on at its depth; the busy moment is no rate to pace at (a break-it review found
/// the adaptive depth 7× slower than depth 1 here when it did).
#[tokio::test(start_paused = true)]
async fn one_busy_moment_costs_its_wait_and_no_pace() {
    let [(_, depth_1), (_, adaptive)] = compare_times(Limit::OneBusyMoment, 1_000).await;
    assert!(adaptive >= Duration::from_secs(5), "{adaptive:?}: the wait");
    assert!(
        adaptive < depth_1,
        "adaptive {adaptive:?}, depth 1 {depth_1:?}"
    );
}
