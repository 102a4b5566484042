//! Reports: anyone signed in reports a listing, organisation, user or agreement;
//! moderators work the combined queue and resolve with an action.

use actix_web::{get, post, web, HttpResponse};
use diesel::Connection;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::auth::parties::standing;
use crate::auth::{is_insider, AuthUser, Moderator};
use crate::db::{self, DbConnection};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::json::Json;
use crate::http::pagination::{Page, PageQuery};
use crate::http::validate::Checks;
use crate::models::agreement::Agreement;
use crate::models::effects::emit;
use crate::models::endorsement::Endorsement;
use crate::models::event::{Event, EventType};
use crate::models::listing::lifecycle::Action;
use crate::models::listing::Listing;
use crate::models::membership;
use crate::models::modlog::ModAction;
use crate::models::org::Org;
use crate::models::proposal::Proposal;
use crate::models::report::{
    Report, ReportFilter, ReportReason, ReportStatus, ReportView, Resolution, TargetType,
};
use crate::models::user::{PlatformRole, User};
use crate::models::{new_id, now};
use crate::moderation;

/// Routes of this module.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_report)
        .service(my_reports)
        .service(get_report)
        .service(moderation_reports)
        .service(resolve_report);
}

/// A report.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct CreateReportRequest {
    pub target_type: TargetType,
    pub target_id: uuid::Uuid,
    /// `manipulation` covers pressure tactics and fake reciprocity.
    pub reason: ReportReason,
    /// What happened, up to 2,000 characters (trimmed; may be empty).
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub details: String,
    /// Optional: one of your organisations, to file the report for it. Its event feed is
    /// then told of the outcome (`report.resolved`, with the report as you read it).
    pub org_id: Option<uuid::Uuid>,
}

/// A moderator's resolution.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResolveRequest {
    pub action: Resolution,
    /// 3–500 characters (trimmed); the reporter sees it, and it is the reason of any action
    /// taken.
    #[schema(min_length = 3, max_length = 500)]
    pub note: String,
}

/// Filters of the moderators' report list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportListQuery {
    pub status: Option<ReportStatus>,
    pub target_type: Option<TargetType>,
    pub target_id: Option<uuid::Uuid>,
    /// Items per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page; absent or empty for the first page.
    pub cursor: Option<String>,
}

/// The target must exist and be visible to the reporter (a draft of another organisation
/// is as unknown to them as a missing id).
fn check_target(
    conn: &mut DbConnection,
    user: &AuthUser,
    target_type: TargetType,
    id: &str,
) -> Result<(), ApiError> {
    let missing = || ApiError::NotFound(format!("no {} with id {id}", target_type.as_str()));
    match target_type {
        TargetType::Listing => {
            let listing = Listing::find(conn, id)?.ok_or_else(missing)?;
            let principal = crate::auth::Principal::User(user.clone());
            if !listing.is_public(conn, now())? && !is_insider(conn, Some(&principal), &listing)? {
                return Err(missing());
            }
        }
        TargetType::Org => {
            Org::find(conn, id)?.ok_or_else(missing)?;
        }
        TargetType::User => {
            User::find(conn, id)?.ok_or_else(missing)?;
        }
        // Every agreement's existence and parties are public (the log names them).
        TargetType::Agreement => {
            Agreement::find(conn, id)?.ok_or_else(missing)?;
        }
        // Only the parties know a proposal; reporting it lets moderators read it.
        TargetType::Proposal => {
            let principal = crate::auth::Principal::User(user.clone());
            let proposal = Proposal::find(conn, id)?.ok_or_else(missing)?;
            let standing = standing(
                conn,
                Some(&principal),
                &proposal.from_org_id,
                &proposal.to_org_id,
            )?;
            if !standing.is_party() {
                return Err(missing());
            }
        }
        TargetType::Endorsement => {
            Endorsement::find_shown(conn, id)?.ok_or_else(missing)?;
        }
    }
    Ok(())
}

