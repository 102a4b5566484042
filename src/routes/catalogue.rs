//! `GET /listings`: the public catalogue search.

use actix_web::{get, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::auth::{authorize_org, MaybePrincipal, OrgNeed, Principal};
use crate::catalogue_cache::{CachedSearch, CatalogueCache};
use crate::db::{self, DbConnection};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::pagination::{self, PageQuery};
use crate::http::validate::normalize_tag;
use crate::models::catalogue_state;
use crate::models::listing::{ListingCategory, ListingKind, ListingStatus, ListingView};
use crate::models::listing_search::{
    self, CatalogueQuery, Counting, Facets, PageRow, Position, SortOrder,
};
use crate::models::now;
use crate::models::user::PlatformRole;
use crate::search;

/// Routes of this module.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(search_listings);
}

/// Catalogue search parameters (`tag` and `status` may repeat).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CatalogueParams {
    /// Full text over title, description and tags (German and English; case and
    /// diacritics ignored, `ß` = `ss`; every word must occur, words of three or more
    /// characters also as word prefixes; at most 8 words count).
    #[param(pattern = r"^[^\x00-\x1F\x7F]*$")]
    q: Option<String>,
    kind: Option<ListingKind>,
    category: Option<ListingCategory>,
    /// Repeatable, at most 10 times; every tag must be present. Each is 2–40 characters of
    /// `a-z 0-9 -`, trimmed and lower-cased.
    #[serde(default)]
    #[param(max_items = 10, pattern = r"^[A-Za-z0-9-]{2,40}$")]
    tag: Option<Vec<String>>,
    /// Exact industry (trimmed, case-insensitive; blank: no filter).
    #[param(pattern = r"^[^\x00-\x1F\x7F]*$")]
    industry: Option<String>,
    /// Exact region (trimmed; blank: no filter).
    #[param(pattern = r"^[^\x00-\x1F\x7F]*$")]
    region: Option<String>,
    org_id: Option<uuid::Uuid>,
    /// Only listings with (true) or without (false) a no-obligation trial.
    trial: Option<bool>,
    /// Repeatable. Default `published`; other statuses only with `org_id` of the caller's
    /// own organisation (or for moderators).
    #[serde(default)]
    status: Option<Vec<ListingStatus>>,
    /// `relevance` (default with `q`) or `newest` (default without).
    sort: Option<SortOrder>,
    /// Items per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page; absent or empty for the first page.
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

/// What each parameter of a type other than text must look like, for the 400 that names it.
fn typed(name: &str) -> Option<&'static str> {
    Some(match name {
        "kind" => "offer or need",
        "category" => "expertise or resource",
        "status" => "a listing status",
        "trial" => "true or false",
        "org_id" => "a UUID",
        "sort" => "relevance or newest",
        "limit" => "an integer from 1 to 100",
        _ => return None,
    })
}

fn expected(name: &str) -> &'static str {
    typed(name).unwrap_or("a valid value")
}

/// Parameters whose values are taken as sent; every other value is trimmed.
const VERBATIM: [&str; 2] = ["q", "cursor"];

struct Parsed {
    query: CatalogueQuery,
    sort: SortOrder,
    page: PageQuery,
}

/// Reads the query string into [`CatalogueParams`] (repeated keys become lists). A value
/// that does not fit its parameter is a 400 naming the parameter and what it expects.
fn deserialize(pairs: Vec<(String, String)>) -> Result<CatalogueParams, ApiError> {
    let trimmed: Vec<(String, String)> = pairs
        .into_iter()
        .map(|(name, value)| {
            let value = if VERBATIM.contains(&name.as_str()) {
                value
            } else {
                value.trim().to_owned()
            };
            (name, value)
        })
        .collect();
    // The form decoder reads an empty number as absent; an empty typed value is refused
    // like any other value that is not of its type.
    if let Some((name, _)) = trimmed
        .iter()
        .find(|(name, value)| value.is_empty() && typed(name).is_some())
    {
        return Err(bad(name, "", expected(name)));
    }
    let encoded = serde_html_form::to_string(&trimmed)
        .map_err(|_| ApiError::BadRequest("the query string cannot be read".into()))?;
    let form = serde_html_form::Deserializer::from_bytes(encoded.as_bytes());
    serde_path_to_error::deserialize(form).map_err(|e| {
        let mut path = e.path().iter();
        let name = path.next().map(|s| s.to_string()).unwrap_or_default();
        // A repeated parameter's path names which of its values failed.
        let nth = match path.next() {
            Some(serde_path_to_error::Segment::Seq { index }) => *index,
            _ => 0,
        };
        let value = trimmed
            .iter()
            .filter(|(n, _)| *n == name)
            .nth(nth)
            .map_or("", |(_, v)| v.as_str());
        bad(&name, value, expected(&name))
    })
}

