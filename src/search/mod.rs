//! Full-text search over listings' public text, the same on both backends: text is folded
//! in Rust (case, diacritics, `ß` → `ss`) before it is indexed and before it is queried, so
//! "Außergewöhnlicher" is found by `aussergewohnlicher`, `außergewöhnlicher` and
//! `AUSSERGEWÖHNLICHER`. SQLite uses FTS5, PostgreSQL a GIN `tsvector` index (`simple`
//! configuration: no stemming, like FTS5). Each query term also matches as a prefix, so
//! `kunden` finds "Kundenservice".
//!
//! Relevance is a document-only score (title 4, tags 2, description 1 for the fields that
//! contain every term), so it does not shift as other listings are added and cursor pages
//! stay stable.

use unicode_normalization::UnicodeNormalization;

use crate::db::DbConnection;

mod postgres;
mod sqlite;

/// Most terms of one query.
pub const MAX_TERMS: usize = 8;

/// Folds text for indexing and querying: lower-case, `ß` → `ss`, diacritics removed,
/// everything but letters and digits turned into spaces.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.nfd() {
        if unicode_normalization::char::is_combining_mark(c) {
            continue;
        }
        match c {
            'ß' | 'ẞ' => out.push_str("ss"),
            c if c.is_alphanumeric() => out.extend(c.to_lowercase()),
            _ => out.push(' '),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The distinct folded terms of a query, at most [`MAX_TERMS`].
pub fn terms(query: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for term in fold(query).split(' ').filter(|t| !t.is_empty()) {
        let term: String = term.chars().take(40).collect();
        if !terms.contains(&term) {
            terms.push(term);
        }
        if terms.len() == MAX_TERMS {
            break;
        }
    }
    terms
}

/// Which full-text dialect a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The dialect of a connection.
    pub fn of(conn: &DbConnection) -> Dialect {
        match conn {
            DbConnection::Sqlite(_) => Dialect::Sqlite,
            DbConnection::Pg(_) => Dialect::Postgres,
        }
    }
}

/// SQL that is true when a listing's public text contains every term. Terms are letters
/// and digits only (see [`fold`]), so they are inlined safely.
pub fn matches(dialect: Dialect, terms: &[String]) -> String {
    match dialect {
        Dialect::Sqlite => sqlite::matches(terms),
        Dialect::Postgres => postgres::matches(terms),
    }
}

/// SQL for the relevance score of a listing (title 4 + tags 2 + description 1, for each
/// field that contains every term).
pub fn score(dialect: Dialect, terms: &[String]) -> String {
    let part = |column: &str, weight: i32| match dialect {
        Dialect::Sqlite => sqlite::field_score(terms, column, weight),
        Dialect::Postgres => postgres::field_score(terms, column, weight),
    };
    format!(
        "({} + {} + {})",
        part("title", 4),
        part("tags", 2),
        part("body", 1)
    )
}

/// Replaces a listing's entry in the full-text index (SQLite's FTS table; PostgreSQL
/// indexes the search columns themselves).
pub fn index(
    conn: &mut DbConnection,
    listing_id: &str,
    title: &str,
    tags: &str,
    body: &str,
) -> diesel::QueryResult<()> {
    unindex(conn, listing_id)?;
    index_new(conn, listing_id, title, tags, body)
}

/// Adds a listing that is not in the full-text index yet.
pub fn index_new(
    conn: &mut DbConnection,
    listing_id: &str,
    title: &str,
    tags: &str,
    body: &str,
) -> diesel::QueryResult<()> {
    match conn {
        DbConnection::Sqlite(c) => sqlite::index_new(c, listing_id, title, tags, body),
        DbConnection::Pg(_) => Ok(()),
    }
}

/// Removes a listing from the full-text index.
pub fn unindex(conn: &mut DbConnection, listing_id: &str) -> diesel::QueryResult<()> {
    match conn {
        DbConnection::Sqlite(c) => sqlite::unindex(c, listing_id),
        DbConnection::Pg(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_german_text() {
        assert_eq!(
            fold("Außergewöhnlicher Kundenservice!"),
            "aussergewohnlicher kundenservice"
        );
        assert_eq!(fold("AUSSERGEWÖHNLICHER"), "aussergewohnlicher");
        assert_eq!(fold("Café-Crème, 24/7"), "cafe creme 24 7");
    }

    #[test]
    fn terms_are_distinct_and_bounded() {
        assert_eq!(terms("Kunden kunden SERVICE"), vec!["kunden", "service"]);
        assert_eq!(terms("a b c d e f g h i j").len(), MAX_TERMS);
        assert!(terms("  %%% ").is_empty());
    }

    #[test]
    fn queries_quote_terms() {
        let t = vec!["kunden".to_owned(), "service".to_owned()];
        assert_eq!(sqlite::fts5_query(&t, None), "\"kunden\"* AND \"service\"*");
        assert_eq!(
            sqlite::fts5_query(&t, Some("title")),
            "{title} : (\"kunden\"* AND \"service\"*)"
        );
        assert_eq!(postgres::ts_query(&t), "kunden:* & service:*");
    }
}
