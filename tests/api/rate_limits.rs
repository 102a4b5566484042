//! Per-caller rate limits on writes, reports, searches and matches: 429 with `Retry-After`
//! once a quota is used up, `RateLimit-Policy` and `RateLimit` on every response of a
//! limited class, one caller's exhaustion affecting nobody else and no other class, limits
//! shared by instances on one database, and nothing written by a refused request.

use serde_json::{json, Value};

use crate::backends;
use crate::helpers::{Backend, Resp, TestApp, TestUser, PASSWORD};

const ORGS: &str = "/api/v1/orgs";
const REPORTS: &str = "/api/v1/reports";
const SEARCH: &str = "/api/v1/listings?q=kaffee";

fn org_body(name: &str) -> Value {
    json!({"name": name, "industry": "hospitality", "region": "Bayern"})
}

fn offer(org: &str, title: &str) -> Value {
    json!({
        "org_id": org,
        "kind": "offer",
        "category": "expertise",
        "title": title,
        "description": "Wir rösten Kaffee für Ihr Haus und schulen Ihr Team.",
        "tags": ["kaffee"],
    })
}

fn count(app: &TestApp, table: &str) -> i64 {
    app.count(&format!("SELECT COUNT(*) AS n FROM {table}"))
}

/// `(remaining, reset)` of `policy` in the `RateLimit` field.
#[track_caller]
fn standing(resp: &Resp, policy: &str) -> (u32, u32) {
    let field = resp
        .header("ratelimit")
        .unwrap_or_else(|| panic!("no RateLimit field; body: {}", resp.text));
    let item = field
        .split(", ")
        .find(|item| item.starts_with(&format!("\"{policy}\";")))
        .unwrap_or_else(|| panic!("no {policy} in RateLimit: {field}"));
    let param = |name: &str| -> u32 {
        item.split(';')
            .find_map(|p| p.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {item}"))
    };
    (param("r"), param("t"))
}

#[track_caller]
fn assert_policy(resp: &Resp, expected: &str) {
    assert_eq!(
        resp.header("ratelimit-policy").as_deref(),
        Some(expected),
        "RateLimit-Policy; body: {}",
        resp.text
    );
}

#[track_caller]
fn assert_unlimited(resp: &Resp) {
    assert!(
        resp.header("ratelimit").is_none() && resp.header("ratelimit-policy").is_none(),
        "a request of no limited class carries no RateLimit fields"
    );
}

/// Asserts a 429 problem of `policy` with `Retry-After` equal to the field's reset.
#[track_caller]
fn assert_refused(resp: &Resp, policy: &str) {
    resp.expect_problem(429);
    assert_eq!(resp.body["type"], "/problems/rate-limited");
    let (remaining, reset) = standing(resp, policy);
    assert_eq!(remaining, 0);
    let retry: u32 = resp
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!(retry >= 1, "Retry-After {retry}");
    assert_eq!(retry, reset, "Retry-After is the window's reset");
    assert!(resp.body["detail"].as_str().unwrap().contains(policy));
}

/// Registers and signs in from `source`, so fixtures can come from addresses of their own.
async fn user_from(app: &TestApp, source: &str, email: &str) -> TestUser {
    let registered = app
        .post_from(
            source,
            "/api/v1/auth/register",
            json!({"email": email, "password": PASSWORD, "display_name": "Test"}),
        )
        .await;
    registered.expect(201);
    let tokens = app
        .post_from(
            source,
            "/api/v1/auth/login",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    tokens.expect(200);
    TestUser {
        id: registered.str("id"),
        email: email.into(),
        access: tokens.str("access_token"),
        refresh: tokens.str("refresh_token"),
    }
}

backends!(
    writes_count_down_then_refuse_without_writing,
    anonymous_writes_count_per_address_and_bad_credentials_do_not_escape,
    api_keys_and_users_have_quotas_of_their_own,
    a_report_flood_is_stopped_and_leaves_other_writes_alone,
    searches_are_limited_and_other_reads_are_not,
    matches_are_limited_per_principal,
    limits_hold_across_two_instances,
    a_new_window_admits_again,
    generous_quotas_are_leased_in_chunks,
);

async fn writes_count_down_then_refuse_without_writing(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.rate_limits.writes = mutua::settings::Quota::per(5, 60);
    })
    .await;
    let anna = user_from(&app, "127.0.0.11", "anna@sonne.example").await;
    let mut remaining = Vec::new();
    let mut first_org = String::new();
    for i in 0..5 {
        let created = app
            .post(ORGS, Some(&anna.access), org_body(&format!("Sonne {i}")))
            .await;
        created.expect(201);
        assert_policy(&created, "\"writes\";q=5;w=60");
        let (r, t) = standing(&created, "writes");
        assert!((1..=60).contains(&t), "reset {t}");
        remaining.push(r);
        if i == 0 {
            first_org = created.str("id");
        }
    }
    assert_eq!(remaining, [4, 3, 2, 1, 0]);
    let refused = app
        .post(ORGS, Some(&anna.access), org_body("Sonne 5"))
        .await;
    assert_refused(&refused, "writes");
    assert_policy(&refused, "\"writes\";q=5;w=60");
    assert!(refused.body["detail"].as_str().unwrap().contains("user"));
    // Other writes are refused too (one quota for every write), and none is stored.
    let patch = app
        .patch(
            &format!("/api/v1/orgs/{first_org}"),
            Some(&anna.access),
            json!({"description": "Neu"}),
        )
        .await;
    assert_refused(&patch, "writes");
    assert_eq!(count(&app, "orgs"), 5);
    let org = app
        .get(&format!("/api/v1/orgs/{first_org}"), Some(&anna.access))
        .await;
    org.expect(200);
    assert_ne!(org.body["description"], "Neu");
    // Reads are not limited and carry no fields.
    assert_unlimited(&org);
    app.get("/api/v1/me", Some(&anna.access)).await.expect(200);
    // Another user, from the same address, writes on.
    let ben = user_from(&app, "127.0.0.11", "ben@mond.example").await;
    let created = app.post(ORGS, Some(&ben.access), org_body("Mond")).await;
    created.expect(201);
    assert_eq!(standing(&created, "writes").0, 4);
    assert_eq!(count(&app, "orgs"), 6);
}

