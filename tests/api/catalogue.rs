//! The public catalogue `GET /api/v1/listings`: German and English full text (case,
//! diacritics and `ß` folded, prefixes), relevance, visibility (published, unexpired,
//! active organisations only), filters, sort orders, cursor pages that stay stable under
//! inserts, facet counts, an organisation's own drafts, and bad parameters.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::backends;
use crate::helpers::{enc, Backend, Resp, TestApp, TestUser};

const LISTINGS: &str = "/api/v1/listings";

/// A running marketplace: one organisation with its owner, and a platform moderator.
pub(crate) struct Market {
    pub(crate) app: TestApp,
    pub(crate) owner: TestUser,
    pub(crate) moderator: TestUser,
    pub(crate) org: String,
}

pub(crate) async fn market(backend: Backend) -> Market {
    market_with(backend, |_| {}).await
}

/// [`market`] on a server with tweaked settings.
pub(crate) async fn market_with(
    backend: Backend,
    tweak: impl FnOnce(&mut mutua::settings::Settings),
) -> Market {
    let app = TestApp::spawn_with(backend, tweak).await;
    let owner = app.user("inhaberin@gasthof-sonne.example").await;
    let org = app.org(&owner, "Gasthof Sonne").await;
    let moderator = app.user("moderation@mutua.example").await;
    app.sql(&format!(
        "UPDATE users SET platform_role = 'moderator' WHERE id = '{}'",
        moderator.id
    ));
    Market {
        app,
        owner,
        moderator,
        org,
    }
}

impl Market {
    /// A second organisation with its own owner.
    async fn partner(&self, email: &str, name: &str) -> (TestUser, String) {
        let owner = self.app.user(email).await;
        let org = self.app.org(&owner, name).await;
        (owner, org)
    }
}

/// The body of a new listing (without `org_id`).
pub(crate) fn listing(
    kind: &str,
    category: &str,
    title: &str,
    description: &str,
    tags: &[&str],
) -> Value {
    json!({
        "kind": kind,
        "category": category,
        "title": title,
        "description": description,
        "tags": tags,
    })
}

/// Creates a draft from `body` in `org_id` and returns its id.
async fn draft(app: &TestApp, owner: &TestUser, org_id: &str, mut body: Value) -> String {
    body["org_id"] = json!(org_id);
    let created = app.post(LISTINGS, Some(&owner.access), body).await;
    created.expect(201);
    assert_eq!(created.body["status"], "draft");
    created.str("id")
}

/// Creates a listing and submits it for review; returns its id.
async fn pending(app: &TestApp, owner: &TestUser, org_id: &str, body: Value) -> String {
    let id = draft(app, owner, org_id, body).await;
    let submitted = app
        .post(
            &format!("{LISTINGS}/{id}/submit"),
            Some(&owner.access),
            json!({}),
        )
        .await;
    submitted.expect(200);
    assert_eq!(submitted.body["status"], "pending_review");
    id
}

/// Creates, submits and approves a listing; returns its id.
pub(crate) async fn publish_with(
    app: &TestApp,
    owner: &TestUser,
    moderator: &TestUser,
    org_id: &str,
    body: Value,
) -> String {
    let id = pending(app, owner, org_id, body).await;
    let approved = app
        .post(
            &format!("/api/v1/moderation/listings/{id}/approve"),
            Some(&moderator.access),
            json!({}),
        )
        .await;
    approved.expect(200);
    assert_eq!(approved.body["status"], "published");
    id
}

/// Publishes a listing in `org_id` and returns its id.
#[allow(clippy::too_many_arguments)]
async fn publish(
    app: &TestApp,
    owner: &TestUser,
    moderator: &TestUser,
    org_id: &str,
    kind: &str,
    category: &str,
    title: &str,
    description: &str,
    tags: &[&str],
) -> String {
    publish_with(
        app,
        owner,
        moderator,
        org_id,
        listing(kind, category, title, description, tags),
    )
    .await
}

/// `GET /listings?{query}` as `token` (anonymous when `None`); must answer 200 with a page.
pub(crate) async fn search(app: &TestApp, token: Option<&str>, query: &str) -> Resp {
    let resp = app.get(&format!("{LISTINGS}?{query}"), token).await;
    assert_eq!(resp.status, 200, "GET {LISTINGS}?{query}: {}", resp.text);
    assert!(
        resp.body["items"].is_array(),
        "no items for ?{query}: {}",
        resp.text
    );
    assert!(
        resp.body["facets"]["total"].is_i64(),
        "no facets for ?{query}: {}",
        resp.text
    );
    resp
}

/// The ids of a page's items, in order.
pub(crate) fn ids(resp: &Resp) -> Vec<String> {
    resp.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {}", resp.text))
        .iter()
        .map(|l| l["id"].as_str().expect("id").to_owned())
        .collect()
}

/// The ids an anonymous search finds on its first page, in order.
async fn found(app: &TestApp, query: &str) -> Vec<String> {
    ids(&search(app, None, query).await)
}

fn set<S: AsRef<str>>(ids: &[S]) -> BTreeSet<String> {
    ids.iter().map(|i| i.as_ref().to_owned()).collect()
}

fn total(resp: &Resp) -> i64 {
    resp.body["facets"]["total"].as_i64().expect("facets.total")
}

fn next_cursor(resp: &Resp) -> Option<String> {
    match &resp.body["next_cursor"] {
        Value::Null => None,
        Value::String(c) => Some(c.clone()),
        other => panic!("next_cursor is neither null nor a string: {other}"),
    }
}

/// One facet as value → count.
pub(crate) fn facet(resp: &Resp, name: &str) -> BTreeMap<String, i64> {
    let entries = resp.body["facets"][name]
        .as_array()
        .unwrap_or_else(|| panic!("no facet {name} in {}", resp.text));
    let map: BTreeMap<String, i64> = entries
        .iter()
        .map(|e| {
            (
                e["value"].as_str().expect("facet value").to_owned(),
                e["count"].as_i64().expect("facet count"),
            )
        })
        .collect();
    assert_eq!(map.len(), entries.len(), "facet {name} repeats a value");
    map
}

pub(crate) fn counts(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
    pairs.iter().map(|(v, c)| (v.to_string(), *c)).collect()
}

