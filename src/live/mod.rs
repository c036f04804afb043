//! Live events of a page (feature `live`): a [`Stream`] of what happens on it, with no
//! gap and no duplicate across reconnects.
//!
//! ```no_run
//! # async fn demo(client: fastcomments::Client) -> Result<(), fastcomments::Error> {
//! use futures_util::TryStreamExt;
//! use fastcomments::live::{LiveEvent, LiveItem};
//! let mut events = client.live("my-page").subscribe().await?;
//! while let Some(item) = events.try_next().await? {
//!     match item {
//!         LiveItem::Event(LiveEvent::NewComment(e)) => println!("new: {}", e.comment.id),
//!         LiveItem::Event(e) => println!("{}", e.kind()),
//!         LiveItem::Gap { from, to } => println!("missed what happened {from}..{to}"),
//!         LiveItem::Malformed { reason, .. } => println!("bad frame: {reason}"),
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! How it works (`LIVE.md` has FastComments' side):
//! - **Subscribe.** The three subscription ids come from `GetCommentsPublic` (with an SSO
//!   token where the page needs one), or from the caller ([`LiveBuilder::ids`]). The
//!   socket is `wss://ws.fastcomments.com/sub` (`ws-eu` for EU clients and EU data
//!   centres; any other base URL serves it itself), routed like the API
//!   ([`ClientBuilder::route_host`](crate::ClientBuilder::route_host)). `urlIdWS` goes
//!   into the URL exactly as the server gave it.
//! - **Exactly once, in order.** Every event FastComments stores in its event log (the
//!   ones with a `timestamp`: comments, votes, thread state, badges, notifications, and
//!   whatever new type comes with one) is delivered once, in the order of the server's
//!   timestamps, across any number of reconnects: on each, the socket opens first and
//!   the log is read from the last event delivered (`GetEventLog`, on the client's host,
//!   with a short retry policy); the two are merged by each event's content. The start
//!   is the server's clock (the `Date` of its answer to the id request) or
//!   [`LiveBuilder::since`], so nothing between the id request and the socket's opening
//!   is lost. The argument is in `merge.rs`.
//! - **Outside the guarantee:** presence (`p-u`) is not stored: it is delivered as it
//!   comes and lost while disconnected. A gap the log cannot cover (it expired, or it
//!   refused the catch-up) is reported as [`LiveItem::Gap`], never silently.
//! - **Bounds.** The stream holds at most [`LiveBuilder::buffer`] batches of items for
//!   a slow consumer; when it is full the stream stops reading the socket (the server's own
//!   buffers fill, and it may drop the connection; the reconnect's catch-up then reads
//!   from the log what the socket did not deliver). During a catch-up at most
//!   [`LiveBuilder::hold_limit`] socket frames are held; past that they are dropped and
//!   read from the log instead.
//! - **Staying connected.** A protocol ping every 25 s; a socket that answers nothing for
//!   two pings in a row is dead. Reconnects wait as [`ReconnectBackoff`] says (a random
//!   0–4 s, growing while the host stays down, up to a minute).
//! - **Ends** when dropped (the socket is closed) or with one `Err`:
//!   the subscription refused for good (an unknown tenant: HTTP 4xx on the socket).
//!   `try_next()?` therefore ends only on such an error, never on one bad frame.

mod backoff;
mod event;
mod merge;
mod session;
mod socket;

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use tokio::sync::mpsc;

pub use backoff::ReconnectBackoff;
pub use event::{
    BadgesEvent, CommentEvent, LiveComment, LiveEvent, LiveItem, LiveVote, NotificationEvent,
    PresenceEvent, ThreadStateEvent, VoteEvent,
};

use crate::client::Secret;
use crate::{Client, Error, RetryPolicy};

/// The ids a page's socket subscription takes (`UserPresenceData` in the spec), as
/// `GetCommentsPublic` answers them.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LiveIds {
    /// `tenantIdWS`.
    pub tenant_id_ws: String,
    /// `urlIdWS`: `tenantId:urlId`, already percent-encoded by the server; used as given.
    pub url_id_ws: String,
    /// `userIdWS`: the viewer's opaque session id.
    pub user_id_ws: String,
}

impl LiveIds {
    /// The ids, as a caller who already has them (from its own `GetCommentsPublic`)
    /// gives them.
    pub fn new(
        tenant_id_ws: impl Into<String>,
        url_id_ws: impl Into<String>,
        user_id_ws: impl Into<String>,
    ) -> LiveIds {
        LiveIds {
            tenant_id_ws: tenant_id_ws.into(),
            url_id_ws: url_id_ws.into(),
            user_id_ws: user_id_ws.into(),
        }
    }
}

