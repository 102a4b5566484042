//! The bounded cost of catalogue searches (`docs/API-DESIGN.md`, "Catalogue search"):
//! facet counts of the whole public catalogue are exact and follow every change (writes,
//! suspensions, expiry with no write at all); counts of larger results are exact up to the
//! configured bounds and flagged as estimates beyond; short terms match whole words only;
//! relevance pages over a large result list every listing once.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::backends;
use crate::catalogue::{listing, market, market_with, publish_with, search, Market};
use crate::catalogue_cache::moderate_org;
use crate::helpers::{enc, Backend, TestApp};

/// Small bounds, so a few hundred seeded listings exceed them.
const SAMPLE: i64 = 20;
const EXACT: i64 = 100;

/// A marketplace with bounds of 20 / 100 and 40 seeded organisations of 10 listings each.
async fn seeded(backend: Backend) -> Market {
    seeded_with(backend, SAMPLE, EXACT).await
}

async fn seeded_with(backend: Backend, sample: i64, exact: i64) -> Market {
    let m = market_with(backend, |s| {
        s.search_bounds.facet_sample = sample;
        s.search_bounds.exact_total = exact;
        s.search_cache_size = 0;
    })
    .await;
    let plan = mutua::seed::SeedPlan {
        orgs: 40,
        listings_per_org: 10,
        seed: 7,
        log_leaves: 0,
    };
    let out = m.app.data_dir.join("seed-logins.csv");
    let mut conn = m.app.pool.get().expect("connection");
    mutua::seed::run(&mut conn, &plan, &out).expect("seeded");
    m
}

/// The public listings matching `filter` (SQL over `listings l`), counted in the database.
fn truth(app: &TestApp, filter: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) AS n FROM listings l JOIN orgs o ON o.id = l.org_id \
         WHERE l.status = 'published' AND o.status <> 'suspended' \
         AND (l.expires_at IS NULL OR l.expires_at > CURRENT_TIMESTAMP) AND ({filter})"
    ))
}

/// The seeded region with the most public listings.
fn busiest_region(app: &TestApp) -> String {
    [
        "Bayern", "Berlin", "Hamburg", "Zürich", "Wien", "Tirol", "Sachsen", "Hessen", "Bern",
        "Salzburg",
    ]
    .into_iter()
    .max_by_key(|r| truth(app, &format!("l.region = '{r}'")))
    .expect("regions")
    .to_owned()
}

fn counts(facet: &Value) -> BTreeMap<String, i64> {
    facet
        .as_array()
        .expect("a facet list")
        .iter()
        .map(|c| {
            (
                c["value"].as_str().expect("value").to_owned(),
                c["count"].as_i64().expect("count"),
            )
        })
        .collect()
}

