//! Full-text search over listings, the same on both backends, with every query's cost
//! bounded by the page, not by the size of its result.
//!
//! Text is folded in Rust (case, diacritics, `ß` → `ss`) before it is indexed and before it
//! is queried, so "Außergewöhnlicher" is found by `aussergewohnlicher`, `außergewöhnlicher`
//! and `AUSSERGEWÖHNLICHER`. Query terms of at least [`MIN_PREFIX`] characters also match as
//! word prefixes (`kunden` finds "Kundenservice"); shorter ones match whole words only (a
//! one-letter prefix would match most of the catalogue).
//!
//! Each listing has a *search document* (`search_docs`): the attributes search filters and
//! counts on, whether the listing is in the public catalogue right now (`visible`), and a
//! sequence number `seq` that orders the catalogue newest first. The document's words and
//! its attributes (as tokens: `pub`, `koffer`, `cexpertise`, a tag, a region …) are indexed
//! together — SQLite: an FTS5 table whose rowid is `seq`, attributes in their own column;
//! PostgreSQL: one weighted `tsvector` behind a GIN index, attributes as lexemes of weight
//! D — so a filter is an intersection inside the full-text index instead of a join per hit.
//!
//! Relevance is a document-only score (title 4, tags 2, description 1 for the fields that
//! contain every term), so it does not shift as other listings are added and cursor pages
//! stay stable. Each score belongs to exactly one combination of fields, so the best page
//! is read tier by tier (all three fields, then title and tags, …), each tier newest first,
//! stopping once the page is full (see `models::listing_search`).
//!
//! `facet_counts` holds the facet counts of the whole public catalogue, kept in step with
//! the documents in the same transaction. Listings whose expiry has passed leave the
//! public catalogue at the next search ([`sweep_expired`]), which bumps the catalogue
//! version like any other change.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Timestamp};
use unicode_normalization::UnicodeNormalization;

use crate::db::{DbConnection, MultiBackend};

mod postgres;
mod query;
mod sqlite;

use query::{indexed, is_prefix};
pub use query::{tiers, Expr, Field, Hit, Term, Want, MAX_WORD, MIN_PREFIX};

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
        let term: String = term.chars().take(MAX_WORD).collect();
        if !terms.contains(&term) {
            terms.push(term);
        }
        if terms.len() == MAX_TERMS {
            break;
        }
    }
    terms
}

/// The attribute tokens of search documents (letters and digits only, so both full-text
/// engines keep each as one token; values of free text are hex-encoded).
pub mod attr {
    fn hex(value: &str) -> String {
        value.bytes().map(|b| format!("{b:02x}")).collect()
    }

    /// In the public catalogue right now.
    pub fn visible() -> String {
        "pub".into()
    }
    pub fn status(status: &str) -> String {
        format!("s{}", status.replace('_', ""))
    }
    pub fn kind(kind: &str) -> String {
        format!("k{kind}")
    }
    pub fn category(category: &str) -> String {
        format!("c{category}")
    }
    pub fn industry(industry: &str) -> String {
        format!("i{}", hex(industry))
    }
    pub fn region(region: &str) -> String {
        format!("r{}", hex(region))
    }
    pub fn trial(trial: bool) -> String {
        format!("t{}", u8::from(trial))
    }
    pub fn org(org_id: &str) -> String {
        format!("o{}", org_id.replace('-', ""))
    }
    pub fn tag(tag: &str) -> String {
        format!("g{}", hex(tag))
    }
}

/// The most words a prefix is expanded into.
pub const MAX_EXPANSION: usize = 64;

/// Expands query terms (see [`Term`]) from `search_terms`, one index range per term.
/// Both engines stream a few exact words in order; a prefix they first merge in full.
pub fn expand(conn: &mut DbConnection, terms: &[String]) -> QueryResult<Vec<Term>> {
    #[derive(QueryableByName)]
    struct Word {
        #[diesel(sql_type = Text)]
        term: String,
    }
    let mut out = Vec::with_capacity(terms.len());
    for term in terms {
        if !is_prefix(term) {
            out.push(Term::Words(vec![term.clone()]));
            continue;
        }
        let words: Vec<Word> = diesel::sql_query(
            "SELECT term FROM search_terms WHERE term >= $1 AND term < $2 ORDER BY term LIMIT $3",
        )
        .bind::<Text, _>(term)
        .bind::<Text, _>(format!("{term}{}", char::MAX))
        .bind::<BigInt, _>(MAX_EXPANSION as i64 + 1)
        .load(conn)?;
        out.push(if words.len() > MAX_EXPANSION {
            Term::Prefix(term.clone())
        } else {
            Term::Words(words.into_iter().map(|w| w.term).collect())
        });
    }
    Ok(out)
}

