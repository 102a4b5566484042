//! The moderation log: one row for every moderator and admin action. Each action is a
//! typed [`ModAction`] built by a constructor per kind of action and written with
//! [`effects::emit`] by the same transaction as the change it records.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::effects::{self, Effect};
use super::listing::lifecycle::Action;
use super::report::Resolution;
use super::user::parse_uuid;
use super::user::PlatformRole;
use super::{new_id, now, text_enum, utc};
use crate::db::schema::modlog;
use crate::db::DbConnection;
use crate::error::ApiError;

text_enum! {
    /// What a moderator or admin did.
    ModActionKind {
        ApproveListing => "approve_listing",
        RejectListing => "reject_listing",
        RemoveListing => "remove_listing",
        RestoreListing => "restore_listing",
        SuspendOrg => "suspend_org",
        UnsuspendOrg => "unsuspend_org",
        SuspendUser => "suspend_user",
        UnsuspendUser => "unsuspend_user",
        ResolveReport => "resolve_report",
        SetPlatformRole => "set_platform_role",
        RemoveEndorsement => "remove_endorsement",
    }
}

text_enum! {
    /// What a moderation action was done to.
    ModTarget {
        Listing => "listing",
        Org => "org",
        User => "user",
        Report => "report",
        Endorsement => "endorsement",
    }
}

/// A stored log row.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = modlog)]
pub struct ModlogEntry {
    pub id: String,
    pub action: ModActionKind,
    pub target_type: ModTarget,
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
    /// `set_platform_role`, `remove_endorsement`.
    pub action: String,
    /// `listing`, `org`, `user`, `report` or `endorsement`.
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
            action: self.action.as_str().to_owned(),
            target_type: self.target_type.as_str().to_owned(),
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

/// One moderation action, ready to be logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModAction {
    pub actor_id: String,
    pub kind: ModActionKind,
    pub target_type: ModTarget,
    pub target_id: String,
    pub reason: Option<String>,
    /// Shown in the public `/modlog` (role changes are for admins only).
    pub public: bool,
}

impl ModAction {
    fn new(
        actor_id: &str,
        kind: ModActionKind,
        target_type: ModTarget,
        target_id: &str,
        reason: Option<&str>,
    ) -> ModAction {
        ModAction {
            actor_id: actor_id.to_owned(),
            kind,
            target_type,
            target_id: target_id.to_owned(),
            reason: reason.map(str::to_owned),
            public: true,
        }
    }

    /// A moderator's decision on a listing, with its reason or an optional note. `None`
    /// for the owner's own actions, which are not moderation.
    pub fn decide_listing(
        actor_id: &str,
        listing_id: &str,
        action: &Action,
        note: Option<&str>,
    ) -> Option<ModAction> {
        let kind = match action {
            Action::Approve => ModActionKind::ApproveListing,
            Action::Reject(_) => ModActionKind::RejectListing,
            Action::Remove(_) => ModActionKind::RemoveListing,
            Action::Restore => ModActionKind::RestoreListing,
            Action::Edit(_) | Action::Submit | Action::Archive | Action::Delete => return None,
        };
        let reason = action.reason().or(note);
        Some(Self::new(
            actor_id,
            kind,
            ModTarget::Listing,
            listing_id,
            reason,
        ))
    }

    /// An organisation suspended or reinstated.
    pub fn org_status(actor_id: &str, org_id: &str, suspend: bool, reason: &str) -> ModAction {
        let kind = if suspend {
            ModActionKind::SuspendOrg
        } else {
            ModActionKind::UnsuspendOrg
        };
        Self::new(actor_id, kind, ModTarget::Org, org_id, Some(reason))
    }

    /// A user suspended or reinstated.
    pub fn user_status(actor_id: &str, user_id: &str, suspend: bool, reason: &str) -> ModAction {
        let kind = if suspend {
            ModActionKind::SuspendUser
        } else {
            ModActionKind::UnsuspendUser
        };
        Self::new(actor_id, kind, ModTarget::User, user_id, Some(reason))
    }

    /// A report resolved; the log shows how.
    pub fn resolve_report(actor_id: &str, report_id: &str, resolution: Resolution) -> ModAction {
        let reason = Some(resolution.as_str());
        Self::new(
            actor_id,
            ModActionKind::ResolveReport,
            ModTarget::Report,
            report_id,
            reason,
        )
    }

    /// An endorsement taken off the endorsed organisation's profile.
    pub fn remove_endorsement(actor_id: &str, endorsement_id: &str, reason: &str) -> ModAction {
        Self::new(
            actor_id,
            ModActionKind::RemoveEndorsement,
            ModTarget::Endorsement,
            endorsement_id,
            Some(reason),
        )
    }

    /// A user's platform role changed (admin log only).
    pub fn set_platform_role(actor_id: &str, user_id: &str, role: PlatformRole) -> ModAction {
        ModAction {
            public: false,
            ..Self::new(
                actor_id,
                ModActionKind::SetPlatformRole,
                ModTarget::User,
                user_id,
                Some(role.as_str()),
            )
        }
    }

    /// Writes the entry (inside the transaction of the action).
    pub fn record(self, conn: &mut DbConnection) -> QueryResult<()> {
        effects::emit(conn, self)
    }
}

impl Effect for ModAction {
    fn write(self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(modlog::table)
            .values(ModlogEntry {
                id: new_id(),
                action: self.kind,
                target_type: self.target_type,
                target_id: self.target_id,
                reason: self.reason,
                actor_id: self.actor_id,
                public: self.public,
                created_at: now(),
            })
            .execute(conn)
            .map(|_| ())
    }
}
