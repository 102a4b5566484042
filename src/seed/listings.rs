//! An organisation's seeded listings, drawn from its profile: offers from what it can give,
//! needs from what it lacks, each listing about one topic in title, description and tags.
//! Pure: the same generator state gives the same listings.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::profiles::Profile;
#[cfg(test)]
use super::profiles::{CYCLE, PROFILES};
use super::topics::{Topic, TOPICS};
use crate::models::listing::{ListingFields, ListingKind, ListingStatus};

/// A region: its name and its spelling in tags.
pub type Region = (&'static str, &'static str);

/// Where seeded organisations are.
pub const REGIONS: [Region; 10] = [
    ("Bayern", "bayern"),
    ("Berlin", "berlin"),
    ("Hamburg", "hamburg"),
    ("Zürich", "zuerich"),
    ("Wien", "wien"),
    ("Tirol", "tirol"),
    ("Sachsen", "sachsen"),
    ("Hessen", "hessen"),
    ("Bern", "bern"),
    ("Salzburg", "salzburg"),
];

/// What a profile offers and needs, as indices into [`TOPICS`].
#[derive(Debug, Clone)]
pub struct ProfileTopics {
    pub offers: Vec<usize>,
    pub needs: Vec<usize>,
}

/// The topic with this stem.
pub fn topic_index(stem: &str) -> Option<usize> {
    TOPICS.iter().position(|t| t.stem == stem)
}

impl ProfileTopics {
    /// The profile's topics; an error names a stem that is no topic.
    pub fn of(profile: &Profile) -> Result<ProfileTopics, String> {
        let indices = |stems: &[&str]| -> Result<Vec<usize>, String> {
            stems
                .iter()
                .map(|s| topic_index(s).ok_or_else(|| format!("{}: no topic {s}", profile.key)))
                .collect()
        };
        Ok(ProfileTopics {
            offers: indices(profile.offers)?,
            needs: indices(profile.needs)?,
        })
    }
}

/// A listing before it has an id.
#[derive(Debug, Clone)]
pub struct Draft {
    /// Index into [`TOPICS`].
    pub topic: usize,
    pub fields: ListingFields,
    pub status: ListingStatus,
}

const TRIAL_OFFER: [&str; 2] = [
    "Zum Kennenlernen ist ein unverbindlicher Probetermin möglich – ohne jede Verpflichtung.",
    "Ein unverbindlicher Probemonat zeigt, ob es für beide Seiten passt.",
];
const TRIAL_NEED: &str = "Gern beginnen wir mit einem unverbindlichen Test.";
/// Closing sentences of one listing in ten (every sentence of a seeded listing passes
/// through the full-text index: short texts keep the bulk load fast); `{region}` is
/// filled in.
const CLOSINGS: [&str; 5] = [
    "Wir sind in {region} zu Hause und arbeiten am liebsten mit Betrieben aus der Nähe.",
    "Faire, transparente Absprachen sind uns wichtig – beide Seiten sollen profitieren.",
    "Wir teilen gern Wissen und Ressourcen und pflegen Kontakte langfristig.",
    "Offen, ehrlich und auf Augenhöhe: so verstehen wir Zusammenarbeit in {region}.",
    "Ein erstes Gespräch vor Ort ist jederzeit möglich.",
];

/// `count` listings of an organisation in `region` with the profile's topics: offers and
/// needs alternate, each kind walks through its topics in an order of the organisation's
/// own, so an organisation's listings repeat a topic only when it has more listings than
/// topics of that kind.
pub fn drafts(
    rng: &mut ChaCha8Rng,
    topics: &ProfileTopics,
    region: Region,
    count: usize,
) -> Vec<Draft> {
    let (mut offers, mut needs) = (topics.offers.clone(), topics.needs.clone());
    offers.shuffle(rng);
    needs.shuffle(rng);
    let first_is_offer = rng.gen_bool(0.5);
    let mut drafts = Vec::with_capacity(count);
    let (mut offered, mut needed) = (0, 0);
    for n in 0..count {
        let offer = (n % 2 == 0) == first_is_offer;
        let topic = if offer {
            offered += 1;
            offers[(offered - 1) % offers.len()]
        } else {
            needed += 1;
            needs[(needed - 1) % needs.len()]
        };
        // What this organisation could give in return, named in most of its needs.
        let in_return = &TOPICS[offers[rng.gen_range(0..offers.len())]];
        drafts.push(draft(rng, topic, offer, in_return, region));
    }
    drafts
}