/// Every page of `query` with `limit`, following `next_cursor`: the ids of each page.
async fn pages(app: &TestApp, query: &str, limit: u32) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("{query}&limit={limit}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", enc(c)));
        }
        let page = search(app, None, &path).await;
        out.push(ids(&page));
        assert!(out.len() <= 20, "pagination does not end");
        match next_cursor(&page) {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Full text
// ---------------------------------------------------------------------------------------

async fn german_title_is_found_whatever_the_case_diacritics_or_sharp_s(backend: Backend) {
    let m = market(backend).await;
    let app = &m.app;
    let service = publish(
        app,
        &m.owner,
        &m.moderator,
        &m.org,
        "offer",
        "expertise",
        "Außergewöhnlicher Kundenservice",
        "Wir schulen Ihr Empfangsteam darin, Gäste überdurchschnittlich zu betreuen: \
         Zufriedenheit bringt Rückhilfe und Unterstützung.",
        &["schulung", "empfang"],
    )
    .await;
    let trial = publish(
        app,
        &m.owner,
        &m.moderator,
        &m.org,
        "offer",
        "resource",
        "Unverbindlich testen: ein Probemonat",
        "Ein kostenloses Muster schafft Vertrauen, ohne das Gefühl von Verpflichtung auszulösen.",
        &["probemonat", "muster"],
    )
    .await;

    for q in [
        "kundenservice",
        "Kundenservice",
        "KUNDENSERVICE",
        "aussergewohnlicher",
        "außergewöhnlicher",
        "Außergewöhnlicher",
        "AUSSERGEWÖHNLICHER",
        "aussergewöhnlicher",
        "Außergewöhnlicher Kundenservice",
        "kundenservice außergewöhnlicher",
        "kunden",
        "Kunden",
        "ausserge",
        "AUSSERGEW",
    ] {
        let resp = search(app, None, &format!("q={}", enc(q))).await;
        assert_eq!(ids(&resp), vec![service.clone()], "q={q:?}: {}", resp.text);
        assert_eq!(total(&resp), 1, "q={q:?}");
        assert_eq!(
            resp.body["items"][0]["title"],
            "Außergewöhnlicher Kundenservice"
        );
    }

    // The other listing is found by its own words only.
    assert_eq!(found(app, "q=probemonat").await, vec![trial.clone()]);
    assert_eq!(found(app, "q=Unverbindlich").await, vec![trial.clone()]);

    // Unrelated words, or a title word with a term the listing lacks, find nothing.
    for q in [
        "Spendenaktionen",
        "wertschätzung",
        "kundenservicex",
        "kundenservice probemonat",
    ] {
        let resp = search(app, None, &format!("q={}", enc(q))).await;
        assert!(ids(&resp).is_empty(), "q={q:?} found {}", resp.text);
        assert_eq!(total(&resp), 0, "q={q:?}");
        assert_eq!(next_cursor(&resp), None);
    }
}

async fn english_titles_and_words_in_tags_and_descriptions_are_found(backend: Backend) {
    let m = market(backend).await;
    let app = &m.app;
    let workshop = publish(
        app,
        &m.owner,
        &m.moderator,
        &m.org,
        "offer",
        "resource",
        "Shared workshop space for trial runs",
        "Book our fully equipped bakery on quiet mornings; partners from the same industry \
         pay nothing for the first session.",
        &["coworking", "equipment"],
    )
    .await;
    let knowledge = publish(
        app,
        &m.owner,
        &m.moderator,
        &m.org,
        "offer",
        "expertise",
        "Verbindung von Wissen und Ressourcen",
        "Wir teilen Fachwissen mit Mitbewerbenden und pflegen den Austausch, so entstehen \
         Win-Win-Situationen.",
        &["zusammenarbeit", "vordenker"],
    )
    .await;

    let cases: [(&str, &String); 16] = [
        // English title words, any case, and a prefix.
        ("workshop", &workshop),
        ("WORKSHOP", &workshop),
        ("Workshop", &workshop),
        ("shared workshop", &workshop),
        ("works", &workshop),
        // Only in the description.
        ("bakery", &workshop),
        ("Mornings", &workshop),
        // Only in the tags.
        ("coworking", &workshop),
        ("equipment", &workshop),
        // German: only in the description.
        ("Mitbewerbenden", &knowledge),
        ("AUSTAUSCH", &knowledge),
        ("win", &knowledge),
        // German: only in the tags, also as a prefix.
        ("zusammenarbeit", &knowledge),
        ("Zusammen", &knowledge),
        ("vordenker", &knowledge),
        // Title and description words together.
        ("wissen fachwissen", &knowledge),
    ];
    for (q, expected) in cases {
        let resp = search(app, None, &format!("q={}", enc(q))).await;
        assert_eq!(ids(&resp), vec![expected.clone()], "q={q:?}: {}", resp.text);
    }

    for q in ["kitchen", "workshop wissen", "Empfehlungen"] {
        assert!(
            found(app, &format!("q={}", enc(q))).await.is_empty(),
            "q={q:?} should find nothing"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Relevance and sort order
// ---------------------------------------------------------------------------------------

/// Listings about recommendations: the word "Empfehlungen" in different fields. Created
/// (and published) in the order e, c, d, b, a, then z, which has no such word.
struct Recommendations {
    /// Title, tags and description.
    e: String,
    /// Title only.
    c: String,
    /// Title only, newer than `c`.
    d: String,
    /// Tags only.
    b: String,
    /// Description only.
    a: String,
    /// Not about recommendations at all.
    z: String,
}

async fn recommendations(m: &Market) -> Recommendations {
    let p = |title: &'static str, description: &'static str, tags: &'static [&'static str]| {
        publish(
            &m.app,
            &m.owner,
            &m.moderator,
            &m.org,
            "offer",
            "expertise",
            title,
            description,
            tags,
        )
    };
    let e = p(
        "Empfehlungen und Wertschätzung",
        "Wir sammeln Empfehlungen unserer Stammgäste und danken mit kleinen Präsenten.",
        &["empfehlungen", "wertschaetzung"],
    )
    .await;
    let c = p(
        "Gegenseitige Empfehlungen unter Gastgebern",
        "Wir stellen Sie unseren Stammgästen vor, Sie uns den Ihren.",
        &["netzwerk", "gastgeber"],
    )
    .await;
    let d = p(
        "Empfehlungen für Zulieferer aus der Region",
        "Regionale Lieferanten, bei denen wir selbst einkaufen.",
        &["zulieferer"],
    )
    .await;
    let b = p(
        "Netzwerk der Gastgeber im Allgäu",
        "Monatlicher Austausch am Stammtisch.",
        &["empfehlungen", "netzwerk"],
    )
    .await;
    let a = p(
        "Rabatte für Stammkunden",
        "Ein Rabatt für die Kundschaft unserer Partner bewirkt gegenseitige Empfehlungen.",
        &["rabatte", "kundschaft"],
    )
    .await;
    let z = p(
        "Kühlraum zu vermieten",
        "Zwei Paletten Platz, ab sofort.",
        &["kuehlraum"],
    )
    .await;
    Recommendations { e, c, d, b, a, z }
}

async fn relevance_ranks_title_over_tags_over_description_and_ties_newest_first(backend: Backend) {
    let m = market(backend).await;
    let r = recommendations(&m).await;
    let app = &m.app;

    // Only description (a), only tags (b), only title (c) → c, b, a — the reverse of
    // their age, so this is not newest-first. d ties with c and is newer; e has all three.
    let expected = vec![
        r.e.clone(),
        r.d.clone(),
        r.c.clone(),
        r.b.clone(),
        r.a.clone(),
    ];
    for query in [
        "q=empfehlungen",
        "q=Empfehlungen&sort=relevance",
        "q=EMPFEHLUNG",
    ] {
        let resp = search(app, None, query).await;
        assert_eq!(ids(&resp), expected, "{query}: {}", resp.text);
        assert_eq!(total(&resp), 5, "{query}");
    }

    // Several terms: every term must occur in the listing; a field counts when it holds
    // all of them (c: title; b: title and tags only together).
    assert_eq!(
        found(app, "q=empfehlungen%20gastgeber").await,
        vec![r.c.clone(), r.b.clone()]
    );
    assert_eq!(found(app, "q=kuehlraum").await, vec![r.z.clone()]);
}

async fn newest_is_the_default_without_q_and_can_be_chosen_with_q(backend: Backend) {
    let m = market(backend).await;
    let r = recommendations(&m).await;
    let app = &m.app;

    let newest_all = vec![
        r.z.clone(),
        r.a.clone(),
        r.b.clone(),
        r.d.clone(),
        r.c.clone(),
        r.e.clone(),
    ];
    assert_eq!(found(app, "").await, newest_all);
    assert_eq!(found(app, "sort=newest").await, newest_all);

    // With q, relevance is the default; sort=newest orders the same matches by age.
    let relevance = vec![
        r.e.clone(),
        r.d.clone(),
        r.c.clone(),
        r.b.clone(),
        r.a.clone(),
    ];
    assert_eq!(found(app, "q=empfehlungen").await, relevance);
    assert_eq!(
        found(app, "q=empfehlungen&sort=newest").await,
        vec![
            r.a.clone(),
            r.b.clone(),
            r.d.clone(),
            r.c.clone(),
            r.e.clone()
        ]
    );

    // An unknown sort order is refused rather than ignored.
    let resp = app.get(&format!("{LISTINGS}?q=x1&sort=oldest"), None).await;
    resp.expect_problem(400);
}

// ---------------------------------------------------------------------------------------
// Visibility
// ---------------------------------------------------------------------------------------

async fn only_published_unexpired_listings_of_active_organisations_are_public(backend: Backend) {
    let m = market(backend).await;
    let app = &m.app;
    let body = |title: &str| {
        listing(
            "offer",
            "expertise",
            title,
            "Zusammenarbeit und Partnerschaft mit Betrieben derselben Branche.",
            &["zusammenarbeit"],
        )
    };
    let published = publish_with(
        app,
        &m.owner,
        &m.moderator,
        &m.org,
        body("Gemeinsame Weinprobe"),
    )
    .await;
    let mut later = body("Sommerfest mit Partnerbetrieben");
    later["expires_at"] = json!("2099-12-31T23:59:59Z");
    let expires_later = publish_with(app, &m.owner, &m.moderator, &m.org, later).await;
    let drafted = draft(app, &m.owner, &m.org, body("Entwurf einer Kooperation")).await;
    let waiting = pending(app, &m.owner, &m.org, body("Kooperation in Prüfung")).await;
    let rejected = pending(app, &m.owner, &m.org, body("Abgelehnte Kooperation")).await;
    app.post(
        &format!("/api/v1/moderation/listings/{rejected}/reject"),
        Some(&m.moderator.access),
        json!({"reason": "Bitte nennen Sie, was Ihr Betrieb im Gegenzug bietet."}),
    )
    .await
    .expect(200);
    let archived = publish_with(
        app,
        &m.owner,
        &m.moderator,
        &m.org,
        body("Archivierte Kooperation"),
    )
    .await;
    let resp = app
        .post(
            &format!("{LISTINGS}/{archived}/archive"),
            Some(&m.owner.access),
            json!({}),
        )
        .await;
    resp.expect(200);
    assert_eq!(resp.body["status"], "archived");
    let removed = publish_with(
        app,
        &m.owner,
        &m.moderator,
        &m.org,
        body("Entfernte Kooperation"),
    )
    .await;
    let resp = app
        .post(
            &format!("/api/v1/moderation/listings/{removed}/remove"),
            Some(&m.moderator.access),
            json!({"reason": "Manipulationstaktik: vorgetäuschte Gegenseitigkeit."}),
        )
        .await;
    resp.expect(200);
    assert_eq!(resp.body["status"], "removed");
    let expired = publish_with(
        app,
        &m.owner,
        &m.moderator,
        &m.org,
        body("Abgelaufene Kooperation"),
    )
    .await;
    // Before it expires, it is public like any other.
    assert!(found(app, "limit=100").await.contains(&expired));
    app.expire_listing(&expired);
    let (partner_owner, partner_org) = m
        .partner("inhaber@weingut-morgenrot.example", "Weingut Morgenrot")
        .await;
    let partner = publish_with(
        app,
        &partner_owner,
        &m.moderator,
        &partner_org,
        body("Weingut sucht Zusammenarbeit"),
    )
    .await;

    let public = set(&[&published, &expires_later, &partner]);
    let hidden = [&drafted, &waiting, &rejected, &archived, &removed, &expired];
    for (token, query) in [
        (None, "limit=100"),
        (None, "q=zusammenarbeit&limit=100"),
        (None, "tag=zusammenarbeit&limit=100"),
        (None, "status=published&limit=100"),
        // Signed in, without asking for its own organisation: still the public view.
        (Some(m.owner.access.as_str()), "limit=100"),
        (Some(partner_owner.access.as_str()), "q=zusammenarbeit"),
    ] {
        let resp = search(app, token, query).await;
        let got = set(&ids(&resp));
        for h in hidden {
            assert!(!got.contains(h), "{query}: non-public {h} listed");
        }
        assert_eq!(got, public, "{query}");
        assert_eq!(total(&resp), 3, "{query}");
    }
    // "Kooperation" occurs only in the titles of the non-public listings.
    let resp = search(app, None, "q=kooperation").await;
    assert!(ids(&resp).is_empty(), "{}", resp.text);
    assert_eq!(total(&resp), 0);
    assert_eq!(
        found(app, &format!("org_id={}", m.org)).await,
        vec![expires_later.clone(), published.clone()]
    );

    // Suspending the organisation takes all of its listings out of the catalogue.
    app.suspend_org_in_db(&m.org);
    for query in [
        "limit=100",
        "q=zusammenarbeit",
        "kind=offer",
        "tag=zusammenarbeit",
    ] {
        let resp = search(app, None, query).await;
        assert_eq!(ids(&resp), vec![partner.clone()], "{query}: {}", resp.text);
        assert_eq!(total(&resp), 1, "{query}");
        assert_eq!(facet(&resp, "kind"), counts(&[("offer", 1)]), "{query}");
    }
    let resp = search(app, None, &format!("org_id={}", m.org)).await;
    assert!(ids(&resp).is_empty(), "{}", resp.text);
    assert_eq!(total(&resp), 0);
}

async fn members_see_their_own_drafts_and_pending_listings_but_no_one_elses(backend: Backend) {
    let m = market(backend).await;
    let app = &m.app;
    let colleague = app
        .member(&m.org, &m.owner, "service@gasthof-sonne.example", "member")
        .await;
    let (stranger, stranger_org) = m
        .partner("inhaber@weingut-morgenrot.example", "Weingut Morgenrot")
        .await;
    let body = |title: &str| {
        listing(
            "need",
            "resource",
            title,
            "Wir möchten eine Reservierungssoftware unverbindlich testen.",
            &["software", "probemonat"],
        )
    };
    let drafted = draft(
        app,
        &m.owner,
        &m.org,
        body("Probemonat für Software gesucht"),
    )
    .await;
    let waiting = pending(app, &m.owner, &m.org, body("Testzugang für Kassensystem")).await;
    let rejected = pending(app, &m.owner, &m.org, body("Gratis-Software gesucht")).await;
    let reason = "Bitte beschreiben Sie, was Sie im Gegenzug anbieten.";
    app.post(
        &format!("/api/v1/moderation/listings/{rejected}/reject"),
        Some(&m.moderator.access),
        json!({ "reason": reason }),
    )
    .await
    .expect(200);
    let published = publish_with(
        app,
        &m.owner,
        &m.moderator,
        &m.org,
        body("Buchungssoftware im Probemonat"),
    )
    .await;
    let stranger_draft = draft(
        app,
        &stranger,
        &stranger_org,
        body("Weinkeller-Software testen"),
    )
    .await;
    let org = &m.org;
    let member = Some(colleague.access.as_str());

    let resp = search(app, member, &format!("org_id={org}&status=draft")).await;
    assert_eq!(ids(&resp), vec![drafted.clone()], "{}", resp.text);
    assert_eq!(resp.body["items"][0]["status"], "draft");
    assert_eq!(total(&resp), 1);

    let resp = search(app, member, &format!("org_id={org}&status=pending_review")).await;
    assert_eq!(ids(&resp), vec![waiting.clone()], "{}", resp.text);
    assert_eq!(resp.body["items"][0]["status"], "pending_review");

    let resp = search(app, member, &format!("org_id={org}&status=rejected")).await;
    assert_eq!(ids(&resp), vec![rejected.clone()], "{}", resp.text);
    assert_eq!(resp.body["items"][0]["moderation_reason"], reason);

    let resp = search(
        app,
        member,
        &format!("org_id={org}&status=draft&status=pending_review&status=rejected"),
    )
    .await;
    assert_eq!(
        set(&ids(&resp)),
        set(&[&drafted, &waiting, &rejected]),
        "{}",
        resp.text
    );
    assert_eq!(total(&resp), 3);

    // Drafts are searchable by their own organisation.
    let resp = search(
        app,
        member,
        &format!("org_id={org}&status=draft&q=probemonat"),
    )
    .await;
    assert_eq!(ids(&resp), vec![drafted.clone()], "{}", resp.text);
    let resp = search(
        app,
        member,
        &format!("org_id={org}&status=draft&q=kassensystem"),
    )
    .await;
    assert!(ids(&resp).is_empty(), "{}", resp.text);

    // Without a status filter even members see only what is published.
    assert_eq!(
        ids(&search(app, member, &format!("org_id={org}")).await),
        vec![published.clone()]
    );

    // The organisation's read-only API key may ask too.
    let key = app.api_key(org, &m.owner, &["read"]).await;
    let resp = search(app, Some(&key), &format!("org_id={org}&status=draft")).await;
    assert_eq!(ids(&resp), vec![drafted.clone()], "{}", resp.text);

    // Everyone else: 403, whatever the route to the drafts.
    for (who, token, query) in [
        (
            "another organisation",
            Some(stranger.access.as_str()),
            format!("org_id={org}&status=draft"),
        ),
        (
            "another organisation",
            Some(stranger.access.as_str()),
            format!("org_id={org}&status=pending_review"),
        ),
        ("anonymous", None, format!("org_id={org}&status=draft")),
        ("anonymous", None, "status=draft".to_owned()),
        ("anonymous", None, "status=rejected".to_owned()),
        ("member without org_id", member, "status=draft".to_owned()),
        (
            "member asking for another organisation",
            member,
            format!("org_id={stranger_org}&status=draft"),
        ),
        (
            "member mixing published with drafts elsewhere",
            member,
            format!("org_id={stranger_org}&status=published&status=draft"),
        ),
    ] {
        let resp = app.get(&format!("{LISTINGS}?{query}"), token).await;
        assert_eq!(resp.status, 403, "{who}: ?{query}: {}", resp.text);
        resp.expect_problem(403);
        assert!(
            !resp.text.contains(&drafted) && !resp.text.contains(&stranger_draft),
            "{who}: leaks ids"
        );
    }

    // status=published needs no privilege.
    assert_eq!(
        found(app, "status=published").await,
        vec![published.clone()]
    );

    // Moderators may filter by status across organisations.
    let moderator = Some(m.moderator.access.as_str());
    let resp = search(app, moderator, "status=draft").await;
    assert_eq!(
        set(&ids(&resp)),
        set(&[&drafted, &stranger_draft]),
        "{}",
        resp.text
    );
    let resp = search(app, moderator, "status=pending_review").await;
    assert_eq!(ids(&resp), vec![waiting.clone()], "{}", resp.text);
    let resp = search(
        app,
        moderator,
        &format!("status=draft&org_id={stranger_org}"),
    )
    .await;
    assert_eq!(ids(&resp), vec![stranger_draft.clone()], "{}", resp.text);
}

// ---------------------------------------------------------------------------------------
// Filters
// ---------------------------------------------------------------------------------------

async fn filters_narrow_the_results_alone_and_combined_with_q(backend: Backend) {
    let m = market(backend).await;
    let app = &m.app;
    let (partner_owner, partner_org) = m
        .partner("inhaber@weingut-morgenrot.example", "Weingut Morgenrot")
        .await;
    let mut b1 = listing(
        "offer",
        "expertise",
        "Außergewöhnlicher Kundenservice: Schulung für Ihr Empfangsteam",
        "Zwei Tage Training vor Ort, mit Rollenspielen aus dem Alltag.",
        &["kundenservice", "schulung"],
    );
    b1["region"] = json!("Bayern");
    b1["trial_available"] = json!(true);
    let l1 = publish_with(app, &m.owner, &m.moderator, &m.org, b1).await;
    let mut b2 = listing(
        "need",
        "resource",
        "Kühlraum für den Probemonat gesucht",
        "Wir suchen zwei Paletten Stellfläche.",
        &["kuehlraum", "lager"],
    );
    b2["region"] = json!("Tirol");
    let l2 = publish_with(app, &m.owner, &m.moderator, &m.org, b2).await;
    let mut b3 = listing(
        "offer",
        "resource",
        "Seminarraum für Kundenservice-Schulungen",
        "Platz für zwölf Personen, Beamer inklusive.",
        &["schulung", "seminarraum"],
    );
    b3["region"] = json!("Bayern");
    b3["industry"] = json!("Bakery");
    b3["trial_available"] = json!(true);
    let l3 = publish_with(app, &m.owner, &m.moderator, &m.org, b3).await;
    let mut b4 = listing(
        "need",
        "expertise",
        "Empfehlungen für unseren Kundenservice gesucht",
        "Wer hat Erfahrung mit Gästebefragungen?",
        &["empfehlungen", "kundenservice"],
    );
    b4["region"] = json!("Wien");
    let l4 = publish_with(app, &partner_owner, &m.moderator, &partner_org, b4).await;

    let org = &m.org;
    let cases: Vec<(String, Vec<&String>)> = vec![
        ("kind=offer".into(), vec![&l1, &l3]),
        ("kind=need".into(), vec![&l2, &l4]),
        ("category=expertise".into(), vec![&l1, &l4]),
        ("category=resource".into(), vec![&l2, &l3]),
        ("tag=schulung".into(), vec![&l1, &l3]),
        ("tag=SCHULUNG".into(), vec![&l1, &l3]),
        ("tag=schulung&tag=seminarraum".into(), vec![&l3]),
        ("tag=kundenservice&tag=schulung".into(), vec![&l1]),
        ("tag=kundenservice".into(), vec![&l1, &l4]),
        ("tag=kundenservice&tag=lager".into(), vec![]),
        ("tag=gibtsnicht".into(), vec![]),
        ("industry=bakery".into(), vec![&l3]),
        ("industry=Hospitality".into(), vec![&l1, &l2, &l4]),
        ("industry=fintech".into(), vec![]),
        ("region=Bayern".into(), vec![&l1, &l3]),
        ("region=Tirol".into(), vec![&l2]),
        ("region=Hamburg".into(), vec![]),
        (format!("org_id={partner_org}"), vec![&l4]),
        (format!("org_id={org}"), vec![&l1, &l2, &l3]),
        (format!("org_id={}", org.to_uppercase()), vec![&l1, &l2, &l3]),
        ("trial=true".into(), vec![&l1, &l3]),
        ("trial=false".into(), vec![&l2, &l4]),
        ("kind=offer&category=resource".into(), vec![&l3]),
        ("kind=need&region=Wien&trial=false".into(), vec![&l4]),
        // Combined with full text.
        ("q=kundenservice".into(), vec![&l1, &l3, &l4]),
        ("q=kundenservice&kind=offer".into(), vec![&l1, &l3]),
        ("q=kundenservice&kind=need&category=expertise".into(), vec![&l4]),
        ("q=kundenservice&tag=schulung".into(), vec![&l1, &l3]),
        ("q=kundenservice&tag=schulung&tag=seminarraum".into(), vec![&l3]),
        ("q=kundenservice&industry=hospitality".into(), vec![&l1, &l4]),
        ("q=kundenservice&region=Wien".into(), vec![&l4]),
        (format!("q=kundenservice&org_id={org}"), vec![&l1, &l3]),
        ("q=kundenservice&trial=false".into(), vec![&l4]),
        (
            "q=kundenservice&trial=true&region=Bayern&tag=schulung&industry=hospitality&kind=offer&category=expertise".into(),
            vec![&l1],
        ),
        ("q=probemonat&kind=offer".into(), vec![]),
        ("q=probemonat&kind=need".into(), vec![&l2]),
    ];
    for (query, expected) in cases {
        let resp = search(app, None, &format!("{query}&limit=100")).await;
        assert_eq!(set(&ids(&resp)), set(&expected), "?{query}: {}", resp.text);
        assert_eq!(total(&resp), expected.len() as i64, "?{query} facets.total");
    }

    // Items carry the fields the filters use.
    let resp = search(app, None, "tag=seminarraum").await;
    let item = &resp.body["items"][0];
    assert_eq!(item["kind"], "offer");
    assert_eq!(item["category"], "resource");
    assert_eq!(item["industry"], "bakery");
    assert_eq!(item["region"], "Bayern");
    assert_eq!(item["trial_available"], true);
    assert_eq!(item["org_id"], json!(org));
    assert_eq!(item["tags"], json!(["schulung", "seminarraum"]));
    assert_eq!(item["status"], "published");
    // The public does not see moderation internals.
    assert!(item.get("submitted_at").is_none(), "{item}");
}

// ---------------------------------------------------------------------------------------
// Pagination
// ---------------------------------------------------------------------------------------

/// Five listings on the essay's practices, published in this order; returns their ids.
async fn essay_listings(m: &Market) -> Vec<String> {
    let data: [(&str, &str, &str, &str, &[&str]); 5] = [
        (
            "offer",
            "expertise",
            "Außergewöhnlicher Kundenservice: Schulung für Ihr Empfangsteam",
            "Einzigartiger Service schafft Zufriedenheit und Rückhilfe.",
            &["kundenservice", "schulung"],
        ),
        (
            "offer",
            "resource",
            "Unverbindlich testen: Probemonat für unsere Reservierungssoftware",
            "Ein kostenloser Probemonat ohne Verpflichtung.",
            &["probemonat", "software"],
        ),
        (
            "need",
            "expertise",
            "Zusammenarbeit und Partnerschaft mit Weingütern der Region",
            "Gemeinsam neue und breitere Zielgruppen erreichen.",
            &["zusammenarbeit", "wein"],
        ),
        (
            "offer",
            "resource",
            "Wissen und Ressourcen teilen: Einkaufsgemeinschaft für Bettwäsche",
            "Mit Mitbewerbenden Ressourcen teilen und den Austausch pflegen.",
            &["einkauf", "ressourcen"],
        ),
        (
            "need",
            "expertise",
            "Empfehlungen: Gästekarten für Ausflugsziele",
            "Gegenseitige Empfehlungen stärken die Gegenseitigkeit.",
            &["empfehlungen", "tourismus"],
        ),
    ];
    let mut out = Vec::new();
    for (kind, category, title, description, tags) in data {
        out.push(
            publish(
                &m.app,
                &m.owner,
                &m.moderator,
                &m.org,
                kind,
                category,
                title,
                description,
                tags,
            )
            .await,
        );
    }
    out
}

async fn pages_list_every_listing_once_and_end_with_a_null_cursor(backend: Backend) {
    let m = market(backend).await;
    let app = &m.app;
    let created = essay_listings(&m).await;
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();
    assert_eq!(found(app, "limit=100").await, newest_first);

    let all = pages(app, "sort=newest", 2).await;
    assert_eq!(all.len(), 3, "{all:?}");
    assert_eq!(all.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 2, 1]);
    let flat: Vec<String> = all.concat();
    assert_eq!(flat, newest_first, "pages in order, no duplicates, no gaps");

    // The default order pages the same way, and facets count everything on every page.
    let first = search(app, None, "limit=2").await;
    assert!(next_cursor(&first).is_some());
    assert_eq!(total(&first), 5);
    let second = search(
        app,
        None,
        &format!("limit=2&cursor={}", enc(&next_cursor(&first).unwrap())),
    )
    .await;
    assert_eq!(ids(&second), newest_first[2..4].to_vec());
    assert_eq!(total(&second), 5);
    assert!(next_cursor(&second).is_some());

    // A page that ends exactly at the last item has no next cursor (no empty page).
    let exact = search(app, None, "limit=5").await;
    assert_eq!(ids(&exact), newest_first);
    assert_eq!(next_cursor(&exact), None);
    assert_eq!(pages(app, "sort=newest", 1).await.len(), 5);

    // Pages of a full-text search.
    let matching = pages(app, "q=gegenseitig", 1).await;
    assert_eq!(matching, vec![vec![created[4].clone()]]);
}

async fn newest_pages_stay_stable_when_a_listing_is_published_between_them(backend: Backend) {
    let m = market(backend).await;
    let app = &m.app;
    let created = essay_listings(&m).await;
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();

    let page1 = search(app, None, "sort=newest&limit=2").await;
    assert_eq!(ids(&page1), newest_first[..2].to_vec());
    let cursor = next_cursor(&page1).expect("a second page");

    let newcomer = publish(
        app,
        &m.owner,
        &m.moderator,
        &m.org,
        "offer",
        "expertise",
        "Transparenz: offene Geschäftspraktiken im Gastgewerbe",
        "Der offene und ehrliche Umgang mit eigenen Zielen schafft Vertrauen.",
        &["transparenz"],
    )
    .await;

    let page2 = search(
        app,
        None,
        &format!("sort=newest&limit=2&cursor={}", enc(&cursor)),
    )
    .await;
    assert_eq!(ids(&page2), newest_first[2..4].to_vec(), "{}", page2.text);
    let cursor = next_cursor(&page2).expect("a third page");
    let page3 = search(
        app,
        None,
        &format!("sort=newest&limit=2&cursor={}", enc(&cursor)),
    )
    .await;
    assert_eq!(ids(&page3), newest_first[4..].to_vec(), "{}", page3.text);
    assert_eq!(next_cursor(&page3), None);

    // A fresh first page shows the newcomer on top.
    assert_eq!(
        found(app, "sort=newest&limit=2").await,
        vec![newcomer, newest_first[0].clone()]
    );
}

async fn relevance_pages_stay_stable_when_a_listing_is_published_between_them(backend: Backend) {
    let m = market(backend).await;
    let app = &m.app;
    let p = |title: &'static str, description: &'static str, tags: &'static [&'static str]| {
        publish(
            app,
            &m.owner,
            &m.moderator,
            &m.org,
            "offer",
            "expertise",
            title,
            description,
            tags,
        )
    };
    // Scores for q=gegenseitig: title 4, tags 2, description 1.
    let r1 = p(
        "Gegenseitige Unterstützung im Kundenservice",
        "Wir vertreten uns bei Engpässen am Empfang.",
        &["kundenservice"],
    )
    .await; // 4
    let r2 = p(
        "Probemonat für die Reservierungssoftware",
        "Testen Sie unverbindlich, zum gegenseitigen Nutzen.",
        &["software"],
    )
    .await; // 1
    let r3 = p(
        "Einkaufsgemeinschaft für Bettwäsche",
        "Bessere Preise für alle Beteiligten.",
        &["gegenseitigkeit", "einkauf"],
    )
    .await; // 2
    let r4 = p(
        "Gegenseitigkeit im Weinbau",
        "Gegenseitiger Austausch von Erntehelfern.",
        &["gegenseitigkeit", "wein"],
    )
    .await; // 7
    let r5 = p(
        "Gästekarten für Ausflugsziele",
        "Gegenseitige Empfehlungen stärken beide Betriebe.",
        &["empfehlungen"],
    )
    .await; // 1, newer than r2
    let r6 = p(
        "Gegenseitigkeit pflegen: Stammtisch der Gastgeber",
        "Monatlich, reihum bei einem Mitglied.",
        &["netzwerk"],
    )
    .await; // 4, newer than r1
    let expected = vec![
        r4.clone(),
        r6.clone(),
        r1.clone(),
        r3.clone(),
        r5.clone(),
        r2.clone(),
    ];
    assert_eq!(found(app, "q=gegenseitig&limit=100").await, expected);

    let page1 = search(app, None, "q=gegenseitig&limit=2").await;
    assert_eq!(ids(&page1), expected[..2].to_vec(), "{}", page1.text);
    let cursor = next_cursor(&page1).expect("a second page");

    // A newcomer that ranks above everything already seen.
    let newcomer = p(
        "Gegenseitigkeit schaffen: Dankesschreiben und kleine Präsente",
        "Wertschätzung zeigt guten Willen und gegenseitige Verbundenheit.",
        &["gegenseitigkeit", "wertschaetzung"],
    )
    .await; // 7, newest

    let page2 = search(
        app,
        None,
        &format!("q=gegenseitig&limit=2&cursor={}", enc(&cursor)),
    )
    .await;
    assert_eq!(ids(&page2), expected[2..4].to_vec(), "{}", page2.text);
    let cursor = next_cursor(&page2).expect("a third page");
    let page3 = search(
        app,
        None,
        &format!(
            "q=gegenseitig&sort=relevance&limit=2&cursor={}",
            enc(&cursor)
        ),
    )
    .await;
    assert_eq!(ids(&page3), expected[4..].to_vec(), "{}", page3.text);
    assert_eq!(next_cursor(&page3), None);
    assert_eq!(total(&page3), 7, "facets count the newcomer");

    // From the start, the newcomer leads (tie on score with r4, but newer).
    assert_eq!(
        found(app, "q=gegenseitig&limit=2").await,
        vec![newcomer, r4.clone()]
    );
}

// ---------------------------------------------------------------------------------------
// Facets
// ---------------------------------------------------------------------------------------

async fn facets_count_the_whole_result_not_just_the_page(backend: Backend) {
    let m = market(backend).await;
    let app = &m.app;
    let p = |kind: &'static str,
             category: &'static str,
             title: &'static str,
             tags: &'static [&'static str]| {
        publish(
            app,
            &m.owner,
            &m.moderator,
            &m.org,
            kind,
            category,
            title,
            "Gegenseitigkeit im Geschäftsleben.",
            tags,
        )
    };
    p(
        "offer",
        "expertise",
        "Schulung für das Empfangsteam",
        &["kundenservice", "schulung", "empfang"],
    )
    .await;
    p(
        "offer",
        "expertise",
        "Schulung zum Umgang mit Beschwerden",
        &["kundenservice", "schulung", "beschwerden"],
    )
    .await;
    p(
        "need",
        "expertise",
        "Schulung durch Testgäste gesucht",
        &["kundenservice", "schulung", "mystery-shopping"],
    )
    .await;
    p(
        "offer",
        "resource",
        "Seminarraum mit Beamer",
        &["kundenservice", "zusammenarbeit", "seminarraum", "beamer"],
    )
    .await;
    p(
        "need",
        "resource",
        "Kühlraum und Transport gesucht",
        &[
            "zusammenarbeit",
            "kuehlraum",
            "lager",
            "transport",
            "fahrzeug",
        ],
    )
    .await;
    // Not public: must not be counted.
    draft(
        app,
        &m.owner,
        &m.org,
        listing(
            "offer",
            "expertise",
            "Schulung im Probemonat",
            "Entwurf.",
            &["kundenservice", "schulung", "probemonat"],
        ),
    )
    .await;

    let resp = search(app, None, "limit=1").await;
    assert_eq!(ids(&resp).len(), 1);
    assert!(next_cursor(&resp).is_some());
    assert_eq!(total(&resp), 5, "{}", resp.text);
    assert_eq!(facet(&resp, "kind"), counts(&[("offer", 3), ("need", 2)]));
    assert_eq!(
        facet(&resp, "category"),
        counts(&[("expertise", 3), ("resource", 2)])
    );
    // Twelve distinct tags: the ten most frequent are shown, most frequent first.
    let tags = resp.body["facets"]["tags"].as_array().expect("tags facet");
    assert_eq!(tags.len(), 10, "{}", resp.text);
    assert_eq!(tags[0], json!({"value": "kundenservice", "count": 4}));
    assert_eq!(tags[1], json!({"value": "schulung", "count": 3}));
    assert_eq!(tags[2], json!({"value": "zusammenarbeit", "count": 2}));
    for t in &tags[3..] {
        assert_eq!(t["count"], 1, "{t}");
        assert_ne!(t["value"], "probemonat", "a draft's tag was counted");
    }

    // The same facets on a later page.
    let cursor = next_cursor(&resp).unwrap();
    let later = search(app, None, &format!("limit=1&cursor={}", enc(&cursor))).await;
    assert_eq!(total(&later), 5);
    assert_eq!(later.body["facets"], resp.body["facets"]);

    // Facets follow the filters…
    let offers = search(app, None, "kind=offer&limit=1").await;
    assert_eq!(total(&offers), 3);
    assert_eq!(facet(&offers, "kind"), counts(&[("offer", 3)]));
    assert_eq!(
        facet(&offers, "category"),
        counts(&[("expertise", 2), ("resource", 1)])
    );
    assert_eq!(
        facet(&offers, "tags"),
        counts(&[
            ("kundenservice", 3),
            ("schulung", 2),
            ("empfang", 1),
            ("beschwerden", 1),
            ("zusammenarbeit", 1),
            ("seminarraum", 1),
            ("beamer", 1),
        ])
    );

    // …and the full text.
    let schooling = search(app, None, "q=Schulung&limit=1").await;
    assert_eq!(ids(&schooling).len(), 1);
    assert_eq!(total(&schooling), 3);
    assert_eq!(
        facet(&schooling, "kind"),
        counts(&[("offer", 2), ("need", 1)])
    );
    assert_eq!(facet(&schooling, "category"), counts(&[("expertise", 3)]));
    assert_eq!(
        facet(&schooling, "tags"),
        counts(&[
            ("kundenservice", 3),
            ("schulung", 3),
            ("empfang", 1),
            ("beschwerden", 1),
            ("mystery-shopping", 1),
        ])
    );

    let nothing = search(app, None, "q=spendenaktion").await;
    assert_eq!(total(&nothing), 0);
    assert_eq!(nothing.body["facets"]["kind"], json!([]));
    assert_eq!(nothing.body["facets"]["category"], json!([]));
    assert_eq!(nothing.body["facets"]["tags"], json!([]));
}

