//! `/orgs`: create, directory, public profile, update.

use actix_web::{get, patch, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::auth::{authorize_org, AuthUser, OrgNeed, Principal};
use crate::db;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::etag::{etag, IfMatch};
use crate::http::idempotency::{self, Created, IdempotencyKey};
use crate::http::json::Json;
use crate::http::pagination::{Page, PageQuery};
use crate::http::validate::Checks;
use crate::models::membership::{self, OrgRole};
use crate::models::org::{Org, OrgChanges, OrgFilter, OrgView};
use crate::models::user::AccountStatus;
use crate::models::{new_id, now};

/// Routes of this module.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_org)
        .service(list_orgs)
        .service(get_org)
        .service(update_org);
}

/// A new organisation.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct CreateOrgRequest {
    /// 2–120 characters (trimmed).
    #[schema(example = "Kundenwerk GmbH", min_length = 2, max_length = 120)]
    pub name: String,
    /// 2–80 characters (trimmed, lower-cased); partners are matched within an industry by
    /// default.
    #[schema(example = "hospitality", min_length = 2, max_length = 80)]
    pub industry: String,
    /// Up to 2,000 characters (trimmed; blank is none).
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// An `http://` or `https://` URL (scheme in any case) with a host, no whitespace, up
    /// to 300 characters (trimmed; blank is none).
    #[schema(
        pattern = r"^[\t\n\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:[Hh][Tt][Tt][Pp]://[^\x00-\x20/\x7F\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\x00-\x20\x7F\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]{0,292}|[Hh][Tt][Tt][Pp][Ss]://[^\x00-\x20/\x7F\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\x00-\x20\x7F\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]{0,291})?[\t\n\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub website: Option<String>,
    /// Up to 80 characters (trimmed; blank is none).
    #[schema(max_length = 80)]
    pub region: Option<String>,
}

/// Changes to an organisation; absent fields stay, `null` clears an optional field.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdateOrgRequest {
    /// 2–120 characters (trimmed).
    #[schema(min_length = 2, max_length = 120)]
    pub name: Option<String>,
    /// 2–80 characters (trimmed, lower-cased).
    #[schema(min_length = 2, max_length = 80)]
    pub industry: Option<String>,
    /// Up to 2,000 characters (trimmed; blank or `null` clears it).
    #[serde(default, deserialize_with = "crate::http::json::present")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub description: Option<Option<String>>,
    /// An `http://` or `https://` URL, as on creation (blank or `null` clears it).
    #[serde(default, deserialize_with = "crate::http::json::present")]
    #[schema(value_type = Option<String>, pattern = r"^[\t\n\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:[Hh][Tt][Tt][Pp]://[^\x00-\x20/\x7F\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\x00-\x20\x7F\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]{0,292}|[Hh][Tt][Tt][Pp][Ss]://[^\x00-\x20/\x7F\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\x00-\x20\x7F\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]{0,291})?[\t\n\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$")]
    pub website: Option<Option<String>>,
    /// Up to 80 characters (trimmed; blank or `null` clears it).
    #[serde(default, deserialize_with = "crate::http::json::present")]
    #[schema(value_type = Option<String>, max_length = 80)]
    pub region: Option<Option<String>>,
}

/// Directory filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrgListQuery {
    /// Case-insensitive substring of the name (trimmed; blank: no filter).
    #[param(pattern = r"^[^\x00-\x1F\x7F]*$")]
    pub q: Option<String>,
    /// Exact industry (trimmed, case-insensitive; blank: no filter).
    #[param(pattern = r"^[^\x00-\x1F\x7F]*$")]
    pub industry: Option<String>,
    /// Items per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page; absent or empty for the first page.
    pub cursor: Option<String>,
}

fn org_response(status: actix_web::http::StatusCode, org: &Org) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::build(status)
        .insert_header(("ETag", etag(org.version)))
        .json(org.view()?))
}

/// Creates an organisation; the caller becomes its `owner`.
#[utoipa::path(
    tag = "orgs",
    request_body = CreateOrgRequest,
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, pattern = r"^[\x21-\x7E]{1,255}$", description = "1–255 visible ASCII characters; replays the first response for the same key and body")),
    responses(
        (status = 201, description = "Created", body = OrgView, headers(("ETag" = String), ("Location" = String))),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or key reused with another body", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/orgs")]
