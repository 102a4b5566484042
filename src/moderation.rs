//! Moderation actions shared by the moderation endpoints and report resolution. Each runs
//! inside the caller's transaction and writes its moderation-log entry there, so an action
//! and its log entry are stored together or not at all.

use diesel::prelude::*;

use crate::auth::AuthUser;
use crate::db::schema::{orgs, sessions, users};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::models::catalogue_state;
use crate::models::effects::emit;
use crate::models::event::{Event, EventType};
use crate::models::listing::lifecycle::{self, Action, Actor, Transition};
use crate::models::listing::{self, store, Listing, ListingStatus};
use crate::models::modlog::ModAction;
use crate::models::now;
use crate::models::org::Org;
use crate::models::user::{AccountStatus, PlatformRole, User};

/// Approves, rejects, removes or restores a listing; `note` is logged when the action
/// carries no reason of its own.
pub fn decide_listing(
    conn: &mut DbConnection,
    actor: &AuthUser,
    id: &str,
    action: Action,
    note: Option<String>,
) -> Result<Listing, ApiError> {
    let current = listing::lock(conn, id)?;
    let logged = ModAction::decide_listing(&actor.id, id, &action, note.as_deref());
    let action_taken = action.clone();
    let updated = match lifecycle::transition(&current, Actor::Moderator, action, now())? {
        Transition::Update(update) => store::apply(conn, &current, None, &update)?,
        Transition::Delete => {
            return Err(ApiError::Internal(
                "moderators never delete listings".into(),
            ))
        }
    };
    if let Some(entry) = logged {
        entry.record(conn)?;
    }
    tell_owner(conn, current.status, &action_taken, &updated)?;
    Ok(updated)
}

/// The event a stored listing action tells the listing's organisation of, with the listing
/// as its members see it (the change's last write).
pub fn tell_owner(
    conn: &mut DbConnection,
    before: ListingStatus,
    action: &Action,
    listing: &Listing,
) -> Result<(), ApiError> {
    if let Some(event_type) = lifecycle::event_of(before, action) {
        let event = Event::new(&listing.org_id, event_type, &listing.view(true)?)?;
        emit(conn, event)?;
    }
    Ok(())
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
    crate::search::org_status_changed(conn, org_id, !suspend, now())?;
    catalogue_state::changed(conn)?;
    ModAction::org_status(&actor.id, org_id, suspend, reason).record(conn)?;
    let org = Org::find(conn, org_id)?
        .ok_or_else(|| ApiError::NotFound(format!("organisation {org_id} does not exist")))?;
    let event_type = if suspend {
        EventType::OrgSuspended
    } else {
        EventType::OrgReinstated
    };
    emit(conn, Event::new(org_id, event_type, &org.view()?)?)?;
    Ok(org)
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
    ModAction::user_status(&actor.id, user_id, suspend, reason).record(conn)?;
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
