//! Full-text search on SQLite: an FTS5 table `listings_fts` with the words of each field
//! (`title`, `tags`, `body`), the same words qualified by their field (`fielded`: `t…`,
//! `g…`, `b…`, so "this word in the title" has a posting list of its own) and the
//! attribute tokens (`attrs`). Its rowid is the document's `seq`, so a query ordered by
//! rowid with a limit stops after the page, newest first. (FTS5 walks its posting lists
//! forwards faster, but it must see rowids in ascending order when they are written, or it
//! flushes its pending terms at each row: a bulk load of 100,000 listings took minutes
//! with negated rowids.)

use diesel::sql_types::{BigInt, Text};
use diesel::{QueryResult, RunQueryDsl, SqliteConnection};

use crate::search::query::{fielded, Counted, Expr, Field, Hit, Term, Want};

fn quoted(tokens: &[String], op: &str) -> String {
    tokens
        .iter()
        .map(|t| format!("\"{t}\""))
        .collect::<Vec<_>>()
        .join(&format!(" {op} "))
}

/// One term (a word, one of several words, or a prefix), each word with `qualifier` in
/// front.
fn term(term: &Term, qualifier: &str) -> String {
    match term {
        Term::Words(words) => {
            let words: Vec<String> = words.iter().map(|w| format!("{qualifier}{w}")).collect();
            match words.as_slice() {
                [one] => format!("\"{one}\""),
                _ => format!("({})", quoted(&words, "OR")),
            }
        }
        Term::Prefix(prefix) => format!("\"{qualifier}{prefix}\"*"),
    }
}

/// Every term, in any of the plain word columns.
fn anywhere(terms: &[Term]) -> String {
    let all: Vec<String> = terms.iter().map(|t| term(t, "")).collect();
    format!("{{title tags body}} : ({})", all.join(" AND "))
}

/// Every term in `field` (through the field-qualified tokens).
fn within(terms: &[Term], field: Field) -> String {
    let all: Vec<String> = terms.iter().map(|t| term(t, field.qualifier())).collect();
    format!("{{fielded}} : ({})", all.join(" AND "))
}

/// The FTS5 query of an expression. Terms and tokens are letters and digits only (see
/// [`super::fold`], [`super::attr`]), so quoting them is enough.
pub(super) fn query(expr: &Expr) -> String {
    let mut positive = Vec::new();
    if !expr.all_of.is_empty() {
        positive.push(format!("{{attrs}} : ({})", quoted(&expr.all_of, "AND")));
    }
    if !expr.any_of.is_empty() {
        positive.push(format!("{{attrs}} : ({})", quoted(&expr.any_of, "OR")));
    }
    if !expr.terms.is_empty() {
        if expr.in_fields.is_empty() {
            positive.push(anywhere(&expr.terms));
        } else {
            for field in &expr.in_fields {
                positive.push(within(&expr.terms, *field));
            }
        }
    }
    let mut query = positive
        .iter()
        .map(|p| format!("({p})"))
        .collect::<Vec<_>>()
        .join(" AND ");
    if !expr.terms.is_empty() && !expr.not_in_fields.is_empty() {
        query = format!("({query})");
        for field in &expr.not_in_fields {
            query.push_str(&format!(" NOT ({})", within(&expr.terms, *field)));
        }
    }
    query
}

/// See [`super::hits`].
pub(super) fn hits(
    conn: &mut SqliteConnection,
    query: &str,
    before: i64,
    limit: i64,
    want: Want,
) -> QueryResult<Vec<Hit>> {
    // No scores: which columns matched is not known without reading them.
    let view = if want.views { "d.public_view" } else { "NULL" };
    diesel::sql_query(format!(
        "SELECT d.seq AS seq, d.listing_id AS listing_id, d.kind AS kind, \
         d.category AS category, d.tags AS tags, d.expires_at AS expires_at, \
         {view} AS public_view, NULL AS score \
         FROM listings_fts JOIN search_docs AS d ON d.seq = listings_fts.rowid \
         WHERE listings_fts MATCH $1 AND listings_fts.rowid < $2 \
         ORDER BY listings_fts.rowid DESC LIMIT $3"
    ))
    .bind::<Text, _>(query)
    .bind::<BigInt, _>(before)
    .bind::<BigInt, _>(limit)
    .load(conn)
}

/// See [`super::count`].
pub(super) fn count(
    conn: &mut SqliteConnection,
    query: &str,
    cap: i64,
) -> QueryResult<(i64, Option<i64>)> {
    let counted: Counted = diesel::sql_query(
        "SELECT COUNT(*) AS n, MIN(r) AS oldest FROM (SELECT rowid AS r FROM listings_fts \
         WHERE listings_fts MATCH $1 ORDER BY rowid DESC LIMIT $2)",
    )
    .bind::<Text, _>(query)
    .bind::<BigInt, _>(cap)
    .get_result(conn)?;
    Ok((counted.n, counted.oldest))
}

/// Writes a document's full-text row (replacing the old one when `replace`).
pub(super) fn write(
    conn: &mut SqliteConnection,
    seq: i64,
    replace: bool,
    [title, tags, body]: [&str; 3],
    attrs: &str,
) -> QueryResult<()> {
    if replace {
        remove(conn, seq)?;
    }
    diesel::sql_query(
        "INSERT INTO listings_fts (rowid, title, tags, body, fielded, attrs) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind::<BigInt, _>(seq)
    .bind::<Text, _>(title)
    .bind::<Text, _>(tags)
    .bind::<Text, _>(body)
    .bind::<Text, _>(fielded([title, tags, body]).join(" "))
    .bind::<Text, _>(attrs)
    .execute(conn)?;
    Ok(())
}

/// Rewrites a document's attribute tokens.
pub(super) fn set_attrs(conn: &mut SqliteConnection, seq: i64, attrs: &str) -> QueryResult<()> {
    diesel::sql_query("UPDATE listings_fts SET attrs = $1 WHERE rowid = $2")
        .bind::<Text, _>(attrs)
        .bind::<BigInt, _>(seq)
        .execute(conn)?;
    Ok(())
}

/// Removes a document's full-text row.
pub(super) fn remove(conn: &mut SqliteConnection, seq: i64) -> QueryResult<()> {
    diesel::sql_query("DELETE FROM listings_fts WHERE rowid = $1")
        .bind::<BigInt, _>(seq)
        .execute(conn)?;
    Ok(())
}