impl fmt::Debug for LiveIds {
    /// The session id identifies a viewer: shown redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveIds")
            .field("tenant_id_ws", &self.tenant_id_ws)
            .field("url_id_ws", &self.url_id_ws)
            .field("user_id_ws", &"<redacted>")
            .finish()
    }
}

/// The `broadcastId`s of this client's own writes: events echoing them are dropped from
/// the stream (FastComments' widgets do the same). Cheap to clone; shared between the
/// writer and the stream. Remembers the last 4,096 ids.
///
/// ```
/// use fastcomments::live::BroadcastIds;
/// let own = BroadcastIds::default();
/// let id = own.next();            // pass it as `broadcastId` on a write
/// assert!(own.contains(&id));
/// ```
#[derive(Clone, Debug, Default)]
pub struct BroadcastIds(Arc<Mutex<VecDeque<String>>>);

impl BroadcastIds {
    const KEPT: usize = 4096;

    /// A new random id (32 hex digits), remembered.
    pub fn next(&self) -> String {
        let id = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        self.remember(id.clone());
        id
    }

    /// Remembers an id made elsewhere.
    pub fn remember(&self, id: impl Into<String>) {
        let mut ids = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if ids.len() == Self::KEPT {
            ids.pop_front();
        }
        ids.push_back(id.into());
    }

    /// Whether `id` is one of this client's.
    pub fn contains(&self, id: &str) -> bool {
        let ids = self.0.lock().unwrap_or_else(|p| p.into_inner());
        ids.iter().any(|own| own == id)
    }
}

/// What a stream has done so far ([`LiveEvents::stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LiveStats {
    /// Sockets opened.
    pub connections: u64,
    /// Connections lost (closed, failed, dead, or never opened) and tried again.
    pub reconnects: u64,
    /// Sockets found dead by missed pongs.
    pub dead_sockets: u64,
    /// Reads of the event log.
    pub log_reads: u64,
    /// Events delivered.
    pub delivered: u64,
    /// Events dropped because they had been delivered already (the catch-up's overlap).
    pub duplicates: u64,
    /// Gaps reported.
    pub gaps: u64,
    /// Events dropped as echoes of this client's own writes ([`BroadcastIds`]).
    pub own_echoes: u64,
    /// Times the frames held during a catch-up overflowed [`LiveBuilder::hold_limit`].
    pub hold_overflows: u64,
}

/// The counters the stream and its producer share.
#[derive(Default)]
pub(crate) struct Counters {
    connections: AtomicU64,
    reconnects: AtomicU64,
    dead_sockets: AtomicU64,
    log_reads: AtomicU64,
    delivered: AtomicU64,
    duplicates: AtomicU64,
    gaps: AtomicU64,
    own_echoes: AtomicU64,
    hold_overflows: AtomicU64,
}

/// The state the stream and its producer share (the counters outlive nothing else).
#[derive(Clone, Default)]
pub(crate) struct Shared(Arc<Counters>);

impl Shared {
    fn count(&self, counter: impl FnOnce(&Counters) -> &AtomicU64) {
        counter(&self.0).fetch_add(1, Ordering::Relaxed);
    }

    fn set(&self, counter: impl FnOnce(&Counters) -> &AtomicU64, value: u64) {
        counter(&self.0).store(value, Ordering::Relaxed);
    }

    fn snapshot(&self) -> LiveStats {
        let c = &self.0;
        let get = |n: &AtomicU64| n.load(Ordering::Relaxed);
        LiveStats {
            connections: get(&c.connections),
            reconnects: get(&c.reconnects),
            dead_sockets: get(&c.dead_sockets),
            log_reads: get(&c.log_reads),
            delivered: get(&c.delivered),
            duplicates: get(&c.duplicates),
            gaps: get(&c.gaps),
            own_echoes: get(&c.own_echoes),
            hold_overflows: get(&c.hold_overflows),
        }
    }
}

/// Everything the producer needs, fixed when the stream starts.
pub(crate) struct Settings {
    client: Client,
    catch_up_client: Client,
    url_id: String,
    ids: LiveIds,
    since: Option<i64>,
    server_date: Option<i64>,
    socket_url: Option<String>,
    connect_timeout: Duration,
    ping_interval: Duration,
    missed_pongs: u32,
    backoff: ReconnectBackoff,
    jitter_seed: Option<u64>,
    hold_limit: usize,
    own: Option<BroadcastIds>,
}

