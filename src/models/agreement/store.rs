//! Reads and writes of agreements and their derived item rows. Every change of status
//! appends its transparency-log leaf on the same connection, inside the caller's
//! transaction, so an agreement and its leaves are stored together or not at all.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::lifecycle::{self, Action, Outcome};
use super::{Agreement, AgreementStatus, LogEntryRef};
use crate::db::schema::{agreement_items, agreements, log_leaves};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::models::effects::emit;
use crate::models::event::EventType;
use crate::models::party::Side;
use crate::models::proposal::{Proposal, ProposalStatus, Revision};
use crate::transparency::leaf::LogEvent;

/// Filters of the agreement lists.
#[derive(Debug, Clone, Default)]
pub struct AgreementFilter {
    /// Agreements this organisation is a party to.
    pub org_id: Option<String>,
    pub status: Option<AgreementStatus>,
}

fn lost_race() -> ApiError {
    ApiError::Conflict("the agreement changed while this request was handled; read it again".into())
}

impl Agreement {
    /// Stores a new agreement, its item rows and its `agreement.accepted` leaf.
    pub fn insert(&self, conn: &mut DbConnection) -> Result<(), ApiError> {
        diesel::insert_into(agreements::table)
            .values(self)
            .execute(conn)?;
        let terms = self.terms()?;
        let mut position = 0;
        for side in [Side::From, Side::To] {
            for item in terms.given_by(side) {
                diesel::insert_into(agreement_items::table)
                    .values((
                        agreement_items::agreement_id.eq(&self.id),
                        agreement_items::position.eq(position),
                        agreement_items::giver_org_id.eq(self.org(side)),
                        agreement_items::receiver_org_id.eq(self.org(side.other())),
                        agreement_items::category.eq(item.category),
                    ))
                    .execute(conn)?;
                position += 1;
            }
        }
        emit(conn, self.leaf(LogEvent::Accepted, self.created_at)?)?;
        Ok(())
    }

    /// An agreement by id.
    pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Agreement>> {
        agreements::table
            .find(id)
            .select(Agreement::as_select())
            .first(conn)
            .optional()
    }

