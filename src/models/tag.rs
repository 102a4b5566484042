//! Tags: how listings store them, and `tag_stats`, the published-listing count per tag that
//! matching weighs tags with (rare tags weigh more). Only the listing's derived-data writer
//! (`listing::derived`) changes the counts.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::db::schema::tag_stats;
use crate::db::{DbConnection, MultiBackend};

/// Splits the stored comma-joined tags.
pub fn split_tags(tags: &str) -> Vec<String> {
    tags.split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The document frequencies of `tags` (how many published listings carry each) and the
/// number of published listings, from `tag_stats`.
pub fn document_frequency(
    conn: &mut DbConnection,
    tags: &[String],
) -> QueryResult<(HashMap<String, i64>, i64)> {
    let mut wanted: Vec<&str> = tags.iter().map(String::as_str).collect();
    wanted.push("");
    let found: Vec<(String, i64)> = crate::native!(conn, |c| tag_stats::table
        .filter(tag_stats::tag.eq_any(&wanted))
        .select((tag_stats::tag, tag_stats::published))
        .load(c))?;
    let mut counts: HashMap<String, i64> = found.into_iter().filter(|(_, n)| *n > 0).collect();
    let published = counts.remove("").unwrap_or(0);
    Ok((counts, published))
}

/// Adds each change to the published-listing count of its tag (the empty tag: of all
/// listings), a statement per 100 tags. Callers pass the tags in order, so concurrent
/// writers take the rows' locks in one order and cannot deadlock.
pub fn count_published(conn: &mut DbConnection, changes: &[(String, i64)]) -> QueryResult<()> {
    for chunk in changes.chunks(100) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
            .collect();
        let mut statement = diesel::sql_query(format!(
            "INSERT INTO tag_stats (tag, published) VALUES {} \
             ON CONFLICT (tag) DO UPDATE SET published = tag_stats.published + excluded.published",
            rows.join(", ")
        ))
        .into_boxed::<MultiBackend>();
        for (tag, change) in chunk {
            statement = statement.bind::<Text, _>(tag).bind::<BigInt, _>(*change);
        }
        statement.execute(conn)?;
    }
    Ok(())
}
