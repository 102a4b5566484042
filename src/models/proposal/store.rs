//! Reads and writes of proposals and their revisions. Writes run inside the caller's
//! transaction; each change is guarded by the state it was decided on, so a racing
//! request that changed the row first makes the loser's write touch nothing (and fail).

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{Proposal, ProposalStatus, Revision};
use crate::db::schema::{proposal_revisions, proposals, reports};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::models::effects::emit;
use crate::models::event::{Event, EventType};
use crate::models::report::TargetType;

/// Which proposals a list shows, relative to the caller's organisations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Proposals the organisations opened.
    Sent,
    /// Proposals sent to the organisations.
    Received,
}

fn lost_race() -> ApiError {
    ApiError::Conflict("the proposal changed while this request was handled; read it again".into())
}

impl Proposal {
    /// Stores a new proposal with its first revision.
    pub fn insert(&self, conn: &mut DbConnection, first: &Revision) -> QueryResult<()> {
        diesel::insert_into(proposals::table)
            .values(self)
            .execute(conn)?;
        diesel::insert_into(proposal_revisions::table)
            .values(first)
            .execute(conn)?;
        Ok(())
    }

    /// A proposal by id.
    pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Proposal>> {
        proposals::table
            .find(id)
            .select(Proposal::as_select())
            .first(conn)
            .optional()
    }

