//! The proposal lifecycle as one pure function: (state as of now, acting [`Side`],
//! [`Action`]) → the [`Outcome`] to store, or a typed [`Refusal`]. No database, no clock:
//! handlers lock the row, call [`transition`] with the status as of now, and store the
//! outcome in one transaction.
//!
//! ```text
//! open ──counter (the side that did not write the latest revision)──▶ open (revision + 1)
//! open ──accept(n) (the other side; n must be the latest)──▶ accepted (+ agreement)
//! open ──decline (the receiver of the latest revision)──▶ declined
//! open ──withdraw (the author of the latest revision)──▶ withdrawn
//! open ──expires_at passes──▶ expired (read as such at once; nothing runs)
//! ```

use super::ProposalStatus;
use crate::error::ApiError;
use crate::models::party::Side;

/// What a proposal is when someone acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    /// The status as of now (an open proposal past its expiry is `Expired`).
    pub status: ProposalStatus,
    /// The newest revision's number.
    pub latest_revision: i32,
    /// Who wrote the newest revision.
    pub latest_author: Side,
}

/// Something a party does to a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Answer with a new revision.
    Counter,
    /// Accept the revision with this number.
    Accept { revision: i32 },
    /// Say no.
    Decline,
    /// Take the latest revision back.
    Withdraw,
}

impl Action {
    /// The verb in messages.
    pub fn verb(self) -> &'static str {
        match self {
            Action::Counter => "counter",
            Action::Accept { .. } => "accept",
            Action::Decline => "decline",
            Action::Withdraw => "withdraw",
        }
    }
}

/// What to store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Add revision `number`, written by the acting side; the proposal stays open.
    Revised { number: i32 },
    /// Close the proposal with this status (`Accepted` also creates the agreement).
    Closed(ProposalStatus),
}

/// Why an action is refused; every refusal is a 409 that names the state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The proposal is no longer open.
    #[error("cannot {action} a proposal whose status is {status}")]
    Closed {
        action: &'static str,
        status: ProposalStatus,
    },
    /// The acting side wrote the latest revision and must wait for the other side.
    #[error("cannot {action} revision {revision}: your organisation wrote it; the other side answers it")]
    OwnRevision { action: &'static str, revision: i32 },
    /// Only the author of the latest revision may withdraw it.
    #[error("cannot withdraw revision {revision}: the other side wrote it; decline it instead")]
    NotAuthor { revision: i32 },
    /// `accept` named a revision that is not the latest.
    #[error(
        "revision {named} is not the latest; revision {latest} is — read it and accept that one"
    )]
    StaleRevision { named: i32, latest: i32 },
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> ApiError {
        ApiError::Conflict(refusal.to_string())
    }
}

/// Decides what `side` doing `action` to a proposal in `state` leads to.
pub fn transition(state: State, side: Side, action: Action) -> Result<Outcome, Refusal> {
    if state.status != ProposalStatus::Open {
        return Err(Refusal::Closed {
            action: action.verb(),
            status: state.status,
        });
    }
    let own = side == state.latest_author;
    let latest = state.latest_revision;
    match action {
        Action::Withdraw if own => Ok(Outcome::Closed(ProposalStatus::Withdrawn)),
        Action::Withdraw => Err(Refusal::NotAuthor { revision: latest }),
        _ if own => Err(Refusal::OwnRevision {
            action: action.verb(),
            revision: latest,
        }),
        Action::Counter => Ok(Outcome::Revised { number: latest + 1 }),
        Action::Decline => Ok(Outcome::Closed(ProposalStatus::Declined)),
        Action::Accept { revision } if revision != latest => Err(Refusal::StaleRevision {
            named: revision,
            latest,
        }),
        Action::Accept { .. } => Ok(Outcome::Closed(ProposalStatus::Accepted)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProposalStatus::*;

    fn open(latest_author: Side) -> State {
        State {
            status: Open,
            latest_revision: 2,
            latest_author,
        }
    }

    const ACTIONS: [Action; 5] = [
        Action::Counter,
        Action::Accept { revision: 2 },
        Action::Accept { revision: 1 },
        Action::Decline,
        Action::Withdraw,
    ];

    /// Every action by each side on an open proposal whose latest revision `From` wrote.
    #[test]
    fn open_proposal_table() {
        use Outcome::*;
        let table: [(Side, Action, Result<Outcome, &str>); 10] = [
            (Side::To, Action::Counter, Ok(Revised { number: 3 })),
            (
                Side::To,
                Action::Accept { revision: 2 },
                Ok(Closed(Accepted)),
            ),
            (Side::To, Action::Accept { revision: 1 }, Err("stale")),
            (Side::To, Action::Decline, Ok(Closed(Declined))),
            (Side::To, Action::Withdraw, Err("not author")),
            (Side::From, Action::Counter, Err("own")),
            (Side::From, Action::Accept { revision: 2 }, Err("own")),
            (Side::From, Action::Accept { revision: 1 }, Err("own")),
            (Side::From, Action::Decline, Err("own")),
            (Side::From, Action::Withdraw, Ok(Closed(Withdrawn))),
        ];
        for (side, action, expected) in table {
            let got = transition(open(Side::From), side, action);
            let kind = got.as_ref().map_err(|r| match r {
                Refusal::StaleRevision { .. } => "stale",
                Refusal::NotAuthor { .. } => "not author",
                Refusal::OwnRevision { .. } => "own",
                Refusal::Closed { .. } => "closed",
            });
            assert_eq!(kind.copied(), expected, "{side:?} {action:?}");
        }
    }

    /// The table is symmetric: swapping who wrote the latest revision swaps the sides.
    #[test]
    fn the_sides_are_symmetric() {
        for action in ACTIONS {
            for side in [Side::From, Side::To] {
                assert_eq!(
                    transition(open(Side::From), side, action),
                    transition(open(Side::To), side.other(), action),
                    "{side:?} {action:?}"
                );
            }
        }
    }

    /// Nothing can be done to a closed or expired proposal, by either side, and the
    /// refusal names the status.
    #[test]
    fn closed_proposals_refuse_everything() {
        for status in [Accepted, Declined, Withdrawn, Expired] {
            for side in [Side::From, Side::To] {
                for action in ACTIONS {
                    let state = State {
                        status,
                        ..open(Side::From)
                    };
                    let refusal = transition(state, side, action).unwrap_err();
                    assert_eq!(
                        refusal,
                        Refusal::Closed {
                            action: action.verb(),
                            status
                        }
                    );
                    assert!(refusal.to_string().contains(status.as_str()));
                }
            }
        }
        assert_eq!(ProposalStatus::ALL.len(), 5, "a new status needs rows here");
    }

    #[test]
    fn refusals_are_conflicts_that_say_what_to_do() {
        let refusal =
            transition(open(Side::From), Side::To, Action::Accept { revision: 1 }).unwrap_err();
        let problem = ApiError::from(refusal).problem();
        assert_eq!(problem.status, 409);
        assert!(
            problem.detail.contains("revision 2 is"),
            "{}",
            problem.detail
        );
        let refusal =
            transition(open(Side::From), Side::To, Action::Accept { revision: 9 }).unwrap_err();
        assert!(refusal.to_string().contains("revision 9 is not the latest"));
    }
}