    /// Locks an agreement's row for the rest of the transaction and reads it afresh.
    pub fn lock(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Agreement>> {
        diesel::update(agreements::table.find(id))
            .set(agreements::updated_at.eq(agreements::updated_at))
            .execute(conn)?;
        Agreement::find(conn, id)
    }

    /// The log leaves recording this agreement, oldest first.
    pub fn log_entries(&self, conn: &mut DbConnection) -> QueryResult<Vec<LogEntryRef>> {
        log_entries_of(conn, std::slice::from_ref(&self.id))
            .map(|mut all| all.pop().map(|(_, entries)| entries).unwrap_or_default())
    }

    /// Records `side`'s confirmation; when the agreement is thereby completed, appends
    /// the `agreement.completed` leaf.
    pub fn confirm(
        &self,
        conn: &mut DbConnection,
        side: Side,
        completed: bool,
        at: NaiveDateTime,
    ) -> Result<Agreement, ApiError> {
        let status = if completed {
            AgreementStatus::Completed
        } else {
            AgreementStatus::Active
        };
        let guarded = agreements::table
            .find(&self.id)
            .filter(agreements::status.eq(AgreementStatus::Active));
        let changed = match side {
            Side::From => diesel::update(guarded.filter(agreements::from_confirmed_at.is_null()))
                .set((
                    agreements::from_confirmed_at.eq(at),
                    agreements::status.eq(status),
                    agreements::completed_at.eq(completed.then_some(at)),
                    agreements::updated_at.eq(at),
                ))
                .execute(conn)?,
            Side::To => diesel::update(guarded.filter(agreements::to_confirmed_at.is_null()))
                .set((
                    agreements::to_confirmed_at.eq(at),
                    agreements::status.eq(status),
                    agreements::completed_at.eq(completed.then_some(at)),
                    agreements::updated_at.eq(at),
                ))
                .execute(conn)?,
        };
        if changed != 1 {
            return Err(lost_race());
        }
        let stored = Agreement::find(conn, &self.id)?.ok_or_else(lost_race)?;
        if completed {
            emit(conn, stored.leaf(LogEvent::Completed, at)?)?;
        }
        Ok(stored)
    }

    /// `side` completes or cancels the agreement as its lifecycle allows: the agreement as
    /// stored after it (leaf appended) and the event both parties are told of.
    pub fn act(
        &self,
        conn: &mut DbConnection,
        side: Side,
        action: Action,
        reason: &str,
        at: NaiveDateTime,
    ) -> Result<(Agreement, EventType), ApiError> {
        Ok(match lifecycle::transition(self.state(), side, action)? {
            Outcome::Confirmed { completed } => (
                self.confirm(conn, side, completed, at)?,
                if completed {
                    EventType::AgreementCompleted
                } else {
                    EventType::AgreementConfirmed
                },
            ),
            Outcome::Cancelled => (
                self.cancel(conn, side, reason, at)?,
                EventType::AgreementCancelled,
            ),
        })
    }

    /// Cancels an active agreement for `side` and appends the `agreement.cancelled` leaf.
    pub fn cancel(
        &self,
        conn: &mut DbConnection,
        side: Side,
        reason: &str,
        at: NaiveDateTime,
    ) -> Result<Agreement, ApiError> {
        let changed = diesel::update(
            agreements::table
                .find(&self.id)
                .filter(agreements::status.eq(AgreementStatus::Active)),
        )
        .set((
            agreements::status.eq(AgreementStatus::Cancelled),
            agreements::cancelled_by_org_id.eq(self.org(side)),
            agreements::cancel_reason.eq(reason),
            agreements::cancelled_at.eq(at),
            agreements::updated_at.eq(at),
        ))
        .execute(conn)?;
        if changed != 1 {
            return Err(lost_race());
        }
        let stored = Agreement::find(conn, &self.id)?.ok_or_else(lost_race)?;
        emit(conn, stored.leaf(LogEvent::Cancelled, at)?)?;
        Ok(stored)
    }

    /// One page of agreements, newest first, before the cursor's id. `public_only` keeps
    /// confidential agreements out (the public registry).
    pub fn list(
        conn: &mut DbConnection,
        filter: &AgreementFilter,
        public_only: bool,
        before: Option<&str>,
        limit: i64,
    ) -> QueryResult<Vec<Agreement>> {
        let mut query = agreements::table
            .select(Agreement::as_select())
            .into_boxed();
        if public_only {
            query = query.filter(agreements::confidential.eq(false));
        }
        if let Some(org) = &filter.org_id {
            query = query.filter(
                agreements::from_org_id
                    .eq(org.clone())
                    .or(agreements::to_org_id.eq(org.clone())),
            );
        }
        if let Some(status) = filter.status {
            query = query.filter(agreements::status.eq(status));
        }
        if let Some(id) = before {
            query = query.filter(agreements::id.lt(id.to_owned()));
        }
        query.order(agreements::id.desc()).limit(limit).load(conn)
    }
}

/// The log leaves of several agreements (one statement), grouped by agreement id.
pub fn log_entries_of(
    conn: &mut DbConnection,
    ids: &[String],
) -> QueryResult<Vec<(String, Vec<LogEntryRef>)>> {
    let rows: Vec<(String, i64, String)> = log_leaves::table
        .filter(log_leaves::agreement_id.eq_any(ids))
        .order((log_leaves::agreement_id.asc(), log_leaves::leaf_index.asc()))
        .select((
            log_leaves::agreement_id,
            log_leaves::leaf_index,
            log_leaves::event,
        ))
        .load(conn)?;
    let mut grouped: Vec<(String, Vec<LogEntryRef>)> = Vec::new();
    for (id, leaf_index, event) in rows {
        let entry = LogEntryRef { leaf_index, event };
        match grouped.last_mut() {
            Some((last, entries)) if *last == id => entries.push(entry),
            _ => grouped.push((id, vec![entry])),
        }
    }
    Ok(grouped)
}

/// Accepts revision `latest` of the open `proposal` (its lifecycle already checked): the
/// proposal closed as accepted and the new agreement `id`, stored with its leaf.
pub fn accept(
    conn: &mut DbConnection,
    proposal: &Proposal,
    latest: &Revision,
    id: String,
    at: NaiveDateTime,
) -> Result<(Proposal, Agreement), ApiError> {
    let agreement = super::from_accepted(proposal, latest, id, at)?;
    let closed = proposal.close(
        conn,
        ProposalStatus::Accepted,
        None,
        Some(&agreement.id),
        at,
    )?;
    agreement.insert(conn)?;
    Ok((closed, agreement))
}
