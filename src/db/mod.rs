//! Database access: one diesel connection type for SQLite and PostgreSQL, the pool, and
//! embedded migrations.

pub mod breaker;
mod commit;
mod pool;
pub mod schema;
pub mod sql;

pub use commit::CommitOutcomeUnknown;
pub use pool::{run, Pool, PooledConnection};

use std::path::PathBuf;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::r2d2::R2D2Connection;
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

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
    /// PostgreSQL; `sqlite://PATH`, `sqlite:PATH` or a bare path select SQLite. Any other
    /// scheme (`mysql://`, `file:` …) is refused rather than taken for a file name; the
    /// reason names the scheme only, so no password can reach it.
    pub fn from_url(url: &str) -> Result<Backend, String> {
        let url = url.trim();
        let Some((scheme, rest)) = scheme(url) else {
            return sqlite_path(url);
        };
        match scheme.to_ascii_lowercase().as_str() {
            // libpq reads only the lower-case prefixes.
            "postgres" | "postgresql" => Ok(Backend::Postgres(format!(
                "{}:{rest}",
                scheme.to_ascii_lowercase()
            ))),
            "sqlite" => sqlite_path(rest.strip_prefix("//").unwrap_or(rest)),
            _ => Err(format!(
                "DATABASE_URL uses the unsupported scheme `{scheme}:`; use a postgres:// or \
                 postgresql:// URL for PostgreSQL, or sqlite://PATH or a file path for SQLite"
            )),
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

/// The URL scheme and the rest, if the text starts with one (RFC 3986: a letter, then
/// letters, digits, `+`, `-`, `.`, then `:`). A single letter is a Windows drive, not a
/// scheme.
fn scheme(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (valid && scheme.len() > 1).then_some((scheme, rest))
}

fn sqlite_path(path: &str) -> Result<Backend, String> {
    if path.is_empty() {
        return Err("DATABASE_URL names no SQLite file".into());
    }
    Ok(Backend::Sqlite(PathBuf::from(path)))
}

/// The URL with the password of its user information and any `password=` parameter
/// replaced by `***`. A password may hold `@`, so the user information ends at the last
/// `@` before the query.
pub fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (location, query) = match rest.split_once('?') {
        Some((location, query)) => (location, Some(query)),
        None => (rest, None),
    };
    let location = match location.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => location.to_owned(),
    };
    let mut masked = format!("{scheme}://{location}");
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => param.to_owned(),
            })
            .collect();
        masked.push('?');
        masked.push_str(&params.join("&"));
    }
    masked
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

/// Opens the database: one direct connection first, so an unreachable database is reported
/// with its real reason instead of a pool time-out, which also applies the pending
/// migrations (returned) before the pool opens its connections — on a new SQLite file the
/// pool's connections would otherwise meet the migration's lock while they set up WAL.
pub fn open(
    backend: &Backend,
    size: u32,
    timeout: Duration,
) -> Result<(Pool, Vec<String>), String> {
    if let Backend::Sqlite(path) = backend {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
    }
    let manager = ConnectionManager::new(backend.clone());
    let mut first = r2d2::ManageConnection::connect(&manager).map_err(|e| {
        format!(
            "cannot connect to database {}: {}",
            backend.display_url(),
            one_line(&e.to_string())
        )
    })?;
    let applied = migrate(&mut first)?;
    drop(first);
    let connections = r2d2::Pool::builder()
        .max_size(size.max(1))
        // All connections are opened at start: opening them under load (a PostgreSQL
        // connection takes milliseconds) stalls the first requests of a burst.
        .min_idle(Some(size.max(1)))
        .connection_timeout(timeout)
        .test_on_check_out(false)
        .build(manager)
        .map_err(|e| format!("cannot open database pool: {}", one_line(&e.to_string())))?;
    let pool = Pool::new(connections, backend.clone(), size, timeout);
    Ok((pool, applied))
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

/// The queue of this process's SQLite write transactions (see [`write_transaction`]).
static SQLITE_WRITERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `work` in a transaction that holds the write lock from its start. On SQLite a
/// deferred transaction that reads first and writes later must upgrade its lock, and in WAL
/// mode that upgrade fails at once (no busy wait) when another writer committed meanwhile;
/// `BEGIN IMMEDIATE` queues behind other writers instead. PostgreSQL needs no such care.
/// Inside an open transaction this nests as a savepoint, as `Connection::transaction` does.
///
/// SQLite admits one writer at a time, and a writer that finds the lock taken sleeps in
/// SQLite's busy handler with growing back-off (steps of up to 100 ms), so sixteen
/// concurrent writers gave a p99 of ~0.8 s although each transaction takes about a
/// millisecond. This process's writers therefore queue on [`SQLITE_WRITERS`] first and
/// take the database lock only when their turn comes. It is a latency measure, never a
/// correctness one: other processes on the same file still meet SQLite's own lock and busy
/// timeout, and the transaction is as serialised without it.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let DbConnection::Sqlite(sqlite) = conn else {
        return pg_write_transaction(conn, work);
    };
    let depth =
        AnsiTransactionManager::transaction_manager_status_mut(sqlite).transaction_depth()?;
    if depth.is_some() {
        return conn.transaction(work);
    }
    // A panic while holding the turn poisons nothing that matters: the guard holds no data.
    let _turn = SQLITE_WRITERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    match work(conn) {
        Ok(value) => {
            <DbConnection as TransactionManager<DbConnection>>::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            roll_back(conn);
            Err(e)
        }
    }
}

