//! Authentication (who is calling) and organisation-level authorisation (may they).

pub mod extract;
pub mod hasher;
pub mod parties;
pub mod password;
pub mod tokens;
pub mod visibility;

pub use extract::{
    authorize_org, AuthUser, MaybePrincipal, Moderator, OrgAccess, OrgNeed, Principal,
};
pub use visibility::{is_insider, writable_listing};
