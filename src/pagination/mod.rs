//! Pagination as `futures::Stream`s, for every list operation of the spec.
//!
//! Every GET operation that returns one collection and takes `skip`, `page`, `afterId`
//! or `cursor` has a `.stream()` method on its builder (generated at build time;
//! [`LIST_OPERATIONS`] lists them). Set the filters on the builder as for one call, then
//! call `.stream()` instead of `.send()`; no trait needs importing:
//!
//! ```no_run
//! # async fn demo(client: &fastcomments::Client) -> Result<(), fastcomments::Error> {
//! use futures::TryStreamExt;
//!
//! let mut comments = client.get_comments().url_id("my-post").stream();
//! while let Some(comment) = comments.try_next().await? {
//!     println!("{}", comment.comment);
//! }
//! # Ok(()) }
//! ```
//!
//! Semantics:
//! - the stream starts at [`Pages::start`] (0 by default) and ends on an empty page, on a
//!   page shorter than the page size asked for (or than an earlier page), on
//!   `hasMore: false`, or when a cursor runs out. A short page in the middle of a
//!   collection therefore ends it: FastComments answers `invalid-limit` beyond its
//!   maximum page size rather than cutting pages, so only the last page is short;
//! - it always ends: a server (or a cache between) that ignores `skip`, `page`, `afterId`
//!   or `cursor` makes no progress, and the stream ends with [`Error::NoProgress`] as soon
//!   as a page repeats an earlier one (the same items), a cursor or `afterId` comes back,
//!   or an offset leaves the range the operation accepts;
//! - on stable data no item is yielded twice and none is skipped;
//! - each page is one call through the client, so a failed page is retried by the
//!   client's [`RetryPolicy`](crate::RetryPolicy) and the stream goes on from where it
//!   was; an error that is not retried is yielded and ends the stream;
//! - with `skip` and `page` paging the next pages are fetched while the caller consumes
//!   the current one, and while the caller waits for a page the next is already on its way
//!   ([`Pages::depth`]: requests beyond the page being waited for or consumed, 1 by
//!   default, 0 for strictly sequential), or at a depth learned from the service's
//!   answers ([`Pages::adaptive_depth`], [`AdaptiveDepth`]: it grows while pages come
//!   back steady and shrinks on a 429, a `Retry-After` or a latency rise). Cursor and
//!   `afterId` paging are sequential by nature: the next request needs the last page.
//!   Memory is bounded by the depth: at most `depth + 2` pages are held (the one
//!   consumed, and those fetched), the ceiling's for an adaptive depth;
//! - dropping the stream cancels the requests in flight; nothing runs in the background.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::{Arc, mpsc};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesOrdered, Stream, StreamExt};

use crate::Error;

mod depth;

pub use depth::{
    AdaptiveDepth, LATENCY_RISE, LATENCY_SLACK, Observation, PACE_BACKOFF, PACE_MIN_ANSWERS,
    PACE_PROBE,
};

/// How an operation pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PagingMode {
    /// `skip` (+ `limit`): an offset in items.
    Skip,
    /// `page`: precalculated pages numbered from 0.
    Page,
    /// `afterId`: the id of the last item seen.
    AfterId,
    /// `cursor`: an opaque cursor the previous page returned.
    Cursor,
}

/// Where one page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Position {
    /// The first page of a cursor-style listing.
    First,
    /// An offset in items (`skip`).
    Offset(u64),
    /// A page number (`page`).
    Page(u64),
    /// After this item id (`afterId`).
    AfterId(String),
    /// This cursor (`cursor`).
    Cursor(String),
}

/// One page of a list operation.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items, in the server's order.
    pub items: Vec<T>,
    /// The server's `hasMore`, when the response has one.
    pub has_more: Option<bool>,
    /// The server's `nextCursor`, when the response has one.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page, for a [`Paginated`] implemented outside this crate (over
    /// [`Client::call`](crate::Client::call), say).
    pub fn new(items: Vec<T>, has_more: Option<bool>, next_cursor: Option<String>) -> Page<T> {
        Page {
            items,
            has_more,
            next_cursor,
        }
    }
}

