//! `GET /orgs/{org_id}/matches` and `GET /listings/{id}/matches`: complementary partners
//! and fitting listings, ranked and explained.

use std::collections::{BTreeSet, HashMap};

use actix_web::{get, web, HttpResponse};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{authorize_org, MaybePrincipal, OrgNeed, Principal};
use crate::db::schema::{listings, orgs};
use crate::db::{self, DbConnection};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::pagination::{self, Cursor, PageQuery};
use crate::matching::{self, Candidate, Explanation};
use crate::models::listing::{Listing, ListingCategory, ListingView};
use crate::models::matching::{self as queries, MatchScope};
use crate::models::now;
use crate::routes::listings::is_insider;
use crate::startup::AppState;

/// Routes of this module.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(org_matches).service(listing_matches);
}

/// Matching filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MatchQuery {
    /// Industry of the partners' listings: default the organisation's (or the listing's)
    /// own; `any` for every industry.
    pub industry: Option<String>,
    pub region: Option<String>,
    pub category: Option<ListingCategory>,
    /// Only partner listings with (true) or without (false) a no-obligation trial.
    pub trial: Option<bool>,
    /// Items per page, 1–100 (default 20).
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
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

fn unique_tags(listings: &[Candidate]) -> Vec<String> {
    listings
        .iter()
        .flat_map(|l| l.tags.iter().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn tag_weights(conn: &mut DbConnection, tags: &[String]) -> Result<HashMap<String, f64>, ApiError> {
    let (df, published) = queries::document_frequency(conn, tags)?;
    Ok(matching::weights(published, &df))
}

/// Fills in the titles of the other organisations' listings in a page of partners (the
/// candidates are read from the tag postings, which carry no titles).
fn fill_titles(
    conn: &mut DbConnection,
    partners: &mut [matching::Partner],
) -> Result<(), ApiError> {
    fn meetings(p: &mut matching::Partner) -> Vec<(String, &mut String)> {
        let e = &mut p.explanation;
        e.their_offers_meet_our_needs
            .iter_mut()
            .map(|m| (m.offer_id.clone(), &mut m.offer_title))
            .chain(
                e.our_offers_meet_their_needs
                    .iter_mut()
                    .map(|m| (m.need_id.clone(), &mut m.need_title)),
            )
            .collect()
    }
    let ids: Vec<String> = partners
        .iter_mut()
        .flat_map(|p| meetings(p).into_iter().map(|(id, _)| id))
        .collect();
    let titles = queries::titles(conn, &ids)?;
    for partner in partners.iter_mut() {
        for (id, title) in meetings(partner) {
            if let Some(t) = titles.get(&id) {
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
    ),
    security(("bearer" = []))
)]
#[get("/orgs/{org_id}/matches")]
async fn org_matches(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<uuid::Uuid>,
    query: web::Query<MatchQuery>,
) -> ApiResult<HttpResponse> {
    let org_id = path.into_inner().to_string();
    let query = query.into_inner();
    let (limit, after) = query.page()?;
    let (ranked, names) = db::run(&state.pool, move |conn| {
        let access = authorize_org(conn, &principal, &org_id, OrgNeed::Read)?;
        let scope = query.scope(&access.org.industry);
        let at = now();
        let (our_needs, our_offers) = queries::own_listings(conn, &org_id, at)?;
        let (need_tags, offer_tags) = (unique_tags(&our_needs), unique_tags(&our_offers));
        let their_offers = queries::candidates(conn, &need_tags, "offer", &scope, &org_id, at)?;
        let their_needs = queries::candidates(conn, &offer_tags, "need", &scope, &org_id, at)?;
        let all_tags: Vec<String> = need_tags
            .iter()
            .chain(&offer_tags)
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let weights = tag_weights(conn, &all_tags)?;
        let ranked = matching::rank(
            &our_needs,
            &our_offers,
            &their_offers,
            &their_needs,
            &weights,
        );
        let mut ranked: Vec<_> = ranked
            .into_iter()
            .filter(|p| match &after {
                None => true,
                Some((key, id)) => {
                    let k = matching::rank_key(p.reciprocal, p.score);
                    k < *key || (k == *key && p.org_id > *id)
                }
            })
            .take(limit as usize + 1)
            .collect();
        let shown = ranked.len().min(limit as usize);
        fill_titles(conn, &mut ranked[..shown])?;
        let ids: Vec<&str> = ranked[..shown].iter().map(|p| p.org_id.as_str()).collect();
        let names: HashMap<String, (String, Option<String>)> = orgs::table
            .filter(orgs::id.eq_any(ids))
            .select((orgs::id, orgs::name, orgs::region))
            .load::<(String, String, Option<String>)>(conn)?
            .into_iter()
            .map(|(id, name, region)| (id, (name, region)))
            .collect();
        Ok((ranked, names))
    })
    .await?;
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
    ),
    security((), ("bearer" = []))
)]
#[get("/listings/{id}/matches")]
async fn listing_matches(
    state: web::Data<AppState>,
    caller: MaybePrincipal,
    path: web::Path<uuid::Uuid>,
    query: web::Query<MatchQuery>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let query = query.into_inner();
    let (limit, after) = query.page()?;
    let rows = db::run(&state.pool, move |conn| {
        let at = now();
        let listing = Listing::find(conn, &id)?
            .ok_or_else(|| ApiError::NotFound(format!("listing {id} does not exist")))?;
        if !listing.is_public(conn, at)? && !is_insider(conn, caller.0.as_ref(), &listing)? {
            return Err(ApiError::NotFound(format!("listing {id} does not exist")));
        }
        let scope = query.scope(&listing.industry);
        let tags = crate::models::listing::split_tags(&listing.tags);
        let opposite = if listing.kind == "offer" {
            "need"
        } else {
            "offer"
        };
        let found = queries::candidates(conn, &tags, opposite, &scope, &listing.org_id, at)?;
        let weights = tag_weights(conn, &tags)?;
        let mut scored: Vec<(i64, Candidate, f64)> = found
            .into_iter()
            .map(|mut c| {
                c.tags.sort_by(|a, b| {
                    weights
                        .get(b)
                        .unwrap_or(&0.0)
                        .total_cmp(weights.get(a).unwrap_or(&0.0))
                        .then(a.cmp(b))
                });
                let score = c
                    .tags
                    .iter()
                    .map(|t| weights.get(t).copied().unwrap_or(0.0))
                    .sum::<f64>();
                let score = (score * 1000.0).round() / 1000.0;
                ((score * 1000.0).round() as i64, c, score)
            })
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.listing_id.cmp(&b.1.listing_id)));
        let page: Vec<_> = scored
            .into_iter()
            .filter(|(key, c, _)| match &after {
                None => true,
                Some((k, cid)) => key < k || (key == k && c.listing_id > *cid),
            })
            .take(limit as usize + 1)
            .collect();
        let ids: Vec<&str> = page.iter().map(|(_, c, _)| c.listing_id.as_str()).collect();
        let mut full: HashMap<String, Listing> = listings::table
            .filter(listings::id.eq_any(ids))
            .select(Listing::as_select())
            .load::<Listing>(conn)?
            .into_iter()
            .map(|l| (l.id.clone(), l))
            .collect();
        Ok(page
            .into_iter()
            .filter_map(|(key, candidate, score)| {
                let listing = full.remove(&candidate.listing_id)?;
                Some((key, listing, score, candidate.tags))
            })
            .collect::<Vec<_>>())
    })
    .await?;
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
