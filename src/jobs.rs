//! Periodic jobs: telling expired proposals and purging what has outlived its use. They run
//! inside `mutua serve` (unless turned off) and in `mutua worker`, in any number of
//! processes at once: a runner claims a due job by taking a lease on its row (PostgreSQL
//! picks the row with `FOR UPDATE SKIP LOCKED`, so runners never wait on each other;
//! SQLite under its write lock), runs it, and sets when it is next due. A runner that dies
//! mid-job leaves a lease that runs out, and the next runner takes the job over; every job
//! is safe to run twice (its writes are guarded), so a lease that ran out under a slow
//! runner costs work, never correctness.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::jobs;
use crate::db::{self, DbConnection, Pool};
use crate::error::ApiError;
use crate::models::idempotency::IdempotencyRecord;
use crate::models::invitation::Invitation;
use crate::models::proposal::Proposal;
use crate::models::{now, session};

/// How long a claim holds before another runner may take the job over.
const LEASE: Duration = Duration::from_secs(120);
/// Proposals told of their expiry per transaction (the job runs again at once while it
/// finds more).
const EXPIRY_BATCH: i64 = 200;
/// Idempotency records are kept this long (`docs/API-DESIGN.md`, "Idempotent creates").
const IDEMPOTENCY_RETENTION_HOURS: i64 = 24;
/// Unused invitations stay listed this long after they expired or were revoked.
const INVITATION_RETENTION_DAYS: i64 = 7;

/// One periodic job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Records the expiry of open proposals past `expires_at` and tells both parties.
    TellExpiredProposals,
    /// Deletes expired refresh tokens and sessions that can no longer authenticate.
    PurgeSessions,
    /// Deletes idempotency records older than 24 hours.
    PurgeIdempotencyRecords,
    /// Deletes unused invitations a week after they expired or were revoked.
    PurgeInvitations,
    /// Deletes finished webhook deliveries (and their attempts) past the retention period.
    PurgeDeliveries,
}

impl Job {
    /// Every job, in the order a runner looks at them when several are due.
    pub const ALL: [Job; 5] = [
        Job::TellExpiredProposals,
        Job::PurgeSessions,
        Job::PurgeIdempotencyRecords,
        Job::PurgeInvitations,
        Job::PurgeDeliveries,
    ];

    /// The job's row name.
    pub fn name(self) -> &'static str {
        match self {
            Job::TellExpiredProposals => "tell_expired_proposals",
            Job::PurgeSessions => "purge_sessions",
            Job::PurgeIdempotencyRecords => "purge_idempotency_records",
            Job::PurgeInvitations => "purge_invitations",
            Job::PurgeDeliveries => "purge_webhook_deliveries",
        }
    }

    fn from_name(name: &str) -> Option<Job> {
        Job::ALL.into_iter().find(|job| job.name() == name)
    }

    /// The time from one run's end to the next run.
    pub fn every(self) -> Duration {
        match self {
            Job::TellExpiredProposals => Duration::from_secs(15),
            Job::PurgeSessions
            | Job::PurgeIdempotencyRecords
            | Job::PurgeInvitations
            | Job::PurgeDeliveries => Duration::from_secs(3600),
        }
    }

    /// Runs the job once in one write transaction; returns how many rows it handled.
    fn run(
        self,
        conn: &mut DbConnection,
        at: NaiveDateTime,
        settings: &JobSettings,
    ) -> Result<usize, ApiError> {
        db::write_transaction(conn, |conn| match self {
            Job::TellExpiredProposals => Proposal::tell_expired(conn, at, EXPIRY_BATCH),
            Job::PurgeSessions => Ok(session::purge(conn, at, settings.access_token_ttl)?),
            Job::PurgeIdempotencyRecords => Ok(IdempotencyRecord::purge(
                conn,
                at - chrono::Duration::hours(IDEMPOTENCY_RETENTION_HOURS),
            )?),
            Job::PurgeInvitations => Ok(Invitation::purge(
                conn,
                at - chrono::Duration::days(INVITATION_RETENTION_DAYS),
            )?),
            Job::PurgeDeliveries => Ok(crate::models::webhook::purge(
                conn,
                at - chrono::Duration::from_std(settings.delivery_retention)
                    .unwrap_or(chrono::Duration::MAX),
            )?),
        })
    }

    /// Whether a run that handled `count` rows may have left more due at once.
    fn may_have_more(self, count: usize) -> bool {
        self == Job::TellExpiredProposals && count as i64 >= EXPIRY_BATCH
    }
}

/// What the jobs need of the settings.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// An access token's lifetime (sessions are purged no earlier than this after their end).
    pub access_token_ttl: Duration,
    /// How long finished webhook deliveries are kept.
    pub delivery_retention: Duration,
}

impl JobSettings {
    /// What the jobs need of the server's settings.
    pub fn of(settings: &crate::settings::Settings) -> JobSettings {
        JobSettings {
            access_token_ttl: settings.access_token_ttl,
            delivery_retention: settings.webhooks.retention,
        }
    }
}

fn plus(at: NaiveDateTime, span: Duration) -> NaiveDateTime {
    at + chrono::Duration::from_std(span).unwrap_or(chrono::Duration::MAX)
}