async fn create_org(
    state: web::Data<AppState>,
    user: AuthUser,
    key: IdempotencyKey,
    body: Json<CreateOrgRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let mut checks = Checks::new();
    let at = now();
    let org = Org {
        id: new_id(),
        name: checks.text("name", &body.name, 2, 120),
        industry: checks.industry("industry", &body.industry),
        description: checks.optional_text("description", body.description.as_deref(), 2000),
        website: checks.optional_url("website", body.website.as_deref()),
        region: checks.optional_text("region", body.region.as_deref(), 80),
        status: AccountStatus::Active,
        version: 1,
        created_at: at,
        updated_at: at,
    };
    checks.finish()?;
    idempotency::create(
        &state.pool,
        Principal::User(user.clone()).scope(),
        key,
        "POST /orgs",
        &body,
        &[],
        move |conn| {
            org.insert(conn)?;
            membership::insert(conn, &org.id, &user.id, OrgRole::Owner)?;
            Ok(Created {
                location: format!("/api/v1/orgs/{}", org.id),
                etag: Some(etag(org.version)),
                body: org.view()?,
            })
        },
    )
    .await
}

/// The public directory of organisations, oldest first.
#[utoipa::path(
    tag = "orgs",
    params(OrgListQuery),
    responses(
        (status = 200, description = "One page", body = Page<OrgView>),
        (status = 400, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/orgs")]
async fn list_orgs(
    state: web::Data<AppState>,
    query: crate::http::query::Query<OrgListQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .resolve()?;
    let filter = OrgFilter {
        name_contains: query
            .q
            .map(|q| q.trim().to_owned())
            .filter(|q| !q.is_empty()),
        industry: query
            .industry
            .map(|i| i.trim().to_lowercase())
            .filter(|i| !i.is_empty()),
    };
    let request = page.clone();
    let rows = db::run(&state.pool, move |conn| {
        Ok(Org::list(
            conn,
            &filter,
            request.after.as_deref(),
            request.fetch(),
        )?)
    })
    .await?;
    let page = Page::from_rows(rows, &page, |o| o.id.clone(), |o| o.view())?;
    Ok(HttpResponse::Ok().json(page))
}

/// An organisation's public profile.
#[utoipa::path(
    tag = "orgs",
    params(("org_id" = uuid::Uuid, Path, description = "The organisation")),
    responses(
        (status = 200, description = "The profile", body = OrgView, headers(("ETag" = String))),
        (status = 404, description = "No such organisation", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/orgs/{org_id}")]
async fn get_org(
    state: web::Data<AppState>,
    path: web::Path<uuid::Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let org = db::run(&state.pool, move |conn| Org::find_existing(conn, &id)).await?;
    org_response(actix_web::http::StatusCode::OK, &org)
}

/// Updates the profile (owners and admins, or a `write` API key of the organisation).
/// Send `If-Match` with the ETag you read to avoid overwriting someone else's change.
#[utoipa::path(
    tag = "orgs",
    params(
        ("org_id" = uuid::Uuid, Path, description = "The organisation"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag last read; 412 when stale"),
    ),
    request_body = UpdateOrgRequest,
    responses(
        (status = 200, description = "Updated", body = OrgView, headers(("ETag" = String))),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an owner/admin, or a read-only key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/orgs/{org_id}")]
async fn update_org(
    state: web::Data<AppState>,
    principal: Principal,
    if_match: IfMatch,
    path: web::Path<uuid::Uuid>,
    body: Json<UpdateOrgRequest>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let body = body.into_inner();
    let mut checks = Checks::new();
    let changes = OrgChanges {
        name: body.name.as_deref().map(|n| checks.text("name", n, 2, 120)),
        industry: body
            .industry
            .as_deref()
            .map(|i| checks.industry("industry", i)),
        description: body
            .description
            .map(|d| checks.optional_text("description", d.as_deref(), 2000)),
        website: body
            .website
            .map(|w| checks.optional_url("website", w.as_deref())),
        region: body
            .region
            .map(|r| checks.optional_text("region", r.as_deref(), 80)),
    };
    checks.finish()?;
    let org = db::run(&state.pool, move |conn| {
        let access = authorize_org(conn, &principal, &id, OrgNeed::Write)?;
        if access.role.is_some_and(|r| !r.at_least(OrgRole::Admin)) {
            return Err(ApiError::Forbidden(
                "changing the profile needs the owner or admin role".into(),
            ));
        }
        Org::update(conn, &id, if_match.expected(), &changes)
    })
    .await?;
    org_response(actix_web::http::StatusCode::OK, &org)
}
