//! Endorsements: after a completed agreement, each party publishes one thank-you about the
//! other (`/agreements/{id}/endorsements`); the endorsed organisation's profile lists them
//! (`/orgs/{org_id}/endorsements`).

use actix_web::{get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::auth::parties::acting_side;
use crate::auth::Principal;
use crate::db;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::idempotency::{self, Created, IdempotencyKey};
use crate::http::json::Json;
use crate::http::pagination::{Page, PageQuery};
use crate::http::validate::Checks;
use crate::models::agreement::{Agreement, AgreementStatus};
use crate::models::effects::emit;
use crate::models::endorsement::{Endorsement, EndorsementView};
use crate::models::event::{Event, EventType};
use crate::models::org::Org;
use crate::models::{new_id, now};

/// Routes of this module.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_endorsement)
        .service(agreement_endorsements)
        .service(org_endorsements);
}

/// A thank-you about the other party.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct CreateEndorsementRequest {
    /// 3–1,000 characters (trimmed), public.
    #[schema(
        example = "Danke für die großartige Schulung – unser Empfang strahlt!",
        min_length = 3,
        max_length = 1000
    )]
    pub text: String,
}

/// Publishes the caller's side's endorsement of the other party (one per party, only once
/// the agreement is `completed`).
#[utoipa::path(
    tag = "agreements",
    params(
        ("id" = uuid::Uuid, Path, description = "The agreement"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, pattern = r"^[\x21-\x7E]{1,255}$", description = "1–255 visible ASCII characters; replays the first response for the same key and body"),
    ),
    request_body = CreateEndorsementRequest,
    responses(
        (status = 201, description = "Published", body = EndorsementView, headers(("Location" = String))),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a party, read-only key or suspended organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such agreement", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not completed, or the caller's side endorsed already", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid text, or the caller belongs to both organisations", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/agreements/{id}/endorsements")]
async fn create_endorsement(
    state: web::Data<AppState>,
    principal: Principal,
    key: IdempotencyKey,
    path: web::Path<uuid::Uuid>,
    body: Json<CreateEndorsementRequest>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let body = body.into_inner();
    let mut checks = Checks::new();
    let text = checks.text("text", &body.text, 3, 1000);
    checks.finish()?;
    let scope = principal.scope();
    let route = format!("POST /agreements/{id}/endorsements");
    idempotency::create(&state.pool, scope, key, &route, &body, &[], move |conn| {
        let missing = || ApiError::NotFound(format!("agreement {id} does not exist"));
        let agreement = Agreement::find(conn, &id)?.ok_or_else(missing)?;
        let side = acting_side(
            conn,
            &principal,
            &agreement.from_org_id,
            &agreement.to_org_id,
            || ApiError::Forbidden("only the two parties may endorse each other".into()),
        )?;
        if agreement.status != AgreementStatus::Completed {
            return Err(ApiError::Conflict(format!(
                "cannot endorse an agreement whose status is {}; endorsements follow completion",
                agreement.status
            )));
        }
        let endorsement = Endorsement {
            id: new_id(),
            agreement_id: agreement.id.clone(),
            author_org_id: agreement.org(side).to_owned(),
            endorsed_org_id: agreement.org(side.other()).to_owned(),
            author_user_id: match &principal {
                Principal::User(user) => Some(user.id.clone()),
                Principal::Key(_) => None,
            },
            text,
            removed_at: None,
            created_at: now(),
        };
        endorsement.insert(conn).map_err(|e| match e {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => ApiError::Conflict(
                "your organisation has already endorsed the other party of this agreement".into(),
            ),
            other => other.into(),
        })?;
        let view = endorsement.view()?;
        let received = Event::new(
            &endorsement.endorsed_org_id,
            EventType::EndorsementReceived,
            &view,
        )?;
        emit(conn, received)?;
        Ok(Created {
            location: format!("/api/v1/agreements/{id}/endorsements"),
            etag: None,
            body: view,
        })
    })
    .await
}

/// The endorsements of an agreement (public; at most one per party).
#[utoipa::path(
    tag = "agreements",
    params(("id" = uuid::Uuid, Path, description = "The agreement")),
    responses(
        (status = 200, description = "Oldest first; never more than two", body = Page<EndorsementView>),
        (status = 404, description = "No such agreement", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/agreements/{id}/endorsements")]
async fn agreement_endorsements(
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let items = db::run(&state.pool, move |conn| {
        Agreement::find(conn, &id)?
            .ok_or_else(|| ApiError::NotFound(format!("agreement {id} does not exist")))?;
        Endorsement::of_agreement(conn, &id)?
            .iter()
            .map(Endorsement::view)
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    Ok(HttpResponse::Ok().json(Page {
        items,
        next_cursor: None,
    }))
}

/// The endorsements an organisation received (its public profile), newest first.
#[utoipa::path(
    tag = "orgs",
    params(("org_id" = uuid::Uuid, Path, description = "The organisation"), PageQuery),
    responses(
        (status = 200, description = "One page, newest first", body = Page<EndorsementView>),
        (status = 400, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/orgs/{org_id}/endorsements")]
async fn org_endorsements(
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
    query: crate::http::query::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let org_id = path.into_inner().to_string();
    let page = query.resolve()?;
    let body = db::run(&state.pool, move |conn| {
        Org::find_existing(conn, &org_id)?;
        let rows = Endorsement::of_org(conn, &org_id, page.after.as_deref(), page.fetch())?;
        Page::from_rows(rows, &page, |e| e.id.clone(), |e| e.view())
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}
