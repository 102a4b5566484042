//! `GET /orgs/{org_id}/matches` and `GET /listings/{id}/matches`: complementary partners
//! and fitting listings, ranked and explained.

use std::collections::{BTreeSet, HashMap};

use actix_web::{get, web, HttpResponse};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::auth::{authorize_org, is_insider, MaybePrincipal, OrgNeed, Principal};
use crate::db::{self, DbConnection};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::pagination::{self, Cursor, PageQuery};
use crate::matching::{self, Candidate, Explanation, Vocabulary};
use crate::models::listing::{Listing, ListingCategory, ListingKind, ListingView};
use crate::models::matching::{self as queries, MatchScope};
use crate::models::now;
use crate::models::org::Org;
use crate::models::tag::{self, split_tags};

/// Routes of this module.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(org_matches).service(listing_matches);
}

/// Matching filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MatchQuery {
    /// Industry of the partners' listings: default the organisation's (or the listing's)
    /// own; `any` for every industry (trimmed, case-insensitive).
    #[param(pattern = r"^[^\x00-\x1F\x7F]*$")]
    pub industry: Option<String>,
    /// Exact region of the partners' listings (blank: any).
    #[param(pattern = r"^[^\x00-\x1F\x7F]*$")]
    pub region: Option<String>,
    pub category: Option<ListingCategory>,
    /// Only partner listings with (true) or without (false) a no-obligation trial.
    pub trial: Option<bool>,
    /// Items per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page; absent or empty for the first page.
    pub cursor: Option<String>,
}

impl MatchQuery {
    fn scope(&self, own_industry: &str) -> MatchScope {
        let industry = match self.industry.as_deref().map(str::trim) {
            None | Some("") => Some(own_industry.to_owned()),
            Some(i) if i.eq_ignore_ascii_case("any") => None,
            Some(i) => Some(i.to_lowercase()),
        };
        MatchScope {
            industry,
            region: self.region.clone().filter(|r| !r.trim().is_empty()),
            category: self.category.map(|c| c.as_str().to_owned()),
            trial: self.trial,
        }
    }

    fn page(&self) -> Result<(i64, Option<(i64, String)>), ApiError> {
        let request = PageQuery {
            limit: self.limit,
            cursor: self.cursor.clone(),
        }
        .resolve_keyed()?;
        let after = match request.after {
            None => None,
            Some(Cursor::Keyed(key, id)) => Some((key, id)),
            Some(Cursor::Id(_)) => {
                return Err(ApiError::BadRequest(
                    "cursor is not one this API issued".into(),
                ))
            }
        };
        Ok((request.limit, after))
    }
}

/// A complementary partner.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerMatch {
    pub org_id: uuid::Uuid,
    pub name: String,
    pub region: Option<String>,
    /// Sum of the IDF-weighted tag overlaps of both directions.
    pub score: f64,
    /// Both directions meet: they offer what we need and need what we offer.
    pub reciprocal: bool,
    pub explanation: Explanation,
}

/// One page of partners.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerPage {
    pub items: Vec<PartnerMatch>,
    pub next_cursor: Option<String>,
}

/// A listing that fits another.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListingMatch {
    pub listing: ListingView,
    /// IDF-weighted overlap of the shared tags.
    pub score: f64,
    /// The tags both listings carry, rarest first.
    pub tags: Vec<String>,
}

/// One page of fitting listings.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListingMatchPage {
    pub items: Vec<ListingMatch>,
    pub next_cursor: Option<String>,
}

/// A ranked partner with its explanation, as the page shows it.
struct Shown {
    org_id: String,
    score: f64,
    reciprocal: bool,
    explanation: Explanation,
}

/// The request's vocabulary: the given tags (sorted, unique) with their weights.
fn vocabulary(conn: &mut DbConnection, tags: Vec<String>) -> Result<Vocabulary, ApiError> {
    let tags: Vec<String> = tags
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let (df, published) = tag::document_frequency(conn, &tags)?;
    Ok(Vocabulary::new(tags, published, &df))
}

/// Own listings as candidates (tags as vocabulary indices), split into needs and offers.
fn own_candidates(
    own: Vec<queries::Own>,
    org_id: &str,
    vocabulary: &Vocabulary,
) -> (Vec<Candidate>, Vec<Candidate>) {
    let (mut needs, mut offers) = (Vec::new(), Vec::new());
    for listing in own {
        let mut tags: Vec<u32> = listing
            .tags
            .iter()
            .filter_map(|t| vocabulary.index(t))
            .collect();
        tags.sort_unstable();
        tags.dedup();
        let candidate = Candidate {
            listing_id: listing.listing_id,
            org_id: org_id.to_owned(),
            title: listing.title,
            tags,
        };
        if listing.kind == ListingKind::Need {
            needs.push(candidate);
        } else {
            offers.push(candidate);
        }
    }
    (needs, offers)
}