fn parse(pairs: Vec<(String, String)>) -> Result<Parsed, ApiError> {
    let params = deserialize(pairs)?;
    let tags = params.tag.unwrap_or_default();
    if tags.len() > 10 {
        return Err(ApiError::BadRequest("at most 10 tag parameters".into()));
    }
    let mut query = CatalogueQuery {
        terms: search::terms(params.q.as_deref().unwrap_or_default()),
        kind: params.kind.map(|k| k.as_str().to_owned()),
        category: params.category.map(|c| c.as_str().to_owned()),
        tags: tags
            .iter()
            .map(|t| normalize_tag(t).map_err(|m| bad("tag", t, m)))
            .collect::<Result<_, _>>()?,
        industry: params
            .industry
            .map(|i| i.to_lowercase())
            .filter(|i| !i.is_empty()),
        region: params.region.filter(|r| !r.is_empty()),
        org_id: params.org_id.map(|id| id.to_string()),
        trial: params.trial,
        statuses: params
            .status
            .unwrap_or_default()
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
        ..Default::default()
    };
    query.tags.sort();
    query.tags.dedup();
    query.statuses.sort();
    query.statuses.dedup();
    let sort = match params.sort {
        Some(SortOrder::Relevance) | None if !query.terms.is_empty() => SortOrder::Relevance,
        _ => SortOrder::Newest,
    };
    let page = PageQuery {
        limit: params.limit,
        cursor: params.cursor,
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
        (status = 503, description = "Too many searches with words at once that the result cache cannot answer (or the database is unreachable); `Retry-After` says when to retry", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security((), ("bearer" = []))
)]
#[get("/listings")]
async fn search_listings(
    state: web::Data<AppState>,
    caller: MaybePrincipal,
    params: crate::http::query::Query<Vec<(String, String)>>,
) -> ApiResult<HttpResponse> {
    let Parsed {
        mut query,
        sort,
        page,
    } = parse(params.into_inner())?;
    let request = page.resolve_position()?;
    let after = after_for(&request.after, sort)?;
    let limit = request.limit;
    let cache = state.catalogue_cache.clone();
    query.bounds = state.settings.search_bounds;
    // Only searches with words are expensive: they take a place in the bulkhead, and only
    // once the result cache could not answer them (a cached answer costs what a page
    // costs).
    let with_words = !query.terms.is_empty();
    // The query with its caller, until `private_access` has checked it (then: with whether
    // the caller sees private fields).
    let caller = caller.0;
    let todo: Result<(CatalogueQuery, bool), (CatalogueQuery, Option<Principal>)> =
        if !with_words || cache.enabled() {
            let cache = cache.clone();
            let (found, query, insider) = db::run(&state.pool, move |conn| {
                let insider = private_access(conn, caller.as_ref(), &mut query)?;
                let found = search(conn, &cache, query.clone(), sort, after, limit, !with_words)?;
                let found = match found {
                    Some(found) => Some(answer(conn, found, insider, sort, limit)?),
                    None => None,
                };
                Ok((found, query, insider))
            })
            .await?;
            if let Some(found) = found {
                return page_response(found);
            }
            Ok((query, insider))
        } else {
            Err((query, caller))
        };
    let _slot = state.bulkheads.search.enter().await?;
    let found = db::run(&state.pool, move |conn| {
        let (query, insider) = match todo {
            Ok(checked) => checked,
            Err((mut query, caller)) => {
                let insider = private_access(conn, caller.as_ref(), &mut query)?;
                (query, insider)
            }
        };
        let found = search(conn, &cache, query, sort, after, limit, true)?
            .ok_or_else(|| ApiError::Internal("a computed search gave no answer".into()))?;
        answer(conn, found, insider, sort, limit)
    })
    .await?;
    page_response(found)
}

/// The 200 of a page: its items (as JSON), its next cursor and its facets.
fn page_response(
    (items, next_cursor, facets): (Vec<String>, Option<String>, Facets),
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(page_json(&items, &next_cursor, &facets)?))
}

/// A page's items (as JSON), its next cursor and its facets, from the rows found (`limit`
/// and one more) and whether the caller sees private fields.
fn answer(
    conn: &mut DbConnection,
    (rows, facets): (Vec<PageRow>, Facets),
    insider: bool,
    sort: SortOrder,
    limit: i64,
) -> ApiResult<(Vec<String>, Option<String>, Facets)> {
    let (rows, next_cursor) = pagination::cut(rows, limit, |row| match sort {
        SortOrder::Relevance => {
            pagination::encode_position(Some(row.position.score as i64), row.position.seq)
        }
        SortOrder::Newest => pagination::encode_position(None, row.position.seq),
    });
    let items = if insider {
        // With moderation details and pending changes: from the listings themselves.
        listing_search::listings_of(conn, &rows)?
            .iter()
            .map(|l| to_json(&l.view(true)?))
            .collect::<ApiResult<Vec<String>>>()?
    } else {
        rows.into_iter().map(|row| row.public_view).collect()
    };
    Ok((items, next_cursor, facets))
}

