//! Full-text search on PostgreSQL: `search_docs.doc`, one `tsvector` of the folded words
//! (`simple` configuration, no stemming, like FTS5; weight A title, B tags, C description)
//! and the attribute tokens (weight D, so a word never passes for an attribute), behind a
//! GIN index.

use diesel::sql_types::{BigInt, Text};
use diesel::{PgConnection, QueryResult, RunQueryDsl};

use super::{Expr, Field, Hit, Term};

fn weight(field: Field) -> &'static str {
    match field {
        Field::Title => "A",
        Field::Tags => "B",
        Field::Body => "C",
    }
}

/// Every term with the given weights (a word, one of several words, or a prefix).
fn terms_in(terms: &[Term], weights: &str) -> Vec<String> {
    terms
        .iter()
        .map(|t| match t {
            Term::Words(words) if words.len() == 1 => format!("'{}':{weights}", words[0]),
            Term::Words(words) => {
                let any: Vec<String> = words.iter().map(|w| format!("'{w}':{weights}")).collect();
                format!("({})", any.join(" | "))
            }
            Term::Prefix(prefix) => format!("'{prefix}':*{weights}"),
        })
        .collect()
}

/// The tsquery of an expression. Terms and tokens are letters and digits only (see
/// [`super::fold`], [`super::attr`]), so quoting them is enough.
pub(super) fn query(expr: &Expr) -> String {
    let mut parts: Vec<String> = expr.all_of.iter().map(|t| format!("'{t}':D")).collect();
    if !expr.any_of.is_empty() {
        let any: Vec<String> = expr.any_of.iter().map(|t| format!("'{t}':D")).collect();
        parts.push(format!("({})", any.join(" | ")));
    }
    if !expr.terms.is_empty() {
        if expr.in_fields.is_empty() {
            parts.extend(terms_in(&expr.terms, "ABC"));
        } else {
            for field in &expr.in_fields {
                parts.push(format!(
                    "({})",
                    terms_in(&expr.terms, weight(*field)).join(" & ")
                ));
            }
        }
        for field in &expr.not_in_fields {
            parts.push(format!(
                "!({})",
                terms_in(&expr.terms, weight(*field)).join(" & ")
            ));
        }
    }
    parts.join(" & ")
}

/// See [`super::hits`].
pub(super) fn hits(
    conn: &mut PgConnection,
    query: &str,
    before: i64,
    limit: i64,
) -> QueryResult<Vec<Hit>> {
    diesel::sql_query(
        "SELECT seq, listing_id, kind, category, tags, expires_at FROM search_docs \
         WHERE doc @@ $1::tsquery AND seq < $2 ORDER BY seq DESC LIMIT $3",
    )
    .bind::<Text, _>(query)
    .bind::<BigInt, _>(before)
    .bind::<BigInt, _>(limit)
    .load(conn)
}

#[derive(diesel::QueryableByName)]
struct Counted {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
    oldest: Option<i64>,
}

/// See [`super::count`].
pub(super) fn count(
    conn: &mut PgConnection,
    query: &str,
    cap: i64,
) -> QueryResult<(i64, Option<i64>)> {
    let counted: Counted = diesel::sql_query(
        "SELECT COUNT(*) AS n, MIN(seq) AS oldest FROM (SELECT seq FROM search_docs \
         WHERE doc @@ $1::tsquery ORDER BY seq DESC LIMIT $2) AS counted",
    )
    .bind::<Text, _>(query)
    .bind::<BigInt, _>(cap)
    .get_result(conn)?;
    Ok((counted.n, counted.oldest))
}

const DOC: &str = "setweight(to_tsvector('simple', $1), 'A') \
                   || setweight(to_tsvector('simple', $2), 'B') \
                   || setweight(to_tsvector('simple', $3), 'C') \
                   || setweight(to_tsvector('simple', $4), 'D')";

/// Writes a document's `tsvector`.
pub(super) fn write(
    conn: &mut PgConnection,
    seq: i64,
    [title, tags, body]: [&str; 3],
    attrs: &str,
) -> QueryResult<()> {
    diesel::sql_query(format!("UPDATE search_docs SET doc = {DOC} WHERE seq = $5"))
        .bind::<Text, _>(title)
        .bind::<Text, _>(tags)
        .bind::<Text, _>(body)
        .bind::<Text, _>(attrs)
        .bind::<BigInt, _>(seq)
        .execute(conn)?;
    Ok(())
}

/// Rewrites a document's attribute tokens (its words are read back from the listing's
/// folded search columns).
pub(super) fn set_attrs(
    conn: &mut PgConnection,
    seq: i64,
    listing_id: &str,
    attrs: &str,
) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE search_docs SET doc = setweight(to_tsvector('simple', l.search_title), 'A') \
         || setweight(to_tsvector('simple', l.search_tags), 'B') \
         || setweight(to_tsvector('simple', l.search_body), 'C') \
         || setweight(to_tsvector('simple', $1), 'D') \
         FROM listings AS l WHERE l.id = $2 AND search_docs.seq = $3",
    )
    .bind::<Text, _>(attrs)
    .bind::<Text, _>(listing_id)
    .bind::<BigInt, _>(seq)
    .execute(conn)?;
    Ok(())
}
