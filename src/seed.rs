//! `mutua seed`: deterministic, realistic demo data for one industry (hospitality) — a tag
//! vocabulary with a long tail, German and English offers and needs, most of them
//! published, some pending or draft — and one login plus one read API key per organisation,
//! written to a CSV file so benchmarks can act as those organisations.
//!
//! Every seeded account shares one password, hashed once: hashing 10,000 passwords with
//! Argon2id would take minutes and prove nothing.

pub mod proposals;

use std::io::Write;
use std::path::Path;

use diesel::prelude::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::auth::tokens::sha256_hex;
use crate::db::schema::{memberships, orgs, users};
use crate::db::DbConnection;
use crate::models::api_key::{ApiKey, Scope, Scopes};
use crate::models::listing::{Listing, ListingCategory, ListingFields, ListingKind, ListingStatus};
use crate::models::membership::OrgRole;
use crate::models::org::Org;
use crate::models::user::{AccountStatus, PlatformRole, User};
use crate::transparency::{Leaf, LogEvent};

/// What to seed.
#[derive(Debug, Clone)]
pub struct SeedPlan {
    pub orgs: usize,
    pub listings_per_org: usize,
    pub seed: u64,
    /// Synthetic transparency-log leaves to append after the organisations.
    pub log_leaves: usize,
}

/// What was seeded.
#[derive(Debug, Clone, Default)]
pub struct SeedReport {
    pub orgs: usize,
    pub listings: usize,
    pub published: usize,
    pub log_leaves: usize,
}

