//! Per-instance leases on callers' quotas, so a cheap request does not pay a database write
//! for its rate limit.
//!
//! The count of record is the database row of (class, caller) (`models::rate_limit`). An
//! instance takes hits from it in chunks — one atomic upsert adds `chunk` to the row — and
//! then admits requests from its lease in memory until the lease is spent or the window
//! ends. A lease never grants more than what the row had left, so across every instance no
//! caller is ever admitted more than its quota per window; the price is that hits leased
//! by one instance and not used by the window's end are lost (at most one chunk per
//! instance and caller). Once the row says the quota is gone, the instance refuses the rest
//! of the window from memory, so a flood of refused requests costs no database work.
//!
//! Pure bookkeeping: no database, no clock (callers pass `now` in Unix seconds).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::models::rate_limit::Taken;

/// Where a caller stands in one limit after a request was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// Requests still allowed in this window (the `r` of the `RateLimit` header).
    pub remaining: u32,
    /// Seconds until the window ends (the `t` of the header; at least 1).
    pub reset: u32,
}

/// The outcome for one request in one limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Admitted(Standing),
    Refused(Standing),
}

#[derive(Debug, Clone, Copy)]
struct Lease {
    window_end: i64,
    /// Hits leased to this instance and not yet used.
    left: u32,
    /// What the database row had left after this instance's latest lease.
    unleased: u32,
}

impl Lease {
    fn standing(&self, now: i64) -> Standing {
        Standing {
            remaining: self.left.saturating_add(self.unleased),
            reset: (self.window_end - now).clamp(1, u32::MAX as i64) as u32,
        }
    }
}

/// Entries beyond which ended windows are swept out on the next lease.
const SWEEP_ABOVE: usize = 4096;

/// This instance's leases, one per (class, caller) with a live window.
#[derive(Debug, Default)]
pub struct Leases {
    entries: Mutex<HashMap<String, Lease>>,
}

/// How many hits to lease at once for a quota of `count`: a tenth of it, at most
/// `max_chunk`, at least one — so a tight quota (a handful of reports) is counted exactly
/// in the database while a generous one costs one database write per chunk.
pub fn chunk_for(count: u32, max_chunk: u32) -> u32 {
    (count / 10).clamp(1, max_chunk.max(1))
}

