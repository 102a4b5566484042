//! Invitations: a single-use, expiring token that lets one e-mail address join an
//! organisation in a given role.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::membership::OrgRole;
use super::user::parse_uuid;
use super::{text_enum, utc};
use crate::db::schema::invitations;
use crate::db::DbConnection;
use crate::error::ApiError;

text_enum! {
    /// Where an invitation stands.
    InvitationStatus {
        Pending => "pending",
        Accepted => "accepted",
        Revoked => "revoked",
        Expired => "expired",
    }
}

/// A stored invitation row.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = invitations)]
pub struct Invitation {
    pub id: String,
    pub org_id: String,
    pub email: String,
    pub role: OrgRole,
    pub token_hash: String,
    pub invited_by: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub accepted_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

/// An invitation as shown to the organisation's admins.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvitationView {
    pub id: uuid::Uuid,
    pub org_id: uuid::Uuid,
    /// The invited address; only a user with this e-mail can accept.
    pub email: String,
    pub role: OrgRole,
    pub status: InvitationStatus,
    pub invited_by: uuid::Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The secret the invitee presents to join; shown once, in the creating response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl Invitation {
    /// Where the invitation stands at `at`.
    pub fn status(&self, at: NaiveDateTime) -> InvitationStatus {
        if self.accepted_at.is_some() {
            InvitationStatus::Accepted
        } else if self.revoked_at.is_some() {
            InvitationStatus::Revoked
        } else if self.expires_at <= at {
            InvitationStatus::Expired
        } else {
            InvitationStatus::Pending
        }
    }

    /// The client-facing form (without the token).
    pub fn view(&self) -> Result<InvitationView, ApiError> {
        Ok(InvitationView {
            id: parse_uuid(&self.id)?,
            org_id: parse_uuid(&self.org_id)?,
            email: self.email.clone(),
            role: self.role,
            status: self.status(super::now()),
            invited_by: parse_uuid(&self.invited_by)?,
            created_at: utc(self.created_at),
            expires_at: utc(self.expires_at),
            token: None,
        })
    }

    /// Stores a new invitation.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(invitations::table)
            .values(self)
            .execute(conn)
            .map(|_| ())
    }

    /// An invitation of an organisation by id.
    pub fn find_in_org(
        conn: &mut DbConnection,
        org_id: &str,
        id: &str,
    ) -> QueryResult<Option<Invitation>> {
        invitations::table
            .filter(invitations::org_id.eq(org_id))
            .filter(invitations::id.eq(id))
            .first(conn)
            .optional()
    }

    /// An invitation of an organisation by its token's hash.
    pub fn find_by_token(
        conn: &mut DbConnection,
        org_id: &str,
        token_hash: &str,
    ) -> QueryResult<Option<Invitation>> {
        invitations::table
            .filter(invitations::org_id.eq(org_id))
            .filter(invitations::token_hash.eq(token_hash))
            .first(conn)
            .optional()
    }

    /// One page of an organisation's invitations, oldest first.
    pub fn list(
        conn: &mut DbConnection,
        org_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> QueryResult<Vec<Invitation>> {
        let mut query = invitations::table
            .filter(invitations::org_id.eq(org_id))
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(invitations::id.gt(after.to_owned()));
        }
        query.order(invitations::id.asc()).limit(limit).load(conn)
    }

    /// Marks a pending invitation accepted; 0 rows means someone else got there first.
    pub fn mark_accepted(
        conn: &mut DbConnection,
        id: &str,
        at: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(
            invitations::table
                .find(id)
                .filter(invitations::accepted_at.is_null())
                .filter(invitations::revoked_at.is_null())
                .filter(invitations::expires_at.gt(at)),
        )
        .set(invitations::accepted_at.eq(at))
        .execute(conn)
    }

    /// Deletes invitations that can no longer be used and ended before `before`: expired
    /// unused, or revoked (the housekeeping job; accepted ones stay, as the record of who
    /// invited whom). Returns how many.
    pub fn purge(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<usize> {
        let unused_and_expired = invitations::accepted_at
            .is_null()
            .and(invitations::expires_at.lt(before));
        let revoked = invitations::revoked_at.lt(before);
        diesel::delete(invitations::table.filter(unused_and_expired.or(revoked))).execute(conn)
    }

    /// Revokes a pending invitation.
    pub fn revoke(conn: &mut DbConnection, id: &str, at: NaiveDateTime) -> QueryResult<usize> {
        diesel::update(
            invitations::table
                .find(id)
                .filter(invitations::accepted_at.is_null())
                .filter(invitations::revoked_at.is_null()),
        )
        .set(invitations::revoked_at.eq(at))
        .execute(conn)
    }
}
