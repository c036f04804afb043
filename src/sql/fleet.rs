//! [`Fleet`]: the integrations of many sites, shared by workers through the database.
//!
//! Why row locks and not a job queue or a coordinator of our own: a site is not a job
//! that runs once but a row with a lease that recurs at its own cadence, and the lease
//! is already what keeps two runners off one site. A claim is one `UPDATE` of the due,
//! unleased rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent workers take
//! different rows instead of queueing on the same ones) that takes their leases, raises
//! their fences and sets their next due time, in one round trip for a whole batch.
//! Nothing else coordinates the workers: a new one takes a share at its next claim, a
//! dead one's leases expire by the database's clock and its sites are claimed again, a
//! stopped one releases what it holds and makes it due at once.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sqlx::Row;
use tokio::task::JoinSet;

use super::db::{Backend, SqlDb};
use super::site::SqlSite;
use super::state::{MAX_LEASE_MS, SqlStateStore, fence_of, fence_value};
use crate::Client;
use crate::integration::{
    BoxError, Error, Fence, Integration, IntegrationState, MAX_INTERVAL, Site, TickReport, Token,
};

/// A site of a fleet: a row of `fastcomments_sites`. `Debug` hides the token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FleetSite {
    /// The site's id, the key of its rows in every table.
    pub site_id: String,
    /// Its integration token.
    pub token: Token,
    /// Its domain, sent as `domain`.
    pub domain: String,
    /// How to reach its content: handed to the [`SiteFactory`] as is (a database URL,
    /// a directory, a JSON object; [`SqlSiteFactory`] ignores it).
    pub content: String,
    /// How often it is ticked, between [`MIN_FLEET_INTERVAL`] and [`MAX_INTERVAL`].
    pub interval: Duration,
}

/// The shortest interval a fleet site is ticked at, one second: a zero interval would
/// tick a site as fast as a worker can, flooding FastComments (the schema's `CHECK`
/// holds hand-written rows to it too).
pub const MIN_FLEET_INTERVAL: Duration = Duration::from_secs(1);

impl FleetSite {
    /// A site ticked every `interval` (brought within [`MIN_FLEET_INTERVAL`] and
    /// [`MAX_INTERVAL`], two weeks, after which FastComments' events expire), with no
    /// domain and no content.
    pub fn new(site_id: impl Into<String>, token: Token, interval: Duration) -> FleetSite {
        FleetSite {
            site_id: site_id.into(),
            token,
            domain: String::new(),
            content: String::new(),
            interval: interval.clamp(MIN_FLEET_INTERVAL, MAX_INTERVAL),
        }
    }

    /// With its domain.
    pub fn domain(mut self, domain: impl Into<String>) -> FleetSite {
        self.domain = domain.into();
        self
    }

    /// With how to reach its content.
    pub fn content(mut self, content: impl Into<String>) -> FleetSite {
        self.content = content.into();
        self
    }
}

/// Makes the [`Site`] of a fleet's site: the user's own types plug in here.
///
/// ```
/// use fastcomments::integration::{BoxError, MemorySite};
/// use fastcomments::sql::{FleetSite, SiteFactory, SqlDb};
/// /// Every site in memory (a test); a real factory opens `site.content`.
/// struct InMemory;
/// impl SiteFactory for InMemory {
///     type Site = MemorySite;
///     async fn site(&self, _db: &SqlDb, _site: &FleetSite) -> Result<MemorySite, BoxError> {
///         Ok(MemorySite::new())
///     }
/// }
/// ```
pub trait SiteFactory: Send + Sync + 'static {
    /// The site type.
    type Site: Site + 'static;

    /// The site for `site` (called before each of its ticks; keep expensive handles,
    /// like pools, in the factory).
    fn site(
        &self,
        db: &SqlDb,
        site: &FleetSite,
    ) -> impl Future<Output = Result<Self::Site, BoxError>> + Send;
}

/// Every site a [`SqlSite`] in the fleet's own database, keyed by its site id.
#[derive(Debug, Clone, Copy, Default)]
pub struct SqlSiteFactory;

impl SiteFactory for SqlSiteFactory {
    type Site = SqlSite;

    async fn site(&self, db: &SqlDb, site: &FleetSite) -> Result<SqlSite, BoxError> {
        Ok(SqlSite::new(db.clone(), site.site_id.clone()))
    }
}

