//! An organisation's webhooks (owners and admins): endpoints that receive its events as
//! signed POSTs, their secrets and their deliveries.

use actix_web::http::StatusCode;
use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::auth::{authorize_org, AuthUser, OrgNeed, Principal};
use crate::db::{self, DbConnection};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::etag::{tagged, IfMatch};
use crate::http::idempotency::{self, Created, IdempotencyKey};
use crate::http::json::Json;
use crate::http::pagination::{Page, PageQuery};
use crate::models::event::EventType;
use crate::models::org::{self, Org};
use crate::models::webhook::{self, stored_types, Delivery, DeliveryView, Webhook, WebhookView};
use crate::models::{new_id, now};
use crate::webhooks::{address, signing};

/// Routes of this module.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_webhook)
        .service(list_webhooks)
        .service(get_webhook)
        .service(update_webhook)
        .service(delete_webhook)
        .service(rotate_secret)
        .service(list_deliveries)
        .service(redeliver);
}

/// Most webhooks one organisation may have.
pub const MAX_PER_ORG: i64 = 10;

/// A new webhook.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct CreateWebhookRequest {
    /// Where events are POSTed: an absolute `https` URL (trimmed, up to 2,000 bytes) without
    /// credentials, whose host is not a private, loopback or otherwise non-public address.
    #[schema(example = "https://erp.hotel-alpenblick.example/mutua/events")]
    pub url: String,
    /// The event types to deliver; absent or empty: every type.
    #[serde(default)]
    pub event_types: Vec<EventType>,
    /// Default true.
    pub enabled: Option<bool>,
}

/// Changes of a webhook (each field optional).
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateWebhookRequest {
    /// A new URL, checked as on creation.
    pub url: Option<String>,
    /// Replaces the list; empty: every type.
    pub event_types: Option<Vec<EventType>>,
    /// `true` also resumes a webhook paused as failing (its pending deliveries go out again).
    pub enabled: Option<bool>,
}

fn check_url(state: &AppState, url: &str) -> Result<String, ApiError> {
    address::check_url(url.trim(), state.settings.webhooks.policy)
        .map(|u| u.to_string())
        .map_err(|why| ApiError::field("url", format!("the URL {why}")))
}

/// The caller may manage the organisation's webhooks (owners and admins).
fn manage(conn: &mut DbConnection, user: &AuthUser, org_id: &str) -> Result<(), ApiError> {
    authorize_org(
        conn,
        &Principal::User(user.clone()),
        org_id,
        OrgNeed::Manage,
    )?;
    Ok(())
}

fn missing(id: &str) -> ApiError {
    ApiError::NotFound(format!("webhook {id} does not exist in this organisation"))
}

fn found(conn: &mut DbConnection, org_id: &str, id: &str) -> Result<Webhook, ApiError> {
    Webhook::find_in_org(conn, org_id, id)?.ok_or_else(|| missing(id))
}

/// Registers a webhook (owners and admins). The response shows the signing `secret` once.
#[utoipa::path(
    tag = "events",
    params(
        ("org_id" = uuid::Uuid, Path, description = "The organisation"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, pattern = r"^[\x21-\x7E]{1,255}$", description = "1–255 visible ASCII characters; replays the first response (without the secret) for the same key and body"),
    ),
    request_body = CreateWebhookRequest,
    responses(
        (status = 201, description = "Registered; `secret` is shown only here", body = WebhookView, headers(("Location" = String), ("ETag" = String))),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an owner/admin (keys cannot manage webhooks)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid URL (not https, not public) or event type, or the organisation already has 10 webhooks", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/orgs/{org_id}/webhooks")]