/// Builds a [`LiveEvents`] stream: [`Client::live`].
#[must_use]
pub struct LiveBuilder {
    client: Client,
    url_id: String,
    ids: Option<LiveIds>,
    sso: Option<Secret<String>>,
    since: Option<i64>,
    socket_url: Option<String>,
    connect_timeout: Duration,
    ping_interval: Duration,
    missed_pongs: u32,
    backoff: ReconnectBackoff,
    jitter_seed: Option<u64>,
    catch_up_retry: RetryPolicy,
    buffer: usize,
    hold_limit: usize,
    own: Option<BroadcastIds>,
}

impl fmt::Debug for LiveBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveBuilder")
            .field("url_id", &self.url_id)
            .field("ids", &self.ids)
            .field("sso", &self.sso)
            .field("since", &self.since)
            .field("socket_url", &self.socket_url)
            .field("ping_interval", &self.ping_interval)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Live events of the page `url_id`: a builder; `.subscribe().await` gives the
    /// [`LiveEvents`] stream. Needs the client's tenant id.
    pub fn live(&self, url_id: impl Into<String>) -> LiveBuilder {
        LiveBuilder {
            client: self.clone(),
            url_id: url_id.into(),
            ids: None,
            sso: None,
            since: None,
            socket_url: None,
            connect_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(25),
            missed_pongs: 2,
            backoff: ReconnectBackoff::default(),
            jitter_seed: None,
            catch_up_retry: RetryPolicy::default()
                .base(Duration::from_millis(500))
                .max_attempts(3)
                .max_wait(Duration::from_secs(2)),
            buffer: 1024,
            hold_limit: 10_000,
            own: None,
        }
    }
}

impl LiveBuilder {
    /// Starts from `since` (the server's time; catch-up first) rather than from the
    /// subscription. The log keeps events for a limited time: older ones are a
    /// [`LiveItem::Gap`] when the log shows them missing.
    pub fn since(mut self, since: chrono::DateTime<chrono::Utc>) -> Self {
        self.since = Some(since.timestamp_millis());
        self
    }

    /// The subscription ids, when the caller has them: no `GetCommentsPublic` call. The
    /// stream then starts at the socket's opening (the server's `Date` on the
    /// handshake) unless [`since`](Self::since) says otherwise.
    pub fn ids(mut self, ids: LiveIds) -> Self {
        self.ids = Some(ids);
        self
    }

    /// An SSO token (the `sso` parameter, as [`crate::sso`] builds it) for a page that
    /// needs a signed-in viewer: sent with the id request.
    pub fn sso(mut self, token: impl Into<String>) -> Self {
        self.sso = Some(Secret(token.into()));
        self
    }

    /// The socket's base URL (`ws(s)://` or `http(s)://`; `/sub` is appended), instead
    /// of the host derived from the client's.
    pub fn socket_url(mut self, url: impl Into<String>) -> Self {
        self.socket_url = Some(url.into());
        self
    }

