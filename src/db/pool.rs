//! The pool every request's database work goes through ([`run`]): r2d2's connections
//! behind a fair admission gate and the circuit breaker.
//!
//! - **The gate** is a FIFO-fair semaphore, taken on the async worker before the work goes
//!   to the blocking pool. Without it every request became a blocking thread waiting in
//!   r2d2's `get`, whose waiters are woken in no order and can be overtaken by newcomers,
//!   and all eight connections' work (eight PostgreSQL backends, eight blocking threads)
//!   competed for two cores with the workers: under a concurrency above the pool size a
//!   few requests waited hundreds of milliseconds while most waited none (PostgreSQL by id
//!   at c=16: p50 0.6–0.8 ms, p99 300–420 ms). Fairness alone brought the p99 to ~160 ms;
//!   the rest was the scheduler's queue, so the gate also bounds the work in flight to two
//!   per core by default (`MUTUA_DB_CONCURRENCY`, never more than the connections): p99
//!   7–9 ms at the same throughput. The others wait their turn in arrival order.
//! - **The breaker** ([`super::breaker`]) refuses requests at once while the database is
//!   known to be down, lets one probe through after a short window, and closes again when
//!   it succeeds: no restart, and no request waits the pool's time-out for a database that
//!   is not there.
//! - **Dead connections** are taken out: a connection whose work failed and which then does
//!   not answer a ping is marked broken, so r2d2 drops it and opens a new one; connections
//!   from before an outage are pinged once before their next use.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::r2d2::R2D2Connection;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::db::breaker::{Admission, BreakerPolicy, BreakerState, Outcome};
use crate::db::commit;
use crate::db::connection::{ConnectionManager, DbConnection};
use crate::db::url::Backend;
use crate::error::ApiError;

/// A connection checked out of the pool.
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// The connection pool shared by all workers, with its gate and breaker.
#[derive(Clone)]
pub struct Pool {
    connections: r2d2::Pool<ConnectionManager>,
    shared: Arc<Shared>,
}

struct Shared {
    backend: Backend,
    gate: Arc<Semaphore>,
    /// How long a request waits for its turn at the gate, and for a connection.
    timeout: Duration,
    policy: BreakerPolicy,
    breaker: Mutex<BreakerState>,
    /// Bumped whenever a connection failed: connections last seen working before the
    /// current value are pinged before their next use.
    suspicion: AtomicU64,
}

/// The suspicion count at which a pooled connection last worked (r2d2 extension).
#[derive(Debug, Clone, Copy)]
struct SeenWorking(u64);

const UNAVAILABLE: &str = "the database is not reachable right now";

impl Pool {
    /// A pool over `connections` (of `size`), whose requests wait at most `timeout`.
    pub(super) fn new(
        connections: r2d2::Pool<ConnectionManager>,
        backend: Backend,
        size: u32,
        timeout: Duration,
    ) -> Pool {
        Pool {
            connections,
            shared: Arc::new(Shared {
                backend,
                gate: Arc::new(Semaphore::new(size.max(1) as usize)),
                timeout,
                policy: BreakerPolicy {
                    threshold: 3,
                    open_for: Duration::from_secs(1),
                    probe_timeout: timeout + Duration::from_secs(1),
                },
                breaker: Mutex::new(BreakerState::CLOSED),
                suspicion: AtomicU64::new(0),
            }),
        }
    }

    /// The same pool with another breaker policy and at most `in_flight` requests working
    /// at once (`0`: two per core; never more than the connections); call it before
    /// cloning the pool.
    pub fn with_capacity(self, threshold: u32, open_for: Duration, in_flight: usize) -> Pool {
        let shared = &self.shared;
        let in_flight = match in_flight {
            0 => 2 * crate::settings::cores(),
            n => n,
        }
        .min(self.connections.max_size() as usize);
        let policy = BreakerPolicy {
            threshold: threshold.max(1),
            open_for,
            probe_timeout: shared.timeout + open_for,
        };
        Pool {
            shared: Arc::new(Shared {
                backend: shared.backend.clone(),
                gate: Arc::new(Semaphore::new(in_flight)),
                timeout: shared.timeout,
                policy,
                breaker: Mutex::new(BreakerState::CLOSED),
                suspicion: AtomicU64::new(0),
            }),
            connections: self.connections,
        }
    }

    /// A connection straight from r2d2, bypassing gate and breaker (start-up, commands,
    /// tests).
    pub fn get(&self) -> Result<PooledConnection, r2d2::Error> {
        self.connections.get()
    }

    /// Whether the breaker is refusing requests (the database is known to be down).
    pub fn is_refusing(&self) -> bool {
        self.breaker().is_refusing()
    }