const INDUSTRY: &str = "hospitality";
const REGIONS: [&str; 10] = [
    "Bayern", "Berlin", "Hamburg", "Zürich", "Wien", "Tirol", "Sachsen", "Hessen", "Bern",
    "Salzburg",
];
/// A topic: (tag stem, German label, English label).
type Topic = (&'static str, &'static str, &'static str);

const TOPICS: [Topic; 40] = [
    (
        "kundenservice",
        "Außergewöhnlicher Kundenservice",
        "Exceptional customer service",
    ),
    (
        "schulung",
        "Schulung für Empfangsteams",
        "Front-desk training",
    ),
    (
        "probemonat",
        "Unverbindlicher Probemonat",
        "No-obligation trial month",
    ),
    ("seminarraum", "Seminarraum", "Seminar room"),
    ("catering", "Catering für Veranstaltungen", "Event catering"),
    (
        "buchhaltung",
        "Buchhaltung und Lohn",
        "Bookkeeping and payroll",
    ),
    (
        "social-media",
        "Social-Media-Betreuung",
        "Social media management",
    ),
    (
        "fotografie",
        "Fotografie für Zimmer und Speisen",
        "Room and food photography",
    ),
    (
        "weinkeller",
        "Weinkeller und Sommelier",
        "Wine cellar and sommelier",
    ),
    (
        "reinigung",
        "Reinigung und Wäscherei",
        "Cleaning and laundry",
    ),
    ("fahrradverleih", "Fahrradverleih", "Bike rental"),
    ("shuttle", "Shuttle-Service", "Shuttle service"),
    ("energieberatung", "Energieberatung", "Energy consulting"),
    (
        "regionale-produkte",
        "Regionale Produkte",
        "Regional produce",
    ),
    (
        "empfehlungen",
        "Gegenseitige Empfehlungen",
        "Mutual referrals",
    ),
    (
        "gutscheine",
        "Gutscheine und Rabatte",
        "Vouchers and discounts",
    ),
    (
        "ausstellung",
        "Einladung zur Ausstellung",
        "Exhibition invitation",
    ),
    ("besichtigung", "Betriebsbesichtigung", "Site visit"),
    ("spendenaktion", "Spendenaktion", "Charity campaign"),
    (
        "nachhaltigkeit",
        "Nachhaltigkeitsberatung",
        "Sustainability consulting",
    ),
    (
        "personalvermittlung",
        "Personalvermittlung",
        "Staff placement",
    ),
    ("ausbildung", "Ausbildungsplätze", "Apprenticeships"),
    (
        "webdesign",
        "Webdesign und Buchungsstrecke",
        "Web design and booking flow",
    ),
    (
        "revenue-management",
        "Revenue-Management",
        "Revenue management",
    ),
    ("kuechengeraete", "Küchengeräte", "Kitchen equipment"),
    ("kuehlraum", "Kühlraum-Kapazität", "Cold storage capacity"),
    ("parkplaetze", "Parkplätze", "Parking spaces"),
    (
        "veranstaltungstechnik",
        "Veranstaltungstechnik",
        "Event technology",
    ),
    (
        "mehrsprachigkeit",
        "Mehrsprachiger Gästeservice",
        "Multilingual guest service",
    ),
    ("allergene", "Allergenkennzeichnung", "Allergen labelling"),
    ("hygiene", "Hygieneschulung", "Hygiene training"),
    ("marketing", "Gemeinsames Marketing", "Joint marketing"),
    ("bewertungen", "Umgang mit Bewertungen", "Handling reviews"),
    ("wellness", "Wellness-Angebote", "Wellness offers"),
    ("kinderbetreuung", "Kinderbetreuung", "Childcare"),
    ("barista", "Barista-Kurs", "Barista course"),
    (
        "einkaufsgemeinschaft",
        "Einkaufsgemeinschaft",
        "Purchasing group",
    ),
    ("dekoration", "Saisonale Dekoration", "Seasonal decoration"),
    ("zimmerkontingent", "Zimmerkontingent", "Room allotment"),
    (
        "digitalisierung",
        "Digitalisierung der Rezeption",
        "Front-desk digitalisation",
    ),
];
/// Qualifiers that turn the topics into a long tail of specific tags.
const QUALIFIERS: [&str; 30] = [
    "",
    "bayern",
    "berlin",
    "hamburg",
    "zuerich",
    "wien",
    "tirol",
    "alpen",
    "stadt",
    "land",
    "bio",
    "vegan",
    "premium",
    "budget",
    "saison",
    "winter",
    "sommer",
    "gruppen",
    "familien",
    "business",
    "events",
    "hochzeit",
    "kongress",
    "wochenende",
    "express",
    "digital",
    "kurs",
    "beratung",
    "miete",
    "pool",
];
const DESCRIPTIONS: [&str; 6] = [
    "Wir teilen Wissen und Ressourcen, damit beide Seiten profitieren.",
    "Ohne Verpflichtung: ein unverbindlicher Test schafft Vertrauen.",
    "Zusammenarbeit innerhalb der Branche erschließt neue Zielgruppen.",
    "Transparente Konditionen, faire Gegenseitigkeit, langfristige Kontakte.",
    "We believe in win-win partnerships and honest, transparent terms.",
    "Looking for a partner who values reciprocity as much as we do.",
];

fn vocabulary() -> Vec<String> {
    // Qualifier-major order, so the Zipf head holds the plain topics and the tail the
    // specific variants.
    let mut tags = Vec::new();
    for qualifier in QUALIFIERS {
        for (stem, _, _) in TOPICS {
            tags.push(if qualifier.is_empty() {
                stem.to_owned()
            } else {
                format!("{stem}-{qualifier}")
            });
        }
    }
    tags
}

/// Zipf-like sampler over the vocabulary (exponent 0.7: the commonest tag is on a few
/// percent of listings, most tags are rare).
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize) -> Zipf {
        let mut total = 0.0;
        let cumulative = (1..=n)
            .map(|k| {
                total += 1.0 / (k as f64).powf(0.7);
                total
            })
            .collect();
        Zipf { cumulative }
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> usize {
        let total = *self.cumulative.last().unwrap_or(&1.0);
        let x = rng.gen::<f64>() * total;
        self.cumulative
            .partition_point(|c| *c < x)
            .min(self.cumulative.len() - 1)
    }
}

/// A time-ordered id (UUIDv7) from the seeded generator, so a seed always yields the same ids.
fn seeded_id(rng: &mut ChaCha8Rng, at: chrono::NaiveDateTime) -> String {
    let random: [u8; 10] = rng.gen();
    uuid::Builder::from_unix_timestamp_millis(
        at.and_utc().timestamp_millis().max(0) as u64,
        &random,
    )
    .into_uuid()
    .to_string()
}

