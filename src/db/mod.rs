//! Database access: one diesel connection type for SQLite and PostgreSQL, the pool, and
//! embedded migrations.

pub mod breaker;
pub(crate) mod commit;
mod connection;
mod pool;
pub mod schema;
pub mod sql;
pub mod url;

pub use commit::CommitOutcomeUnknown;
pub use connection::{ConnectionManager, DbConnection, MultiBackend};
pub use pool::{run, Pool, PooledConnection};
pub use url::{mask_password, Backend};

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

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
