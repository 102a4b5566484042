//! Who belongs to which organisation, and in which role.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::user::parse_uuid;
use super::{text_enum, utc};
use crate::db::schema::{memberships, orgs, users};
use crate::db::DbConnection;
use crate::error::ApiError;

text_enum! {
    /// A member's role in an organisation.
    OrgRole {
        /// Full control, including other owners; every organisation keeps at least one.
        Owner => "owner",
        /// Manages members, invitations, API keys and the profile.
        Admin => "admin",
        /// Acts for the organisation (listings, proposals).
        Member => "member",
    }
}

impl OrgRole {
    /// Higher is more powerful.
    pub fn rank(self) -> u8 {
        match self {
            OrgRole::Owner => 3,
            OrgRole::Admin => 2,
            OrgRole::Member => 1,
        }
    }

    /// Whether this role is at least `other`.
    pub fn at_least(self, other: OrgRole) -> bool {
        self.rank() >= other.rank()
    }
}

/// A member as listed to the organisation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MemberView {
    pub user_id: uuid::Uuid,
    pub email: String,
    pub display_name: String,
    pub role: OrgRole,
    pub joined_at: DateTime<Utc>,
}

/// One organisation the caller belongs to.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MyMembership {
    pub org_id: uuid::Uuid,
    pub org_name: String,
    pub role: OrgRole,
}

type MemberRow = (String, String, String, OrgRole, NaiveDateTime);

fn member_view(row: MemberRow) -> Result<MemberView, ApiError> {
    let (user_id, email, display_name, role, joined) = row;
    Ok(MemberView {
        user_id: parse_uuid(&user_id)?,
        email,
        display_name,
        role,
        joined_at: utc(joined),
    })
}

/// The caller's role in an organisation, if a member.
pub fn role_of(
    conn: &mut DbConnection,
    org_id: &str,
    user_id: &str,
) -> Result<Option<OrgRole>, ApiError> {
    Ok(memberships::table
        .find((org_id, user_id))
        .select(memberships::role)
        .first(conn)
        .optional()?)
}

/// Adds a member.
pub fn insert(
    conn: &mut DbConnection,
    org_id: &str,
    user_id: &str,
    role: OrgRole,
) -> QueryResult<()> {
    diesel::insert_into(memberships::table)
        .values((
            memberships::org_id.eq(org_id),
            memberships::user_id.eq(user_id),
            memberships::role.eq(role),
            memberships::created_at.eq(super::now()),
        ))
        .execute(conn)
        .map(|_| ())
}

/// One member with their account details.
pub fn find(
    conn: &mut DbConnection,
    org_id: &str,
    user_id: &str,
) -> Result<Option<MemberView>, ApiError> {
    let row: Option<MemberRow> = memberships::table
        .inner_join(users::table)
        .filter(memberships::org_id.eq(org_id))
        .filter(memberships::user_id.eq(user_id))
        .select((
            users::id,
            users::email,
            users::display_name,
            memberships::role,
            memberships::created_at,
        ))
        .first(conn)
        .optional()?;
    row.map(member_view).transpose()
}

/// One page of members in user-id order.
pub fn list(
    conn: &mut DbConnection,
    org_id: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<MemberView>, ApiError> {
    let mut query = memberships::table
        .inner_join(users::table)
        .filter(memberships::org_id.eq(org_id))
        .select((
            users::id,
            users::email,
            users::display_name,
            memberships::role,
            memberships::created_at,
        ))
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(memberships::user_id.gt(after.to_owned()));
    }
    let rows: Vec<MemberRow> = query
        .order(memberships::user_id.asc())
        .limit(limit)
        .load(conn)?;
    rows.into_iter().map(member_view).collect()
}

/// Changes a member's role.
pub fn set_role(
    conn: &mut DbConnection,
    org_id: &str,
    user_id: &str,
    role: OrgRole,
) -> QueryResult<usize> {
    diesel::update(memberships::table.find((org_id, user_id)))
        .set(memberships::role.eq(role))
        .execute(conn)
}

/// Removes a member.
pub fn delete(conn: &mut DbConnection, org_id: &str, user_id: &str) -> QueryResult<usize> {
    diesel::delete(memberships::table.find((org_id, user_id))).execute(conn)
}

/// How many owners an organisation has.
pub fn owner_count(conn: &mut DbConnection, org_id: &str) -> QueryResult<i64> {
    memberships::table
        .filter(memberships::org_id.eq(org_id))
        .filter(memberships::role.eq(OrgRole::Owner))
        .count()
        .get_result(conn)
}

/// Every organisation a user belongs to, by name.
pub fn of_user(conn: &mut DbConnection, user_id: &str) -> Result<Vec<MyMembership>, ApiError> {
    let rows: Vec<(String, String, OrgRole)> = memberships::table
        .inner_join(orgs::table)
        .filter(memberships::user_id.eq(user_id))
        .select((orgs::id, orgs::name, memberships::role))
        .order((orgs::name.asc(), orgs::id.asc()))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, name, role)| {
            Ok(MyMembership {
                org_id: parse_uuid(&id)?,
                org_name: name,
                role,
            })
        })
        .collect()
}
