//! Accounts.

use chrono::{DateTime, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::{text_enum, utc};
use crate::db::schema::users;
use crate::db::DbConnection;
use crate::error::ApiError;

text_enum! {
    /// A user's platform-wide role.
    PlatformRole {
        /// A regular account.
        User => "user",
        /// May moderate the catalogue.
        Moderator => "moderator",
        /// May moderate and manage platform roles.
        Admin => "admin",
    }
}

text_enum! {
    /// Whether an account or organisation may act.
    AccountStatus {
        Active => "active",
        Suspended => "suspended",
    }
}

/// A stored user row.
#[derive(Debug, Clone, Queryable, Identifiable, Insertable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub display_name: String,
    pub platform_role: PlatformRole,
    pub status: AccountStatus,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A user as shown to that user and to admins.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    pub id: uuid::Uuid,
    pub email: String,
    pub display_name: String,
    pub platform_role: PlatformRole,
    pub status: AccountStatus,
    pub created_at: DateTime<chrono::Utc>,
}

impl User {
    /// The client-facing form.
    pub fn view(&self) -> Result<UserView, ApiError> {
        Ok(UserView {
            id: parse_uuid(&self.id)?,
            email: self.email.clone(),
            display_name: self.display_name.clone(),
            platform_role: self.platform_role,
            status: self.status,
            created_at: utc(self.created_at),
        })
    }

    /// Finds a user by (already normalised) e-mail address.
    pub fn find_by_email(conn: &mut DbConnection, email: &str) -> QueryResult<Option<User>> {
        users::table
            .filter(users::email.eq(email))
            .first(conn)
            .optional()
    }

    /// Finds a user by id.
    pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<User>> {
        users::table.find(id).first(conn).optional()
    }

    /// Stores a new user.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(users::table)
            .values(self)
            .execute(conn)
            .map(|_| ())
    }

    /// Sets the platform role.
    pub fn set_role(
        conn: &mut DbConnection,
        id: &str,
        role: PlatformRole,
        at: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(users::table.find(id))
            .set((users::platform_role.eq(role), users::updated_at.eq(at)))
            .execute(conn)
    }

    /// Replaces the password hash.
    pub fn set_password(
        conn: &mut DbConnection,
        id: &str,
        password_hash: &str,
        at: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(users::table.find(id))
            .set((
                users::password_hash.eq(password_hash),
                users::updated_at.eq(at),
            ))
            .execute(conn)
    }
}

/// Normalises an e-mail address for storage and comparison (trimmed, lower-cased).
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Parses a stored id; a malformed one is a data error, not the client's.
pub fn parse_uuid(id: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(id)
        .map_err(|e| ApiError::Internal(format!("stored id {id} is not a UUID: {e}")))
}
