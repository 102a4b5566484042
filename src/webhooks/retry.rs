//! When a failed delivery is tried again: the first retry after about `first` (30 s by
//! default), then twice as long each time (at most six hours between tries), each delay
//! with ±20 % jitter so that many deliveries failing together do not return together; a
//! delivery older than `give_up_after` (24 h) is not tried again.

use std::time::Duration;

use chrono::{NaiveDateTime, SubsecRound};
use rand::Rng;

pub use crate::settings::RetrySchedule as Schedule;

/// Longest wait between two attempts.
const MAX_DELAY: Duration = Duration::from_secs(6 * 3600);

impl Schedule {
    /// The delay before the attempt after `failed` failed ones, before jitter.
    pub fn delay(&self, failed: u32) -> Duration {
        let doubled = self.first.saturating_mul(
            1u32.checked_shl(failed.saturating_sub(1))
                .unwrap_or(u32::MAX),
        );
        doubled.min(MAX_DELAY)
    }

    /// When to try again after the `failed`-th failed attempt at `now` of a delivery made
    /// at `created`, with `jitter` in [-0.2, 0.2]; `None` when it is out of retries.
    pub fn next(
        &self,
        failed: u32,
        created: NaiveDateTime,
        now: NaiveDateTime,
        jitter: f64,
    ) -> Option<NaiveDateTime> {
        let delay = self.delay(failed).mul_f64(1.0 + jitter.clamp(-0.2, 0.2));
        // Microseconds, as every stored time (both backends read back the same value).
        let next = (now + chrono::Duration::from_std(delay).ok()?).trunc_subsecs(6);
        let deadline = created + chrono::Duration::from_std(self.give_up_after).ok()?;
        (next <= deadline).then_some(next)
    }

    /// [`Schedule::next`] with a random jitter.
    pub fn next_jittered(
        &self,
        failed: u32,
        created: NaiveDateTime,
        now: NaiveDateTime,
    ) -> Option<NaiveDateTime> {
        let jitter = rand::thread_rng().gen_range(-0.2..=0.2);
        self.next(failed, created, now, jitter)
    }
}

#[cfg(test)]
mod tests {
    use crate::webhooks::retry::*;

    fn at(secs: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + secs, 0)
            .unwrap()
            .naive_utc()
    }

    #[test]
    fn delays_double_from_thirty_seconds_up_to_six_hours() {
        let s = Schedule::default();
        let delays: Vec<u64> = (1..=12).map(|n| s.delay(n).as_secs()).collect();
        assert_eq!(
            delays,
            [30, 60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600, 21600]
        );
        assert_eq!(s.delay(200).as_secs(), 21600);
    }

    #[test]
    fn retries_last_about_a_day_then_stop() {
        let s = Schedule::default();
        let (created, mut now, mut attempts) = (at(0), at(0), 1);
        while let Some(next) = s.next(attempts, created, now, 0.0) {
            now = next;
            attempts += 1;
        }
        let hours = (now - created).num_minutes() as f64 / 60.0;
        assert!(
            (18.0..=24.0).contains(&hours),
            "{hours} h over {attempts} attempts"
        );
        assert_eq!(attempts, 13);
    }

    #[test]
    fn jitter_is_bounded() {
        let s = Schedule::default();
        for jitter in [-1.0, -0.2, 0.0, 0.2, 1.0] {
            let next = s.next(1, at(0), at(0), jitter).unwrap();
            let secs = (next - at(0)).num_seconds();
            assert!((24..=36).contains(&secs), "{jitter}: {secs}");
        }
        for _ in 0..100 {
            let next = s.next_jittered(1, at(0), at(0)).unwrap();
            assert!((24..=36).contains(&(next - at(0)).num_seconds()));
        }
    }
}
