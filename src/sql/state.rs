//! [`SqlStateStore`]: the integration's state and lease in `fastcomments_sites`.

use sqlx::{Any, Row, Transaction};

use super::db::SqlDb;
use crate::integration::{
    BoxError, Fence, IntegrationState, Lease, LeaseOutcome, StaleFence, StateStore,
};

/// A [`StateStore`] in one row of `fastcomments_sites`, by site id: the state as JSON,
/// the lease (owner, expiry by the **database's** clock) and the [`Fence`]. Many sites
/// share the table; a [`Fleet`](super::Fleet) keeps its sites in it too.
///
/// The lease is taken in one `UPDATE … WHERE lease_owner IS NULL OR lease_owner = $me
/// OR lease_until_ms <= now`, `now` being the database's clock: the runners' clocks
/// play no part, so one running ten minutes ahead cannot take a live lease. The fence
/// stays only for a renewal (`$me`, not expired) and grows otherwise. Leases longer
/// than 30 days are cut to 30 days.
/// [`save`](StateStore::save) checks the fence in the write's own transaction.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// use fastcomments::integration::{Integration, MemorySite};
/// use fastcomments::sql::{SqlDb, SqlStateStore};
/// let db = SqlDb::connect("sqlite://forum.sqlite").await?;
/// let store = SqlStateStore::open(db, "forum").await?;
/// let client = fastcomments::Client::builder().build()?;
/// let integration = Integration::builder(client, MemorySite::new(), store).build().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqlStateStore {
    db: SqlDb,
    site_id: String,
}

impl SqlStateStore {
    /// The store of site `site_id`; creates its row when it has none.
    pub async fn open(db: SqlDb, site_id: impl Into<String>) -> Result<SqlStateStore, sqlx::Error> {
        let site_id = site_id.into();
        sqlx::query(
            "INSERT INTO fastcomments_sites (site_id) VALUES ($1) ON CONFLICT (site_id) DO NOTHING",
        )
        .bind(&site_id)
        .execute(db.pool())
        .await?;
        Ok(SqlStateStore { db, site_id })
    }

    /// The store of a site whose row exists (a fleet's, just claimed).
    pub(crate) fn existing(db: SqlDb, site_id: String) -> SqlStateStore {
        SqlStateStore { db, site_id }
    }

    /// The site's id.
    pub fn site_id(&self) -> &str {
        &self.site_id
    }

    /// The current lease, if any holder has one (expired or not).
    pub async fn lease(&self) -> Result<Option<Lease>, sqlx::Error> {
        lease_of(&self.db, &self.site_id).await
    }
}

/// The lease recorded for `site_id`.
pub(crate) async fn lease_of(db: &SqlDb, site_id: &str) -> Result<Option<Lease>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT lease_owner, lease_until_ms, fence FROM fastcomments_sites WHERE site_id = $1",
    )
    .bind(site_id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.and_then(|row| {
        let owner: Option<String> = row.get(0);
        owner.map(|owner| Lease {
            owner,
            until_ms: row.get(1),
            fence: fence_of(row.get(2)),
        })
    }))
}

/// The longest lease a SQL store records, 30 days in milliseconds: longer ones are cut
/// to it, so `now + ttl` fits a `BIGINT` (a lease of `Duration::MAX` would overflow it).
pub(crate) const MAX_LEASE_MS: i64 = 30 * 24 * 3_600_000;

pub(crate) fn fence_of(value: i64) -> Fence {
    Fence(u64::try_from(value).unwrap_or_default())
}

pub(crate) fn fence_value(fence: Fence) -> i64 {
    i64::try_from(fence.0).unwrap_or(i64::MAX)
}

/// The first statement of every fenced write: locks the site's lease row until the
/// transaction ends (a row lock on PostgreSQL, the write lock on SQLite) and fails with
/// [`StaleFence`] unless `fence` is the current one. A takeover then either committed
/// before it (refused here) or waits for the write to commit. Fence 0 is no lease's
/// (the first lease gives 1), so a write under it is always refused.
pub(crate) async fn check_fence(
    tx: &mut Transaction<'_, Any>,
    site_id: &str,
    fence: Fence,
) -> Result<(), BoxError> {
    let locked = sqlx::query(
        "UPDATE fastcomments_sites SET fence = fence
         WHERE site_id = $1 AND fence = $2 AND fence > 0",
    )
    .bind(site_id)
    .bind(fence_value(fence))
    .execute(&mut **tx)
    .await?;
    if locked.rows_affected() == 1 {
        return Ok(());
    }
    let current: Option<i64> =
        sqlx::query_scalar("SELECT fence FROM fastcomments_sites WHERE site_id = $1")
            .bind(site_id)
            .fetch_optional(&mut **tx)
            .await?;
    Err(StaleFence {
        fence,
        current: fence_of(current.unwrap_or_default()),
    }
    .into())
}

impl StateStore for SqlStateStore {
    async fn load(&self) -> Result<IntegrationState, BoxError> {
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM fastcomments_sites WHERE site_id = $1")
                .bind(&self.site_id)
                .fetch_optional(self.db.pool())
                .await?;
        match state {
            Some(json) => Ok(serde_json::from_str(&json).map_err(|e| {
                format!(
                    "the state of site {:?} is not an integration state: {e}",
                    self.site_id
                )
            })?),
            None => Ok(IntegrationState::default()),
        }
    }

    async fn save(&self, state: &IntegrationState, fence: Fence) -> Result<(), BoxError> {
        let json = serde_json::to_string(state)?;
        let mut tx = self.db.pool().begin().await?;
        check_fence(&mut tx, &self.site_id, fence).await?;
        sqlx::query("UPDATE fastcomments_sites SET state = $2 WHERE site_id = $1")
            .bind(&self.site_id)
            .bind(json)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn acquire_lease(
        &self,
        owner: &str,
        _now_ms: i64,
        ttl_ms: i64,
    ) -> Result<LeaseOutcome, BoxError> {
        let now = self.db.now_ms();
        let taken: Option<i64> = sqlx::query_scalar(&format!(
            "UPDATE fastcomments_sites SET
                 fence = CASE WHEN lease_owner = $2 AND lease_until_ms > {now}
                              THEN fence ELSE fence + 1 END,
                 lease_owner = $2,
                 lease_until_ms = {now} + $3
             WHERE site_id = $1
               AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until_ms <= {now})
             RETURNING fence"
        ))
        .bind(&self.site_id)
        .bind(owner)
        .bind(ttl_ms.clamp(0, MAX_LEASE_MS))
        .fetch_optional(self.db.pool())
        .await?;
        if let Some(fence) = taken {
            return Ok(LeaseOutcome::Taken(fence_of(fence)));
        }
        match lease_of(&self.db, &self.site_id).await? {
            Some(held) => Ok(LeaseOutcome::Held(held)),
            None => Err(format!("site {:?} has no row in fastcomments_sites", self.site_id).into()),
        }
    }

    async fn release_lease(&self, owner: &str, fence: Fence) -> Result<(), BoxError> {
        sqlx::query(
            "UPDATE fastcomments_sites SET lease_owner = NULL, lease_until_ms = 0
             WHERE site_id = $1 AND lease_owner = $2 AND fence = $3",
        )
        .bind(&self.site_id)
        .bind(owner)
        .bind(fence_value(fence))
        .execute(self.db.pool())
        .await?;
        Ok(())
    }
}
