//! No pressure: the limits on proposing that keep reciprocity from turning into
//! manipulation. An organisation may block another; one organisation may have only a few
//! open proposals to another at a time; and after repeated declines it must leave the other
//! alone for a while. Checked in the creating transaction, from the database (several
//! instances share it).

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::ProposalStatus;
use crate::db::schema::{org_blocks, proposal_revisions, proposals};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::settings::ProposalLimits;

/// When the cool-down after repeated declines ends, if one is running at `at`: each run of
/// `threshold` declines within `window` (oldest to newest in `declines`) starts a cool-down
/// of `cooldown` at its last decline.
pub fn cooldown_until(
    declines: &[NaiveDateTime],
    threshold: usize,
    window: Duration,
    cooldown: Duration,
    at: NaiveDateTime,
) -> Option<NaiveDateTime> {
    if threshold == 0 {
        return None;
    }
    let mut until = None;
    for (i, &last) in declines.iter().enumerate() {
        let Some(first) = (i + 1).checked_sub(threshold).map(|j| declines[j]) else {
            continue;
        };
        if last - first <= window {
            until = until.max(Some(last + cooldown));
        }
    }
    until.filter(|&end| end > at)
}

/// Refuses a new proposal from `from` to `to` that one of the limits forbids: a block
/// (403), too many open proposals (429), or a cool-down after declines (429).
pub fn check(
    conn: &mut DbConnection,
    limits: &ProposalLimits,
    from: &str,
    to: &str,
    at: NaiveDateTime,
) -> Result<(), ApiError> {
    let blocked: i64 = org_blocks::table
        .filter(org_blocks::org_id.eq(to))
        .filter(org_blocks::blocked_org_id.eq(from))
        .count()
        .get_result(conn)?;
    if blocked > 0 {
        return Err(ApiError::Forbidden(
            "this organisation does not accept proposals from yours".into(),
        ));
    }

    let open: Vec<Option<NaiveDateTime>> = proposals::table
        .filter(proposals::from_org_id.eq(from))
        .filter(proposals::to_org_id.eq(to))
        .filter(proposals::status.eq(ProposalStatus::Open))
        .filter(
            proposals::expires_at
                .is_null()
                .or(proposals::expires_at.gt(at)),
        )
        .select(proposals::expires_at)
        .load(conn)?;
    let max_open = limits.open_per_partner as usize;
    if open.len() >= max_open {
        // The earliest expiry frees a place by itself; without one, an answer or a
        // withdrawal does, and there is no time to promise.
        let retry_after = open
            .iter()
            .flatten()
            .min()
            .map_or(3600, |end| seconds_until(*end, at));
        return Err(ApiError::TooManyRequests {
            detail: format!(
                "your organisation already has {} open proposals to this organisation (at most {max_open}); wait for an answer or withdraw one",
                open.len()
            ),
            retry_after,
        });
    }

    // Only declines by the receiver count: those of a revision `from` wrote. When `from`
    // itself declined the receiver's counter-offer, nobody declined `from`.
    let window = limits.decline_window + limits.decline_cooldown;
    let declines: Vec<Option<NaiveDateTime>> = proposals::table
        .inner_join(
            proposal_revisions::table.on(proposal_revisions::proposal_id
                .eq(proposals::id)
                .and(proposal_revisions::number.eq(proposals::latest_revision))),
        )
        .filter(proposal_revisions::author_org_id.eq(from))
        .filter(proposals::from_org_id.eq(from))
        .filter(proposals::to_org_id.eq(to))
        .filter(proposals::status.eq(ProposalStatus::Declined))
        .filter(proposals::closed_at.gt(at - window))
        .order(proposals::closed_at.asc())
        .select(proposals::closed_at)
        .load(conn)?;
    let declines: Vec<NaiveDateTime> = declines.into_iter().flatten().collect();
    if let Some(until) = cooldown_until(
        &declines,
        limits.declines_before_cooldown as usize,
        limits.decline_window,
        limits.decline_cooldown,
        at,
    ) {
        return Err(ApiError::TooManyRequests {
            detail: format!(
                "this organisation declined {} of your proposals within {} days; you can propose to it again after {}",
                limits.declines_before_cooldown,
                limits.decline_window.num_days(),
                until.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            retry_after: seconds_until(until, at),
        });
    }
    Ok(())
}

fn seconds_until(end: NaiveDateTime, at: NaiveDateTime) -> u64 {
    u64::try_from((end - at).num_seconds()).unwrap_or(0).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + n * 86_400, 0)
            .unwrap()
            .naive_utc()
    }

    fn until(declines: &[i64], at: i64) -> Option<NaiveDateTime> {
        let declines: Vec<_> = declines.iter().map(|&d| day(d)).collect();
        cooldown_until(
            &declines,
            2,
            Duration::days(30),
            Duration::days(30),
            day(at),
        )
    }

    #[test]
    fn two_declines_within_the_window_start_a_cooldown_at_the_second() {
        let table: [(&[i64], i64, Option<i64>); 8] = [
            (&[], 0, None),
            (&[0], 1, None),
            (&[0, 10], 11, Some(40)),
            (&[0, 10], 39, Some(40)),
            (&[0, 10], 40, None),
            (&[0, 30], 31, Some(60)),
            (&[0, 31], 32, None),
            (&[0, 31, 50], 51, Some(80)),
        ];
        for (declines, at, expected) in table {
            assert_eq!(
                until(declines, at),
                expected.map(day),
                "{declines:?} at {at}"
            );
        }
    }

    #[test]
    fn a_threshold_of_zero_turns_the_cooldown_off() {
        let declines = [day(0), day(1)];
        let got = cooldown_until(&declines, 0, Duration::days(30), Duration::days(30), day(2));
        assert_eq!(got, None);
    }
}
