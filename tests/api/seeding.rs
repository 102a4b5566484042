//! `mutua seed`: realistic demo data seeded by the binary into a fresh database (SQLite or
//! PostgreSQL), with one working login and API key per organisation, matches to find among
//! them, a mix of published and pending listings — and the same data for the same seed.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::{json, Value};

use crate::backends;
use crate::helpers::{enc, Backend, Resp, TestApp};
use mutua::seed::topics::spelt;

/// One line of the logins file.
#[derive(Debug, Clone)]
struct Login {
    org_id: String,
    email: String,
    password: String,
    api_key: String,
}

/// The binary with a clean environment (no inherited Mutua or database settings).
fn mutua(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mutua"));
    for (key, _) in std::env::vars() {
        if key.starts_with("MUTUA_") || key == "DATABASE_URL" {
            cmd.env_remove(key);
        }
    }
    cmd.env("MUTUA_DATA_DIR", data_dir).env("RUST_LOG", "warn");
    cmd
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs `mutua seed` against the app's database; returns the output and the logins file.
fn run_seed(app: &TestApp, dir: &Path, orgs: u32, per_org: u32, seed: u64) -> (Output, String) {
    let out = dir.join(format!("logins-{seed}.csv"));
    let output = mutua(dir)
        .args([
            "seed",
            "--orgs",
            &orgs.to_string(),
            "--listings-per-org",
            &per_org.to_string(),
            "--seed",
            &seed.to_string(),
            "--out",
        ])
        .arg(&out)
        .env("DATABASE_URL", &app.database_url)
        .output()
        .expect("mutua runs");
    let csv = std::fs::read_to_string(&out).unwrap_or_default();
    (output, csv)
}

/// Seeds and checks the command succeeded; returns the logins.
fn seed(app: &TestApp, dir: &Path, orgs: u32, per_org: u32, seed: u64) -> Vec<Login> {
    let (output, csv) = run_seed(app, dir, orgs, per_org, seed);
    assert!(
        output.status.success(),
        "mutua seed failed: {}",
        stderr(&output)
    );
    parse(&csv)
}

fn parse(csv: &str) -> Vec<Login> {
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("org_id,email,password,api_key"),
        "header of {csv}"
    );
    lines
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(fields.len(), 4, "line {line:?}");
            assert!(
                fields.iter().all(|f| !f.trim().is_empty()),
                "empty field in {line:?}"
            );
            Login {
                org_id: fields[0].to_owned(),
                email: fields[1].to_owned(),
                password: fields[2].to_owned(),
                api_key: fields[3].to_owned(),
            }
        })
        .collect()
}

fn items(resp: &Resp) -> &Vec<Value> {
    resp.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {}", resp.text))
}

fn next_cursor(resp: &Resp) -> Option<String> {
    resp.body["next_cursor"].as_str().map(str::to_owned)
}

/// Every published listing, newest first, as (id, title), following the cursor.
async fn catalogue(app: &TestApp) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let mut path = "/api/v1/listings?sort=newest&limit=100".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", enc(c)));
        }
        let page = app.get(&path, None).await;
        page.expect(200);
        out.extend(items(&page).iter().map(|l| {
            (
                l["id"].as_str().expect("id").to_owned(),
                l["title"].as_str().expect("title").to_owned(),
            )
        }));
        cursor = next_cursor(&page);
        if cursor.is_none() {
            return out;
        }
    }
    panic!("the catalogue's pages do not end");
}

/// The titles of the first catalogue page, newest first.
async fn newest_titles(app: &TestApp) -> Vec<String> {
    let page = app
        .get("/api/v1/listings?sort=newest&limit=100", None)
        .await;
    page.expect(200);
    items(&page)
        .iter()
        .map(|l| l["title"].as_str().expect("title").to_owned())
        .collect()
}

