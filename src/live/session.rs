//! The producer behind a [`LiveEvents`](super::LiveEvents) stream: connect, catch up,
//! merge, keep alive, reconnect. A future the stream polls from its own `poll_next`
//! (no task of its own); it ends when the stream is dropped, or after a permanent
//! failure, which it sends as the stream's last item.

use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::{self, Message};

use super::event::{LiveEvent, LiveItem};
use super::merge::{Merger, Next, Out};
use super::{Settings, Shared, socket};
use crate::Error;

/// The most log reads one catch-up makes before it reports what it could not reach as a
/// gap (each read returns what the server gives; FastComments documents no page size).
const MAX_ROUNDS: u32 = 50;

/// Failed log reads (each after the catch-up's own retries) before a catch-up gives up,
/// reports the gap and goes on live: a log outage must not black out a healthy socket.
const MAX_FAILED_READS: u32 = 3;

/// A read of the log in flight.
type Read<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<LogPage, Error>> + Send + 'a>>;

/// Items sent to the stream at once: the frames already read from the socket, at most
/// [`BATCH`], go through the channel together (one wake-up of the consumer, not one per
/// event); a batch is sent as soon as no further frame is ready, so batching never
/// delays an event.
pub(crate) type Batch = Vec<Result<LiveItem, Error>>;

/// The most items of one [`Batch`].
pub(crate) const BATCH: usize = 64;

/// Why a connection ended.
enum End {
    /// It closed or failed and is worth opening again; `up` is how long it was open.
    Lost { up: Option<Duration> },
    /// The stream's consumer dropped it.
    Gone,
}

/// Runs the stream until it is dropped or fails for good; `first` is the socket
/// [`subscribe`](super::LiveBuilder::subscribe) opened, when it could.
pub(crate) async fn run(
    settings: Settings,
    shared: Shared,
    tx: mpsc::Sender<Batch>,
    mut first: Option<socket::Opened>,
) {
    let mut merger = Merger::new(settings.since, settings.hold_limit);
    let mut rng = settings
        .jitter_seed
        .map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
    let mut failures = 0;
    let mut clock = ServerClock::default();
    clock.read(settings.server_date);
    loop {
        let mut session = Session {
            settings: &settings,
            shared: &shared,
            tx: &tx,
            merger: &mut merger,
            clock: &mut clock,
            pending: Vec::new(),
        };
        let up = match session.run(first.take()).await {
            Ok(End::Lost { up }) => up,
            Ok(End::Gone) => return,
            Err(error) => {
                let _ = tx.send(vec![Err(error)]).await;
                return;
            }
        };
        failures = settings.backoff.after(failures, up);
        let wait = settings.backoff.wait(failures.saturating_sub(1), rng.f64());
        shared.count(|s| &s.reconnects);
        tokio::time::sleep(wait).await;
    }
}

/// One connection's life.
struct Session<'a> {
    settings: &'a Settings,
    shared: &'a Shared,
    tx: &'a mpsc::Sender<Batch>,
    pending: Batch,
    merger: &'a mut Merger,
    clock: &'a mut ServerClock,
}

/// The server's clock as last read (a `Date` header), and when it was read here: the
/// elapsed time since is measured on this machine's monotonic clock, never its wall
/// clock.
#[derive(Default)]
struct ServerClock(Option<(i64, Instant)>);

impl ServerClock {
    fn read(&mut self, date_ms: Option<i64>) {
        if let Some(date) = date_ms {
            self.0 = Some((date, Instant::now()));
        }
    }

    /// The server's clock now, or this machine's when the server never sent a `Date`.
    fn now_or_local(&self) -> Option<i64> {
        self.now()
            .or_else(|| Some(chrono::Utc::now().timestamp_millis()))
    }

    /// The latest the server's clock can be now: a `Date` has whole seconds, so up to
    /// 999 ms more than [`now`](Self::now). Where a gap ends when nothing later is known.
    fn latest(&self) -> Option<i64> {
        self.now().map(|now| now.saturating_add(999))
    }

    /// The server's clock now, estimated.
    fn now(&self) -> Option<i64> {
        let (date, at) = self.0?;
        let elapsed = i64::try_from(at.elapsed().as_millis()).unwrap_or(i64::MAX);
        Some(date.saturating_add(elapsed))
    }
}

