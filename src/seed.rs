//! `mutua seed`: deterministic, realistic demo data for one industry (hospitality).
//! Each organisation is a kind of business (a [`profiles::Profile`]: a hotel, a bakery, a
//! tax adviser for gastronomy …) whose offers come from what such a business can give and
//! whose needs from what it lacks, each listing about one [`topics::Topic`] in title,
//! description and tags; most listings are published, some pending or draft. About three
//! in ten organisations then negotiate a partnership with a complementary partner
//! ([`partnerships`]): through the same model functions as the API, so the registry, the
//! transparency log, the event feeds and the reciprocity balances hold what the API would
//! have written. One login plus one read API key per organisation goes to a CSV file, so
//! benchmarks can act as those organisations.
//!
//! Every seeded account shares one password, hashed once: hashing 10,000 passwords with
//! Argon2id would take minutes and prove nothing.

pub mod base;
pub mod listings;
pub mod partnerships;
pub mod profiles;
pub mod proposals;
pub mod topics;

use std::cell::RefCell;
use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use diesel::prelude::*;
use indicatif::ProgressBar;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::auth::tokens::sha256_hex;
use crate::db::schema::{memberships, orgs, users};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::models::api_key::{ApiKey, Scope, Scopes};
use crate::models::event;
use crate::models::listing::{Listing, ListingKind, ListingStatus};
use crate::models::membership::OrgRole;
use crate::models::org::Org;
use crate::models::user::{AccountStatus, PlatformRole, User};
use crate::transparency::{Leaf, LogEvent};
use base::seeded_id;
pub use base::SeedReport;
use listings::{ProfileTopics, REGIONS};
use partnerships::{Listed, Member, Writer};
use profiles::{Profile, CYCLE, FAMILIES, PLACES, PROFILES};

/// What to seed.
#[derive(Debug, Clone)]
pub struct SeedPlan {
    pub orgs: usize,
    pub listings_per_org: usize,
    pub seed: u64,
    /// Synthetic transparency-log leaves to append after the organisations.
    pub log_leaves: usize,
}

const INDUSTRY: &str = "hospitality";
/// Organisations per transaction; partnerships form within one.
const CHUNK: usize = 250;
const FIRST_NAMES: [&str; 12] = [
    "Anna", "Lukas", "Sophie", "Jonas", "Lea", "Felix", "Marie", "Paul", "Laura", "Simon", "Julia",
    "David",
];

/// The shared password of seeded accounts.
pub fn password(seed: u64) -> String {
    format!("mutua-seed-password-{seed}")
}

/// Seeds the database and writes `org_id,email,password,api_key` lines to `out`.
pub fn run(conn: &mut DbConnection, plan: &SeedPlan, out: &Path) -> Result<SeedReport, String> {
    run_with_progress(conn, plan, out, &ProgressBar::hidden())
}

/// [`run`], counting the seeded organisations on `progress`.
pub fn run_with_progress(
    conn: &mut DbConnection,
    plan: &SeedPlan,
    out: &Path,
    progress: &ProgressBar,
) -> Result<SeedReport, String> {
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
    let kinds = Kinds::new()?;
    let mut file =
        std::fs::File::create(out).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    writeln!(file, "org_id,email,password,api_key").map_err(|e| e.to_string())?;
    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed);
    let password = password(plan.seed);
    let password_hash = crate::auth::password::hash(&password).map_err(|e| e.to_string())?;
    let mut report = SeedReport::default();
    // A fixed epoch keeps the data identical for a given seed.
    let base = chrono::DateTime::from_timestamp(1_780_000_000, 0)
        .map(|t| t.naive_utc())
        .unwrap_or_default();
    let account = Account {
        seed: plan.seed,
        password: &password,
        password_hash: &password_hash,
    };
    let names = RefCell::new(HashSet::new());
    for chunk_start in (0..plan.orgs).step_by(CHUNK) {
        let chunk = chunk_start..(chunk_start + CHUNK).min(plan.orgs);
        let seeder = Seeder {
            plan,
            kinds: &kinds,
            account: &account,
            base,
            names: &names,
        };
        let lines = crate::db::write_transaction(conn, |conn| {
            seeder.chunk(conn, &mut rng, chunk.clone(), &mut report)
        })
        .map_err(|e| format!("seeding failed: {e}"))?;
        for line in lines {
            writeln!(file, "{line}").map_err(|e| e.to_string())?;
        }
        progress.inc(chunk.len() as u64);
    }
    progress.set_message("log leaves");
    report.log_leaves = seed_log(conn, plan.log_leaves, plan.seed, base)?;
    progress.set_message("statistics");
    // Fresh statistics, so the planners use the tag and full-text indexes right away.
    crate::db::refresh_statistics(conn)?;
    Ok(report)
}