/// Rolls back after the work failed. If even that fails (the connection is gone), the work's
/// own error is the one to report, as diesel's `transaction` does: nothing was committed
/// either way, and the connection, now marked broken, leaves the pool.
fn roll_back(conn: &mut DbConnection) {
    if let Err(e) = <DbConnection as TransactionManager<DbConnection>>::rollback_transaction(conn) {
        tracing::warn!(error = %e, "rollback failed");
    }
}

/// PostgreSQL's write transaction: an ordinary one, except that a top-level commit whose
/// answer was lost is resolved ([`commit`]) rather than reported as failed.
fn pg_write_transaction<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let DbConnection::Pg(pg) = conn else {
        return conn.transaction(work);
    };
    if AnsiTransactionManager::transaction_manager_status_mut(pg)
        .transaction_depth()?
        .is_some()
    {
        return conn.transaction(work);
    }
    AnsiTransactionManager::begin_transaction(pg)?;
    let id = match commit::current_id(pg) {
        Ok(id) => id,
        Err(e) => {
            let _ = AnsiTransactionManager::rollback_transaction(pg);
            return Err(e.into());
        }
    };
    let value = match work(conn) {
        Ok(value) => value,
        Err(e) => {
            roll_back(conn);
            return Err(e);
        }
    };
    match <DbConnection as TransactionManager<DbConnection>>::commit_transaction(conn) {
        Ok(()) => Ok(value),
        Err(e) if commit::is_lost(&e) => match commit::fate(id) {
            commit::Fate::Committed => Ok(value),
            commit::Fate::Aborted => Err(e.into()),
            commit::Fate::Unknown => Err(CommitOutcomeUnknown.into_diesel().into()),
        },
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chooses_the_backend_from_the_scheme() {
        let pg = "postgres://u:pw@db.example:5432/mutua?sslmode=disable";
        assert_eq!(Backend::from_url(pg), Ok(Backend::Postgres(pg.into())));
        assert_eq!(
            Backend::from_url("PostgreSQL://db.example/mutua"),
            Ok(Backend::Postgres("postgresql://db.example/mutua".into()))
        );
        for (url, path) in [
            ("sqlite://data/mutua.db", "data/mutua.db"),
            ("sqlite:///var/lib/mutua.db", "/var/lib/mutua.db"),
            ("sqlite:data/mutua.db", "data/mutua.db"),
            ("./data/mutua.db", "./data/mutua.db"),
            ("/var/lib/mutua.db", "/var/lib/mutua.db"),
            ("mutua.db", "mutua.db"),
            ("C:\\mutua\\mutua.db", "C:\\mutua\\mutua.db"),
        ] {
            assert_eq!(
                Backend::from_url(url),
                Ok(Backend::Sqlite(PathBuf::from(path))),
                "{url}"
            );
        }
    }

    #[test]
    fn refuses_other_schemes_without_echoing_the_url() {
        for url in [
            "mysql://u:secret@h/db",
            "mariadb://u:secret@h/db",
            "file:secret.db",
            "http://u:secret@h/db",
            "postgres+tls://u:secret@h/db",
        ] {
            let reason = Backend::from_url(url).unwrap_err();
            assert!(reason.contains("unsupported scheme"), "{reason}");
            assert!(!reason.contains("secret"), "{reason}");
            assert_eq!(reason.lines().count(), 1);
        }
        assert!(Backend::from_url("sqlite://").is_err());
        assert!(Backend::from_url("").is_err());
    }

    #[test]
    fn masks_every_password() {
        assert_eq!(
            mask_password("postgres://u:secret@h:5432/db?sslmode=disable"),
            "postgres://u:***@h:5432/db?sslmode=disable"
        );
        assert_eq!(
            mask_password("postgres://u:se@cr@et@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(
            mask_password("postgres://h/db?user=u&password=secret&sslmode=require"),
            "postgres://h/db?user=u&password=***&sslmode=require"
        );
        assert_eq!(mask_password("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            Backend::from_url("postgresql://:secret@h/db")
                .unwrap()
                .display_url(),
            "postgresql://:***@h/db"
        );
    }
}