/// The consumer is gone.
struct Gone;

impl<'a> Session<'a> {
    async fn run(&mut self, opened: Option<socket::Opened>) -> Result<End, Error> {
        let connect = async {
            match opened {
                Some(opened) => Ok(opened),
                None => socket::connect(self.settings).await,
            }
        };
        let (ws, handshake_date) = match connect.await {
            Ok(opened) => opened,
            Err(socket::ConnectError::Permanent(error)) => return Err(error),
            Err(socket::ConnectError::Transient(reason)) => {
                tracing::debug!(%reason, "live socket did not open");
                return Ok(End::Lost { up: None });
            }
        };
        let opened = Instant::now();
        self.shared.count(|s| &s.connections);
        self.clock.read(handshake_date);
        // The start: the server's clock, or (a server that sends no `Date`) this
        // machine's, the one place it is used.
        if let Some(now) = self.clock.now_or_local() {
            self.merger.start_at_least(handshake_date.unwrap_or(now));
        }
        let (mut sink, mut frames) = ws.split();
        let period = self.settings.ping_interval;
        let mut ping = tokio::time::interval_at(Instant::now() + period, period);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut unanswered = 0u32;
        self.merger.begin_catch_up();
        let mut rounds = 0u32;
        let mut failed_reads = 0u32;
        let mut catch_up = Some(self.read(Duration::ZERO));
        let mut waiting = false;
        let end = loop {
            tokio::select! {
                // The stream owns this future: once it is dropped nothing polls here,
                // so there is no "consumer gone" branch to wait on.
                biased;
                frame = frames.next() => {
                    let frame = match frame {
                        Some(Ok(frame)) => frame,
                        Some(Err(error)) => {
                            if self.unreadable(&error).await.is_err() {
                                return Ok(End::Gone);
                            }
                            break End::Lost { up: Some(opened.elapsed()) };
                        }
                        None => break End::Lost { up: Some(opened.elapsed()) },
                    };
                    unanswered = 0;
                    if self.frame(frame).await.is_err() {
                        return Ok(End::Gone);
                    }
                    // The frames already read: into the same batch.
                    let mut open = true;
                    while open && self.pending.len() < BATCH {
                        match frames.next().now_or_never() {
                            Some(Some(Ok(frame))) => {
                                if self.frame(frame).await.is_err() {
                                    return Ok(End::Gone);
                                }
                            }
                            Some(_) => open = false,
                            None => break,
                        }
                    }
                    if self.flush().await.is_err() {
                        return Ok(End::Gone);
                    }
                    if !open {
                        break End::Lost { up: Some(opened.elapsed()) };
                    }
                }
                answer = async { catch_up.as_mut().expect("guarded by the select").await }, if catch_up.is_some() => {
                    catch_up = None;
                    waiting = false;
                    let mut outs = Vec::new();
                    match answer {
                        Ok(page) => {
                            rounds += 1;
                            if self.apply(page, &mut outs).await.is_err() {
                                return Ok(End::Gone);
                            }
                            if !self.merger.catching_up() {
                            } else if rounds < MAX_ROUNDS {
                                catch_up = Some(self.read(Duration::ZERO));
                            } else {
                                outs.extend(self.merger.catch_up_failed(self.clock.latest()));
                                outs.extend(self.merger.end_catch_up());
                            }
                        }
                        Err(error) if error.is_retryable() && failed_reads + 1 < MAX_FAILED_READS => {
                            // The socket is fine: keep it, hold its frames, read again.
                            failed_reads += 1;
                            let wait = error.retry_after().unwrap_or_else(|| self.settings.backoff.ceiling(failed_reads));
                            tracing::debug!(%error, ?wait, "live catch-up failed; reading the log again");
                            catch_up = Some(self.read(wait));
                            waiting = true;
                        }
                        Err(error) => {
                            tracing::warn!(%error, "the event log could not be read: reporting a gap and going on live");
                            outs.extend(self.merger.catch_up_failed(self.clock.latest()));
                            outs.extend(self.merger.end_catch_up());
                        }
                    }
                    if self.deliver(outs).await.is_err() || self.flush().await.is_err() {
                        return Ok(End::Gone);
                    }
                }
                _ = ping.tick() => {
                    if unanswered >= self.settings.missed_pongs {
                        tracing::debug!(unanswered, "live socket missed its pongs; reconnecting");
                        self.shared.count(|s| &s.dead_sockets);
                        break End::Lost { up: Some(opened.elapsed()) };
                    }
                    unanswered += 1;
                    if sink.send(Message::Ping(Default::default())).await.is_err() {
                        break End::Lost { up: Some(opened.elapsed()) };
                    }
                }
            }
        };
        // The socket is gone. A log read already under way is applied (work fetched is
        // never thrown away: a socket that closes at once still lets the log through);
        // frames held for the catch-up are dropped, and the next one reads them again.
        if let (Some(read), false) = (catch_up, waiting)
            && let Ok(page) = read.await
        {
            let mut outs = Vec::new();
            if self.apply(page, &mut outs).await.is_err()
                || self.deliver(outs).await.is_err()
                || self.flush().await.is_err()
            {
                return Ok(End::Gone);
            }
        }
        self.merger.abandon_catch_up();
        Ok(end)
    }