/// The sites of a fleet, in `fastcomments_sites`: add, remove, and make [`Worker`]s.
#[derive(Debug, Clone)]
pub struct Fleet {
    db: SqlDb,
}

impl Fleet {
    /// The fleet kept in `db`.
    pub fn new(db: SqlDb) -> Fleet {
        Fleet { db }
    }

    /// Its database.
    pub fn db(&self) -> &SqlDb {
        &self.db
    }

    /// Adds `site`, due at once, or updates it; a changed token starts its
    /// integration state over (a new token is validated anew), a shorter interval
    /// brings its next tick forward. The interval is brought within
    /// [`MIN_FLEET_INTERVAL`] and [`MAX_INTERVAL`] here too (the field is public).
    pub async fn add_site(&self, site: &FleetSite) -> Result<(), sqlx::Error> {
        let state = IntegrationState {
            token: Some(site.token.clone()),
            ..IntegrationState::default()
        };
        let state = serde_json::to_string(&state).map_err(|e| sqlx::Error::Encode(e.into()))?;
        sqlx::query(&format!(
            "INSERT INTO fastcomments_sites
                 (site_id, token, domain, content, interval_ms, next_due_ms, state)
             VALUES ($1, $2, $3, $4, $5, {now}, $6)
             ON CONFLICT (site_id) DO UPDATE SET
                 token = excluded.token, domain = excluded.domain,
                 content = excluded.content, interval_ms = excluded.interval_ms,
                 next_due_ms = CASE WHEN fastcomments_sites.next_due_ms > {now} + excluded.interval_ms
                                    THEN {now} + excluded.interval_ms
                                    ELSE fastcomments_sites.next_due_ms END,
                 state = CASE WHEN fastcomments_sites.token IS DISTINCT FROM excluded.token
                              THEN excluded.state ELSE fastcomments_sites.state END",
            now = self.db.now_ms()
        ))
        .bind(&site.site_id)
        .bind(site.token.expose())
        .bind(&site.domain)
        .bind(&site.content)
        .bind(millis(site.interval.clamp(MIN_FLEET_INTERVAL, MAX_INTERVAL)))
        .bind(state)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Takes `site_id` out of the fleet: its token, state and lease go, and its fence
    /// grows, so a tick in flight writes nothing more. Its row stays, keeping the fence:
    /// a site removed and added again never hands out a fence it gave before (a
    /// [`SqlSite`]'s comments stay as well). Whether it was in the fleet.
    pub async fn remove_site(&self, site_id: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE fastcomments_sites SET token = NULL, state = '{}', lease_owner = NULL,
                 lease_until_ms = 0, fence = fence + 1
             WHERE site_id = $1 AND token IS NOT NULL",
        )
        .bind(site_id)
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// A worker over this fleet, calling FastComments through `client` (its retry
    /// policy sets the lease: see [`WorkerBuilder::lease_ttl`]) and making sites with
    /// `factory`.
    pub fn worker<F: SiteFactory>(&self, client: Client, factory: F) -> WorkerBuilder<F> {
        WorkerBuilder {
            inner: Inner {
                db: self.db.clone(),
                client,
                factory,
                id: format!("worker-{}", uuid::Uuid::new_v4()),
                concurrency: 16,
                lease_ttl: Duration::from_secs(60),
                poll: Duration::from_secs(1),
                tick_budget: Duration::from_secs(30),
                batch_size: 100,
                integration_type: "rust".into(),
                clock: None,
            },
        }
    }
}

/// Settings of a [`Worker`].
#[must_use]
pub struct WorkerBuilder<F> {
    inner: Inner<F>,
}

impl<F> fmt::Debug for WorkerBuilder<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl<F: SiteFactory> WorkerBuilder<F> {
    /// This worker's id, the owner of its leases (default a random one).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.inner.id = id.into();
        self
    }

