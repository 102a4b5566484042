//! Reciprocity balances and partner histories, counted in items of agreements
//! (`agreement_items`, derived from the terms when a proposal is accepted).
//!
//! The public balance counts completed agreements only. A trial counts for its giver only
//! (accepting a gift creates no debt). A confidential agreement counts in
//! `completed_agreements` (and `confidential_agreements`), but its items are not counted,
//! so the balance reveals nothing of its terms. An organisation's own partner history
//! counts everything it is a party to, confidential agreements included.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::{count_star, max, min};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::agreement::AgreementStatus;
use super::org::Org;
use super::proposal::{ItemCategory, ProposalKind};
use super::user::parse_uuid;
use super::utc;
use crate::db::schema::{agreement_items, agreements};
use crate::db::DbConnection;
use crate::error::ApiError;

/// Item counts per category; every category is present (0 when none).
pub type CategoryCounts = BTreeMap<String, i64>;

/// [`CategoryCounts`] as the document describes it: one count per item category.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct CategoryTally {
    pub expertise: i64,
    pub resource: i64,
    pub referral: i64,
    pub support: i64,
    pub other: i64,
}

/// Counts per category from `(category, n)` rows; every category is present.
fn category_counts(rows: &[(ItemCategory, i64)]) -> CategoryCounts {
    let mut counts: CategoryCounts = ItemCategory::ALL
        .iter()
        .map(|c| (c.as_str().to_owned(), 0))
        .collect();
    for (category, n) in rows {
        counts.insert(category.as_str().to_owned(), *n);
    }
    counts
}

/// An organisation's public reciprocity balance.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Reciprocity {
    pub org_id: uuid::Uuid,
    /// Completed agreements the organisation is a party to, confidential ones included.
    pub completed_agreements: i64,
    /// How many of those are confidential (their items are not counted below).
    pub confidential_agreements: i64,
    /// Items the organisation gave in completed, non-confidential agreements, per category.
    #[schema(example = json!({"expertise": 2, "resource": 1, "referral": 0, "support": 0, "other": 0}))]
    #[schema(value_type = CategoryTally)]
    pub given: CategoryCounts,
    /// Items it received in completed, non-confidential exchanges (not trials), per category.
    #[schema(value_type = CategoryTally)]
    pub received: CategoryCounts,
}

/// The public balance of `org_id`.
pub fn balance(conn: &mut DbConnection, org_id: &str) -> Result<Reciprocity, ApiError> {
    let party = agreements::from_org_id
        .eq(org_id)
        .or(agreements::to_org_id.eq(org_id));
    let counts: Vec<(bool, i64)> = agreements::table
        .filter(party)
        .filter(agreements::status.eq(AgreementStatus::Completed))
        .group_by(agreements::confidential)
        .select((agreements::confidential, count_star()))
        .load(conn)?;
    let completed = counts.iter().map(|(_, n)| n).sum();
    let confidential = counts.iter().filter(|(c, _)| *c).map(|(_, n)| *n).sum();

    let counted = agreement_items::table
        .inner_join(agreements::table)
        .filter(agreements::status.eq(AgreementStatus::Completed))
        .filter(agreements::confidential.eq(false));
    let given: Vec<(ItemCategory, i64)> = counted
        .filter(agreement_items::giver_org_id.eq(org_id))
        .group_by(agreement_items::category)
        .select((agreement_items::category, count_star()))
        .load(conn)?;
    let received: Vec<(ItemCategory, i64)> = counted
        .filter(agreement_items::receiver_org_id.eq(org_id))
        .filter(agreements::kind.eq(ProposalKind::Exchange))
        .group_by(agreement_items::category)
        .select((agreement_items::category, count_star()))
        .load(conn)?;
    Ok(Reciprocity {
        org_id: parse_uuid(org_id)?,
        completed_agreements: completed,
        confidential_agreements: confidential,
        given: category_counts(&given),
        received: category_counts(&received),
    })
}

/// Agreements with one partner, per status.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct AgreementCounts {
    pub active: i64,
    pub completed: i64,
    pub cancelled: i64,
}

