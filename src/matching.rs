//! Complementary matching: for an organisation, which others' published offers meet its
//! needs, and which of their needs its offers meet. Pure scoring over postings fetched
//! through the tag index (see `models::matching`), so the cost follows the number of
//! listings that share a tag, not the size of the catalogue.
//!
//! A pair of listings meets through the tags they share; each tag weighs
//! `ln(1 + P / df)` (P published listings, df of them carrying the tag), so rare tags count
//! more than common ones. Each of our needs counts its best-meeting offer of the partner
//! (and each of their needs its best-meeting offer of ours); a partner's score is the sum
//! of both directions. Partners meeting in both directions are `reciprocal` and always
//! rank above one-sided ones.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use utoipa::ToSchema;

/// A published listing as matching sees it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub listing_id: String,
    pub org_id: String,
    pub title: String,
    pub tags: Vec<String>,
}

/// Two listings that meet, and through which tags.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Meeting {
    /// The need being met.
    pub need_id: String,
    pub need_title: String,
    /// The offer meeting it.
    pub offer_id: String,
    pub offer_title: String,
    /// The tags they share, rarest first.
    pub tags: Vec<String>,
    /// The IDF-weighted overlap this meeting contributes.
    pub weight: f64,
}

/// Why a partner matches: both directions.
#[derive(Debug, Clone, Default, Serialize, ToSchema, PartialEq)]
pub struct Explanation {
    /// Their offers that meet our needs (best offer per need).
    pub their_offers_meet_our_needs: Vec<Meeting>,
    /// Our offers that meet their needs (best offer per need).
    pub our_offers_meet_their_needs: Vec<Meeting>,
}

/// A ranked partner organisation.
#[derive(Debug, Clone)]
pub struct Partner {
    pub org_id: String,
    pub score: f64,
    pub reciprocal: bool,
    pub explanation: Explanation,
}

/// Tag weights: `ln(1 + published / df)`.
pub fn weights(published: i64, document_frequency: &HashMap<String, i64>) -> HashMap<String, f64> {
    document_frequency
        .iter()
        .map(|(tag, df)| {
            (
                tag.clone(),
                (1.0 + published.max(1) as f64 / (*df).max(1) as f64).ln(),
            )
        })
        .collect()
}

