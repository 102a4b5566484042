//! The catalogue query behind `GET /listings`: filters and full-text terms become one
//! search expression (`search::Expr`) answered inside the full-text index; pages are read
//! newest first or tier by tier for relevance, stopping once the page is full; facet counts
//! come from the maintained counts of the whole public catalogue when nothing narrows it,
//! and otherwise from the result itself — exactly up to `SearchBounds::facet_sample`
//! matches, beyond that from its newest that many, scaled to the total, and said so.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::listing::{Listing, ListingCategory, ListingKind};
use crate::db::DbConnection;
use crate::search::{self, attr, Expr, Hit, Want};
use crate::settings::SearchBounds;

/// How results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    /// Best match first (requires `q`), newest first among equals.
    Relevance,
    /// Newest first.
    Newest,
}

/// A checked catalogue query.
#[derive(Debug, Clone, Default)]
pub struct CatalogueQuery {
    pub terms: Vec<String>,
    pub kind: Option<String>,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub industry: Option<String>,
    pub region: Option<String>,
    pub org_id: Option<String>,
    pub trial: Option<bool>,
    /// Statuses to include; only `published` for the public.
    pub statuses: Vec<String>,
    /// Only the public catalogue: published, unexpired listings of organisations that are
    /// not suspended.
    pub public_only: bool,
    pub now: Option<NaiveDateTime>,
    /// How far the counts are exact.
    pub bounds: SearchBounds,
}

impl CatalogueQuery {
    /// The search expression of the query (its terms expanded, see `search::expand`).
    fn expr(&self, conn: &mut DbConnection) -> QueryResult<Expr> {
        let (all_of, any_of) = self.attrs();
        Ok(Expr {
            all_of,
            any_of,
            terms: search::expand(conn, &self.terms)?,
            ..Expr::default()
        })
    }

    /// The attribute tokens the query requires: all of the first, one of the second.
    fn attrs(&self) -> (Vec<String>, Vec<String>) {
        let mut all_of = Vec::new();
        let mut any_of = Vec::new();
        if self.public_only {
            all_of.push(attr::visible());
        } else {
            any_of = self.statuses.iter().map(|s| attr::status(s)).collect();
        }
        all_of.extend(self.kind.as_deref().map(attr::kind));
        all_of.extend(self.category.as_deref().map(attr::category));
        all_of.extend(self.industry.as_deref().map(attr::industry));
        all_of.extend(self.region.as_deref().map(attr::region));
        all_of.extend(self.org_id.as_deref().map(attr::org));
        all_of.extend(self.trial.map(attr::trial));
        all_of.extend(self.tags.iter().map(|t| attr::tag(t)));
        (all_of, any_of)
    }

    /// Whether the query asks for the whole public catalogue.
    pub fn whole_catalogue(&self) -> bool {
        self.public_only
            && self.terms.is_empty()
            && self.kind.is_none()
            && self.category.is_none()
            && self.tags.is_empty()
            && self.industry.is_none()
            && self.region.is_none()
            && self.org_id.is_none()
            && self.trial.is_none()
    }

    /// Whether a hit is in the result at the query's time (a public listing may have
    /// expired since the last sweep).
    fn keeps(&self, hit: &Hit) -> bool {
        match (self.public_only, self.now, hit.expires_at) {
            (true, Some(now), Some(expires)) => expires > now,
            _ => true,
        }
    }
}

/// How many tags the facets count (the most frequent).
const TOP_TAGS: usize = 10;

/// One facet value and how many results have it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FacetCount {
    pub value: String,
    pub count: i64,
}

/// Counts over the whole result (not just the page).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Facets {
    /// How many listings the search finds.
    pub total: i64,
    /// `true` when `total` is extrapolated: results of more than 200 listings (by
    /// default) are counted to 200 and the rest estimated from how far back in the
    /// catalogue those reach.
    pub total_is_estimate: bool,
    /// `true` when the per-value counts below are estimates: for results of more than
    /// 200 listings (by default) they are counted over the newest 200 and scaled to
    /// `total`. The
    /// counts of the whole public catalogue (no `q`, no filter) are always exact.
    pub counts_are_estimates: bool,
    pub kind: Vec<FacetCount>,
    pub category: Vec<FacetCount>,
    /// The ten most frequent tags.
    pub tags: Vec<FacetCount>,
}

/// Where a listing stands in an order: its relevance score (0 when sorted by newest) and
/// its search document's `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub score: i32,
    pub seq: i64,
}

