//! The per-instance cache of public catalogue searches never serves a stale result:
//! repeated searches answer identically, every catalogue write (publication, archiving,
//! removal, an approved edit, an organisation's suspension) shows in the very next search,
//! also when another instance made it, a listing leaves cached results when its expiry date
//! passes without any write, cursor pages follow the catalogue, and searches that include
//! non-public listings are never cached.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::backends;
use crate::catalogue::{counts, facet, ids, listing, market, search};
use crate::helpers::{enc, Backend, Resp, TestApp, TestUser};
use crate::market::{
    approve, archive, company, draft, next_cursor, pending, publish, set, Company, LISTINGS,
};

/// `POST /moderation/orgs/{org}/{action}` (`suspend` or `unsuspend`); answers the new status.
pub(crate) async fn moderate_org(
    app: &TestApp,
    moderator: &TestUser,
    org: &str,
    action: &str,
    to: &str,
) {
    let resp = app
        .post(
            &format!("/api/v1/moderation/orgs/{org}/{action}"),
            Some(&moderator.access),
            json!({"reason": "Vorgetäuschte Gegenseitigkeit: Gegenleistungen werden nicht erbracht."}),
        )
        .await;
    resp.expect(200);
    assert_eq!(resp.body["id"], json!(org), "{}", resp.text);
    assert_eq!(resp.body["status"], json!(to), "{}", resp.text);
}

/// An anonymous search, asked twice: both answers must be the same, whole.
async fn search_twice(app: &TestApp, query: &str) -> Resp {
    let first = search(app, None, query).await;
    let again = search(app, None, query).await;
    assert_eq!(
        again.body, first.body,
        "?{query} answered differently the second time"
    );
    first
}

/// What a one-page search must answer: these listings (in any order) and these facets.
struct Expected<'a> {
    listings: &'a [&'a str],
    kind: &'a [(&'a str, i64)],
    category: &'a [(&'a str, i64)],
    tags: &'a [(&'a str, i64)],
}

#[track_caller]
fn assert_result(resp: &Resp, what: &str, expected: &Expected) {
    assert_eq!(
        set(&ids(resp)),
        set(expected.listings),
        "{what}: listings; {}",
        resp.text
    );
    assert_eq!(
        ids(resp).len(),
        expected.listings.len(),
        "{what}: a listing repeats; {}",
        resp.text
    );
    assert_eq!(next_cursor(resp), None, "{what}: one page only");
    assert_eq!(
        resp.body["facets"]["total"],
        json!(expected.listings.len()),
        "{what}: facets.total; {}",
        resp.text
    );
    assert_eq!(facet(resp, "kind"), counts(expected.kind), "{what}: kind");
    assert_eq!(
        facet(resp, "category"),
        counts(expected.category),
        "{what}: category"
    );
    assert_eq!(facet(resp, "tags"), counts(expected.tags), "{what}: tags");
}

/// The item with `id` on a page.
fn item<'a>(resp: &'a Resp, id: &str) -> &'a Value {
    resp.body["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["id"] == json!(id)))
        .unwrap_or_else(|| panic!("{id} is not on the page {}", resp.text))
}

// ---------------------------------------------------------------------------------------
// One instance
// ---------------------------------------------------------------------------------------