fn draft(
    rng: &mut ChaCha8Rng,
    index: usize,
    offer: bool,
    in_return: &Topic,
    region: Region,
) -> Draft {
    let topic = &TOPICS[index];
    let variant = rng.gen_range(0..2);
    let trial = rng.gen_bool(if offer { 0.2 } else { 0.1 });
    let (title, mut parts) = if offer {
        (
            format!("Biete: {}", topic.offer_titles[variant]),
            vec![topic.offer_texts[rng.gen_range(0..2)].to_owned()],
        )
    } else {
        (
            format!("Suche: {}", topic.need_titles[variant]),
            vec![topic.need_texts[rng.gen_range(0..2)].to_owned()],
        )
    };
    if trial {
        parts.push(if offer {
            TRIAL_OFFER[rng.gen_range(0..2)].to_owned()
        } else {
            TRIAL_NEED.to_owned()
        });
    }
    if !offer && rng.gen_bool(0.25) {
        parts.push(format!(
            "Im Gegenzug bieten wir: {}.",
            in_return.offer_titles[rng.gen_range(0..2)]
        ));
    }
    if rng.gen_bool(0.1) {
        parts.push(CLOSINGS[rng.gen_range(0..CLOSINGS.len())].replace("{region}", region.0));
    }
    let fields = ListingFields {
        kind: if offer {
            ListingKind::Offer
        } else {
            ListingKind::Need
        },
        category: topic.category,
        title,
        description: parts.join(" "),
        tags: tags(rng, topic, region).join(","),
        industry: None,
        region: Some(region.0.to_owned()),
        trial_available: trial,
        expires_at: None,
    };
    Draft {
        topic: index,
        fields,
        status: random_status(rng),
    }
}

/// The topic's stem, often its regional variant, and qualified variants up to three to
/// five tags: all of them the topic's own.
fn tags(rng: &mut ChaCha8Rng, topic: &Topic, region: Region) -> Vec<String> {
    let mut tags = vec![topic.stem.to_owned()];
    if rng.gen_bool(0.6) {
        tags.push(format!("{}-{}", topic.stem, region.1));
    }
    let wanted = rng
        .gen_range(3..=5)
        .min(tags.len() + topic.qualifiers.len());
    let mut qualifiers = topic.qualifiers.to_vec();
    qualifiers.shuffle(rng);
    for qualifier in qualifiers {
        if tags.len() >= wanted {
            break;
        }
        tags.push(format!("{}-{qualifier}", topic.stem));
    }
    tags
}

/// Eight in ten published, one pending review, one draft.
fn random_status(rng: &mut ChaCha8Rng) -> ListingStatus {
    let roll = rng.gen::<f64>();
    if roll < 0.8 {
        ListingStatus::Published
    } else if roll < 0.9 {
        ListingStatus::PendingReview
    } else {
        ListingStatus::Draft
    }
}

#[cfg(test)]
mod tests {
    use crate::seed::listings::*;
    use crate::seed::topics::spelt;
    use rand::SeedableRng;

