//! The negotiation: counter-offer, accept, decline, withdraw. Each locks the proposal,
//! asks the lifecycle with the status as of now, and stores the outcome — for `accept`
//! together with the new agreement and its transparency-log leaf — in one transaction.

use actix_web::{post, web, HttpResponse};
use diesel::OptionalExtension;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::auth::parties::{acting_side, hidden};
use crate::auth::Principal;
use crate::db::{self, DbConnection};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::idempotency::{self, Created, IdempotencyKey};
use crate::http::json::{Json, OptionalJson};
use crate::http::validate::Checks;
use crate::models::agreement;
use crate::models::effects::emit;
use crate::models::event::{Event, EventType};
use crate::models::party::Side;
use crate::models::proposal::lifecycle::{self, Action, Outcome, State};
use crate::models::proposal::{
    check_listings, check_message, check_terms, Proposal, ProposalStatus, ProposalView, Revision,
    Terms,
};
use crate::models::{new_id, now};

/// Routes of this module.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(counter_proposal)
        .service(accept_proposal)
        .service(decline_proposal)
        .service(withdraw_proposal);
}

/// A counter-offer: the next revision, by the side that did not write the latest one.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct CounterRequest {
    pub terms: Terms,
    /// Up to 2,000 characters (trimmed; may be empty).
    #[schema(max_length = 2000)]
    pub message: String,
}

/// Accepting names the revision the accepting side read.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AcceptRequest {
    /// The number of the latest revision (409 if a newer one exists).
    #[schema(minimum = 1, maximum = 2_147_483_647)]
    pub revision: i32,
}

/// An optional reason for declining or withdrawing.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CloseRequest {
    /// Up to 1,000 characters (trimmed; blank is none); shown to both parties.
    #[schema(max_length = 1000)]
    pub reason: Option<String>,
}

/// The lifecycle state of a locked proposal as of now, with the side that wrote its latest
/// revision.
fn state_of(conn: &mut DbConnection, proposal: &Proposal) -> Result<(State, Revision), ApiError> {
    let latest = proposal
        .latest(conn)
        .optional()?
        .ok_or_else(|| ApiError::Internal(format!("proposal {} has no revision", proposal.id)))?;
    let latest_author = proposal.side_of(&latest.author_org_id).ok_or_else(|| {
        ApiError::Internal(format!("revision author of {} is not a party", proposal.id))
    })?;
    let state = State {
        status: proposal.status_at(now()),
        latest_revision: proposal.latest_revision,
        latest_author,
    };
    Ok((state, latest))
}

/// Locks the proposal and finds the side the caller acts for.
fn lock_for_action(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
) -> Result<(Proposal, Side), ApiError> {
    let proposal = Proposal::lock(conn, id)?.ok_or_else(|| hidden(id))?;
    let side = acting_side(
        conn,
        principal,
        &proposal.from_org_id,
        &proposal.to_org_id,
        || hidden(id),
    )?;
    Ok((proposal, side))
}

fn view(conn: &mut DbConnection, proposal: &Proposal) -> Result<ProposalView, ApiError> {
    let revisions = proposal.revisions(conn)?;
    proposal.view(&revisions, now())
}

/// The proposal as both parties now see it, with the event that tells both of the change
/// (the change's last write).
fn view_and_tell(
    conn: &mut DbConnection,
    proposal: &Proposal,
    event_type: EventType,
) -> Result<ProposalView, ApiError> {
    let view = view(conn, proposal)?;
    let parties = [proposal.from_org_id.as_str(), proposal.to_org_id.as_str()];
    emit(conn, Event::for_each(&parties, event_type, &view)?)?;
    Ok(view)
}