async fn create_webhook(
    state: web::Data<AppState>,
    user: AuthUser,
    key: IdempotencyKey,
    path: web::Path<uuid::Uuid>,
    body: Json<CreateWebhookRequest>,
) -> ApiResult<HttpResponse> {
    let org_id = path.into_inner().to_string();
    let body = body.into_inner();
    let url = check_url(&state, &body.url)?;
    let scope = Principal::User(user.clone()).scope();
    let request = (org_id.clone(), &body);
    let (types, enabled) = (
        stored_types(&body.event_types),
        body.enabled.unwrap_or(true),
    );
    idempotency::create(
        &state.pool,
        scope,
        key,
        "POST /orgs/{org_id}/webhooks",
        &request,
        &["secret"],
        move |conn| {
            manage(conn, &user, &org_id)?;
            // Each event goes to every webhook: a bound on them bounds that fan-out. The
            // organisation's row lock makes concurrent creates count one after another.
            Org::lock(conn, &org_id)?;
            if Webhook::count_in_org(conn, &org_id)? >= MAX_PER_ORG {
                return Err(ApiError::Unprocessable(format!(
                    "an organisation may have at most {MAX_PER_ORG} webhooks; delete one first"
                )));
            }
            let at = now();
            let hook = Webhook {
                id: new_id(),
                org_id: org_id.clone(),
                url,
                event_types: types,
                enabled,
                failing_since: None,
                secret: signing::new_secret(),
                previous_secret: None,
                previous_secret_until: None,
                version: 1,
                created_at: at,
                updated_at: at,
            };
            hook.insert(conn)?;
            let mut view = hook.view()?;
            view.secret = Some(hook.secret.clone());
            Ok(Created {
                location: format!("/api/v1/orgs/{org_id}/webhooks/{}", hook.id),
                etag: Some(crate::http::etag::etag(hook.version)),
                body: view,
            })
        },
    )
    .await
}