async fn every_catalogue_write_shows_in_the_next_identical_search(backend: Backend) {
    let m = market(backend).await;
    let app = &m.app;
    let einkauf = publish(
        app,
        &m.owner,
        &m.moderator,
        &m.org,
        listing(
            "offer",
            "expertise",
            "Zusammenarbeit beim Einkauf regionaler Weine",
            "Gemeinsam bestellen wir bei Winzern aus derselben Region und teilen die Lieferkosten.",
            &["zusammenarbeit", "einkauf"],
        ),
    )
    .await;
    let kuehlraum = publish(
        app,
        &m.owner,
        &m.moderator,
        &m.org,
        listing(
            "need",
            "resource",
            "Kühlraum für Partnerbetriebe gesucht",
            "Für die Sommermonate suchen wir Lagerfläche: Zusammenarbeit und Partnerschaft mit \
             Betrieben derselben Branche.",
            &["kuehlraum", "lager"],
        ),
    )
    .await;
    let Company {
        owner: winzer,
        id: weingut,
    } = company(
        app,
        "inhaber@weingut-morgenrot.example",
        "Weingut Morgenrot",
    )
    .await;

    const TEXT: &str = "q=zusammenarbeit";
    const ALL: &str = "sort=newest&limit=50";
    let base_tags = [
        ("zusammenarbeit", 1),
        ("einkauf", 1),
        ("kuehlraum", 1),
        ("lager", 1),
    ];
    let baseline = Expected {
        listings: &[&einkauf, &kuehlraum],
        kind: &[("offer", 1), ("need", 1)],
        category: &[("expertise", 1), ("resource", 1)],
        tags: &base_tags,
    };
    let text_before = search_twice(app, TEXT).await;
    assert_result(&text_before, "text search at first", &baseline);
    let all_before = search_twice(app, ALL).await;
    assert_result(&all_before, "whole catalogue at first", &baseline);
    assert_eq!(ids(&all_before), vec![kuehlraum.clone(), einkauf.clone()]);
    // A third time, still the same.
    assert_eq!(search(app, None, TEXT).await.body, text_before.body);

    // ---- Publication. Written and submitted, a listing is not public yet…
    let keller = pending(
        app,
        &winzer,
        &weingut,
        listing(
            "offer",
            "resource",
            "Weinkeller für gemeinsame Verkostungen",
            "Zusammenarbeit und Partnerschaft: unser Gewölbekeller steht Partnerbetrieben für \
             Verkostungen offen.",
            &["zusammenarbeit", "verkostung"],
        ),
    )
    .await;
    assert_eq!(search(app, None, TEXT).await.body, text_before.body);
    // …approved, it is found by the very next search and counted in its facets.
    approve(app, &m.moderator, &keller).await;
    let with_keller = search_twice(app, TEXT).await;
    assert_result(
        &with_keller,
        "text search after the approval",
        &Expected {
            listings: &[&einkauf, &kuehlraum, &keller],
            kind: &[("offer", 2), ("need", 1)],
            category: &[("expertise", 1), ("resource", 2)],
            tags: &[
                ("zusammenarbeit", 2),
                ("einkauf", 1),
                ("kuehlraum", 1),
                ("lager", 1),
                ("verkostung", 1),
            ],
        },
    );
    assert_eq!(
        item(&with_keller, &keller)["title"],
        "Weinkeller für gemeinsame Verkostungen"
    );
    assert_eq!(
        set(&ids(&search(app, None, ALL).await)),
        set(&[&einkauf, &kuehlraum, &keller])
    );

    // ---- Archiving takes it out at once.
    archive(app, &winzer, &keller).await;
    assert_eq!(search(app, None, TEXT).await.body, text_before.body);
    assert_eq!(search(app, None, ALL).await.body, all_before.body);

    // ---- So does a moderator's removal.
    let markt = publish(
        app,
        &winzer,
        &m.moderator,
        &weingut,
        listing(
            "need",
            "expertise",
            "Gemeinsamer Stand auf dem Weinmarkt",
            "Wir suchen Zusammenarbeit mit einem Gasthof, der am Stand kleine Speisen reicht.",
            &["zusammenarbeit", "weinmarkt"],
        ),
    )
    .await;
    assert_result(
        &search_twice(app, TEXT).await,
        "text search with the market stand",
        &Expected {
            listings: &[&einkauf, &kuehlraum, &markt],
            kind: &[("offer", 1), ("need", 2)],
            category: &[("expertise", 2), ("resource", 1)],
            tags: &[
                ("zusammenarbeit", 2),
                ("einkauf", 1),
                ("kuehlraum", 1),
                ("lager", 1),
                ("weinmarkt", 1),
            ],
        },
    );
    let removed = app
        .post(
            &format!("/api/v1/moderation/listings/{markt}/remove"),
            Some(&m.moderator.access),
            json!({"reason": "Manipulationstaktik: vorgetäuschte Gegenseitigkeit."}),
        )
        .await;
    removed.expect(200);
    assert_eq!(removed.body["status"], "removed");
    assert_eq!(search(app, None, TEXT).await.body, text_before.body);
    assert_eq!(search(app, None, ALL).await.body, all_before.body);

    // ---- An approved edit that drops the searched word.
    let begleitung = publish(
        app,
        &winzer,
        &m.moderator,
        &weingut,
        listing(
            "offer",
            "expertise",
            "Zusammenarbeit bei der Weinbegleitung",
            "Unsere Sommelière stellt mit Ihrer Küche die passenden Weine zusammen.",
            &["zusammenarbeit", "weinbegleitung"],
        ),
    )
    .await;
    let with_begleitung = Expected {
        listings: &[&einkauf, &kuehlraum, &begleitung],
        kind: &[("offer", 2), ("need", 1)],
        category: &[("expertise", 2), ("resource", 1)],
        tags: &[
            ("zusammenarbeit", 2),
            ("einkauf", 1),
            ("kuehlraum", 1),
            ("lager", 1),
            ("weinbegleitung", 1),
        ],
    };
    assert_result(
        &search_twice(app, TEXT).await,
        "text search with the wine pairing",
        &with_begleitung,
    );
    let edited = app
        .patch(
            &format!("{LISTINGS}/{begleitung}"),
            Some(&winzer.access),
            json!({
                "title": "Schulung zur Weinbegleitung",
                "description": "Unsere Sommelière schult Ihr Serviceteam an zwei Abenden im Gewölbekeller.",
                "tags": ["schulung", "weinbegleitung"],
            }),
        )
        .await;
    edited.expect(200);
    assert_eq!(
        edited.body["pending_changes"]["title"],
        "Schulung zur Weinbegleitung"
    );
    // While the edit waits for review, the approved text stays public.
    let waiting = search(app, None, TEXT).await;
    assert_result(
        &waiting,
        "text search with an edit waiting",
        &with_begleitung,
    );
    assert_eq!(
        item(&waiting, &begleitung)["title"],
        "Zusammenarbeit bei der Weinbegleitung"
    );
    let approved = approve(app, &m.moderator, &begleitung).await;
    assert_eq!(approved.body["title"], "Schulung zur Weinbegleitung");
    assert_eq!(search(app, None, TEXT).await.body, text_before.body);
    let all = search_twice(app, ALL).await;
    assert_result(
        &all,
        "whole catalogue after the edit",
        &Expected {
            listings: &[&einkauf, &kuehlraum, &begleitung],
            kind: &[("offer", 2), ("need", 1)],
            category: &[("expertise", 2), ("resource", 1)],
            tags: &[
                ("zusammenarbeit", 1),
                ("einkauf", 1),
                ("kuehlraum", 1),
                ("lager", 1),
                ("schulung", 1),
                ("weinbegleitung", 1),
            ],
        },
    );
    assert_eq!(
        item(&all, &begleitung)["title"],
        "Schulung zur Weinbegleitung"
    );
    assert_eq!(
        item(&all, &begleitung)["tags"],
        json!(["schulung", "weinbegleitung"])
    );

    // ---- Suspending the organisation (moderation API) takes all its listings out.
    let sommerfest = publish(
        app,
        &winzer,
        &m.moderator,
        &weingut,
        listing(
            "need",
            "resource",
            "Zusammenarbeit beim Sommerfest: Zelt und Bänke gesucht",
            "Für das Hoffest im Juli leihen wir gern Ausstattung von Partnerbetrieben.",
            &["zusammenarbeit", "sommerfest"],
        ),
    )
    .await;
    let text_with_partner = search_twice(app, TEXT).await;
    assert_result(
        &text_with_partner,
        "text search with the summer party",
        &Expected {
            listings: &[&einkauf, &kuehlraum, &sommerfest],
            kind: &[("need", 2), ("offer", 1)],
            category: &[("resource", 2), ("expertise", 1)],
            tags: &[
                ("zusammenarbeit", 2),
                ("einkauf", 1),
                ("kuehlraum", 1),
                ("lager", 1),
                ("sommerfest", 1),
            ],
        },
    );
    let all_with_partner = search_twice(app, ALL).await;
    assert_eq!(
        ids(&all_with_partner),
        vec![
            sommerfest.clone(),
            begleitung.clone(),
            kuehlraum.clone(),
            einkauf.clone()
        ]
    );
    assert_eq!(all_with_partner.body["facets"]["total"], 4);

    moderate_org(app, &m.moderator, &weingut, "suspend", "suspended").await;
    assert_eq!(search(app, None, TEXT).await.body, text_before.body);
    assert_eq!(search(app, None, ALL).await.body, all_before.body);
    assert_eq!(search(app, None, TEXT).await.body, text_before.body);

    // ---- Reinstated, its listings are back, exactly as before.
    moderate_org(app, &m.moderator, &weingut, "unsuspend", "active").await;
    assert_eq!(search(app, None, TEXT).await.body, text_with_partner.body);
    assert_eq!(search(app, None, ALL).await.body, all_with_partner.body);
}

