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

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

/// A published listing as matching sees it. `tags` are indices into the request's tag
/// list (see [`Vocabulary`]), sorted, so comparing listings compares small integers.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub listing_id: String,
    pub org_id: String,
    /// Empty for other organisations' listings until the page is explained.
    pub title: String,
    pub tags: Vec<u32>,
}

/// The tags of one match request with their weights, addressed by index.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    pub tags: Vec<String>,
    pub weights: Vec<f64>,
}

impl Vocabulary {
    /// Tags with weights `ln(1 + published / df)`; tags no published listing carries weigh
    /// as if one did.
    pub fn new(
        tags: Vec<String>,
        published: i64,
        document_frequency: &HashMap<String, i64>,
    ) -> Self {
        let weights = tags
            .iter()
            .map(|tag| {
                let df = document_frequency.get(tag).copied().unwrap_or(1).max(1);
                (1.0 + published.max(1) as f64 / df as f64).ln()
            })
            .collect();
        Vocabulary { tags, weights }
    }

    /// The index of a tag, if it is part of this request.
    pub fn index(&self, tag: &str) -> Option<u32> {
        self.tags
            .binary_search_by(|t| t.as_str().cmp(tag))
            .ok()
            .map(|i| i as u32)
    }

    /// The summed weight of some tags.
    pub fn weight(&self, tags: &[u32]) -> f64 {
        tags.iter().map(|&t| self.weights[t as usize]).sum()
    }

    /// Tag names, rarest (heaviest) first, then alphabetical.
    pub fn names(&self, tags: &[u32]) -> Vec<String> {
        let mut sorted = tags.to_vec();
        sorted.sort_by(|&a, &b| {
            self.weights[b as usize]
                .total_cmp(&self.weights[a as usize])
                .then(a.cmp(&b))
        });
        sorted
            .into_iter()
            .map(|t| self.tags[t as usize].clone())
            .collect()
    }
}

/// The shared tags of two sorted tag lists.
pub fn shared(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// The summed weight of the tags two sorted tag lists share (no allocation).
fn shared_weight(a: &[u32], b: &[u32], vocabulary: &Vocabulary) -> f64 {
    let (mut i, mut j, mut sum) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += vocabulary.weights[a[i] as usize];
                i += 1;
                j += 1;
            }
        }
    }
    sum
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

/// A ranked partner organisation, with its listings among the candidates.
#[derive(Debug, Clone)]
pub struct Partner<'a> {
    pub org_id: &'a str,
    pub score: f64,
    pub reciprocal: bool,
    offers: &'a [Candidate],
    needs: &'a [Candidate],
}

/// The best offer for one need, if any shares a tag: (weight, offer). Ties go to the
/// smaller listing id.
fn best<'a>(
    need: &Candidate,
    offers: impl Iterator<Item = &'a Candidate>,
    vocabulary: &Vocabulary,
) -> Option<(f64, &'a Candidate)> {
    let mut found: Option<(f64, &Candidate)> = None;
    for offer in offers {
        let weight = round(shared_weight(&need.tags, &offer.tags, vocabulary));
        if weight <= 0.0 {
            continue;
        }
        let better = match found {
            None => true,
            Some((w, b)) => weight > w || (weight == w && offer.listing_id < b.listing_id),
        };
        if better {
            found = Some((weight, offer));
        }
    }
    found
}

fn meeting(need: &Candidate, offer: &Candidate, weight: f64, vocabulary: &Vocabulary) -> Meeting {
    Meeting {
        need_id: need.listing_id.clone(),
        need_title: need.title.clone(),
        offer_id: offer.listing_id.clone(),
        offer_title: offer.title.clone(),
        tags: vocabulary.names(&shared(&need.tags, &offer.tags)),
        weight,
    }
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Ranks partners of an organisation with needs `our_needs` and offers `our_offers`,
/// given other organisations' offers meeting our needs (`their_offers`) and their needs
/// that our offers meet (`their_needs`), both sorted by organisation (see
/// [`sort_by_org`]). Scores only; [`explain`] builds the explanation of the partners
/// actually shown.
pub fn rank<'a>(
    our_needs: &[Candidate],
    our_offers: &[Candidate],
    their_offers: &'a [Candidate],
    their_needs: &'a [Candidate],
    vocabulary: &Vocabulary,
) -> Vec<Partner<'a>> {
    let by_org = |a: &Candidate, b: &Candidate| a.org_id == b.org_id;
    let mut offers = their_offers.chunk_by(by_org).peekable();
    let mut needs = their_needs.chunk_by(by_org).peekable();
    let mut partners = Vec::new();
    loop {
        // The next organisation in either list, with its offers and its needs.
        let (org_offers, org_needs): (&[Candidate], &[Candidate]) =
            match (offers.peek(), needs.peek()) {
                (None, None) => break,
                (Some(o), Some(n)) if o[0].org_id == n[0].org_id => {
                    (offers.next().unwrap_or(&[]), needs.next().unwrap_or(&[]))
                }
                (Some(o), Some(n)) if o[0].org_id < n[0].org_id => {
                    (offers.next().unwrap_or(&[]), &[])
                }
                (Some(_), None) => (offers.next().unwrap_or(&[]), &[]),
                _ => (&[], needs.next().unwrap_or(&[])),
            };
        let org_id = org_offers
            .first()
            .or(org_needs.first())
            .map(|c| c.org_id.as_str());
        let Some(org_id) = org_id else { break };
        let (mut ours, mut ours_met) = (0.0, false);
        for need in our_needs {
            if let Some((w, _)) = best(need, org_offers.iter(), vocabulary) {
                ours += w;
                ours_met = true;
            }
        }
        let (mut theirs, mut theirs_met) = (0.0, false);
        for need in org_needs {
            if let Some((w, _)) = best(need, our_offers.iter(), vocabulary) {
                theirs += w;
                theirs_met = true;
            }
        }
        if ours_met || theirs_met {
            partners.push(Partner {
                org_id,
                score: round(ours + theirs),
                reciprocal: ours_met && theirs_met,
                offers: org_offers,
                needs: org_needs,
            });
        }
    }
    partners.sort_by(|a, b| {
        b.reciprocal
            .cmp(&a.reciprocal)
            .then(b.score.total_cmp(&a.score))
            .then(a.org_id.cmp(b.org_id))
    });
    partners
}

