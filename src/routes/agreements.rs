//! `/agreements`: the public registry, one agreement, and the parties' completion and
//! cancellation; `/orgs/{org_id}/agreements`: an organisation's own, confidential ones
//! included.

use actix_web::{get, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::auth::parties::{acting_side, standing};
use crate::auth::{authorize_org, MaybePrincipal, OrgNeed, Principal};
use crate::db::{self, DbConnection};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::json::Json;
use crate::http::pagination::{Page, PageQuery, PageRequest};
use crate::http::validate::Checks;
use crate::models::agreement::lifecycle::Action;
use crate::models::agreement::store::{log_entries_of, AgreementFilter};
use crate::models::agreement::{Agreement, AgreementStatus, AgreementView, LogEntryRef};
use crate::models::effects::emit;
use crate::models::event::Event;
use crate::models::now;

/// Routes of this module.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_agreements)
        .service(get_agreement)
        .service(complete_agreement)
        .service(cancel_agreement)
        .service(org_agreements);
}

/// Filters of the agreement lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AgreementListQuery {
    /// Only agreements this organisation is a party to (public registry only).
    pub org_id: Option<uuid::Uuid>,
    pub status: Option<AgreementStatus>,
    /// Items per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page; absent or empty for the first page.
    pub cursor: Option<String>,
}

impl AgreementListQuery {
    fn page(&self) -> Result<PageRequest, ApiError> {
        PageQuery {
            limit: self.limit,
            cursor: self.cursor.clone(),
        }
        .resolve()
    }
}

/// Why an agreement is cancelled.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CancelRequest {
    /// 3–1,000 characters (trimmed); shown to both parties.
    #[schema(min_length = 3, max_length = 1000)]
    pub reason: String,
}

/// Views of agreement rows with their log entries (one statement for all).
fn views(
    conn: &mut DbConnection,
    rows: Vec<Agreement>,
    party: impl Fn(&Agreement) -> bool,
    page: &PageRequest,
) -> Result<Page<AgreementView>, ApiError> {
    let ids: Vec<String> = rows.iter().map(|a| a.id.clone()).collect();
    let entries: std::collections::HashMap<String, Vec<LogEntryRef>> =
        log_entries_of(conn, &ids)?.into_iter().collect();
    Page::from_rows(
        rows,
        page,
        |a| a.id.clone(),
        |a| {
            let mine = entries.get(&a.id).cloned().unwrap_or_default();
            a.view(party(&a), mine)
        },
    )
}

