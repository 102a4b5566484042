//! The queries behind matching. Every candidate query starts from the tag postings
//! (`listing_tags (tag, listing_id)` index) for the tags in question, so it reads only
//! listings that share a tag.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::listing::split_tags;
use crate::db::sql::{Conditions, Param};
use crate::db::DbConnection;
use crate::matching::Candidate;
use crate::search::Dialect;

/// The join keyword that makes the tag postings the outer side of the join. SQLite treats
/// `CROSS JOIN` as "keep this order", so the plan starts from the tag index even before
/// `ANALYZE` has statistics; PostgreSQL plans by its own statistics.
fn postings_join(conn: &DbConnection) -> &'static str {
    match Dialect::of(conn) {
        Dialect::Sqlite => "CROSS JOIN",
        Dialect::Postgres => "JOIN",
    }
}

/// Which other listings may match.
#[derive(Debug, Clone, Default)]
pub struct MatchScope {
    /// `None`: any industry.
    pub industry: Option<String>,
    pub region: Option<String>,
    pub category: Option<String>,
    pub trial: Option<bool>,
}

#[derive(QueryableByName)]
struct PostingRow {
    #[diesel(sql_type = Text)]
    listing_id: String,
    #[diesel(sql_type = Text)]
    org_id: String,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    tag: String,
}

#[derive(QueryableByName)]
struct TagCount {
    #[diesel(sql_type = Text)]
    tag: String,
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

fn live(c: &mut Conditions, now: NaiveDateTime) {
    c.clauses.push("listings.status = 'published'".into());
    let p = c.param(Param::Time(now));
    c.clauses.push(format!(
        "(listings.expires_at IS NULL OR listings.expires_at > {p})"
    ));
    c.clauses
        .push("listings.org_id NOT IN (SELECT id FROM orgs WHERE status = 'suspended')".into());
}

/// An organisation's live listings of one kind, with all their tags.
pub fn own_listings(
    conn: &mut DbConnection,
    org_id: &str,
    kind: &str,
    now: NaiveDateTime,
) -> QueryResult<Vec<Candidate>> {
    use crate::db::schema::listings;
    let rows: Vec<(String, String, String)> = listings::table
        .filter(listings::org_id.eq(org_id))
        .filter(listings::kind.eq(kind))
        .filter(listings::status.eq("published"))
        .filter(
            listings::expires_at
                .is_null()
                .or(listings::expires_at.gt(now)),
        )
        .select((listings::id, listings::title, listings::tags))
        .order(listings::id.asc())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(listing_id, title, tags)| Candidate {
            listing_id,
            org_id: org_id.to_owned(),
            title,
            tags: split_tags(&tags),
        })
        .collect())
}

/// How many postings of one tag are read at most (the newest). Common tags are carried by
/// a fixed share of a growing catalogue; reading only their newest postings keeps the cost
/// of a match bounded while rare tags are always read in full.
pub const POSTINGS_PER_TAG: usize = 100;

/// Above this many listings a tag counts as common; its document frequency is capped here
/// so that counting it stays bounded too.
pub const DF_CAP: usize = 1000;

/// Live listings of `kind` outside `exclude_org` among the newest
/// [`POSTINGS_PER_TAG`] postings of each of `tags`, each with the subset of `tags` it
/// carries.
pub fn candidates(
    conn: &mut DbConnection,
    tags: &[String],
    kind: &str,
    scope: &MatchScope,
    exclude_org: &str,
    now: NaiveDateTime,
) -> QueryResult<Vec<Candidate>> {
    if tags.is_empty() {
        return Ok(Vec::new());
    }
    // For every tag its newest postings (an index range), joined with their listings and
    // filtered inside the same part, so each part is a nested loop over at most
    // POSTINGS_PER_TAG rows on both backends.
    let join = postings_join(conn);
    let mut c = Conditions::default();
    let mut parts = Vec::with_capacity(tags.len());
    for (i, tag) in tags.iter().enumerate() {
        let p = c.param(Param::Text(tag.clone()));
        c.text("listings.kind = ?", kind);
        c.text("listings.org_id <> ?", exclude_org);
        live(&mut c, now);
        for (column, value) in [
            ("industry", &scope.industry),
            ("region", &scope.region),
            ("category", &scope.category),
        ] {
            if let Some(value) = value {
                c.text(&format!("listings.{column} = ?"), value);
            }
        }
        if let Some(trial) = scope.trial {
            let t = c.param(Param::Bool(trial));
            c.clauses.push(format!("listings.trial_available = {t}"));
        }
        parts.push(format!(
            "SELECT listings.id AS listing_id, listings.org_id AS org_id, listings.title AS title, \
             t{i}.tag AS tag FROM (SELECT listing_id, tag FROM listing_tags WHERE tag = {p} \
             ORDER BY listing_id DESC LIMIT {POSTINGS_PER_TAG}) AS t{i} {join} listings \
             ON listings.id = t{i}.listing_id WHERE {}",
            c.sql()
        ));
        c.clauses.clear();
    }
    let sql = parts.join(" UNION ALL ");
    let rows: Vec<PostingRow> = c.run(conn, sql)?;
    let mut by_listing: BTreeMap<String, Candidate> = BTreeMap::new();
    for row in rows {
        by_listing
            .entry(row.listing_id.clone())
            .or_insert_with(|| Candidate {
                listing_id: row.listing_id,
                org_id: row.org_id,
                title: row.title,
                tags: Vec::new(),
            })
            .tags
            .push(row.tag);
    }
    Ok(by_listing.into_values().collect())
}

/// How many listings carry each tag (any status; index-only counts, capped at [`DF_CAP`]).
pub fn document_frequency(
    conn: &mut DbConnection,
    tags: &[String],
) -> QueryResult<HashMap<String, i64>> {
    if tags.is_empty() {
        return Ok(HashMap::new());
    }
    let mut c = Conditions::default();
    let counts: Vec<String> = tags
        .iter()
        .enumerate()
        .map(|(i, tag)| {
            let p = c.param(Param::Text(tag.clone()));
            let q = c.param(Param::Text(tag.clone()));
            format!(
                "SELECT {p} AS tag, COUNT(*) AS count FROM \
                 (SELECT 1 AS one FROM listing_tags WHERE tag = {q} LIMIT {DF_CAP}) AS d{i}"
            )
        })
        .collect();
    let rows: Vec<TagCount> = c.run(conn, counts.join(" UNION ALL "))?;
    Ok(rows
        .into_iter()
        .map(|r| (r.tag, r.count))
        .filter(|(_, n)| *n > 0)
        .collect())
}

/// How many listings there are (the N of the IDF weights, counted like the document
/// frequencies). PostgreSQL's planner estimate is used when it has one, since an exact
/// count reads the whole table.
pub fn listing_count(conn: &mut DbConnection) -> QueryResult<i64> {
    if let Dialect::Postgres = Dialect::of(conn) {
        let estimate: Vec<Count> = diesel::sql_query(
            "SELECT CAST(reltuples AS BIGINT) AS count FROM pg_class WHERE relname = 'listings'",
        )
        .load(conn)?;
        if let Some(n) = estimate.first().map(|r| r.count).filter(|n| *n > 0) {
            return Ok(n);
        }
    }
    let rows: Vec<Count> =
        diesel::sql_query("SELECT COUNT(*) AS count FROM listings").load(conn)?;
    Ok(rows.first().map(|r| r.count).unwrap_or(0))
}