/// Reports abuse. One open report per reporter and target: a repeat answers the existing
/// report (200) instead of creating another (201).
#[utoipa::path(
    tag = "reports",
    request_body = CreateReportRequest,
    responses(
        (status = 201, description = "Reported", body = ReportView, headers(("Location" = String))),
        (status = 200, description = "You already have an open report on this target", body = ReportView),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such target", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/reports")]
async fn create_report(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<CreateReportRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let mut checks = Checks::new();
    let details = checks.text("details", &body.details, 0, 2000);
    checks.finish()?;
    let target_id = body.target_id.to_string();
    let (report, created) = db::run(&state.pool, move |conn| {
        check_target(conn, &user, body.target_type, &target_id)?;
        let org_id = body.org_id.map(|id| id.to_string());
        if let Some(org) = &org_id {
            if membership::role_of(conn, org, &user.id)?.is_none() {
                return Err(ApiError::field(
                    "org_id",
                    "you may only report for an organisation you belong to",
                ));
            }
        }
        if let Some(existing) =
            Report::open_by(conn, &user.id, body.target_type.as_str(), &target_id)?
        {
            return Ok((existing, false));
        }
        let report = Report {
            id: new_id(),
            reporter_id: user.id.clone(),
            target_type: body.target_type,
            target_id: target_id.clone(),
            reason: body.reason,
            details,
            status: ReportStatus::Open,
            resolution: None,
            resolution_note: None,
            resolved_by: None,
            created_at: now(),
            resolved_at: None,
            org_id,
        };
        match report.insert(conn) {
            Ok(()) => Ok((report, true)),
            // A concurrent duplicate won the race: answer with it.
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => {
                let existing =
                    Report::open_by(conn, &user.id, body.target_type.as_str(), &target_id)?
                        .ok_or_else(|| {
                            ApiError::Conflict("the report changed concurrently; retry".into())
                        })?;
                Ok((existing, false))
            }
            Err(e) => Err(e.into()),
        }
    })
    .await?;
    let view = report.view(false)?;
    if created {
        Ok(HttpResponse::Created()
            .insert_header(("Location", format!("/api/v1/reports/{}", report.id)))
            .json(view))
    } else {
        Ok(HttpResponse::Ok().json(view))
    }
}

