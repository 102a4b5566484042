//! Full-text search on PostgreSQL: `tsvector`s of the folded search columns (`simple`
//! configuration, no stemming, like FTS5) behind GIN indexes; nothing to maintain besides
//! the columns.

/// A tsquery: every term as a prefix, all required. Terms are letters and digits only, so
/// they need no quoting inside the tsquery (the whole query is then one SQL string literal).
pub(super) fn ts_query(terms: &[String]) -> String {
    terms
        .iter()
        .map(|t| format!("{t}:*"))
        .collect::<Vec<_>>()
        .join(" & ")
}

/// See [`super::matches`].
pub(super) fn matches(terms: &[String]) -> String {
    format!(
        "to_tsvector('simple', listings.search_title || ' ' || listings.search_tags || ' ' || listings.search_body) @@ to_tsquery('simple', '{}')",
        ts_query(terms)
    )
}

/// `weight` when the field contains every term, else 0.
pub(super) fn field_score(terms: &[String], column: &str, weight: i32) -> String {
    format!(
        "(CASE WHEN to_tsvector('simple', listings.search_{column}) @@ to_tsquery('simple', '{}') THEN {weight} ELSE 0 END)",
        ts_query(terms)
    )
}
