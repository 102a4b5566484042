//! `/proposals`: open a proposal to another organisation, list one's own, read one with
//! every revision. The negotiation itself (counter, accept, decline, withdraw) is in
//! [`super::proposal_actions`].

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::auth::parties::{both_sides, visible_proposal};
use crate::auth::{authorize_org, OrgNeed, Principal};
use crate::db::{self, DbConnection};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::idempotency::{self, Created, IdempotencyKey};
use crate::http::json::Json;
use crate::http::pagination::{Page, PageQuery};
use crate::http::validate::Checks;
use crate::models::effects::emit;
use crate::models::event::{Event, EventType};
use crate::models::membership;
use crate::models::org::Org;
use crate::models::proposal::store::Direction;
use crate::models::proposal::{
    check_listings, check_message, check_terms, pressure, Proposal, ProposalKind, ProposalStatus,
    ProposalView, Revision, Terms,
};
use crate::models::user::AccountStatus;
use crate::models::{new_id, now};

/// Routes of this module.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_proposal)
        .service(list_proposals)
        .service(get_proposal);
}

/// A new proposal from `from_org_id` (the caller's organisation) to `to_org_id`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct CreateProposalRequest {
    pub from_org_id: uuid::Uuid,
    pub to_org_id: uuid::Uuid,
    /// `exchange`: both sides give; `trial`: only `from` gives, no obligation.
    pub kind: ProposalKind,
    /// Up to 2,000 characters (trimmed; may be empty).
    #[schema(
        example = "Wir würden gern voneinander lernen – ein fairer Tausch?",
        max_length = 2000
    )]
    pub message: String,
    pub terms: Terms,
    /// Keep the terms out of the public log and registry (default false).
    #[serde(default)]
    pub confidential: bool,
    /// When the proposal expires if nobody has answered (must be in the future).
    pub expires_at: Option<DateTime<Utc>>,
}

/// Filters of `GET /proposals`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProposalListQuery {
    /// Only this organisation's proposals (one the caller belongs to or is the key of).
    pub org_id: Option<uuid::Uuid>,
    /// `sent` or `received`, relative to the caller's organisations.
    pub direction: Option<Direction>,
    /// Status as of now (`open` excludes expired ones).
    pub status: Option<ProposalStatus>,
    /// Items per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page; absent or empty for the first page.
    pub cursor: Option<String>,
}

/// Opens a proposal (members of `from_org_id`, or its `write` key). Limits keep it free of
/// pressure: the receiver may have blocked the sender (403), at most a few proposals may be
/// open between the two (429), and repeated declines impose a pause (429).
#[utoipa::path(
    tag = "proposals",
    request_body = CreateProposalRequest,
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, pattern = r"^[\x21-\x7E]{1,255}$", description = "1–255 visible ASCII characters; replays the first response for the same key and body")),
    responses(
        (status = 201, description = "Opened", body = ProposalView, headers(("Location" = String))),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a member or `write` key of `from_org_id`, organisation suspended, or blocked by the receiver", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such `from_org_id`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, unknown or suspended receiver, or the caller belongs to both organisations", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many open proposals to this organisation, or a pause after declines", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64))),
    ),
    security(("bearer" = []))
)]
#[post("/proposals")]
async fn create_proposal(
    state: web::Data<AppState>,
    principal: Principal,
    key: IdempotencyKey,
    body: Json<CreateProposalRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let at = now();
    let mut checks = Checks::new();
    let terms = check_terms(&mut checks, body.kind, &body.terms);
    let message = check_message(&mut checks, &body.message);
    let expires_at = checks.future("expires_at", body.expires_at, at);
    if body.from_org_id == body.to_org_id {
        checks.fail("to_org_id", "must be another organisation than from_org_id");
    }
    checks.finish()?;
    let limits = state.settings.proposal_limits.clone();
    let scope = principal.scope();
    let (from, to) = (body.from_org_id.to_string(), body.to_org_id.to_string());
    let (kind, confidential) = (body.kind, body.confidential);
    idempotency::create(
        &state.pool,
        scope,
        key,
        "POST /proposals",
        &body,
        &[],
        move |conn| {
            if !Org::lock(conn, &from)? {
                return Err(ApiError::NotFound(format!(
                    "organisation {from} does not exist"
                )));
            }
            authorize_org(conn, &principal, &from, OrgNeed::Write)?;
            let user_id = match &principal {
                Principal::User(user) => {
                    if membership::role_of(conn, &to, &user.id)?.is_some() {
                        return Err(both_sides());
                    }
                    Some(user.id.clone())
                }
                Principal::Key(_) => None,
            };
            match Org::find(conn, &to)? {
                None => return Err(ApiError::field("to_org_id", "no such organisation")),
                Some(org) if org.status != AccountStatus::Active => {
                    return Err(ApiError::field(
                        "to_org_id",
                        "this organisation is suspended and cannot receive proposals",
                    ))
                }
                Some(_) => {}
            }
            pressure::check(conn, &limits, &from, &to, at)?;
            check_listings(conn, &terms, &from, &to, at)?;
            let id = new_id();
            let proposal = Proposal {
                id: id.clone(),
                from_org_id: from.clone(),
                to_org_id: to.clone(),
                kind,
                confidential,
                status: ProposalStatus::Open,
                latest_revision: 1,
                expires_at,
                agreement_id: None,
                closed_reason: None,
                closed_at: None,
                created_by: user_id.clone(),
                created_at: at,
                updated_at: at,
            };
            let first = Revision {
                proposal_id: id.clone(),
                number: 1,
                author_org_id: from,
                author_user_id: user_id,
                terms: terms.stored(),
                message,
                created_at: at,
            };
            proposal.insert(conn, &first)?;
            let view = proposal.view(&[first], at)?;
            emit(conn, Event::new(&to, EventType::ProposalReceived, &view)?)?;
            Ok(Created {
                location: format!("/api/v1/proposals/{id}"),
                etag: None,
                body: view,
            })
        },
    )
    .await
}

