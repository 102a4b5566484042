//! `/listings/{id}` and its owner actions: create, read, edit, delete, submit, archive.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::Connection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::auth::{
    authorize_org, is_insider, writable_listing, MaybePrincipal, OrgNeed, Principal,
};
use crate::db::{self, DbConnection};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::etag::{etag, tagged, IfMatch};
use crate::http::idempotency::{self, Created, IdempotencyKey};
use crate::http::json::Json;
use crate::http::validate::Checks;
use crate::models::listing::lifecycle::{self, Action, Actor, Edit, Transition};
use crate::models::listing::{
    store, Listing, ListingCategory, ListingFields, ListingKind, ListingStatus, ListingView,
};
use crate::models::org::Org;
use crate::models::{new_id, now, rate_limit};
use crate::moderation;

/// Routes of this module.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_listing)
        .service(get_listing)
        .service(update_listing)
        .service(delete_listing)
        .service(submit_listing)
        .service(archive_listing);
}

/// A new listing (created as a `draft`).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct CreateListingRequest {
    pub org_id: uuid::Uuid,
    pub kind: ListingKind,
    pub category: ListingCategory,
    /// 3–120 characters (trimmed).
    #[schema(
        example = "Außergewöhnlicher Kundenservice: Schulung für Ihr Empfangsteam",
        min_length = 3,
        max_length = 120
    )]
    pub title: String,
    /// Up to 5,000 characters (trimmed; may be empty).
    #[schema(max_length = 5000)]
    pub description: String,
    /// 1–10 distinct tags of `a-z 0-9 -`, 2–40 characters each; trimmed and lower-cased
    /// (tags equal after that count once).
    #[schema(example = json!(["kundenservice", "schulung"]), min_items = 1, max_items = 10, pattern = r"^[A-Za-z0-9-]{2,40}$")]
    pub tags: Vec<String>,
    /// 2–80 characters (trimmed, lower-cased); defaults to the organisation's industry.
    #[schema(min_length = 2, max_length = 80)]
    pub industry: Option<String>,
    /// Up to 80 characters (trimmed; blank is none).
    #[schema(max_length = 80)]
    pub region: Option<String>,
    /// Offers a no-obligation trial or sample.
    #[serde(default)]
    pub trial_available: bool,
    /// When the listing leaves search and matching by itself (must be in the future).
    pub expires_at: Option<DateTime<Utc>>,
}

/// Changes to a listing; absent fields stay, `null` clears `region` or `expires_at`.
/// On a published listing, changes to `title`, `description` or `tags` wait for review
/// (the approved text stays public); the other fields apply at once.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdateListingRequest {
    /// 3–120 characters (trimmed).
    #[schema(min_length = 3, max_length = 120)]
    pub title: Option<String>,
    /// Up to 5,000 characters (trimmed; may be empty).
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    /// Replaces the tags: as on creation.
    #[schema(min_items = 1, max_items = 10, pattern = r"^[A-Za-z0-9-]{2,40}$")]
    pub tags: Option<Vec<String>>,
    pub category: Option<ListingCategory>,
    /// 2–80 characters (trimmed, lower-cased).
    #[schema(min_length = 2, max_length = 80)]
    pub industry: Option<String>,
    /// Up to 80 characters (trimmed; blank or `null` clears it).
    #[serde(default, deserialize_with = "crate::http::json::present")]
    #[schema(value_type = Option<String>, max_length = 80)]
    pub region: Option<Option<String>>,
    pub trial_available: Option<bool>,
    /// When the listing leaves search and matching by itself (must be in the future);
    /// `null` clears it.
    #[serde(default, deserialize_with = "crate::http::json::present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<Option<DateTime<Utc>>>,
}

pub(crate) fn listing_response(
    status: actix_web::http::StatusCode,
    listing: &Listing,
    private: bool,
) -> ApiResult<HttpResponse> {
    Ok(tagged(status, listing.version, &listing.view(private)?))
}