async fn seed_writes_working_logins_and_a_realistic_catalogue(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let (output, csv) = run_seed(&app, dir.path(), 30, 5, 3);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        csv.ends_with('\n') && csv.lines().count() == 31,
        "a header and 30 lines: {csv}"
    );
    let logins = parse(&csv);
    assert_eq!(logins.len(), 30);
    let org_ids: BTreeSet<&str> = logins.iter().map(|l| l.org_id.as_str()).collect();
    let emails: BTreeSet<&str> = logins.iter().map(|l| l.email.as_str()).collect();
    let keys: BTreeSet<&str> = logins.iter().map(|l| l.api_key.as_str()).collect();
    assert_eq!(
        (org_ids.len(), emails.len(), keys.len()),
        (30, 30, 30),
        "distinct"
    );
    for login in &logins {
        uuid::Uuid::parse_str(&login.org_id).expect("org_id is a UUID");
        assert!(login.email.contains('@'), "{login:?}");
    }

    // The logins work: each of a few accounts signs in and is a member of its organisation.
    for login in logins.iter().step_by(7) {
        let tokens = app
            .post(
                "/api/v1/auth/login",
                None,
                json!({"email": login.email, "password": login.password}),
            )
            .await;
        tokens.expect(200);
        let org = app
            .get(
                &format!("/api/v1/orgs/{}", login.org_id),
                Some(&tokens.str("access_token")),
            )
            .await;
        org.expect(200);
        assert_eq!(org.body["industry"], "hospitality");
        let wrong = app
            .post(
                "/api/v1/auth/login",
                None,
                json!({"email": login.email, "password": "not-the-password-123"}),
            )
            .await;
        wrong.expect(401);
    }

    // Every organisation's key reads its matches, ranked: reciprocal partners first, each
    // group by score, never the organisation itself, every partner explained.
    let mut with_reciprocal = 0;
    for login in &logins {
        let resp = app
            .get(
                &format!("/api/v1/orgs/{}/matches?limit=100", login.org_id),
                Some(&login.api_key),
            )
            .await;
        resp.expect(200);
        let partners = items(&resp);
        let mut previous: Option<(bool, f64)> = None;
        for p in partners {
            let org = p["org_id"].as_str().expect("org_id");
            assert_ne!(org, login.org_id, "an organisation matched itself");
            assert!(org_ids.contains(org), "unknown partner {org}");
            assert!(p["name"].as_str().is_some_and(|n| !n.is_empty()), "{p}");
            let reciprocal = p["reciprocal"].as_bool().expect("reciprocal");
            let score = p["score"].as_f64().expect("score");
            assert!(score > 0.0, "{p}");
            let theirs = p["explanation"]["their_offers_meet_our_needs"]
                .as_array()
                .expect("explanation");
            let ours = p["explanation"]["our_offers_meet_their_needs"]
                .as_array()
                .expect("explanation");
            assert_eq!(
                reciprocal,
                !theirs.is_empty() && !ours.is_empty(),
                "reciprocal must mean both directions: {p}"
            );
            assert!(!theirs.is_empty() || !ours.is_empty(), "unexplained: {p}");
            for m in theirs.iter().chain(ours) {
                assert!(
                    m["tags"].as_array().is_some_and(|t| !t.is_empty()),
                    "a meeting without shared tags: {m}"
                );
                assert!(m["need_title"].is_string() && m["offer_title"].is_string());
            }
            if let Some((prev_reciprocal, prev_score)) = previous {
                assert!(
                    prev_reciprocal >= reciprocal,
                    "a one-sided partner ranks above a reciprocal one: {}",
                    resp.text
                );
                if prev_reciprocal == reciprocal {
                    assert!(prev_score >= score, "not ranked by score: {}", resp.text);
                }
            }
            previous = Some((reciprocal, score));
        }
        if partners
            .first()
            .is_some_and(|p| p["reciprocal"] == json!(true))
        {
            with_reciprocal += 1;
        }
    }
    assert!(
        with_reciprocal > 0,
        "no seeded organisation has a reciprocal partner"
    );

    // A seeded key is bound to its organisation and read-only.
    let (first, second) = (&logins[0], &logins[1]);
    app.get(
        &format!("/api/v1/orgs/{}/matches", second.org_id),
        Some(&first.api_key),
    )
    .await
    .expect_problem(403);
    let write = app
        .post(
            "/api/v1/listings",
            Some(&first.api_key),
            json!({
                "org_id": first.org_id,
                "kind": "offer",
                "category": "expertise",
                "title": "Neues Angebot",
                "description": "",
                "tags": ["kundenservice"],
            }),
        )
        .await;
    write.expect_problem(403);

    // Most listings are published (between 60 % and 95 % of 150), both kinds, in German
    // and English.
    let page = app.get("/api/v1/listings?limit=100", None).await;
    page.expect(200);
    let total = page.body["facets"]["total"].as_i64().expect("facets.total");
    assert!(
        (90..=142).contains(&total),
        "{total} of 150 listings published"
    );
    let listings = items(&page);
    assert_eq!(listings.len(), 100);
    assert!(listings.iter().all(|l| l["status"] == "published"));
    let kinds: BTreeSet<&str> = listings
        .iter()
        .map(|l| l["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, BTreeSet::from(["need", "offer"]));
    let tags: BTreeSet<&str> = listings
        .iter()
        .flat_map(|l| l["tags"].as_array().expect("tags"))
        .map(|t| t.as_str().expect("tag"))
        .collect();
    assert!(tags.len() >= 50, "a long tail of tags: {tags:?}");
    let all = catalogue(&app).await;
    assert_eq!(all.len() as i64, total);

    // Some are waiting for review: a moderator sees them.
    let moderator = app.user("moderation@mutua.example").await;
    app.sql(&format!(
        "UPDATE users SET platform_role = 'moderator' WHERE id = '{}'",
        moderator.id
    ));
    let pending = app
        .get(
            "/api/v1/listings?status=pending_review&limit=100",
            Some(&moderator.access),
        )
        .await;
    pending.expect(200);
    let waiting = pending.body["facets"]["total"]
        .as_i64()
        .expect("facets.total");
    assert!(waiting > 0, "no pending listings: {}", pending.text);
    assert!(total + waiting <= 150);
    assert!(items(&pending)
        .iter()
        .all(|l| l["status"] == "pending_review"));
    // The public does not see them.
    let public = app
        .get("/api/v1/listings?status=pending_review", None)
        .await;
    assert!(
        public.status == 403 || public.status == 401,
        "{}",
        public.text
    );
}

async fn same_seed_gives_the_same_data_and_another_seed_other_data(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let first = TestApp::spawn(backend).await;
    let second = TestApp::spawn(backend).await;
    let other = TestApp::spawn(backend).await;
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    for d in [&a, &b, &c] {
        std::fs::create_dir(d).unwrap();
    }
    let logins_first = seed(&first, &a, 30, 5, 3);
    let logins_second = seed(&second, &b, 30, 5, 3);
    let logins_other = seed(&other, &c, 30, 5, 4);

    let org_ids =
        |logins: &[Login]| -> Vec<String> { logins.iter().map(|l| l.org_id.clone()).collect() };
    assert_eq!(org_ids(&logins_first), org_ids(&logins_second));
    assert_eq!(
        logins_first.iter().map(|l| &l.email).collect::<Vec<_>>(),
        logins_second.iter().map(|l| &l.email).collect::<Vec<_>>()
    );

    let titles = |listings: &[(String, String)]| -> Vec<String> {
        listings.iter().map(|(_, t)| t.clone()).collect()
    };
    let first_page = newest_titles(&first).await;
    assert!(!first_page.is_empty());
    assert_eq!(first_page, newest_titles(&second).await);
    let (all_first, all_second) = (catalogue(&first).await, catalogue(&second).await);
    assert_eq!(all_first, all_second, "ids and titles in the same order");
    assert_eq!(titles(&all_first), titles(&all_second));

    // Another seed: other organisations and other listings.
    assert!(org_ids(&logins_other)
        .iter()
        .all(|id| !logins_first.iter().any(|l| &l.org_id == id)));
    let all_other = catalogue(&other).await;
    assert_ne!(titles(&all_other), titles(&all_first));
    assert_ne!(newest_titles(&other).await, first_page);
}

async fn seed_refuses_an_unwritable_logins_file(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let output = mutua(dir.path())
        .args(["seed", "--orgs", "3", "--listings-per-org", "2", "--out"])
        .arg(dir.path().join("missing-folder").join("logins.csv"))
        .env("DATABASE_URL", &app.database_url)
        .output()
        .expect("mutua runs");
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("logins.csv"), "{err}");
    // Nothing was seeded.
    let page = app.get("/api/v1/listings", None).await;
    page.expect(200);
    assert_eq!(page.body["facets"]["total"], json!(0), "{}", page.text);
}

