//! Reports of abuse against listings, organisations, users, proposals, agreements and
//! endorsements.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::user::parse_uuid;
use super::{text_enum, utc};
use crate::db::schema::reports;
use crate::db::DbConnection;
use crate::error::ApiError;

text_enum! {
    /// What a report is about.
    TargetType {
        Listing => "listing",
        Org => "org",
        User => "user",
        Agreement => "agreement",
        Proposal => "proposal",
        Endorsement => "endorsement",
    }
}

text_enum! {
    /// Why something is reported.
    ReportReason {
        Spam => "spam",
        /// Claims that are not true.
        Misleading => "misleading",
        /// Pressure tactics and fake reciprocity: gifts or favours used to create a sense
        /// of obligation.
        Manipulation => "manipulation",
        Inappropriate => "inappropriate",
        Other => "other",
    }
}

text_enum! {
    /// Whether a moderator has dealt with a report.
    ReportStatus {
        Open => "open",
        Resolved => "resolved",
    }
}

text_enum! {
    /// What a moderator did about a report.
    Resolution {
        /// Nothing to act on.
        Dismiss => "dismiss",
        /// Remove the reported listing.
        RemoveListing => "remove_listing",
        /// Suspend the reported organisation (or the reported listing's organisation).
        SuspendOrg => "suspend_org",
        /// Suspend the reported user.
        SuspendUser => "suspend_user",
        /// Take the reported endorsement off the endorsed organisation's profile.
        RemoveEndorsement => "remove_endorsement",
    }
}

/// A stored report row.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = reports)]
pub struct Report {
    pub id: String,
    pub reporter_id: String,
    pub target_type: TargetType,
    pub target_id: String,
    pub reason: ReportReason,
    pub details: String,
    pub status: ReportStatus,
    pub resolution: Option<Resolution>,
    pub resolution_note: Option<String>,
    pub resolved_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub resolved_at: Option<NaiveDateTime>,
    /// The organisation the report was filed for, which is told of its resolution.
    pub org_id: Option<String>,
}

/// A report as its reporter and moderators see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportView {
    pub id: uuid::Uuid,
    pub target_type: TargetType,
    pub target_id: uuid::Uuid,
    pub reason: ReportReason,
    pub details: String,
    pub status: ReportStatus,
    /// The outcome, once resolved.
    pub resolution: Option<Resolution>,
    pub resolution_note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Who reported (moderators only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reporter_id: Option<uuid::Uuid>,
    /// The organisation the report was filed for: its event feed is told of the outcome
    /// (`report.resolved`).
    pub org_id: Option<uuid::Uuid>,
}

/// Filters of the moderators' report queue.
#[derive(Debug, Clone, Default)]
pub struct ReportFilter {
    pub status: Option<ReportStatus>,
    pub target_type: Option<TargetType>,
    pub target_id: Option<String>,
    pub reporter_id: Option<String>,
}

impl Report {
    /// The client-facing form; `moderator` adds the reporter.
    pub fn view(&self, moderator: bool) -> Result<ReportView, ApiError> {
        Ok(ReportView {
            id: parse_uuid(&self.id)?,
            target_type: self.target_type,
            target_id: parse_uuid(&self.target_id)?,
            reason: self.reason,
            details: self.details.clone(),
            status: self.status,
            resolution: self.resolution,
            resolution_note: self.resolution_note.clone(),
            created_at: utc(self.created_at),
            resolved_at: self.resolved_at.map(utc),
            reporter_id: if moderator {
                Some(parse_uuid(&self.reporter_id)?)
            } else {
                None
            },
            org_id: self.org_id.as_deref().map(parse_uuid).transpose()?,
        })
    }

    /// Stores a report.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(reports::table)
            .values(self)
            .execute(conn)
            .map(|_| ())
    }

    /// Finds a report.
    pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Report>> {
        reports::table.find(id).first(conn).optional()
    }

    /// The reporter's open report on a target, if any.
    pub fn open_by(
        conn: &mut DbConnection,
        reporter: &str,
        target_type: &str,
        target_id: &str,
    ) -> QueryResult<Option<Report>> {
        reports::table
            .filter(reports::reporter_id.eq(reporter))
            .filter(reports::target_type.eq(target_type))
            .filter(reports::target_id.eq(target_id))
            .filter(reports::status.eq(ReportStatus::Open))
            .first(conn)
            .optional()
    }

    /// One page, oldest first.
    pub fn list(
        conn: &mut DbConnection,
        filter: &ReportFilter,
        after: Option<&str>,
        limit: i64,
    ) -> QueryResult<Vec<Report>> {
        let mut query = reports::table.into_boxed();
        if let Some(status) = filter.status {
            query = query.filter(reports::status.eq(status));
        }
        if let Some(target_type) = filter.target_type {
            query = query.filter(reports::target_type.eq(target_type));
        }
        if let Some(target_id) = &filter.target_id {
            query = query.filter(reports::target_id.eq(target_id.clone()));
        }
        if let Some(reporter) = &filter.reporter_id {
            query = query.filter(reports::reporter_id.eq(reporter.clone()));
        }
        if let Some(after) = after {
            query = query.filter(reports::id.gt(after.to_owned()));
        }
        query.order(reports::id.asc()).limit(limit).load(conn)
    }

    /// Marks an open report resolved; 0 when it was not open.
    pub fn resolve(
        conn: &mut DbConnection,
        id: &str,
        resolution: Resolution,
        note: &str,
        moderator: &str,
        at: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(
            reports::table
                .find(id)
                .filter(reports::status.eq(ReportStatus::Open)),
        )
        .set((
            reports::status.eq(ReportStatus::Resolved),
            reports::resolution.eq(resolution),
            reports::resolution_note.eq(note),
            reports::resolved_by.eq(moderator),
            reports::resolved_at.eq(at),
        ))
        .execute(conn)
    }
}