/// The public registry: every agreement that is not confidential, newest first.
/// Confidential agreements are not listed here (their leaves are still in the log).
#[utoipa::path(
    tag = "agreements",
    params(AgreementListQuery),
    responses(
        (status = 200, description = "One page, newest first", body = Page<AgreementView>),
        (status = 400, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/agreements")]
async fn list_agreements(
    state: web::Data<AppState>,
    query: crate::http::query::Query<AgreementListQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let page = query.page()?;
    let filter = AgreementFilter {
        org_id: query.org_id.map(|id| id.to_string()),
        status: query.status,
    };
    let body = db::run(&state.pool, move |conn| {
        let rows = Agreement::list(conn, &filter, true, page.after.as_deref(), page.fetch())?;
        // The public registry shows the public view, also to parties.
        views(conn, rows, |_| false, &page)
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// An agreement. Its parties see everything, including `terms_salt`; everyone else sees
/// the parties, status, commitment and log entries, and the terms only when it is not
/// confidential.
#[utoipa::path(
    tag = "agreements",
    params(("id" = uuid::Uuid, Path, description = "The agreement")),
    responses(
        (status = 200, description = "The agreement", body = AgreementView),
        (status = 404, description = "No such agreement", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
#[get("/agreements/{id}")]
async fn get_agreement(
    state: web::Data<AppState>,
    caller: MaybePrincipal,
    path: web::Path<uuid::Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let view = db::run(&state.pool, move |conn| {
        let agreement = Agreement::find(conn, &id)?.ok_or_else(|| missing(&id))?;
        let party = standing(
            conn,
            caller.0.as_ref(),
            &agreement.from_org_id,
            &agreement.to_org_id,
        )?
        .is_party();
        let entries = agreement.log_entries(conn)?;
        agreement.view(party, entries)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

fn missing(id: &str) -> ApiError {
    ApiError::NotFound(format!("agreement {id} does not exist"))
}

/// Records the caller's side's confirmation that the agreement was fulfilled; when both
/// sides have confirmed it is `completed` and `agreement.completed` is appended to the log.
#[utoipa::path(
    tag = "agreements",
    params(("id" = uuid::Uuid, Path, description = "The agreement")),
    responses(
        (status = 200, description = "Confirmed (and completed once both sides have)", body = AgreementView),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a party, read-only key or suspended organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such agreement", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not active, or the caller's side confirmed already", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The caller belongs to both organisations", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/agreements/{id}/complete")]
async fn complete_agreement(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<uuid::Uuid>,
) -> ApiResult<HttpResponse> {
    act(
        &state,
        principal,
        path.into_inner(),
        Action::Complete,
        String::new(),
    )
    .await
}

/// Cancels an active agreement (either side), with a reason both parties read;
/// `agreement.cancelled` is appended to the log.
#[utoipa::path(
    tag = "agreements",
    params(("id" = uuid::Uuid, Path, description = "The agreement")),
    request_body = CancelRequest,
    responses(
        (status = 200, description = "Cancelled", body = AgreementView),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a party, read-only key or suspended organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such agreement", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not active", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Reason missing or invalid, or the caller belongs to both organisations", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/agreements/{id}/cancel")]
async fn cancel_agreement(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<uuid::Uuid>,
    body: Json<CancelRequest>,
) -> ApiResult<HttpResponse> {
    let mut checks = Checks::new();
    let reason = checks.text("reason", &body.into_inner().reason, 3, 1000);
    checks.finish()?;
    act(&state, principal, path.into_inner(), Action::Cancel, reason).await
}

async fn act(
    state: &AppState,
    principal: Principal,
    id: uuid::Uuid,
    action: Action,
    reason: String,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    let view = db::run(&state.pool, move |conn| {
        db::write_transaction(conn, |conn| {
            let agreement = Agreement::lock(conn, &id)?.ok_or_else(|| missing(&id))?;
            // The agreement is public, so a non-party learns nothing from a 403.
            let side = acting_side(
                conn,
                &principal,
                &agreement.from_org_id,
                &agreement.to_org_id,
                || ApiError::Forbidden("only the two parties may act on an agreement".into()),
            )?;
            let at = now();
            let (stored, event_type) = agreement.act(conn, side, action, &reason, at)?;
            let entries = stored.log_entries(conn)?;
            let view = stored.view(true, entries)?;
            // Both parties see the parties' view (terms and salt included).
            let parties = [stored.from_org_id.as_str(), stored.to_org_id.as_str()];
            emit(conn, Event::for_each(&parties, event_type, &view)?)?;
            Ok(view)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// The organisation's own agreements, confidential ones included, with the parties' view
/// (terms and salt); members and keys of the organisation.
#[utoipa::path(
    tag = "agreements",
    params(
        ("org_id" = uuid::Uuid, Path, description = "The organisation"),
        ("status" = Option<AgreementStatus>, Query, description = "Only agreements in this status"),
        PageQuery,
    ),
    responses(
        (status = 200, description = "One page, newest first", body = Page<AgreementView>),
        (status = 400, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a member or key of this organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/orgs/{org_id}/agreements")]
async fn org_agreements(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<uuid::Uuid>,
    query: crate::http::query::Query<OrgAgreementQuery>,
) -> ApiResult<HttpResponse> {
    let org_id = path.into_inner().to_string();
    let query = query.into_inner();
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .resolve()?;
    let body = db::run(&state.pool, move |conn| {
        authorize_org(conn, &principal, &org_id, OrgNeed::Read)?;
        let filter = AgreementFilter {
            org_id: Some(org_id),
            status: query.status,
        };
        let rows = Agreement::list(conn, &filter, false, page.after.as_deref(), page.fetch())?;
        views(conn, rows, |_| true, &page)
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// Filters of `GET /orgs/{org_id}/agreements`.
#[derive(Debug, Deserialize)]
pub struct OrgAgreementQuery {
    pub status: Option<AgreementStatus>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}