    /// Locks a proposal's row for the rest of the transaction (a no-op write: PostgreSQL
    /// holds the row lock, SQLite the write lock) and reads it afresh.
    pub fn lock(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Proposal>> {
        diesel::update(proposals::table.find(id))
            .set(proposals::updated_at.eq(proposals::updated_at))
            .execute(conn)?;
        Proposal::find(conn, id)
    }

    /// Every revision, oldest first.
    pub fn revisions(&self, conn: &mut DbConnection) -> QueryResult<Vec<Revision>> {
        proposal_revisions::table
            .filter(proposal_revisions::proposal_id.eq(&self.id))
            .order(proposal_revisions::number.asc())
            .select(Revision::as_select())
            .load(conn)
    }

    /// The newest revision (the one an action answers).
    pub fn latest(&self, conn: &mut DbConnection) -> QueryResult<Revision> {
        proposal_revisions::table
            .find((&self.id, self.latest_revision))
            .select(Revision::as_select())
            .first(conn)
    }

    /// The revisions of several proposals (one statement), oldest first per proposal.
    pub fn revisions_of(
        conn: &mut DbConnection,
        ids: &[&str],
    ) -> QueryResult<HashMap<String, Vec<Revision>>> {
        let rows: Vec<Revision> = proposal_revisions::table
            .filter(proposal_revisions::proposal_id.eq_any(ids))
            .order((
                proposal_revisions::proposal_id.asc(),
                proposal_revisions::number.asc(),
            ))
            .select(Revision::as_select())
            .load(conn)?;
        let mut grouped: HashMap<String, Vec<Revision>> = HashMap::new();
        for revision in rows {
            grouped
                .entry(revision.proposal_id.clone())
                .or_default()
                .push(revision);
        }
        Ok(grouped)
    }

    /// Adds a counter-offer as the next revision.
    pub fn add_revision(
        &self,
        conn: &mut DbConnection,
        revision: &Revision,
    ) -> Result<(), ApiError> {
        let changed = diesel::update(
            proposals::table
                .find(&self.id)
                .filter(proposals::status.eq(ProposalStatus::Open))
                .filter(proposals::latest_revision.eq(revision.number - 1)),
        )
        .set((
            proposals::latest_revision.eq(revision.number),
            proposals::updated_at.eq(revision.created_at),
        ))
        .execute(conn)?;
        if changed != 1 {
            return Err(lost_race());
        }
        diesel::insert_into(proposal_revisions::table)
            .values(revision)
            .execute(conn)?;
        Ok(())
    }

    /// Closes an open proposal (accepted, declined, withdrawn) as decided on its state.
    pub fn close(
        &self,
        conn: &mut DbConnection,
        status: ProposalStatus,
        reason: Option<&str>,
        agreement_id: Option<&str>,
        at: NaiveDateTime,
    ) -> Result<Proposal, ApiError> {
        let changed = diesel::update(
            proposals::table
                .find(&self.id)
                .filter(proposals::status.eq(ProposalStatus::Open))
                .filter(proposals::latest_revision.eq(self.latest_revision)),
        )
        .set((
            proposals::status.eq(status),
            proposals::closed_reason.eq(reason),
            proposals::agreement_id.eq(agreement_id),
            proposals::closed_at.eq(at),
            proposals::updated_at.eq(at),
        ))
        .execute(conn)?;
        if changed != 1 {
            return Err(lost_race());
        }
        Proposal::find(conn, &self.id)?.ok_or_else(lost_race)
    }

    /// Records the expiry of up to `limit` open proposals whose `expires_at` has passed by
    /// `now` and tells both parties (`proposal.expired`), as the change's last write; the
    /// housekeeping job calls it in a write transaction. Only the stored status changes,
    /// so a proposal reads the same before and after (it read `expired` from the moment
    /// it expired). Guarded by `status = 'open'`: a proposal two runners both picked is
    /// told once. Returns how many were told.
    pub fn tell_expired(
        conn: &mut DbConnection,
        now: NaiveDateTime,
        limit: i64,
    ) -> Result<usize, ApiError> {
        let due: Vec<Proposal> = proposals::table
            .filter(proposals::status.eq(ProposalStatus::Open))
            .filter(proposals::expires_at.le(now))
            .order(proposals::expires_at.asc())
            .limit(limit)
            .select(Proposal::as_select())
            .load(conn)?;
        let mut told = Vec::new();
        for proposal in due {
            let changed = diesel::update(
                proposals::table
                    .find(&proposal.id)
                    .filter(proposals::status.eq(ProposalStatus::Open)),
            )
            .set(proposals::status.eq(ProposalStatus::Expired))
            .execute(conn)?;
            if changed == 1 {
                told.push(proposal);
            }
        }
        let ids: Vec<&str> = told.iter().map(|p| p.id.as_str()).collect();
        let revisions = Proposal::revisions_of(conn, &ids)?;
        let mut events = Vec::new();
        for proposal in &told {
            let own = revisions.get(&proposal.id).map_or(&[][..], Vec::as_slice);
            let view = proposal.view(own, now)?;
            let parties = [proposal.from_org_id.as_str(), proposal.to_org_id.as_str()];
            events.extend(Event::for_each(
                &parties,
                EventType::ProposalExpired,
                &view,
            )?);
        }
        emit(conn, events)?;
        Ok(told.len())
    }

    /// Whether anyone has reported this proposal (which lets moderators read it).
    pub fn is_reported(conn: &mut DbConnection, id: &str) -> QueryResult<bool> {
        let n: i64 = reports::table
            .filter(reports::target_type.eq(TargetType::Proposal))
            .filter(reports::target_id.eq(id))
            .count()
            .get_result(conn)?;
        Ok(n > 0)
    }

    /// One page of the proposals of `orgs`, newest first, before the cursor's id.
    pub fn list(
        conn: &mut DbConnection,
        orgs: &[String],
        direction: Option<Direction>,
        status: Option<ProposalStatus>,
        at: NaiveDateTime,
        before: Option<&str>,
        limit: i64,
    ) -> QueryResult<Vec<Proposal>> {
        let mut query = proposals::table.select(Proposal::as_select()).into_boxed();
        query = match direction {
            Some(Direction::Sent) => query.filter(proposals::from_org_id.eq_any(orgs)),
            Some(Direction::Received) => query.filter(proposals::to_org_id.eq_any(orgs)),
            None => query.filter(
                proposals::from_org_id
                    .eq_any(orgs)
                    .or(proposals::to_org_id.eq_any(orgs)),
            ),
        };
        let open = proposals::status.eq(ProposalStatus::Open);
        let unexpired = proposals::expires_at
            .is_null()
            .or(proposals::expires_at.gt(at));
        query = match status {
            Some(ProposalStatus::Open) => query.filter(open.and(unexpired)),
            Some(ProposalStatus::Expired) => query.filter(
                proposals::status
                    .eq(ProposalStatus::Expired)
                    .or(proposals::status
                        .eq(ProposalStatus::Open)
                        .and(proposals::expires_at.le(at))),
            ),
            Some(other) => query.filter(proposals::status.eq(other)),
            None => query,
        };
        if let Some(id) = before {
            query = query.filter(proposals::id.lt(id.to_owned()));
        }
        query.order(proposals::id.desc()).limit(limit).load(conn)
    }
}