/// A list operation's builder: it can fetch any page, and so become a [`Pages`] stream.
/// Implemented for every list operation; needed only to write code generic over them.
pub trait Paginated<'a>: Clone + Send + Sized + Unpin + 'a {
    /// The item type.
    type Item: Send + Unpin + serde::Serialize + 'a;
    /// The spec's `operationId`.
    const OPERATION: &'static str;
    /// The paging modes the operation supports, the default first.
    const MODES: &'static [PagingMode];
    /// The page-size parameter (`limit`, `pageSize`, `count`), when it has one.
    const PAGE_SIZE_PARAMETER: Option<&'static str>;
    /// The page size asked for unless the caller sets one.
    const DEFAULT_PAGE_SIZE: u64 = DEFAULT_PAGE_SIZE;

    /// The builder for the page at `position`, asking for `page_size` items when given;
    /// fails when a number does not fit the operation's parameter.
    fn at(self, position: &Position, page_size: Option<u64>) -> Result<Self, Error>;

    /// Fetches one page.
    fn fetch(self) -> BoxFuture<'a, Result<Page<Self::Item>, Error>>;

    /// An item's id, for `afterId` paging.
    fn item_id(item: &Self::Item) -> Option<String>;

    /// Streams every item from the first page on.
    fn stream(self) -> Pages<'a, Self> {
        Pages::new(self)
    }
}

/// A paging parameter's type in the generated builders (`skip` is an integer on some
/// operations and a `number` on others).
pub(crate) trait PageNumber: Sized {
    /// `n`, when the type holds it exactly.
    fn from_u64(n: u64) -> Option<Self>;
}

impl PageNumber for i32 {
    fn from_u64(n: u64) -> Option<Self> {
        i32::try_from(n).ok()
    }
}

impl PageNumber for i64 {
    fn from_u64(n: u64) -> Option<Self> {
        i64::try_from(n).ok()
    }
}

impl PageNumber for f64 {
    fn from_u64(n: u64) -> Option<Self> {
        // Integers up to 2^53 are exact in an f64.
        (n <= 1 << 53).then_some(n as f64)
    }
}

/// `n` as the type of the parameter `name`, or the error that ends the stream.
fn parameter<T: PageNumber>(n: u64, name: &str) -> Result<T, Error> {
    T::from_u64(n).ok_or_else(|| Error::NoProgress {
        detail: format!("`{name}` would be {n}, beyond what the operation accepts"),
    })
}

include!(concat!(env!("OUT_DIR"), "/pagination.rs"));

/// The stream of every item of a list operation; see the [module docs](self).
///
/// Configure it before the first poll:
///
/// ```no_run
/// # async fn demo(client: &fastcomments::Client) -> Result<(), fastcomments::Error> {
/// use fastcomments::pagination::PagingMode;
/// use futures::TryStreamExt;
///
/// let all: Vec<_> = client
///     .get_comments()
///     .url_id("my-post")
///     .stream()
///     .mode(PagingMode::Page) // precalculated pages instead of skip/limit
///     .depth(2)               // two pages ahead
///     .try_collect()
///     .await?;
/// # Ok(()) }
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct Pages<'a, B: Paginated<'a>> {
    builder: B,
    mode: PagingMode,
    start: u64,
    page_size: Option<u64>,
    depth: Depth,
    state: State<'a, B::Item>,
}

/// How far ahead a stream fetches.
#[derive(Debug)]
enum Depth {
    Fixed(usize),
    Adaptive(Box<Learning>),
}

impl Depth {
    fn now(&self) -> usize {
        match self {
            Depth::Fixed(depth) => *depth,
            Depth::Adaptive(learning) => learning.controller.depth(),
        }
    }
}

/// An adaptive depth at work: the controller, and what feeds it and holds its requests.
#[derive(Debug)]
struct Learning {
    controller: AdaptiveDepth,
    /// The controller's time 0: the first request's start.
    epoch: Option<tokio::time::Instant>,
    /// What each request tells as it happens (its fetch holds a sender).
    signals: mpsc::Receiver<Signal>,
    sender: mpsc::Sender<Signal>,
    /// Armed while the next request waits for the gate or the pace.
    wait: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// What a request tells the controller as it happens, not once its page is in order.
#[derive(Debug)]
enum Signal {
    /// An attempt was answered 429 (`true`) or with `Retry-After`, asking for this wait.
    Throttled(tokio::time::Instant, bool, Option<Duration>),
    /// The request was answered.
    Answered,
}

impl Learning {
    fn new(ceiling: usize) -> Learning {
        let (sender, signals) = mpsc::channel();
        Learning {
            controller: AdaptiveDepth::new(ceiling),
            epoch: None,
            signals,
            sender,
            wait: None,
        }
    }

