//! `/orgs/{org_id}/api-keys`: create (secret shown once), list, revoke.

use actix_web::{delete, get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::auth::tokens::{random_token, sha256_hex};
use crate::auth::{authorize_org, AuthUser, OrgNeed, Principal};
use crate::db;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::idempotency::{self, Created, IdempotencyKey};
use crate::http::json::Json;
use crate::http::pagination::{Page, PageQuery};
use crate::http::validate::Checks;
use crate::models::api_key::{ApiKey, ApiKeyView, Scope, Scopes, KEY_PREFIX, VISIBLE_CHARS};
use crate::models::effects::emit;
use crate::models::event::{Event, EventType};
use crate::models::{new_id, now};

/// Routes of this module.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_key)
        .service(list_keys)
        .service(revoke_key);
}

/// A new API key.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct CreateKeyRequest {
    /// 1–80 characters (trimmed), to recognise the key.
    #[schema(example = "ERP sync", min_length = 1, max_length = 80)]
    pub name: String,
    /// At least one of `read`, `write` (repeats count once).
    #[schema(min_items = 1)]
    pub scopes: Vec<Scope>,
}

/// Creates an API key (owners and admins). The response shows the secret `key` once.
#[utoipa::path(
    tag = "orgs",
    params(
        ("org_id" = uuid::Uuid, Path, description = "The organisation"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, pattern = r"^[\x21-\x7E]{1,255}$", description = "1–255 visible ASCII characters; replays the first response (without the secret) for the same key and body"),
    ),
    request_body = CreateKeyRequest,
    responses(
        (status = 201, description = "Created; `key` is shown only here", body = ApiKeyView, headers(("Location" = String))),
        (status = 403, description = "Not an owner/admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/orgs/{org_id}/api-keys")]
async fn create_key(
    state: web::Data<AppState>,
    user: AuthUser,
    key: IdempotencyKey,
    path: web::Path<uuid::Uuid>,
    body: Json<CreateKeyRequest>,
) -> ApiResult<HttpResponse> {
    let org_id = path.into_inner().to_string();
    let body = body.into_inner();
    let mut checks = Checks::new();
    let name = checks.text("name", &body.name, 1, 80);
    let mut scopes = body.scopes.clone();
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty() {
        checks.fail("scopes", "must name at least one of `read`, `write`");
    }
    checks.finish()?;
    let scope = Principal::User(user.clone()).scope();
    let route = "POST /orgs/{org_id}/api-keys";
    let request = (org_id.clone(), &body);
    idempotency::create(
        &state.pool,
        scope,
        key,
        route,
        &request,
        &["key"],
        move |conn| {
            let secret = format!("{KEY_PREFIX}{}", random_token(32));
            let api_key = ApiKey {
                id: new_id(),
                org_id: org_id.clone(),
                name,
                prefix: secret.chars().take(VISIBLE_CHARS).collect(),
                key_hash: sha256_hex(&secret),
                scopes: Scopes(scopes),
                created_by: user.id.clone(),
                created_at: now(),
                last_used_at: None,
                revoked_at: None,
            };
            authorize_org(conn, &Principal::User(user), &org_id, OrgNeed::Manage)?;
            api_key.insert(conn)?;
            let mut view = api_key.view()?;
            emit(
                conn,
                Event::new(&api_key.org_id, EventType::ApiKeyCreated, &view)?,
            )?;
            view.key = Some(secret);
            Ok(Created {
                location: format!("/api/v1/orgs/{}/api-keys/{}", api_key.org_id, api_key.id),
                etag: None,
                body: view,
            })
        },
    )
    .await
}

/// The organisation's active API keys, without secrets (owners and admins).
#[utoipa::path(
    tag = "orgs",
    params(("org_id" = uuid::Uuid, Path, description = "The organisation"), PageQuery),
    responses(
        (status = 200, description = "One page", body = Page<ApiKeyView>),
        (status = 403, description = "Not an owner/admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/orgs/{org_id}/api-keys")]
async fn list_keys(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<uuid::Uuid>,
    query: crate::http::query::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let org_id = path.into_inner().to_string();
    let page = query.resolve()?;
    let request = page.clone();
    let usage = state.key_usage.clone();
    let rows = db::run(&state.pool, move |conn| {
        authorize_org(conn, &Principal::User(user), &org_id, OrgNeed::Manage)?;
        // Uses recorded by this instance, so the list shows them at once.
        usage.flush(conn)?;
        Ok(ApiKey::list(
            conn,
            &org_id,
            request.after.as_deref(),
            request.fetch(),
        )?)
    })
    .await?;
    let page = Page::from_rows(rows, &page, |k| k.id.clone(), |k| k.view())?;
    Ok(HttpResponse::Ok().json(page))
}

/// Revokes an API key at once (owners and admins).
#[utoipa::path(
    tag = "orgs",
    params(
        ("org_id" = uuid::Uuid, Path, description = "The organisation"),
        ("key_id" = uuid::Uuid, Path, description = "The key"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Not an owner/admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such active key in this organisation", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/orgs/{org_id}/api-keys/{key_id}")]
async fn revoke_key(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
) -> ApiResult<HttpResponse> {
    let (org_id, id) = path.into_inner();
    let (org_id, id) = (org_id.to_string(), id.to_string());
    db::run(&state.pool, move |conn| {
        db::write_transaction(conn, |conn| {
            authorize_org(conn, &Principal::User(user), &org_id, OrgNeed::Manage)?;
            let revoked = ApiKey::revoke(conn, &org_id, &id, now())?.ok_or_else(|| {
                ApiError::NotFound(format!("API key {id} does not exist in this organisation"))
            })?;
            let event = Event::new(&org_id, EventType::ApiKeyRevoked, &revoked.view()?)?;
            emit(conn, event)?;
            Ok(())
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
