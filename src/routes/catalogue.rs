//! `GET /listings`: the public catalogue search.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::auth::{authorize_org, MaybePrincipal, OrgNeed, Principal};
use crate::catalogue_cache::CachedSearch;
use crate::db;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::pagination::{self, PageQuery};
use crate::http::validate::normalize_tag;
use crate::models::catalogue_state;
use crate::models::listing::{ListingCategory, ListingKind, ListingStatus, ListingView};
use crate::models::listing_search::{self, After, CatalogueQuery, Facets, SortOrder};
use crate::models::now;
use crate::models::user::PlatformRole;
use crate::search;

/// Routes of this module.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(search_listings);
}

/// Catalogue search parameters (`tag` and `status` may repeat).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CatalogueParams {
    /// Full text over title, description and tags (German and English; case and
    /// diacritics ignored, `ß` = `ss`, each word also matches as a prefix).
    q: Option<String>,
    kind: Option<ListingKind>,
    category: Option<ListingCategory>,
    /// Repeatable; every tag must be present.
    tag: Option<Vec<String>>,
    industry: Option<String>,
    region: Option<String>,
    org_id: Option<uuid::Uuid>,
    /// Only listings with (true) or without (false) a no-obligation trial.
    trial: Option<bool>,
    /// Repeatable. Default `published`; other statuses only with `org_id` of the caller's
    /// own organisation (or for moderators).
    status: Option<Vec<ListingStatus>>,
    /// `relevance` (default with `q`) or `newest` (default without).
    sort: Option<SortOrder>,
    /// Items per page, 1–100 (default 20).
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// One page of the catalogue with facet counts over the whole result.
#[derive(Debug, Serialize, ToSchema)]
pub struct CataloguePage {
    pub items: Vec<ListingView>,
    pub next_cursor: Option<String>,
    pub facets: Facets,
}

fn bad(name: &str, value: &str, expected: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "query parameter {name}={value:?} is invalid: expected {expected}"
    ))
}

fn parse_enum<T>(
    name: &str,
    value: &str,
    parse: impl Fn(&str) -> Option<T>,
    expected: &str,
) -> Result<T, ApiError> {
    parse(value).ok_or_else(|| bad(name, value, expected))
}

struct Parsed {
    query: CatalogueQuery,
    sort: SortOrder,
    page: PageQuery,
}

fn parse(pairs: Vec<(String, String)>) -> Result<Parsed, ApiError> {
    let mut query = CatalogueQuery::default();
    let mut sort = None;
    let mut page = PageQuery::default();
    let mut text = String::new();
    for (name, value) in pairs {
        let trimmed = value.trim();
        match name.as_str() {
            "q" => text = value,
            "kind" => {
                query.kind = Some(
                    parse_enum(&name, trimmed, ListingKind::from_text, "offer or need")?
                        .as_str()
                        .into(),
                )
            }
            "category" => {
                query.category = Some(
                    parse_enum(
                        &name,
                        trimmed,
                        ListingCategory::from_text,
                        "expertise or resource",
                    )?
                    .as_str()
                    .into(),
                )
            }
            "tag" => query
                .tags
                .push(normalize_tag(trimmed).map_err(|m| bad(&name, &value, m))?),
            "industry" => query.industry = Some(trimmed.to_lowercase()).filter(|i| !i.is_empty()),
            "region" => query.region = Some(trimmed.to_owned()).filter(|r| !r.is_empty()),
            "org_id" => {
                let id =
                    uuid::Uuid::parse_str(trimmed).map_err(|_| bad(&name, &value, "a UUID"))?;
                query.org_id = Some(id.to_string());
            }
            "trial" => {
                query.trial = Some(
                    trimmed
                        .parse()
                        .map_err(|_| bad(&name, &value, "true or false"))?,
                )
            }
            "status" => {
                let status =
                    parse_enum(&name, trimmed, ListingStatus::from_text, "a listing status")?;
                query.statuses.push(status.as_str().into());
            }
            "sort" => {
                sort = Some(match trimmed {
                    "relevance" => SortOrder::Relevance,
                    "newest" => SortOrder::Newest,
                    _ => return Err(bad(&name, &value, "relevance or newest")),
                })
            }
            "limit" => {
                page.limit = Some(
                    trimmed
                        .parse()
                        .map_err(|_| bad(&name, &value, "an integer from 1 to 100"))?,
                )
            }
            "cursor" => page.cursor = Some(value),
            _ => {}
        }
    }
    query.terms = search::terms(&text);
    if query.tags.len() > 10 {
        return Err(ApiError::BadRequest("at most 10 tag parameters".into()));
    }
    query.tags.sort();
    query.tags.dedup();
    query.statuses.sort();
    query.statuses.dedup();
    let sort = match sort {
        Some(SortOrder::Relevance) | None if !query.terms.is_empty() => SortOrder::Relevance,
        _ => SortOrder::Newest,
    };
    Ok(Parsed { query, sort, page })
}