    fn breaker(&self) -> BreakerState {
        *self
            .shared
            .breaker
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn admit(&self) -> Admission {
        let mut state = self
            .shared
            .breaker
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (after, admission) = state.admit(Instant::now(), &self.shared.policy);
        *state = after;
        admission
    }

    fn record(&self, outcome: Outcome) {
        if outcome == Outcome::ConnectionFailed {
            self.shared.suspicion.fetch_add(1, Ordering::Relaxed);
        }
        let mut state = self
            .shared
            .breaker
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = *state;
        let after = before.record(outcome, Instant::now(), &self.shared.policy);
        *state = after;
        drop(state);
        match (before, after) {
            (
                BreakerState::Closed { .. } | BreakerState::HalfOpen { .. },
                BreakerState::Open { .. },
            ) => {
                tracing::warn!(
                    open_for_ms = self.shared.policy.open_for.as_millis() as u64,
                    "database unreachable: refusing database work until a probe succeeds"
                );
            }
            (BreakerState::HalfOpen { .. }, BreakerState::Closed { .. }) => {
                tracing::info!("database reachable again");
            }
            _ => {}
        }
    }

    /// Waits (in arrival order) for one of the pool's permits.
    async fn enter(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        let waiting = self.shared.gate.clone().acquire_owned();
        match actix_web::rt::time::timeout(self.shared.timeout, waiting).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(ApiError::Internal("the database gate is closed".into())),
            Err(_) => {
                tracing::warn!("every database connection stayed busy for the whole time-out");
                Err(ApiError::Unavailable(
                    "the database is busy; retry shortly".into(),
                ))
            }
        }
    }

    /// A working connection, or why there is none. Connections not seen working since the
    /// last failure are pinged first; a dead one is dropped and the next one tried.
    fn checkout(&self, probe: bool) -> Result<PooledConnection, ApiError> {
        let suspect =
            probe || matches!(self.breaker(), BreakerState::Closed { failures } if failures > 0);
        // While the database is suspect, a short wait: r2d2 keeps reconnecting in the
        // background, and a request need not wait its whole time-out for that.
        let wait = if suspect {
            self.shared
                .policy
                .open_for
                .clamp(Duration::from_millis(100), self.shared.timeout)
        } else {
            self.shared.timeout
        };
        for _ in 0..=self.connections.max_size() {
            let mut conn = self.connections.get_timeout(wait).map_err(|e| {
                tracing::warn!(error = %e, "no database connection");
                self.record(Outcome::ConnectionFailed);
                ApiError::Unavailable(UNAVAILABLE.into())
            })?;
            let now = self.shared.suspicion.load(Ordering::Relaxed);
            let seen = PooledConnection::extensions(&conn)
                .get::<SeenWorking>()
                .map(|s| s.0);
            // A connection new to the pool was just opened: it works.
            if seen.is_none_or(|s| s == now) || conn.ping().is_ok() {
                PooledConnection::extensions_mut(&mut conn).insert(SeenWorking(now));
                return Ok(conn);
            }
            mark_broken(&mut conn);
            self.record(Outcome::ConnectionFailed);
            if !probe && self.is_refusing() {
                return Err(ApiError::Unavailable(UNAVAILABLE.into()));
            }
        }
        Err(ApiError::Unavailable(UNAVAILABLE.into()))
    }

    /// On the blocking thread: a connection, the work, and what it says about the database.
    fn run_blocking<T>(
        &self,
        probe: bool,
        turn: OwnedSemaphorePermit,
        work: impl FnOnce(&mut DbConnection) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut conn = self.checkout(probe)?;
        let result = {
            // Holds the turn until the work is done (or a lost commit is being resolved).
            let _origin =
                commit::Origin::enter(&self.shared.backend, 2 * self.shared.timeout, turn);
            work(&mut conn)
        };
        let outcome = match &result {
            // Errors that may mean the connection died: ask it.
            Err(ApiError::Unavailable(_) | ApiError::OutcomeUnknown(_) | ApiError::Internal(_))
                if conn.ping().is_err() =>
            {
                mark_broken(&mut conn);
                Outcome::ConnectionFailed
            }
            _ => Outcome::Answered,
        };
        self.record(outcome);
        result
    }
}

/// Makes r2d2 drop the connection when it comes back: diesel reports a PostgreSQL
/// connection whose server went away as broken only while a transaction is open, so a
/// dead connection would otherwise be handed out again and again.
fn mark_broken(conn: &mut DbConnection) {
    match conn {
        DbConnection::Pg(c) => AnsiTransactionManager::transaction_manager_status_mut(c),
        DbConnection::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c),
    }
    .set_in_error();
}

/// Runs blocking database work on the blocking thread pool with a pooled connection: after
/// the breaker (503 at once while the database is known to be down) and the gate (a
/// permit per connection, served in arrival order; 503 after the pool's time-out).
pub async fn run<T, F>(pool: &Pool, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
{
    let admission = pool.admit();
    if admission == Admission::Reject {
        return Err(ApiError::Unavailable(UNAVAILABLE.into()));
    }
    let permit = pool.enter().await?;
    let probe = admission == Admission::Probe;
    // The breaker may have opened while this request waited for its turn.
    if !probe && pool.is_refusing() {
        return Err(ApiError::Unavailable(UNAVAILABLE.into()));
    }
    let pool = pool.clone();
    // The permit moves into the blocking task: it is held until the work is done, even if
    // the client has gone away meanwhile.
    actix_web::web::block(move || pool.run_blocking(probe, permit, work))
        .await
        .map_err(|e| ApiError::Internal(format!("blocking task failed: {e}")))?
}