async fn anonymous_writes_count_per_address_and_bad_credentials_do_not_escape(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.rate_limits.writes = mutua::settings::Quota::per(2, 60);
    })
    .await;
    let register = |source: &'static str, email: &'static str| {
        let app = &app;
        async move {
            app.post_from(
                source,
                "/api/v1/auth/register",
                json!({"email": email, "password": PASSWORD, "display_name": "Gast"}),
            )
            .await
        }
    };
    let first = register("127.0.0.21", "a@gast.example").await;
    first.expect(201);
    assert_eq!(standing(&first, "writes").0, 1);
    register("127.0.0.21", "b@gast.example").await.expect(201);
    let refused = register("127.0.0.21", "c@gast.example").await;
    assert_refused(&refused, "writes");
    assert!(refused.body["detail"]
        .as_str()
        .unwrap()
        .contains("client address"));
    assert_eq!(count(&app, "users"), 2);
    // Another address is not affected.
    register("127.0.0.22", "d@gast.example").await.expect(201);
    assert_eq!(count(&app, "users"), 3);

    // Credentials that do not authenticate count against the address: a forged token, a
    // made-up API key, plain garbage — each 401, then 429 — and make no counter of their own.
    let forged = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
    for (i, token) in [forged, "mutua_made_up_key_0000000000", "garbage"]
        .iter()
        .enumerate()
    {
        let resp = app
            .call_from(
                "127.0.0.23",
                "POST",
                ORGS,
                Some(token),
                Some(org_body("Falsch")),
            )
            .await;
        if i < 2 {
            resp.expect_problem(401);
            assert_policy(&resp, "\"writes\";q=2;w=60");
        } else {
            assert_refused(&resp, "writes");
        }
    }
    assert_eq!(count(&app, "orgs"), 0);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM rate_limit_buckets WHERE bucket = 'writes'"),
        3,
        "one counter per address (.21, .22, .23), none per token"
    );
}

async fn api_keys_and_users_have_quotas_of_their_own(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.rate_limits.writes = mutua::settings::Quota::per(4, 60);
    })
    .await;
    let anna = user_from(&app, "127.0.0.31", "anna@sonne.example").await;
    let org = app.org(&anna, "Sonne").await;
    let key = app.api_key(&org, &anna, &["read", "write"]).await;
    for i in 0..4 {
        let created = app
            .post(
                "/api/v1/listings",
                Some(&key),
                offer(&org, &format!("Röstkurs {i}")),
            )
            .await;
        created.expect(201);
        assert_eq!(standing(&created, "writes").0, 3 - i);
    }
    let refused = app
        .post("/api/v1/listings", Some(&key), offer(&org, "Röstkurs 4"))
        .await;
    assert_refused(&refused, "writes");
    assert!(refused.body["detail"].as_str().unwrap().contains("API key"));
    assert_eq!(count(&app, "listings"), 4);
    // The key's owner has used two of her own four.
    let own = app
        .post(
            "/api/v1/listings",
            Some(&anna.access),
            offer(&org, "Röstkurs 5"),
        )
        .await;
    own.expect(201);
    assert_eq!(standing(&own, "writes").0, 1);
    assert_eq!(count(&app, "listings"), 5);
}