    /// The protocol ping interval; 25 s by default (FastComments' SDKs; 5 s where NAT
    /// drops idle sockets), between 1 ms and a day.
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = interval.clamp(Duration::from_millis(1), Duration::from_secs(86_400));
        self
    }

    /// How many pings in a row may go unanswered (no frame at all received) before the
    /// socket counts as dead; 2 by default.
    pub fn missed_pongs(mut self, pings: u32) -> Self {
        self.missed_pongs = pings.max(1);
        self
    }

    /// How long the socket may take to open; 10 s by default.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The reconnect schedule; [`ReconnectBackoff::default`].
    pub fn backoff(mut self, backoff: ReconnectBackoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Seeds the reconnect jitter (tests; random otherwise).
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.jitter_seed = Some(seed);
        self
    }

    /// The retry policy of the catch-up's log reads: 3 attempts, 0.5 s then 1 s by
    /// default (a live view would rather reconnect than wait minutes).
    pub fn catch_up_retry(mut self, policy: RetryPolicy) -> Self {
        self.catch_up_retry = policy;
        self
    }

    /// How many batches of items wait for a slow consumer; 1,024 by default (at least
    /// 1). Items travel in batches of what was read from the socket at once (1 to 64),
    /// so at least this many items and at most 64 times as many wait.
    pub fn buffer(mut self, items: usize) -> Self {
        self.buffer = items.max(1);
        self
    }

    /// How many socket frames are held while a catch-up runs; 10,000 by default.
    pub fn hold_limit(mut self, frames: usize) -> Self {
        self.hold_limit = frames.max(1);
        self
    }

    /// Drops events echoing this client's own writes (their `broadcastId`).
    pub fn skip_own(mut self, own: BroadcastIds) -> Self {
        self.own = Some(own);
        self
    }

    /// Gets the subscription ids (unless given) and opens the socket (once; when that
    /// fails for a reason worth retrying, the stream tries again after its backoff when
    /// polled). Needs a Tokio runtime with I/O and time enabled, as the client does. Fails
    /// without a tenant id on the client, with a socket URL that cannot be built, or when
    /// the id request fails (after the client's retries), or when the socket is refused
    /// for good (HTTP 4xx other than 408/429); everything later is an item or the
    /// stream's last `Err`.
    pub async fn subscribe(self) -> Result<LiveEvents, Error> {
        if self.client.tenant_id().is_none() {
            return Err(Error::InvalidRequest(
                "live events need the client's tenant id (ClientBuilder::tenant_id)".into(),
            ));
        }
        let sso = self.sso.as_ref().map(|s| s.0.as_str());
        let (ids, server_now) = match self.ids {
            Some(ids) => (ids, None),
            None => socket::fetch_ids(&self.client, &self.url_id, sso).await?,
        };
        let settings = Settings {
            catch_up_client: self.client.with_retry(self.catch_up_retry),
            client: self.client,
            url_id: self.url_id,
            ids,
            since: self.since.or(server_now),
            server_date: server_now,
            socket_url: self.socket_url,
            connect_timeout: self.connect_timeout,
            ping_interval: self.ping_interval,
            missed_pongs: self.missed_pongs,
            backoff: self.backoff,
            jitter_seed: self.jitter_seed,
            hold_limit: self.hold_limit,
            own: self.own,
        };
        socket::subscription_url(&settings)?;
        let first = match socket::connect(&settings).await {
            Ok(opened) => Some(opened),
            Err(socket::ConnectError::Permanent(error)) => return Err(error),
            // Tried again, after the backoff, once the stream is polled.
            Err(socket::ConnectError::Transient(_)) => None,
        };
        let (tx, rx) = mpsc::channel(self.buffer);
        let shared = Shared::default();
        let producer = session::run(settings, shared.clone(), tx, first);
        Ok(LiveEvents {
            rx,
            ready: std::collections::VecDeque::new(),
            producer: Some(Box::pin(producer)),
            shared,
        })
    }
}

/// A page's live events: a [`Stream`] of [`LiveItem`]s, ending only when dropped or
/// after one `Err` (see the [module docs](self)).
///
/// Like any Rust stream it works while it is polled: reading the socket, pings,
/// reconnects and catch-ups all happen inside `next()`, in the consumer's own task (no
/// task of its own, no thread hop per event). A loop that awaits `next()` keeps it
/// connected; a consumer busy elsewhere for a while leaves the socket unread (the
/// reconnect's catch-up then delivers what it missed). Dropping it closes the socket.
pub struct LiveEvents {
    rx: mpsc::Receiver<session::Batch>,
    ready: std::collections::VecDeque<Result<LiveItem, Error>>,
    producer: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    shared: Shared,
}

impl LiveEvents {
    /// What the stream has done so far.
    pub fn stats(&self) -> LiveStats {
        self.shared.snapshot()
    }
}

impl fmt::Debug for LiveEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveEvents")
            .field("stats", &self.stats())
            .finish()
    }
}

impl Stream for LiveEvents {
    type Item = Result<LiveItem, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(item) = this.ready.pop_front() {
                return Poll::Ready(Some(item));
            }
            match this.rx.poll_recv(cx) {
                Poll::Ready(Some(batch)) => {
                    this.ready.extend(batch);
                    continue;
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => {}
            }
            // Nothing queued: let the producer read on. It queues what it reads before
            // it waits again, so one more look at the queue follows.
            let Some(producer) = this.producer.as_mut() else {
                return Poll::Pending;
            };
            if producer.as_mut().poll(cx).is_ready() {
                this.producer = None;
            }
            match this.rx.poll_recv(cx) {
                Poll::Ready(Some(batch)) => this.ready.extend(batch),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
