//! Who may see and act on a proposal or agreement: its two organisations (members, or keys
//! of either). Moderators read a proposal only once it is reported. To everyone else a
//! private proposal does not exist (404, never 403). One person cannot sit on both sides.

use super::extract::{authorize_org, OrgNeed, Principal};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::models::membership;
use crate::models::party::Side;
use crate::models::proposal::Proposal;
use crate::models::user::PlatformRole;

/// How the caller stands to a pair of parties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// A member or key of exactly one side.
    Party(Side),
    /// A member of both organisations: may read, may not act.
    BothSides,
    /// A platform moderator who is not a party.
    Moderator,
    /// Anyone else (also anonymous callers).
    Outsider,
}

impl Standing {
    /// Whether the caller sees what only the parties see.
    pub fn is_party(self) -> bool {
        matches!(self, Standing::Party(_) | Standing::BothSides)
    }
}

/// How `principal` stands to the parties `from` and `to`.
pub fn standing(
    conn: &mut DbConnection,
    principal: Option<&Principal>,
    from: &str,
    to: &str,
) -> Result<Standing, ApiError> {
    let user = match principal {
        None => return Ok(Standing::Outsider),
        Some(Principal::Key(key)) => {
            return Ok(Side::of(&key.org_id, from, to).map_or(Standing::Outsider, Standing::Party))
        }
        Some(Principal::User(user)) => user,
    };
    let in_from = membership::role_of(conn, from, &user.id)?.is_some();
    let in_to = membership::role_of(conn, to, &user.id)?.is_some();
    Ok(match (in_from, in_to) {
        (true, true) => Standing::BothSides,
        (true, false) => Standing::Party(Side::From),
        (false, true) => Standing::Party(Side::To),
        (false, false) if user.is_platform(PlatformRole::Moderator) => Standing::Moderator,
        (false, false) => Standing::Outsider,
    })
}

/// The refusal for a member of both organisations.
pub fn both_sides() -> ApiError {
    ApiError::Unprocessable(
        "you are a member of both organisations; one person cannot sit on both sides of a proposal or agreement"
            .into(),
    )
}

/// The side the caller acts for, with write access to it (a member, or a `write` key, of
/// an active organisation). Non-parties get `hidden` (they may not know the thing exists);
/// a member of both sides 422.
pub fn acting_side(
    conn: &mut DbConnection,
    principal: &Principal,
    from: &str,
    to: &str,
    hidden: impl FnOnce() -> ApiError,
) -> Result<Side, ApiError> {
    match standing(conn, Some(principal), from, to)? {
        Standing::Party(side) => {
            authorize_org(conn, principal, side.org(from, to), OrgNeed::Write)?;
            Ok(side)
        }
        Standing::BothSides => Err(both_sides()),
        Standing::Moderator | Standing::Outsider => Err(hidden()),
    }
}

/// 404 for a proposal that does not exist or that the caller may not see.
pub fn hidden(id: &str) -> ApiError {
    ApiError::NotFound(format!("proposal {id} does not exist"))
}

/// A proposal the caller may read: a party's, or a reported one for moderators.
pub fn visible_proposal(
    conn: &mut DbConnection,
    principal: Option<&Principal>,
    id: &str,
) -> Result<Proposal, ApiError> {
    let proposal = Proposal::find(conn, id)?.ok_or_else(|| hidden(id))?;
    match standing(conn, principal, &proposal.from_org_id, &proposal.to_org_id)? {
        Standing::Party(_) | Standing::BothSides => Ok(proposal),
        Standing::Moderator if Proposal::is_reported(conn, id)? => Ok(proposal),
        Standing::Moderator | Standing::Outsider => Err(hidden(id)),
    }
}