/// Adds the rows of jobs a new version brought (due at once); existing rows stay.
pub fn ensure_rows(conn: &mut DbConnection) -> QueryResult<()> {
    let at = now();
    for job in Job::ALL {
        crate::native!(&mut *conn, |c| diesel::insert_into(jobs::table)
            .values((jobs::name.eq(job.name()), jobs::due_at.eq(at)))
            .on_conflict_do_nothing()
            .execute(c))?;
    }
    Ok(())
}

/// Claims one due job for `runner`, if any: a short transaction of its own, so the lease
/// is visible to every other runner before the job starts.
fn claim(conn: &mut DbConnection, runner: &str, at: NaiveDateTime) -> QueryResult<Option<Job>> {
    db::write_transaction(conn, |conn| {
        let due = jobs::table
            .filter(jobs::due_at.le(at))
            .filter(jobs::lease_until.is_null().or(jobs::lease_until.lt(at)))
            .order(jobs::due_at.asc())
            .select(jobs::name);
        let name: Option<String> = match conn {
            DbConnection::Pg(c) => due.for_update().skip_locked().first(c).optional()?,
            // BEGIN IMMEDIATE already holds the database's write lock.
            DbConnection::Sqlite(c) => due.first(c).optional()?,
        };
        let Some(name) = name else {
            return Ok(None);
        };
        diesel::update(jobs::table.find(&name))
            .set((
                jobs::claimed_by.eq(runner),
                jobs::lease_until.eq(plus(at, LEASE)),
            ))
            .execute(conn)?;
        // A row of a job this version does not know (a newer version's) is left alone
        // until its lease runs out.
        Ok(Job::from_name(&name))
    })
}

/// Ends `runner`'s claim on `job`: due again after its interval (at once when it may
/// have left work), the lease given back. A claim taken over meanwhile is not touched.
fn finish(
    conn: &mut DbConnection,
    runner: &str,
    job: Job,
    count: Option<usize>,
) -> QueryResult<()> {
    let at = now();
    let next = match count {
        Some(n) if job.may_have_more(n) => at,
        _ => plus(at, job.every()),
    };
    diesel::update(
        jobs::table
            .find(job.name())
            .filter(jobs::claimed_by.eq(runner)),
    )
    .set((
        jobs::due_at.eq(next),
        jobs::claimed_by.eq(None::<String>),
        jobs::lease_until.eq(None::<NaiveDateTime>),
        jobs::last_run_at.eq(at),
        jobs::last_count.eq(count.map(|n| n as i64)),
    ))
    .execute(conn)?;
    Ok(())
}

/// One job's run, as [`run_due`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    pub job: Job,
    /// Rows handled, or `None` when the job failed (it is retried after its interval).
    pub count: Option<usize>,
}

/// Runs every job that is due now and not claimed by another runner, each once, as
/// `runner` (a name unique to this process). Jobs that fail are logged, given back and
/// retried at their next interval.
pub async fn run_due(
    pool: &Pool,
    runner: &str,
    settings: &JobSettings,
) -> Result<Vec<Ran>, ApiError> {
    let mut ran = Vec::new();
    // Bounded: a job that keeps finding more is run again by the next tick, not forever here.
    for _ in 0..Job::ALL.len() * 4 {
        let (who, at) = (runner.to_owned(), now());
        let Some(job) = db::run(pool, move |conn| Ok(claim(conn, &who, at)?)).await? else {
            break;
        };
        let (who, settings) = (runner.to_owned(), settings.clone());
        let count = db::run(pool, move |conn| {
            let outcome = job.run(conn, at, &settings);
            let count = match &outcome {
                Ok(n) => Some(*n),
                Err(e) => {
                    tracing::warn!(job = job.name(), error = %e, "job failed; retried later");
                    None
                }
            };
            finish(conn, &who, job, count)?;
            Ok(count)
        })
        .await?;
        if let Some(n) = count.filter(|n| *n > 0) {
            tracing::info!(job = job.name(), handled = n, "job ran");
        }
        ran.push(Ran { job, count });
    }
    Ok(ran)
}

/// A name for this process's runner, unique among processes (its claims carry it).
pub fn runner_name() -> String {
    format!("runner-{}", uuid::Uuid::now_v7())
}

/// Runs [`run_due`] every `tick` for as long as the runtime lives.
pub fn spawn(pool: Pool, runner: String, settings: JobSettings, tick: Duration) {
    actix_web::rt::spawn(async move {
        let mut interval = actix_web::rt::time::interval(tick);
        loop {
            interval.tick().await;
            if let Err(e) = run_due(&pool, &runner, &settings).await {
                tracing::warn!(error = %e, "could not run the periodic jobs");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_has_a_distinct_name_that_reads_back() {
        let mut names: Vec<&str> = Job::ALL.iter().map(|j| j.name()).collect();
        for job in Job::ALL {
            assert_eq!(Job::from_name(job.name()), Some(job));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Job::ALL.len());
        assert_eq!(Job::from_name("compact_the_moon"), None);
    }

    #[test]
    fn only_a_full_expiry_batch_runs_again_at_once() {
        assert!(Job::TellExpiredProposals.may_have_more(EXPIRY_BATCH as usize));
        assert!(!Job::TellExpiredProposals.may_have_more(EXPIRY_BATCH as usize - 1));
        assert!(!Job::PurgeSessions.may_have_more(1_000_000));
    }
}
