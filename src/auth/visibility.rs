//! Who may see and change a listing beyond what is public. A listing's private side
//! (drafts, moderation reasons, pending edits) belongs to its organisation and to platform
//! moderators; to everyone else a listing they cannot see does not exist (404, never 403).

use super::extract::{authorize_org, OrgNeed, Principal};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::models::listing::{self, Listing};
use crate::models::now;
use crate::models::user::PlatformRole;

/// Whether the caller sees a listing's private side: its organisation (members or keys)
/// and platform moderators.
pub fn is_insider(
    conn: &mut DbConnection,
    principal: Option<&Principal>,
    listing: &Listing,
) -> Result<bool, ApiError> {
    match principal {
        None => Ok(false),
        Some(Principal::User(user)) if user.is_platform(PlatformRole::Moderator) => Ok(true),
        Some(principal) => match authorize_org(conn, principal, &listing.org_id, OrgNeed::Read) {
            Ok(_) => Ok(true),
            Err(ApiError::Forbidden(_)) => Ok(false),
            Err(e) => Err(e),
        },
    }
}

/// Locks and loads a listing the caller may write (its organisation's members or `write`
/// keys); listings the caller cannot see are 404, visible ones it cannot change 403.
pub fn writable_listing(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
) -> Result<Listing, ApiError> {
    let found = listing::lock(conn, id)?;
    match authorize_org(conn, principal, &found.org_id, OrgNeed::Write) {
        Ok(_) => Ok(found),
        // Only refusals need the visibility check: a listing the caller cannot see is 404.
        Err(ApiError::Forbidden(reason)) => {
            if is_insider(conn, Some(principal), &found)? || found.is_public(conn, now())? {
                Err(ApiError::Forbidden(reason))
            } else {
                Err(ApiError::NotFound(format!("listing {id} does not exist")))
            }
        }
        Err(other) => Err(other),
    }
}
