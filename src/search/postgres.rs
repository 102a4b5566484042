//! Full-text search on PostgreSQL: `search_docs.doc`, one `tsvector` built without a
//! parser (`array_to_tsvector`) from the folded words, the same words qualified by their
//! field (`t:…`, `g:…`, `b:…`, so "this word in the title" has a posting list of its own)
//! and the attribute tokens (`=…`), behind a GIN index. The three kinds of lexeme cannot
//! collide: folded words hold letters and digits only.

use diesel::sql_types::{Array, BigInt, Text};
use diesel::{PgConnection, QueryResult, RunQueryDsl};

use crate::search::query::{fielded, indexed, Counted, Expr, Field, Hit, Term, Want};

/// One term (a word, one of several words, or a prefix), each word with `qualifier` in
/// front.
fn term(term: &Term, qualifier: &str) -> String {
    match term {
        Term::Words(words) => {
            let any: Vec<String> = words.iter().map(|w| format!("'{qualifier}{w}'")).collect();
            match any.as_slice() {
                [one] => one.clone(),
                _ => format!("({})", any.join(" | ")),
            }
        }
        Term::Prefix(prefix) => format!("'{qualifier}{prefix}':*"),
    }
}

fn qualifier(field: Field) -> String {
    format!("{}:", field.qualifier())
}

/// The tsquery of an expression. Terms and tokens are letters and digits only (see
/// [`super::fold`], [`super::attr`]), so quoting them is enough.
pub(super) fn query(expr: &Expr) -> String {
    let mut parts: Vec<String> = expr.all_of.iter().map(|t| format!("'={t}'")).collect();
    if !expr.any_of.is_empty() {
        let any: Vec<String> = expr.any_of.iter().map(|t| format!("'={t}'")).collect();
        parts.push(format!("({})", any.join(" | ")));
    }
    if expr.in_fields.is_empty() {
        parts.extend(expr.terms.iter().map(|t| term(t, "")));
    } else {
        for field in &expr.in_fields {
            let all: Vec<String> = expr
                .terms
                .iter()
                .map(|t| term(t, &qualifier(*field)))
                .collect();
            parts.push(format!("({})", all.join(" & ")));
        }
    }
    if !expr.terms.is_empty() {
        for field in &expr.not_in_fields {
            let all: Vec<String> = expr
                .terms
                .iter()
                .map(|t| term(t, &qualifier(*field)))
                .collect();
            parts.push(format!("!({})", all.join(" & ")));
        }
    }
    parts.join(" & ")
}

/// See [`super::hits`]. Scores are the weights of the fields holding every term, each
/// tested on the document the row already holds.
pub(super) fn hits(
    conn: &mut PgConnection,
    expr: &Expr,
    before: i64,
    limit: i64,
    want: Want,
) -> QueryResult<Vec<Hit>> {
    let view = if want.views {
        "public_view"
    } else {
        "NULL::text"
    };
    let scored = want.scores && !expr.terms.is_empty();
    let score = if scored {
        let weighted: Vec<String> = Field::ALL
            .iter()
            .enumerate()
            .map(|(i, field)| {
                format!(
                    "CASE WHEN doc @@ ${}::tsquery THEN {} ELSE 0 END",
                    i + 4,
                    field.weight()
                )
            })
            .collect();
        format!("({})", weighted.join(" + "))
    } else {
        "NULL::int".to_owned()
    };
    let mut statement = diesel::sql_query(format!(
        "SELECT seq, listing_id, kind, category, tags, expires_at, {view} AS public_view, \
         {score} AS score FROM search_docs \
         WHERE doc @@ $1::tsquery AND seq < $2 ORDER BY seq DESC LIMIT $3"
    ))
    .into_boxed::<diesel::pg::Pg>()
    .bind::<Text, _>(query(expr))
    .bind::<BigInt, _>(before)
    .bind::<BigInt, _>(limit);
    if scored {
        for field in Field::ALL {
            let within = Expr {
                terms: expr.terms.clone(),
                in_fields: vec![field],
                ..Expr::default()
            };
            statement = statement.bind::<Text, _>(query(&within));
        }
    }
    statement.load(conn)
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

/// The lexemes of a document.
pub(super) fn lexemes(words: [&str; 3], attrs: &str) -> Vec<String> {
    let mut out: Vec<String> = words
        .iter()
        .flat_map(|w| w.split(' '))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    out.extend(fielded(words).into_iter().map(|t| {
        let (qualifier, word) = t.split_at(1);
        format!("{qualifier}:{word}")
    }));
    out.extend(
        attrs
            .split(' ')
            .filter(|t| !t.is_empty())
            .map(|t| format!("={t}")),
    );
    out.sort_unstable();
    out.dedup();
    out
}

/// Writes a document's `tsvector`.
pub(super) fn write(
    conn: &mut PgConnection,
    seq: i64,
    words: [&str; 3],
    attrs: &str,
) -> QueryResult<()> {
    diesel::sql_query("UPDATE search_docs SET doc = array_to_tsvector($1) WHERE seq = $2")
        .bind::<Array<Text>, _>(lexemes(words, attrs))
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
    #[derive(diesel::QueryableByName)]
    struct Words {
        #[diesel(sql_type = Text)]
        search_title: String,
        #[diesel(sql_type = Text)]
        search_tags: String,
        #[diesel(sql_type = Text)]
        search_body: String,
    }
    let w: Words = diesel::sql_query(
        "SELECT search_title, search_tags, search_body FROM listings WHERE id = $1",
    )
    .bind::<Text, _>(listing_id)
    .get_result(conn)?;
    let words = [
        indexed(&w.search_title),
        indexed(&w.search_tags),
        indexed(&w.search_body),
    ];
    write(conn, seq, [&words[0], &words[1], &words[2]], attrs)
}