/// The distinct tags of some listings.
fn tags_of(listings: &[Candidate]) -> Vec<u32> {
    let set: BTreeSet<u32> = listings
        .iter()
        .flat_map(|l| l.tags.iter().copied())
        .collect();
    set.into_iter().collect()
}

/// Fills in the titles of the other organisations' listings in a page of partners (the
/// candidates are read from the tag postings, which carry no titles).
fn fill_titles(conn: &mut DbConnection, page: &mut [Shown]) -> Result<(), ApiError> {
    fn theirs(e: &mut Explanation) -> impl Iterator<Item = (&String, &mut String)> {
        e.their_offers_meet_our_needs
            .iter_mut()
            .map(|m| (&m.offer_id, &mut m.offer_title))
            .chain(
                e.our_offers_meet_their_needs
                    .iter_mut()
                    .map(|m| (&m.need_id, &mut m.need_title)),
            )
    }
    let mut ids: Vec<String> = Vec::new();
    for shown in page.iter_mut() {
        ids.extend(theirs(&mut shown.explanation).map(|(id, _)| id.clone()));
    }
    let titles = queries::titles(conn, &ids)?;
    for shown in page.iter_mut() {
        for (id, title) in theirs(&mut shown.explanation) {
            if let Some(t) = titles.get(id) {
                t.clone_into(title);
            }
        }
    }
    Ok(())
}

/// Ranked complementary partners of an organisation (its members, or its API key).
///
/// Reciprocal partners (they offer what this organisation needs and need what it offers)
/// come first; within each group rarer shared tags weigh more and covering more of this
/// organisation's needs ranks higher. Each item explains which listing meets which,
/// through which tags. Suspended organisations, unpublished or expired listings and the
/// organisation itself never appear.
#[utoipa::path(
    tag = "matching",
    params(("org_id" = uuid::Uuid, Path, description = "The organisation"), MatchQuery),
    responses(
        (status = 200, description = "One page of partners", body = PartnerPage),
        (status = 400, description = "Bad filter, limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a member of this organisation, or another organisation's key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Too many matches requests at once (or the database is unreachable); `Retry-After` says when to retry", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security(("bearer" = []))
)]
#[get("/orgs/{org_id}/matches")]
async fn org_matches(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<uuid::Uuid>,
    query: crate::http::query::Query<MatchQuery>,
) -> ApiResult<HttpResponse> {
    let org_id = path.into_inner().to_string();
    let query = query.into_inner();
    let (limit, after) = query.page()?;
    let _slot = state.bulkheads.matches.enter().await?;
    let (ranked, names) = db::run(&state.pool, move |conn| {
        let access = authorize_org(conn, &principal, &org_id, OrgNeed::Read)?;
        let scope = query.scope(&access.org.industry);
        let mut page = ranked_partners(conn, &org_id, &scope, after.as_ref(), limit)?;
        let shown = page.len().min(limit as usize);
        fill_titles(conn, &mut page[..shown])?;
        let ids: Vec<&str> = page[..shown].iter().map(|p| p.org_id.as_str()).collect();
        let names = Org::names_and_regions(conn, &ids)?;
        Ok((page, names))
    })
    .await?;
    partner_page(ranked, names, limit)
}

/// One page (plus one, to tell whether another follows) of an organisation's partners,
/// ranked, after the cursor's position; only the page proper is explained.
fn ranked_partners(
    conn: &mut DbConnection,
    org_id: &str,
    scope: &MatchScope,
    after: Option<&(i64, String)>,
    limit: i64,
) -> ApiResult<Vec<Shown>> {
    let at = now();
    let own = queries::own_listings(conn, org_id, at)?;
    let vocabulary = vocabulary(conn, own.iter().flat_map(|l| l.tags.clone()).collect())?;
    let (our_needs, our_offers) = own_candidates(own, org_id, &vocabulary);
    let (need_tags, offer_tags) = (tags_of(&our_needs), tags_of(&our_offers));
    let (v, s) = (&vocabulary, scope);
    let mut their_offers = queries::candidates(conn, v, &need_tags, "offer", s, org_id, at)?;
    let mut their_needs = queries::candidates(conn, v, &offer_tags, "need", s, org_id, at)?;
    matching::sort_by_org(&mut their_offers);
    matching::sort_by_org(&mut their_needs);
    let ranked = matching::rank(&our_needs, &our_offers, &their_offers, &their_needs, v);
    let page: Vec<Shown> = ranked
        .iter()
        .filter(|p| match after {
            None => true,
            Some((key, id)) => {
                let k = matching::rank_key(p.reciprocal, p.score);
                k < *key || (k == *key && p.org_id > id.as_str())
            }
        })
        .take(limit as usize + 1)
        .enumerate()
        .map(|(i, p)| Shown {
            org_id: p.org_id.to_owned(),
            score: p.score,
            reciprocal: p.reciprocal,
            explanation: if i < limit as usize {
                matching::explain(p, &our_needs, &our_offers, v)
            } else {
                Explanation::default()
            },
        })
        .collect();
    Ok(page)
}

