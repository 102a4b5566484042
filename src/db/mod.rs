//! Database access: one diesel connection type for SQLite and PostgreSQL, the pool, and
//! embedded migrations.

pub mod schema;
pub mod sql;

use std::path::PathBuf;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::r2d2::R2D2Connection;
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::ApiError;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to whichever backend `DATABASE_URL` selects.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs a diesel expression on the concrete connection inside a [`DbConnection`] (the
/// expression is compiled once per backend). Through the `MultiConnection` enum diesel
/// renders a statement's SQL text on every execution, even when the prepared statement is
/// cached; on the concrete connection a statement of fixed shape is found by its type. For
/// the hot paths (`docs/BENCHMARKS.md`).
#[macro_export]
macro_rules! native {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $body,
            $crate::db::DbConnection::Pg($c) => $body,
        }
    };
}

/// The connection pool shared by all workers.
pub type Pool = r2d2::Pool<ConnectionManager>;

/// A connection checked out of the pool.
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// Which backend a database URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file at this path.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string.
    Postgres(String),
}

impl Backend {
    /// Chooses the backend from the URL scheme: `postgres://`/`postgresql://` select
    /// PostgreSQL; `sqlite://PATH` or a bare path select SQLite.
    pub fn from_url(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres(url.to_owned())
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            Backend::Sqlite(PathBuf::from(path))
        }
    }

    /// A form of the URL safe to print (the password is masked).
    pub fn display_url(&self) -> String {
        match self {
            Backend::Sqlite(path) => format!("sqlite://{}", path.display()),
            Backend::Postgres(url) => mask_password(url),
        }
    }
}

fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Opens connections for the pool, choosing the backend from the URL ourselves so that
/// connection errors keep their real message, and configuring SQLite on every connection.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    backend: Backend,
}

impl ConnectionManager {
    /// A manager for the given backend.
    pub fn new(backend: Backend) -> Self {
        ConnectionManager { backend }
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        match &self.backend {
            Backend::Postgres(url) => PgConnection::establish(url)
                .map(DbConnection::Pg)
                .map_err(diesel::r2d2::Error::ConnectionError),
            Backend::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                // WAL lets readers run beside the single writer; the busy timeout makes
                // writers queue instead of failing at once. Memory-mapped reads and a larger
                // page cache spare a system call per page on catalogue-sized databases.
                conn.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; \
                     PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; \
                     PRAGMA mmap_size = 0; PRAGMA cache_size = -16384;",
                )
                .map_err(diesel::r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// Builds the pool after one direct connection attempt, so an unreachable database is
/// reported with its real reason instead of a pool time-out.
pub fn connect(backend: &Backend, size: u32, timeout: Duration) -> Result<Pool, String> {
    if let Backend::Sqlite(path) = backend {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
    }
    let manager = ConnectionManager::new(backend.clone());
    let first = r2d2::ManageConnection::connect(&manager).map_err(|e| {
        format!(
            "cannot connect to database {}: {}",
            backend.display_url(),
            one_line(&e.to_string())
        )
    })?;
    drop(first);
    r2d2::Pool::builder()
        .max_size(size.max(1))
        // All connections are opened at start: opening them under load (a PostgreSQL
        // connection takes milliseconds) stalls the first requests of a burst.
        .min_idle(Some(size.max(1)))
        .connection_timeout(timeout)
        .test_on_check_out(false)
        .build(manager)
        .map_err(|e| format!("cannot open database pool: {}", one_line(&e.to_string())))
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Applies every pending embedded migration for the connection's backend and returns the
/// versions applied.
pub fn migrate(conn: &mut DbConnection) -> Result<Vec<String>, String> {
    let applied: Vec<String> = match conn {
        DbConnection::Pg(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
    }
    .map(|versions| versions.iter().map(|v| v.to_string()).collect())
    .map_err(|e| format!("migration failed: {e}"))?;
    if let DbConnection::Sqlite(c) = conn {
        // Refresh the planner's statistics where they are missing or stale (bounded work),
        // so joins start from the selective index; PostgreSQL's autovacuum does this itself.
        c.batch_execute("PRAGMA optimize = 0x10002;")
            .map_err(|e| format!("PRAGMA optimize failed: {e}"))?;
    }
    Ok(applied)
}

/// Refreshes the planner's statistics after a bulk load (PostgreSQL: `VACUUM` too, so
/// index-only scans need not visit the freshly written heap).
pub fn refresh_statistics(conn: &mut DbConnection) -> Result<(), String> {
    let statement = match conn {
        DbConnection::Pg(_) => "VACUUM ANALYZE",
        DbConnection::Sqlite(_) => "ANALYZE",
    };
    conn.batch_execute(statement)
        .map_err(|e| format!("{statement} failed: {e}"))
}

/// Runs blocking database work on the blocking thread pool with a pooled connection.
pub async fn run<T, F>(pool: &Pool, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get().map_err(|e| {
            tracing::warn!(error = %e, "database pool exhausted or unreachable");
            ApiError::Unavailable("the database is not reachable right now".into())
        })?;
        work(&mut conn)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("blocking task failed: {e}")))?
}

/// Runs `work` in a transaction that holds the write lock from its start. On SQLite a
/// deferred transaction that reads first and writes later must upgrade its lock, and in WAL
/// mode that upgrade fails at once (no busy wait) when another writer committed meanwhile;
/// `BEGIN IMMEDIATE` queues behind other writers instead. PostgreSQL needs no such care.
/// Inside an open transaction this nests as a savepoint, as `Connection::transaction` does.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let DbConnection::Sqlite(sqlite) = conn else {
        return conn.transaction(work);
    };
    let depth =
        AnsiTransactionManager::transaction_manager_status_mut(sqlite).transaction_depth()?;
    if depth.is_some() {
        return conn.transaction(work);
    }
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    match work(conn) {
        Ok(value) => {
            <DbConnection as TransactionManager<DbConnection>>::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            <DbConnection as TransactionManager<DbConnection>>::rollback_transaction(conn)?;
            Err(e)
        }
    }
}
