//! `/orgs/{org_id}/invitations`: invite by e-mail, list, revoke. The invitee joins with
//! `POST /orgs/{org_id}/members`. Mutua sends no e-mail itself: the inviter passes the
//! token on (or an integration does).

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
use crate::models::effects::emit;
use crate::models::event::{Event, EventType};
use crate::models::invitation::{Invitation, InvitationView};
use crate::models::membership::OrgRole;
use crate::models::{new_id, now};

/// Routes of this module.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(invite)
        .service(list_invitations)
        .service(revoke_invitation);
}

/// Whom to invite, in which role.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct InviteRequest {
    /// An RFC 5321 address whose domain has a dot, at most 254 bytes once trimmed and
    /// lower-cased (as on registration).
    #[schema(example = "jonas@kundenwerk.example")]
    pub email: String,
    /// Defaults to `member`; only owners may invite owners.
    pub role: Option<OrgRole>,
}

/// Invites an e-mail address (owners and admins). The response carries the `token` once.
#[utoipa::path(
    tag = "orgs",
    params(
        ("org_id" = uuid::Uuid, Path, description = "The organisation"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, pattern = r"^[\x21-\x7E]{1,255}$", description = "1–255 visible ASCII characters; replays the first response (without the token) for the same key and body"),
    ),
    request_body = InviteRequest,
    responses(
        (status = 201, description = "Invitation created; `token` shown only here", body = InvitationView, headers(("Location" = String))),
        (status = 403, description = "Not an owner/admin, or an admin inviting an owner", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid e-mail", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/orgs/{org_id}/invitations")]
async fn invite(
    state: web::Data<AppState>,
    user: AuthUser,
    key: IdempotencyKey,
    path: web::Path<uuid::Uuid>,
    body: Json<InviteRequest>,
) -> ApiResult<HttpResponse> {
    let org_id = path.into_inner().to_string();
    let body = body.into_inner();
    let mut checks = Checks::new();
    let email = checks.email("email", &body.email);
    checks.finish()?;
    let role = body.role.unwrap_or(OrgRole::Member);
    let ttl = chrono::Duration::from_std(state.settings.invitation_ttl)
        .unwrap_or(chrono::Duration::days(7));
    let scope = Principal::User(user.clone()).scope();
    let route = "POST /orgs/{org_id}/invitations";
    let request = (org_id.clone(), &body);
    idempotency::create(
        &state.pool,
        scope,
        key,
        route,
        &request,
        &["token"],
        move |conn| {
            let token = random_token(32);
            let at = now();
            let invitation = Invitation {
                id: new_id(),
                org_id: org_id.clone(),
                email,
                role,
                token_hash: sha256_hex(&token),
                invited_by: user.id.clone(),
                created_at: at,
                expires_at: at + ttl,
                accepted_at: None,
                revoked_at: None,
            };
            let access = authorize_org(conn, &Principal::User(user), &org_id, OrgNeed::Manage)?;
            if role == OrgRole::Owner && access.role != Some(OrgRole::Owner) {
                return Err(ApiError::Forbidden("only owners may invite owners".into()));
            }
            invitation.insert(conn)?;
            let mut view = invitation.view()?;
            emit(
                conn,
                Event::new(&invitation.org_id, EventType::MemberInvited, &view)?,
            )?;
            view.token = Some(token);
            Ok(Created {
                location: format!(
                    "/api/v1/orgs/{}/invitations/{}",
                    invitation.org_id, invitation.id
                ),
                etag: None,
                body: view,
            })
        },
    )
    .await
}

/// The organisation's invitations, oldest first (owners and admins).
#[utoipa::path(
    tag = "orgs",
    params(("org_id" = uuid::Uuid, Path, description = "The organisation"), PageQuery),
    responses(
        (status = 200, description = "One page", body = Page<InvitationView>),
        (status = 403, description = "Not an owner/admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/orgs/{org_id}/invitations")]
async fn list_invitations(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<uuid::Uuid>,
    query: crate::http::query::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let org_id = path.into_inner().to_string();
    let page = query.resolve()?;
    let request = page.clone();
    let rows = db::run(&state.pool, move |conn| {
        authorize_org(conn, &Principal::User(user), &org_id, OrgNeed::Manage)?;
        Ok(Invitation::list(
            conn,
            &org_id,
            request.after.as_deref(),
            request.fetch(),
        )?)
    })
    .await?;
    let page = Page::from_rows(rows, &page, |i| i.id.clone(), |i| i.view())?;
    Ok(HttpResponse::Ok().json(page))
}

/// Revokes a pending invitation (owners and admins).
#[utoipa::path(
    tag = "orgs",
    params(
        ("org_id" = uuid::Uuid, Path, description = "The organisation"),
        ("invitation_id" = uuid::Uuid, Path, description = "The invitation"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Not an owner/admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such invitation in this organisation", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already accepted or revoked", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/orgs/{org_id}/invitations/{invitation_id}")]
async fn revoke_invitation(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
) -> ApiResult<HttpResponse> {
    let (org_id, id) = path.into_inner();
    let (org_id, id) = (org_id.to_string(), id.to_string());
    db::run(&state.pool, move |conn| {
        authorize_org(conn, &Principal::User(user), &org_id, OrgNeed::Manage)?;
        let invitation = Invitation::find_in_org(conn, &org_id, &id)?.ok_or_else(|| {
            ApiError::NotFound(format!(
                "invitation {id} does not exist in this organisation"
            ))
        })?;
        if Invitation::revoke(conn, &invitation.id, now())? == 0 {
            return Err(ApiError::Conflict(format!(
                "this invitation is {}",
                invitation.status(now()).as_str()
            )));
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