    /// How many sites it ticks at once (default 16, at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.inner.concurrency = n.max(1);
        self
    }

    /// How long a lease lasts past the longest call the client can make
    /// ([`Client::longest_call`], retries included), by the database's clock (default
    /// 60 s). A killed worker's sites are claimed again once it has passed.
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.inner.lease_ttl = ttl;
        self
    }

    /// How often an idle worker looks for due sites, and how soon a validated site with
    /// work left (setup not done, a tick out of budget) is due again (default 1 s). A
    /// site whose token no admin has confirmed yet is ticked at its interval.
    pub fn poll(mut self, every: Duration) -> Self {
        self.inner.poll = every;
        self
    }

    /// Each tick's budget ([`IntegrationBuilder::tick_budget`](crate::integration::IntegrationBuilder::tick_budget), default 30 s).
    pub fn tick_budget(mut self, budget: Duration) -> Self {
        self.inner.tick_budget = budget;
        self
    }

    /// Comments per upload batch (default 100).
    pub fn batch_size(mut self, size: usize) -> Self {
        self.inner.batch_size = size.max(1);
        self
    }

    /// The `integrationType` sent for every site (default `rust`).
    pub fn integration_type(mut self, kind: impl Into<String>) -> Self {
        self.inner.integration_type = kind.into();
        self
    }

    /// The worker's clock, epoch milliseconds, handed to each
    /// [`Integration`](crate::integration::IntegrationBuilder::clock). The leases are
    /// the database's and ignore it: for tests that show exactly that.
    pub fn clock(mut self, now_ms: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.inner.clock = Some(Arc::new(now_ms));
        self
    }

    /// The worker.
    pub fn build(self) -> Worker<F> {
        Worker {
            inner: Arc::new(self.inner),
        }
    }
}

type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

struct Inner<F> {
    db: SqlDb,
    client: Client,
    factory: F,
    id: String,
    concurrency: usize,
    lease_ttl: Duration,
    poll: Duration,
    tick_budget: Duration,
    batch_size: usize,
    integration_type: String,
    clock: Option<Clock>,
}

impl<F> fmt::Debug for Inner<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("id", &self.id)
            .field("db", &self.db)
            .field("concurrency", &self.concurrency)
            .field("lease_ttl", &self.lease_ttl)
            .field("poll", &self.poll)
            .finish_non_exhaustive()
    }
}

/// One worker of a [`Fleet`]: claims due sites, ticks each under its lease, and
/// releases them. Run any number, in any number of processes and machines.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// use fastcomments::sql::{Fleet, SqlDb, SqlSiteFactory};
/// let db = SqlDb::connect("postgres://fc@localhost/fc").await?;
/// let client = fastcomments::Client::builder().build()?;
/// let worker = Fleet::new(db).worker(client, SqlSiteFactory).build();
/// worker.run(async { let _ = tokio::signal::ctrl_c().await; }).await;
/// # Ok(()) }
/// ```
pub struct Worker<F> {
    inner: Arc<Inner<F>>,
}

impl<F> fmt::Debug for Worker<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// One site's tick by a [`Worker`].
#[derive(Debug)]
#[non_exhaustive]
pub struct TickOutcome {
    /// The site.
    pub site_id: String,
    /// The fence of the lease it was ticked under.
    pub fence: Fence,
    /// How late the tick started: the claim's time minus the time the site was due,
    /// milliseconds, by the database's clock.
    pub lateness_ms: i64,
    /// What the tick did, or why it failed (transient: the site is ticked again at its
    /// next due time; [`Error::Fenced`] when this worker's lease was taken over).
    pub result: Result<TickReport, Error>,
}

/// What [`Worker::run`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerReport {
    /// Ticks that ended well.
    pub ticks: u64,
    /// Ticks that failed (logged; the site comes again).
    pub failed: u64,
    /// Of those, ticks stopped because the lease was taken over.
    pub fenced: u64,
    /// Claims that failed (the database unreachable): retried after a short pause.
    pub claim_errors: u64,
}

/// A site claimed, with its lease's fence and how late it was.
struct Claimed {
    site: FleetSite,
    fence: Fence,
    lateness_ms: i64,
}

