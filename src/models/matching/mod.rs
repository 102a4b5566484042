//! The queries behind matching. Candidates come from the tag postings (`listing_tags`),
//! which carry the columns matching filters on, so the `listing_tags_match` index
//! `(tag, kind, status, listing_id, …)` answers "the newest live listings of kind K with tag
//! T" as one index range without visiting `listings`. Weights come from `tag_stats`.
//!
//! The candidate postings are read in each backend's own way, side by side: `sqlite.rs`
//! (one prepared statement per tag, in process) and `postgres.rs` (all tags in one LATERAL
//! statement, one round trip); [`candidates`] dispatches once on the connection.

mod postgres;
mod query;
mod sqlite;

use query::Wanted;
pub use query::{MatchScope, POSTINGS_PER_TAG};

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::listings;
use crate::db::DbConnection;
use crate::matching::{Candidate, Vocabulary};
use crate::models::listing::{ListingKind, ListingStatus};
use crate::models::tag::split_tags;

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
    let wanted = Wanted {
        vocabulary,
        tags,
        kind,
        scope,
        exclude_org,
        now,
    };
    // The one place matching chooses its dialect.
    let rows = match conn {
        DbConnection::Sqlite(c) => sqlite::postings_per_tag(c, &wanted)?,
        DbConnection::Pg(c) => postgres::postings_lateral(c, &wanted)?,
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
