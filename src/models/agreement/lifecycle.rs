//! The agreement lifecycle as one pure function: (state, acting [`Side`], [`Action`]) →
//! the [`Outcome`] to store, or a typed [`Refusal`].
//!
//! ```text
//! active ──complete (each side once)──▶ active, then completed when both have confirmed
//! active ──cancel (either side, with a reason)──▶ cancelled
//! ```
//! Each change of status appends a leaf to the transparency log.

use super::{Agreement, AgreementStatus};
use crate::error::ApiError;
use crate::models::party::Side;

/// What an agreement is when a party acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    pub status: AgreementStatus,
    /// Whether the `from` side has confirmed completion.
    pub from_confirmed: bool,
    /// Whether the `to` side has confirmed completion.
    pub to_confirmed: bool,
}

impl State {
    fn confirmed(&self, side: Side) -> bool {
        match side {
            Side::From => self.from_confirmed,
            Side::To => self.to_confirmed,
        }
    }
}

impl Agreement {
    /// The lifecycle state.
    pub fn state(&self) -> State {
        State {
            status: self.status,
            from_confirmed: self.from_confirmed_at.is_some(),
            to_confirmed: self.to_confirmed_at.is_some(),
        }
    }
}

/// Something a party does to an agreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Confirm that the exchange happened, for the acting side.
    Complete,
    /// Call the agreement off.
    Cancel,
}

impl Action {
    /// The verb in messages.
    pub fn verb(self) -> &'static str {
        match self {
            Action::Complete => "complete",
            Action::Cancel => "cancel",
        }
    }
}

/// What to store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Record the acting side's confirmation; `completed` when the other side had
    /// confirmed already, so the agreement is now completed.
    Confirmed { completed: bool },
    /// Cancel the agreement.
    Cancelled,
}

/// Why an action is refused; each is a 409 naming the state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The agreement is no longer active.
    #[error("cannot {action} an agreement whose status is {status}")]
    Closed {
        action: &'static str,
        status: AgreementStatus,
    },
    /// The acting side confirmed before.
    #[error("your organisation has already confirmed completion; the agreement completes when the other side confirms too")]
    AlreadyConfirmed,
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> ApiError {
        ApiError::Conflict(refusal.to_string())
    }
}

/// Decides what `side` doing `action` to an agreement in `state` leads to.
pub fn transition(state: State, side: Side, action: Action) -> Result<Outcome, Refusal> {
    if state.status != AgreementStatus::Active {
        return Err(Refusal::Closed {
            action: action.verb(),
            status: state.status,
        });
    }
    match action {
        Action::Cancel => Ok(Outcome::Cancelled),
        Action::Complete if state.confirmed(side) => Err(Refusal::AlreadyConfirmed),
        Action::Complete => Ok(Outcome::Confirmed {
            completed: state.confirmed(side.other()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AgreementStatus::*;

    fn state(status: AgreementStatus, from_confirmed: bool, to_confirmed: bool) -> State {
        State {
            status,
            from_confirmed,
            to_confirmed,
        }
    }

    /// (from confirmed, to confirmed, side, action) → outcome or refusal
    type Row = (bool, bool, Side, Action, Result<Outcome, Refusal>);

    #[test]
    fn active_agreement_table() {
        use Outcome::*;
        let table: [Row; 12] = [
            (
                false,
                false,
                Side::From,
                Action::Complete,
                Ok(Confirmed { completed: false }),
            ),
            (
                false,
                false,
                Side::To,
                Action::Complete,
                Ok(Confirmed { completed: false }),
            ),
            (
                true,
                false,
                Side::To,
                Action::Complete,
                Ok(Confirmed { completed: true }),
            ),
            (
                false,
                true,
                Side::From,
                Action::Complete,
                Ok(Confirmed { completed: true }),
            ),
            (
                true,
                false,
                Side::From,
                Action::Complete,
                Err(Refusal::AlreadyConfirmed),
            ),
            (
                false,
                true,
                Side::To,
                Action::Complete,
                Err(Refusal::AlreadyConfirmed),
            ),
            (false, false, Side::From, Action::Cancel, Ok(Cancelled)),
            (false, false, Side::To, Action::Cancel, Ok(Cancelled)),
            (true, false, Side::From, Action::Cancel, Ok(Cancelled)),
            (true, false, Side::To, Action::Cancel, Ok(Cancelled)),
            (false, true, Side::From, Action::Cancel, Ok(Cancelled)),
            (false, true, Side::To, Action::Cancel, Ok(Cancelled)),
        ];
        for (from, to, side, action, expected) in table {
            assert_eq!(
                transition(state(Active, from, to), side, action),
                expected,
                "from={from} to={to} {side:?} {action:?}"
            );
        }
    }

    #[test]
    fn completed_and_cancelled_agreements_refuse_everything() {
        for status in [Completed, Cancelled] {
            for side in [Side::From, Side::To] {
                for action in [Action::Complete, Action::Cancel] {
                    let refusal = transition(state(status, true, true), side, action).unwrap_err();
                    assert_eq!(
                        refusal,
                        Refusal::Closed {
                            action: action.verb(),
                            status
                        }
                    );
                    let problem = ApiError::from(refusal).problem();
                    assert_eq!(problem.status, 409);
                    assert!(problem.detail.contains(status.as_str()));
                }
            }
        }
        assert_eq!(
            AgreementStatus::ALL.len(),
            3,
            "a new status needs rows here"
        );
    }
}