// ---------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------

async fn bad_parameters_are_400_problems(backend: Backend) {
    let m = market(backend).await;
    let app = &m.app;
    essay_listings(&m).await;

    let newest = search(app, None, "sort=newest&limit=1").await;
    let newest_cursor = enc(&next_cursor(&newest).expect("cursor"));
    // "für" occurs in four of the titles.
    let relevant = search(app, None, "q=f%C3%BCr&limit=1").await;
    assert_eq!(total(&relevant), 4, "{}", relevant.text);
    let relevance_cursor = enc(&next_cursor(&relevant).expect("a relevance cursor"));
    let eleven_tags = (0..11)
        .map(|i| format!("tag=tag{i}"))
        .collect::<Vec<_>>()
        .join("&");

    let cases: Vec<(String, &str)> = vec![
        ("kind=bogus".into(), "kind"),
        ("category=x".into(), "category"),
        ("status=bogus".into(), "status"),
        ("trial=maybe".into(), "trial"),
        ("sort=oldest".into(), "sort"),
        ("limit=0".into(), "limit"),
        ("limit=101".into(), "limit"),
        ("limit=-5".into(), "limit"),
        ("limit=abc".into(), "limit"),
        ("limit=99999999999999999999".into(), "limit"),
        ("cursor=garbage".into(), "cursor"),
        ("cursor=aWQ6bm90LWEtdXVpZA".into(), "cursor"),
        ("org_id=not-a-uuid".into(), "org_id"),
        ("tag=x".into(), "tag"),
        ("tag=kunden%20service".into(), "tag"),
        ("tag=schulung&tag=x".into(), "tag"),
        (eleven_tags, "tag"),
        ("q=kundenservice&kind=bogus".into(), "kind"),
        // A cursor of one sort order is refused by the other.
        (format!("q=kundenservice&cursor={newest_cursor}"), "cursor"),
        (
            format!("q=kundenservice&sort=relevance&cursor={newest_cursor}"),
            "cursor",
        ),
        (format!("sort=newest&cursor={relevance_cursor}"), "cursor"),
        (format!("cursor={relevance_cursor}"), "cursor"),
    ];
    for (query, parameter) in cases {
        let resp = app.get(&format!("{LISTINGS}?{query}"), None).await;
        assert_eq!(resp.status, 400, "?{query}: {}", resp.text);
        resp.expect_problem(400);
        let detail = resp.body["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(parameter),
            "?{query}: detail should name {parameter}: {detail}"
        );
    }

    // The same cursor is fine with its own sort order.
    search(app, None, &format!("sort=newest&cursor={newest_cursor}")).await;
}