/// Sorts candidates by organisation, as [`rank`] expects.
pub fn sort_by_org(candidates: &mut [Candidate]) {
    candidates.sort_unstable_by(|a, b| {
        a.org_id
            .cmp(&b.org_id)
            .then(a.listing_id.cmp(&b.listing_id))
    });
}

/// Which of a partner's listings meet which of ours (best offer per need, both ways).
pub fn explain(
    partner: &Partner<'_>,
    our_needs: &[Candidate],
    our_offers: &[Candidate],
    vocabulary: &Vocabulary,
) -> Explanation {
    Explanation {
        their_offers_meet_our_needs: our_needs
            .iter()
            .filter_map(|n| {
                best(n, partner.offers.iter(), vocabulary)
                    .map(|(w, o)| meeting(n, o, w, vocabulary))
            })
            .collect(),
        our_offers_meet_their_needs: partner
            .needs
            .iter()
            .filter_map(|n| {
                best(n, our_offers.iter(), vocabulary).map(|(w, o)| meeting(n, o, w, vocabulary))
            })
            .collect(),
    }
}

/// The sort key of a ranked partner (for cursors): reciprocal first, then score.
pub fn rank_key(reciprocal: bool, score: f64) -> i64 {
    (if reciprocal { 1_000_000_000_000 } else { 0 }) + (score * 1000.0).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reciprocal_partners_rank_first_and_rare_tags_weigh_more() {
        let df: HashMap<String, i64> = [("common", 50), ("other", 5), ("rare", 1)]
            .iter()
            .map(|(t, n)| (t.to_string(), *n))
            .collect();
        let v = Vocabulary::new(
            vec!["common".into(), "other".into(), "rare".into()],
            100,
            &df,
        );
        let (common, other, rare) = (0, 1, 2);
        assert!(v.weights[rare] > v.weights[other] && v.weights[other] > v.weights[common]);
        let listing = |id: &str, org: &str, tags: &[usize]| Candidate {
            listing_id: id.into(),
            org_id: org.into(),
            title: format!("listing {id}"),
            tags: tags.iter().map(|&t| t as u32).collect(),
        };
        let our_needs = vec![listing("n1", "me", &[common, rare])];
        let our_offers = vec![listing("o1", "me", &[other])];
        let their_offers = vec![
            listing("a-offer", "a", &[common]),
            listing("b-offer", "b", &[rare]),
            listing("c-offer", "c", &[common]),
        ];
        let their_needs = vec![listing("c-need", "c", &[other])];
        let mut their_offers = their_offers;
        sort_by_org(&mut their_offers);
        let ranked = rank(&our_needs, &our_offers, &their_offers, &their_needs, &v);
        let order: Vec<&str> = ranked.iter().map(|p| p.org_id).collect();
        assert_eq!(order, vec!["c", "b", "a"]);
        assert!(ranked[0].reciprocal && !ranked[1].reciprocal);
        let b = explain(&ranked[1], &our_needs, &our_offers, &v);
        assert_eq!(b.their_offers_meet_our_needs[0].tags, vec!["rare"]);
        assert_eq!(b.their_offers_meet_our_needs[0].offer_id, "b-offer");
        assert!(b.our_offers_meet_their_needs.is_empty());
        let c = explain(&ranked[0], &our_needs, &our_offers, &v);
        assert_eq!(c.our_offers_meet_their_needs[0].need_id, "c-need");
        assert_eq!(c.our_offers_meet_their_needs[0].tags, vec!["other"]);
    }

    #[test]
    fn shared_tags_of_sorted_lists() {
        assert_eq!(shared(&[1, 3, 5, 7], &[2, 3, 7, 9]), vec![3, 7]);
        assert!(shared(&[1], &[]).is_empty());
    }
}
