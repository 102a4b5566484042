//! The one writer of a listing's derived data. A listing's folded search columns and its
//! full-text entry, its tag postings (`listing_tags`, which copy the columns matching filters
//! on), the published counts in `tag_stats` and the catalogue version must change together
//! with the listing, or search, matching and cached pages drift from it. Every write of a
//! listing — the handlers, `mutua seed`, and tests that change a row behind the
//! application's back — ends in [`listing_changed`], inside the same transaction.

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::{Listing, ListingStatus};
use crate::db::schema::{listing_tags, listings};
use crate::db::DbConnection;
use crate::models::catalogue_state;
use crate::models::tag::{self, split_tags};
use crate::search;

/// Brings a listing's derived data from its state `before` a change to its state `after`
/// (`None`: not stored). Call after the row itself was written (or before it is deleted).
pub fn listing_changed(
    conn: &mut DbConnection,
    before: Option<&Listing>,
    after: Option<&Listing>,
) -> QueryResult<()> {
    match (before, after) {
        (None, None) => return Ok(()),
        (_, Some(l)) if before.is_none_or(|b| indexed_text(b) != indexed_text(l)) => {
            write_search_text(conn, l, before.is_some())?;
        }
        (Some(l), None) => search::unindex(conn, &l.id)?,
        _ => {}
    }
    sync_postings(conn, before, after)?;
    catalogue_state::changed(conn)
}

/// The text search indexes: the listing's main text (for a published listing, the
/// approved text; a pending edit is not searchable).
fn indexed_text(l: &Listing) -> (&str, &str, &str) {
    (&l.title, &l.tags, &l.description)
}

/// Folds the main text into the search columns and the full-text index.
fn write_search_text(conn: &mut DbConnection, l: &Listing, indexed: bool) -> QueryResult<()> {
    let title = search::fold(&l.title);
    let tags = search::fold(&l.tags.replace(',', " "));
    let body = search::fold(&l.description);
    diesel::update(listings::table.find(&l.id))
        .set((
            listings::search_title.eq(&title),
            listings::search_tags.eq(&tags),
            listings::search_body.eq(&body),
        ))
        .execute(conn)?;
    if indexed {
        search::index(conn, &l.id, &title, &tags, &body)
    } else {
        search::index_new(conn, &l.id, &title, &tags, &body)
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
/// and the published-listing counts in `tag_stats` in step with the listing.
fn sync_postings(
    conn: &mut DbConnection,
    before: Option<&Listing>,
    after: Option<&Listing>,
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
            diesel::insert_into(listing_tags::table)
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
                .execute(conn)?;
        }
    }
    // Published-listing counts: -1 for each tag the listing stops counting for, +1 for each
    // it starts to; the empty tag counts the listings themselves.
    let mut delta: BTreeMap<String, i64> = BTreeMap::new();
    for (listing, sign) in [(before, -1), (after, 1)] {
        if let Some(l) = listing.filter(|l| l.status == ListingStatus::Published) {
            *delta.entry(String::new()).or_default() += sign;
            for tag in split_tags(&l.tags) {
                *delta.entry(tag).or_default() += sign;
            }
        }
    }
    for (tag, change) in delta.into_iter().filter(|(_, d)| *d != 0) {
        tag::count_published(conn, &tag, change)?;
    }
    Ok(())
}
