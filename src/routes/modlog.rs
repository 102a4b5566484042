//! The public moderation log and the admins' audit log.

use actix_web::{get, web, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::auth::{AuthUser, MaybePrincipal, Principal};
use crate::db;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::pagination::{Page, PageQuery};
use crate::models::modlog::{ModlogEntry, ModlogView};
use crate::models::user::PlatformRole;

/// Routes of this module.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(public_modlog).service(audit_log);
}

async fn entries(
    state: &AppState,
    public_only: bool,
    admin: bool,
    query: PageQuery,
) -> ApiResult<HttpResponse> {
    let page = query.resolve()?;
    let request = page.clone();
    let rows = db::run(&state.pool, move |conn| {
        Ok(ModlogEntry::list(
            conn,
            public_only,
            request.after.as_deref(),
            request.fetch(),
        )?)
    })
    .await?;
    let page: Page<ModlogView> = Page::from_rows(rows, &page, |e| e.id.clone(), |e| e.view(admin))?;
    Ok(HttpResponse::Ok().json(page))
}

/// Every moderation action (action, target, reason, time), newest first. Public; the
/// acting moderator is shown only to platform admins.
#[utoipa::path(
    tag = "moderation",
    params(PageQuery),
    responses(
        (status = 200, description = "One page", body = Page<ModlogView>),
        (status = 400, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
#[get("/modlog")]
async fn public_modlog(
    state: web::Data<AppState>,
    caller: MaybePrincipal,
    query: crate::http::query::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let admin =
        matches!(caller.0, Some(Principal::User(ref u)) if u.is_platform(PlatformRole::Admin));
    entries(&state, true, admin, query.into_inner()).await
}

/// The audit log (platform admins): every moderator and admin action, with the actor,
/// including those not in the public log (such as platform role changes).
#[utoipa::path(
    tag = "admin",
    params(PageQuery),
    responses(
        (status = 200, description = "One page", body = Page<ModlogView>),
        (status = 403, description = "Not a platform admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/admin/audit-log")]
async fn audit_log(
    state: web::Data<AppState>,
    user: AuthUser,
    query: crate::http::query::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    if !user.is_platform(PlatformRole::Admin) {
        return Err(ApiError::Forbidden(
            "only platform admins may read the audit log".into(),
        ));
    }
    entries(&state, false, true, query.into_inner()).await
}
