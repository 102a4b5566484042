//! `/me` and platform administration of accounts.

use actix_web::{get, patch, web, HttpResponse};
use diesel::Connection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::db;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::json::Json;
use crate::models::membership::{self, MyMembership};
use crate::models::modlog::ModAction;
use crate::models::now;
use crate::models::user::{PlatformRole, User, UserView};

/// Routes of this module.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(me).service(set_platform_role);
}

/// The signed-in user with their organisations.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    #[serde(flatten)]
    pub user: UserView,
    pub memberships: Vec<MyMembership>,
}

/// The signed-in user, with every organisation they belong to.
#[utoipa::path(
    tag = "auth",
    responses(
        (status = 200, description = "The caller", body = MeView),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Called with an API key, or account suspended", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/me")]
async fn me(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    let (found, memberships) = db::run(&state.pool, move |conn| {
        let found = User::find(conn, &user.id)?
            .ok_or_else(|| ApiError::Unauthorized("the account no longer exists".into()))?;
        let memberships = membership::of_user(conn, &user.id)?;
        Ok((found, memberships))
    })
    .await?;
    Ok(HttpResponse::Ok().json(MeView {
        user: found.view()?,
        memberships,
    }))
}

/// A new platform role.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PlatformRoleRequest {
    pub platform_role: PlatformRole,
}

/// Sets a user's platform role (platform admins only).
#[utoipa::path(
    tag = "admin",
    params(("user_id" = uuid::Uuid, Path, description = "The user")),
    request_body = PlatformRoleRequest,
    responses(
        (status = 200, description = "The updated user", body = UserView),
        (status = 403, description = "Caller is not a platform admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An admin cannot demote themselves", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/admin/users/{user_id}")]
async fn set_platform_role(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<uuid::Uuid>,
    body: Json<PlatformRoleRequest>,
) -> ApiResult<HttpResponse> {
    if !caller.is_platform(PlatformRole::Admin) {
        return Err(ApiError::Forbidden(
            "only platform admins may change platform roles".into(),
        ));
    }
    let user_id = path.into_inner().to_string();
    let role = body.into_inner().platform_role;
    if user_id == caller.id && role != PlatformRole::Admin {
        return Err(ApiError::Conflict(
            "admins cannot demote themselves; ask another admin".into(),
        ));
    }
    let actor = caller.id.clone();
    let user = db::run(&state.pool, move |conn| {
        conn.transaction(|conn| {
            if User::set_role(conn, &user_id, role, now())? == 0 {
                return Err(ApiError::NotFound(format!("user {user_id} does not exist")));
            }
            ModAction::set_platform_role(&actor, &user_id, role).record(conn)?;
            User::find(conn, &user_id)?
                .ok_or_else(|| ApiError::NotFound(format!("user {user_id} does not exist")))
        })
    })
    .await?;
    tracing::info!(actor = %caller.id, target = %user.id, role = role.as_str(), "platform role changed");
    Ok(HttpResponse::Ok().json(user.view()?))
}