    /// Whether a request may start now; if not, the task is woken when one may.
    fn may_start(&mut self, cx: &mut Context<'_>) -> bool {
        let now = tokio::time::Instant::now();
        let epoch = *self.epoch.get_or_insert(now);
        let at = epoch + self.controller.next_start();
        if at > now {
            let wait = self
                .wait
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
            if wait.deadline() != at {
                wait.as_mut().reset(at);
            }
            if wait.as_mut().poll(cx).is_pending() {
                return false;
            }
        }
        self.wait = None;
        self.controller
            .started(now.saturating_duration_since(epoch));
        true
    }

    /// Feeds the controller what the requests told since the last time.
    fn take_signals(&mut self) {
        let epoch = self.epoch.unwrap_or_else(tokio::time::Instant::now);
        while let Ok(signal) = self.signals.try_recv() {
            match signal {
                Signal::Throttled(at, too_many, retry_after) => {
                    let at = at.saturating_duration_since(epoch);
                    match (too_many, retry_after) {
                        (true, _) => self.controller.throttled(at, retry_after),
                        (false, Some(wait)) => self.controller.asked_to_wait(at, wait),
                        (false, None) => {}
                    }
                }
                Signal::Answered => self.controller.answered(),
            }
        }
    }
}

/// A page as it arrives, with what its request told about the service.
type Fetched<T> = (Result<Page<T>, Error>, Option<Observation>);

/// What a running stream holds.
struct State<'a, T> {
    started: bool,
    finished: bool,
    /// Where the next page to request starts, when it is known.
    next: Option<Position>,
    /// The distance between two offsets: the page size asked for, or learned from the
    /// first page when the operation takes no page size.
    stride: Option<u64>,
    /// The offset just past the last page absorbed (`skip` paging).
    offset: u64,
    /// The longest page seen: a shorter one is the last.
    longest: usize,
    /// A hash of every page's items, to tell a page that comes back.
    pages: HashSet<u64>,
    /// Every cursor and `afterId` requested, to tell one that comes back.
    positions: HashSet<String>,
    in_flight: FuturesOrdered<BoxFuture<'a, Fetched<T>>>,
    arrived: VecDeque<Result<Page<T>, Error>>,
    items: VecDeque<T>,
}

/// The page size asked for when the operation takes one and the caller set none.
pub const DEFAULT_PAGE_SIZE: u64 = 100;