    /// A read of the log from where the merge says, after `wait`.
    fn read(&self, wait: Duration) -> Read<'a> {
        let settings: &'a Settings = self.settings;
        let from = self.merger.read_from();
        Box::pin(async move {
            tokio::time::sleep(wait).await;
            socket::read_log(settings, from).await
        })
    }

    /// Applies one answer of the log; the merge's outputs go to `outs`.
    async fn apply(&mut self, page: LogPage, outs: &mut Vec<Out>) -> Result<(), Gone> {
        self.shared.count(|s| &s.log_reads);
        self.clock.read(page.server_now);
        self.watch_clock();
        let (more, next) = self.merger.catch_up(page.events, page.server_now);
        outs.extend(more);
        for (raw, reason) in page.malformed {
            if self.merger.first_report(&raw) {
                self.emit(LiveItem::Malformed { raw, reason }).await?;
            }
        }
        if next == Next::Done {
            outs.extend(self.merger.end_catch_up());
        }
        Ok(())
    }

    /// A frame tungstenite could not read (text that is not UTF-8, a frame over the
    /// size limit): an item, before the reconnect such an error forces.
    async fn unreadable(&mut self, error: &tungstenite::Error) -> Result<(), Gone> {
        use tungstenite::error::{CapacityError, Error as WsError};
        let reason = match error {
            WsError::Utf8(_) => "a text frame that is not UTF-8".to_owned(),
            WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => {
                format!("a frame of {size} bytes, over the {max_size}-byte limit")
            }
            _ => return Ok(()),
        };
        self.emit(LiveItem::Malformed {
            raw: String::new(),
            reason,
        })
        .await?;
        self.flush().await
    }

    /// One frame from the socket. Any frame proves the socket alive.
    async fn frame(&mut self, frame: Message) -> Result<(), Gone> {
        let binary;
        let text = match &frame {
            Message::Text(text) => text.as_str(),
            Message::Binary(bytes) => {
                binary = String::from_utf8_lossy(bytes);
                &binary
            }
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_) => {
                return Ok(());
            }
        };
        if text == "pong" {
            return Ok(());
        }
        match serde_json::from_str::<Value>(text) {
            Err(error) => {
                let reason = format!("not JSON: {error}");
                let raw = text.to_owned();
                self.emit(LiveItem::Malformed { raw, reason }).await
            }
            Ok(event) => match event.get("timestamp").and_then(Value::as_i64) {
                Some(timestamp) => {
                    self.watch_clock();
                    let outs = self.merger.socket(timestamp, event);
                    self.deliver(outs).await
                }
                // Not stored in the log (presence): delivered as it comes.
                None => self.event(event).await,
            },
        }
    }

    /// Tells the merge how late a genuine timestamp can be.
    fn watch_clock(&mut self) {
        if let Some(now) = self.clock.now_or_local() {
            self.merger.set_horizon(now);
        }
    }

    async fn deliver(&mut self, outs: Vec<Out>) -> Result<(), Gone> {
        self.shared.set(|s| &s.duplicates, self.merger.duplicates);
        self.shared
            .set(|s| &s.hold_overflows, self.merger.overflows);
        for out in outs {
            match out {
                Out::Event(event) => self.event(event).await?,
                Out::Gap { from, to } => {
                    self.shared.count(|s| &s.gaps);
                    self.emit(LiveItem::Gap { from, to }).await?;
                }
            }
        }
        Ok(())
    }

    /// Types an event and sends it on, unless it echoes this client's own write.
    async fn event(&mut self, event: Value) -> Result<(), Gone> {
        let own = event
            .get("broadcastId")
            .and_then(Value::as_str)
            .is_some_and(|id| {
                self.settings
                    .own
                    .as_ref()
                    .is_some_and(|own| own.contains(id))
            });
        if own {
            self.shared.count(|s| &s.own_echoes);
            return Ok(());
        }
        match LiveEvent::from_value(event) {
            Ok(event) => self.emit(LiveItem::Event(event)).await,
            Err((reason, event)) => {
                let raw = event.to_string();
                self.emit(LiveItem::Malformed { raw, reason }).await
            }
        }
    }

    /// Queues an item for the next batch; sends the batch when it is full.
    async fn emit(&mut self, item: LiveItem) -> Result<(), Gone> {
        if matches!(item, LiveItem::Event(_)) {
            self.shared.count(|s| &s.delivered);
        }
        self.pending.push(Ok(item));
        if self.pending.len() >= BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    /// Sends what is queued (waiting while the consumer's buffer is full).
    async fn flush(&mut self) -> Result<(), Gone> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.pending);
        self.tx.send(batch).await.map_err(|_| Gone)
    }
}

