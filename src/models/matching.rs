//! The queries behind matching. Candidates come from the tag postings (`listing_tags`),
//! which carry the columns matching filters on, so the `listing_tags_match` index
//! `(tag, kind, status, listing_id, …)` answers "the newest live listings of kind K with tag
//! T" as one index range without visiting `listings`. Weights come from `tag_stats`.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

use super::listing::{ListingKind, ListingStatus};
use super::tag::split_tags;
use super::user::AccountStatus;
use crate::db::schema::{listing_tags, listings, orgs};
use crate::db::DbConnection;
use crate::matching::{Candidate, Vocabulary};

/// Which other listings may match.
#[derive(Debug, Clone, Default)]
pub struct MatchScope {
    /// `None`: any industry.
    pub industry: Option<String>,
    pub region: Option<String>,
    pub category: Option<String>,
    pub trial: Option<bool>,
}

/// One of an organisation's own live listings.
#[derive(Debug, Clone)]
pub struct Own {
    pub listing_id: String,
    pub kind: ListingKind,
    pub title: String,
    pub tags: Vec<String>,
}

/// An organisation's live (published, unexpired) listings, with all their tags.
pub fn own_listings(
    conn: &mut DbConnection,
    org_id: &str,
    now: NaiveDateTime,
) -> QueryResult<Vec<Own>> {
    let rows: Vec<(String, ListingKind, String, String)> =
        crate::native!(conn, |c| listings::table
            .filter(listings::org_id.eq(org_id))
            .filter(listings::status.eq(ListingStatus::Published))
            .filter(
                listings::expires_at
                    .is_null()
                    .or(listings::expires_at.gt(now)),
            )
            .select((
                listings::id,
                listings::kind,
                listings::title,
                listings::tags,
            ))
            .order(listings::id.asc())
            .load(c))?;
    Ok(rows
        .into_iter()
        .map(|(listing_id, kind, title, tags)| Own {
            listing_id,
            kind,
            title,
            tags: split_tags(&tags),
        })
        .collect())
}

/// How many postings of one tag are read at most (the newest that pass the filters).
/// Common tags are carried by a fixed share of a growing catalogue; reading only their
/// newest postings keeps the cost of a match bounded while rare tags are read in full.
pub const POSTINGS_PER_TAG: i64 = 50;

/// Live listings of `kind` outside `exclude_org` (and outside suspended organisations)
/// among the newest [`POSTINGS_PER_TAG`] such postings of each of `tags` (indices into
/// `vocabulary`), each with the subset of `tags` it carries. Titles are left empty; see
/// [`titles`].
pub fn candidates(
    conn: &mut DbConnection,
    vocabulary: &Vocabulary,
    tags: &[u32],
    kind: &str,
    scope: &MatchScope,
    exclude_org: &str,
    now: NaiveDateTime,
) -> QueryResult<Vec<Candidate>> {
    let rows = match conn {
        DbConnection::Sqlite(c) => {
            postings_per_tag(c, vocabulary, tags, kind, scope, exclude_org, now)?
        }
        DbConnection::Pg(c) => {
            postings_lateral(c, vocabulary, tags, kind, scope, exclude_org, now)?
        }
    };
    let mut at: HashMap<String, usize> = HashMap::with_capacity(rows.len());
    let mut found: Vec<Candidate> = Vec::new();
    for (listing_id, org_id, tag) in rows {
        let i = *at.entry(listing_id).or_insert_with_key(|listing_id| {
            found.push(Candidate {
                listing_id: listing_id.clone(),
                org_id,
                title: String::new(),
                tags: Vec::new(),
            });
            found.len() - 1
        });
        found[i].tags.push(tag);
    }
    for candidate in &mut found {
        candidate.tags.sort_unstable();
    }
    Ok(found)
}

/// SQLite: one small prepared statement per tag (in-process, so a statement per tag costs
/// no round trip, and diesel keeps the prepared statement for the next request).
fn postings_per_tag(
    conn: &mut diesel::SqliteConnection,
    vocabulary: &Vocabulary,
    tags: &[u32],
    kind: &str,
    scope: &MatchScope,
    exclude_org: &str,
    now: NaiveDateTime,
) -> QueryResult<Vec<(String, String, u32)>> {
    let mut rows = Vec::new();
    for &index in tags {
        let tag = &vocabulary.tags[index as usize];
        // One statement text whatever the filters (an absent filter is a bound `true`), so
        // diesel keeps one prepared statement and need not render SQL to find it.
        let suspended = orgs::table
            .filter(orgs::status.eq(AccountStatus::Suspended))
            .select(orgs::id);
        let any = |absent: bool| absent.into_sql::<Bool>();
        let query = listing_tags::table
            .filter(listing_tags::tag.eq(tag))
            .filter(listing_tags::kind.eq(kind))
            .filter(listing_tags::status.eq(ListingStatus::Published))
            .filter(listing_tags::org_id.ne(exclude_org))
            .filter(
                listing_tags::expires_at
                    .is_null()
                    .or(listing_tags::expires_at.gt(now)),
            )
            .filter(listing_tags::org_id.ne_all(suspended))
            .filter(
                listing_tags::industry
                    .eq(scope.industry.clone().unwrap_or_default())
                    .or(any(scope.industry.is_none())),
            )
            .filter(
                listing_tags::region
                    .eq(scope.region.clone().unwrap_or_default())
                    .assume_not_null()
                    .or(any(scope.region.is_none())),
            )
            .filter(
                listing_tags::category
                    .eq(scope.category.clone().unwrap_or_default())
                    .or(any(scope.category.is_none())),
            )
            .filter(
                listing_tags::trial_available
                    .eq(scope.trial.unwrap_or_default())
                    .or(any(scope.trial.is_none())),
            )
            .select((listing_tags::listing_id, listing_tags::org_id))
            .order(listing_tags::listing_id.desc())
            .limit(POSTINGS_PER_TAG);
        let found: Vec<(String, String)> = query.load(conn)?;
        rows.extend(
            found
                .into_iter()
                .map(|(listing_id, org_id)| (listing_id, org_id, index)),
        );
    }
    Ok(rows)
}

