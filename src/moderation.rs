//! Moderation actions shared by the moderation endpoints and report resolution. Each runs
//! inside the caller's transaction and writes its moderation-log entry there, so an action
//! and its log entry are stored together or not at all.

use diesel::prelude::*;

use crate::auth::AuthUser;
use crate::db::schema::{orgs, sessions, users};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::models::listing::{self, Decision, Listing, ListingStatus};
use crate::models::modlog;
use crate::models::now;
use crate::models::org::Org;
use crate::models::user::{AccountStatus, PlatformRole, User};

/// Approves, rejects, removes or restores a listing.
pub fn decide_listing(
    conn: &mut DbConnection,
    actor: &AuthUser,
    id: &str,
    decision: Decision,
    reason: Option<String>,
) -> Result<Listing, ApiError> {
    let current = listing::lock(conn, id)?;
    if current.status == ListingStatus::Draft {
        // Drafts are private to their organisation until submitted.
        return Err(ApiError::NotFound(format!("listing {id} does not exist")));
    }
    let update = listing::decide(&current, decision, reason.clone(), now())?;
    let updated = listing::apply(conn, &current, None, &update)?;
    let action = format!("{}_listing", decision.verb());
    modlog::record(
        conn,
        &actor.id,
        &action,
        "listing",
        id,
        reason.as_deref(),
        true,
    )?;
    Ok(updated)
}

/// Suspends or reinstates an organisation: while suspended its listings leave search and
/// matching and neither its members nor its keys can write.
pub fn set_org_status(
    conn: &mut DbConnection,
    actor: &AuthUser,
    org_id: &str,
    suspend: bool,
    reason: &str,
) -> Result<Org, ApiError> {
    if !Org::lock(conn, org_id)? {
        return Err(ApiError::NotFound(format!(
            "organisation {org_id} does not exist"
        )));
    }
    let (from, to) = statuses(suspend);
    let changed = diesel::update(orgs::table.find(org_id).filter(orgs::status.eq(from)))
        .set((
            orgs::status.eq(to),
            orgs::version.eq(orgs::version + 1),
            orgs::updated_at.eq(now()),
        ))
        .execute(conn)?;
    if changed == 0 {
        return Err(ApiError::Conflict(format!(
            "the organisation is already {to}"
        )));
    }
    crate::models::listing::catalogue_changed(conn)?;
    let action = if suspend {
        "suspend_org"
    } else {
        "unsuspend_org"
    };
    modlog::record(conn, &actor.id, action, "org", org_id, Some(reason), true)?;
    Org::find(conn, org_id)?
        .ok_or_else(|| ApiError::NotFound(format!("organisation {org_id} does not exist")))
}

/// Suspends or reinstates a user. Suspension ends every session at once. Moderators may
/// not suspend moderators or admins (admins may), and nobody suspends themselves.
pub fn set_user_status(
    conn: &mut DbConnection,
    actor: &AuthUser,
    user_id: &str,
    suspend: bool,
    reason: &str,
) -> Result<User, ApiError> {
    if user_id == actor.id {
        return Err(ApiError::Conflict(
            "you cannot change your own suspension".into(),
        ));
    }
    let target = User::find(conn, user_id)?
        .ok_or_else(|| ApiError::NotFound(format!("user {user_id} does not exist")))?;
    if target.platform_role >= PlatformRole::Moderator && !actor.is_platform(PlatformRole::Admin) {
        return Err(ApiError::Forbidden(
            "only admins may suspend moderators and admins".into(),
        ));
    }
    let (from, to) = statuses(suspend);
    let changed = diesel::update(users::table.find(user_id).filter(users::status.eq(from)))
        .set((users::status.eq(to), users::updated_at.eq(now())))
        .execute(conn)?;
    if changed == 0 {
        return Err(ApiError::Conflict(format!("the user is already {to}")));
    }
    if suspend {
        diesel::update(
            sessions::table
                .filter(sessions::user_id.eq(user_id))
                .filter(sessions::revoked_at.is_null()),
        )
        .set(sessions::revoked_at.eq(now()))
        .execute(conn)?;
    }
    let action = if suspend {
        "suspend_user"
    } else {
        "unsuspend_user"
    };
    modlog::record(conn, &actor.id, action, "user", user_id, Some(reason), true)?;
    User::find(conn, user_id)?
        .ok_or_else(|| ApiError::NotFound(format!("user {user_id} does not exist")))
}

fn statuses(suspend: bool) -> (AccountStatus, AccountStatus) {
    let (active, suspended) = (AccountStatus::Active, AccountStatus::Suspended);
    if suspend {
        (active, suspended)
    } else {
        (suspended, active)
    }
}