/// A listing on a page: where it stands and its public JSON form.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRow {
    pub listing_id: String,
    pub position: Position,
    pub public_view: String,
}

/// Up to `need` hits of `expr` in the result, newest first, before `before`, with what
/// `want` asks for.
fn fetch(
    conn: &mut DbConnection,
    query: &CatalogueQuery,
    expr: &Expr,
    mut before: Option<i64>,
    need: i64,
    want: Want,
) -> QueryResult<Vec<Hit>> {
    let mut out = Vec::new();
    loop {
        let want_now = need - out.len() as i64;
        let batch = if query.whole_catalogue() {
            search::visible_hits(conn, before, want_now, want)?
        } else {
            search::hits(conn, expr, before, want_now, want)?
        };
        let full = batch.len() as i64 == want_now;
        before = batch.last().map(|h| h.seq);
        out.extend(batch.into_iter().filter(|h| query.keeps(h)));
        if !full || out.len() as i64 == need {
            return Ok(out);
        }
    }
}

/// What counting a result found, for its page to reuse: the facets, when the result will
/// change by itself (the earliest expiry among the listings counted), the search
/// expression, and the newest matches counted.
#[derive(Debug, Clone)]
pub struct Counting {
    pub facets: Facets,
    pub valid_until: Option<NaiveDateTime>,
    expr: Option<Expr>,
    sample: Option<Sample>,
}

impl Counting {
    /// Counts that came from elsewhere (the whole catalogue's maintained counts).
    pub fn of(facets: Facets) -> Counting {
        Counting {
            facets,
            valid_until: None,
            expr: None,
            sample: None,
        }
    }
}

/// The newest matches of a result, newest first; `complete` when they are all of them.
#[derive(Debug, Clone)]
struct Sample {
    hits: Vec<Hit>,
    complete: bool,
}

impl Sample {
    /// Whether every hit has its relevance score (the engine gives them).
    fn scored(&self) -> bool {
        self.hits.iter().all(|h| h.score.is_some())
    }
}

/// One page of listings with their positions, read from their search documents alone:
/// newest first, or by relevance tier by tier, each tier newest first. What `counting`
/// found is reused: a result counted in full is known to end; scored newest matches are
/// the newest of each tier, so a tier is searched only for matches older than them.
pub fn page(
    conn: &mut DbConnection,
    query: &CatalogueQuery,
    relevance: bool,
    after: Option<Position>,
    limit: i64,
    counting: &Counting,
) -> QueryResult<Vec<PageRow>> {
    let facets = &counting.facets;
    let known = (after.is_none() && !facets.counts_are_estimates).then_some(facets.total);
    if known == Some(0) {
        return Ok(Vec::new());
    }
    let expr = match &counting.expr {
        Some(expr) => expr.clone(),
        None => query.expr(conn)?,
    };
    let views = Want {
        views: true,
        scores: false,
    };
    let sample = counting.sample.as_ref().filter(|s| s.scored());
    let mut found: Vec<(Hit, i32)> = Vec::new();
    if relevance && !query.terms.is_empty() {
        for (score, fields) in search::tiers() {
            if known.is_some_and(|total| found.len() as i64 >= total) {
                break;
            }
            let mut before = match after {
                Some(a) if score > a.score => continue,
                Some(a) if score == a.score => Some(a.seq),
                _ => None,
            };
            if let Some(sample) = sample {
                let need = (limit - found.len() as i64) as usize;
                let newest = sample
                    .hits
                    .iter()
                    .filter(|h| h.score == Some(score) && before.is_none_or(|b| h.seq < b))
                    .take(need);
                found.extend(newest.cloned().map(|h| (h, score)));
                if found.len() as i64 == limit || sample.complete {
                    if found.len() as i64 == limit {
                        break;
                    }
                    continue;
                }
                // The tier's matches beyond the sample are older than all of it.
                let oldest = sample.hits.last().map_or(i64::MAX, |h| h.seq);
                before = Some(before.map_or(oldest, |b| b.min(oldest)));
            }
            let need = limit - found.len() as i64;
            let hits = fetch(conn, query, &expr.tier(&fields), before, need, views)?;
            found.extend(hits.into_iter().map(|h| (h, score)));
            if found.len() as i64 == limit {
                break;
            }
        }
    } else {
        let hits = fetch(conn, query, &expr, after.map(|a| a.seq), limit, views)?;
        found.extend(hits.into_iter().map(|h| (h, 0)));
    }
    // Rows taken from the sample come without their public form.
    let missing: Vec<i64> = found
        .iter()
        .filter(|(h, _)| h.public_view.is_none())
        .map(|(h, _)| h.seq)
        .collect();
    let mut stored = search::public_views(conn, &missing)?;
    Ok(found
        .into_iter()
        .filter_map(|(h, score)| {
            let public_view = h.public_view.or_else(|| stored.remove(&h.seq))?;
            Some(PageRow {
                position: Position { score, seq: h.seq },
                public_view,
                listing_id: h.listing_id,
            })
        })
        .collect())
}