/// Searches the catalogue: published, unexpired listings of active organisations, unless
/// the caller asks for its own organisation's listings in other statuses.
#[utoipa::path(
    tag = "listings",
    params(CatalogueParams),
    responses(
        (status = 200, description = "One page with facets", body = CataloguePage),
        (status = 400, description = "Bad parameter, limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Non-published statuses asked for without being that organisation", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
#[get("/listings")]
async fn search_listings(
    state: web::Data<AppState>,
    caller: MaybePrincipal,
    params: web::Query<Vec<(String, String)>>,
) -> ApiResult<HttpResponse> {
    let Parsed {
        mut query,
        sort,
        page,
    } = parse(params.into_inner())?;
    let request = page.resolve_keyed()?;
    let after = match (&request.after, sort) {
        (None, _) => None,
        (Some(pagination::Cursor::Id(id)), SortOrder::Newest) => Some(After::Id(id.clone())),
        (Some(pagination::Cursor::Keyed(key, id)), SortOrder::Relevance) => {
            Some(After::Scored(*key, id.clone()))
        }
        _ => {
            return Err(ApiError::BadRequest(
                "the cursor belongs to another sort order".into(),
            ))
        }
    };
    let limit = request.limit;
    let cache = state.catalogue_cache.clone();
    let (rows, facets, insider) = db::run(&state.pool, move |conn| {
        let insider = private_access(conn, caller.0.as_ref(), &mut query)?;
        let public = query.public_only && query.statuses == [ListingStatus::Published.as_str()];
        // Everything that decides the answer, except the time (see catalogue_cache).
        let key = format!("{query:?}|{sort:?}|{after:?}|{limit}");
        let at = now();
        query.now = Some(at);
        let version = if public && cache.enabled() {
            Some(catalogue_state::version(conn)?)
        } else {
            None
        };
        if let Some(hit) = version.and_then(|v| cache.get(&key, v, at)) {
            let rows = listing_search::by_ids(conn, &hit.page)?;
            if rows.len() == hit.page.len() {
                return Ok((rows, hit.facets, insider));
            }
        }
        let rows = listing_search::page(conn, &query, sort, after.as_ref(), limit + 1)?;
        let (facets, valid_until) = listing_search::facets(conn, &query)?;
        if let Some(version) = version {
            let page = rows.iter().map(|(l, s)| (l.id.clone(), *s)).collect();
            let computed = CachedSearch {
                version,
                valid_until,
                page,
                facets: facets.clone(),
            };
            cache.put(key, computed);
        }
        Ok((rows, facets, insider))
    })
    .await?;
    let (rows, next_cursor) = pagination::cut(rows, limit, |(last, score)| match sort {
        SortOrder::Relevance => pagination::encode_keyed(*score as i64, &last.id),
        SortOrder::Newest => pagination::encode_id(&last.id),
    });
    let items = rows
        .iter()
        .map(|(l, _)| l.view(insider))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(CataloguePage {
        items,
        next_cursor,
        facets,
    }))
}

/// Decides which statuses the caller may see. Returns whether results show private fields.
fn private_access(
    conn: &mut db::DbConnection,
    caller: Option<&Principal>,
    query: &mut CatalogueQuery,
) -> Result<bool, ApiError> {
    let moderator =
        matches!(caller, Some(Principal::User(u)) if u.is_platform(PlatformRole::Moderator));
    let member = match (caller, &query.org_id) {
        (Some(principal), Some(org_id)) => {
            match authorize_org(conn, principal, org_id, OrgNeed::Read) {
                Ok(_) => true,
                Err(ApiError::Forbidden(_) | ApiError::NotFound(_)) => false,
                Err(e) => return Err(e),
            }
        }
        _ => false,
    };
    let published_only = query
        .statuses
        .iter()
        .all(|s| s == ListingStatus::Published.as_str());
    // Without an explicit `status` everyone gets the public catalogue (no expired
    // listings, none of suspended organisations); insiders asking for statuses see all.
    let explicit = !query.statuses.is_empty();
    if !explicit {
        query
            .statuses
            .push(ListingStatus::Published.as_str().into());
    }
    if !published_only && !member && !moderator {
        return Err(ApiError::Forbidden(
            "listings that are not published are visible only to their organisation (pass its org_id) and moderators".into(),
        ));
    }
    query.public_only = !explicit || (!member && !moderator);
    Ok(member || moderator)
}
