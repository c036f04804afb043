//! [`Integration`]: the whole protocol for one site, driven by [`tick`](Integration::tick)
//! or [`run`](Integration::run).

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::{Either, select};
use tokio::time::Instant;

use super::api::IntegrationApi;
use super::checkpoint::Checkpoint;
use super::error::Error;
use super::site::Site;
use super::store::{Fence, IntegrationState, LeaseOutcome, StateStore};
use super::token::Token;
use super::wire::Command;
use crate::Client;

/// The longest interval between rounds: events in FastComments' log expire after two
/// weeks, so a site polling less often would lose them.
pub const MAX_INTERVAL: Duration = Duration::from_secs(14 * 24 * 3600);

/// Which flavour of the command stream to poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Flavour {
    /// `GET /commands`, then `GET /events` on `FetchEvents` (the current protocol).
    #[default]
    Commands,
    /// `GET /stream`: commands and events in one reply (the older protocol).
    Stream,
}

/// What one [`tick`](Integration::tick) did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TickReport {
    /// Whether the token is validated (nothing else happens until it is).
    pub validated: bool,
    /// The commands received, by name.
    pub commands: Vec<String>,
    /// Events applied to the site (each exactly once).
    pub applied: u64,
    /// Events received again and recognised as applied already (not to be confused with
    /// [`skipped_events`](TickReport::skipped_events), given up).
    pub skipped: u64,
    /// Events given up: the site's [`apply`](super::Site::apply) failed with a
    /// [`Permanent`](super::Permanent) error, and [`skip`](super::Site::skip) stored the
    /// checkpoint past them: `(_id, the site's error)`.
    pub skipped_events: Vec<(String, String)>,
    /// Local comments given up: FastComments refused each even alone (HTTP 413, over
    /// its body size limit), and [`skip_upload`](super::Site::skip_upload) stored the
    /// cursor past it: `(externalId, reason)`.
    pub skipped_uploads: Vec<(String, String)>,
    /// Commands left for this tick because their work failed permanently (a
    /// [`Permanent`](super::Permanent) site error outside one event): `(name, error)`.
    /// The other commands of the tick ran; the server asks again.
    pub skipped_commands: Vec<(String, String)>,
    /// Events delivered as [`Event::Malformed`](super::Event::Malformed): `(_id, reason)`.
    pub malformed: Vec<(String, String)>,
    /// Events that could not be placed in the log (no `createdAt`), not delivered:
    /// `(_id, reason)`.
    pub undeliverable: Vec<(String, String)>,
    /// Commands this crate does not know, skipped.
    pub unknown_commands: Vec<String>,
    /// Local comments FastComments accepted.
    pub uploaded: u64,
    /// Whether the tick stopped at its time budget with work left.
    pub budget_exhausted: bool,
    /// Whether setup is done: the token validated and the server said so
    /// (`SetSyncDone` or `SetSetupCompleted`). [`run`](Integration::run) polls every few
    /// seconds until it is.
    pub setup_done: bool,
}

/// Settings of an [`Integration`].
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) integration_type: String,
    pub(crate) domain: String,
    pub(crate) skip_initial_sync: bool,
    pub(crate) flavour: Flavour,
    pub(crate) batch_size: usize,
    pub(crate) tick_budget: Duration,
    pub(crate) setup_poll: Duration,
    pub(crate) interval: Duration,
    pub(crate) lease_ttl: Duration,
    /// The longest one call of the client can take, its retries included
    /// ([`Client::longest_call`]): added to `lease_ttl`.
    pub(crate) longest_call: Duration,
    pub(crate) owner: String,
    pub(crate) on_upload: Option<Arc<dyn Fn(u64, u64) + Send + Sync>>,
    /// The runner's clock, epoch milliseconds: what leases are compared with in stores
    /// without a clock of their own.
    pub(crate) clock: Clock,
}

/// A runner's clock: now, in epoch milliseconds.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("integration_type", &self.integration_type)
            .field("domain", &self.domain)
            .field("skip_initial_sync", &self.skip_initial_sync)
            .field("flavour", &self.flavour)
            .field("batch_size", &self.batch_size)
            .field("tick_budget", &self.tick_budget)
            .field("setup_poll", &self.setup_poll)
            .field("interval", &self.interval)
            .field("lease_ttl", &self.lease_ttl)
            .field("longest_call", &self.longest_call)
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