impl Leases {
    /// Decides from memory when this instance can: a hit from its live lease, or a refusal
    /// when the row was already used up in this window. `None`: take a lease first.
    pub fn admit_local(&self, key: &str, now: i64) -> Option<Decision> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let lease = entries.get_mut(key)?;
        if now >= lease.window_end {
            return None;
        }
        if lease.left > 0 {
            lease.left -= 1;
            return Some(Decision::Admitted(lease.standing(now)));
        }
        if lease.unleased == 0 {
            return Some(Decision::Refused(lease.standing(now)));
        }
        None
    }

    /// Books a lease of `chunk` hits that the database row answered with `taken`, and
    /// decides this request from it (the request uses the first hit).
    pub fn grant(
        &self,
        key: &str,
        count: u32,
        chunk: u32,
        window_secs: i64,
        taken: Taken,
        now: i64,
    ) -> Decision {
        let count = i64::from(count);
        let before = taken.hits - i64::from(chunk);
        let granted = (count - before).clamp(0, i64::from(chunk)) as u32;
        let unleased = (count - before - i64::from(granted)).max(0) as u32;
        let window_end = taken.window_start + window_secs;
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() > SWEEP_ABOVE {
            entries.retain(|_, lease| lease.window_end > now);
        }
        let lease = entries
            .entry(key.to_owned())
            .and_modify(|lease| {
                if lease.window_end == window_end {
                    // Two requests of this instance leased at once: keep both leases, and
                    // the later (smaller) view of the row.
                    lease.left = lease.left.saturating_add(granted);
                    lease.unleased = lease.unleased.min(unleased);
                } else {
                    *lease = Lease {
                        window_end,
                        left: granted,
                        unleased,
                    };
                }
            })
            .or_insert(Lease {
                window_end,
                left: granted,
                unleased,
            });
        if lease.left > 0 {
            lease.left -= 1;
            Decision::Admitted(lease.standing(now))
        } else {
            Decision::Refused(lease.standing(now))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken(hits: i64, window_start: i64) -> Taken {
        Taken { hits, window_start }
    }

    #[test]
    fn chunks_are_a_tenth_bounded() {
        assert_eq!(chunk_for(3, 32), 1);
        assert_eq!(chunk_for(30, 32), 3);
        assert_eq!(chunk_for(300, 32), 30);
        assert_eq!(chunk_for(600, 32), 32);
        assert_eq!(chunk_for(600, 1), 1);
        assert_eq!(chunk_for(0, 0), 1);
    }

    #[test]
    fn one_instance_counts_down_exactly_and_refuses_from_memory() {
        let leases = Leases::default();
        // Quota 10, chunk 4, window 60 s starting at 1000.
        assert_eq!(leases.admit_local("k", 1000), None);
        let first = leases.grant("k", 10, 4, 60, taken(4, 1000), 1000);
        assert_eq!(
            first,
            Decision::Admitted(Standing {
                remaining: 9,
                reset: 60
            })
        );
        let mut remaining = Vec::new();
        for _ in 0..3 {
            match leases.admit_local("k", 1010) {
                Some(Decision::Admitted(s)) => remaining.push(s.remaining),
                other => panic!("expected a hit from the lease, got {other:?}"),
            }
        }
        assert_eq!(remaining, [8, 7, 6]);
        assert_eq!(leases.admit_local("k", 1010), None, "lease spent");
        // Second lease 4 (row 8), third only 2 of 4 (row 12 > 10).
        leases.grant("k", 10, 4, 60, taken(8, 1000), 1011);
        for _ in 0..3 {
            leases.admit_local("k", 1011).unwrap();
        }
        let last_lease = leases.grant("k", 10, 4, 60, taken(12, 1000), 1012);
        assert_eq!(
            last_lease,
            Decision::Admitted(Standing {
                remaining: 1,
                reset: 48
            })
        );
        assert!(matches!(
            leases.admit_local("k", 1012),
            Some(Decision::Admitted(Standing { remaining: 0, .. }))
        ));
        // Used up: refused from memory until the window ends.
        assert_eq!(
            leases.admit_local("k", 1059),
            Some(Decision::Refused(Standing {
                remaining: 0,
                reset: 1
            }))
        );
        assert_eq!(leases.admit_local("k", 1060), None, "a new window");
    }

    #[test]
    fn a_lease_never_grants_more_than_the_row_had_left() {
        let leases = Leases::default();
        // Another instance already took 9 of 10: this lease of 4 yields one hit.
        assert!(matches!(
            leases.grant("k", 10, 4, 60, taken(13, 0), 5),
            Decision::Admitted(Standing { remaining: 0, .. })
        ));
        assert!(matches!(
            leases.admit_local("k", 6),
            Some(Decision::Refused(_))
        ));
        // The row was already over: refused at once.
        let other = Leases::default();
        assert!(matches!(
            other.grant("k", 10, 4, 60, taken(17, 0), 5),
            Decision::Refused(Standing {
                remaining: 0,
                reset: 55
            })
        ));
    }

    #[test]
    fn concurrent_leases_of_one_instance_add_up() {
        let leases = Leases::default();
        leases.grant("k", 10, 2, 60, taken(2, 0), 1);
        leases.grant("k", 10, 2, 60, taken(4, 0), 1);
        // Two admitted by the grants, a third here: 1 leased hit left, 6 unleased in the row.
        assert!(matches!(
            leases.admit_local("k", 1),
            Some(Decision::Admitted(Standing { remaining: 7, .. }))
        ));
    }

    #[test]
    fn keys_are_independent() {
        let leases = Leases::default();
        leases.grant("a", 1, 1, 60, taken(1, 0), 1);
        assert!(matches!(
            leases.admit_local("a", 2),
            Some(Decision::Refused(_))
        ));
        assert_eq!(leases.admit_local("b", 2), None);
    }
}