/// PostgreSQL: every tag in one statement (a LATERAL index range per tag), so a match costs
/// one round trip instead of one per tag. The statement text is the same for every request
/// (the tags are one array parameter, absent filters are NULL), so diesel keeps it prepared
/// and PostgreSQL need not plan it again each time.
fn postings_lateral(
    conn: &mut diesel::PgConnection,
    vocabulary: &Vocabulary,
    tags: &[u32],
    kind: &str,
    scope: &MatchScope,
    exclude_org: &str,
    now: NaiveDateTime,
) -> QueryResult<Vec<(String, String, u32)>> {
    if tags.is_empty() {
        return Ok(Vec::new());
    }
    let query = LateralPostings {
        tags: tags
            .iter()
            .map(|&t| vocabulary.tags[t as usize].clone())
            .collect(),
        kind,
        exclude_org,
        now,
        scope,
    };
    let rows: Vec<(String, String, String)> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(listing_id, org_id, tag)| {
            let index = vocabulary.index(&tag)?;
            Some((listing_id, org_id, index))
        })
        .collect())
}

/// The statement of [`postings_lateral`].
struct LateralPostings<'a> {
    tags: Vec<String>,
    kind: &'a str,
    exclude_org: &'a str,
    now: NaiveDateTime,
    scope: &'a MatchScope,
}

impl diesel::query_builder::QueryId for LateralPostings<'_> {
    type QueryId = ();
    // Cached by its (fixed) SQL text.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for LateralPostings<'_> {
    type SqlType = (Text, Text, Text);
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for LateralPostings<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, Nullable, Timestamp};
        out.push_sql("SELECT found.listing_id, found.org_id, found.tag FROM unnest(");
        out.push_bind_param::<Array<Text>, _>(&self.tags)?;
        out.push_sql(
            ") AS wanted (tag) CROSS JOIN LATERAL (SELECT p.listing_id, p.org_id, p.tag \
             FROM listing_tags AS p WHERE p.tag = wanted.tag AND p.status = 'published' \
             AND p.kind = ",
        );
        out.push_bind_param::<Text, _>(self.kind)?;
        out.push_sql(" AND p.org_id <> ");
        out.push_bind_param::<Text, _>(self.exclude_org)?;
        out.push_sql(" AND (p.expires_at IS NULL OR p.expires_at > ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(") AND p.org_id NOT IN (SELECT id FROM orgs WHERE status = 'suspended')");
        for (column, value) in [
            ("industry", &self.scope.industry),
            ("region", &self.scope.region),
            ("category", &self.scope.category),
        ] {
            out.push_sql(" AND (CAST(");
            out.push_bind_param::<Nullable<Text>, _>(value)?;
            out.push_sql(&format!(" AS TEXT) IS NULL OR p.{column} = "));
            out.push_bind_param::<Nullable<Text>, _>(value)?;
            out.push_sql(")");
        }
        out.push_sql(" AND (CAST(");
        out.push_bind_param::<Nullable<Bool>, _>(&self.scope.trial)?;
        out.push_sql(" AS BOOLEAN) IS NULL OR p.trial_available = ");
        out.push_bind_param::<Nullable<Bool>, _>(&self.scope.trial)?;
        out.push_sql(&format!(
            ") ORDER BY p.listing_id DESC LIMIT {POSTINGS_PER_TAG}) AS found"
        ));
        Ok(())
    }
}

impl RunQueryDsl<diesel::PgConnection> for LateralPostings<'_> {}

/// The titles of some listings, by id.
pub fn titles(conn: &mut DbConnection, ids: &[String]) -> QueryResult<HashMap<String, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, String)> = crate::native!(conn, |c| listings::table
        .filter(listings::id.eq_any(ids))
        .select((listings::id, listings::title))
        .load(c))?;
    Ok(rows.into_iter().collect())
}
