//! Matching's candidate postings on SQLite.

use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::query::{Wanted, POSTINGS_PER_TAG};
use crate::db::schema::{listing_tags, orgs};
use crate::models::listing::ListingStatus;
use crate::models::user::AccountStatus;

/// SQLite: one small prepared statement per tag (in-process, so a statement per tag costs
/// no round trip, and diesel keeps the prepared statement for the next request).
pub(super) fn postings_per_tag(
    conn: &mut diesel::SqliteConnection,
    wanted: &Wanted,
) -> QueryResult<Vec<(String, String, u32)>> {
    let (scope, now) = (wanted.scope, wanted.now);
    let mut rows = Vec::new();
    for &index in wanted.tags {
        let tag = &wanted.vocabulary.tags[index as usize];
        // One statement text whatever the filters (an absent filter is a bound `true`), so
        // diesel keeps one prepared statement and need not render SQL to find it.
        let suspended = orgs::table
            .filter(orgs::status.eq(AccountStatus::Suspended))
            .select(orgs::id);
        let any = |absent: bool| absent.into_sql::<Bool>();
        let query = listing_tags::table
            .filter(listing_tags::tag.eq(tag))
            .filter(listing_tags::kind.eq(wanted.kind))
            .filter(listing_tags::status.eq(ListingStatus::Published))
            .filter(listing_tags::org_id.ne(wanted.exclude_org))
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