/// The best meeting of one need among offers, if any shares a tag.
fn best_meeting<'a>(
    need: &Candidate,
    offers: impl Iterator<Item = &'a Candidate>,
    weights: &HashMap<String, f64>,
) -> Option<Meeting> {
    let mut best: Option<Meeting> = None;
    for offer in offers {
        let mut shared: Vec<String> = need
            .tags
            .iter()
            .filter(|t| offer.tags.contains(t))
            .cloned()
            .collect();
        if shared.is_empty() {
            continue;
        }
        let weight: f64 = shared
            .iter()
            .map(|t| weights.get(t).copied().unwrap_or(0.0))
            .sum();
        let better = match &best {
            None => true,
            Some(b) => weight > b.weight || (weight == b.weight && offer.listing_id < b.offer_id),
        };
        if better {
            shared.sort_by(|a, b| {
                let (wa, wb) = (
                    weights.get(a).copied().unwrap_or(0.0),
                    weights.get(b).copied().unwrap_or(0.0),
                );
                wb.total_cmp(&wa).then(a.cmp(b))
            });
            best = Some(Meeting {
                need_id: need.listing_id.clone(),
                need_title: need.title.clone(),
                offer_id: offer.listing_id.clone(),
                offer_title: offer.title.clone(),
                tags: shared,
                weight: round(weight),
            });
        }
    }
    best
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Ranks partners of an organisation with needs `our_needs` and offers `our_offers`,
/// given other organisations' offers meeting our needs (`their_offers`) and their needs
/// that our offers meet (`their_needs`).
pub fn rank(
    our_needs: &[Candidate],
    our_offers: &[Candidate],
    their_offers: &[Candidate],
    their_needs: &[Candidate],
    weights: &HashMap<String, f64>,
) -> Vec<Partner> {
    let mut offers_by_org: BTreeMap<&str, Vec<&Candidate>> = BTreeMap::new();
    for offer in their_offers {
        offers_by_org
            .entry(offer.org_id.as_str())
            .or_default()
            .push(offer);
    }
    let mut needs_by_org: BTreeMap<&str, Vec<&Candidate>> = BTreeMap::new();
    for need in their_needs {
        needs_by_org
            .entry(need.org_id.as_str())
            .or_default()
            .push(need);
    }
    let mut orgs: Vec<&str> = offers_by_org
        .keys()
        .chain(needs_by_org.keys())
        .copied()
        .collect();
    orgs.sort_unstable();
    orgs.dedup();
    let mut partners: Vec<Partner> = orgs
        .into_iter()
        .filter_map(|org| {
            let offers = offers_by_org.get(org).map(Vec::as_slice).unwrap_or(&[]);
            let needs = needs_by_org.get(org).map(Vec::as_slice).unwrap_or(&[]);
            let ours_met: Vec<Meeting> = our_needs
                .iter()
                .filter_map(|n| best_meeting(n, offers.iter().copied(), weights))
                .collect();
            let theirs_met: Vec<Meeting> = needs
                .iter()
                .filter_map(|n| best_meeting(n, our_offers.iter(), weights))
                .collect();
            if ours_met.is_empty() && theirs_met.is_empty() {
                return None;
            }
            let score = ours_met
                .iter()
                .chain(&theirs_met)
                .map(|m| m.weight)
                .sum::<f64>();
            Some(Partner {
                org_id: org.to_owned(),
                score: round(score),
                reciprocal: !ours_met.is_empty() && !theirs_met.is_empty(),
                explanation: Explanation {
                    their_offers_meet_our_needs: ours_met,
                    our_offers_meet_their_needs: theirs_met,
                },
            })
        })
        .collect();
    partners.sort_by(|a, b| {
        b.reciprocal
            .cmp(&a.reciprocal)
            .then(b.score.total_cmp(&a.score))
            .then(a.org_id.cmp(&b.org_id))
    });
    partners
}

/// The sort key of a ranked partner (for cursors): reciprocal first, then score.
pub fn rank_key(reciprocal: bool, score: f64) -> i64 {
    (if reciprocal { 1_000_000_000_000 } else { 0 }) + (score * 1000.0).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(id: &str, org: &str, tags: &[&str]) -> Candidate {
        Candidate {
            listing_id: id.into(),
            org_id: org.into(),
            title: format!("listing {id}"),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn reciprocal_partners_rank_first_and_rare_tags_weigh_more() {
        let df: HashMap<String, i64> = [("common", 50), ("rare", 1), ("other", 5)]
            .iter()
            .map(|(t, n)| (t.to_string(), *n))
            .collect();
        let w = weights(100, &df);
        assert!(w["rare"] > w["other"] && w["other"] > w["common"]);
        let our_needs = vec![listing("n1", "me", &["common", "rare"])];
        let our_offers = vec![listing("o1", "me", &["other"])];
        let their_offers = vec![
            listing("a-offer", "a", &["common"]),
            listing("b-offer", "b", &["rare"]),
            listing("c-offer", "c", &["common"]),
        ];
        let their_needs = vec![listing("c-need", "c", &["other"])];
        let ranked = rank(&our_needs, &our_offers, &their_offers, &their_needs, &w);
        let order: Vec<&str> = ranked.iter().map(|p| p.org_id.as_str()).collect();
        assert_eq!(order, vec!["c", "b", "a"]);
        assert!(ranked[0].reciprocal && !ranked[1].reciprocal);
        assert_eq!(
            ranked[1].explanation.their_offers_meet_our_needs[0].tags,
            vec!["rare"]
        );
    }
}
