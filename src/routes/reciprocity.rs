//! `/orgs/{org_id}/reciprocity` (public balance) and `/orgs/{org_id}/partners` (the
//! organisation's own history per partner, to keep its contacts alive).

use actix_web::{get, web, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::auth::{authorize_org, OrgNeed, Principal};
use crate::db;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::pagination::{cut, encode_keyed, Cursor, Page, PageQuery};
use crate::models::org::Org;
use crate::models::reciprocity::{self, Partner, Reciprocity};

/// Routes of this module.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(get_reciprocity).service(get_partners);
}

/// What an organisation gave and received in completed agreements, per item category. A
/// trial counts for its giver only; confidential agreements count as agreements but their
/// items are not counted (nothing of their terms is revealed).
#[utoipa::path(
    tag = "agreements",
    params(("org_id" = uuid::Uuid, Path, description = "The organisation")),
    responses(
        (status = 200, description = "The balance", body = Reciprocity),
        (status = 404, description = "No such organisation", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/orgs/{org_id}/reciprocity")]
async fn get_reciprocity(
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
) -> ApiResult<HttpResponse> {
    let org_id = path.into_inner().to_string();
    let body = db::run(&state.pool, move |conn| {
        Org::find_existing(conn, &org_id)?;
        reciprocity::balance(conn, &org_id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// Per partner: agreements by status, first and latest agreement, and the items that
/// flowed each way in completed agreements (confidential ones included). The most recent
/// partner first. Members and keys of the organisation.
#[utoipa::path(
    tag = "agreements",
    params(("org_id" = uuid::Uuid, Path, description = "The organisation"), PageQuery),
    responses(
        (status = 200, description = "One page, most recent partner first", body = Page<Partner>),
        (status = 400, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a member or key of this organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/orgs/{org_id}/partners")]
async fn get_partners(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<uuid::Uuid>,
    query: crate::http::query::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let org_id = path.into_inner().to_string();
    let page = query.resolve_keyed()?;
    let body = db::run(&state.pool, move |conn| {
        authorize_org(conn, &principal, &org_id, OrgNeed::Read)?;
        let all = reciprocity::partners(conn, &org_id)?;
        let key = |p: &Partner| (p.last_agreement_at.timestamp_micros(), p.org_id.to_string());
        let rest: Vec<Partner> = match &page.after {
            None => all,
            Some(Cursor::Keyed(at, id)) => all
                .into_iter()
                .filter(|p| {
                    let (t, pid) = key(p);
                    t < *at || (t == *at && pid > *id)
                })
                .collect(),
            Some(Cursor::Id(_)) => {
                return Err(ApiError::BadRequest(
                    "cursor is not one this API issued".into(),
                ))
            }
        };
        let (items, next_cursor) = cut(rest, page.limit, |p| {
            let (t, id) = key(p);
            encode_keyed(t, &id)
        });
        Ok(Page { items, next_cursor })
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}
