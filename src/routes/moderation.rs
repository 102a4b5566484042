//! `/moderation`: the review queue, decisions on listings, suspensions.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use chrono::DateTime;
use diesel::Connection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::auth::Moderator;
use crate::db;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::etag;
use crate::http::json::{Json, OptionalJson};
use crate::http::pagination::{self, Cursor, PageQuery};
use crate::http::validate::Checks;
use crate::models::listing::lifecycle::Action;
use crate::models::listing::{self, ListingView};
use crate::models::org::OrgView;
use crate::models::user::UserView;
use crate::moderation;

/// Routes of this module.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(queue)
        .service(approve)
        .service(reject)
        .service(remove)
        .service(restore)
        .service(suspend_org)
        .service(unsuspend_org)
        .service(suspend_user)
        .service(unsuspend_user);
}

/// Why a moderator acts; shown to the owner and in the public moderation log.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReasonRequest {
    /// 3–500 characters (trimmed).
    #[schema(
        example = "Das Angebot verspricht Gegenleistungen, die nicht belegt sind.",
        min_length = 3,
        max_length = 500
    )]
    pub reason: String,
}

/// An optional note for approvals and restorations.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct NoteRequest {
    /// Up to 500 characters (trimmed; blank is none).
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// How much waits for review.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueCounts {
    /// Submitted listings awaiting a first decision.
    pub pending_review: i64,
    /// Published listings with an edit awaiting review.
    pub pending_changes: i64,
}

/// One page of the review queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuePage {
    pub items: Vec<ListingView>,
    pub next_cursor: Option<String>,
    pub counts: QueueCounts,
}

fn reason(body: ReasonRequest) -> Result<String, ApiError> {
    let mut checks = Checks::new();
    let reason = checks.text("reason", &body.reason, 3, 500);
    checks.finish()?;
    Ok(reason)
}

fn note(body: OptionalJson<NoteRequest>) -> Result<Option<String>, ApiError> {
    let mut checks = Checks::new();
    let note = body
        .0
        .and_then(|b| b.reason)
        .and_then(|r| checks.optional_text("reason", Some(&r), 500));
    checks.finish()?;
    Ok(note)
}