// ---------------------------------------------------------------------------------------
// Two instances on one database
// ---------------------------------------------------------------------------------------

async fn a_change_made_through_another_instance_shows_at_once(backend: Backend) {
    let m = market(backend).await;
    let a = &m.app;
    let b = a.spawn_sibling().await;
    assert_ne!(a.address, b.address);
    let schulung = publish(
        a,
        &m.owner,
        &m.moderator,
        &m.org,
        listing(
            "offer",
            "expertise",
            "Außergewöhnlicher Kundenservice: Schulung für Ihr Empfangsteam",
            "Wir schulen Ihr Team darin, Gäste überdurchschnittlich zu betreuen.",
            &["kundenservice", "schulung"],
        ),
    )
    .await;
    // The hotel signs up through the other instance.
    let Company {
        owner: hotel_owner,
        id: hotel,
    } = company(&b, "inhaberin@hotel-seeblick.example", "Hotel Seeblick").await;

    const QUERY: &str = "q=kundenservice&limit=10";
    let baseline = Expected {
        listings: &[&schulung],
        kind: &[("offer", 1)],
        category: &[("expertise", 1)],
        tags: &[("kundenservice", 1), ("schulung", 1)],
    };
    // Both instances have the search cached.
    let on_a = search_twice(a, QUERY).await;
    assert_result(&on_a, "instance A at first", &baseline);
    let on_b = search_twice(&b, QUERY).await;
    assert_eq!(on_b.body, on_a.body, "the instances disagree");

    // A listing written, submitted and approved through B…
    let testgaeste = pending(
        &b,
        &hotel_owner,
        &hotel,
        listing(
            "need",
            "expertise",
            "Kundenservice-Training durch Testgäste gesucht",
            "Wir suchen einen Partnerbetrieb, der unseren Empfang als Testgast besucht; im \
             Gegenzug laden wir Ihr Team zum Abendessen ein.",
            &["kundenservice", "mystery-shopping"],
        ),
    )
    .await;
    assert_eq!(search(a, None, QUERY).await.body, on_a.body);
    approve(&b, &m.moderator, &testgaeste).await;
    // …is found by A's very next search, and counted.
    let with_hotel = Expected {
        listings: &[&schulung, &testgaeste],
        kind: &[("offer", 1), ("need", 1)],
        category: &[("expertise", 2)],
        tags: &[
            ("kundenservice", 2),
            ("mystery-shopping", 1),
            ("schulung", 1),
        ],
    };
    let a_with_hotel = search_twice(a, QUERY).await;
    assert_result(&a_with_hotel, "instance A after B approved", &with_hotel);
    assert_eq!(search(&b, None, QUERY).await.body, a_with_hotel.body);

    // Archived through B: gone from A's next search.
    archive(&b, &hotel_owner, &testgaeste).await;
    assert_eq!(search(a, None, QUERY).await.body, on_a.body);
    assert_eq!(search(&b, None, QUERY).await.body, on_a.body);

    // The other way round, and with a suspension: published through A, B sees it; the
    // hotel suspended through B, A no longer shows it; reinstated through B, A shows it.
    let fruehstueck = publish(
        a,
        &hotel_owner,
        &m.moderator,
        &hotel,
        listing(
            "offer",
            "resource",
            "Frühstücksraum für Kundenservice-Seminare",
            "Vormittags frei: unser Frühstücksraum mit Beamer für Seminare von Partnerbetrieben.",
            &["kundenservice", "seminarraum"],
        ),
    )
    .await;
    let with_room = Expected {
        listings: &[&schulung, &fruehstueck],
        kind: &[("offer", 2)],
        category: &[("expertise", 1), ("resource", 1)],
        tags: &[("kundenservice", 2), ("schulung", 1), ("seminarraum", 1)],
    };
    let b_with_room = search_twice(&b, QUERY).await;
    assert_result(&b_with_room, "instance B after A approved", &with_room);
    assert_eq!(search(a, None, QUERY).await.body, b_with_room.body);
    moderate_org(&b, &m.moderator, &hotel, "suspend", "suspended").await;
    assert_eq!(search(a, None, QUERY).await.body, on_a.body);
    moderate_org(&b, &m.moderator, &hotel, "unsuspend", "active").await;
    assert_eq!(search(a, None, QUERY).await.body, b_with_room.body);
    drop(b);
    // The first instance still has its database.
    assert_eq!(search(a, None, QUERY).await.body, b_with_room.body);
}