/// Records the words of an indexed text in `search_terms`, a statement per 200 words.
fn record_words(conn: &mut DbConnection, texts: [&str; 3]) -> QueryResult<()> {
    let mut words: Vec<&str> = texts
        .iter()
        .flat_map(|t| t.split(' '))
        .filter(|w| w.chars().count() >= MIN_PREFIX)
        .collect();
    words.sort_unstable();
    words.dedup();
    for chunk in words.chunks(200) {
        let rows: Vec<String> = (1..=chunk.len()).map(|i| format!("(${i})")).collect();
        let mut statement = diesel::sql_query(format!(
            "INSERT INTO search_terms (term) VALUES {} ON CONFLICT (term) DO NOTHING",
            rows.join(", ")
        ))
        .into_boxed::<MultiBackend>();
        for word in chunk {
            statement = statement.bind::<Text, _>(*word);
        }
        statement.execute(conn)?;
    }
    Ok(())
}

/// Up to `limit` documents matching `expr`, newest first, before `before` (a `seq`), with
/// what `want` asks for.
pub fn hits(
    conn: &mut DbConnection,
    expr: &Expr,
    before: Option<i64>,
    limit: i64,
    want: Want,
) -> QueryResult<Vec<Hit>> {
    let before = before.unwrap_or(i64::MAX);
    if expr.impossible() {
        return Ok(Vec::new());
    }
    match conn {
        DbConnection::Sqlite(c) => sqlite::hits(c, &sqlite::query(expr), before, limit, want),
        DbConnection::Pg(c) => postgres::hits(c, expr, before, limit, want),
    }
}

/// How many documents match `expr`, counting at most `cap`, and the `seq` of the oldest
/// one counted (to extrapolate from when the count reached `cap`).
pub fn count(conn: &mut DbConnection, expr: &Expr, cap: i64) -> QueryResult<(i64, Option<i64>)> {
    if expr.impossible() {
        return Ok((0, None));
    }
    match conn {
        DbConnection::Sqlite(c) => sqlite::count(c, &sqlite::query(expr), cap),
        DbConnection::Pg(c) => postgres::count(c, &postgres::query(expr), cap),
    }
}

/// Runs `$body` on the concrete connection (as `crate::native!`) with `$visible` the test
/// "the document is visible" as each planner needs it to use an index and keep a good
/// plan: SQLite uses an index only for an equality (`visible = ?`); PostgreSQL's generic
/// plan of a prepared statement must not depend on a parameter (`visible` alone).
macro_rules! with_visible {
    ($conn:expr, |$c:ident, $visible:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => {
                let $visible = crate::db::schema::search_docs::visible.eq(true);
                $body
            }
            $crate::db::DbConnection::Pg($c) => {
                let $visible = crate::db::schema::search_docs::visible;
                $body
            }
        }
    };
}

/// The earliest expiry among the visible documents, as a scalar subquery (one end of
/// `search_docs_expiry`; no time in it, see [`probe`]).
macro_rules! next_expiry {
    ($visible:expr) => {
        crate::db::schema::search_docs::table
            .filter($visible)
            .select(diesel::dsl::min(crate::db::schema::search_docs::expires_at))
            .single_value()
    };
}

/// The lowest and highest `seq` of all documents (none without documents).
pub type SeqRange = Option<(i64, i64)>;

/// The lowest and highest `seq` of all documents.
pub fn seq_range(conn: &mut DbConnection) -> QueryResult<SeqRange> {
    Ok(probe(conn)?.1)
}