fn to_json(value: &impl Serialize) -> ApiResult<String> {
    serde_json::to_string(value).map_err(|e| ApiError::Internal(format!("cannot write JSON: {e}")))
}

/// The JSON of a [`CataloguePage`] whose items are already JSON (the listings' public
/// forms as their search documents keep them, so a page is not parsed and written again).
fn page_json(items: &[String], next_cursor: &Option<String>, facets: &Facets) -> ApiResult<String> {
    let len = items.iter().map(|i| i.len() + 1).sum::<usize>() + 512;
    let mut out = String::with_capacity(len);
    out.push_str("{\"items\":[");
    out.push_str(&items.join(","));
    out.push_str("],\"next_cursor\":");
    out.push_str(&to_json(next_cursor)?);
    out.push_str(",\"facets\":");
    out.push_str(&to_json(facets)?);
    out.push('}');
    Ok(out)
}

/// Where a page starts; a cursor of the other sort order is a 400.
fn after_for(cursor: &Option<(Option<i64>, i64)>, sort: SortOrder) -> ApiResult<Option<Position>> {
    let score = |key: i64| i32::try_from(key).map_err(|_| pagination::bad_cursor());
    Ok(match (cursor, sort) {
        (None, _) => None,
        (Some((None, seq)), SortOrder::Newest) => Some(Position {
            score: 0,
            seq: *seq,
        }),
        (Some((Some(key), seq)), SortOrder::Relevance) => Some(Position {
            score: score(*key)?,
            seq: *seq,
        }),
        _ => {
            return Err(ApiError::BadRequest(
                "the cursor belongs to another sort order".into(),
            ))
        }
    })
}

/// One page (plus one) with its facets: from the result cache when a public search was
/// computed for the current catalogue version, else computed (and cached if public) —
/// unless `compute` is false, which answers `None` instead.
fn search(
    conn: &mut DbConnection,
    cache: &CatalogueCache,
    mut query: CatalogueQuery,
    sort: SortOrder,
    after: Option<Position>,
    limit: i64,
    compute: bool,
) -> ApiResult<Option<(Vec<PageRow>, Facets)>> {
    let public = query.public_only && query.statuses == [ListingStatus::Published.as_str()];
    let cacheable = public && cache.enabled();
    if !compute && !cacheable {
        return Ok(None);
    }
    // Everything that decides the answer, except the time (see catalogue_cache).
    let key = format!("{query:?}|{sort:?}|{after:?}|{limit}");
    let at = now();
    query.now = Some(at);
    // Listings whose expiry passed leave the public catalogue (and its counts) now;
    // whichever request sees it first does it, on any instance. The whole catalogue's
    // counts say so themselves (one statement for the cheapest page); other searches ask.
    let (mut counted, mut seqs) = (None, None);
    if query.whole_catalogue() {
        let (facets, due) = listing_search::catalogue_facets(conn, at)?;
        if due {
            sweep_expired(conn, at)?;
        } else {
            counted = Some(Counting::of(facets));
        }
    } else if query.public_only {
        let (expiry, range) = search::probe(conn)?;
        if expiry.is_some_and(|expiry| expiry <= at) {
            sweep_expired(conn, at)?;
        }
        seqs = Some(range);
    }
    let version = if cacheable {
        Some(catalogue_state::version(conn)?)
    } else {
        None
    };
    if let Some(hit) = version.and_then(|v| cache.get(&key, v, at)) {
        let rows = listing_search::rows_at(conn, &hit.page)?;
        if rows.len() == hit.page.len() {
            return Ok(Some((rows, hit.facets)));
        }
    }
    if !compute {
        return Ok(None);
    }
    // Counts first: the page reuses what they found (see `listing_search::page`).
    let relevance = sort == SortOrder::Relevance;
    let counting = match counted {
        Some(counting) => counting,
        None => listing_search::count(conn, &query, relevance, seqs)?,
    };
    let rows = listing_search::page(conn, &query, relevance, after, limit + 1, &counting)?;
    let Counting {
        facets,
        valid_until,
        ..
    } = counting;
    if let Some(version) = version {
        let page = rows
            .iter()
            .map(|r| (r.listing_id.clone(), r.position))
            .collect();
        let computed = CachedSearch {
            version,
            valid_until,
            page,
            facets: facets.clone(),
        };
        cache.put(key, computed);
    }
    Ok(Some((rows, facets)))
}

