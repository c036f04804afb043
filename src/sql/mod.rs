//! The integration's state, a ready-made site and a fleet of workers on SQL databases
//! (features `sqlite`, `postgres`): SQLite embedded for one machine, PostgreSQL for many.
//!
//! - [`SqlDb`]: a pool on a `sqlite:` or `postgres:` URL, with this crate's migrations
//!   applied when it connects (sqlx's migrator, which takes an advisory lock on
//!   PostgreSQL, so workers starting at once migrate once).
//! - [`SqlStateStore`]: a [`StateStore`](crate::integration::StateStore) whose lease is
//!   kept by the **database's clock**, never the runners': a runner whose clock runs
//!   ahead cannot take a live lease. Every new holder gets a higher
//!   [`Fence`](crate::integration::Fence).
//! - [`SqlSite`]: a [`Site`](crate::integration::Site) keeping a site's comments and
//!   votes in tables of the schema below, exactly once, each write refused in its own
//!   transaction unless its fence is the lease's current one.
//! - [`Fleet`]: many sites in one table, shared by any number of [`Worker`]s on any
//!   number of machines.
//!
//! One implementation serves both databases, on sqlx's `Any` driver: the statements are
//! the SQL the two share, but for the clock and the claim's `FOR UPDATE SKIP LOCKED`
//! (PostgreSQL only; SQLite runs one writer at a time, which makes the claim atomic
//! without it).
//!
//! # Schema
//!
//! ```sql
//! fastcomments_sites    (site_id PK, token, domain, content, interval_ms, next_due_ms,
//!                        last_due_ms, claimed_ms, state JSON, lease_owner,
//!                        lease_until_ms, fence)
//! fastcomments_comments (site_id, local_id, fc_id, parent_local_id, parent_fc_id, url_id, author, html,
//!                        date_ms, votes_up, votes_down, from_fastcomments)
//! fastcomments_votes    (site_id, vote_id, local_id, direction)
//! fastcomments_sync     (site_id PK, checkpoint JSON, upload_cursor, next_local_id)
//! fastcomments_applied  (site_id, event_id, fence)      -- every event applied
//! fastcomments_skipped  (site_id, kind, item, reason)   -- items given up
//! ```
//!
//! Times are epoch milliseconds in `BIGINT` columns, by the database's clock. The
//! migration is `src/sql/migrations/` in the crate; sqlx records it in
//! `_sqlx_migrations`.
//!
//! # Fencing: why a paused runner writes nothing
//!
//! A runner takes a site's lease in one `UPDATE` that also raises `fence` unless the
//! runner already holds it, so every holder has a fence no earlier holder had. Each
//! write of [`SqlSite`] and [`SqlStateStore::save`](crate::integration::StateStore::save)
//! starts its transaction with `UPDATE fastcomments_sites SET fence = fence WHERE
//! site_id = $1 AND fence = $2`: zero rows and it stops, writing nothing. That row lock
//! (PostgreSQL) or the write lock (SQLite) is held until the write commits, so a
//! takeover either committed before (the write is refused) or waits until after (and
//! then reads what the write stored). A runner paused past its lease (a GC pause, a
//! VM migration, a debugger) wakes with the old fence: its first write is refused with
//! [`StaleFence`](crate::integration::StaleFence), and its tick ends with
//! [`Error::Fenced`](crate::integration::Error::Fenced). No event is applied twice,
//! because the new holder's checkpoint is read after every write the old one landed.

mod db;
mod fleet;
mod site;
mod state;

pub use db::{Backend, SqlDb};
pub use fleet::{
    Fleet, FleetSite, MIN_FLEET_INTERVAL, SiteFactory, SqlSiteFactory, TickOutcome, Worker,
    WorkerBuilder, WorkerReport,
};
pub use site::{SqlComment, SqlSite};
pub use state::SqlStateStore;