/// One answer of the event log, read for a catch-up.
pub(crate) struct LogPage {
    /// Stored events with their timestamps, in the log's order.
    pub(crate) events: Vec<(i64, Value)>,
    /// Entries whose `data` is not an event: text and why.
    pub(crate) malformed: Vec<(String, String)>,
    /// The server's clock when it answered.
    pub(crate) server_now: Option<i64>,
}

/// The part of `GetEventLogResponse` a catch-up reads.
#[derive(Deserialize)]
pub(crate) struct LogAnswer {
    #[serde(default)]
    events: Vec<LogEntry>,
}

/// An `EventLogEntry`: its `data` is a JSON string holding one `LiveEvent` (`LIVE.md`).
#[derive(Deserialize)]
struct LogEntry {
    #[serde(default)]
    data: Value,
    #[serde(rename = "createdAt", default)]
    created_at: Value,
}

impl LogPage {
    pub(crate) fn from_answer(answer: LogAnswer, server_now: Option<i64>) -> LogPage {
        let mut page = LogPage {
            events: Vec::new(),
            malformed: Vec::new(),
            server_now,
        };
        for entry in answer.events {
            let (raw, parsed) = match entry.data {
                Value::String(text) => {
                    let parsed =
                        serde_json::from_str::<Value>(&text).map_err(|e| format!("not JSON: {e}"));
                    (text, parsed)
                }
                other => (other.to_string(), Ok(other)),
            };
            let timestamp = parsed.as_ref().ok().and_then(|e| {
                e.get("timestamp")
                    .and_then(Value::as_i64)
                    .or_else(|| created_ms(&entry.created_at))
            });
            match (parsed, timestamp) {
                (Ok(event), Some(timestamp)) if event.is_object() => {
                    page.events.push((timestamp, event))
                }
                (Ok(_), _) => page
                    .malformed
                    .push((raw, "a log entry without an event and its time".into())),
                (Err(reason), _) => page.malformed.push((raw, reason)),
            }
        }
        page
    }
}

fn created_ms(created_at: &Value) -> Option<i64> {
    let text = created_at.as_str()?;
    Some(
        chrono::DateTime::parse_from_rfc3339(text)
            .ok()?
            .timestamp_millis(),
    )
}

impl From<tungstenite::Error> for socket::ConnectError {
    fn from(error: tungstenite::Error) -> Self {
        socket::ConnectError::from_handshake(error)
    }
}