/// The rows of a page remembered by id and position (a cached page), read again from the
/// search documents; listings that no longer exist are left out.
pub fn rows_at(conn: &mut DbConnection, page: &[(String, Position)]) -> QueryResult<Vec<PageRow>> {
    let seqs: Vec<i64> = page.iter().map(|(_, p)| p.seq).collect();
    let mut views = search::public_views(conn, &seqs)?;
    Ok(page
        .iter()
        .filter_map(|(id, position)| {
            views.remove(&position.seq).map(|public_view| PageRow {
                listing_id: id.clone(),
                position: *position,
                public_view,
            })
        })
        .collect())
}

/// Counts the whole result: its facets, exact up to the query's bounds, over a sample of
/// its newest matches beyond them (scored when the page is by `relevance`). `seqs`: the
/// documents' lowest and highest `seq` when already read (`search::probe`).
pub fn count(
    conn: &mut DbConnection,
    query: &CatalogueQuery,
    relevance: bool,
    seqs: Option<Option<(i64, i64)>>,
) -> QueryResult<Counting> {
    if query.whole_catalogue() {
        let now = query.now.unwrap_or_else(crate::models::now);
        return Ok(Counting::of(catalogue_facets(conn, now)?.0));
    }
    let expr = query.expr(conn)?;
    let SearchBounds {
        facet_sample,
        exact_total,
    } = query.bounds;
    let want = Want {
        views: false,
        scores: relevance,
    };
    let hits = fetch(conn, query, &expr, None, facet_sample + 1, want)?;
    let valid_until = hits.iter().filter_map(|h| h.expires_at).min();
    let complete = hits.len() as i64 <= facet_sample;
    let facets = if complete {
        let total = hits.len() as i64;
        tally(&hits, total, false, false)
    } else {
        // The sample itself answers how far back the first `facet_sample` matches reach;
        // only an exact total beyond it needs a count.
        let (counted, oldest) = if exact_total > facet_sample {
            search::count(conn, &expr, exact_total + 1)?
        } else {
            (hits.len() as i64, hits.last().map(|h| h.seq))
        };
        let seqs = match seqs {
            Some(seqs) => seqs,
            None => search::seq_range(conn)?,
        };
        let (total, estimated) = match (counted > exact_total, oldest, seqs) {
            (true, Some(oldest), Some((low, high))) => {
                let span = (high - low + 1) as f64 / (high - oldest + 1).max(1) as f64;
                ((counted as f64 * span).round() as i64, true)
            }
            _ => (counted.max(facet_sample), false),
        };
        tally(&hits[..facet_sample as usize], total, estimated, true)
    };
    Ok(Counting {
        facets,
        valid_until,
        expr: Some(expr),
        sample: Some(Sample { hits, complete }),
    })
}

/// Counts kinds, categories and tags over `hits`, scaled to `total` when they are a sample.
fn tally(hits: &[Hit], total: i64, total_is_estimate: bool, sampled: bool) -> Facets {
    let mut kind: BTreeMap<&str, i64> = BTreeMap::new();
    let mut category: BTreeMap<&str, i64> = BTreeMap::new();
    let mut tags: BTreeMap<&str, i64> = BTreeMap::new();
    for hit in hits {
        *kind.entry(&hit.kind).or_default() += 1;
        *category.entry(&hit.category).or_default() += 1;
        for tag in hit.tags.split(',').filter(|t| !t.is_empty()) {
            *tags.entry(tag).or_default() += 1;
        }
    }
    let scale = |count: i64| {
        if sampled && !hits.is_empty() {
            ((count as f64) * (total as f64) / (hits.len() as f64)).round() as i64
        } else {
            count
        }
    };
    let ranked = |counts: BTreeMap<&str, i64>, top: usize| {
        let mut out: Vec<FacetCount> = counts
            .into_iter()
            .map(|(value, count)| FacetCount {
                value: value.to_owned(),
                count,
            })
            .collect();
        rank(&mut out);
        out.truncate(top);
        for facet in &mut out {
            facet.count = scale(facet.count);
        }
        out
    };
    Facets {
        total,
        total_is_estimate,
        counts_are_estimates: sampled,
        kind: ranked(kind, usize::MAX),
        category: ranked(category, usize::MAX),
        tags: ranked(tags, TOP_TAGS),
    }
}