impl<F: SiteFactory> Worker<F> {
    /// Its id, the owner of its leases.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// Claims, ticks and releases sites until `shutdown` completes; then stops the
    /// ticks in flight (every write is atomic, so a tick cut midway loses nothing) and
    /// releases its leases, making those sites due at once for the other workers.
    ///
    /// A database error (the server restarting) is transient: logged, the claim tried
    /// again after a short backoff (0.5 s doubling to 10 s), nothing skipped.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> WorkerReport {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut report = WorkerReport::default();
        let mut ticks = JoinSet::new();
        let mut backoff = Duration::ZERO;
        loop {
            let room = self.inner.concurrency.saturating_sub(ticks.len());
            let mut wait = self.inner.poll;
            if room > 0 {
                match self.claim(room).await {
                    Ok(sites) => {
                        backoff = Duration::ZERO;
                        if sites.len() == room {
                            wait = Duration::ZERO; // more may be due
                        }
                        for site in sites {
                            let inner = self.inner.clone();
                            ticks.spawn(async move { inner.tick(site).await });
                        }
                    }
                    Err(error) => {
                        report.claim_errors += 1;
                        backoff = (backoff * 2)
                            .clamp(Duration::from_millis(500), Duration::from_secs(10));
                        wait = backoff;
                        tracing::warn!(worker = %self.inner.id, %error, "fleet claim failed; trying again shortly");
                    }
                }
            }
            tokio::select! {
                () = &mut shutdown => break,
                Some(done) = ticks.join_next(), if !ticks.is_empty() => match done {
                    Ok(outcome) => self.inner.count(&outcome, &mut report),
                    Err(error) => {
                        // A tick that panicked (a site's own code): its writes were
                        // atomic, its lease expires, the site comes again.
                        report.failed += 1;
                        tracing::error!(worker = %self.inner.id, %error, "a fleet tick panicked");
                    }
                },
                () = tokio::time::sleep(wait) => {}
            }
        }
        ticks.abort_all();
        while ticks.join_next().await.is_some() {}
        if let Err(error) = self.release_all().await {
            tracing::warn!(worker = %self.inner.id, %error, "releasing the fleet's leases failed; they expire");
        }
        report
    }

    /// Claims up to `limit` due sites and ticks them at once; returns what each tick
    /// did. For schedulers of one's own and benchmarks; [`run`](Worker::run) loops it.
    pub async fn tick_due(&self, limit: usize) -> Result<Vec<TickOutcome>, sqlx::Error> {
        let claimed = self.claim(limit).await?;
        let mut ticks = JoinSet::new();
        for site in claimed {
            let inner = self.inner.clone();
            ticks.spawn(async move { inner.tick(site).await });
        }
        let mut outcomes = Vec::new();
        while let Some(done) = ticks.join_next().await {
            if let Ok(outcome) = done {
                outcomes.push(outcome);
            }
        }
        Ok(outcomes)
    }

    /// Takes the leases of up to `limit` due sites whose leases are free or expired,
    /// in one statement: raises each fence, sets the next due time.
    async fn claim(&self, limit: usize) -> Result<Vec<Claimed>, sqlx::Error> {
        let inner = &self.inner;
        let now = inner.db.now_ms();
        let lock = match inner.db.backend() {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let rows = sqlx::query(&format!(
            "UPDATE fastcomments_sites SET
                 fence = fence + 1, lease_owner = $1, lease_until_ms = {now} + $2,
                 last_due_ms = next_due_ms, claimed_ms = {now},
                 next_due_ms = {now} + interval_ms
             WHERE site_id IN (
                 SELECT site_id FROM fastcomments_sites
                 WHERE token IS NOT NULL AND next_due_ms <= {now}
                   AND (lease_owner IS NULL OR lease_until_ms <= {now})
                 ORDER BY next_due_ms LIMIT $3 {lock})
             RETURNING site_id, token, domain, content, interval_ms, fence,
                       claimed_ms - last_due_ms"
        ))
        .bind(&inner.id)
        .bind(millis(inner.lease()).min(MAX_LEASE_MS))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(inner.db.pool())
        .await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in &rows {
            match claimed_of(row) {
                Ok(site) => claimed.push(site),
                // A row this worker cannot read (written by hand, or by another
                // version): reported and given back, never a panic or a stopped fleet.
                Err(error) => {
                    let site_id = row.try_get::<String, _>(0).unwrap_or_default();
                    let fence = row.try_get::<i64, _>(5).map(fence_of).unwrap_or_default();
                    tracing::error!(worker = %inner.id, site = %site_id, %error, "a fleet site's row cannot be read; skipped");
                    if let Err(error) = inner.release(&site_id, fence).await {
                        tracing::warn!(site = %site_id, %error, "could not give an unreadable site's lease back; it expires");
                    }
                }
            }
        }
        Ok(claimed)
    }

    /// Gives up every lease this worker holds; those sites are due at once.
    async fn release_all(&self) -> Result<(), sqlx::Error> {
        sqlx::query(&format!(
            "UPDATE fastcomments_sites SET lease_owner = NULL, lease_until_ms = 0,
                 next_due_ms = {now} WHERE lease_owner = $1",
            now = self.inner.db.now_ms()
        ))
        .bind(&self.inner.id)
        .execute(self.inner.db.pool())
        .await?;
        Ok(())
    }
}