/// The history with one partner, as the organisation itself sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Partner {
    pub org_id: uuid::Uuid,
    pub name: String,
    pub agreements: AgreementCounts,
    /// When the first agreement with this partner was made.
    pub first_agreement_at: DateTime<Utc>,
    /// When the latest agreement with this partner was made.
    pub last_agreement_at: DateTime<Utc>,
    /// Items given to this partner in completed agreements, per category.
    #[schema(value_type = CategoryTally)]
    pub given: CategoryCounts,
    /// Items received from this partner in completed agreements, per category.
    #[schema(value_type = CategoryTally)]
    pub received: CategoryCounts,
}

#[derive(Default)]
struct Tally {
    counts: AgreementCounts,
    first: Option<NaiveDateTime>,
    last: Option<NaiveDateTime>,
    given: Vec<(ItemCategory, i64)>,
    received: Vec<(ItemCategory, i64)>,
}

type StatusRow = (
    String,
    AgreementStatus,
    i64,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
);

/// Every partner of `org_id`, the most recent first (then by id).
pub fn partners(conn: &mut DbConnection, org_id: &str) -> Result<Vec<Partner>, ApiError> {
    let mut tallies: HashMap<String, Tally> = HashMap::new();
    let as_from: Vec<StatusRow> = agreements::table
        .filter(agreements::from_org_id.eq(org_id))
        .group_by((agreements::to_org_id, agreements::status))
        .select((
            agreements::to_org_id,
            agreements::status,
            count_star(),
            min(agreements::created_at),
            max(agreements::created_at),
        ))
        .load(conn)?;
    let as_to: Vec<StatusRow> = agreements::table
        .filter(agreements::to_org_id.eq(org_id))
        .group_by((agreements::from_org_id, agreements::status))
        .select((
            agreements::from_org_id,
            agreements::status,
            count_star(),
            min(agreements::created_at),
            max(agreements::created_at),
        ))
        .load(conn)?;
    for (partner, status, n, first, last) in as_from.into_iter().chain(as_to) {
        let tally = tallies.entry(partner).or_default();
        match status {
            AgreementStatus::Active => tally.counts.active += n,
            AgreementStatus::Completed => tally.counts.completed += n,
            AgreementStatus::Cancelled => tally.counts.cancelled += n,
        }
        tally.first = tally.first.into_iter().chain(first).min();
        tally.last = tally.last.into_iter().chain(last).max();
    }
    let completed = agreement_items::table
        .inner_join(agreements::table)
        .filter(agreements::status.eq(AgreementStatus::Completed));
    let given: Vec<(String, ItemCategory, i64)> = completed
        .filter(agreement_items::giver_org_id.eq(org_id))
        .group_by((agreement_items::receiver_org_id, agreement_items::category))
        .select((
            agreement_items::receiver_org_id,
            agreement_items::category,
            count_star(),
        ))
        .load(conn)?;
    let received: Vec<(String, ItemCategory, i64)> = completed
        .filter(agreement_items::receiver_org_id.eq(org_id))
        .group_by((agreement_items::giver_org_id, agreement_items::category))
        .select((
            agreement_items::giver_org_id,
            agreement_items::category,
            count_star(),
        ))
        .load(conn)?;
    for (partner, category, n) in given {
        tallies
            .entry(partner)
            .or_default()
            .given
            .push((category, n));
    }
    for (partner, category, n) in received {
        tallies
            .entry(partner)
            .or_default()
            .received
            .push((category, n));
    }

    let ids: Vec<&str> = tallies.keys().map(String::as_str).collect();
    let names = Org::names_and_regions(conn, &ids)?;
    let mut out = Vec::with_capacity(tallies.len());
    for (partner, tally) in tallies {
        let (Some(first), Some(last)) = (tally.first, tally.last) else {
            continue;
        };
        out.push(Partner {
            org_id: parse_uuid(&partner)?,
            name: names
                .get(&partner)
                .map(|(n, _)| n.clone())
                .unwrap_or_default(),
            agreements: tally.counts,
            first_agreement_at: utc(first),
            last_agreement_at: utc(last),
            given: category_counts(&tally.given),
            received: category_counts(&tally.received),
        });
    }
    out.sort_by(|a, b| {
        b.last_agreement_at
            .cmp(&a.last_agreement_at)
            .then(a.org_id.cmp(&b.org_id))
    });
    Ok(out)
}