    #[test]
    fn every_text_of_a_topic_names_its_stem_and_every_tag_is_valid() {
        for topic in TOPICS {
            let stem = spelt(topic.stem);
            let texts = topic
                .offer_titles
                .iter()
                .chain(&topic.need_titles)
                .chain(&topic.offer_texts)
                .chain(&topic.need_texts)
                .chain(std::iter::once(&topic.gives));
            for text in texts {
                assert!(spelt(text).contains(&stem), "{}: {text}", topic.stem);
            }
            let qualified = topic
                .qualifiers
                .iter()
                .map(|q| format!("{}-{q}", topic.stem));
            let regional = REGIONS.iter().map(|(_, r)| format!("{}-{r}", topic.stem));
            for tag in qualified.chain(regional).chain([topic.stem.to_owned()]) {
                assert!(
                    (2..=40).contains(&tag.len())
                        && tag
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                    "{tag}"
                );
            }
            assert!(topic.quantity.0 <= topic.quantity.1 && topic.gives.len() >= 3);
            assert_eq!(topic.unit.is_some(), topic.quantity.0 > 0, "{}", topic.stem);
        }
        let mut stems: Vec<&str> = TOPICS.iter().map(|t| t.stem).collect();
        stems.sort_unstable();
        stems.dedup();
        assert_eq!(stems.len(), TOPICS.len(), "stems are unique");
    }

    #[test]
    fn every_profile_has_partners_both_ways_and_every_topic_both_sides() {
        let all: Vec<ProfileTopics> = PROFILES
            .iter()
            .map(|p| ProfileTopics::of(p).expect("known topics"))
            .collect();
        for (p, topics) in PROFILES.iter().zip(&all) {
            assert!(
                topics.offers.iter().all(|t| !topics.needs.contains(t)),
                "{} offers what it needs",
                p.key
            );
            let partners = all
                .iter()
                .filter(|q| {
                    q.offers.iter().any(|t| topics.needs.contains(t))
                        && q.needs.iter().any(|t| topics.offers.contains(t))
                })
                .count();
            assert!(
                partners >= 2,
                "{} has {partners} reciprocal profiles",
                p.key
            );
        }
        for (i, topic) in TOPICS.iter().enumerate() {
            assert!(
                all.iter().any(|t| t.offers.contains(&i)),
                "nobody offers {}",
                topic.stem
            );
            assert!(
                all.iter().any(|t| t.needs.contains(&i)),
                "nobody needs {}",
                topic.stem
            );
        }
        let mut cycle = CYCLE.to_vec();
        cycle.sort_unstable();
        cycle.dedup();
        let mut keys: Vec<&str> = PROFILES.iter().map(|p| p.key).collect();
        keys.sort_unstable();
        assert_eq!(cycle, keys, "every profile in the cycle, nothing else");
    }

    #[test]
    fn listings_agree_with_their_topic_and_alternate_kinds() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for profile in PROFILES {
            let topics = ProfileTopics::of(profile).expect("known topics");
            let drafts = drafts(&mut rng, &topics, REGIONS[3], 10);
            let offers = drafts
                .iter()
                .filter(|d| d.fields.kind == ListingKind::Offer);
            assert_eq!(offers.count(), 5);
            for d in &drafts {
                let topic = &TOPICS[d.topic];
                let own = if d.fields.kind == ListingKind::Offer {
                    &topics.offers
                } else {
                    &topics.needs
                };
                assert!(
                    own.contains(&d.topic),
                    "{}: {}",
                    profile.key,
                    d.fields.title
                );
                let stem = spelt(topic.stem);
                assert!(spelt(&d.fields.title).contains(&stem), "{}", d.fields.title);
                assert!(
                    spelt(&d.fields.description).contains(&stem),
                    "{}",
                    d.fields.description
                );
                let tags: Vec<&str> = d.fields.tags.split(',').collect();
                assert!((3..=5).contains(&tags.len()), "{tags:?}");
                assert_eq!(tags[0], topic.stem);
                let prefix = format!("{}-", topic.stem);
                assert!(tags[1..].iter().all(|t| t.starts_with(&prefix)), "{tags:?}");
                assert_eq!(d.fields.category, topic.category);
            }
        }
    }
}