/// Creates a listing as a `draft` (members of the organisation, or its `write` key).
#[utoipa::path(
    tag = "listings",
    request_body = CreateListingRequest,
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, pattern = r"^[\x21-\x7E]{1,255}$", description = "1–255 visible ASCII characters; replays the first response for the same key and body")),
    responses(
        (status = 201, description = "Created as draft", body = ListingView, headers(("ETag" = String), ("Location" = String))),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a member, read-only key, or organisation suspended", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or the organisation's listing quota is used up", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/listings")]
async fn create_listing(
    state: web::Data<AppState>,
    principal: Principal,
    key: IdempotencyKey,
    body: Json<CreateListingRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let at = now();
    let fields = validate_new(&body, at)?;
    let quota = state.settings.listing_quota;
    let scope = principal.scope();
    let org_id = body.org_id.to_string();
    idempotency::create(
        &state.pool,
        scope,
        key,
        "POST /listings",
        &body,
        &[],
        move |conn| {
            if !Org::lock(conn, &org_id)? {
                return Err(ApiError::NotFound(format!(
                    "organisation {org_id} does not exist"
                )));
            }
            let access = authorize_org(conn, &principal, &org_id, OrgNeed::Write)?;
            check_quota(conn, &org_id, quota)?;
            let listing = fields.into_row(
                new_id(),
                org_id,
                &access.org.industry,
                ListingStatus::Draft,
                at,
            );
            listing.insert(conn)?;
            Ok(Created {
                location: format!("/api/v1/listings/{}", listing.id),
                etag: Some(etag(listing.version)),
                body: listing.view(true)?,
            })
        },
    )
    .await
}

/// A new listing's fields, each checked; every problem is reported at once (422).
fn validate_new(body: &CreateListingRequest, at: NaiveDateTime) -> ApiResult<ListingFields> {
    let mut checks = Checks::new();
    let fields = ListingFields {
        kind: body.kind,
        category: body.category,
        title: checks.text("title", &body.title, 3, 120),
        description: checks.text("description", &body.description, 0, 5000),
        tags: checks.tags("tags", &body.tags).join(","),
        industry: body
            .industry
            .as_deref()
            .map(|i| checks.industry("industry", i)),
        region: checks.optional_text("region", body.region.as_deref(), 80),
        trial_available: body.trial_available,
        expires_at: checks.future("expires_at", body.expires_at, at),
    };
    checks.finish()?;
    Ok(fields)
}

/// 422 when the organisation already has `quota` active listings.
fn check_quota(conn: &mut DbConnection, org_id: &str, quota: u32) -> ApiResult<()> {
    if Listing::count_active(conn, org_id)? >= i64::from(quota) {
        return Err(ApiError::Unprocessable(format!(
            "the organisation already has {quota} active listings (its quota); archive some first"
        )));
    }
    Ok(())
}

/// A listing. Published, unexpired listings are public; others only for their
/// organisation and moderators (404 for everyone else).
#[utoipa::path(
    tag = "listings",
    params(("id" = uuid::Uuid, Path, description = "The listing")),
    responses(
        (status = 200, description = "The listing", body = ListingView, headers(("ETag" = String))),
        (status = 404, description = "No such listing visible to the caller", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
#[get("/listings/{id}")]
async fn get_listing(
    state: web::Data<AppState>,
    caller: MaybePrincipal,
    path: web::Path<uuid::Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let (found, insider) = db::run(&state.pool, move |conn| {
        let missing = || ApiError::NotFound(format!("listing {id} does not exist"));
        let (found, org_status) = Listing::find_with_org_status(conn, &id)?.ok_or_else(missing)?;
        let public = found.is_public_with(org_status, now());
        // Anonymous callers need no membership lookup.
        let insider = caller.0.is_some() && is_insider(conn, caller.0.as_ref(), &found)?;
        if !insider && !public {
            return Err(missing());
        }
        Ok((found, insider))
    })
    .await?;
    listing_response(actix_web::http::StatusCode::OK, &found, insider)
}

/// Edits a listing (its organisation's members or `write` key); send `If-Match`.
#[utoipa::path(
    tag = "listings",
    params(
        ("id" = uuid::Uuid, Path, description = "The listing"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag last read; 412 when stale"),
    ),
    request_body = UpdateListingRequest,
    responses(
        (status = 200, description = "Updated (on a published listing, text changes are pending review)", body = ListingView, headers(("ETag" = String))),
        (status = 403, description = "Not allowed to change this organisation's listings", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such listing visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The status does not allow edits (pending review, archived, removed)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/listings/{id}")]
async fn update_listing(
    state: web::Data<AppState>,
    principal: Principal,
    if_match: IfMatch,
    path: web::Path<uuid::Uuid>,
    body: Json<UpdateListingRequest>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let body = body.into_inner();
    let at = now();
    let mut checks = Checks::new();
    let title = body
        .title
        .as_deref()
        .map(|t| checks.text("title", t, 3, 120));
    let description = body
        .description
        .as_deref()
        .map(|d| checks.text("description", d, 0, 5000));
    let tags = body
        .tags
        .as_deref()
        .map(|t| checks.tags("tags", t).join(","));
    let industry = body
        .industry
        .as_deref()
        .map(|i| checks.industry("industry", i));
    let region = body
        .region
        .map(|r| checks.optional_text("region", r.as_deref(), 80));
    let expires_at = body.expires_at.map(|e| checks.future("expires_at", e, at));
    checks.finish()?;
    let edit = Edit {
        title,
        description,
        tags,
        category: body.category,
        industry,
        region,
        trial_available: body.trial_available,
        expires_at,
    };
    owner_update(
        &state,
        principal,
        id,
        Action::Edit(edit),
        if_match.expected(),
    )
    .await
}

/// Deletes a draft, rejected or archived listing.
#[utoipa::path(
    tag = "listings",
    params(("id" = uuid::Uuid, Path, description = "The listing")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not allowed to change this organisation's listings", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such listing visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Published, pending or removed listings cannot be deleted", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/listings/{id}")]
async fn delete_listing(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<uuid::Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    owner_action(&state, principal, id, Action::Delete, None).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Submits a draft or rejected listing for review.
#[utoipa::path(
    tag = "listings",
    params(("id" = uuid::Uuid, Path, description = "The listing")),
    responses(
        (status = 200, description = "Now pending review", body = ListingView, headers(("ETag" = String))),
        (status = 403, description = "Not allowed to change this organisation's listings", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such listing visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Only drafts and rejected listings can be submitted", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The organisation's daily submission quota is used up", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/listings/{id}/submit")]
async fn submit_listing(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<uuid::Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    owner_update(&state, principal, id, Action::Submit, None).await
}

/// Archives a published listing: it leaves search and matching (any pending edit is dropped).
#[utoipa::path(
    tag = "listings",
    params(("id" = uuid::Uuid, Path, description = "The listing")),
    responses(
        (status = 200, description = "Archived", body = ListingView, headers(("ETag" = String))),
        (status = 403, description = "Not allowed to change this organisation's listings", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such listing visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Only published listings can be archived", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/listings/{id}/archive")]
async fn archive_listing(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<uuid::Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    owner_update(&state, principal, id, Action::Archive, None).await
}

/// An owner's action that keeps the listing, answered with the updated listing.
async fn owner_update(
    state: &AppState,
    principal: Principal,
    id: String,
    action: Action,
    expected: Option<i32>,
) -> ApiResult<HttpResponse> {
    let listing = owner_action(state, principal, id, action, expected)
        .await?
        .ok_or_else(|| ApiError::Internal("only a deletion removes the listing".into()))?;
    listing_response(actix_web::http::StatusCode::OK, &listing, true)
}

/// Runs an owner's action on a listing in one transaction: lock the row the caller may
/// write, ask the lifecycle, store the outcome. `None` when the listing was deleted.
async fn owner_action(
    state: &AppState,
    principal: Principal,
    id: String,
    action: Action,
    expected: Option<i32>,
) -> ApiResult<Option<Listing>> {
    let per_day = state.settings.submissions_per_day;
    db::run(&state.pool, move |conn| {
        conn.transaction(|conn| {
            let current = writable_listing(conn, &principal, &id)?;
            let submit = action == Action::Submit;
            match lifecycle::transition(&current, Actor::Owner, action.clone(), now())? {
                Transition::Delete => {
                    store::delete(conn, &current)?;
                    Ok(None)
                }
                Transition::Update(update) => {
                    if submit {
                        rate_limit::hit(
                            conn,
                            "listing_submissions",
                            &current.org_id,
                            per_day,
                            86_400,
                        )?;
                    }
                    let changed = store::apply(conn, &current, expected, &update)?;
                    moderation::tell_owner(conn, current.status, &action, &changed)?;
                    Ok(Some(changed))
                }
            }
        })
    })
    .await
}
