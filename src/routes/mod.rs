//! Every route of `/api/v1`, wired in one place, grouped by resource.

pub mod agreements;
pub mod api_keys;
pub mod auth;
pub mod blocks;
pub mod catalogue;
pub mod endorsements;
pub mod events;
pub mod invitations;
pub mod listings;
pub mod matches;
pub mod me;
pub mod members;
pub mod moderation;
pub mod modlog;
pub mod ops;
pub mod orgs;
pub mod problems;
pub mod proposal_actions;
pub mod proposals;
pub mod reciprocity;
pub mod reports;
pub mod transparency;
pub mod webhooks;

use actix_web::dev::{ServiceFactory, ServiceRequest};
use actix_web::App;
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_actix_web::{AppExt, UtoipaApp};

use crate::openapi;

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
    proposals::configure(cfg);
    proposal_actions::configure(cfg);
    agreements::configure(cfg);
    endorsements::configure(cfg);
    reciprocity::configure(cfg);
    blocks::configure(cfg);
    events::configure(cfg);
    webhooks::configure(cfg);
    transparency::configure(cfg);
}

/// Adds every documented route to an app; shared by the server and `mutua openapi`.
pub fn mount<T>(app: UtoipaApp<T>) -> UtoipaApp<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    app.openapi(openapi::base())
        .service(utoipa_actix_web::scope("/api/v1").configure(configure))
        .configure(ops::configure)
        .configure(problems::configure)
}

/// The OpenAPI document the code describes.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let (_, mut api) = mount(App::new().into_utoipa_app()).split_for_parts();
    openapi::finish(&mut api);
    api
}

/// The document as committed in `openapi/openapi.json`.
pub fn openapi_json() -> String {
    let mut text = openapi_document().to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}
