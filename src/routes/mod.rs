//! Every route of `/api/v1`, wired in one place, grouped by resource.

pub mod api_keys;
pub mod auth;
pub mod catalogue;
pub mod invitations;
pub mod listings;
pub mod matches;
pub mod me;
pub mod members;
pub mod moderation;
pub mod modlog;
pub mod ops;
pub mod orgs;
pub mod reports;

use utoipa_actix_web::service_config::ServiceConfig;

/// Registers the `/api/v1` routes.
pub fn configure(cfg: &mut ServiceConfig) {
    auth::configure(cfg);
    me::configure(cfg);
    orgs::configure(cfg);
    members::configure(cfg);
    invitations::configure(cfg);
    api_keys::configure(cfg);
    listings::configure(cfg);
    catalogue::configure(cfg);
    matches::configure(cfg);
    moderation::configure(cfg);
    reports::configure(cfg);
    modlog::configure(cfg);
}