/// Answers with a new revision (the side that did not write the latest one). Its terms
/// follow the proposal's kind, and items tied to listings name the giver's published ones.
#[utoipa::path(
    tag = "proposals",
    params(
        ("id" = uuid::Uuid, Path, description = "The proposal"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, pattern = r"^[\x21-\x7E]{1,255}$", description = "1–255 visible ASCII characters; replays the first response for the same key and body"),
    ),
    request_body = CounterRequest,
    responses(
        (status = 201, description = "The proposal with the new revision", body = ProposalView, headers(("Location" = String))),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Read-only key or suspended organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such proposal visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not open, or the caller's side wrote the latest revision", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid terms or message, or the caller belongs to both organisations", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/proposals/{id}/counter")]
async fn counter_proposal(
    state: web::Data<AppState>,
    principal: Principal,
    key: IdempotencyKey,
    path: web::Path<uuid::Uuid>,
    body: Json<CounterRequest>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let body = body.into_inner();
    let scope = principal.scope();
    let route = format!("POST /proposals/{id}/counter");
    let (asked_terms, asked_message) = (body.terms.clone(), body.message.clone());
    idempotency::create(&state.pool, scope, key, &route, &body, &[], move |conn| {
        let (proposal, side) = lock_for_action(conn, &principal, &id)?;
        let mut checks = Checks::new();
        let terms = check_terms(&mut checks, proposal.kind, &asked_terms);
        let message = check_message(&mut checks, &asked_message);
        checks.finish()?;
        let (current, _) = state_of(conn, &proposal)?;
        let Outcome::Revised { number } = lifecycle::transition(current, side, Action::Counter)?
        else {
            return Err(ApiError::Internal("a counter-offer adds a revision".into()));
        };
        let at = now();
        check_listings(conn, &terms, &proposal.from_org_id, &proposal.to_org_id, at)?;
        let revision = Revision {
            proposal_id: proposal.id.clone(),
            number,
            author_org_id: proposal.org(side).to_owned(),
            author_user_id: match &principal {
                Principal::User(user) => Some(user.id.clone()),
                Principal::Key(_) => None,
            },
            terms: terms.stored(),
            message,
            created_at: at,
        };
        proposal.add_revision(conn, &revision)?;
        let stored = Proposal::find(conn, &id)?.ok_or_else(|| hidden(&id))?;
        Ok(Created {
            location: format!("/api/v1/proposals/{id}"),
            etag: None,
            body: view_and_tell(conn, &stored, EventType::ProposalCountered)?,
        })
    })
    .await
}

/// Accepts the latest revision (only the side that did not write it). Creates the
/// agreement (`active`) with that revision's terms and appends `agreement.accepted` to the
/// transparency log, in the same transaction.
#[utoipa::path(
    tag = "proposals",
    params(("id" = uuid::Uuid, Path, description = "The proposal")),
    request_body = AcceptRequest,
    responses(
        (status = 200, description = "Accepted; `agreement_id` names the new agreement", body = ProposalView),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Read-only key or suspended organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such proposal visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not open, a newer revision exists, or the caller's side wrote it", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid body, or the caller belongs to both organisations", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/proposals/{id}/accept")]
async fn accept_proposal(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<uuid::Uuid>,
    body: Json<AcceptRequest>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let revision = body.into_inner().revision;
    let view = db::run(&state.pool, move |conn| {
        db::write_transaction(conn, |conn| {
            let (proposal, side) = lock_for_action(conn, &principal, &id)?;
            let (current, latest) = state_of(conn, &proposal)?;
            lifecycle::transition(current, side, Action::Accept { revision })?;
            let at = now();
            let (closed, _) = agreement::store::accept(conn, &proposal, &latest, new_id(), at)?;
            view_and_tell(conn, &closed, EventType::ProposalAccepted)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Declines the proposal (the side that received the latest revision), with an optional
/// reason both sides read. Declines count towards the pause before the next proposal.
#[utoipa::path(
    tag = "proposals",
    params(("id" = uuid::Uuid, Path, description = "The proposal")),
    request_body(content = Option<CloseRequest>, description = "Optional; an empty body gives no reason"),
    responses(
        (status = 200, description = "Declined", body = ProposalView),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Read-only key or suspended organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such proposal visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not open, or the caller's side wrote the latest revision", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid reason, or the caller belongs to both organisations", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/proposals/{id}/decline")]
async fn decline_proposal(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<uuid::Uuid>,
    body: OptionalJson<CloseRequest>,
) -> ApiResult<HttpResponse> {
    close(
        &state,
        principal,
        path.into_inner(),
        Action::Decline,
        body.0,
    )
    .await
}

/// Withdraws the proposal (the side that wrote the latest revision), with an optional
/// reason both sides read.
#[utoipa::path(
    tag = "proposals",
    params(("id" = uuid::Uuid, Path, description = "The proposal")),
    request_body(content = Option<CloseRequest>, description = "Optional; an empty body gives no reason"),
    responses(
        (status = 200, description = "Withdrawn", body = ProposalView),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Read-only key or suspended organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such proposal visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not open, or the other side wrote the latest revision", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid reason, or the caller belongs to both organisations", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/proposals/{id}/withdraw")]
async fn withdraw_proposal(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<uuid::Uuid>,
    body: OptionalJson<CloseRequest>,
) -> ApiResult<HttpResponse> {
    close(
        &state,
        principal,
        path.into_inner(),
        Action::Withdraw,
        body.0,
    )
    .await
}

async fn close(
    state: &AppState,
    principal: Principal,
    id: uuid::Uuid,
    action: Action,
    body: Option<CloseRequest>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    let mut checks = Checks::new();
    let reason = checks.optional_text("reason", body.unwrap_or_default().reason.as_deref(), 1000);
    checks.finish()?;
    let view = db::run(&state.pool, move |conn| {
        db::write_transaction(conn, |conn| {
            let (proposal, side) = lock_for_action(conn, &principal, &id)?;
            let (current, _) = state_of(conn, &proposal)?;
            let Outcome::Closed(status) = lifecycle::transition(current, side, action)? else {
                return Err(ApiError::Internal("declining or withdrawing closes".into()));
            };
            let closed = proposal.close(conn, status, reason.as_deref(), None, now())?;
            let event_type = match status {
                ProposalStatus::Withdrawn => EventType::ProposalWithdrawn,
                _ => EventType::ProposalDeclined,
            };
            view_and_tell(conn, &closed, event_type)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}
