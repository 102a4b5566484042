//! `/orgs/{org_id}/members`: list, join with an invitation, change role, remove or leave.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use diesel::Connection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::auth::tokens::sha256_hex;
use crate::auth::{authorize_org, AuthUser, OrgNeed, Principal};
use crate::db::{self, DbConnection};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::idempotency::{self, Created, IdempotencyKey};
use crate::http::json::Json;
use crate::http::pagination::{Page, PageQuery};
use crate::models::effects::emit;
use crate::models::event::{Event, EventType};
use crate::models::invitation::{Invitation, InvitationStatus};
use crate::models::membership::{self, MemberView, OrgRole};
use crate::models::now;
use crate::models::org::Org;

/// Routes of this module.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_members)
        .service(join)
        .service(change_role)
        .service(remove_member);
}

/// Joining with an invitation.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct JoinRequest {
    /// The `token` of an invitation sent to the caller's e-mail address (trimmed).
    #[schema(pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*$")]
    pub invitation_token: String,
}

/// A new role for a member.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleRequest {
    pub role: OrgRole,
}

/// The organisation's members (members, or an API key of the organisation).
#[utoipa::path(
    tag = "orgs",
    params(("org_id" = uuid::Uuid, Path, description = "The organisation"), PageQuery),
    responses(
        (status = 200, description = "One page of members", body = Page<MemberView>),
        (status = 403, description = "Not a member", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/orgs/{org_id}/members")]
async fn list_members(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<uuid::Uuid>,
    query: crate::http::query::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let org_id = path.into_inner().to_string();
    let page = query.resolve()?;
    let request = page.clone();
    let rows = db::run(&state.pool, move |conn| {
        authorize_org(conn, &principal, &org_id, OrgNeed::Read)?;
        membership::list(conn, &org_id, request.after.as_deref(), request.fetch())
    })
    .await?;
    let page = Page::from_rows(rows, &page, |m| m.user_id.to_string(), Ok)?;
    Ok(HttpResponse::Ok().json(page))
}

/// Joins the organisation with an invitation addressed to the caller's e-mail.
#[utoipa::path(
    tag = "orgs",
    params(
        ("org_id" = uuid::Uuid, Path, description = "The organisation"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, pattern = r"^[\x21-\x7E]{1,255}$", description = "1–255 visible ASCII characters; replays the first response for the same key and body"),
    ),
    request_body = JoinRequest,
    responses(
        (status = 201, description = "Joined", body = MemberView, headers(("Location" = String))),
        (status = 403, description = "The invitation is for another e-mail address", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Invitation already used, revoked or expired; or already a member", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid body, or no such invitation for this organisation (`errors` names `invitation_token`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/orgs/{org_id}/members")]
async fn join(
    state: web::Data<AppState>,
    user: AuthUser,
    key: IdempotencyKey,
    path: web::Path<uuid::Uuid>,
    body: Json<JoinRequest>,
) -> ApiResult<HttpResponse> {
    let org_id = path.into_inner().to_string();
    let body = body.into_inner();
    let token_hash = sha256_hex(body.invitation_token.trim());
    let scope = Principal::User(user.clone()).scope();
    let request = (org_id.clone(), &body);
    idempotency::create(
        &state.pool,
        scope,
        key,
        "POST /orgs/{org_id}/members",
        &request,
        &[],
        move |conn| {
            let member = accept(conn, &org_id, &user, &token_hash)?;
            Ok(Created {
                location: format!("/api/v1/orgs/{}/members/{}", member.0, member.1.user_id),
                etag: None,
                body: member.1,
            })
        },
    )
    .await
}

fn accept(
    conn: &mut DbConnection,
    org_id: &str,
    user: &AuthUser,
    token_hash: &str,
) -> Result<(String, MemberView), ApiError> {
    if !Org::lock(conn, org_id)? {
        return Err(ApiError::NotFound(format!(
            "organisation {org_id} does not exist"
        )));
    }
    let invitation = Invitation::find_by_token(conn, org_id, token_hash)?
        // The organisation (the target) exists; what the body names does not: 422, as for
        // any unknown referenced row (docs/API-DESIGN.md).
        .ok_or_else(|| {
            ApiError::field(
                "invitation_token",
                "no such invitation for this organisation",
            )
        })?;
    let at = now();
    let status = invitation.status(at);
    if status != InvitationStatus::Pending {
        return Err(ApiError::Conflict(format!(
            "this invitation is {}",
            status.as_str()
        )));
    }
    if invitation.email != user.email {
        return Err(ApiError::Forbidden(
            "this invitation was sent to another e-mail address".into(),
        ));
    }
    if membership::role_of(conn, org_id, &user.id)?.is_some() {
        return Err(ApiError::Conflict(
            "you are already a member of this organisation".into(),
        ));
    }
    if Invitation::mark_accepted(conn, &invitation.id, at)? == 0 {
        return Err(ApiError::Conflict(
            "this invitation was used concurrently".into(),
        ));
    }
    membership::insert(conn, org_id, &user.id, invitation.role)?;
    let member = membership::find(conn, org_id, &user.id)?
        .ok_or_else(|| ApiError::Internal("membership vanished after insert".into()))?;
    emit(conn, Event::new(org_id, EventType::MemberJoined, &member)?)?;
    Ok((org_id.to_owned(), member))
}

/// Changes a member's role (owners and admins; only owners may grant or take `owner`).
#[utoipa::path(
    tag = "orgs",
    params(
        ("org_id" = uuid::Uuid, Path, description = "The organisation"),
        ("user_id" = uuid::Uuid, Path, description = "The member"),
    ),
    request_body = RoleRequest,
    responses(
        (status = 200, description = "Updated member", body = MemberView),
        (status = 403, description = "Caller may not make this change", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation or member", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Would leave the organisation without an owner", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/orgs/{org_id}/members/{user_id}")]
async fn change_role(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
    body: Json<RoleRequest>,
) -> ApiResult<HttpResponse> {
    let (org_id, user_id) = path.into_inner();
    let (org_id, user_id) = (org_id.to_string(), user_id.to_string());
    let role = body.into_inner().role;
    let member = db::run(&state.pool, move |conn| {
        conn.transaction(|conn| {
            Org::lock(conn, &org_id)?;
            let access = authorize_org(conn, &principal, &org_id, OrgNeed::Manage)?;
            let caller = access.role.unwrap_or(OrgRole::Member);
            let current = target_role(conn, &org_id, &user_id)?;
            if (current == OrgRole::Owner || role == OrgRole::Owner) && caller != OrgRole::Owner {
                return Err(ApiError::Forbidden(
                    "only owners may grant or take the owner role".into(),
                ));
            }
            membership::set_role(conn, &org_id, &user_id, role)?;
            keep_an_owner(conn, &org_id)?;
            membership::find(conn, &org_id, &user_id)?
                .ok_or_else(|| ApiError::NotFound("no such member".into()))
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(member))
}

/// Removes a member, or lets the caller leave (`user_id` = the caller).
#[utoipa::path(
    tag = "orgs",
    params(
        ("org_id" = uuid::Uuid, Path, description = "The organisation"),
        ("user_id" = uuid::Uuid, Path, description = "The member"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Caller may not remove this member", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation or member", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last owner cannot leave", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/orgs/{org_id}/members/{user_id}")]
async fn remove_member(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
) -> ApiResult<HttpResponse> {
    let (org_id, user_id) = path.into_inner();
    let (org_id, user_id) = (org_id.to_string(), user_id.to_string());
    db::run(&state.pool, move |conn| {
        conn.transaction(|conn| {
            Org::lock(conn, &org_id)?;
            let leaving = user_id == user.id;
            let need = if leaving {
                OrgNeed::Read
            } else {
                OrgNeed::Manage
            };
            let access = authorize_org(conn, &Principal::User(user.clone()), &org_id, need)?;
            let current = target_role(conn, &org_id, &user_id)?;
            if !leaving && current == OrgRole::Owner && access.role != Some(OrgRole::Owner) {
                return Err(ApiError::Forbidden(
                    "only owners may remove an owner".into(),
                ));
            }
            let member = membership::find(conn, &org_id, &user_id)?;
            membership::delete(conn, &org_id, &user_id)?;
            keep_an_owner(conn, &org_id)?;
            if let Some(member) = member {
                emit(
                    conn,
                    Event::new(&org_id, EventType::MemberRemoved, &member)?,
                )?;
            }
            Ok(())
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

fn target_role(conn: &mut DbConnection, org_id: &str, user_id: &str) -> Result<OrgRole, ApiError> {
    membership::role_of(conn, org_id, user_id)?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "user {user_id} is not a member of this organisation"
        ))
    })
}

/// Rolls the change back when it would leave the organisation without an owner.
fn keep_an_owner(conn: &mut DbConnection, org_id: &str) -> Result<(), ApiError> {
    if membership::owner_count(conn, org_id)? == 0 {
        return Err(ApiError::Conflict(
            "an organisation must keep at least one owner; make someone else owner first".into(),
        ));
    }
    Ok(())
}
