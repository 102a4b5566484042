//! The two parties of a proposal or agreement: `from` (the organisation that opened the
//! proposal) and `to`, whoever wrote a revision.

use serde::Serialize;
use utoipa::ToSchema;

/// One side of a proposal or agreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The organisation that opened the proposal.
    From,
    /// The organisation it was sent to.
    To,
}

impl Side {
    /// The other party.
    pub fn other(self) -> Side {
        match self {
            Side::From => Side::To,
            Side::To => Side::From,
        }
    }

    /// This side's organisation among `(from, to)`.
    pub fn org<'a>(self, from: &'a str, to: &'a str) -> &'a str {
        match self {
            Side::From => from,
            Side::To => to,
        }
    }

    /// The side `org_id` is on, if it is a party.
    pub fn of(org_id: &str, from: &str, to: &str) -> Option<Side> {
        if org_id == from {
            Some(Side::From)
        } else if org_id == to {
            Some(Side::To)
        } else {
            None
        }
    }
}
