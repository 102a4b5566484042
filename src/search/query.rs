//! What a search asks of a search document, whichever engine answers it: the terms (as
//! words or prefixes), the fields and relevance tiers, the attribute tokens, and what a hit
//! returns. The dialects (`sqlite.rs`, `postgres.rs`) render an [`Expr`] as their query.

use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};
use diesel::QueryableByName;

use chrono::NaiveDateTime;

/// The shortest term that also matches as a word prefix.
pub const MIN_PREFIX: usize = 3;

/// The longest word, in characters, the index holds; longer words are cut to it, as query
/// terms are (PostgreSQL refuses lexemes of over 2 KB, and a query of a 5,000-letter word
/// is no search).
pub const MAX_WORD: usize = 40;

/// A folded text as it is indexed: every word cut to [`MAX_WORD`] characters.
pub(crate) fn indexed(text: &str) -> String {
    text.split(' ')
        .map(|w| match w.char_indices().nth(MAX_WORD) {
            Some((cut, _)) => &w[..cut],
            None => w,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a term also matches as a word prefix.
pub(crate) fn is_prefix(term: &str) -> bool {
    term.chars().count() >= MIN_PREFIX
}

/// A field of a listing's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Title,
    Tags,
    Body,
}

impl Field {
    /// Every field, in the order of their weights.
    pub const ALL: [Field; 3] = [Field::Title, Field::Tags, Field::Body];

    /// The letter that qualifies the field's words in the field-qualified tokens.
    pub fn qualifier(self) -> &'static str {
        match self {
            Field::Title => "t",
            Field::Tags => "g",
            Field::Body => "b",
        }
    }

    /// The field's relevance weight.
    pub fn weight(self) -> i32 {
        match self {
            Field::Title => 4,
            Field::Tags => 2,
            Field::Body => 1,
        }
    }
}

/// The field-qualified tokens of a document's folded words (title, tags, body): each
/// distinct word of a field with the field's [`Field::qualifier`] in front.
pub(crate) fn fielded(words: [&str; 3]) -> Vec<String> {
    let mut out = Vec::new();
    for (field, text) in Field::ALL.into_iter().zip(words) {
        let mut seen: Vec<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
        seen.sort_unstable();
        seen.dedup();
        out.extend(
            seen.into_iter()
                .map(|w| format!("{}{w}", field.qualifier())),
        );
    }
    out
}

/// A query term as the engines search it: one of these words exactly (the term itself, or
/// every indexed word it is a prefix of), or, when a prefix stands for more than
/// `search::MAX_EXPANSION` words, the prefix itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    Words(Vec<String>),
    Prefix(String),
}

/// What a search asks of a document: every attribute in `all_of`, one of `any_of` (if
/// any), every term (in any field, or in each of `in_fields`), and not every term in any
/// of `not_in_fields`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expr {
    pub all_of: Vec<String>,
    pub any_of: Vec<String>,
    pub terms: Vec<Term>,
    pub in_fields: Vec<Field>,
    pub not_in_fields: Vec<Field>,
}

impl Expr {
    /// Whether nothing can match: a term stands for no indexed word.
    pub fn impossible(&self) -> bool {
        self.terms
            .iter()
            .any(|t| matches!(t, Term::Words(words) if words.is_empty()))
    }

    /// The same search restricted to documents whose fields holding every term are
    /// exactly `fields` (one relevance tier).
    pub fn tier(&self, fields: &[Field]) -> Expr {
        Expr {
            in_fields: fields.to_vec(),
            not_in_fields: Field::ALL
                .into_iter()
                .filter(|f| !fields.contains(f))
                .collect(),
            ..self.clone()
        }
    }
}

/// The relevance tiers, best first: each score and the fields that give it (score 0: no
/// field holds every term, they are spread over several).
pub fn tiers() -> Vec<(i32, Vec<Field>)> {
    let mut tiers: Vec<(i32, Vec<Field>)> = (0u8..8)
        .map(|mask| {
            let fields: Vec<Field> = Field::ALL
                .into_iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, f)| f)
                .collect();
            (fields.iter().map(|f| f.weight()).sum(), fields)
        })
        .collect();
    tiers.sort_by_key(|(score, _)| -score);
    tiers
}

/// A document a search found: what the page and the facet counts need.
#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub struct Hit {
    #[diesel(sql_type = BigInt)]
    pub seq: i64,
    #[diesel(sql_type = Text)]
    pub listing_id: String,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub category: String,
    #[diesel(sql_type = Text)]
    pub tags: String,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub expires_at: Option<NaiveDateTime>,
    /// The listing's public JSON form, when asked for.
    #[diesel(sql_type = Nullable<Text>)]
    pub public_view: Option<String>,
    /// The relevance score (see [`tiers`]), when asked for and the engine gives it while
    /// it reads the document (PostgreSQL; SQLite's full-text index cannot say which of its
    /// columns matched without reading them).
    #[diesel(sql_type = Nullable<Integer>)]
    pub score: Option<i32>,
}

/// What a search should return with each hit besides its attributes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Want {
    /// The listing's public JSON form (a page's rows, not a sample to count).
    pub views: bool,
    /// The relevance score, where the engine gives it.
    pub scores: bool,
}

/// What a count of matches answers: how many (at most the cap asked for) and the `seq` of
/// the oldest one counted.
#[derive(QueryableByName)]
pub(crate) struct Counted {
    #[diesel(sql_type = BigInt)]
    pub(crate) n: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub(crate) oldest: Option<i64>,
}
