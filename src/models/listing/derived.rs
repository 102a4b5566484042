//! The one writer of a listing's derived data. A listing's folded search columns and its
//! full-text entry, its tag postings (`listing_tags`, which copy the columns matching filters
//! on), the published counts in `tag_stats` and the catalogue version must change together
//! with the listing, or search, matching and cached pages drift from it. Every write of a
//! listing — the handlers, `mutua seed`, and tests that change a row behind the
//! application's back — ends in [`listing_changed`] (or, for new rows, [`listings_added`]),
//! inside the same transaction. The only thing written elsewhere is a new row's
//! [`SearchText`], computed here and stored by the row's own INSERT (`store::insert_all`).

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::{Listing, ListingStatus};
use crate::db::schema::{listing_tags, listings};
use crate::db::DbConnection;
use crate::models::catalogue_state;
use crate::models::tag::{self, split_tags};
use crate::search;

/// The folded search columns of a listing: its main text (for a published listing, the
/// approved text; a pending edit is not searchable), folded by [`search::fold`].
#[derive(Debug, Clone, PartialEq, Eq, Insertable, AsChangeset)]
#[diesel(table_name = listings)]
pub struct SearchText {
    pub search_title: String,
    pub search_tags: String,
    pub search_body: String,
}

impl SearchText {
    /// The search text of a listing as it stands.
    pub fn of(l: &Listing) -> SearchText {
        SearchText {
            search_title: search::fold(&l.title),
            search_tags: search::fold(&l.tags.replace(',', " ")),
            search_body: search::fold(&l.description),
        }
    }
}

/// A listing's public JSON form, as its search document keeps it.
fn public_view(l: &Listing) -> QueryResult<String> {
    let view = l
        .view(false)
        .map_err(|e| diesel::result::Error::SerializationError(e.to_string().into()))?;
    serde_json::to_string(&view).map_err(|e| diesel::result::Error::SerializationError(e.into()))
}

/// Writes a listing's search document (see [`search`]) as of now.
fn index(
    conn: &mut DbConnection,
    l: &Listing,
    text: &SearchText,
    changes: &mut search::FacetChanges,
) -> QueryResult<()> {
    use crate::db::schema::orgs;
    let org_status: String = crate::native!(conn, |c| orgs::table
        .find(&l.org_id)
        .select(diesel::dsl::sql::<diesel::sql_types::Text>("status"))
        .first(c))?;
    let public_view = public_view(l)?;
    let doc = search::Doc {
        listing_id: &l.id,
        org_id: &l.org_id,
        status: l.status.as_str(),
        kind: l.kind.as_str(),
        category: l.category.as_str(),
        industry: &l.industry,
        region: l.region.as_deref(),
        trial: l.trial_available,
        tags: &l.tags,
        expires_at: l.expires_at,
        org_active: org_status != "suspended",
        title_words: &text.search_title,
        tag_words: &text.search_tags,
        body_words: &text.search_body,
        public_view: &public_view,
    };
    search::index(conn, &doc, crate::models::now(), changes)
}

/// Brings a listing's derived data from its state `before` a change to its state `after`
/// (`None`: not stored). Call after the row itself was written (or before it is deleted).
pub fn listing_changed(
    conn: &mut DbConnection,
    before: Option<&Listing>,
    after: Option<&Listing>,
) -> QueryResult<()> {
    let mut facets = search::FacetChanges::default();
    match (before, after) {
        (None, None) => return Ok(()),
        (_, Some(l)) => {
            let text = SearchText::of(l);
            if before.is_none_or(|b| indexed_text(b) != indexed_text(l)) {
                diesel::update(listings::table.find(&l.id))
                    .set(&text)
                    .execute(conn)?;
            }
            if before.is_none_or(|b| document_fields(b) != document_fields(l)) {
                index(conn, l, &text, &mut facets)?;
            } else {
                search::set_public_view(conn, &l.id, &public_view(l)?)?;
            }
        }
        (Some(l), None) => search::unindex(conn, &l.id, &mut facets)?,
    }
    facets.write(conn)?;
    let mut counts = PublishedCounts::default();
    sync_postings(conn, before, after, &mut counts)?;
    counts.write(conn)?;
    catalogue_state::changed(conn)
}

/// The derived data of new listings whose rows were just inserted with their
/// [`SearchText`]: full-text entries and postings per listing, the tag counts and the
/// catalogue version once for the whole batch (a bulk load such as `mutua seed` writes a
/// count per tag, not per listing).
pub fn listings_added(
    conn: &mut DbConnection,
    added: &[(&Listing, SearchText)],
) -> QueryResult<()> {
    if added.is_empty() {
        return Ok(());
    }
    let mut counts = PublishedCounts::default();
    let mut facets = search::FacetChanges::default();
    for (listing, text) in added {
        index(conn, listing, text, &mut facets)?;
        sync_postings(conn, None, Some(listing), &mut counts)?;
    }
    facets.write(conn)?;
    counts.write(conn)?;
    catalogue_state::changed(conn)
}