async fn whole_catalogue_counts_are_exact_and_follow_every_change(backend: Backend) {
    let m = seeded(backend).await;
    let app = &m.app;
    let check = |label: &'static str| async move {
        let page = search(app, None, "limit=5").await;
        let facets = &page.body["facets"];
        assert_eq!(facets["total"], truth(app, "1 = 1"), "{label}: total");
        assert_eq!(facets["total_is_estimate"], false, "{label}");
        assert_eq!(facets["counts_are_estimates"], false, "{label}");
        for kind in ["offer", "need"] {
            assert_eq!(
                counts(&facets["kind"]).get(kind).copied().unwrap_or(0),
                truth(app, &format!("l.kind = '{kind}'")),
                "{label}: kind {kind}"
            );
        }
        for (tag, count) in counts(&facets["tags"]) {
            let carrying = truth(
                app,
                &format!("l.id IN (SELECT listing_id FROM listing_tags WHERE tag = '{tag}')"),
            );
            assert_eq!(count, carrying, "{label}: tag {tag}");
        }
        facets["total"].as_i64().expect("total")
    };
    let seeded_total = check("seeded").await;
    assert!(seeded_total > EXACT, "the catalogue exceeds the bounds");

    // A suspension takes the organisation's listings out of the counts; reinstating it
    // brings them back.
    let org: String = {
        let page = search(app, None, "limit=1").await;
        page.body["items"][0]["org_id"]
            .as_str()
            .expect("org")
            .to_owned()
    };
    let of_org = truth(app, &format!("l.org_id = '{org}'"));
    assert!(of_org > 0);
    for (action, to) in [("suspend", "suspended"), ("unsuspend", "active")] {
        moderate_org(app, &m.moderator, &org, action, to).await;
        let total = check(action).await;
        let expected = if action == "suspend" {
            seeded_total - of_org
        } else {
            seeded_total
        };
        assert_eq!(total, expected, "after {action}");
    }

    // A listing whose expiry passes leaves the counts at the next search, with no write.
    let expires = Utc::now() + chrono::Duration::seconds(2);
    let mut body = listing(
        "offer",
        "resource",
        "Seminarraum für einen Nachmittag",
        "Unser Seminarraum steht Partnern unverbindlich zur Verfügung.",
        &["seminarraum"],
    );
    body["expires_at"] = json!(expires.to_rfc3339_opts(SecondsFormat::Millis, true));
    publish_with(app, &m.owner, &m.moderator, &m.org, body).await;
    assert_eq!(check("published").await, seeded_total + 1);
    let version = app.count("SELECT version AS n FROM catalogue_state");
    let wait = (expires - Utc::now()).to_std().unwrap_or_default();
    // Past the second of the expiry, so the SQL truth (`CURRENT_TIMESTAMP` has whole
    // seconds on SQLite) agrees.
    actix_web::rt::time::sleep(wait + std::time::Duration::from_millis(1_300)).await;
    assert_eq!(check("expired").await, seeded_total);
    assert!(
        app.count("SELECT version AS n FROM catalogue_state") > version,
        "the sweep bumps the catalogue version, so cached searches elsewhere follow"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM search_docs WHERE visible = TRUE"),
        seeded_total,
        "the expired listing's document is no longer visible"
    );
}

async fn larger_results_are_exact_up_to_the_bounds_and_flagged_beyond(backend: Backend) {
    let m = seeded(backend).await;
    let app = &m.app;
    let any_org: String = {
        let page = search(app, None, "limit=1").await;
        page.body["items"][0]["org_id"]
            .as_str()
            .expect("org")
            .to_owned()
    };
    let region = busiest_region(app);
    let cases = [
        (
            format!("org_id={any_org}"),
            format!("l.org_id = '{any_org}'"),
        ),
        (
            format!("region={}", enc(&region)),
            format!("l.region = '{region}'"),
        ),
        (
            format!("region={}&kind=need", enc(&region)),
            format!("l.region = '{region}' AND l.kind = 'need'"),
        ),
        ("kind=offer".to_owned(), "l.kind = 'offer'".to_owned()),
        (
            "trial=false".to_owned(),
            "l.trial_available = FALSE".to_owned(),
        ),
    ];
    let mut seen = BTreeSet::new();
    for (query, filter) in cases {
        let expected = truth(app, &filter);
        let facets = search(app, None, &query).await.body["facets"].clone();
        let total = facets["total"].as_i64().expect("total");
        let band = if expected <= SAMPLE {
            assert_eq!(total, expected, "{query}: exact");
            assert_eq!(facets["counts_are_estimates"], false, "{query}");
            let kinds: i64 = counts(&facets["kind"]).values().sum();
            assert_eq!(kinds, expected, "{query}: exact kind counts");
            "exact"
        } else if expected <= EXACT {
            assert_eq!(total, expected, "{query}: exact total");
            assert_eq!(facets["counts_are_estimates"], true, "{query}");
            "counts estimated"
        } else {
            assert!(
                (total - expected).abs() * 2 <= expected,
                "{query}: estimate {total} is within half of {expected}"
            );
            assert_eq!(facets["counts_are_estimates"], true, "{query}");
            "total estimated"
        };
        assert_eq!(
            facets["total_is_estimate"],
            expected > EXACT,
            "{query}: total_is_estimate"
        );
        seen.insert(band);
    }
    assert_eq!(
        seen.len(),
        3,
        "the seeded data reaches every band: {seen:?}"
    );
}