/// The organisations whose proposals the caller may list: its memberships (or its key's
/// organisation), narrowed to `org_id` when given (403 when that is not one of them).
fn caller_orgs(
    conn: &mut DbConnection,
    principal: &Principal,
    org_id: Option<&str>,
) -> Result<Vec<String>, ApiError> {
    if let Some(org_id) = org_id {
        authorize_org(conn, principal, org_id, OrgNeed::Read)?;
        return Ok(vec![org_id.to_owned()]);
    }
    Ok(match principal {
        Principal::Key(key) => vec![key.org_id.clone()],
        Principal::User(user) => membership::of_user(conn, &user.id)?
            .into_iter()
            .map(|m| m.org_id.to_string())
            .collect(),
    })
}

/// The proposals of the caller's organisations (sent and received), newest first, each
/// with every revision.
#[utoipa::path(
    tag = "proposals",
    params(ProposalListQuery),
    responses(
        (status = 200, description = "One page, newest first", body = Page<ProposalView>),
        (status = 400, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`org_id` is not one of the caller's organisations", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such `org_id`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/proposals")]
async fn list_proposals(
    state: web::Data<AppState>,
    principal: Principal,
    query: crate::http::query::Query<ProposalListQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .resolve()?;
    let page = db::run(&state.pool, move |conn| {
        let org_id = query.org_id.map(|id| id.to_string());
        let orgs = caller_orgs(conn, &principal, org_id.as_deref())?;
        let at = now();
        let rows = Proposal::list(
            conn,
            &orgs,
            query.direction,
            query.status,
            at,
            page.after.as_deref(),
            page.fetch(),
        )?;
        let ids: Vec<&str> = rows.iter().map(|p| p.id.as_str()).collect();
        let revisions = Proposal::revisions_of(conn, &ids)?;
        Page::from_rows(
            rows,
            &page,
            |p| p.id.clone(),
            |p| p.view(revisions.get(&p.id).map_or(&[], Vec::as_slice), at),
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// A proposal with every revision: for its two organisations, and for moderators once it
/// has been reported; 404 for everyone else.
#[utoipa::path(
    tag = "proposals",
    params(("id" = uuid::Uuid, Path, description = "The proposal")),
    responses(
        (status = 200, description = "The proposal", body = ProposalView),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such proposal visible to the caller", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/proposals/{id}")]
async fn get_proposal(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<uuid::Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let view = db::run(&state.pool, move |conn| {
        let proposal = visible_proposal(conn, Some(&principal), &id)?;
        let revisions = proposal.revisions(conn)?;
        proposal.view(&revisions, now())
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}
