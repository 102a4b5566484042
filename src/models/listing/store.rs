//! Every write of a listing row. Each runs inside the caller's transaction and ends in
//! [`derived::listing_changed`], so the row and everything derived from it change together.

use diesel::prelude::*;

use super::derived::{self, SearchText};
use super::{Listing, ListingUpdate};
use crate::db::schema::listings;
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::models::{now, org};

impl Listing {
    /// Stores a new listing with its derived data.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        Listing::insert_all(conn, std::slice::from_ref(self))
    }

    /// Stores new listings with their derived data (one statement per row; the tag counts
    /// and the catalogue version once for all).
    pub fn insert_all(conn: &mut DbConnection, listings: &[Listing]) -> QueryResult<()> {
        let mut added = Vec::with_capacity(listings.len());
        for listing in listings {
            let text = SearchText::of(listing);
            // On the concrete connection: this is the bulk path of `mutua seed`.
            crate::native!(conn, |c| diesel::insert_into(listings::table)
                .values((listing, &text))
                .execute(c))?;
            added.push((listing, text));
        }
        derived::listings_added(conn, &added)
    }
}

/// Applies a change, bumps the version and keeps the derived data in step. When `expected`
/// is given, the stored version must still be it (412 otherwise).
pub fn apply(
    conn: &mut DbConnection,
    current: &Listing,
    expected: Option<i32>,
    update: &ListingUpdate,
) -> Result<Listing, ApiError> {
    if expected.is_some_and(|v| v != current.version) {
        return Err(org::stale(current.version));
    }
    diesel::update(
        listings::table
            .find(&current.id)
            .filter(listings::version.eq(current.version)),
    )
    .set((
        update,
        listings::version.eq(current.version + 1),
        listings::updated_at.eq(now()),
    ))
    .execute(conn)?;
    let changed = Listing::find(conn, &current.id)?
        .ok_or_else(|| ApiError::NotFound("listing vanished".into()))?;
    derived::listing_changed(conn, Some(current), Some(&changed))?;
    Ok(changed)
}

/// Deletes a listing and its derived data.
pub fn delete(conn: &mut DbConnection, listing: &Listing) -> QueryResult<()> {
    derived::listing_changed(conn, Some(listing), None)?;
    diesel::delete(listings::table.find(&listing.id)).execute(conn)?;
    Ok(())
}
