//! What a matching query asks for, shared by the dialects (`sqlite.rs`, `postgres.rs`) and
//! the dispatch in `mod.rs`.

use chrono::NaiveDateTime;

use crate::matching::Vocabulary;

/// Which other listings may match.
#[derive(Debug, Clone, Default)]
pub struct MatchScope {
    /// `None`: any industry.
    pub industry: Option<String>,
    pub region: Option<String>,
    pub category: Option<String>,
    pub trial: Option<bool>,
}

/// How many postings of one tag are read at most (the newest that pass the filters).
/// Common tags are carried by a fixed share of a growing catalogue; reading only their
/// newest postings keeps the cost of a match bounded while rare tags are read in full.
pub const POSTINGS_PER_TAG: i64 = 50;

/// Which postings [`super::candidates`] reads, as each dialect receives it.
pub(super) struct Wanted<'a> {
    pub(super) vocabulary: &'a Vocabulary,
    /// Indices into `vocabulary`.
    pub(super) tags: &'a [u32],
    pub(super) kind: &'a str,
    pub(super) scope: &'a MatchScope,
    pub(super) exclude_org: &'a str,
    pub(super) now: NaiveDateTime,
}