/// Orders facet values most frequent first, then by value.
fn rank(values: &mut [FacetCount]) {
    values.sort_by(|a, b| b.count.cmp(&a.count).then(a.value.cmp(&b.value)));
}

/// The exact counts of the whole public catalogue at `now`, from `facet_counts`, and
/// whether they are out of date because a listing's expiry has passed since the last
/// sweep (`search::sweep_expired`; count again after it).
pub fn catalogue_facets(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> QueryResult<(Facets, bool)> {
    let mut facets = Facets {
        total: 0,
        total_is_estimate: false,
        counts_are_estimates: false,
        kind: vec![],
        category: vec![],
        tags: vec![],
    };
    let limit = ListingKind::ALL.len() + ListingCategory::ALL.len() + TOP_TAGS;
    let (counts, expiry) = search::catalogue_counts(conn, limit as i64)?;
    let due = expiry.is_some_and(|at| at <= now);
    for counted in counts {
        let value = FacetCount {
            value: counted.value,
            count: counted.count,
        };
        match counted.facet.as_str() {
            // Every listing has one kind: their counts add up to the total.
            "kind" => {
                facets.total += value.count;
                facets.kind.push(value);
            }
            "category" => facets.category.push(value),
            "tag" if facets.tags.len() < TOP_TAGS => facets.tags.push(value),
            _ => {}
        }
    }
    for list in [&mut facets.kind, &mut facets.category] {
        rank(list);
    }
    Ok((facets, due))
}

/// The listings of a page, in its order (those that no longer exist are left out): for
/// views other than the public one.
pub fn listings_of(conn: &mut DbConnection, rows: &[PageRow]) -> QueryResult<Vec<Listing>> {
    let wanted: Vec<&str> = rows.iter().map(|r| r.listing_id.as_str()).collect();
    let mut found = Listing::find_many(conn, &wanted)?;
    Ok(rows
        .iter()
        .filter_map(|r| found.remove(&r.listing_id))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(seq: i64, kind: &str, tags: &str) -> Hit {
        Hit {
            seq,
            listing_id: format!("l{seq}"),
            kind: kind.into(),
            category: "expertise".into(),
            tags: tags.into(),
            expires_at: None,
            public_view: None,
            score: None,
        }
    }

    #[test]
    fn exact_counts_rank_by_count_then_value() {
        let hits = [
            hit(3, "offer", "b,a"),
            hit(2, "need", "a"),
            hit(1, "offer", "c"),
        ];
        let facets = tally(&hits, 3, false, false);
        assert_eq!(facets.total, 3);
        assert!(!facets.counts_are_estimates);
        let pairs = |f: &[FacetCount]| {
            f.iter()
                .map(|c| (c.value.clone(), c.count))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            pairs(&facets.kind),
            [("offer".into(), 2), ("need".into(), 1)]
        );
        assert_eq!(
            pairs(&facets.tags),
            [("a".into(), 2), ("b".into(), 1), ("c".into(), 1)]
        );
    }

    #[test]
    fn sampled_counts_scale_to_the_total() {
        let hits = [hit(4, "offer", "a"), hit(3, "need", "a")];
        let facets = tally(&hits, 1_000, true, true);
        assert!(facets.total_is_estimate && facets.counts_are_estimates);
        assert_eq!(facets.kind[0].count, 500);
        assert_eq!(facets.tags[0].count, 1_000);
    }

    #[test]
    fn filters_become_attribute_tokens() {
        let query = CatalogueQuery {
            kind: Some("offer".into()),
            tags: vec!["bio".into()],
            statuses: vec!["published".into()],
            public_only: true,
            ..Default::default()
        };
        let (all_of, any_of) = query.attrs();
        assert_eq!(
            all_of,
            vec![attr::visible(), attr::kind("offer"), attr::tag("bio")]
        );
        assert!(any_of.is_empty());
        assert!(!query.whole_catalogue());
        let insider = CatalogueQuery {
            statuses: vec!["draft".into(), "published".into()],
            org_id: Some("o".into()),
            ..Default::default()
        };
        assert_eq!(
            insider.attrs().1,
            vec![attr::status("draft"), attr::status("published")]
        );
    }
}