/// Seeding the same seed twice into one database is refused with a reason, and the data of
/// the first run stays as it was.
async fn reseeding_the_same_seed_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dir = tempfile::tempdir().unwrap();
    seed(&app, dir.path(), 4, 2, 9);
    let before = app.get("/api/v1/listings?limit=100", None).await;
    let (output, _) = run_seed(&app, dir.path(), 4, 2, 9);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("already holds the data of seed 9"), "{err}");
    let after = app.get("/api/v1/listings?limit=100", None).await;
    assert_eq!(
        after.body["facets"]["total"],
        before.body["facets"]["total"]
    );
    // Another seed still adds its own data.
    seed(&app, dir.path(), 2, 2, 10);
}

backends!(
    reseeding_the_same_seed_is_refused,
    seed_writes_working_logins_and_a_realistic_catalogue,
    same_seed_gives_the_same_data_and_another_seed_other_data,
    seed_refuses_an_unwritable_logins_file,
    seeded_proposals_are_told_to_their_receivers,
);

/// `--open-proposals`: each seeded proposal is in its receiver's event feed, as the
/// receiver reads it, and the written key of that receiver reads the feed.
async fn seeded_proposals_are_told_to_their_receivers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (logins, proposals) = (
        dir.path().join("logins.csv"),
        dir.path().join("proposals.csv"),
    );
    let output = mutua(dir.path())
        .args([
            "seed",
            "--orgs",
            "4",
            "--listings-per-org",
            "1",
            "--open-proposals",
            "6",
            "--out",
        ])
        .arg(&logins)
        .arg("--proposals-out")
        .arg(&proposals)
        .env("DATABASE_URL", &app.database_url)
        .output()
        .expect("mutua runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let text = std::fs::read_to_string(&proposals).expect("proposals file");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("proposal_id,receiver_api_key,receiver_org_id")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 6);
    for row in &rows {
        let [proposal, key, org] = row[..] else {
            panic!("three columns: {row:?}");
        };
        let feed = app
            .get(
                &format!("/api/v1/orgs/{org}/events?types=proposal.received&limit=100"),
                Some(key),
            )
            .await;
        feed.expect(200);
        let told = feed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["data"]["id"] == json!(proposal))
            .unwrap_or_else(|| panic!("{proposal} not in {}", feed.text))
            .clone();
        let read = app
            .get(&format!("/api/v1/proposals/{proposal}"), Some(key))
            .await;
        read.expect(200);
        assert_eq!(told["data"], read.body);
    }
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM events WHERE event_type = 'proposal.received'"),
        6
    );
}