/// Takes the listings whose expiry has passed by `at` out of the public catalogue.
fn sweep_expired(conn: &mut DbConnection, at: chrono::NaiveDateTime) -> ApiResult<()> {
    db::write_transaction(conn, |conn| {
        if search::sweep_expired(conn, at)? > 0 {
            catalogue_state::changed(conn)?;
        }
        Ok::<_, diesel::result::Error>(())
    })?;
    Ok(())
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

#[cfg(test)]
mod tests {
    use crate::error::ApiError;
    use crate::models::listing_search::SortOrder;
    use crate::routes::catalogue::parse;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn detail(err: ApiError) -> String {
        match err {
            ApiError::BadRequest(detail) => detail,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn repeated_keys_become_lists_and_values_are_trimmed() {
        let parsed = parse(pairs(&[
            ("tag", "schulung"),
            ("kind", " offer "),
            ("tag", "Kundenservice"),
            ("status", "published"),
            ("status", "draft"),
            ("q", " Kunden "),
        ]))
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(parsed.query.tags, ["kundenservice", "schulung"]);
        assert_eq!(parsed.query.kind.as_deref(), Some("offer"));
        assert_eq!(parsed.query.statuses, ["draft", "published"]);
        assert_eq!(parsed.query.terms, ["kunden"]);
        assert_eq!(parsed.sort, SortOrder::Relevance);
    }

    #[test]
    fn a_bad_value_is_named_with_its_parameter_in_the_api_words() {
        let err = parse(pairs(&[("status", "published"), ("status", "bogus")])).err();
        let detail = detail(err.expect("refused"));
        assert_eq!(
            detail,
            "query parameter status=\"bogus\" is invalid: expected a listing status"
        );
        let detail = detail_of(&[("limit", "99999999999999999999")]);
        assert!(detail.starts_with("query parameter limit="), "{detail}");
        assert!(!detail.contains("invalid digit") && !detail.contains("variant"));
    }

    #[test]
    fn empty_values_mean_what_they_meant_before() {
        // Empty text filters are no filter; an empty enum, flag, id or limit is refused.
        let parsed = parse(pairs(&[("industry", " "), ("region", ""), ("q", "")]))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((parsed.query.industry, parsed.query.region), (None, None));
        for name in [
            "kind", "category", "status", "trial", "org_id", "sort", "limit",
        ] {
            let detail = detail_of(&[(name, "")]);
            assert!(
                detail.starts_with(&format!("query parameter {name}=")),
                "{detail}"
            );
        }
    }

    fn detail_of(list: &[(&str, &str)]) -> String {
        detail(parse(pairs(list)).err().expect("refused"))
    }

    fn view(title: &str, private: bool) -> crate::models::listing::ListingView {
        use crate::models::listing::{ListingCategory, ListingKind, ListingStatus, ListingView};
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00.123456Z")
            .expect("a time")
            .to_utc();
        ListingView {
            id: uuid::Uuid::new_v4(),
            org_id: uuid::Uuid::new_v4(),
            kind: ListingKind::Offer,
            category: ListingCategory::Expertise,
            title: title.into(),
            description: "Schulung \"Kundenservice\" für Hotels\nmit Übungen".into(),
            tags: vec!["kundenservice".into(), "schulung".into()],
            industry: "gastgewerbe".into(),
            region: None,
            trial_available: true,
            expires_at: None,
            status: ListingStatus::Published,
            version: 3,
            created_at: at,
            updated_at: at,
            published_at: Some(at),
            moderation_reason: private.then(|| "ok".into()),
            pending_changes: None,
            submitted_at: None,
        }
    }

    #[test]
    fn a_page_of_stored_views_is_written_as_the_page_type_would_be() {
        use crate::models::listing_search::{FacetCount, Facets};
        use crate::routes::catalogue::{page_json, CataloguePage};
        let facets = Facets {
            total: 2,
            total_is_estimate: false,
            counts_are_estimates: true,
            kind: vec![FacetCount {
                value: "offer".into(),
                count: 2,
            }],
            category: vec![],
            tags: vec![],
        };
        for (items, cursor) in [
            (vec![], None),
            (vec![view("Kassensystem", false)], Some("p:7:12".to_owned())),
            (
                vec![view("Weinabo", false), view("Wäscheservice", true)],
                None,
            ),
        ] {
            let stored: Vec<String> = items
                .iter()
                .map(|v| serde_json::to_string(v).expect("json"))
                .collect();
            let written = page_json(&stored, &cursor, &facets).expect("page");
            let page = CataloguePage {
                items,
                next_cursor: cursor,
                facets: facets.clone(),
            };
            assert_eq!(written, serde_json::to_string(&page).expect("json"));
        }
    }
}