/// The shared login of seeded accounts.
struct Account<'a> {
    seed: u64,
    password: &'a str,
    password_hash: &'a str,
}

/// The kinds of business with their topics, and the order organisations take them in.
struct Kinds {
    topics: Vec<ProfileTopics>,
    /// Indices into [`PROFILES`], see [`CYCLE`].
    cycle: Vec<usize>,
}

impl Kinds {
    fn new() -> Result<Kinds, String> {
        let topics = PROFILES
            .iter()
            .map(ProfileTopics::of)
            .collect::<Result<Vec<_>, _>>()?;
        let cycle = CYCLE
            .iter()
            .map(|key| {
                PROFILES
                    .iter()
                    .position(|p| p.key == *key)
                    .ok_or_else(|| format!("the seed's cycle names no profile {key}"))
            })
            .collect::<Result<Vec<usize>, _>>()?;
        Ok(Kinds { topics, cycle })
    }
}

/// What every chunk of organisations is seeded with.
struct Seeder<'a> {
    plan: &'a SeedPlan,
    kinds: &'a Kinds,
    account: &'a Account<'a>,
    base: chrono::NaiveDateTime,
    /// The organisation names taken so far: two businesses of one name would read as one.
    names: &'a RefCell<HashSet<String>>,
}

impl Seeder<'_> {
    /// The organisations `chunk` with their listings, then the partnerships among them and
    /// last the events of those, in the caller's transaction; returns the logins lines.
    fn chunk(
        &self,
        conn: &mut DbConnection,
        rng: &mut ChaCha8Rng,
        chunk: std::ops::Range<usize>,
        report: &mut SeedReport,
    ) -> Result<Vec<String>, ApiError> {
        // Partnerships draw from a generator of their own, so they leave the listings of
        // later chunks as they are.
        let mut partnering =
            ChaCha8Rng::seed_from_u64(self.plan.seed ^ (0x7061_7274 << 20) ^ chunk.start as u64);
        let mut lines = Vec::with_capacity(chunk.len());
        let mut listings = Vec::with_capacity(chunk.len() * self.plan.listings_per_org);
        let mut members = Vec::with_capacity(chunk.len());
        for i in chunk {
            let at = self.base + chrono::Duration::seconds(i as i64 * 60);
            let kind = self.kinds.cycle[i % self.kinds.cycle.len()];
            let (line, member) = seed_org(
                conn,
                rng,
                (self, i, at),
                (&PROFILES[kind], &self.kinds.topics[kind]),
                &mut listings,
                report,
            )?;
            lines.push(line);
            members.push(member);
        }
        // The same writer as the API's: the rows, their search text, postings and tag
        // counts (counted once per chunk).
        Listing::insert_all(conn, &listings)?;
        let mut events = Vec::new();
        let pairs = partnerships::pairs(&mut partnering, &members);
        let mut writer = Writer {
            rng: &mut partnering,
            members: &members,
            events: &mut events,
            report,
        };
        for pair in &pairs {
            writer.write(conn, pair)?;
        }
        // The chunk's events last, as every change writes them.
        event::write_all(conn, &events)?;
        Ok(lines)
    }
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