async fn a_query_that_folds_to_nothing_is_ignored(backend: Backend) {
    let m = market(backend).await;
    let app = &m.app;
    let created = essay_listings(&m).await;
    draft(
        app,
        &m.owner,
        &m.org,
        listing(
            "offer",
            "expertise",
            "Entwurf: Spendenaktion",
            "Noch nicht öffentlich.",
            &["spenden"],
        ),
    )
    .await;
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();
    for query in [
        "q=%25%25%25",
        "q=%%%",
        "q=",
        "q=%20%20",
        "q=-%21%3F",
        "q=%E2%80%93%20%E2%80%A6",
    ] {
        let resp = search(app, None, query).await;
        assert_eq!(ids(&resp), newest_first, "?{query}: {}", resp.text);
        assert_eq!(total(&resp), 5, "?{query}");
    }
    // Combined with filters, only the filters apply.
    assert_eq!(
        found(app, "q=%25%25%25&kind=need").await,
        vec![created[4].clone(), created[2].clone()]
    );
}

backends!(
    german_title_is_found_whatever_the_case_diacritics_or_sharp_s,
    english_titles_and_words_in_tags_and_descriptions_are_found,
    relevance_ranks_title_over_tags_over_description_and_ties_newest_first,
    newest_is_the_default_without_q_and_can_be_chosen_with_q,
    only_published_unexpired_listings_of_active_organisations_are_public,
    members_see_their_own_drafts_and_pending_listings_but_no_one_elses,
    filters_narrow_the_results_alone_and_combined_with_q,
    pages_list_every_listing_once_and_end_with_a_null_cursor,
    newest_pages_stay_stable_when_a_listing_is_published_between_them,
    relevance_pages_stay_stable_when_a_listing_is_published_between_them,
    facets_count_the_whole_result_not_just_the_page,
    bad_parameters_are_400_problems,
    a_query_that_folds_to_nothing_is_ignored,
);