impl<F: SiteFactory> Inner<F> {
    /// The lease a claim takes: as long as the integration's own.
    fn lease(&self) -> Duration {
        self.lease_ttl.saturating_add(self.client.longest_call())
    }

    async fn tick(&self, claimed: Claimed) -> TickOutcome {
        let site_id = claimed.site.site_id.clone();
        let result = self.run_tick(&claimed.site).await;
        // Work left comes back after `poll`. A token no admin has confirmed yet waits
        // for its interval: a fleet of unconfirmed sites polled every second would
        // flood FastComments (the kind of Disqus' WordPress plugin's sync flood).
        let work_left =
            matches!(&result, Ok(r) if r.validated && (r.budget_exhausted || !r.setup_done));
        if work_left && let Err(error) = self.due_soon(&site_id).await {
            tracing::warn!(site = %site_id, %error, "could not bring the site's next tick forward");
        }
        // A tick that failed, or ended before the integration took the lease (a token
        // not confirmed yet), leaves the claim's lease behind with nothing in flight
        // under it: give it up (if it is still ours) so the site comes again at its
        // cadence, not when a lease sized for the longest call expires. A fenced tick
        // holds nothing to give up.
        let left_behind = match &result {
            Ok(report) => !report.validated,
            Err(error) => !matches!(error, Error::Fenced { .. }),
        };
        if left_behind && let Err(error) = self.release(&site_id, claimed.fence).await {
            tracing::warn!(site = %site_id, %error, "could not release a failed tick's lease; it expires");
        }
        TickOutcome {
            site_id,
            fence: claimed.fence,
            lateness_ms: claimed.lateness_ms,
            result,
        }
    }

    async fn run_tick(&self, site: &FleetSite) -> Result<TickReport, Error> {
        let local = self
            .factory
            .site(&self.db, site)
            .await
            .map_err(Error::Site)?;
        let store = SqlStateStore::existing(self.db.clone(), site.site_id.clone());
        let mut builder = Integration::builder(self.client.clone(), local, store)
            .token(site.token.clone())
            .domain(site.domain.clone())
            .integration_type(self.integration_type.clone())
            .owner(self.id.clone())
            .lease_ttl(self.lease_ttl)
            .tick_budget(self.tick_budget)
            .batch_size(self.batch_size);
        if let Some(clock) = &self.clock {
            let clock = clock.clone();
            builder = builder.clock(move || clock());
        }
        builder.build().await?.tick().await
    }

    /// Gives up one site's lease, if `fence` still holds it; its next due time stays.
    async fn release(&self, site_id: &str, fence: Fence) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE fastcomments_sites SET lease_owner = NULL, lease_until_ms = 0
             WHERE site_id = $1 AND fence = $2",
        )
        .bind(site_id)
        .bind(fence_value(fence))
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// A site with work left is due again after `poll`, not after its interval.
    async fn due_soon(&self, site_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query(&format!(
            "UPDATE fastcomments_sites SET next_due_ms = {now} + $2
             WHERE site_id = $1 AND next_due_ms > {now} + $2",
            now = self.db.now_ms()
        ))
        .bind(site_id)
        .bind(millis(self.poll))
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    fn count(&self, outcome: &TickOutcome, report: &mut WorkerReport) {
        match &outcome.result {
            Ok(_) => report.ticks += 1,
            Err(error) => {
                report.failed += 1;
                if matches!(error, Error::Fenced { .. }) {
                    report.fenced += 1;
                }
                tracing::warn!(worker = %self.id, site = %outcome.site_id, %error, "fleet tick failed; the site comes again");
            }
        }
    }
}

/// A claimed row, read without panicking on what a hand-written row may hold.
fn claimed_of(row: &sqlx::any::AnyRow) -> Result<Claimed, sqlx::Error> {
    let interval_ms: i64 = row.try_get(4)?;
    Ok(Claimed {
        site: FleetSite {
            site_id: row.try_get(0)?,
            token: Token::new(row.try_get::<String, _>(1)?),
            domain: row.try_get(2)?,
            content: row.try_get(3)?,
            interval: Duration::from_millis(u64::try_from(interval_ms).unwrap_or(0)),
        },
        fence: fence_of(row.try_get(5)?),
        lateness_ms: row.try_get(6)?,
    })
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