impl<'a, B: Paginated<'a>> Pages<'a, B> {
    pub(crate) fn new(builder: B) -> Self {
        Pages {
            builder,
            mode: B::MODES[0],
            start: 0,
            page_size: B::PAGE_SIZE_PARAMETER.map(|_| B::DEFAULT_PAGE_SIZE),
            depth: Depth::Fixed(1),
            state: State {
                started: false,
                finished: false,
                next: None,
                stride: None,
                offset: 0,
                longest: 0,
                pages: HashSet::new(),
                positions: HashSet::new(),
                in_flight: FuturesOrdered::new(),
                arrived: VecDeque::new(),
                items: VecDeque::new(),
            },
        }
    }

    /// Pages by `mode` instead of the operation's default; a mode the operation does not
    /// support makes the stream yield [`Error::InvalidRequest`].
    pub fn mode(mut self, mode: PagingMode) -> Self {
        self.mode = mode;
        self
    }

    /// Starts at this offset (`skip` paging) or page number (`page` paging).
    pub fn start(mut self, start: u64) -> Self {
        self.start = start;
        self
    }

    /// Asks for this many items per page where the operation takes a page size (its
    /// default otherwise: 100, or 1000 for audit logs). It must not exceed the server's
    /// maximum: FastComments answers `invalid-limit` beyond it rather than cutting the
    /// page, which is what lets a short page mean the end. Not sent in `page` paging,
    /// whose pages have the server's size.
    pub fn page_size(mut self, page_size: u64) -> Self {
        if B::PAGE_SIZE_PARAMETER.is_some() {
            self.page_size = Some(page_size.max(1));
        }
        self
    }

    /// How many requests run beyond the page being waited for or consumed; 0 is strictly
    /// sequential. Only `skip` and `page` paging can fetch ahead (and `skip` paging only
    /// once the page size is known: asked for, or learned from the first page).
    pub fn depth(mut self, depth: usize) -> Self {
        self.depth = Depth::Fixed(depth);
        self
    }

    /// Learns the depth from the service's answers instead, never beyond `ceiling`: it
    /// starts at 1, grows by one per round of pages that come back unthrottled at a
    /// steady latency, and halves on a 429, a `Retry-After` or a latency rise. Once the
    /// service has throttled, no request starts before the 429's `Retry-After` has
    /// passed, and requests start at a pace learned from the rate the service admitted
    /// ([`AdaptiveDepth`] has the rules). For a long listing against a service whose
    /// capacity is unknown (an export): as fast as it allows, without a storm of 429s.
    ///
    /// ```no_run
    /// # async fn demo(client: &fastcomments::Client) -> Result<(), fastcomments::Error> {
    /// use futures::TryStreamExt;
    /// let comments: Vec<_> = client.get_comments().stream().adaptive_depth(16).try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn adaptive_depth(mut self, ceiling: usize) -> Self {
        self.depth = Depth::Adaptive(Box::new(Learning::new(ceiling)));
        self
    }

    /// The depth the stream fetches at now: the fixed one, or what the adaptive one has
    /// learned so far.
    pub fn current_depth(&self) -> usize {
        self.depth.now()
    }

    /// The page size sent with each request.
    fn size_sent(&self) -> Option<u64> {
        self.page_size.filter(|_| self.mode != PagingMode::Page)
    }

    fn begin(&mut self) -> Result<(), Error> {
        self.state.started = true;
        if !B::MODES.contains(&self.mode) {
            return Err(Error::InvalidRequest(format!(
                "{} cannot page by {:?}; it pages by {:?}",
                B::OPERATION,
                self.mode,
                B::MODES
            )));
        }
        self.state.offset = self.start;
        self.state.stride = self.size_sent().filter(|_| self.mode == PagingMode::Skip);
        self.state.next = Some(match self.mode {
            PagingMode::Skip => Position::Offset(self.start),
            PagingMode::Page => Position::Page(self.start),
            PagingMode::AfterId | PagingMode::Cursor => Position::First,
        });
        Ok(())
    }

    /// Starts requests while the pipeline has room, the next position is known and (for
    /// an adaptive depth) the gate and the pace allow. A position the operation cannot
    /// take becomes a failed page in its place, so the items before it are still yielded.
    fn launch(&mut self, cx: &mut Context<'_>) {
        let size = self.size_sent();
        let state = &mut self.state;
        loop {
            let outstanding = state.in_flight.len() + state.arrived.len();
            // `depth` requests beyond the page being waited for or consumed.
            let room = self
                .depth
                .now()
                .saturating_add(usize::from(state.items.is_empty()));
            if state.finished || outstanding >= room || state.next.is_none() {
                return;
            }
            let report = match &mut self.depth {
                Depth::Adaptive(learning) => {
                    if !learning.may_start(cx) {
                        return;
                    }
                    Some(learning.sender.clone())
                }
                Depth::Fixed(_) => None,
            };
            let Some(position) = state.next.take() else {
                return;
            };
            state.next = match (&position, state.stride) {
                (Position::Offset(n), Some(stride)) => n.checked_add(stride).map(Position::Offset),
                (Position::Page(n), _) => n.checked_add(1).map(Position::Page),
                // Known once this page has arrived.
                _ => None,
            };
            match self.builder.clone().at(&position, size) {
                Ok(builder) => state.in_flight.push_back(observed(builder.fetch(), report)),
                Err(error) => {
                    state.next = None;
                    state
                        .in_flight
                        .push_back(Box::pin(async move { (Err(error), None) }));
                }
            }
        }
    }

    /// Takes in the next page, in order; decides whether it is the last, and whether the
    /// server made progress.
    fn absorb(&mut self, page: Page<B::Item>) -> Result<(), Error> {
        let size = self.size_sent();
        let n = page.items.len();
        let fingerprint = fingerprint::<B>(&page.items);
        let state = &mut self.state;
        if n > 0 && !state.pages.insert(fingerprint) {
            return Err(Error::NoProgress {
                detail: format!(
                    "{} answered a page of {n} items it had answered before: the server \
                     ignores {:?} paging",
                    B::OPERATION,
                    self.mode
                ),
            });
        }
        let last = n == 0
            || size.is_some_and(|s| (n as u64) < s)
            || n < state.longest
            || page.has_more == Some(false);
        state.longest = state.longest.max(n);
        match self.mode {
            PagingMode::Skip => {
                state.offset = state.offset.saturating_add(n as u64);
                if state.stride.is_none() {
                    state.stride = Some(n as u64);
                    state.next = Some(Position::Offset(state.offset));
                }
            }
            PagingMode::Page => {}
            PagingMode::AfterId => {
                state.next = page
                    .items
                    .last()
                    .and_then(B::item_id)
                    .map(Position::AfterId);
            }
            PagingMode::Cursor => state.next = page.next_cursor.clone().map(Position::Cursor),
        }
        if let (false, Some(Position::AfterId(key) | Position::Cursor(key))) = (last, &state.next)
            && !state.positions.insert(key.clone())
        {
            return Err(Error::NoProgress {
                detail: format!(
                    "{} sent {:?} position {key:?} a second time",
                    B::OPERATION,
                    self.mode
                ),
            });
        }
        let exhausted =
            matches!(self.mode, PagingMode::AfterId | PagingMode::Cursor) && state.next.is_none();
        state.items.extend(page.items);
        if last || exhausted {
            self.finish();
        }
        Ok(())
    }

    /// Stops: no further request, and the ones in flight are dropped (cancelled).
    fn finish(&mut self) {
        self.state.finished = true;
        self.state.next = None;
        self.state.in_flight = FuturesOrdered::new();
        self.state.arrived.clear();
    }

    /// Ends the stream with `error`.
    fn fail(&mut self, error: Error) -> Poll<Option<Result<B::Item, Error>>> {
        self.finish();
        Poll::Ready(Some(Err(error)))
    }
}

