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

fn tag_list(c: &mut Conditions, tags: &[String]) -> String {
    let params: Vec<String> = tags
        .iter()
        .map(|t| c.param(Param::Text(t.clone())))
        .collect();
    format!("listing_tags.tag IN ({})", params.join(", "))
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

/// Live listings of `kind` outside `exclude_org` that carry any of `tags`, each with the
/// subset of `tags` it carries.
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
    let mut c = Conditions::default();
    let in_tags = tag_list(&mut c, tags);
    c.clauses.push(in_tags);
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
        let p = c.param(Param::Bool(trial));
        c.clauses.push(format!("listings.trial_available = {p}"));
    }
    let sql = format!(
        "SELECT listings.id AS listing_id, listings.org_id AS org_id, listings.title AS title, listing_tags.tag AS tag \
         FROM listing_tags {} listings ON listings.id = listing_tags.listing_id WHERE {}",
        postings_join(conn),
        c.sql()
    );
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

/// How many live listings carry each tag.
pub fn document_frequency(
    conn: &mut DbConnection,
    tags: &[String],
    now: NaiveDateTime,
) -> QueryResult<HashMap<String, i64>> {
    if tags.is_empty() {
        return Ok(HashMap::new());
    }
    let mut c = Conditions::default();
    let in_tags = tag_list(&mut c, tags);
    c.clauses.push(in_tags);
    live(&mut c, now);
    let sql = format!(
        "SELECT listing_tags.tag AS tag, COUNT(*) AS count FROM listing_tags \
         {} listings ON listings.id = listing_tags.listing_id WHERE {} GROUP BY listing_tags.tag",
        postings_join(conn),
        c.sql()
    );
    let rows: Vec<TagCount> = c.run(conn, sql)?;
    Ok(rows.into_iter().map(|r| (r.tag, r.count)).collect())
}

/// How many listings are published (the N of the IDF weights).
pub fn published_count(conn: &mut DbConnection) -> QueryResult<i64> {
    let rows: Vec<Count> =
        diesel::sql_query("SELECT COUNT(*) AS count FROM listings WHERE status = 'published'")
            .load(conn)?;
    Ok(rows.first().map(|r| r.count).unwrap_or(0))
}