// ---------------------------------------------------------------------------------------
// Expiry
// ---------------------------------------------------------------------------------------

async fn a_listing_leaves_cached_searches_when_it_expires_without_any_write(backend: Backend) {
    let m = market(backend).await;
    let app = &m.app;
    let kasse = publish(
        app,
        &m.owner,
        &m.moderator,
        &m.org,
        listing(
            "offer",
            "resource",
            "Probemonat für unser Kassensystem",
            "Partnerbetriebe testen unsere Kasse einen Monat lang unverbindlich.",
            &["probemonat", "kassensystem"],
        ),
    )
    .await;
    // Expires in four seconds: in the future when it is created and when it is approved.
    let expires = Utc::now() + chrono::Duration::seconds(4);
    let mut body = listing(
        "offer",
        "expertise",
        "Unverbindlich testen: ein Probemonat Weinabo",
        "Ein kostenloses Muster schafft Vertrauen, ohne das Gefühl von Verpflichtung auszulösen.",
        &["probemonat", "weinabo"],
    );
    body["trial_available"] = json!(true);
    body["expires_at"] = json!(expires.to_rfc3339_opts(SecondsFormat::Millis, true));
    let weinabo = publish(app, &m.owner, &m.moderator, &m.org, body).await;

    const QUERY: &str = "q=probemonat";
    const TRIALS: &str = "trial=true";
    assert!(
        Utc::now() + chrono::Duration::seconds(2) < expires,
        "the machine is too slow: the listing would expire while the test still sets up"
    );
    let found = search_twice(app, QUERY).await;
    assert_result(
        &found,
        "before the expiry",
        &Expected {
            listings: &[&kasse, &weinabo],
            kind: &[("offer", 2)],
            category: &[("expertise", 1), ("resource", 1)],
            tags: &[("probemonat", 2), ("kassensystem", 1), ("weinabo", 1)],
        },
    );
    let trials = search_twice(app, TRIALS).await;
    assert_eq!(ids(&trials), vec![weinabo.clone()]);
    assert_eq!(trials.body["facets"]["total"], 1);

    // The entry is served from the cache: a change behind the application's back (one it
    // never makes: no catalogue version bump) does not reach the cached facets, while the
    // items, read fresh from the search documents by position, show it.
    app.sql(&format!(
        "UPDATE listings SET category = 'expertise' WHERE id = '{kasse}'"
    ));
    app.sql(&format!(
        "UPDATE search_docs SET category = 'expertise', public_view = \
         REPLACE(public_view, '\"category\":\"resource\"', '\"category\":\"expertise\"') \
         WHERE listing_id = '{kasse}'"
    ));
    let cached = search(app, None, QUERY).await;
    assert_eq!(item(&cached, &kasse)["category"], "expertise");
    assert_eq!(
        cached.body["facets"], found.body["facets"],
        "the search was not cached, so this test could not show the expiry at work"
    );

    // No write at all from here: only time passes.
    let wait =
        (expires - Utc::now()).to_std().unwrap_or(Duration::ZERO) + Duration::from_millis(300);
    actix_web::rt::time::sleep(wait).await;

    let after = search(app, None, QUERY).await;
    assert_result(
        &after,
        "after the expiry",
        &Expected {
            listings: &[&kasse],
            kind: &[("offer", 1)],
            // Computed afresh: the category written behind the application's back shows.
            category: &[("expertise", 1)],
            tags: &[("probemonat", 1), ("kassensystem", 1)],
        },
    );
    assert_eq!(search(app, None, QUERY).await.body, after.body);
    let trials = search(app, None, TRIALS).await;
    assert!(ids(&trials).is_empty(), "{}", trials.text);
    assert_eq!(trials.body["facets"]["total"], 0);
    assert_eq!(trials.body["facets"]["kind"], json!([]));
    assert_eq!(trials.body["facets"]["tags"], json!([]));
    // And the listing itself is no longer public.
    app.get(&format!("{LISTINGS}/{weinabo}"), None)
        .await
        .expect_problem(404);
}

