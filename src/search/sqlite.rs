//! Full-text search on SQLite: an FTS5 table `listings_fts` (title, tags, body) kept in
//! step with the folded search columns.

use diesel::sql_types::Text;
use diesel::{RunQueryDsl, SqliteConnection};

/// An FTS5 query: every term as a quoted prefix, optionally within one column.
/// (FTS5 column filters use the column names of `listings_fts`: title, tags, body.)
pub(super) fn fts5_query(terms: &[String], column: Option<&str>) -> String {
    let all = terms
        .iter()
        .map(|t| format!("\"{t}\"*"))
        .collect::<Vec<_>>()
        .join(" AND ");
    match column {
        Some(column) => format!("{{{column}}} : ({all})"),
        None => all,
    }
}

/// See [`super::matches`].
pub(super) fn matches(terms: &[String]) -> String {
    format!(
        "listings.id IN (SELECT listing_id FROM listings_fts WHERE listings_fts MATCH '{}')",
        fts5_query(terms, None)
    )
}

/// `weight` when the field contains every term, else 0.
pub(super) fn field_score(terms: &[String], column: &str, weight: i32) -> String {
    format!(
        "(CASE WHEN listings.id IN (SELECT listing_id FROM listings_fts WHERE listings_fts MATCH '{}') THEN {weight} ELSE 0 END)",
        fts5_query(terms, Some(column))
    )
}

/// Adds a listing to the FTS table.
pub(super) fn index_new(
    conn: &mut SqliteConnection,
    listing_id: &str,
    title: &str,
    tags: &str,
    body: &str,
) -> diesel::QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO listings_fts (listing_id, title, tags, body) VALUES ($1, $2, $3, $4)",
    )
    .bind::<Text, _>(listing_id)
    .bind::<Text, _>(title)
    .bind::<Text, _>(tags)
    .bind::<Text, _>(body)
    .execute(conn)?;
    Ok(())
}

/// Removes a listing from the FTS table.
pub(super) fn unindex(conn: &mut SqliteConnection, listing_id: &str) -> diesel::QueryResult<()> {
    diesel::sql_query("DELETE FROM listings_fts WHERE listing_id = $1")
        .bind::<Text, _>(listing_id)
        .execute(conn)?;
    Ok(())
}