async fn a_report_flood_is_stopped_and_leaves_other_writes_alone(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.rate_limits.reports = mutua::settings::Quota::per(3, 3600);
    })
    .await;
    let ben = user_from(&app, "127.0.0.41", "ben@mond.example").await;
    let target = app.org(&ben, "Mond").await;
    let mallory = user_from(&app, "127.0.0.42", "mallory@flut.example").await;
    let report = |details: String| {
        let (app, mallory, target) = (&app, &mallory, &target);
        async move {
            app.post(
                REPORTS,
                Some(&mallory.access),
                json!({"target_type": "org", "target_id": target, "reason": "spam", "details": details}),
            )
            .await
        }
    };
    let mut statuses = Vec::new();
    for i in 0..20 {
        let resp = report(format!("Meldung {i}")).await;
        statuses.push(resp.status);
        if resp.status == 429 {
            assert_refused(&resp, "reports");
            assert_policy(&resp, "\"reports\";q=3;w=3600");
        } else {
            assert_policy(&resp, "\"reports\";q=3;w=3600, \"writes\";q=300;w=60");
            assert!(standing(&resp, "reports").1 > 60, "an hour's window");
        }
    }
    assert_eq!(&statuses[..3], [201, 200, 200]);
    assert!(statuses[3..].iter().all(|&s| s == 429), "{statuses:?}");
    assert_eq!(count(&app, "reports"), 1);
    let on_ben =
        json!({"target_type": "user", "target_id": ben.id, "reason": "spam", "details": ""});
    assert_refused(
        &app.post(REPORTS, Some(&mallory.access), on_ben).await,
        "reports",
    );
    assert_eq!(count(&app, "reports"), 1);
    // Refused reports did not use up the writes: only the three admitted ones count.
    let created = app
        .post(ORGS, Some(&mallory.access), org_body("Flut"))
        .await;
    created.expect(201);
    assert_eq!(standing(&created, "writes").0, 300 - 4);
    // Another user reports as usual.
    let on_mallory =
        json!({"target_type": "user", "target_id": mallory.id, "reason": "spam", "details": ""});
    let reported = app.post(REPORTS, Some(&ben.access), on_mallory).await;
    reported.expect(201);
    assert_eq!(standing(&reported, "reports").0, 2);
    assert_eq!(count(&app, "reports"), 2);
}

async fn searches_are_limited_and_other_reads_are_not(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.rate_limits.searches = mutua::settings::Quota::per(3, 60);
    })
    .await;
    let anonymous = "127.0.0.51";
    for expected in [2, 1, 0] {
        let found = app.call_from(anonymous, "GET", SEARCH, None, None).await;
        found.expect(200);
        assert_policy(&found, "\"search\";q=3;w=60");
        assert_eq!(standing(&found, "search").0, expected);
    }
    let refused = app
        .call_from(
            anonymous,
            "GET",
            "/api/v1/listings?q=tee&kind=offer",
            None,
            None,
        )
        .await;
    assert_refused(&refused, "search");
    // The same address still browses without `q`, reads by id and asks for matches.
    let page = app
        .call_from(anonymous, "GET", "/api/v1/listings?kind=offer", None, None)
        .await;
    page.expect(200);
    assert_unlimited(&page);
    let blank = app
        .call_from(anonymous, "GET", "/api/v1/listings?q=%20", None, None)
        .await;
    blank.expect(200);
    assert_unlimited(&blank);
    let matches = app
        .call_from(
            anonymous,
            "GET",
            "/api/v1/listings/01900000-0000-7000-8000-000000000000/matches",
            None,
            None,
        )
        .await;
    matches.expect_problem(404);
    assert_policy(&matches, "\"matches\";q=120;w=60");
    app.call_from(anonymous, "GET", "/api/v1/modlog", None, None)
        .await
        .expect(200);
    // Another address, and a signed-in user on the exhausted address, search on.
    let elsewhere = app.call_from("127.0.0.52", "GET", SEARCH, None, None).await;
    elsewhere.expect(200);
    assert_eq!(standing(&elsewhere, "search").0, 2);
    let anna = user_from(&app, anonymous, "anna@sonne.example").await;
    let signed_in = app
        .call_from(anonymous, "GET", SEARCH, Some(&anna.access), None)
        .await;
    signed_in.expect(200);
    assert_eq!(standing(&signed_in, "search").0, 2);
}