/// One organisation of `profile`: its owner, membership and key, its listings (pushed to
/// `listings`), its logins line and what partnerships need of it.
fn seed_org(
    conn: &mut DbConnection,
    rng: &mut ChaCha8Rng,
    (seeder, index, at): (&Seeder, usize, chrono::NaiveDateTime),
    (profile, topics): (&Profile, &ProfileTopics),
    listings: &mut Vec<Listing>,
    report: &mut SeedReport,
) -> QueryResult<(String, Member)> {
    let (plan, account) = (seeder.plan, seeder.account);
    let org_id = seeded_id(rng, at);
    let user_id = seeded_id(rng, at);
    let region = *REGIONS.choose(rng).unwrap_or(&REGIONS[0]);
    let family = *FAMILIES.choose(rng).unwrap_or(&FAMILIES[0]);
    let name = unique_name(
        rng,
        profile,
        family,
        region.0,
        &mut seeder.names.borrow_mut(),
    );
    let email = format!("org{index:05}-{}@seed.mutua.example", account.seed);
    User {
        id: user_id.clone(),
        email: email.clone(),
        password_hash: account.password_hash.to_owned(),
        display_name: format!(
            "{} {family}",
            FIRST_NAMES.choose(rng).unwrap_or(&FIRST_NAMES[0])
        ),
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
        description: Some(format!(
            "{} in {}.",
            profile.about[rng.gen_range(0..2)],
            region.0
        )),
        website: None,
        region: Some(region.0.to_owned()),
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
    let mut member = Member {
        org_id: org_id.clone(),
        owner_id: user_id,
        region: region.0,
        joined: at,
        offers: Vec::new(),
        needs: Vec::new(),
    };
    for (n, draft) in listings::drafts(rng, topics, region, plan.listings_per_org)
        .into_iter()
        .enumerate()
    {
        let id = seeded_id(rng, at + chrono::Duration::seconds(n as i64));
        if draft.status == ListingStatus::Published {
            let listed = Listed {
                topic: draft.topic,
                listing_id: id.clone(),
                trial: draft.fields.trial_available,
            };
            match draft.fields.kind {
                ListingKind::Offer => member.offers.push(listed),
                ListingKind::Need => member.needs.push(listed),
            }
            report.published += 1;
        }
        report.listings += 1;
        listings.push(draft.fields.into_row(
            id,
            org_id.clone(),
            INDUSTRY,
            draft.status,
            at + chrono::Duration::seconds(n as i64),
        ));
    }
    report.orgs += 1;
    Ok((
        format!("{org_id},{email},{},{key}", account.password),
        member,
    ))
}

/// A name for a business of `profile` that no other seeded one has: a few draws from its
/// name patterns, then the region, then a number.
fn unique_name(
    rng: &mut ChaCha8Rng,
    profile: &Profile,
    family: &str,
    region: &str,
    taken: &mut HashSet<String>,
) -> String {
    let draw = |rng: &mut ChaCha8Rng, family: &str| {
        profile
            .names
            .choose(rng)
            .unwrap_or(&"{family}")
            .replace("{family}", family)
            .replace("{place}", PLACES.choose(rng).unwrap_or(&PLACES[0]))
    };
    let mut name = draw(rng, family);
    for _ in 0..4 {
        if !taken.contains(&name) {
            break;
        }
        let other = *FAMILIES.choose(rng).unwrap_or(&FAMILIES[0]);
        name = draw(rng, other);
    }
    if taken.contains(&name) {
        name = format!("{name} {region}");
    }
    let mut n = 2;
    let stem = name.clone();
    while taken.contains(&name) {
        name = format!("{stem} {n}");
        n += 1;
    }
    taken.insert(name.clone());
    name
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