/// Writes the search document of every listing that has none (after the migration that
/// introduced them, or after a crash of a bulk load), in one transaction per 1,000.
/// Answers how many were written.
pub fn index_missing(conn: &mut DbConnection) -> QueryResult<usize> {
    use diesel::sql_types::Text;
    #[derive(QueryableByName)]
    struct Missing {
        #[diesel(sql_type = Text)]
        id: String,
    }
    let mut written = 0;
    loop {
        let missing: Vec<Missing> = diesel::sql_query(
            "SELECT id FROM listings WHERE id NOT IN (SELECT listing_id FROM search_docs) \
             ORDER BY id LIMIT 1000",
        )
        .load(conn)?;
        if missing.is_empty() {
            return Ok(written);
        }
        crate::db::write_transaction(conn, |conn| {
            let ids: Vec<&str> = missing.iter().map(|m| m.id.as_str()).collect();
            let found = Listing::find_many(conn, &ids)?;
            let mut facets = search::FacetChanges::default();
            for id in &ids {
                if let Some(l) = found.get(*id) {
                    index(conn, l, &SearchText::of(l), &mut facets)?;
                }
            }
            facets.write(conn)?;
            catalogue_state::changed(conn)
        })?;
        written += missing.len();
    }
}

/// What the folded search columns hold of a listing.
fn indexed_text(l: &Listing) -> (&str, &str, &str) {
    (&l.title, &l.tags, &l.description)
}

/// What a listing's search document holds of it.
fn document_fields(l: &Listing) -> impl PartialEq + '_ {
    (
        indexed_text(l),
        (l.status, l.kind, l.category, &l.industry, &l.region),
        (&l.org_id, l.trial_available, l.expires_at),
    )
}

/// Changes of the published-listing counts per tag (`tag_stats`); the empty tag counts the
/// listings themselves.
#[derive(Debug, Default)]
struct PublishedCounts(BTreeMap<String, i64>);

impl PublishedCounts {
    /// Counts a listing's tags with `sign` if it is published.
    fn add(&mut self, listing: Option<&Listing>, sign: i64) {
        if let Some(l) = listing.filter(|l| l.status == ListingStatus::Published) {
            *self.0.entry(String::new()).or_default() += sign;
            for tag in split_tags(&l.tags) {
                *self.0.entry(tag).or_default() += sign;
            }
        }
    }

    /// Writes the non-zero changes, in tag order.
    fn write(self, conn: &mut DbConnection) -> QueryResult<()> {
        let changes: Vec<(String, i64)> = self.0.into_iter().filter(|(_, d)| *d != 0).collect();
        tag::count_published(conn, &changes)
    }
}

/// What the tag postings copy from a listing; they are rewritten when it changes.
fn posting_fields(l: &Listing) -> impl PartialEq + '_ {
    (
        (&l.tags, l.status, l.kind, l.category, &l.industry),
        (&l.org_id, &l.region, l.trial_available, l.expires_at),
    )
}

/// Keeps a listing's tag postings (one row per tag with the columns matching filters on)
/// in step with the listing, and notes how the published-listing counts change.
fn sync_postings(
    conn: &mut DbConnection,
    before: Option<&Listing>,
    after: Option<&Listing>,
    counts: &mut PublishedCounts,
) -> QueryResult<()> {
    if let (Some(b), Some(a)) = (before, after) {
        if posting_fields(b) == posting_fields(a) {
            return Ok(());
        }
    }
    if let Some(b) = before {
        diesel::delete(listing_tags::table.filter(listing_tags::listing_id.eq(&b.id)))
            .execute(conn)?;
    }
    if let Some(l) = after {
        for tag in split_tags(&l.tags) {
            // On the concrete connection (see `native!`): every listing write, and the seed.
            crate::native!(conn, |c| diesel::insert_into(listing_tags::table)
                .values((
                    listing_tags::listing_id.eq(&l.id),
                    listing_tags::tag.eq(tag),
                    listing_tags::org_id.eq(&l.org_id),
                    listing_tags::kind.eq(l.kind),
                    listing_tags::status.eq(l.status),
                    listing_tags::industry.eq(&l.industry),
                    listing_tags::category.eq(l.category),
                    listing_tags::region.eq(&l.region),
                    listing_tags::trial_available.eq(l.trial_available),
                    listing_tags::expires_at.eq(l.expires_at),
                ))
                .execute(c))?;
        }
    }
    // -1 for each tag the listing stops counting for, +1 for each it starts to.
    counts.add(before, -1);
    counts.add(after, 1);
    Ok(())
}