async fn matches_are_limited_per_principal(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.rate_limits.matches = mutua::settings::Quota::per(2, 60);
    })
    .await;
    let anna = user_from(&app, "127.0.0.61", "anna@sonne.example").await;
    let org = app.org(&anna, "Sonne").await;
    let key = app.api_key(&org, &anna, &["read"]).await;
    let matches = format!("/api/v1/orgs/{org}/matches");
    for expected in [1, 0] {
        let resp = app.get(&matches, Some(&anna.access)).await;
        resp.expect(200);
        assert_policy(&resp, "\"matches\";q=2;w=60");
        assert_eq!(standing(&resp, "matches").0, expected);
    }
    assert_refused(&app.get(&matches, Some(&anna.access)).await, "matches");
    // The organisation's API key has a quota of its own ...
    let by_key = app.get(&matches, Some(&key)).await;
    by_key.expect(200);
    assert_eq!(standing(&by_key, "matches").0, 1);
    // ... and searches are another class.
    let search = app.get(SEARCH, Some(&anna.access)).await;
    search.expect(200);
    assert_policy(&search, "\"search\";q=600;w=60");
    // Another user asks for their matches.
    let ben = user_from(&app, "127.0.0.62", "ben@mond.example").await;
    let ben_org = app.org(&ben, "Mond").await;
    app.get(
        &format!("/api/v1/orgs/{ben_org}/matches"),
        Some(&ben.access),
    )
    .await
    .expect(200);
}

async fn limits_hold_across_two_instances(backend: Backend) {
    let tight = |s: &mut mutua::settings::Settings| {
        s.rate_limits.writes = mutua::settings::Quota::per(4, 60);
        s.rate_limits.searches = mutua::settings::Quota::per(3, 60);
    };
    let a = TestApp::spawn_with(backend, tight).await;
    let b = a.spawn_sibling_with(tight).await;
    let anna = user_from(&a, "127.0.0.71", "anna@sonne.example").await;
    let mut remaining = Vec::new();
    for (i, app) in [&a, &b, &a, &b].into_iter().enumerate() {
        let created = app
            .post(ORGS, Some(&anna.access), org_body(&format!("Sonne {i}")))
            .await;
        created.expect(201);
        remaining.push(standing(&created, "writes").0);
    }
    assert_eq!(remaining, [3, 2, 1, 0]);
    for app in [&a, &b] {
        assert_refused(
            &app.post(ORGS, Some(&anna.access), org_body("Sonne 4"))
                .await,
            "writes",
        );
    }
    assert_eq!(count(&a, "orgs"), 4);
    // Anonymous searches from one address, spread over both instances.
    let statuses: Vec<u16> = {
        let mut out = Vec::new();
        for app in [&b, &a, &b, &a, &b] {
            out.push(
                app.call_from("127.0.0.72", "GET", SEARCH, None, None)
                    .await
                    .status,
            );
        }
        out
    };
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
}

async fn a_new_window_admits_again(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.rate_limits.searches = mutua::settings::Quota::per(1, 2);
    })
    .await;
    app.get(SEARCH, None).await.expect(200);
    let refused = app.get(SEARCH, None).await;
    assert_refused(&refused, "search");
    let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!(wait <= 2);
    actix_web::rt::time::sleep(std::time::Duration::from_millis(wait * 1000 + 100)).await;
    let again = app.get(SEARCH, None).await;
    again.expect(200);
    assert_eq!(standing(&again, "search").0, 0);
}

async fn generous_quotas_are_leased_in_chunks(backend: Backend) {
    // 100 per minute: leases of 10, so three searches cost one counter write and still
    // count down exactly on one instance.
    let app = TestApp::spawn_with(backend, |s| {
        s.rate_limits.searches = mutua::settings::Quota::per(100, 60);
    })
    .await;
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let found = app.get(SEARCH, None).await;
        found.expect(200);
        remaining.push(standing(&found, "search").0);
    }
    assert_eq!(remaining, [99, 98, 97]);
    assert_eq!(
        app.count(
            "SELECT CAST(hits AS BIGINT) AS n FROM rate_limit_buckets WHERE bucket = 'search'"
        ),
        10,
        "one lease of ten hits"
    );
}