backends!(
    seeded_listings_are_about_one_topic_and_partners_meet_through_it,
    seeded_partnerships_are_agreements_as_the_api_makes_them,
    seed_reports_what_it_wrote_and_writes_the_logins_where_out_says,
);

/// The topic of some tags: the one tag every other one narrows (`stem` and `stem-…`).
fn topic_of(tags: &[String]) -> Option<&str> {
    tags.iter()
        .find(|stem| {
            tags.iter()
                .all(|t| t == *stem || t.starts_with(&format!("{stem}-")))
        })
        .map(String::as_str)
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|t| t.as_str().expect("a string").to_owned())
        .collect()
}

/// Every published listing, as the public reads it.
async fn published(app: &TestApp) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/api/v1/listings?sort=newest&limit=100".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", enc(c)));
        }
        let page = app.get(&path, None).await;
        page.expect(200);
        out.extend(items(&page).iter().cloned());
        cursor = next_cursor(&page);
        if cursor.is_none() {
            return out;
        }
    }
}

/// Title, description and tags of every seeded listing speak of one topic; every meeting
/// of an organisation's matches joins an offer and a need of one topic, named in both
/// titles; and most organisations' first partner is reciprocal.
async fn seeded_listings_are_about_one_topic_and_partners_meet_through_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let logins = seed(&app, dir.path(), 30, 10, 5);

    let listings = published(&app).await;
    assert!(listings.len() > 200, "{} published", listings.len());
    for l in &listings {
        let (title, description) = (
            l["title"].as_str().unwrap(),
            l["description"].as_str().unwrap(),
        );
        let tags = strings(&l["tags"]);
        let topic = topic_of(&tags).unwrap_or_else(|| panic!("tags of no one topic: {l}"));
        assert!(
            spelt(title).contains(&spelt(topic)),
            "{topic} not in {title}"
        );
        assert!(
            spelt(description).contains(&spelt(topic)),
            "{topic} not in {description}"
        );
        let prefix = if l["kind"] == "offer" {
            "Biete: "
        } else {
            "Suche: "
        };
        assert!(title.starts_with(prefix), "{l}");
    }

    let mut reciprocal_first = 0;
    for login in &logins {
        let resp = app
            .get(
                &format!("/api/v1/orgs/{}/matches", login.org_id),
                Some(&login.api_key),
            )
            .await;
        resp.expect(200);
        let partners = items(&resp);
        assert!(!partners.is_empty(), "{} has no partner", login.org_id);
        reciprocal_first += usize::from(partners[0]["reciprocal"] == json!(true));
        for p in partners {
            let explanation = &p["explanation"];
            let meetings = explanation["their_offers_meet_our_needs"]
                .as_array()
                .unwrap()
                .iter()
                .chain(
                    explanation["our_offers_meet_their_needs"]
                        .as_array()
                        .unwrap(),
                );
            for m in meetings {
                let shared = strings(&m["tags"]);
                let topic = topic_of(&shared).unwrap_or_else(|| panic!("no one topic: {m}"));
                for title in [&m["offer_title"], &m["need_title"]] {
                    let title = title.as_str().expect("title");
                    assert!(spelt(title).contains(&spelt(topic)), "{topic} not in {m}");
                }
                assert!(
                    m["offer_title"].as_str().unwrap().starts_with("Biete: "),
                    "{m}"
                );
                assert!(
                    m["need_title"].as_str().unwrap().starts_with("Suche: "),
                    "{m}"
                );
            }
        }
    }
    // Thirty organisations of two dozen kinds, eight in ten listings published: a few lack
    // a partner both ways (with hundreds of organisations hardly any does).
    assert!(
        reciprocal_first >= 24,
        "only {reciprocal_first} of 30 organisations see a reciprocal partner first"
    );
}