/// The earliest expiry among the visible documents (whether one is due is that compared
/// with the time, see [`sweep_expired`]) and the lowest and highest `seq` of all
/// documents: what a public search asks first, in one statement, built with diesel's query
/// builder (not raw SQL) on the concrete connection so that it is prepared once per
/// connection. Each part is one end of an index. The statement has no time in it, and on
/// PostgreSQL no parameter at all, so its generic plan cannot be worse than its first ones
/// (with a bound time and `visible = $1` it chose a scan of the whole table for "is any
/// expired?", 50 ms a search, once a fresh `ANALYZE` had changed its estimates).
pub fn probe(conn: &mut DbConnection) -> QueryResult<(Option<NaiveDateTime>, SeqRange)> {
    use crate::db::schema::search_docs as d;
    use diesel::dsl::{max, min};
    let (expiry, low, high): (Option<NaiveDateTime>, Option<i64>, Option<i64>) =
        with_visible!(conn, |c, visible| {
            diesel::select((
                next_expiry!(visible),
                d::table.select(min(d::seq)).single_value(),
                d::table.select(max(d::seq)).single_value(),
            ))
            .get_result(c)
        })?;
    Ok((expiry, low.zip(high)))
}

/// A listing as its search document holds it (text folded by [`fold`]).
#[derive(Debug, Clone)]
pub struct Doc<'a> {
    pub listing_id: &'a str,
    pub org_id: &'a str,
    pub status: &'a str,
    pub kind: &'a str,
    pub category: &'a str,
    pub industry: &'a str,
    pub region: Option<&'a str>,
    pub trial: bool,
    /// The approved tags, comma-joined.
    pub tags: &'a str,
    pub expires_at: Option<NaiveDateTime>,
    /// Whether its organisation is active (not suspended).
    pub org_active: bool,
    pub title_words: &'a str,
    pub tag_words: &'a str,
    pub body_words: &'a str,
    /// The listing's public JSON form (what a public page shows of it).
    pub public_view: &'a str,
}

impl Doc<'_> {
    /// Whether the listing is in the public catalogue at `now`.
    pub fn visible(&self, now: NaiveDateTime) -> bool {
        visible(self.status, self.org_active, self.expires_at, now)
    }
}

/// Whether a listing is in the public catalogue at `now`: published, its organisation
/// active, not expired.
fn visible(
    status: &str,
    org_active: bool,
    expires_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> bool {
    status == "published" && org_active && expires_at.is_none_or(|t| t > now)
}

/// The stored attributes of a document, as far as they decide its tokens and counts.
#[derive(Debug, Clone, QueryableByName)]
struct Stored {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Text)]
    listing_id: String,
    #[diesel(sql_type = Text)]
    org_id: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    category: String,
    #[diesel(sql_type = Text)]
    industry: String,
    #[diesel(sql_type = Nullable<Text>)]
    region: Option<String>,
    #[diesel(sql_type = Bool)]
    trial_available: bool,
    #[diesel(sql_type = Text)]
    tags: String,
    #[diesel(sql_type = Nullable<Timestamp>)]
    expires_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Bool)]
    visible: bool,
}

const STORED: &str = "seq, listing_id, org_id, status, kind, category, industry, region, \
                      trial_available, tags, expires_at, visible";

impl Stored {
    fn attrs(&self) -> String {
        attrs(
            self.visible,
            &self.status,
            &self.kind,
            &self.category,
            &self.industry,
            self.region.as_deref(),
            self.trial_available,
            &self.org_id,
            &self.tags,
        )
    }