/// The default configuration counts nothing beyond the sample: a larger total is
/// extrapolated from how far back the sample reaches.
async fn without_an_exact_count_totals_beyond_the_sample_are_estimated(backend: Backend) {
    let m = seeded_with(backend, SAMPLE, SAMPLE).await;
    let app = &m.app;
    let region = busiest_region(app);
    for (query, filter) in [
        ("kind=need".to_owned(), "l.kind = 'need'".to_owned()),
        (format!("region={}", enc(&region)), format!("l.region = '{region}'")),
        ("q=schulung".to_owned(), "(' ' || l.search_title || ' ' || l.search_tags || ' ' || l.search_body) LIKE '% schulung%'".to_owned()),
    ] {
        let (query, filter) = (query.as_str(), filter.as_str());
        let expected = truth(app, filter);
        assert!(expected > SAMPLE, "{query}: {expected} exceed the sample");
        let facets = search(app, None, query).await.body["facets"].clone();
        let total = facets["total"].as_i64().expect("total");
        assert_eq!(facets["total_is_estimate"], true, "{query}");
        assert_eq!(facets["counts_are_estimates"], true, "{query}");
        assert!(
            (total - expected).abs() * 2 <= expected,
            "{query}: estimate {total} is within half of {expected}"
        );
    }
}

async fn relevance_pages_over_a_large_result_list_every_listing_once(backend: Backend) {
    let m = seeded(backend).await;
    let app = &m.app;
    let word = "schulung";
    // A word or word prefix of the folded text.
    let expected = truth(
        app,
        &format!(
            "(' ' || l.search_title || ' ' || l.search_tags || ' ' || l.search_body) \
             LIKE '% {word}%'"
        ),
    );
    assert!(
        expected > SAMPLE,
        "a result larger than the sample: {expected}"
    );
    let listed = relevance_pages(app, word, 7).await;
    let ids: BTreeSet<&String> = listed.iter().collect();
    assert_eq!(ids.len(), listed.len(), "each listing once");
    assert_eq!(ids.len() as i64, expected, "every matching listing");
}

#[derive(diesel::QueryableByName)]
struct Public {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    search_title: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    search_tags: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    search_body: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    seq: i64,
}

/// The public listings matching every term (as a word prefix) in relevance order, from
/// the stored text: title 4, tags 2, description 1 for each field holding every term, ties
/// newest first.
fn relevance_truth(app: &TestApp, terms: &[&str]) -> Vec<String> {
    let mut conn = app.pool.get().expect("connection");
    let rows: Vec<Public> = diesel::RunQueryDsl::load(
        diesel::sql_query(
            "SELECT l.id AS id, l.search_title AS search_title, l.search_tags AS search_tags, \
             l.search_body AS search_body, d.seq AS seq FROM listings l \
             JOIN orgs o ON o.id = l.org_id JOIN search_docs d ON d.listing_id = l.id \
             WHERE l.status = 'published' AND o.status <> 'suspended' \
             AND (l.expires_at IS NULL OR l.expires_at > CURRENT_TIMESTAMP)",
        ),
        &mut *conn,
    )
    .expect("public listings");
    let holds = |text: &str| {
        terms
            .iter()
            .all(|t| text.split(' ').any(|w| w.starts_with(t)))
    };
    let mut ranked: Vec<(i32, i64, String)> = rows
        .into_iter()
        .filter(|r| {
            holds(&format!(
                "{} {} {}",
                r.search_title, r.search_tags, r.search_body
            ))
        })
        .map(|r| {
            let score = 4 * i32::from(holds(&r.search_title))
                + 2 * i32::from(holds(&r.search_tags))
                + i32::from(holds(&r.search_body));
            (score, r.seq, r.id)
        })
        .collect();
    ranked.sort_by_key(|r| std::cmp::Reverse((r.0, r.1)));
    ranked.into_iter().map(|(_, _, id)| id).collect()
}

