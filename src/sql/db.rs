//! [`SqlDb`]: one pool over SQLite or PostgreSQL, migrated when it connects.

use std::fmt;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

/// Which database a [`SqlDb`] is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// SQLite (feature `sqlite`): `sqlite://FILE`, `sqlite::memory:`.
    Sqlite,
    /// PostgreSQL (feature `postgres`): `postgres://USER:PASSWORD@HOST:PORT/DB`.
    Postgres,
}

/// A connection pool on SQLite or PostgreSQL with this crate's schema (see the
/// [module docs](crate::sql#schema)). Clones share the pool. `Debug` shows the URL
/// without its password.
///
/// ```no_run
/// # async fn demo() -> Result<(), sqlx::Error> {
/// use fastcomments::sql::SqlDb;
/// let db = SqlDb::connect("sqlite://fastcomments.sqlite").await?; // created if missing
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SqlDb {
    pool: AnyPool,
    backend: Backend,
    shown: String,
}

impl fmt::Debug for SqlDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlDb")
            .field("backend", &self.backend)
            .field("url", &self.shown)
            .finish_non_exhaustive()
    }
}

/// Connections a pool opens at most, unless the URL is an in-memory SQLite database
/// (one connection: each would otherwise be a database of its own).
const MAX_CONNECTIONS: u32 = 8;

impl SqlDb {
    /// Connects to `url` and applies the migrations this crate ships (idempotent).
    /// `sqlite:` URLs create the file when it is missing; `postgres:` (or
    /// `postgresql:`) URLs need the feature `postgres`.
    ///
    /// # Errors
    /// [`sqlx::Error::Configuration`] for a URL of a database this build has no feature
    /// for; a connection or migration error otherwise.
    pub async fn connect(url: &str) -> Result<SqlDb, sqlx::Error> {
        SqlDb::connect_with(url, MAX_CONNECTIONS).await
    }

    /// [`connect`](SqlDb::connect) with at most `max_connections` connections.
    pub async fn connect_with(url: &str, max_connections: u32) -> Result<SqlDb, sqlx::Error> {
        install_default_drivers();
        let backend = backend_of(url)?;
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        let url = match backend {
            Backend::Sqlite if !memory && !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if memory { 1 } else { max_connections.max(1) })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // Writers wait for each other rather than fail at once.
                        conn.execute("PRAGMA busy_timeout = 30000").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        sqlx::migrate!("src/sql/migrations").run(&pool).await?;
        Ok(SqlDb {
            pool,
            backend,
            shown: redact(&url),
        })
    }

    /// The pool, for queries of your own (your site's tables beside ours).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool: waits for connections in use to come back, then closes all.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The database's clock, epoch milliseconds, as a SQL expression: leases and
    /// schedules are compared with it and never with a runner's clock.
    pub(crate) fn now_ms(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
            Backend::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        }
    }

    /// The database's clock, now.
    pub async fn now(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(&format!("SELECT {}", self.now_ms()))
            .fetch_one(&self.pool)
            .await
    }
}

fn backend_of(url: &str) -> Result<Backend, sqlx::Error> {
    let scheme = url.split(':').next().unwrap_or_default();
    let backend = match scheme {
        "sqlite" => Backend::Sqlite,
        "postgres" | "postgresql" => Backend::Postgres,
        other => {
            // Only a short, URL-like scheme is shown: a value without `:` (a libpq
            // `host=... password=...` string) would be shown whole, password included.
            let scheme_like = other.len() <= 16
                && other
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
            let shown = if url.contains("://") && scheme_like {
                format!(" {other:?}")
            } else {
                String::new()
            };
            return Err(sqlx::Error::Configuration(
                format!("unsupported database URL scheme{shown}: use sqlite: or postgres:").into(),
            ));
        }
    };
    let built = match backend {
        Backend::Sqlite => cfg!(feature = "sqlite"),
        Backend::Postgres => cfg!(feature = "postgres"),
    };
    if !built {
        return Err(sqlx::Error::Configuration(
            format!("this build has no {scheme} support: enable the crate's feature for it").into(),
        ));
    }
    Ok(backend)
}

/// `url` with the password of its user info, and the value of every query parameter
/// that may hold a secret (`password`, `sslpassword`, anything naming a pass, secret or
/// token), replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    // The query starts after the user info: a `?` in an unencoded password is not one.
    let host_start = url.rfind('@').map_or(0, |at| at + 1);
    let (url, query) = match url[host_start..].find('?') {
        Some(q) => (&url[..host_start + q], Some(&url[host_start + q + 1..])),
        None => (url, None),
    };
    let mut shown = redact_user_info(url);
    if let Some(query) = query {
        shown.push('?');
        shown.push_str(&redact_query(query));
    }
    shown
}

fn redact_user_info(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{path}")
        }
        _ => url.to_owned(),
    }
}

fn redact_query(query: &str) -> String {
    let secret = |key: &str| {
        let key = key.to_ascii_lowercase();
        ["pass", "secret", "token"].iter().any(|s| key.contains(s))
    };
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if secret(key) => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_url_is_shown_without_its_password() {
        assert_eq!(
            redact("postgres://fc:s3cr3t@db.example:5432/fc?sslmode=require"),
            "postgres://fc:***@db.example:5432/fc?sslmode=require"
        );
        assert_eq!(
            redact("postgres://fc@localhost/fc"),
            "postgres://fc@localhost/fc"
        );
        assert_eq!(redact("sqlite://a.db"), "sqlite://a.db");
        assert_eq!(
            redact("postgres://fc@h/fc?sslmode=require&password=s3cr3t&sslpassword=k3y"),
            "postgres://fc@h/fc?sslmode=require&password=***&sslpassword=***"
        );
        assert_eq!(
            redact("postgres://fc:a@h/fc?PassWord=b"),
            "postgres://fc:***@h/fc?PassWord=***"
        );
        assert_eq!(
            redact("postgres://u:p@ss@host/db"),
            "postgres://u:***@host/db",
            "the last @ ends the user info"
        );
        assert_eq!(
            redact("postgres://u:p?ss@host/db?sslmode=off"),
            "postgres://u:***@host/db?sslmode=off"
        );
    }

    #[test]
    fn an_unknown_scheme_is_a_configuration_error() {
        let error = backend_of("mysql://localhost/db").unwrap_err();
        assert!(error.to_string().contains("mysql"), "{error}");
        // A libpq-style string or a bare secret is never echoed.
        for url in ["host=db user=u password=hunter2", "hunter2:x", "hunter2"] {
            let error = backend_of(url).unwrap_err().to_string();
            assert!(!error.contains("hunter2"), "{error}");
        }
    }
}
