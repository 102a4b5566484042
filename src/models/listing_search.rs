//! The catalogue query behind `GET /listings`: filters, full-text terms, relevance or
//! newest-first keyset pages, and facet counts over the whole result. The WHERE clause is
//! built once as SQL with numbered parameters and shared by the page and facet queries
//! (diesel can neither group a boxed query nor nest a boxed subquery under
//! `MultiConnection`).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};
use serde::Serialize;
use utoipa::ToSchema;

use super::listing::Listing;
use crate::db::sql::{Conditions, Param};
use crate::db::DbConnection;
use crate::search::{self, Dialect};

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
    /// Hide expired listings and those of suspended organisations (public searches).
    pub public_only: bool,
    pub now: Option<NaiveDateTime>,
}

/// One facet value and how many results have it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, QueryableByName)]
pub struct FacetCount {
    #[diesel(sql_type = Text)]
    pub value: String,
    #[diesel(sql_type = BigInt)]
    pub count: i64,
}

/// Counts over the whole result (not just the page).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Facets {
    pub total: i64,
    pub kind: Vec<FacetCount>,
    pub category: Vec<FacetCount>,
    /// The ten most frequent tags.
    pub tags: Vec<FacetCount>,
}

/// Where a page starts.
#[derive(Debug, Clone)]
pub enum After {
    /// Newest first: after this id.
    Id(String),
    /// Relevance: after this (score, id).
    Scored(i64, String),
}

fn conditions(query: &CatalogueQuery, dialect: Dialect) -> Conditions {
    let mut c = Conditions::default();
    let statuses: Vec<String> = query
        .statuses
        .iter()
        .map(|s| c.param(Param::Text(s.clone())))
        .collect();
    c.clauses
        .push(format!("listings.status IN ({})", statuses.join(", ")));
    if query.public_only {
        if let Some(now) = query.now {
            let p = c.param(Param::Time(now));
            c.clauses.push(format!(
                "(listings.expires_at IS NULL OR listings.expires_at > {p})"
            ));
        }
        c.clauses
            .push("listings.org_id NOT IN (SELECT id FROM orgs WHERE status = 'suspended')".into());
    }
    for (column, value) in [
        ("kind", &query.kind),
        ("category", &query.category),
        ("industry", &query.industry),
        ("region", &query.region),
        ("org_id", &query.org_id),
    ] {
        if let Some(value) = value {
            c.text(&format!("listings.{column} = ?"), value);
        }
    }
    if let Some(trial) = query.trial {
        let p = c.param(Param::Bool(trial));
        c.clauses.push(format!("listings.trial_available = {p}"));
    }
    for tag in &query.tags {
        c.text(
            "listings.id IN (SELECT listing_id FROM listing_tags WHERE tag = ?)",
            tag,
        );
    }
    if !query.terms.is_empty() {
        c.clauses.push(search::matches(dialect, &query.terms));
    }
    c
}

#[derive(QueryableByName)]
struct KindCategoryCount {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    category: String,
    #[diesel(sql_type = BigInt)]
    count: i64,
    #[diesel(sql_type = Nullable<Timestamp>)]
    next_expiry: Option<NaiveDateTime>,
}

#[derive(QueryableByName)]
struct ScoredId {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Integer)]
    score: i32,
}

/// One page of listings with their scores (0 when sorted by newest).
pub fn page(
    conn: &mut DbConnection,
    query: &CatalogueQuery,
    sort: SortOrder,
    after: Option<&After>,
    limit: i64,
) -> QueryResult<Vec<(Listing, i32)>> {
    let dialect = Dialect::of(conn);
    let mut c = conditions(query, dialect);
    let score = if sort == SortOrder::Relevance && !query.terms.is_empty() {
        search::score(dialect, &query.terms)
    } else {
        "0".to_owned()
    };
    match after {
        Some(After::Scored(s, id)) => {
            let p = c.param(Param::Text(id.clone()));
            c.clauses.push(format!(
                "({score} < {s} OR ({score} = {s} AND listings.id < {p}))"
            ));
        }
        Some(After::Id(id)) => c.text("listings.id < ?", id),
        None => {}
    }
    // Ids and scores first, so sorting a large result moves small rows; then the page.
    let sql = format!(
        "SELECT listings.id AS id, {score} AS score FROM listings WHERE {} \
         ORDER BY score DESC, listings.id DESC LIMIT {limit}",
        c.sql()
    );
    let ranked: Vec<ScoredId> = c.run(conn, sql)?;
    let ranked: Vec<(String, i32)> = ranked.into_iter().map(|r| (r.id, r.score)).collect();
    by_ids(conn, &ranked)
}

/// Facet counts over the whole result, and the earliest expiry among its listings (when
/// the result will change by itself).
pub fn facets(
    conn: &mut DbConnection,
    query: &CatalogueQuery,
) -> QueryResult<(Facets, Option<NaiveDateTime>)> {
    let c = conditions(query, Dialect::of(conn));
    // Kind and category in one pass over the result.
    let pairs: Vec<KindCategoryCount> = c.run(
        conn,
        format!(
            "SELECT listings.kind AS kind, listings.category AS category, COUNT(*) AS count, \
             MIN(listings.expires_at) AS next_expiry \
             FROM listings WHERE {} GROUP BY listings.kind, listings.category",
            c.sql()
        ),
    )?;
    let tally = |value_of: fn(&KindCategoryCount) -> &String| {
        let mut counts: std::collections::BTreeMap<String, i64> = Default::default();
        for pair in &pairs {
            *counts.entry(value_of(pair).clone()).or_default() += pair.count;
        }
        let mut out: Vec<FacetCount> = counts
            .into_iter()
            .map(|(value, count)| FacetCount { value, count })
            .collect();
        out.sort_by(|a, b| b.count.cmp(&a.count).then(a.value.cmp(&b.value)));
        out
    };
    let kind = tally(|p| &p.kind);
    let category = tally(|p| &p.category);
    let tags: Vec<FacetCount> = c.run(
        conn,
        format!(
            "SELECT listing_tags.tag AS value, COUNT(*) AS count FROM listing_tags \
             JOIN listings ON listings.id = listing_tags.listing_id WHERE {} \
             GROUP BY listing_tags.tag ORDER BY count DESC, value ASC LIMIT 10",
            c.sql()
        ),
    )?;
    let total = kind.iter().map(|f| f.count).sum();
    let next_expiry = pairs.iter().filter_map(|p| p.next_expiry).min();
    Ok((
        Facets {
            total,
            kind,
            category,
            tags,
        },
        next_expiry,
    ))
}

/// Listings by id, in the order given (ids that no longer exist are left out).
pub fn by_ids(conn: &mut DbConnection, ids: &[(String, i32)]) -> QueryResult<Vec<(Listing, i32)>> {
    let wanted: Vec<&str> = ids.iter().map(|(id, _)| id.as_str()).collect();
    let mut found = Listing::find_many(conn, &wanted)?;
    Ok(ids
        .iter()
        .filter_map(|(id, score)| found.remove(id).map(|l| (l, *score)))
        .collect())
}