/// A site's integration with FastComments: setup, command stream, event log, upstream
/// sync. Build it with [`Integration::builder`], then call [`tick`](Integration::tick)
/// from your scheduler or let [`run`](Integration::run) loop.
///
/// ```no_run
/// # async fn demo(client: fastcomments::Client) -> Result<(), fastcomments::integration::Error> {
/// use fastcomments::integration::{FileStore, Integration, MemorySite};
/// let site = MemorySite::new(); // your comment store, implementing `Site`
/// let integration = Integration::builder(client, site, FileStore::new("fastcomments.json"))
///     .integration_type("my-forum")
///     .domain("forum.example.com")
///     .build()
///     .await?;
/// println!("ask your admin to open {}", integration.confirmation_url());
/// integration.run(tokio::signal::ctrl_c().map(|_| ())).await?;
/// # Ok(()) }
/// # use futures::FutureExt;
/// ```
#[derive(Debug)]
pub struct Integration<S, St> {
    pub(crate) api: IntegrationApi,
    pub(crate) site: S,
    pub(crate) store: St,
    pub(crate) config: Config,
    /// The fence of the lease this runner took last (0: none yet).
    pub(crate) fence: AtomicU64,
}

/// Builder for [`Integration`].
#[must_use]
pub struct IntegrationBuilder<S, St> {
    client: Client,
    site: S,
    store: St,
    token: Option<Token>,
    config: Config,
}

