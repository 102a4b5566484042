//! The database circuit breaker: a pure state machine over plain values (no clock, no
//! database), so every state × event is a row of a table test.
//!
//! While the database is known to be down, waiting for it helps nobody: each request would
//! hold a worker's blocking thread for the pool's whole time-out before its 503. After
//! `threshold` consecutive connection failures the breaker *opens*: requests are refused at
//! once for `open_for`. Then one request is let through as a *probe* (half-open); its
//! success closes the breaker, its failure opens it again. A probe that never reports
//! (its client went away before it ran) is replaced after `probe_timeout`.

use std::time::{Duration, Instant};

/// How the breaker trips and recovers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Consecutive connection failures that open the breaker (at least 1).
    pub threshold: u32,
    /// How long it stays open before a probe is let through.
    pub open_for: Duration,
    /// How long a probe may take before another request probes instead.
    pub probe_timeout: Duration,
}

/// Where the breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// The database answers; `failures` consecutive connection failures so far.
    Closed { failures: u32 },
    /// The database is known to be down until `until`.
    Open { until: Instant },
    /// One probe, admitted at `since`, decides.
    HalfOpen { since: Instant },
}

/// What a request may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead.
    Pass,
    /// Go ahead as the one probe of a half-open breaker.
    Probe,
    /// Refused at once: the database is down.
    Reject,
}

/// What a request that went ahead found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The database answered (with rows or with an error of its own, such as a conflict).
    Answered,
    /// No connection could be had, or it broke.
    ConnectionFailed,
}

impl BreakerState {
    /// A closed breaker without failures.
    pub const CLOSED: BreakerState = BreakerState::Closed { failures: 0 };

    /// Whether a request arriving at `now` may go ahead, and the state after.
    pub fn admit(self, now: Instant, policy: &BreakerPolicy) -> (BreakerState, Admission) {
        match self {
            BreakerState::Closed { .. } => (self, Admission::Pass),
            BreakerState::Open { until } if now >= until => {
                (BreakerState::HalfOpen { since: now }, Admission::Probe)
            }
            BreakerState::HalfOpen { since } if now >= since + policy.probe_timeout => {
                (BreakerState::HalfOpen { since: now }, Admission::Probe)
            }
            BreakerState::Open { .. } | BreakerState::HalfOpen { .. } => (self, Admission::Reject),
        }
    }

    /// The state after a request reported what it found at `now`.
    pub fn record(self, outcome: Outcome, now: Instant, policy: &BreakerPolicy) -> BreakerState {
        let open = BreakerState::Open {
            until: now + policy.open_for,
        };
        match (self, outcome) {
            (BreakerState::Closed { .. }, Outcome::Answered) => BreakerState::CLOSED,
            (BreakerState::Closed { failures }, Outcome::ConnectionFailed) => {
                if failures + 1 >= policy.threshold.max(1) {
                    open
                } else {
                    BreakerState::Closed {
                        failures: failures + 1,
                    }
                }
            }
            (BreakerState::HalfOpen { .. }, Outcome::Answered) => BreakerState::CLOSED,
            (BreakerState::HalfOpen { .. }, Outcome::ConnectionFailed) => open,
            // Reports of requests admitted before the breaker opened say nothing new: a
            // late success may have used a connection from before the outage, and the
            // window must not grow with every straggler's failure.
            (BreakerState::Open { .. }, _) => self,
        }
    }

    /// Whether requests are being refused (open, or half-open with its probe out).
    pub fn is_refusing(self) -> bool {
        !matches!(self, BreakerState::Closed { .. })
    }
}

#[cfg(test)]
mod tests {
    use crate::db::breaker::*;

    const POLICY: BreakerPolicy = BreakerPolicy {
        threshold: 2,
        open_for: Duration::from_secs(1),
        probe_timeout: Duration::from_secs(6),
    };

    #[test]
    fn admission_in_every_state() {
        let t = Instant::now();
        let s = Duration::from_secs;
        let open = BreakerState::Open { until: t + s(1) };
        let probing = BreakerState::HalfOpen { since: t };
        let table = [
            // (state, at, expected state after, admission)
            (
                BreakerState::CLOSED,
                t,
                BreakerState::CLOSED,
                Admission::Pass,
            ),
            (
                BreakerState::Closed { failures: 1 },
                t,
                BreakerState::Closed { failures: 1 },
                Admission::Pass,
            ),
            (open, t, open, Admission::Reject),
            (
                open,
                t + s(1),
                BreakerState::HalfOpen { since: t + s(1) },
                Admission::Probe,
            ),
            (probing, t + s(5), probing, Admission::Reject),
            (
                probing,
                t + s(6),
                BreakerState::HalfOpen { since: t + s(6) },
                Admission::Probe,
            ),
        ];
        for (state, at, after, admission) in table {
            assert_eq!(state.admit(at, &POLICY), (after, admission), "{state:?}");
        }
    }

    #[test]
    fn outcomes_in_every_state() {
        let t = Instant::now();
        let s = Duration::from_secs;
        let open_now = BreakerState::Open { until: t + s(1) };
        let open_earlier = BreakerState::Open {
            until: t + Duration::from_millis(300),
        };
        let probing = BreakerState::HalfOpen { since: t };
        use Outcome::{Answered, ConnectionFailed};
        let table = [
            (BreakerState::CLOSED, Answered, BreakerState::CLOSED),
            (
                BreakerState::CLOSED,
                ConnectionFailed,
                BreakerState::Closed { failures: 1 },
            ),
            (
                BreakerState::Closed { failures: 1 },
                Answered,
                BreakerState::CLOSED,
            ),
            (
                BreakerState::Closed { failures: 1 },
                ConnectionFailed,
                open_now,
            ),
            (open_earlier, Answered, open_earlier),
            (open_earlier, ConnectionFailed, open_earlier),
            (probing, Answered, BreakerState::CLOSED),
            (probing, ConnectionFailed, open_now),
        ];
        for (state, outcome, after) in table {
            assert_eq!(
                state.record(outcome, t, &POLICY),
                after,
                "{state:?} {outcome:?}"
            );
        }
    }

    #[test]
    fn a_threshold_of_zero_counts_as_one() {
        let t = Instant::now();
        let policy = BreakerPolicy {
            threshold: 0,
            ..POLICY
        };
        let after = BreakerState::CLOSED.record(Outcome::ConnectionFailed, t, &policy);
        assert!(after.is_refusing());
    }

    #[test]
    fn an_outage_and_its_recovery() {
        let t = Instant::now();
        let ms = Duration::from_millis;
        let mut state = BreakerState::CLOSED;
        for _ in 0..2 {
            state = state.record(Outcome::ConnectionFailed, t, &POLICY);
        }
        assert_eq!(state.admit(t + ms(500), &POLICY).1, Admission::Reject);
        let (probing, admission) = state.admit(t + ms(1000), &POLICY);
        assert_eq!(admission, Admission::Probe);
        assert_eq!(probing.admit(t + ms(1001), &POLICY).1, Admission::Reject);
        let reopened = probing.record(Outcome::ConnectionFailed, t + ms(1200), &POLICY);
        assert_eq!(reopened.admit(t + ms(2100), &POLICY).1, Admission::Reject);
        let (probing, admission) = reopened.admit(t + ms(2200), &POLICY);
        assert_eq!(admission, Admission::Probe);
        let closed = probing.record(Outcome::Answered, t + ms(2300), &POLICY);
        assert_eq!(closed, BreakerState::CLOSED);
        assert_eq!(closed.admit(t + ms(2301), &POLICY).1, Admission::Pass);
    }
}
