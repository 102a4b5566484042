//! What every part of the seed shares: the report it fills in and the seeded ids.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// What was seeded.
#[derive(Debug, Clone, Default)]
pub struct SeedReport {
    pub orgs: usize,
    pub listings: usize,
    pub published: usize,
    /// Proposals opened between partners (accepted ones included).
    pub proposals: usize,
    /// Agreements made (accepted proposals).
    pub agreements: usize,
    /// Agreements both parties confirmed.
    pub completed: usize,
    pub endorsements: usize,
    /// Log leaves of the agreements (accepted, completed, cancelled).
    pub agreement_leaves: usize,
    /// Synthetic log leaves (`--log-leaves`).
    pub log_leaves: usize,
}

/// A time-ordered id (UUIDv7) from the seeded generator, so a seed always yields the same ids.
pub fn seeded_id(rng: &mut ChaCha8Rng, at: chrono::NaiveDateTime) -> String {
    let random: [u8; 10] = rng.gen();
    uuid::Builder::from_unix_timestamp_millis(
        at.and_utc().timestamp_millis().max(0) as u64,
        &random,
    )
    .into_uuid()
    .to_string()
}