impl<S, St> fmt::Debug for IntegrationBuilder<S, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntegrationBuilder")
            .field("token", &self.token)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: Site, St: StateStore> Integration<S, St> {
    /// Starts a builder over `client` (its host, retries, timeouts and body limit serve
    /// every call), the site's store and the integration's state store.
    pub fn builder(client: Client, site: S, store: St) -> IntegrationBuilder<S, St> {
        let longest_call = client.longest_call();
        IntegrationBuilder {
            client,
            site,
            store,
            token: None,
            config: Config {
                integration_type: "rust".into(),
                domain: String::new(),
                skip_initial_sync: false,
                flavour: Flavour::Commands,
                batch_size: 100,
                tick_budget: Duration::from_secs(30),
                setup_poll: Duration::from_secs(3),
                interval: Duration::from_secs(24 * 3600),
                lease_ttl: Duration::from_secs(600),
                longest_call,
                owner: format!("runner-{}", uuid::Uuid::new_v4()),
                on_upload: None,
                clock: Arc::new(wall_ms),
            },
        }
    }

    /// The page where a site admin confirms the token.
    pub fn confirmation_url(&self) -> String {
        self.api.confirmation_url()
    }

    /// The integration endpoints, for calls of your own (e.g. the API secret).
    pub fn api(&self) -> &IntegrationApi {
        &self.api
    }

    /// The site's store.
    pub fn site(&self) -> &S {
        &self.site
    }

    /// The state store.
    pub fn store(&self) -> &St {
        &self.store
    }

    /// One round, as FastComments' reference cores do it: until the token is validated,
    /// announce it (`PUT /token`) and return; then take the lease, poll the command
    /// stream and carry out each command (upload, fetch events, note setup progress),
    /// within the tick's time budget, and give the lease back.
    ///
    /// The budget starts when the commands have arrived and bounds when new work (a
    /// page of events, an upload batch) starts; what a call brought back is applied
    /// whatever the time, so a tick whose calls are slow (retried a minute later)
    /// still makes progress.
    ///
    /// A failed tick loses nothing: call it again later.
    pub async fn tick(&self) -> Result<TickReport, Error> {
        let mut report = TickReport::default();
        let loaded = self.store.load().await.map_err(Error::store)?;
        let validation = if loaded.validated {
            None
        } else {
            match self.announce().await? {
                Some(tenant_id) => Some(tenant_id),
                None => return Ok(report),
            }
        };
        report.validated = true;
        self.begin_lease().await?;
        let outcome = self.held(validation, &mut report).await;
        let released = self
            .store
            .release_lease(&self.config.owner, self.fence())
            .await;
        let state = outcome?;
        released.map_err(Error::store)?;
        report.setup_done = state.sync_done || state.setup_completed;
        Ok(report)
    }

    /// The part of a tick under the lease: the state read again (another runner may
    /// have written it before this one took the lease), the validation stored, the
    /// round. Returns the state after it.
    async fn held(
        &self,
        validation: Option<Option<String>>,
        report: &mut TickReport,
    ) -> Result<IntegrationState, Error> {
        let mut state = self.store.load().await.map_err(Error::store)?;
        if let Some(tenant_id) = validation.filter(|_| !state.validated) {
            state.validated = true;
            state.tenant_id = tenant_id;
            self.store
                .save(&state, self.fence())
                .await
                .map_err(Error::store)?;
        }
        self.round(&mut state, report).await?;
        Ok(state)
    }

    /// Ticks until `shutdown` completes: every few seconds ([`setup_poll`]) until the
    /// token is validated and the server says setup is done, or while a tick ran out of
    /// budget; then every [`interval`]. A failed tick is logged and tried again at the
    /// next round. Cancelling a tick midway is safe: every write it makes is atomic.
    ///
    /// [`setup_poll`]: IntegrationBuilder::setup_poll
    /// [`interval`]: IntegrationBuilder::interval
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let tick = std::pin::pin!(self.tick());
            let wait = match select(tick, shutdown.as_mut()).await {
                Either::Right(_) => return Ok(()),
                Either::Left((Ok(report), _)) => self.next_wait(&report),
                Either::Left((Err(error), _)) => {
                    tracing::warn!(%error, "integration tick failed; trying again later");
                    self.config.setup_poll.max(Duration::from_secs(60))
                }
            };
            let sleep = std::pin::pin!(tokio::time::sleep(wait));
            if let Either::Right(_) = select(sleep, shutdown.as_mut()).await {
                return Ok(());
            }
        }
    }

    fn next_wait(&self, report: &TickReport) -> Duration {
        if report.setup_done && !report.budget_exhausted {
            self.config.interval
        } else {
            self.config.setup_poll
        }
    }

    /// `PUT /token` once: `Some(tenantId)` when the token is validated (stored by the
    /// caller, under the lease).
    async fn announce(&self) -> Result<Option<Option<String>>, Error> {
        let status = self
            .api
            .register(
                &self.config.integration_type,
                &self.config.domain,
                self.config.skip_initial_sync,
            )
            .await
            .map_err(Error::from_call)?;
        Ok(status.is_token_validated.then_some(status.tenant_id))
    }

    /// Stores a new token's state under the lease (a token changed while another
    /// runner ticks is refused with [`Error::LeaseHeld`] rather than written under it).
    async fn save_under_lease(&self, state: &IntegrationState) -> Result<(), Error> {
        let fence = self.begin_lease().await?;
        let saved = self.store.save(state, fence).await.map_err(Error::store);
        let released = self
            .store
            .release_lease(&self.config.owner, self.fence())
            .await;
        saved?;
        released.map_err(Error::store)
    }

    /// Takes the lease at the start of a tick (or download) and keeps its fence for the
    /// writes that follow; fails when another runner holds it.
    pub(crate) async fn begin_lease(&self) -> Result<Fence, Error> {
        let fence = self.acquire().await?;
        self.fence.store(fence.0, Ordering::SeqCst);
        Ok(fence)
    }

    /// Renews the lease taken by [`begin_lease`](Integration::begin_lease); fails when
    /// another runner holds it, or took it in between (the fence moved: this runner
    /// stops and writes nothing more).
    ///
    /// The lease lasts the longest call the client can make, retries included
    /// ([`Client::longest_call`]), plus [`lease_ttl`](IntegrationBuilder::lease_ttl):
    /// it is renewed after every call, before the writes that use its answer, so a
    /// runner waiting on a slow call never loses it, and one whose lease was taken over
    /// meanwhile stops before it writes. The writes carry the fence as well, so one
    /// paused between this renewal and its write is refused where it writes.
    pub(crate) async fn take_lease(&self) -> Result<(), Error> {
        let fence = self.acquire().await?;
        let held = self.fence();
        if fence != held {
            return Err(Error::Fenced {
                fence: held,
                current: fence,
            });
        }
        Ok(())
    }

    async fn acquire(&self) -> Result<Fence, Error> {
        let ttl = self
            .config
            .lease_ttl
            .saturating_add(self.config.longest_call);
        let ttl = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let outcome = self
            .store
            .acquire_lease(&self.config.owner, (self.config.clock)(), ttl)
            .await
            .map_err(Error::store)?;
        match outcome {
            LeaseOutcome::Taken(fence) => Ok(fence),
            LeaseOutcome::Held(lease) => Err(Error::LeaseHeld {
                owner: lease.owner,
                until_ms: lease.until_ms,
            }),
        }
    }

    /// The fence of the lease this runner holds, carried by every write.
    pub(crate) fn fence(&self) -> Fence {
        Fence(self.fence.load(Ordering::SeqCst))
    }

    async fn round(
        &self,
        state: &mut IntegrationState,
        report: &mut TickReport,
    ) -> Result<(), Error> {
        // Read once per tick: the event log moves it, nothing else does.
        let mut checkpoint = self.site.checkpoint().await.map_err(Error::site)?;
        let from = checkpoint.from_date_time();
        let (commands, events) = match self.config.flavour {
            Flavour::Commands => (
                self.api.commands(from).await.map_err(Error::from_call)?,
                None,
            ),
            Flavour::Stream => {
                let page = self.api.stream(from).await.map_err(Error::from_call)?;
                (page.commands, Some(page.events))
            }
        };
        // The commands are work fetched: the budget bounds the work they start from now
        // on, so a slow poll cannot leave the tick without time for its first step.
        let deadline = Instant::now() + self.config.tick_budget;
        self.take_lease().await?;
        let asked_upload = commands.iter().any(|c| {
            matches!(
                c,
                Command::SendComments { .. } | Command::SendNextCommentsPayload { .. }
            )
        });
        for command in commands {
            let name = command.name().to_owned();
            report.commands.push(name.clone());
            let outcome = self
                .run_command(command, state, &mut checkpoint, report, deadline)
                .await;
            passed(outcome, name, report)?;
        }
        if state.upload_in_progress && !asked_upload {
            let outcome = self.upload(state, None, report, deadline).await;
            passed(outcome, "SendComments".to_owned(), report)?;
        }
        if let Some(page) = events {
            self.stream_events(page, checkpoint, report).await?;
        }
        Ok(())
    }

    async fn run_command(
        &self,
        command: Command,
        state: &mut IntegrationState,
        checkpoint: &mut Checkpoint,
        report: &mut TickReport,
        deadline: Instant,
    ) -> Result<(), Error> {
        match command {
            Command::FetchEvents { .. } => self.fetch_events(checkpoint, report, deadline).await,
            Command::SendComments { .. } => self.upload(state, None, report, deadline).await,
            Command::SendNextCommentsPayload { count, .. } => {
                self.upload(state, Some(count), report, deadline).await
            }
            Command::SetSyncDone { .. } if !state.sync_done => {
                state.sync_done = true;
                self.store
                    .save(state, self.fence())
                    .await
                    .map_err(Error::store)
            }
            Command::SetSetupCompleted { .. } if !state.setup_completed => {
                state.setup_completed = true;
                self.store
                    .save(state, self.fence())
                    .await
                    .map_err(Error::store)
            }
            Command::SetSyncDone { .. } | Command::SetSetupCompleted { .. } => Ok(()),
            Command::Unknown { name, .. } => {
                tracing::warn!(command = %name, "unknown integration command skipped");
                report.unknown_commands.push(name);
                Ok(())
            }
        }
    }
}

