//! Endorsements: after a completed agreement, each party may publish one thank-you about
//! the other, shown on the agreement and on the endorsed organisation's profile.
//! Moderators may take one down after a report (it then shows nowhere).

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::user::parse_uuid;
use super::utc;
use crate::db::schema::endorsements;
use crate::db::DbConnection;
use crate::error::ApiError;

/// A stored endorsement row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = endorsements)]
pub struct Endorsement {
    pub id: String,
    pub agreement_id: String,
    pub author_org_id: String,
    pub endorsed_org_id: String,
    pub author_user_id: Option<String>,
    pub text: String,
    pub removed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// An endorsement as anyone sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EndorsementView {
    pub id: uuid::Uuid,
    pub agreement_id: uuid::Uuid,
    /// The organisation that says thank you.
    pub author_org_id: uuid::Uuid,
    /// The organisation being thanked.
    pub endorsed_org_id: uuid::Uuid,
    pub text: String,
    pub created_at: DateTime<Utc>,
}

impl Endorsement {
    /// The endorsement as sent to clients.
    pub fn view(&self) -> Result<EndorsementView, ApiError> {
        Ok(EndorsementView {
            id: parse_uuid(&self.id)?,
            agreement_id: parse_uuid(&self.agreement_id)?,
            author_org_id: parse_uuid(&self.author_org_id)?,
            endorsed_org_id: parse_uuid(&self.endorsed_org_id)?,
            text: self.text.clone(),
            created_at: utc(self.created_at),
        })
    }

    /// Stores a new endorsement; a second one by the same party is a unique violation
    /// (409), whatever races.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(endorsements::table)
            .values(self)
            .execute(conn)
            .map(|_| ())
    }

    /// An endorsement that has not been taken down.
    pub fn find_shown(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Endorsement>> {
        endorsements::table
            .find(id)
            .filter(endorsements::removed_at.is_null())
            .select(Endorsement::as_select())
            .first(conn)
            .optional()
    }

    /// The shown endorsements of an agreement, oldest first.
    pub fn of_agreement(
        conn: &mut DbConnection,
        agreement_id: &str,
    ) -> QueryResult<Vec<Endorsement>> {
        endorsements::table
            .filter(endorsements::agreement_id.eq(agreement_id))
            .filter(endorsements::removed_at.is_null())
            .order(endorsements::id.asc())
            .select(Endorsement::as_select())
            .load(conn)
    }

    /// One page of the shown endorsements of an organisation, newest first.
    pub fn of_org(
        conn: &mut DbConnection,
        org_id: &str,
        before: Option<&str>,
        limit: i64,
    ) -> QueryResult<Vec<Endorsement>> {
        let mut query = endorsements::table
            .filter(endorsements::endorsed_org_id.eq(org_id))
            .filter(endorsements::removed_at.is_null())
            .select(Endorsement::as_select())
            .into_boxed();
        if let Some(id) = before {
            query = query.filter(endorsements::id.lt(id.to_owned()));
        }
        query.order(endorsements::id.desc()).limit(limit).load(conn)
    }

    /// Takes an endorsement down (moderators, after a report); false if it was not shown.
    pub fn remove(conn: &mut DbConnection, id: &str, at: NaiveDateTime) -> QueryResult<bool> {
        diesel::update(
            endorsements::table
                .find(id)
                .filter(endorsements::removed_at.is_null()),
        )
        .set(endorsements::removed_at.eq(at))
        .execute(conn)
        .map(|n| n == 1)
    }
}