// ---------------------------------------------------------------------------------------
// Cursor pages
// ---------------------------------------------------------------------------------------

/// Page 1 of `query`, then page 2 by its `next_cursor`.
async fn first_two_pages(app: &TestApp, query: &str) -> (Resp, Resp) {
    let page1 = search(app, None, query).await;
    let cursor = next_cursor(&page1).unwrap_or_else(|| panic!("?{query}: no second page"));
    let page2 = search(app, None, &format!("{query}&cursor={}", enc(&cursor))).await;
    (page1, page2)
}

async fn cached_cursor_pages_follow_the_catalogue(backend: Backend) {
    let m = market(backend).await;
    let app = &m.app;
    let p = |title: &'static str, description: &'static str, tags: &'static [&'static str]| {
        publish(
            app,
            &m.owner,
            &m.moderator,
            &m.org,
            listing("offer", "expertise", title, description, tags),
        )
    };
    // Relevance: title 4, tags 2, description 1.
    let five = p(
        "Gegenseitigkeit im Gastgewerbe",
        "Gegenseitigkeit schafft solide Beziehungen zu Gästen.",
        &["reziprozitaet"],
    )
    .await;
    let four = p(
        "Gegenseitigkeit durch Empfehlungen",
        "Rabatte und Einladungen zu Besichtigungen für Stammgäste.",
        &["empfehlungen"],
    )
    .await;
    let three = p(
        "Wertschätzung für Mitarbeitende",
        "Dankesschreiben und kleine Präsente zeigen guten Willen und Gegenseitigkeit.",
        &["gegenseitigkeit", "wertschaetzung"],
    )
    .await;
    let two = p(
        "Transparenz bei Geschäftspraktiken",
        "Offener Umgang mit eigenen Zielen schafft Vertrauen.",
        &["gegenseitigkeit", "transparenz"],
    )
    .await;
    let one = p(
        "Gemeinsam profitieren",
        "Lösungen, von denen beide Parteien profitieren, fördern Gegenseitigkeit.",
        &["verhandlung"],
    )
    .await;
    let newcomer = pending(
        app,
        &m.owner,
        &m.org,
        listing(
            "need",
            "resource",
            "Gegenseitigkeit bei Spendenaktionen",
            "Wir suchen Partner für eine Spendenaktion; Gegenseitigkeit stärkt gemeinsame Werte.",
            &["gegenseitigkeit", "spendenaktion"],
        ),
    )
    .await;

    const RELEVANCE: &str = "q=gegenseitigkeit&limit=2";
    const NEWEST: &str = "sort=newest&limit=2";
    // (query, pages 1 and 2 before the newcomer, pages 1 and 2 with it)
    let cases = [
        (
            RELEVANCE,
            [&five, &four],
            [&three, &two],
            [&newcomer, &five],
            [&four, &three],
        ),
        (
            NEWEST,
            [&one, &two],
            [&three, &four],
            [&newcomer, &one],
            [&two, &three],
        ),
    ];

    // Page 1 and 2, twice: the same answers, whole.
    let mut before = Vec::new();
    for (query, page1_ids, page2_ids, _, _) in &cases {
        let (page1, page2) = first_two_pages(app, query).await;
        let (again1, again2) = first_two_pages(app, query).await;
        assert_eq!(again1.body, page1.body, "?{query}: page 1 changed");
        assert_eq!(again2.body, page2.body, "?{query}: page 2 changed");
        assert_eq!(
            ids(&page1),
            page1_ids.map(String::clone),
            "?{query} page 1: {}",
            page1.text
        );
        assert_eq!(
            ids(&page2),
            page2_ids.map(String::clone),
            "?{query} page 2: {}",
            page2.text
        );
        for page in [&page1, &page2] {
            assert_eq!(page.body["facets"]["total"], 5, "?{query}");
            assert_eq!(facet(page, "kind"), counts(&[("offer", 5)]), "?{query}");
            assert_eq!(
                facet(page, "category"),
                counts(&[("expertise", 5)]),
                "?{query}"
            );
        }
        assert!(next_cursor(&page2).is_some(), "?{query}: a third page");
        before.push((page1, page2));
    }

    approve(app, &m.moderator, &newcomer).await;

    for ((query, _, _, page1_ids, page2_ids), (old1, old2)) in cases.iter().zip(&before) {
        // The restarted first page shows the newcomer on top, and the facets count it.
        let (fresh1, fresh2) = first_two_pages(app, query).await;
        assert_eq!(
            ids(&fresh1),
            page1_ids.map(String::clone),
            "?{query}: {}",
            fresh1.text
        );
        assert_eq!(
            ids(&fresh2),
            page2_ids.map(String::clone),
            "?{query}: {}",
            fresh2.text
        );
        for page in [&fresh1, &fresh2] {
            assert_eq!(page.body["facets"]["total"], 6, "?{query}");
            assert_eq!(
                facet(page, "kind"),
                counts(&[("offer", 5), ("need", 1)]),
                "?{query}"
            );
            assert_eq!(
                facet(page, "category"),
                counts(&[("expertise", 5), ("resource", 1)]),
                "?{query}"
            );
            assert_eq!(
                facet(page, "tags")["gegenseitigkeit"],
                3,
                "?{query}: {}",
                page.text
            );
        }
        assert_eq!(item(&fresh1, &newcomer)["status"], "published");
        // The old cursor still continues where it was (keyset pages are stable), with
        // the facets of the catalogue as it is now.
        let old_cursor = next_cursor(old1).expect("cursor");
        let old_page2 = search(app, None, &format!("{query}&cursor={}", enc(&old_cursor))).await;
        assert_eq!(old_page2.body["items"], old2.body["items"], "?{query}");
        assert_eq!(old_page2.body["facets"], fresh1.body["facets"], "?{query}");
        // The new answers are cached just as well.
        let (again1, again2) = first_two_pages(app, query).await;
        assert_eq!(again1.body, fresh1.body, "?{query}");
        assert_eq!(again2.body, fresh2.body, "?{query}");
    }
}