/// The caller's own reports and their outcomes, oldest first.
#[utoipa::path(
    tag = "reports",
    params(PageQuery),
    responses(
        (status = 200, description = "One page", body = Page<ReportView>),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/reports")]
async fn my_reports(
    state: web::Data<AppState>,
    user: AuthUser,
    query: crate::http::query::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let page = query.resolve()?;
    let request = page.clone();
    let rows = db::run(&state.pool, move |conn| {
        let filter = ReportFilter {
            reporter_id: Some(user.id),
            ..Default::default()
        };
        Ok(Report::list(
            conn,
            &filter,
            request.after.as_deref(),
            request.fetch(),
        )?)
    })
    .await?;
    let page = Page::from_rows(rows, &page, |r| r.id.clone(), |r| r.view(false))?;
    Ok(HttpResponse::Ok().json(page))
}

/// A report: its reporter sees the outcome; moderators see everything.
#[utoipa::path(
    tag = "reports",
    params(("id" = uuid::Uuid, Path, description = "The report")),
    responses(
        (status = 200, description = "The report", body = ReportView),
        (status = 404, description = "No such report of yours", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/reports/{id}")]
async fn get_report(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<uuid::Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let moderator = user.is_platform(PlatformRole::Moderator);
    let report = db::run(&state.pool, move |conn| {
        Report::find(conn, &id)?
            .filter(|r| moderator || r.reporter_id == user.id)
            .ok_or_else(|| ApiError::NotFound(format!("report {id} does not exist")))
    })
    .await?;
    Ok(HttpResponse::Ok().json(report.view(moderator)?))
}

/// The combined report queue (moderators), oldest first.
#[utoipa::path(
    tag = "moderation",
    params(ReportListQuery),
    responses(
        (status = 200, description = "One page", body = Page<ReportView>),
        (status = 400, description = "Bad filter, limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a moderator", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/moderation/reports")]
async fn moderation_reports(
    state: web::Data<AppState>,
    _moderator: Moderator,
    query: crate::http::query::Query<ReportListQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .resolve()?;
    let filter = ReportFilter {
        status: query.status,
        target_type: query.target_type,
        target_id: query.target_id.map(|t| t.to_string()),
        reporter_id: None,
    };
    let request = page.clone();
    let rows = db::run(&state.pool, move |conn| {
        Ok(Report::list(
            conn,
            &filter,
            request.after.as_deref(),
            request.fetch(),
        )?)
    })
    .await?;
    let page = Page::from_rows(rows, &page, |r| r.id.clone(), |r| r.view(true))?;
    Ok(HttpResponse::Ok().json(page))
}

/// Resolves an open report with an action, applied in the same transaction: `dismiss`,
/// `remove_listing` (listing reports), `suspend_org` (organisation reports, or the reported
/// listing's organisation), `suspend_user` (user reports).
#[utoipa::path(
    tag = "moderation",
    params(("id" = uuid::Uuid, Path, description = "The report")),
    request_body = ResolveRequest,
    responses(
        (status = 200, description = "The resolved report", body = ReportView),
        (status = 403, description = "Not a moderator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such report", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already resolved, or the action's target is already in that state", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The action does not fit the report's target, or invalid note", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/moderation/reports/{id}/resolve")]
async fn resolve_report(
    state: web::Data<AppState>,
    moderator: Moderator,
    path: web::Path<uuid::Uuid>,
    body: Json<ResolveRequest>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let body = body.into_inner();
    let mut checks = Checks::new();
    let note = checks.text("note", &body.note, 3, 500);
    checks.finish()?;
    let report = db::run(&state.pool, move |conn| {
        conn.transaction(|conn| {
            let actor = &moderator.0;
            let report = Report::find(conn, &id)?
                .ok_or_else(|| ApiError::NotFound(format!("report {id} does not exist")))?;
            if Report::resolve(conn, &id, body.action, &note, &actor.id, now())? == 0 {
                return Err(ApiError::Conflict("this report is already resolved".into()));
            }
            apply_resolution(conn, actor, &report, body.action, &note)?;
            ModAction::resolve_report(&actor.id, &id, body.action).record(conn)?;
            let resolved = Report::find(conn, &id)?
                .ok_or_else(|| ApiError::NotFound(format!("report {id} does not exist")))?;
            if let Some(org) = &resolved.org_id {
                let event = Event::new(org, EventType::ReportResolved, &resolved.view(false)?)?;
                emit(conn, event)?;
            }
            Ok(resolved)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(report.view(true)?))
}

fn apply_resolution(
    conn: &mut DbConnection,
    actor: &AuthUser,
    report: &Report,
    action: Resolution,
    note: &str,
) -> Result<(), ApiError> {
    let target = report.target_type;
    let unfit = || {
        ApiError::Unprocessable(format!(
            "`{}` does not apply to a report on a {}",
            action.as_str(),
            target.as_str()
        ))
    };
    match (action, target) {
        (Resolution::Dismiss, _) => {}
        (Resolution::RemoveListing, TargetType::Listing) => {
            moderation::decide_listing(
                conn,
                actor,
                &report.target_id,
                Action::Remove(note.to_owned()),
                None,
            )?;
        }
        (Resolution::SuspendOrg, TargetType::Org) => {
            moderation::set_org_status(conn, actor, &report.target_id, true, note)?;
        }
        (Resolution::SuspendOrg, TargetType::Listing) => {
            let listing = Listing::find(conn, &report.target_id)?.ok_or_else(unfit)?;
            moderation::set_org_status(conn, actor, &listing.org_id, true, note)?;
        }
        (Resolution::SuspendUser, TargetType::User) => {
            moderation::set_user_status(conn, actor, &report.target_id, true, note)?;
        }
        (Resolution::RemoveEndorsement, TargetType::Endorsement) => {
            if !Endorsement::remove(conn, &report.target_id, now())? {
                return Err(ApiError::Conflict(
                    "this endorsement has already been taken down".into(),
                ));
            }
            ModAction::remove_endorsement(&actor.id, &report.target_id, note).record(conn)?;
        }
        _ => return Err(unfit()),
    }
    Ok(())
}