/// The shared password of seeded accounts.
pub fn password(seed: u64) -> String {
    format!("mutua-seed-password-{seed}")
}

/// Seeds the database and writes `org_id,email,password,api_key` lines to `out`.
pub fn run(conn: &mut DbConnection, plan: &SeedPlan, out: &Path) -> Result<SeedReport, String> {
    if let DbConnection::Sqlite(c) = conn {
        // A bulk load rewrites the full-text index's segments as they merge; with the
        // server's 16 MiB page cache each merge re-reads them from the file (30,000
        // listings: 19 s, half of it in system calls). This one connection may use more.
        diesel::connection::SimpleConnection::batch_execute(c, "PRAGMA cache_size = -524288;")
            .map_err(|e| format!("cannot configure the database: {e}"))?;
    }
    let first = format!("org00000-{}@seed.mutua.example", plan.seed);
    let seeded: i64 = users::table
        .filter(users::email.eq(&first))
        .count()
        .get_result(conn)
        .map_err(|e| format!("cannot read the database: {e}"))?;
    if seeded > 0 && plan.orgs > 0 {
        return Err(format!(
            "the database already holds the data of seed {}; use another --seed or a fresh database",
            plan.seed
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed);
    let tags = vocabulary();
    let zipf = Zipf::new(tags.len());
    let password = password(plan.seed);
    let password_hash = crate::auth::password::hash(&password).map_err(|e| e.to_string())?;
    let mut file =
        std::fs::File::create(out).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    writeln!(file, "org_id,email,password,api_key").map_err(|e| e.to_string())?;
    let mut report = SeedReport::default();
    // A fixed epoch keeps the data identical for a given seed.
    let base = chrono::DateTime::from_timestamp(1_780_000_000, 0)
        .map(|t| t.naive_utc())
        .unwrap_or_default();
    for chunk_start in (0..plan.orgs).step_by(250) {
        let chunk_end = (chunk_start + 250).min(plan.orgs);
        let lines = conn
            .transaction::<_, diesel::result::Error, _>(|conn| {
                let mut lines = Vec::new();
                let mut listings = Vec::new();
                for i in chunk_start..chunk_end {
                    let at = base + chrono::Duration::seconds(i as i64 * 60);
                    let line = seed_org(
                        conn,
                        &mut rng,
                        plan,
                        i,
                        at,
                        &tags,
                        &zipf,
                        &password_hash,
                        &password,
                        &mut listings,
                        &mut report,
                    )?;
                    lines.push(line);
                }
                // The same writer as the API's: the rows, their search text, postings and
                // tag counts (counted once per chunk).
                Listing::insert_all(conn, &listings)?;
                Ok(lines)
            })
            .map_err(|e| format!("seeding failed: {e}"))?;
        for line in lines {
            writeln!(file, "{line}").map_err(|e| e.to_string())?;
        }
    }
    report.log_leaves = seed_log(conn, plan.log_leaves, plan.seed, base)?;
    // Fresh statistics, so the planners use the tag and full-text indexes right away.
    crate::db::refresh_statistics(conn)?;
    Ok(report)
}

/// Leaves appended per transaction by [`seed_log`]: large batches spare the per-commit
/// cost; the hashes of a batch wait in memory until its one INSERT per 500 rows.
const LOG_BATCH: usize = 10_000;

/// Appends `count` synthetic `agreement.accepted` leaves between (up to 1,000 of) the
/// database's organisations through the log's own store, in batches. There are no agreement
/// rows behind them: they exist to measure the log's endpoints at size. Every third one is
/// confidential (a commitment only).
fn seed_log(
    conn: &mut DbConnection,
    count: usize,
    seed: u64,
    base: chrono::NaiveDateTime,
) -> Result<usize, String> {
    if count == 0 {
        return Ok(0);
    }
    let org_ids: Vec<String> = orgs::table
        .select(orgs::id)
        .order(orgs::id)
        .limit(1000)
        .load(conn)
        .map_err(|e| format!("cannot read organisations: {e}"))?;
    if org_ids.len() < 2 {
        return Err("--log-leaves needs at least two organisations (seed some with --orgs)".into());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6c6f_6700);
    let start = crate::transparency::store::tree_size(conn).map_err(|e| e.to_string())? as usize;
    let mut done = 0;
    while done < count {
        let batch: Vec<Leaf> = (done..(done + LOG_BATCH).min(count))
            .map(|i| synthetic_leaf(&mut rng, &org_ids, base, start + i))
            .collect();
        crate::transparency::store::append(conn, &batch)
            .map_err(|e| format!("seeding the log failed: {e}"))?;
        done += batch.len();
    }
    Ok(done)
}

fn synthetic_leaf(
    rng: &mut ChaCha8Rng,
    org_ids: &[String],
    base: chrono::NaiveDateTime,
    index: usize,
) -> Leaf {
    let logged_at = base + chrono::Duration::milliseconds(index as i64 * 250);
    let from = rng.gen_range(0..org_ids.len());
    let to = (from + rng.gen_range(1..org_ids.len())) % org_ids.len();
    let trial = rng.gen_bool(0.2);
    let gives = |rng: &mut ChaCha8Rng, what: &str| {
        serde_json::json!([{"category": "expertise", "description": what,
                             "quantity": rng.gen_range(1..40), "unit": "hours"}])
    };
    let terms = serde_json::json!({
        "from_gives": gives(rng, "Schulung für Empfangsteams"),
        "to_gives": if trial { serde_json::json!([]) } else { gives(rng, "Seminarraum") },
    });
    let salt: [u8; 32] = rng.gen();
    Leaf {
        agreement_id: seeded_id(rng, logged_at),
        event: LogEvent::Accepted,
        logged_at,
        from_org_id: org_ids[from].clone(),
        to_org_id: org_ids[to].clone(),
        kind: if trial { "trial" } else { "exchange" }.into(),
        terms_commitment: crate::transparency::terms_commitment(&salt, &terms),
        terms: (index % 3 != 2).then_some(terms),
    }
}

#[allow(clippy::too_many_arguments)]
fn seed_org(
    conn: &mut DbConnection,
    rng: &mut ChaCha8Rng,
    plan: &SeedPlan,
    index: usize,
    at: chrono::NaiveDateTime,
    tags: &[String],
    zipf: &Zipf,
    password_hash: &str,
    password: &str,
    listings: &mut Vec<Listing>,
    report: &mut SeedReport,
) -> QueryResult<String> {
    let org_id = seeded_id(rng, at);
    let user_id = seeded_id(rng, at);
    let region = *REGIONS.choose(rng).unwrap_or(&"Bayern");
    let (_, label, _) = TOPICS[index % TOPICS.len()];
    let email = format!("org{index:05}-{}@seed.mutua.example", plan.seed);
    let name = format!(
        "{} {} #{index}",
        ["Gasthof", "Hotel", "Pension", "Café", "Beratung"][index % 5],
        label.split(' ').next().unwrap_or("Partner")
    );
    User {
        id: user_id.clone(),
        email: email.clone(),
        password_hash: password_hash.to_owned(),
        display_name: format!("Inhaber {index}"),
        platform_role: PlatformRole::User,
        status: AccountStatus::Active,
        created_at: at,
        updated_at: at,
    }
    .insert(conn)?;
    Org {
        id: org_id.clone(),
        name,
        industry: INDUSTRY.to_owned(),
        description: Some("Gegenseitigkeit im Geschäftsleben".to_owned()),
        website: None,
        region: Some(region.to_owned()),
        status: AccountStatus::Active,
        version: 1,
        created_at: at,
        updated_at: at,
    }
    .insert(conn)?;
    diesel::insert_into(memberships::table)
        .values((
            memberships::org_id.eq(&org_id),
            memberships::user_id.eq(&user_id),
            memberships::role.eq(OrgRole::Owner),
            memberships::created_at.eq(at),
        ))
        .execute(conn)?;
    let key = seed_key(conn, rng, plan, &org_id, &user_id, at)?;
    for n in 0..plan.listings_per_org {
        let listing = seed_listing(
            rng,
            &org_id,
            region,
            at + chrono::Duration::seconds(n as i64),
            tags,
            zipf,
            report,
        );
        listings.push(listing);
    }
    report.orgs += 1;
    Ok(format!("{org_id},{email},{password},{key}"))
}

/// A read-only API key for a seeded organisation (written to the seed file, so benchmarks
/// can act as the organisation).
fn seed_key(
    conn: &mut DbConnection,
    rng: &mut ChaCha8Rng,
    plan: &SeedPlan,
    org_id: &str,
    user_id: &str,
    at: chrono::NaiveDateTime,
) -> QueryResult<String> {
    let secret: [u8; 24] = rng.gen();
    let key = format!("mutua_seed{}{}", plan.seed, hex::encode(secret));
    ApiKey {
        id: seeded_id(rng, at),
        org_id: org_id.to_owned(),
        name: "seed".to_owned(),
        prefix: key.chars().take(12).collect(),
        key_hash: sha256_hex(&key),
        scopes: Scopes(vec![Scope::Read]),
        created_by: user_id.to_owned(),
        created_at: at,
        last_used_at: None,
        revoked_at: None,
    }
    .insert(conn)?;
    Ok(key)
}

#[allow(clippy::too_many_arguments)]
fn seed_listing(
    rng: &mut ChaCha8Rng,
    org_id: &str,
    region: &str,
    at: chrono::NaiveDateTime,
    vocabulary: &[String],
    zipf: &Zipf,
    report: &mut SeedReport,
) -> Listing {
    // The order of the random draws is part of what a seed means: keep it.
    let offer = rng.gen_bool(0.5);
    let (topic, tags) = topic_and_tags(rng, vocabulary, zipf);
    let (title, description) = text(rng, offer, topic, region);
    let status = random_status(rng);
    let id = seeded_id(rng, at);
    let category = if rng.gen_bool(0.6) {
        ListingCategory::Expertise
    } else {
        ListingCategory::Resource
    };
    let trial_available = rng.gen_bool(0.2);
    let published = status == ListingStatus::Published;
    let fields = ListingFields {
        kind: if offer {
            ListingKind::Offer
        } else {
            ListingKind::Need
        },
        category,
        title,
        description,
        tags: tags.join(","),
        industry: None,
        region: Some(region.to_owned()),
        trial_available,
        expires_at: None,
    };
    report.listings += 1;
    report.published += usize::from(published);
    fields.into_row(id, org_id.to_owned(), INDUSTRY, status, at)
}

/// A listing is about one topic (its first tag and its title), narrowed by a qualified
/// variant of that topic, plus a few tags from the long tail.
fn topic_and_tags(
    rng: &mut ChaCha8Rng,
    vocabulary: &[String],
    zipf: &Zipf,
) -> (Topic, Vec<String>) {
    let sampled = &vocabulary[zipf.sample(rng)];
    let topic = TOPICS
        .iter()
        .find(|(s, _, _)| sampled == s || sampled.starts_with(&format!("{s}-")))
        .copied()
        .unwrap_or(TOPICS[0]);
    let stem = topic.0;
    let qualifier = QUALIFIERS[rng.gen_range(1..QUALIFIERS.len())];
    let mut chosen: Vec<String> = vec![stem.to_owned(), format!("{stem}-{qualifier}")];
    let wanted = rng.gen_range(3..=5);
    while chosen.len() < wanted {
        let tag = vocabulary[zipf.sample(rng)].clone();
        if !chosen.contains(&tag) {
            chosen.push(tag);
        }
    }
    (topic, chosen)
}

/// Title and description, German seven times in ten.
fn text(rng: &mut ChaCha8Rng, offer: bool, topic: Topic, region: &str) -> (String, String) {
    let (_, de, en) = topic;
    let german = rng.gen_bool(0.7);
    let title = match (offer, german) {
        (true, true) => format!("Biete: {de}"),
        (false, true) => format!("Suche: {de}"),
        (true, false) => format!("Offering: {en}"),
        (false, false) => format!("Looking for: {en}"),
    };
    let description = format!(
        "{} {}",
        DESCRIPTIONS.choose(rng).copied().unwrap_or(DESCRIPTIONS[0]),
        if german {
            format!("Region {region}.")
        } else {
            format!("Based in {region}.")
        }
    );
    (title, description)
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