/// The organisation's webhooks, oldest first, without secrets (owners and admins).
#[utoipa::path(
    tag = "events",
    params(("org_id" = uuid::Uuid, Path, description = "The organisation"), PageQuery),
    responses(
        (status = 200, description = "One page", body = Page<WebhookView>),
        (status = 400, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an owner/admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/orgs/{org_id}/webhooks")]
async fn list_webhooks(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<uuid::Uuid>,
    query: crate::http::query::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let org_id = path.into_inner().to_string();
    let page = query.into_inner().resolve()?;
    let request = page.clone();
    let rows = db::run(&state.pool, move |conn| {
        manage(conn, &user, &org_id)?;
        Ok(Webhook::list(
            conn,
            &org_id,
            request.after.as_deref(),
            request.fetch(),
        )?)
    })
    .await?;
    let page: Page<WebhookView> = Page::from_rows(rows, &page, |w| w.id.clone(), |w| w.view())?;
    Ok(HttpResponse::Ok().json(page))
}

/// One webhook, without its secret (owners and admins).
#[utoipa::path(
    tag = "events",
    params(
        ("org_id" = uuid::Uuid, Path, description = "The organisation"),
        ("id" = uuid::Uuid, Path, description = "The webhook"),
    ),
    responses(
        (status = 200, description = "The webhook", body = WebhookView, headers(("ETag" = String))),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an owner/admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation or webhook", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/orgs/{org_id}/webhooks/{id}")]
async fn get_webhook(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
) -> ApiResult<HttpResponse> {
    let (org_id, id) = path.into_inner();
    let (org_id, id) = (org_id.to_string(), id.to_string());
    let hook = db::run(&state.pool, move |conn| {
        manage(conn, &user, &org_id)?;
        found(conn, &org_id, &id)
    })
    .await?;
    Ok(tagged(StatusCode::OK, hook.version, &hook.view()?))
}

/// Changes a webhook's URL, event types or whether it is enabled (owners and admins);
/// honours `If-Match`. Enabling a webhook paused as failing resumes its deliveries.
#[utoipa::path(
    tag = "events",
    params(
        ("org_id" = uuid::Uuid, Path, description = "The organisation"),
        ("id" = uuid::Uuid, Path, description = "The webhook"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag read; 412 if it changed since"),
    ),
    request_body = UpdateWebhookRequest,
    responses(
        (status = 200, description = "The updated webhook", body = WebhookView, headers(("ETag" = String))),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an owner/admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation or webhook", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since the ETag given", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid URL or event type", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/orgs/{org_id}/webhooks/{id}")]
async fn update_webhook(
    state: web::Data<AppState>,
    user: AuthUser,
    if_match: IfMatch,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
    body: Json<UpdateWebhookRequest>,
) -> ApiResult<HttpResponse> {
    let (org_id, id) = path.into_inner();
    let (org_id, id) = (org_id.to_string(), id.to_string());
    let body = body.into_inner();
    let url = body
        .url
        .as_deref()
        .map(|u| check_url(&state, u))
        .transpose()?;
    let hook = db::run(&state.pool, move |conn| {
        db::write_transaction(conn, |conn| {
            manage(conn, &user, &org_id)?;
            let current = found(conn, &org_id, &id)?;
            if if_match.expected().is_some_and(|v| v != current.version) {
                return Err(org::stale(current.version));
            }
            let mut changed = current.clone();
            if let Some(url) = url {
                changed.url = url;
            }
            if let Some(types) = &body.event_types {
                changed.event_types = stored_types(types);
            }
            if let Some(enabled) = body.enabled {
                changed.enabled = enabled;
                if enabled {
                    changed.failing_since = None;
                }
            }
            changed.version = current.version + 1;
            changed.updated_at = now();
            if !changed.save(conn, current.version)? {
                return Err(org::stale(current.version));
            }
            Ok(changed)
        })
    })
    .await?;
    Ok(tagged(StatusCode::OK, hook.version, &hook.view()?))
}

/// Deletes a webhook and its deliveries (owners and admins).
#[utoipa::path(
    tag = "events",
    params(
        ("org_id" = uuid::Uuid, Path, description = "The organisation"),
        ("id" = uuid::Uuid, Path, description = "The webhook"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an owner/admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation or webhook", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/orgs/{org_id}/webhooks/{id}")]
async fn delete_webhook(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
) -> ApiResult<HttpResponse> {
    let (org_id, id) = path.into_inner();
    let (org_id, id) = (org_id.to_string(), id.to_string());
    db::run(&state.pool, move |conn| {
        manage(conn, &user, &org_id)?;
        if Webhook::delete(conn, &org_id, &id)? == 0 {
            return Err(missing(&id));
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replaces the signing secret (owners and admins). The response shows the new `secret`
/// once; the previous one keeps signing too (a second `v1=` in `Mutua-Signature`) until
/// `previous_secret_valid_until`, so receivers can switch without losing an event.
#[utoipa::path(
    tag = "events",
    params(
        ("org_id" = uuid::Uuid, Path, description = "The organisation"),
        ("id" = uuid::Uuid, Path, description = "The webhook"),
    ),
    responses(
        (status = 200, description = "The webhook with its new `secret`, shown only here", body = WebhookView, headers(("ETag" = String))),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an owner/admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation or webhook", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/orgs/{org_id}/webhooks/{id}/rotate-secret")]
async fn rotate_secret(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
) -> ApiResult<HttpResponse> {
    let (org_id, id) = path.into_inner();
    let (org_id, id) = (org_id.to_string(), id.to_string());
    let grace =
        chrono::Duration::from_std(state.settings.webhooks.rotation_grace).unwrap_or_default();
    let hook = db::run(&state.pool, move |conn| {
        db::write_transaction(conn, |conn| {
            manage(conn, &user, &org_id)?;
            let current = found(conn, &org_id, &id)?;
            let at = now();
            let mut rotated = current.clone();
            rotated.previous_secret = Some(current.secret.clone());
            rotated.previous_secret_until = Some(at + grace);
            rotated.secret = signing::new_secret();
            rotated.version = current.version + 1;
            rotated.updated_at = at;
            if !rotated.save(conn, current.version)? {
                return Err(ApiError::Conflict(
                    "the webhook changed while its secret was rotated; retry".into(),
                ));
            }
            Ok(rotated)
        })
    })
    .await?;
    let mut view = hook.view()?;
    view.secret = Some(hook.secret.clone());
    let mut response = tagged(StatusCode::OK, hook.version, &view);
    // It carries a secret: never stored by a cache.
    response.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// A webhook's deliveries, newest first, each with its attempts (status, latency, the
/// start of the answer) (owners and admins).
#[utoipa::path(
    tag = "events",
    params(
        ("org_id" = uuid::Uuid, Path, description = "The organisation"),
        ("id" = uuid::Uuid, Path, description = "The webhook"),
        PageQuery,
    ),
    responses(
        (status = 200, description = "One page, newest first", body = Page<DeliveryView>),
        (status = 400, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an owner/admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation or webhook", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/orgs/{org_id}/webhooks/{id}/deliveries")]
async fn list_deliveries(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
    query: crate::http::query::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let (org_id, id) = path.into_inner();
    let (org_id, id) = (org_id.to_string(), id.to_string());
    let page = query.into_inner().resolve()?;
    let request = page.clone();
    let rows = db::run(&state.pool, move |conn| {
        manage(conn, &user, &org_id)?;
        found(conn, &org_id, &id)?;
        Ok(webhook::deliveries(
            conn,
            &id,
            request.after.as_deref(),
            request.fetch(),
        )?)
    })
    .await?;
    let page: Page<DeliveryView> = Page::from_rows(
        rows,
        &page,
        |(d, _, _)| d.id.clone(),
        |(d, e, a)| DeliveryView::of(&d, &e, &a),
    )?;
    Ok(HttpResponse::Ok().json(page))
}

/// Sends a delivery's event again, as a new delivery due at once (owners and admins); the
/// event keeps its id, so a receiver de-duplicates it by `Mutua-Event-Id`.
#[utoipa::path(
    tag = "events",
    params(
        ("org_id" = uuid::Uuid, Path, description = "The organisation"),
        ("id" = uuid::Uuid, Path, description = "The webhook"),
        ("delivery_id" = uuid::Uuid, Path, description = "The delivery to send again"),
    ),
    responses(
        (status = 202, description = "Queued: the new delivery", body = DeliveryView),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an owner/admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation, webhook or delivery", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The webhook is paused; enable it first", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/orgs/{org_id}/webhooks/{id}/deliveries/{delivery_id}/redeliver")]
async fn redeliver(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(uuid::Uuid, uuid::Uuid, uuid::Uuid)>,
) -> ApiResult<HttpResponse> {
    let (org_id, id, delivery_id) = path.into_inner();
    let (org_id, id, delivery_id) = (org_id.to_string(), id.to_string(), delivery_id.to_string());
    let view = db::run(&state.pool, move |conn| {
        db::write_transaction(conn, |conn| {
            manage(conn, &user, &org_id)?;
            let hook = found(conn, &org_id, &id)?;
            let earlier =
                webhook::find_delivery(conn, &hook.id, &delivery_id)?.ok_or_else(|| {
                    ApiError::NotFound(format!(
                        "delivery {delivery_id} does not exist for this webhook"
                    ))
                })?;
            if !hook.enabled {
                return Err(ApiError::Conflict(
                    "the webhook is paused; enable it (PATCH enabled: true) before redelivering"
                        .into(),
                ));
            }
            let again = Delivery::new(&hook.id, earlier.event_seq, now());
            webhook::insert_delivery(conn, &again)?;
            let event = webhook::event_of(conn, earlier.event_seq)?;
            DeliveryView::of(&again, &event, &[])
        })
    })
    .await?;
    Ok(HttpResponse::Accepted().json(view))
}
