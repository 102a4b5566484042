//! `/orgs/{org_id}/blocks`: an organisation stops another from sending it proposals, sees
//! whom it blocked, and lifts a block. Members and `write` keys change them; any member or
//! key reads them. Nobody else learns of a block until a blocked proposal is refused.

use actix_web::{delete, get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::auth::{authorize_org, OrgNeed, Principal};
use crate::db;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::json::Json;
use crate::http::pagination::{Page, PageQuery};
use crate::models::block::{Block, BlockView};
use crate::models::now;
use crate::models::org::Org;

/// Routes of this module.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_block)
        .service(list_blocks)
        .service(delete_block);
}

/// The organisation to block.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct CreateBlockRequest {
    /// It can no longer send proposals to this organisation.
    pub org_id: uuid::Uuid,
}

/// Blocks an organisation from sending proposals to this one. Blocking twice answers the
/// existing block (200). Open proposals it already sent stay open until answered.
#[utoipa::path(
    tag = "orgs",
    params(("org_id" = uuid::Uuid, Path, description = "The blocking organisation")),
    request_body = CreateBlockRequest,
    responses(
        (status = 201, description = "Blocked", body = BlockView, headers(("Location" = String))),
        (status = 200, description = "Already blocked", body = BlockView),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a member or `write` key of this organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such organisation to block, or the organisation itself", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/orgs/{org_id}/blocks")]
async fn create_block(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<uuid::Uuid>,
    body: Json<CreateBlockRequest>,
) -> ApiResult<HttpResponse> {
    let org_id = path.into_inner().to_string();
    let blocked = body.into_inner().org_id.to_string();
    let (created, view) = db::run(&state.pool, move |conn| {
        db::write_transaction(conn, |conn| {
            authorize_org(conn, &principal, &org_id, OrgNeed::Write)?;
            if blocked == org_id {
                return Err(ApiError::field(
                    "org_id",
                    "an organisation cannot block itself",
                ));
            }
            if Org::find(conn, &blocked)?.is_none() {
                return Err(ApiError::field("org_id", "no such organisation"));
            }
            if let Some(existing) = Block::find(conn, &org_id, &blocked)? {
                return Ok((false, existing.view()?));
            }
            let block = Block {
                org_id,
                blocked_org_id: blocked,
                created_at: now(),
            };
            // A concurrent request for the same block may insert it first (PostgreSQL reads
            // no lock above): answer with its block too. The savepoint keeps the
            // transaction usable after the unique violation.
            match db::write_transaction(conn, |conn| block.insert(conn)) {
                Ok(()) => Ok((true, block.view()?)),
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => {
                    let existing = Block::find(conn, &block.org_id, &block.blocked_org_id)?
                        .ok_or_else(|| {
                            ApiError::Conflict("the block changed concurrently; retry".into())
                        })?;
                    Ok((false, existing.view()?))
                }
                Err(e) => Err(e.into()),
            }
        })
    })
    .await?;
    if created {
        let location = format!("/api/v1/orgs/{}/blocks/{}", view.blocker, view.org_id);
        Ok(HttpResponse::Created()
            .insert_header(("Location", location))
            .json(view))
    } else {
        Ok(HttpResponse::Ok().json(view))
    }
}

/// The organisations this one has blocked, in id order.
#[utoipa::path(
    tag = "orgs",
    params(("org_id" = uuid::Uuid, Path, description = "The organisation"), PageQuery),
    responses(
        (status = 200, description = "One page", body = Page<BlockView>),
        (status = 400, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a member or key of this organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/orgs/{org_id}/blocks")]
async fn list_blocks(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<uuid::Uuid>,
    query: crate::http::query::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let org_id = path.into_inner().to_string();
    let page = query.resolve()?;
    let body = db::run(&state.pool, move |conn| {
        authorize_org(conn, &principal, &org_id, OrgNeed::Read)?;
        let rows = Block::list(conn, &org_id, page.after.as_deref(), page.fetch())?;
        Page::from_rows(rows, &page, |b| b.blocked_org_id.clone(), |b| b.view())
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// Lifts a block.
#[utoipa::path(
    tag = "orgs",
    params(
        ("org_id" = uuid::Uuid, Path, description = "The blocking organisation"),
        ("blocked_org_id" = uuid::Uuid, Path, description = "The blocked organisation"),
    ),
    responses(
        (status = 204, description = "Lifted"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a member or `write` key of this organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation or block", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/orgs/{org_id}/blocks/{blocked_org_id}")]
async fn delete_block(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
) -> ApiResult<HttpResponse> {
    let (org_id, blocked) = path.into_inner();
    let (org_id, blocked) = (org_id.to_string(), blocked.to_string());
    db::run(&state.pool, move |conn| {
        db::write_transaction(conn, |conn| {
            authorize_org(conn, &principal, &org_id, OrgNeed::Write)?;
            if !Block::delete(conn, &org_id, &blocked)? {
                return Err(ApiError::NotFound(format!(
                    "organisation {org_id} has not blocked {blocked}"
                )));
            }
            Ok(())
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