    fn count(&self, changes: &mut FacetChanges, sign: i64) {
        if self.visible {
            changes.add(&self.kind, &self.category, &self.tags, sign);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn attrs(
    visible: bool,
    status: &str,
    kind: &str,
    category: &str,
    industry: &str,
    region: Option<&str>,
    trial: bool,
    org_id: &str,
    tags: &str,
) -> String {
    let mut tokens = vec![
        attr::status(status),
        attr::kind(kind),
        attr::category(category),
        attr::industry(industry),
        attr::trial(trial),
        attr::org(org_id),
    ];
    if visible {
        tokens.push(attr::visible());
    }
    if let Some(region) = region {
        tokens.push(attr::region(region));
    }
    tokens.extend(tags.split(',').filter(|t| !t.is_empty()).map(attr::tag));
    tokens.join(" ")
}

fn stored(conn: &mut DbConnection, listing_id: &str) -> QueryResult<Option<Stored>> {
    diesel::sql_query(format!(
        "SELECT {STORED} FROM search_docs WHERE listing_id = $1"
    ))
    .bind::<Text, _>(listing_id)
    .get_result(conn)
    .optional()
}

/// Changes of the public catalogue's facet counts, written once per transaction.
#[derive(Debug, Default)]
pub struct FacetChanges(BTreeMap<(&'static str, String), i64>);

impl FacetChanges {
    fn add(&mut self, kind: &str, category: &str, tags: &str, sign: i64) {
        let mut bump = |facet: &'static str, value: &str| {
            *self.0.entry((facet, value.to_owned())).or_default() += sign;
        };
        bump("kind", kind);
        bump("category", category);
        for tag in tags.split(',').filter(|t| !t.is_empty()) {
            bump("tag", tag);
        }
    }

    /// Writes the non-zero changes, in key order (so concurrent writers take the rows'
    /// locks in one order and cannot deadlock), a statement per 100 rows.
    pub fn write(self, conn: &mut DbConnection) -> QueryResult<()> {
        let changes: Vec<_> = self.0.into_iter().filter(|(_, d)| *d != 0).collect();
        for chunk in changes.chunks(100) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
                .collect();
            let mut statement = diesel::sql_query(format!(
                "INSERT INTO facet_counts (facet, value, count) VALUES {} \
                 ON CONFLICT (facet, value) DO UPDATE SET count = facet_counts.count + excluded.count",
                rows.join(", ")
            ))
            .into_boxed::<MultiBackend>();
            for ((facet, value), change) in chunk {
                statement = statement
                    .bind::<Text, _>(*facet)
                    .bind::<Text, _>(value)
                    .bind::<BigInt, _>(*change);
            }
            statement.execute(conn)?;
        }
        Ok(())
    }
}

/// Writes (or replaces) a listing's search document as of `now`; its `seq` stays.
pub fn index(
    conn: &mut DbConnection,
    doc: &Doc,
    now: NaiveDateTime,
    changes: &mut FacetChanges,
) -> QueryResult<()> {
    let old = stored(conn, doc.listing_id)?;
    if let Some(old) = &old {
        old.count(changes, -1);
    }
    let visible = doc.visible(now);
    let attrs = attrs(
        visible,
        doc.status,
        doc.kind,
        doc.category,
        doc.industry,
        doc.region,
        doc.trial,
        doc.org_id,
        doc.tags,
    );
    let (title, tags, body) = (
        indexed(doc.title_words),
        indexed(doc.tag_words),
        indexed(doc.body_words),
    );
    let words = [title.as_str(), tags.as_str(), body.as_str()];
    record_words(conn, words)?;
    // PostgreSQL's tsvector is a column of the document, written by the same statement, so
    // a document is one row version (writing it afterwards doubled a bulk load's table).
    let pg = matches!(conn, DbConnection::Pg(_));
    let mut columns = vec![
        "org_id",
        "status",
        "kind",
        "category",
        "industry",
        "region",
        "trial_available",
        "tags",
        "expires_at",
        "visible",
        "public_view",
    ];
    let mut values: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
    if pg {
        columns.push("doc");
        values.push("array_to_tsvector($13)".to_owned());
    }
    let statement = match old {
        Some(_) => {
            let set: Vec<String> = columns
                .iter()
                .zip(&values)
                .map(|(column, value)| format!("{column} = {value}"))
                .collect();
            format!(
                "UPDATE search_docs SET {} WHERE listing_id = $12 RETURNING seq",
                set.join(", ")
            )
        }
        None => format!(
            "INSERT INTO search_docs ({}, listing_id) VALUES ({}, $12) RETURNING seq",
            columns.join(", "),
            values.join(", ")
        ),
    };
    #[derive(QueryableByName)]
    struct Seq {
        #[diesel(sql_type = BigInt)]
        seq: i64,
    }
    macro_rules! with_columns {
        ($statement:expr) => {
            diesel::sql_query($statement)
                .bind::<Text, _>(doc.org_id)
                .bind::<Text, _>(doc.status)
                .bind::<Text, _>(doc.kind)
                .bind::<Text, _>(doc.category)
                .bind::<Text, _>(doc.industry)
                .bind::<Nullable<Text>, _>(doc.region)
                .bind::<Bool, _>(doc.trial)
                .bind::<Text, _>(doc.tags)
                .bind::<Nullable<Timestamp>, _>(doc.expires_at)
                .bind::<Bool, _>(visible)
                .bind::<Text, _>(doc.public_view)
                .bind::<Text, _>(doc.listing_id)
        };
    }
    match conn {
        DbConnection::Sqlite(c) => {
            let Seq { seq } = with_columns!(statement).get_result(c)?;
            sqlite::write(c, seq, old.is_some(), words, &attrs)?;
        }
        DbConnection::Pg(c) => {
            with_columns!(statement)
                .bind::<Array<Text>, _>(postgres::lexemes(words, &attrs))
                .get_result::<Seq>(c)?;
        }
    }
    if visible {
        changes.add(doc.kind, doc.category, doc.tags, 1);
    }
    Ok(())
}

/// Rewrites a listing's public JSON form in its document, when nothing the document
/// indexes changed.
pub fn set_public_view(
    conn: &mut DbConnection,
    listing_id: &str,
    public_view: &str,
) -> QueryResult<()> {
    diesel::sql_query("UPDATE search_docs SET public_view = $1 WHERE listing_id = $2")
        .bind::<Text, _>(public_view)
        .bind::<Text, _>(listing_id)
        .execute(conn)?;
    Ok(())
}

/// The public JSON forms of documents by `seq` (those that no longer exist are absent).
pub fn public_views(
    conn: &mut DbConnection,
    seqs: &[i64],
) -> QueryResult<std::collections::HashMap<i64, String>> {
    use crate::db::schema::search_docs as d;
    if seqs.is_empty() {
        return Ok(Default::default());
    }
    let views: Vec<(i64, String)> = crate::native!(conn, |c| d::table
        .filter(d::seq.eq_any(seqs))
        .select((d::seq, d::public_view))
        .load(c))?;
    Ok(views.into_iter().collect())
}

/// Removes a listing's search document.
pub fn unindex(
    conn: &mut DbConnection,
    listing_id: &str,
    changes: &mut FacetChanges,
) -> QueryResult<()> {
    let Some(old) = stored(conn, listing_id)? else {
        return Ok(());
    };
    old.count(changes, -1);
    if let DbConnection::Sqlite(c) = conn {
        sqlite::remove(c, old.seq)?;
    }
    diesel::sql_query("DELETE FROM search_docs WHERE seq = $1")
        .bind::<BigInt, _>(old.seq)
        .execute(conn)?;
    Ok(())
}

/// Sets documents' visibility, rewriting their attribute tokens and the facet counts.
fn set_visible(
    conn: &mut DbConnection,
    docs: Vec<Stored>,
    visible: impl Fn(&Stored) -> bool,
    changes: &mut FacetChanges,
) -> QueryResult<usize> {
    let mut changed = 0;
    for mut doc in docs {
        let now_visible = visible(&doc);
        if now_visible == doc.visible {
            continue;
        }
        doc.count(changes, -1);
        doc.visible = now_visible;
        doc.count(changes, 1);
        diesel::sql_query("UPDATE search_docs SET visible = $1 WHERE seq = $2")
            .bind::<Bool, _>(now_visible)
            .bind::<BigInt, _>(doc.seq)
            .execute(conn)?;
        let attrs = doc.attrs();
        match conn {
            DbConnection::Sqlite(c) => sqlite::set_attrs(c, doc.seq, &attrs)?,
            DbConnection::Pg(c) => postgres::set_attrs(c, doc.seq, &doc.listing_id, &attrs)?,
        }
        changed += 1;
    }
    Ok(changed)
}

/// An organisation was suspended (`active` false) or reinstated: its published listings
/// leave or rejoin the public catalogue.
pub fn org_status_changed(
    conn: &mut DbConnection,
    org_id: &str,
    active: bool,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let docs: Vec<Stored> = diesel::sql_query(format!(
        "SELECT {STORED} FROM search_docs WHERE org_id = $1 ORDER BY seq"
    ))
    .bind::<Text, _>(org_id)
    .load(conn)?;
    let mut changes = FacetChanges::default();
    set_visible(
        conn,
        docs,
        |d| visible(&d.status, active, d.expires_at, now),
        &mut changes,
    )?;
    changes.write(conn)
}

/// A document as [`visible_hits`] reads it: a [`Hit`] with its public JSON form.
type VisibleRow = (
    i64,
    String,
    String,
    String,
    String,
    Option<NaiveDateTime>,
    String,
);

/// Up to `limit` documents of the whole public catalogue, newest first, before `before`
/// (one index range, `search_docs_visible`); with their public JSON forms when `want`
/// asks for them.
pub fn visible_hits(
    conn: &mut DbConnection,
    before: Option<i64>,
    limit: i64,
    want: Want,
) -> QueryResult<Vec<Hit>> {
    use crate::db::schema::search_docs as d;
    let before = before.unwrap_or(i64::MAX);
    let rows: Vec<VisibleRow> = with_visible!(conn, |c, visible| d::table
        .filter(visible)
        .filter(d::seq.lt(before))
        .order(d::seq.desc())
        .limit(limit)
        .select((
            d::seq,
            d::listing_id,
            d::kind,
            d::category,
            d::tags,
            d::expires_at,
            d::public_view,
        ))
        .load(c))?;
    Ok(rows
        .into_iter()
        .map(
            |(seq, listing_id, kind, category, tags, expires_at, view)| Hit {
                seq,
                listing_id,
                kind,
                category,
                tags,
                expires_at,
                public_view: want.views.then_some(view),
                score: None,
            },
        )
        .collect())
}

/// Takes the listings whose expiry has passed by `now` out of the public catalogue (call
/// inside a write transaction, then bump the catalogue version if it answers more than 0).
/// Concurrent sweeps of several instances are harmless: a document already taken out is
/// left alone.
pub fn sweep_expired(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
    let docs: Vec<Stored> = diesel::sql_query(format!(
        "SELECT {STORED} FROM search_docs WHERE visible = TRUE AND expires_at <= $1 ORDER BY seq"
    ))
    .bind::<Timestamp, _>(now)
    .load(conn)?;
    let mut changes = FacetChanges::default();
    let changed = set_visible(conn, docs, |_| false, &mut changes)?;
    changes.write(conn)?;
    Ok(changed)
}

/// One facet value and its count in `facet_counts`.
#[derive(Debug, Clone, PartialEq)]
pub struct Counted {
    pub facet: String,
    pub value: String,
    pub count: i64,
}

/// The public catalogue's non-zero counts in the order of `facet_counts_top` (facet, then
/// most frequent first, then by value), at most `limit` rows, and the earliest expiry
/// among the visible documents (see [`probe`]). One index range and one probe in one
/// statement, prepared once per connection, because this runs at every catalogue page.
/// Facets sort `category`, `kind`, `tag`, so a limit of every possible category and kind
/// plus `n` holds all of those and at least the `n` most frequent tags. (No counts: no
/// visible document, so none expires.)
pub fn catalogue_counts(
    conn: &mut DbConnection,
    limit: i64,
) -> QueryResult<(Vec<Counted>, Option<NaiveDateTime>)> {
    use crate::db::schema::facet_counts as f;
    let counts: Vec<(String, String, i64, Option<NaiveDateTime>)> =
        with_visible!(conn, |c, visible| f::table
            .select((f::facet, f::value, f::count, next_expiry!(visible)))
            .filter(f::count.gt(0))
            .order((f::facet.asc(), f::count.desc(), f::value.asc()))
            .limit(limit)
            .load(c))?;
    let expiry = counts.first().and_then(|row| row.3);
    let counts = counts
        .into_iter()
        .map(|(facet, value, count, _)| Counted {
            facet,
            value,
            count,
        })
        .collect();
    Ok((counts, expiry))
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
    fn indexed_words_are_cut_like_query_terms() {
        let long = "ä".repeat(50);
        let folded = fold(&format!("Tee {long}"));
        let cut = indexed(&folded);
        assert_eq!(cut, format!("tee {}", "a".repeat(MAX_WORD)));
        assert_eq!(terms(&long), vec!["a".repeat(MAX_WORD)]);
    }

    #[test]
    fn terms_are_distinct_and_bounded() {
        assert_eq!(terms("Kunden kunden SERVICE"), vec!["kunden", "service"]);
        assert_eq!(terms("a b c d e f g h i j").len(), MAX_TERMS);
        assert!(terms("  %%% ").is_empty());
    }

    #[test]
    fn tiers_run_from_all_fields_to_the_description_alone() {
        let scores: Vec<i32> = tiers().iter().map(|(s, _)| *s).collect();
        assert_eq!(scores, vec![7, 6, 5, 4, 3, 2, 1, 0]);
        assert!(tiers()[7].1.is_empty());
        assert_eq!(tiers()[2].1, vec![Field::Title, Field::Body]);
    }

    #[test]
    fn fielded_tokens_qualify_each_distinct_word_by_its_field() {
        assert_eq!(
            query::fielded(["kaffee kurs", "kaffee", "kurs ab kurs"]),
            vec!["tkaffee", "tkurs", "gkaffee", "bab", "bkurs"]
        );
    }

    #[test]
    fn attribute_tokens_are_single_words() {
        for token in [
            attr::status("pending_review"),
            attr::industry("Hotel & Gastro"),
            attr::region("Südtirol"),
            attr::org("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
            attr::tag("käse-bio"),
        ] {
            assert!(
                token
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
                "{token}"
            );
            assert_eq!(fold(&token), token);
        }
    }

    fn expr() -> Expr {
        Expr {
            all_of: vec![attr::visible(), attr::kind("offer")],
            any_of: vec![],
            terms: vec![
                Term::Prefix("kunden".to_owned()),
                Term::Words(vec!["ab".to_owned()]),
            ],
            in_fields: vec![],
            not_in_fields: vec![],
        }
    }

    #[test]
    fn queries_quote_terms_and_prefix_only_long_ones() {
        assert_eq!(
            sqlite::query(&expr()),
            "({attrs} : (\"pub\" AND \"koffer\")) AND ({title tags body} : (\"kunden\"* AND \"ab\"))"
        );
        assert_eq!(
            postgres::query(&expr()),
            "'=pub' & '=koffer' & 'kunden':* & 'ab'"
        );
        let expanded = Expr {
            terms: vec![Term::Words(vec!["kunden".into(), "kundenservice".into()])],
            ..expr()
        };
        assert_eq!(
            sqlite::query(&expanded),
            "({attrs} : (\"pub\" AND \"koffer\")) AND ({title tags body} : ((\"kunden\" OR \"kundenservice\")))"
        );
        assert_eq!(
            postgres::query(&expanded),
            "'=pub' & '=koffer' & ('kunden' | 'kundenservice')"
        );
        let nothing = Expr {
            terms: vec![Term::Words(vec![])],
            ..expr()
        };
        assert!(nothing.impossible() && !expanded.impossible());
    }

    #[test]
    fn a_tier_requires_its_fields_and_excludes_the_others() {
        let tier = expr().tier(&[Field::Title, Field::Body]);
        assert_eq!(
            sqlite::query(&tier),
            "(({attrs} : (\"pub\" AND \"koffer\")) AND ({fielded} : (\"tkunden\"* AND \"tab\")) \
             AND ({fielded} : (\"bkunden\"* AND \"bab\"))) NOT ({fielded} : (\"gkunden\"* AND \"gab\"))"
        );
        assert_eq!(
            postgres::query(&tier),
            "'=pub' & '=koffer' & ('t:kunden':* & 't:ab') & ('b:kunden':* & 'b:ab') \
             & !('g:kunden':* & 'g:ab')"
        );
        let statuses = Expr {
            any_of: vec![attr::status("draft"), attr::status("published")],
            all_of: vec![attr::org("x")],
            ..Expr::default()
        };
        assert_eq!(
            sqlite::query(&statuses),
            "({attrs} : (\"ox\")) AND ({attrs} : (\"sdraft\" OR \"spublished\"))"
        );
        assert_eq!(
            postgres::query(&statuses),
            "'=ox' & ('=sdraft' | '=spublished')"
        );
    }
}
