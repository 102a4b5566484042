//! Commits whose answer was lost. When the connection breaks after `COMMIT` was sent, the
//! transaction may have committed or not, and answering "failed" could be a lie (an
//! outage test once got a 503 for a create that was stored). PostgreSQL can tell
//! afterwards: a write transaction notes its id (`txid_current()`), and after a lost
//! commit a fresh connection asks `txid_status(id)` (PostgreSQL ≥ 10, made for exactly
//! this) until the server answers or the wait ends. Only a commit that still cannot be
//! decided then is reported as such ([`ApiError::OutcomeUnknown`](crate::error::ApiError)),
//! never as a failure.
//!
//! Resolving needs a new connection to the same database. [`Origin`] provides it to
//! `write_transaction` for the duration of one [`super::run`]; outside one (commands,
//! tests) an undecided commit is reported as unknown at once.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::result::Error as DieselError;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::{Connection, PgConnection, RunQueryDsl};
use tokio::sync::OwnedSemaphorePermit;

use crate::db::url::Backend;

/// Where this thread's work came from: the database to ask, how long to wait, and the
/// request's turn at the pool's gate.
struct Place {
    url: Option<String>,
    wait: Duration,
    turn: Option<OwnedSemaphorePermit>,
}

thread_local! {
    static ORIGIN: RefCell<Option<Place>> = const { RefCell::new(None) };
}

/// While alive, lost commits on this thread are resolved against this database. It holds
/// the request's turn at the pool's gate (given back when it ends), so that a request
/// waiting to resolve a lost commit — which needs no pooled connection — gives its turn
/// up at once: otherwise every connection's lost commit would hold the gate shut while the
/// database restarts, and the probe that finds it back could not get in.
pub(crate) struct Origin(());

impl Origin {
    /// Resolves lost commits on this thread against `backend`, waiting at most `wait`.
    pub(crate) fn enter(backend: &Backend, wait: Duration, turn: OwnedSemaphorePermit) -> Origin {
        let url = match backend {
            Backend::Postgres(url) => Some(url.clone()),
            Backend::Sqlite(_) => None,
        };
        let place = Place {
            url,
            wait,
            turn: Some(turn),
        };
        ORIGIN.with(|o| *o.borrow_mut() = Some(place));
        Origin(())
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        ORIGIN.with(|o| *o.borrow_mut() = None);
    }
}

/// The error a write transaction reports when its commit could not be decided.
#[derive(Debug, thiserror::Error)]
#[error("the database connection was lost while committing; the outcome is unknown")]
pub struct CommitOutcomeUnknown;

impl CommitOutcomeUnknown {
    /// As a diesel error, so every transaction's error type can carry it.
    pub fn into_diesel(self) -> DieselError {
        DieselError::QueryBuilderError(Box::new(self))
    }

    /// Whether a diesel error is this one.
    pub fn is(error: &DieselError) -> bool {
        matches!(error, DieselError::QueryBuilderError(e) if e.is::<CommitOutcomeUnknown>())
    }
}

/// The id of the open transaction (assigning one if it has none yet).
pub(crate) fn current_id(conn: &mut PgConnection) -> Result<i64, DieselError> {
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let row: Id = diesel::sql_query("SELECT txid_current() AS id").get_result(conn)?;
    Ok(row.id)
}

/// Whether a commit error may hide a commit: the server's answer never arrived.
pub(crate) fn is_lost(error: &DieselError) -> bool {
    use diesel::result::DatabaseErrorKind::{ClosedConnection, UnableToSendCommand};
    match error {
        DieselError::DatabaseError(ClosedConnection | UnableToSendCommand, _) => true,
        DieselError::RollbackErrorOnCommit { commit_error, .. } => is_lost(commit_error),
        _ => false,
    }
}

/// What became of a transaction whose commit was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    Committed,
    Aborted,
    Unknown,
}

/// Asks fresh connections what became of transaction `id`, until one answers or the wait
/// of this thread's [`Origin`] ends.
pub(crate) fn fate(id: i64) -> Fate {
    let place = ORIGIN.with(|o| {
        o.borrow_mut().as_mut().map(|place| {
            drop(place.turn.take());
            (place.url.clone(), place.wait)
        })
    });
    let Some((Some(url), wait)) = place else {
        return Fate::Unknown;
    };
    let deadline = Instant::now() + wait;
    loop {
        if let Some(fate) = ask(&url, id) {
            tracing::warn!(?fate, "a lost commit was resolved");
            return fate;
        }
        if Instant::now() >= deadline {
            tracing::warn!("a lost commit could not be resolved in time");
            return Fate::Unknown;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn ask(url: &str, id: i64) -> Option<Fate> {
    #[derive(diesel::QueryableByName)]
    struct Status {
        #[diesel(sql_type = Nullable<Text>)]
        status: Option<String>,
    }
    let mut conn = PgConnection::establish(url).ok()?;
    // A session that cannot write anything by accident.
    conn.batch_execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        .ok()?;
    let row: Status = diesel::sql_query("SELECT txid_status($1) AS status")
        .bind::<BigInt, _>(id)
        .get_result(&mut conn)
        .ok()?;
    match row.status.as_deref() {
        Some("committed") => Some(Fate::Committed),
        Some("aborted") => Some(Fate::Aborted),
        // Still running on a server we lost only the connection to: ask again.
        Some("in progress") => None,
        // Too old to be known: cannot happen seconds after the commit.
        _ => Some(Fate::Unknown),
    }
}
