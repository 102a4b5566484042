//! The moderation log: one row for every moderator and admin action.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::user::parse_uuid;
use super::{new_id, now, utc};
use crate::db::schema::modlog;
use crate::db::DbConnection;
use crate::error::ApiError;

/// A stored log row.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = modlog)]
pub struct ModlogEntry {
    pub id: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub reason: Option<String>,
    pub actor_id: String,
    pub public: bool,
    pub created_at: NaiveDateTime,
}

/// A log entry as shown; `actor_id` only to platform admins.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ModlogView {
    pub id: uuid::Uuid,
    /// e.g. `approve_listing`, `reject_listing`, `remove_listing`, `restore_listing`,
    /// `suspend_org`, `unsuspend_org`, `suspend_user`, `unsuspend_user`, `resolve_report`,
    /// `set_platform_role`.
    pub action: String,
    /// `listing`, `org`, `user` or `report`.
    pub target_type: String,
    pub target_id: String,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Who acted (admins only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<uuid::Uuid>,
    /// Whether the entry appears in the public log (admins only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public: Option<bool>,
}

impl ModlogEntry {
    /// The view for the public (`admin = false`) or for admins.
    pub fn view(&self, admin: bool) -> Result<ModlogView, ApiError> {
        Ok(ModlogView {
            id: parse_uuid(&self.id)?,
            action: self.action.clone(),
            target_type: self.target_type.clone(),
            target_id: self.target_id.clone(),
            reason: self.reason.clone(),
            created_at: utc(self.created_at),
            actor_id: if admin {
                Some(parse_uuid(&self.actor_id)?)
            } else {
                None
            },
            public: admin.then_some(self.public),
        })
    }

    /// One page, newest first; `public_only` hides internal entries.
    pub fn list(
        conn: &mut DbConnection,
        public_only: bool,
        before: Option<&str>,
        limit: i64,
    ) -> QueryResult<Vec<ModlogEntry>> {
        let mut query = modlog::table.into_boxed();
        if public_only {
            query = query.filter(modlog::public.eq(true));
        }
        if let Some(before) = before {
            query = query.filter(modlog::id.lt(before.to_owned()));
        }
        query.order(modlog::id.desc()).limit(limit).load(conn)
    }
}

/// Records an action.
pub fn record(
    conn: &mut DbConnection,
    actor_id: &str,
    action: &str,
    target_type: &str,
    target_id: &str,
    reason: Option<&str>,
    public: bool,
) -> QueryResult<()> {
    diesel::insert_into(modlog::table)
        .values(ModlogEntry {
            id: new_id(),
            action: action.into(),
            target_type: target_type.into(),
            target_id: target_id.into(),
            reason: reason.map(str::to_owned),
            actor_id: actor_id.into(),
            public,
            created_at: now(),
        })
        .execute(conn)
        .map(|_| ())
}
