//! The catalogue version: one row bumped in the same transaction as every change of what
//! the public catalogue shows (listing writes, organisation suspensions), so cached searches
//! on every instance know when they are stale (see [`crate::catalogue_cache`]).

use diesel::prelude::*;

use crate::db::schema::catalogue_state;
use crate::db::DbConnection;

/// Marks the public catalogue as changed; call inside the transaction of the change.
pub fn changed(conn: &mut DbConnection) -> QueryResult<()> {
    diesel::update(catalogue_state::table.find(1))
        .set(catalogue_state::version.eq(catalogue_state::version + 1))
        .execute(conn)?;
    Ok(())
}

/// The current catalogue version.
pub fn version(conn: &mut DbConnection) -> QueryResult<i64> {
    crate::native!(conn, |c| catalogue_state::table
        .find(1)
        .select(catalogue_state::version)
        .first(c))
}