/// Every page of `q` by relevance, `limit` at a time, its ids in order.
async fn relevance_pages(app: &TestApp, q: &str, limit: u32) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..200 {
        let query = match &cursor {
            Some(c) => format!("q={}&limit={limit}&cursor={c}", enc(q)),
            None => format!("q={}&limit={limit}", enc(q)),
        };
        let page = search(app, None, &query).await;
        for item in page.body["items"].as_array().expect("items") {
            ids.push(item["id"].as_str().expect("id").to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
    panic!("the pages of {q:?} do not end");
}

async fn relevance_order_is_exact_inside_and_beyond_the_counted_sample(backend: Backend) {
    // A sample of 20: the first page of a large result is mostly taken from the newest
    // matches the counts read, its lower tiers reach beyond them.
    let m = seeded(backend).await;
    let app = &m.app;
    for (q, terms) in [
        ("schulung", vec!["schulung"]),
        ("kunden", vec!["kunden"]),
        ("kundenservice schulung", vec!["kundenservice", "schulung"]),
        ("partner", vec!["partner"]),
    ] {
        let expected = relevance_truth(app, &terms);
        assert!(!expected.is_empty(), "{q}: something to find");
        for limit in [7, 50] {
            assert_eq!(
                relevance_pages(app, q, limit).await,
                expected,
                "{q}, {limit} per page: exactly the relevance order"
            );
        }
        // The first page alone, as most searches end.
        let first = search(app, None, &format!("q={}&limit=25", enc(q))).await;
        let shown: Vec<&str> = first.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["id"].as_str().expect("id"))
            .collect();
        let top: Vec<&str> = expected.iter().take(25).map(String::as_str).collect();
        assert_eq!(shown, top, "{q}: the first page");
    }
}

async fn short_terms_match_whole_words_only(backend: Backend) {
    let m = market(backend).await;
    let app = &m.app;
    publish_with(
        app,
        &m.owner,
        &m.moderator,
        &m.org,
        listing(
            "offer",
            "expertise",
            "Kaffeeröstung für Partner",
            "Röstkurse ab sofort, auch als Probemonat: Donaudampfschifffahrtsgesellschaftskapitänskaffeeröstung.",
            &["kaffee"],
        ),
    )
    .await;
    let found = |q: &'static str| async move {
        search(app, None, &format!("q={}", enc(q))).await.body["facets"]["total"]
            .as_i64()
            .expect("total")
    };
    assert_eq!(found("kaf").await, 1, "three letters match as a prefix");
    assert_eq!(found("ka").await, 0, "two letters do not");
    assert_eq!(found("ab").await, 1, "but they match a whole word");
    assert_eq!(found("k").await, 0, "one letter matches no prefix");
    assert_eq!(
        found("donaudampfschifffahrtsgesellschaftskapitänskaffeeröstung").await,
        1,
        "a word longer than the index keeps (40 characters) is found by its whole"
    );
    assert_eq!(
        found("donaudampfschifffahrtsgesellschaftskapit").await,
        1,
        "and by a prefix"
    );
    // Suspending and reinstating the organisation rewrites the document's attributes
    // (PostgreSQL rebuilds its lexemes from the stored words, long ones cut as well).
    for (action, to, expected) in [("suspend", "suspended", 0), ("unsuspend", "active", 1)] {
        moderate_org(app, &m.moderator, &m.org, action, to).await;
        assert_eq!(found("kaf").await, expected, "after {action}");
    }
}

backends!(
    relevance_order_is_exact_inside_and_beyond_the_counted_sample,
    whole_catalogue_counts_are_exact_and_follow_every_change,
    larger_results_are_exact_up_to_the_bounds_and_flagged_beyond,
    without_an_exact_count_totals_beyond_the_sample_are_estimated,
    relevance_pages_over_a_large_result_list_every_listing_once,
    short_terms_match_whole_words_only,
);