/// `fetch`, for an adaptive depth (with a `report` channel) timed on tokio's clock and
/// watched for throttling: each 429 and the answer are told on the channel as they come.
fn observed<'a, T: Send + 'a>(
    fetch: BoxFuture<'a, Result<Page<T>, Error>>,
    report: Option<mpsc::Sender<Signal>>,
) -> BoxFuture<'a, Fetched<T>> {
    let Some(report) = report else {
        return Box::pin(async move { (fetch.await, None) });
    };
    Box::pin(async move {
        let started = tokio::time::Instant::now();
        let throttles = report.clone();
        let on_throttle = Arc::new(move |too_many, retry_after| {
            // The stream may be gone; then no one is listening.
            let now = tokio::time::Instant::now();
            let _ = throttles.send(Signal::Throttled(now, too_many, retry_after));
        });
        let (page, throttled) = crate::retry::observe_throttling(fetch, on_throttle).await;
        if page.is_ok() {
            let _ = report.send(Signal::Answered);
        }
        let observation = Observation {
            latency: started.elapsed(),
            throttled,
        };
        (page, Some(observation))
    })
}

/// A hash of a page's items: their ids, or their JSON for items without one.
fn fingerprint<'a, B: Paginated<'a>>(items: &[B::Item]) -> u64 {
    let mut hasher = DefaultHasher::new();
    for item in items {
        match B::item_id(item) {
            Some(id) => id.hash(&mut hasher),
            None => serde_json::to_vec(item)
                .unwrap_or_default()
                .hash(&mut hasher),
        }
    }
    hasher.finish()
}

impl<'a, B: Paginated<'a>> Stream for Pages<'a, B> {
    type Item = Result<B::Item, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if !this.state.started
            && let Err(error) = this.begin()
        {
            return this.fail(error);
        }
        loop {
            this.launch(cx);
            // Drive the requests in flight, keeping what has arrived in order.
            while !this.state.in_flight.is_empty() {
                match this.state.in_flight.poll_next_unpin(cx) {
                    Poll::Ready(Some((page, observation))) => {
                        if let (Depth::Adaptive(learning), Some(observation)) =
                            (&mut this.depth, observation)
                        {
                            learning.controller.observe(observation);
                        }
                        this.state.arrived.push_back(page);
                    }
                    Poll::Ready(None) | Poll::Pending => break,
                }
            }
            if let Depth::Adaptive(learning) = &mut this.depth {
                learning.take_signals();
            }
            if let Some(item) = this.state.items.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            match this.state.arrived.pop_front() {
                Some(Ok(page)) => {
                    if let Err(error) = this.absorb(page) {
                        return this.fail(error);
                    }
                }
                Some(Err(error)) => return this.fail(error),
                // Nothing in flight and nothing to request: the end. With a next page to
                // request, `launch` is waiting for the gate or the pace (its timer wakes
                // the task).
                None if this.state.in_flight.is_empty() && this.state.next.is_none() => {
                    return Poll::Ready(None);
                }
                None => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests;