/// The review queue, oldest submission first, with counts (moderators).
#[utoipa::path(
    tag = "moderation",
    params(PageQuery),
    responses(
        (status = 200, description = "One page of the queue", body = QueuePage),
        (status = 403, description = "Not a moderator", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/moderation/queue")]
async fn queue(
    state: web::Data<AppState>,
    _moderator: Moderator,
    query: crate::http::query::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let request = query.resolve_keyed()?;
    let after = match request.after.clone() {
        None => None,
        Some(Cursor::Keyed(micros, id)) => {
            let at = DateTime::from_timestamp_micros(micros)
                .ok_or_else(|| ApiError::BadRequest("cursor is not one this API issued".into()))?;
            Some((at.naive_utc(), id))
        }
        Some(Cursor::Id(_)) => {
            return Err(ApiError::BadRequest(
                "cursor is not one this API issued".into(),
            ))
        }
    };
    let limit = request.limit;
    let (rows, (submitted, edits)) = db::run(&state.pool, move |conn| {
        Ok((
            listing::review_queue(conn, after, limit + 1)?,
            listing::review_counts(conn)?,
        ))
    })
    .await?;
    let (rows, next_cursor) = pagination::cut(rows, limit, |last| {
        let at = last
            .submitted_at
            .map(|t| t.and_utc().timestamp_micros())
            .unwrap_or(0);
        pagination::encode_keyed(at, &last.id)
    });
    let items = rows
        .iter()
        .map(|l| l.view(true))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(QueuePage {
        items,
        next_cursor,
        counts: QueueCounts {
            pending_review: submitted,
            pending_changes: edits,
        },
    }))
}

async fn decide(
    state: &AppState,
    moderator: Moderator,
    id: uuid::Uuid,
    action: Action,
    note: Option<String>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    let listing = db::run(&state.pool, move |conn| {
        conn.transaction(|conn| moderation::decide_listing(conn, &moderator.0, &id, action, note))
    })
    .await?;
    Ok(etag::tagged(
        StatusCode::OK,
        listing.version,
        &listing.view(true)?,
    ))
}

/// Approves a submitted listing (it becomes public) or a published listing's pending edit.
#[utoipa::path(
    tag = "moderation",
    params(("id" = uuid::Uuid, Path, description = "The listing")),
    request_body(content = Option<NoteRequest>, description = "An optional note"),
    responses(
        (status = 200, description = "The updated listing", body = ListingView),
        (status = 403, description = "Not a moderator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such listing", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Nothing to approve in this status", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/moderation/listings/{id}/approve")]
async fn approve(
    state: web::Data<AppState>,
    moderator: Moderator,
    path: web::Path<uuid::Uuid>,
    body: OptionalJson<NoteRequest>,
) -> ApiResult<HttpResponse> {
    let note = note(body)?;
    decide(&state, moderator, path.into_inner(), Action::Approve, note).await
}

/// Rejects a submitted listing, or a published listing's pending edit (the approved text stays).
#[utoipa::path(
    tag = "moderation",
    params(("id" = uuid::Uuid, Path, description = "The listing")),
    request_body = ReasonRequest,
    responses(
        (status = 200, description = "The updated listing", body = ListingView),
        (status = 403, description = "Not a moderator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such listing", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Nothing to reject in this status", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Reason missing or invalid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/moderation/listings/{id}/reject")]
async fn reject(
    state: web::Data<AppState>,
    moderator: Moderator,
    path: web::Path<uuid::Uuid>,
    body: Json<ReasonRequest>,
) -> ApiResult<HttpResponse> {
    let reason = reason(body.into_inner())?;
    decide(
        &state,
        moderator,
        path.into_inner(),
        Action::Reject(reason),
        None,
    )
    .await
}

/// Removes a listing from public view (the reason is shown to its owner and logged).
#[utoipa::path(
    tag = "moderation",
    params(("id" = uuid::Uuid, Path, description = "The listing")),
    request_body = ReasonRequest,
    responses(
        (status = 200, description = "The updated listing", body = ListingView),
        (status = 403, description = "Not a moderator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such listing", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already removed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Reason missing or invalid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/moderation/listings/{id}/remove")]
async fn remove(
    state: web::Data<AppState>,
    moderator: Moderator,
    path: web::Path<uuid::Uuid>,
    body: Json<ReasonRequest>,
) -> ApiResult<HttpResponse> {
    let reason = reason(body.into_inner())?;
    decide(
        &state,
        moderator,
        path.into_inner(),
        Action::Remove(reason),
        None,
    )
    .await
}

/// Restores a removed listing to the status it had.
#[utoipa::path(
    tag = "moderation",
    params(("id" = uuid::Uuid, Path, description = "The listing")),
    request_body(content = Option<NoteRequest>, description = "An optional note"),
    responses(
        (status = 200, description = "The updated listing", body = ListingView),
        (status = 403, description = "Not a moderator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such listing", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not removed", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/moderation/listings/{id}/restore")]
async fn restore(
    state: web::Data<AppState>,
    moderator: Moderator,
    path: web::Path<uuid::Uuid>,
    body: OptionalJson<NoteRequest>,
) -> ApiResult<HttpResponse> {
    let note = note(body)?;
    decide(&state, moderator, path.into_inner(), Action::Restore, note).await
}

async fn org_status(
    state: &AppState,
    moderator: Moderator,
    id: uuid::Uuid,
    suspend: bool,
    body: ReasonRequest,
) -> ApiResult<HttpResponse> {
    let reason = reason(body)?;
    let id = id.to_string();
    let org = db::run(&state.pool, move |conn| {
        conn.transaction(|conn| {
            moderation::set_org_status(conn, &moderator.0, &id, suspend, &reason)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(org.view()?))
}

async fn user_status(
    state: &AppState,
    moderator: Moderator,
    id: uuid::Uuid,
    suspend: bool,
    body: ReasonRequest,
) -> ApiResult<HttpResponse> {
    let reason = reason(body)?;
    let id = id.to_string();
    let user = db::run(&state.pool, move |conn| {
        conn.transaction(|conn| {
            moderation::set_user_status(conn, &moderator.0, &id, suspend, &reason)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(user.view()?))
}

/// Suspends an organisation (reason required): its listings vanish from search and
/// matching, its members and keys cannot write, its profile says `suspended`.
#[utoipa::path(
    tag = "moderation",
    params(("org_id" = uuid::Uuid, Path, description = "The organisation")),
    request_body = ReasonRequest,
    responses(
        (status = 200, description = "The organisation", body = OrgView),
        (status = 403, description = "Not a moderator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already suspended", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/moderation/orgs/{org_id}/suspend")]
async fn suspend_org(
    state: web::Data<AppState>,
    moderator: Moderator,
    path: web::Path<uuid::Uuid>,
    body: Json<ReasonRequest>,
) -> ApiResult<HttpResponse> {
    org_status(
        &state,
        moderator,
        path.into_inner(),
        true,
        body.into_inner(),
    )
    .await
}

/// Reinstates a suspended organisation (reason required).
#[utoipa::path(
    tag = "moderation",
    params(("org_id" = uuid::Uuid, Path, description = "The organisation")),
    request_body = ReasonRequest,
    responses(
        (status = 200, description = "The organisation", body = OrgView),
        (status = 403, description = "Not a moderator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not suspended", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/moderation/orgs/{org_id}/unsuspend")]
async fn unsuspend_org(
    state: web::Data<AppState>,
    moderator: Moderator,
    path: web::Path<uuid::Uuid>,
    body: Json<ReasonRequest>,
) -> ApiResult<HttpResponse> {
    org_status(
        &state,
        moderator,
        path.into_inner(),
        false,
        body.into_inner(),
    )
    .await
}

/// Suspends a user (reason required): they cannot log in and their tokens stop at once.
#[utoipa::path(
    tag = "moderation",
    params(("user_id" = uuid::Uuid, Path, description = "The user")),
    request_body = ReasonRequest,
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 403, description = "Not a moderator, or a moderator acting on a moderator/admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already suspended, or yourself", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/moderation/users/{user_id}/suspend")]
async fn suspend_user(
    state: web::Data<AppState>,
    moderator: Moderator,
    path: web::Path<uuid::Uuid>,
    body: Json<ReasonRequest>,
) -> ApiResult<HttpResponse> {
    user_status(
        &state,
        moderator,
        path.into_inner(),
        true,
        body.into_inner(),
    )
    .await
}

/// Reinstates a suspended user (reason required).
#[utoipa::path(
    tag = "moderation",
    params(("user_id" = uuid::Uuid, Path, description = "The user")),
    request_body = ReasonRequest,
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 403, description = "Not a moderator, or a moderator acting on a moderator/admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not suspended, or yourself", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/moderation/users/{user_id}/unsuspend")]
async fn unsuspend_user(
    state: web::Data<AppState>,
    moderator: Moderator,
    path: web::Path<uuid::Uuid>,
    body: Json<ReasonRequest>,
) -> ApiResult<HttpResponse> {
    user_status(
        &state,
        moderator,
        path.into_inner(),
        false,
        body.into_inner(),
    )
    .await
}
