//! The connection type serving both backends, and the pool's connection manager.

use diesel::connection::SimpleConnection;
use diesel::r2d2::R2D2Connection;
use diesel::{Connection, PgConnection, SqliteConnection};

use crate::db::url::Backend;

/// A connection to whichever backend `DATABASE_URL` selects.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
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