impl<S: Site, St: StateStore> IntegrationBuilder<S, St> {
    /// The token to use; when none is given, the stored one, or a new random one.
    /// A token given here that differs from the stored one replaces it and restarts
    /// validation.
    pub fn token(mut self, token: Token) -> Self {
        self.token = Some(token);
        self
    }

    /// The kind of platform, sent as `integrationType` (default `rust`).
    pub fn integration_type(mut self, kind: impl Into<String>) -> Self {
        self.config.integration_type = kind.into();
        self
    }

    /// The site's domain, sent as `domain`.
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.config.domain = domain.into();
        self
    }

    /// Asks FastComments not to request the site's comments (a platform with none of
    /// its own, or an upgrade).
    pub fn skip_initial_sync(mut self, skip: bool) -> Self {
        self.config.skip_initial_sync = skip;
        self
    }

    /// Polls the older single-call `/stream` instead of `/commands` + `/events`.
    pub fn flavour(mut self, flavour: Flavour) -> Self {
        self.config.flavour = flavour;
        self
    }

    /// Comments per upload batch (default 100, at least 1); divided by ten on each
    /// HTTP 413.
    pub fn batch_size(mut self, size: usize) -> Self {
        self.config.batch_size = size.max(1);
        self
    }

    /// How long one tick may work before it stops and leaves the rest to the next
    /// (default 30 s), counted from the arrival of the commands. It bounds when new
    /// work starts (the next page of events, the next upload batch): a call in flight
    /// is finished first, and what it brought (a page, an accepted batch) is applied
    /// even past the budget. With a zero budget a tick only polls the commands.
    pub fn tick_budget(mut self, budget: Duration) -> Self {
        self.config.tick_budget = budget;
        self
    }

    /// How often [`run`](Integration::run) ticks until setup is done (default 3 s).
    pub fn setup_poll(mut self, every: Duration) -> Self {
        self.config.setup_poll = every;
        self
    }

    /// How often [`run`](Integration::run) ticks once setup is done (default a day;
    /// capped at [`MAX_INTERVAL`], two weeks, after which events expire).
    pub fn interval(mut self, every: Duration) -> Self {
        self.config.interval = every.min(MAX_INTERVAL);
        self
    }

    /// How long a runner's lease lasts past the longest call the client can make
    /// ([`Client::longest_call`], its retries included), without renewal (default 10
    /// minutes): the time the runner has for its own writes after a call. The lease is
    /// renewed after every call and before the writes that use its answer; a runner that
    /// crashed blocks the others for this long plus the longest call.
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.config.lease_ttl = ttl;
        self
    }

    /// This runner's id in the lease (default a random one).
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.config.owner = owner.into();
        self
    }

    /// The runner's clock, in epoch milliseconds (default the wall clock). Stores without
    /// a clock of their own ([`MemoryStore`](super::MemoryStore),
    /// [`FileStore`](super::FileStore)) compare leases with it, so a runner whose clock
    /// runs ahead can take a lease that has not expired; the SQL stores use the
    /// database's clock and ignore it. For tests of exactly that, and for a clock the
    /// process keeps in step some other way.
    pub fn clock(mut self, now_ms: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.config.clock = Arc::new(now_ms);
        self
    }

    /// Called after each accepted upload batch with `(uploaded so far in this upload,
    /// remaining)`: a progress line for the admin.
    pub fn on_upload(mut self, f: impl Fn(u64, u64) + Send + Sync + 'static) -> Self {
        self.config.on_upload = Some(Arc::new(f));
        self
    }

    /// Loads the stored state, settles the token (given, stored, or a new one) and
    /// stores it.
    pub async fn build(self) -> Result<Integration<S, St>, Error> {
        let state = self.store.load().await.map_err(Error::store)?;
        let (token, changed) = match (self.token, state.token.clone()) {
            (Some(given), Some(stored)) if given == stored => (given, None),
            (Some(given), _) => {
                let fresh = IntegrationState {
                    token: Some(given.clone()),
                    ..IntegrationState::default()
                };
                (given, Some(fresh))
            }
            (None, Some(stored)) => (stored, None),
            (None, None) => {
                let token = Token::generate();
                let fresh = IntegrationState {
                    token: Some(token.clone()),
                    ..state
                };
                (token, Some(fresh))
            }
        };
        let integration = Integration {
            api: self.client.integration(token),
            site: self.site,
            store: self.store,
            config: self.config,
            fence: AtomicU64::new(0),
        };
        if let Some(state) = changed {
            integration.save_under_lease(&state).await?;
        }
        Ok(integration)
    }
}

/// A command's outcome: a permanent failure is reported and passed (the other commands
/// run), any other is the tick's.
fn passed(outcome: Result<(), Error>, name: String, report: &mut TickReport) -> Result<(), Error> {
    match outcome {
        Err(error) if error.is_permanent() => {
            tracing::warn!(command = %name, %error, "integration command failed permanently; skipped");
            report.skipped_commands.push((name, error.to_string()));
            Ok(())
        }
        other => other,
    }
}

/// Now, in epoch milliseconds, by the wall clock (leases are compared across
/// processes).
fn wall_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}