/// The checkpoint's tree size and root, its signature checked with the published key.
async fn signed_tree(app: &TestApp) -> (u64, tlog_tiles::Hash) {
    let key = app.get("/api/v1/transparency/public-key", None).await;
    key.expect(200);
    let verifier = signed_note::StandardVerifier::new(&key.str("verifier_key")).unwrap();
    let note = app.get("/api/v1/transparency/checkpoint", None).await;
    note.expect(200);
    let note = signed_note::Note::from_bytes(note.text.as_bytes()).unwrap();
    note.verify(&signed_note::VerifierList::new(vec![Box::new(verifier)]))
        .expect("the checkpoint's signature verifies");
    let checkpoint = tlog_tiles::Checkpoint::from_bytes(note.text()).unwrap();
    (checkpoint.size(), *checkpoint.hash())
}

/// Seeded partnerships read like the API made them: completed agreements in the public
/// registry whose items give the two parties' own published listings in words of their
/// topic, endorsements, reciprocity balances, events, and log leaves whose inclusion
/// proofs verify against the signed checkpoint — and that `mutua verify agreement` passes.
async fn seeded_partnerships_are_agreements_as_the_api_makes_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let logins = seed(&app, dir.path(), 20, 10, 5);
    let key_of = |org: &str| {
        logins
            .iter()
            .find(|l| l.org_id == org)
            .map(|l| l.api_key.clone())
            .expect("a seeded party")
    };

    let registry = app
        .get("/api/v1/agreements?status=completed&limit=100", None)
        .await;
    registry.expect(200);
    let completed = items(&registry);
    assert!(
        !completed.is_empty(),
        "no completed agreement: {}",
        registry.text
    );
    let mut endorsements = 0;
    for agreement in completed {
        let id = agreement["id"].as_str().unwrap();
        let (from, to) = (
            agreement["from_org_id"].as_str().unwrap(),
            agreement["to_org_id"].as_str().unwrap(),
        );
        let events: Vec<&str> = agreement["log_entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event"].as_str().unwrap())
            .collect();
        assert_eq!(
            events,
            ["agreement.accepted", "agreement.completed"],
            "{agreement}"
        );
        let terms = &agreement["terms"];
        for (side, giver) in [("from_gives", from), ("to_gives", to)] {
            for item in terms[side].as_array().unwrap() {
                let listing_id = item["listing_id"].as_str().expect("items name a listing");
                let listing = app
                    .get(&format!("/api/v1/listings/{listing_id}"), None)
                    .await;
                listing.expect(200);
                assert_eq!(listing.body["org_id"], json!(giver), "{item}");
                assert_eq!(listing.body["kind"], "offer");
                let topic = strings(&listing.body["tags"]);
                let topic = topic_of(&topic).expect("a topic");
                let words = item["description"].as_str().unwrap();
                assert!(spelt(words).contains(&spelt(topic)), "{topic}: {item}");
            }
        }
        let thanks = app
            .get(&format!("/api/v1/agreements/{id}/endorsements"), None)
            .await;
        thanks.expect(200);
        for e in items(&thanks) {
            let pair = [
                e["author_org_id"].as_str().unwrap(),
                e["endorsed_org_id"].as_str().unwrap(),
            ];
            assert!(pair == [from, to] || pair == [to, from], "{e}");
            endorsements += 1;
        }
        let balance = app
            .get(&format!("/api/v1/orgs/{from}/reciprocity"), None)
            .await;
        balance.expect(200);
        assert!(
            balance.body["completed_agreements"].as_i64().unwrap() >= 1,
            "{}",
            balance.text
        );

        // The product's own verifier, as a party (so the commitment is checked too).
        let (address, key) = (app.address.clone(), key_of(from));
        let id_owned = id.to_owned();
        let output = actix_web::rt::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_mutua"))
                .args(["verify", "agreement", &id_owned, "--server", &address])
                .env("MUTUA_TOKEN", key)
                .output()
                .expect("mutua verify runs")
        })
        .await
        .unwrap();
        let out = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && !out.contains("FAIL"),
            "{out}{}",
            stderr(&output)
        );
        assert!(
            out.contains("agreement.completed") && out.contains("terms commitment"),
            "{out}"
        );
    }
    assert!(endorsements > 0, "no endorsements");

    // Every leaf belongs to an agreement (one per acceptance, completion and cancellation)
    // and proves its inclusion in the signed tree.
    let leaves = app.count("SELECT COUNT(*) AS n FROM log_leaves");
    let expected = app.count(
        "SELECT COUNT(*) + SUM(CASE WHEN status IN ('completed', 'cancelled') THEN 1 ELSE 0 END) \
         AS n FROM agreements",
    );
    assert_eq!(leaves, expected);
    let (size, root) = signed_tree(&app).await;
    assert_eq!(size as i64, leaves);
    let entries = app
        .get(
            &format!("/api/v1/transparency/entries?start=0&limit={size}"),
            None,
        )
        .await;
    entries.expect(200);
    for entry in items(&entries) {
        let index = entry["index"].as_u64().unwrap();
        let agreement = app
            .get(
                &format!(
                    "/api/v1/agreements/{}",
                    entry["agreement_id"].as_str().unwrap()
                ),
                None,
            )
            .await;
        agreement.expect(200);
        let proof = app
            .get(
                &format!(
                    "/api/v1/transparency/proofs/inclusion?leaf_index={index}&tree_size={size}"
                ),
                None,
            )
            .await;
        proof.expect(200);
        let hashes: Vec<tlog_tiles::Hash> = strings(&proof.body["hashes"])
            .iter()
            .map(|h| tlog_tiles::Hash::parse_hash(h).unwrap())
            .collect();
        let leaf_hash = tlog_tiles::record_hash(entry["leaf_input"].as_str().unwrap().as_bytes());
        tlog_tiles::check_record(&hashes, size, root, index, leaf_hash)
            .unwrap_or_else(|e| panic!("leaf {index}: {e}"));
    }

    // Both parties were told of each step, the endorsed of each endorsement.
    let told = |event: &str| {
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM events WHERE event_type = '{event}'"
        ))
    };
    let done = app.count("SELECT COUNT(*) AS n FROM agreements WHERE status = 'completed'");
    assert_eq!(told("agreement.completed"), 2 * done);
    assert_eq!(
        told("proposal.received"),
        app.count("SELECT COUNT(*) AS n FROM proposals")
    );
    assert_eq!(
        told("endorsement.received"),
        app.count("SELECT COUNT(*) AS n FROM endorsements")
    );
    assert_eq!(
        told("proposal.accepted"),
        2 * app.count("SELECT COUNT(*) AS n FROM agreements")
    );
}