// ---------------------------------------------------------------------------------------
// Non-public searches
// ---------------------------------------------------------------------------------------

async fn searches_of_an_organisations_own_drafts_are_never_cached(backend: Backend) {
    let m = market(backend).await;
    let app = &m.app;
    let org = &m.org;
    let owner = Some(m.owner.access.as_str());
    let published = publish(
        app,
        &m.owner,
        &m.moderator,
        org,
        listing(
            "offer",
            "resource",
            "Seminarraum mit Beamer für Partnerbetriebe",
            "Unser Saal im ersten Stock, werktags ab 9 Uhr.",
            &["seminarraum", "beamer"],
        ),
    )
    .await;
    let kasse = draft(
        app,
        &m.owner,
        org,
        listing(
            "offer",
            "resource",
            "Entwurf: Probemonat für unser Kassensystem",
            "Noch in Arbeit.",
            &["probemonat", "kassensystem"],
        ),
    )
    .await;

    let drafts = format!("org_id={org}&status=draft");
    let first = search(app, owner, &drafts).await;
    assert_result(
        &first,
        "own drafts",
        &Expected {
            listings: &[&kasse],
            kind: &[("offer", 1)],
            category: &[("resource", 1)],
            tags: &[("probemonat", 1), ("kassensystem", 1)],
        },
    );
    assert_eq!(search(app, owner, &drafts).await.body, first.body);

    // A draft written after the first search shows at once.
    let beschwerden = draft(
        app,
        &m.owner,
        org,
        listing(
            "need",
            "expertise",
            "Entwurf: Schulung zum Umgang mit Beschwerden gesucht",
            "Wer bringt unserem Serviceteam bei, Beschwerden in Wertschätzung zu verwandeln?",
            &["beschwerden", "schulung"],
        ),
    )
    .await;
    let both = Expected {
        listings: &[&kasse, &beschwerden],
        kind: &[("offer", 1), ("need", 1)],
        category: &[("resource", 1), ("expertise", 1)],
        tags: &[
            ("beschwerden", 1),
            ("kassensystem", 1),
            ("probemonat", 1),
            ("schulung", 1),
        ],
    };
    assert_result(&search(app, owner, &drafts).await, "own drafts, two", &both);
    assert_result(
        &search(app, owner, &drafts).await,
        "own drafts, two, again",
        &both,
    );

    // The public search of the same organisation is cached (the control)…
    let public = format!("org_id={org}");
    let anonymous = search_twice(app, &public).await;
    assert_eq!(ids(&anonymous), vec![published.clone()]);
    assert_eq!(facet(&anonymous, "kind"), counts(&[("offer", 1)]));
    assert!(
        item(&anonymous, &published).get("submitted_at").is_none(),
        "an anonymous caller sees the private side: {}",
        anonymous.text
    );
    // …and its members still see their private side from it.
    let insider = search(app, owner, &public).await;
    assert_eq!(ids(&insider), vec![published.clone()]);
    assert!(
        item(&insider, &published)["submitted_at"].is_string(),
        "{}",
        insider.text
    );
    assert!(item(&search(app, None, &public).await, &published)
        .get("submitted_at")
        .is_none());

    // A change behind the application's back (no catalogue version bump): the drafts
    // search, computed every time, shows it at once; the cached public search does not.
    for id in [&kasse, &published] {
        app.sql(&format!(
            "UPDATE listings SET kind = 'need' WHERE id = '{id}'"
        ));
        app.sql(&format!(
            "UPDATE listing_tags SET kind = 'need' WHERE listing_id = '{id}'"
        ));
        app.sql(&format!(
            "UPDATE search_docs SET kind = 'need' WHERE listing_id = '{id}'"
        ));
    }
    let changed = search(app, owner, &drafts).await;
    assert_result(
        &changed,
        "own drafts after the change",
        &Expected {
            kind: &[("need", 2)],
            ..both
        },
    );
    assert_eq!(item(&changed, &kasse)["kind"], "need");
    let with_status = search(app, owner, &format!("{drafts}&status=published")).await;
    assert_eq!(
        set(&ids(&with_status)),
        set(&[&kasse, &beschwerden, &published])
    );
    assert_eq!(facet(&with_status, "kind"), counts(&[("need", 3)]));
    let control = search(app, None, &public).await;
    assert_eq!(
        control.body["facets"], anonymous.body["facets"],
        "the public search was not cached, so this test shows nothing"
    );
}

backends!(
    every_catalogue_write_shows_in_the_next_identical_search,
    a_change_made_through_another_instance_shows_at_once,
    a_listing_leaves_cached_searches_when_it_expires_without_any_write,
    cached_cursor_pages_follow_the_catalogue,
    searches_of_an_organisations_own_drafts_are_never_cached,
);