/// The response: the page with names and regions, and the cursor of the next.
fn partner_page(
    ranked: Vec<Shown>,
    names: HashMap<String, (String, Option<String>)>,
    limit: i64,
) -> ApiResult<HttpResponse> {
    let (ranked, next_cursor) = pagination::cut(ranked, limit, |last| {
        pagination::encode_keyed(
            matching::rank_key(last.reciprocal, last.score),
            &last.org_id,
        )
    });
    let items = ranked
        .into_iter()
        .map(|p| {
            let (name, region) = names.get(&p.org_id).cloned().unwrap_or_default();
            Ok(PartnerMatch {
                org_id: crate::models::user::parse_uuid(&p.org_id)?,
                name,
                region,
                score: p.score,
                reciprocal: p.reciprocal,
                explanation: p.explanation,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(HttpResponse::Ok().json(PartnerPage { items, next_cursor }))
}

/// Listings of the opposite kind that fit a listing (offers for a need, needs for an
/// offer), ranked by IDF-weighted shared tags and explained. Public for published
/// listings; the listing's organisation and moderators may also ask for unpublished ones.
#[utoipa::path(
    tag = "matching",
    params(("id" = uuid::Uuid, Path, description = "The listing"), MatchQuery),
    responses(
        (status = 200, description = "One page of fitting listings", body = ListingMatchPage),
        (status = 400, description = "Bad filter, limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such listing visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Too many matches requests at once (or the database is unreachable); `Retry-After` says when to retry", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security((), ("bearer" = []))
)]
#[get("/listings/{id}/matches")]
async fn listing_matches(
    state: web::Data<AppState>,
    caller: MaybePrincipal,
    path: web::Path<uuid::Uuid>,
    query: crate::http::query::Query<MatchQuery>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let query = query.into_inner();
    let (limit, after) = query.page()?;
    let _slot = state.bulkheads.matches.enter().await?;
    let rows = db::run(&state.pool, move |conn| {
        let at = now();
        let (listing, org_status) = Listing::find_with_org_status(conn, &id)?
            .ok_or_else(|| ApiError::NotFound(format!("listing {id} does not exist")))?;
        if !listing.is_public_with(org_status, at)
            && !is_insider(conn, caller.0.as_ref(), &listing)?
        {
            return Err(ApiError::NotFound(format!("listing {id} does not exist")));
        }
        let scope = query.scope(&listing.industry);
        fitting_listings(conn, &listing, &scope, after.as_ref(), limit, at)
    })
    .await?;
    listing_match_page(rows, limit)
}

/// A listing match as found: its cursor key, the listing, its score and shared tags.
type Fit = (i64, Listing, f64, Vec<String>);

/// One page (plus one) of the listings that fit `listing`, best first, after the cursor.
fn fitting_listings(
    conn: &mut DbConnection,
    listing: &Listing,
    scope: &MatchScope,
    after: Option<&(i64, String)>,
    limit: i64,
    at: NaiveDateTime,
) -> ApiResult<Vec<Fit>> {
    let vocabulary = vocabulary(conn, split_tags(&listing.tags))?;
    let all: Vec<u32> = (0..vocabulary.tags.len() as u32).collect();
    let opposite = listing.kind.opposite().as_str();
    let found = queries::candidates(
        conn,
        &vocabulary,
        &all,
        opposite,
        scope,
        &listing.org_id,
        at,
    )?;
    let mut scored: Vec<(i64, Candidate, f64)> = found
        .into_iter()
        .map(|c| {
            let score = (vocabulary.weight(&c.tags) * 1000.0).round() / 1000.0;
            ((score * 1000.0).round() as i64, c, score)
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.listing_id.cmp(&b.1.listing_id)));
    let page: Vec<_> = scored
        .into_iter()
        .filter(|(key, c, _)| match after {
            None => true,
            Some((k, cid)) => key < k || (key == k && c.listing_id > *cid),
        })
        .take(limit as usize + 1)
        .collect();
    let ids: Vec<&str> = page.iter().map(|(_, c, _)| c.listing_id.as_str()).collect();
    let mut full = Listing::find_many(conn, &ids)?;
    Ok(page
        .into_iter()
        .filter_map(|(key, candidate, score)| {
            let listing = full.remove(&candidate.listing_id)?;
            Some((key, listing, score, vocabulary.names(&candidate.tags)))
        })
        .collect())
}

/// The response: the page of listing views and the cursor of the next.
fn listing_match_page(rows: Vec<Fit>, limit: i64) -> ApiResult<HttpResponse> {
    let (rows, next_cursor) = pagination::cut(rows, limit, |(key, listing, _, _)| {
        pagination::encode_keyed(*key, &listing.id)
    });
    let items = rows
        .into_iter()
        .map(|(_, listing, score, tags)| {
            Ok(ListingMatch {
                listing: listing.view(false)?,
                score,
                tags,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(HttpResponse::Ok().json(ListingMatchPage { items, next_cursor }))
}