/// A relative `--out` lands in the working directory; the summary names every count, the
/// database and the logins file; no progress bar when stderr is not a terminal; a folder
/// that does not exist is refused in one line before anything is seeded.
async fn seed_reports_what_it_wrote_and_writes_the_logins_where_out_says(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let run = |out: &str| {
        mutua(dir.path())
            .args([
                "seed",
                "--orgs",
                "12",
                "--listings-per-org",
                "4",
                "--seed",
                "8",
                "--out",
                out,
            ])
            .env("DATABASE_URL", &app.database_url)
            .current_dir(cwd.path())
            .output()
            .expect("mutua runs")
    };

    let refused = run("nowhere/logins.csv");
    assert!(!refused.status.success());
    let err = stderr(&refused);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("nowhere") && err.contains("does not exist"),
        "{err}"
    );
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM orgs"), 0);

    let output = run("logins.csv");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stderr(&output), "", "nothing on stderr that is no terminal");
    let written = cwd.path().join("logins.csv");
    assert_eq!(parse(&std::fs::read_to_string(&written).unwrap()).len(), 12);
    let out = String::from_utf8_lossy(&output.stdout);
    let counts = [
        ("organisations", "SELECT COUNT(*) AS n FROM orgs"),
        ("listings", "SELECT COUNT(*) AS n FROM listings"),
        (
            "published",
            "SELECT COUNT(*) AS n FROM listings WHERE status = 'published'",
        ),
        ("proposals", "SELECT COUNT(*) AS n FROM proposals"),
        ("agreements", "SELECT COUNT(*) AS n FROM agreements"),
        (
            "completed",
            "SELECT COUNT(*) AS n FROM agreements WHERE status = 'completed'",
        ),
        ("endorsements", "SELECT COUNT(*) AS n FROM endorsements"),
        ("log leaves", "SELECT COUNT(*) AS n FROM log_leaves"),
    ];
    for (what, query) in counts {
        let n = app.count(query);
        let said = if what == "published" || what == "completed" {
            format!("({n} {what})")
        } else {
            format!("{n} {what}")
        };
        assert!(out.contains(&said), "{said} not in {out}");
    }
    assert!(out.contains("database: "), "{out}");
    if backend == Backend::Sqlite {
        assert!(out.contains("database: sqlite://"), "{out}");
    }
    assert!(!out.contains("secret"), "{out}");
    let logins = std::path::absolute(&written).unwrap();
    assert!(
        out.contains(&format!("logins: {}", logins.display())),
        "{out}"
    );
}
