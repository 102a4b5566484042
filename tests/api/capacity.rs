//! Holding up under load and outage: the bulkheads of the expensive endpoints (503 with
//! `Retry-After` beyond their bound, cheap requests unaffected), `Cache-Control: no-store`
//! on every response that carries a secret, a circuit breaker that ordinary errors never
//! trip, and (PostgreSQL) an outage that is answered at once and recovered from alone.

use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::json;

use crate::backends;
use crate::helpers::{postgres_url, Backend, Resp, TestApp};

backends!(
    searches_beyond_the_bulkhead_get_503_while_cheap_requests_pass,
    matches_beyond_the_bulkhead_get_503,
    responses_with_secrets_are_not_stored_by_caches,
    ordinary_errors_never_trip_the_breaker,
);

/// Sixteen copies of one request, sent at once.
macro_rules! burst {
    ($request:expr) => {{
        let (a, b, c, d, e, f, g, h) = tokio::join!(
            $request, $request, $request, $request, $request, $request, $request, $request
        );
        let (i, j, k, l, m, n, o, p) = tokio::join!(
            $request, $request, $request, $request, $request, $request, $request, $request
        );
        vec![a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p]
    }};
}

#[track_caller]
fn assert_bulkhead_refusal(resp: &Resp, what: &str) {
    resp.expect_problem(503);
    assert_eq!(resp.body["type"], "/problems/unavailable");
    assert_eq!(resp.header("retry-after").as_deref(), Some("1"));
    assert!(
        resp.str("detail").contains(what),
        "the detail names the class: {}",
        resp.text
    );
}

async fn searches_beyond_the_bulkhead_get_503_while_cheap_requests_pass(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.capacity.search_in_flight = 1;
        s.capacity.bulkhead_wait = Duration::from_millis(50);
    })
    .await;
    let owner = app.user("owner@sonne.example").await;
    let org_id = app.org(&owner, "Hotel Sonne").await;
    let org_path = format!("/api/v1/orgs/{org_id}");
    let search = || app.get("/api/v1/listings?q=kundenservice", None);
    // A search is running: it holds the only slot, as a slow one would.
    let running = app.bulkheads.search.enter().await.expect("the only slot");
    let searches = burst!(search());
    for resp in &searches {
        assert_bulkhead_refusal(resp, "searches");
    }
    // Cheap requests beside the full bulkhead still pass: health, a page without words,
    // a profile.
    let (health, page, org) = tokio::join!(
        app.get("/healthz", None),
        app.get("/api/v1/listings?limit=5", None),
        app.get(&org_path, None),
    );
    for resp in [health, page, org] {
        resp.expect(200);
    }
    // A search that waits is served once the slot frees within its wait.
    let (served, ()) = tokio::join!(search(), async {
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        drop(running);
    });
    served.expect(200);
    // The slots come back: a search alone runs.
    search().await.expect(200);
    // A search the result cache answers is cheap: it passes a full bulkhead, while one it
    // cannot answer is still refused.
    let running = app.bulkheads.search.enter().await.expect("the only slot");
    let cached = search().await;
    cached.expect(200);
    assert_eq!(cached.body["items"], served.body["items"]);
    assert_bulkhead_refusal(
        &app.get("/api/v1/listings?q=seminarraum", None).await,
        "searches",
    );
    drop(running);
}

async fn matches_beyond_the_bulkhead_get_503(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.capacity.matches_in_flight = 1;
        s.capacity.bulkhead_wait = Duration::ZERO;
    })
    .await;
    let owner = app.user("owner@sonne.example").await;
    let org_id = app.org(&owner, "Hotel Sonne").await;
    let path = format!("/api/v1/orgs/{org_id}/matches");
    let matches = || app.get(&path, Some(&owner.access));
    let running = app.bulkheads.matches.enter().await.expect("the only slot");
    for resp in burst!(matches()) {
        assert_bulkhead_refusal(&resp, "matches");
    }
    drop(running);
    // Freed, the slot serves again; concurrent requests are refused or served, never
    // anything else.
    matches().await.expect(200);
    for resp in burst!(matches()) {
        if resp.status != 503 {
            resp.expect(200);
        } else {
            assert_bulkhead_refusal(&resp, "matches");
        }
    }
}

async fn responses_with_secrets_are_not_stored_by_caches(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.user("owner@sonne.example").await;
    let org_id = app.org(&owner, "Hotel Sonne").await;
    let no_store = |resp: &Resp| resp.header("cache-control").as_deref() == Some("no-store");

    let login = app.login("owner@sonne.example").await;
    login.expect(200);
    assert!(no_store(&login), "login: {:?}", login.headers);
    let refreshed = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": login.str("refresh_token")}),
        )
        .await;
    refreshed.expect(200);
    assert!(no_store(&refreshed), "refresh");

    let keys = format!("/api/v1/orgs/{org_id}/api-keys");
    let body = json!({"name": "integration", "scopes": ["read"]});
    let headers = [("Idempotency-Key", "key-1")];
    let key = app
        .call(
            "POST",
            &keys,
            Some(&owner.access),
            Some(body.clone()),
            &headers,
        )
        .await;
    key.expect(201);
    assert!(key.str("key").len() > 20);
    assert!(no_store(&key), "a new API key");
    let replayed = app
        .call("POST", &keys, Some(&owner.access), Some(body), &headers)
        .await;
    replayed.expect(201);
    assert_eq!(
        replayed.header("idempotent-replayed").as_deref(),
        Some("true")
    );
    assert!(no_store(&replayed), "its replay");

    let invitation = app
        .post(
            &format!("/api/v1/orgs/{org_id}/invitations"),
            Some(&owner.access),
            json!({"email": "new@sonne.example", "role": "member"}),
        )
        .await;
    invitation.expect(201);
    assert!(!invitation.str("token").is_empty());
    assert!(no_store(&invitation), "an invitation's token");

    // Responses without a secret stay cacheable as before.
    let org = app.get(&format!("/api/v1/orgs/{org_id}"), None).await;
    org.expect(200);
    assert!(!no_store(&org));
}

async fn ordinary_errors_never_trip_the_breaker(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.capacity.breaker_threshold = 1).await;
    let owner = app.user("owner@sonne.example").await;
    let missing = format!("/api/v1/listings/{}", uuid::Uuid::new_v4());
    for _ in 0..5 {
        app.get(&missing, None).await.expect_problem(404);
        // A taken e-mail address: the database's own unique violation.
        app.register("owner@sonne.example")
            .await
            .expect_problem(409);
    }
    app.get("/readyz", None).await.expect(200);
    app.org(&owner, "Hotel Sonne").await;
}

/// The name of the test database in `url`.
fn database_name(url: &str) -> String {
    let path = url.split('?').next().unwrap_or(url);
    path.rsplit('/').next().unwrap_or_default().to_owned()
}

/// Cuts the test database off (existing connections end, new ones are refused) or lets it
/// back, as an outage of the database server would, without touching other tests' ones.
fn set_reachable(app: &TestApp, reachable: bool) {
    let name = database_name(&app.database_url);
    let mut admin = PgConnection::establish(&postgres_url()).expect("admin connection");
    diesel::sql_query(format!(
        "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS {reachable}"
    ))
    .execute(&mut admin)
    .expect("alter database");
    if !reachable {
        diesel::sql_query(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        ))
        .execute(&mut admin)
        .expect("terminate its connections");
    }
}

/// PostgreSQL only: SQLite is a file in the process and has no outage of this kind.
#[actix_web::test]
#[ignore = "needs TEST_DATABASE_URL"]
async fn an_outage_is_answered_at_once_and_recovered_from_alone_postgres() {
    let app = TestApp::spawn_with(Backend::Postgres, |s| {
        s.capacity.breaker_open = Duration::from_millis(300);
        s.db_timeout = Duration::from_secs(5);
    })
    .await;
    let owner = app.user("owner@sonne.example").await;
    app.get("/readyz", None).await.expect(200);

    set_reachable(&app, false);
    // Every answer during the outage is a prompt 503: never the pool's 5-second wait.
    let started = Instant::now();
    let mut refused = 0;
    while started.elapsed() < Duration::from_secs(2) {
        let asked = Instant::now();
        let (ready, created) = tokio::join!(
            app.get("/readyz", None),
            app.post(
                "/api/v1/orgs",
                Some(&owner.access),
                json!({"name": format!("Outage {refused}"), "industry": "hospitality"}),
            ),
        );
        assert!(
            asked.elapsed() < Duration::from_millis(2500),
            "answered in {:?}",
            asked.elapsed()
        );
        ready.expect_problem(503);
        assert_eq!(ready.header("retry-after").as_deref(), Some("1"));
        // The token check needs the database too, so the write fails before or inside.
        assert_eq!(created.status, 503, "{}", created.text);
        refused += 1;
    }
    assert!(refused >= 3, "{refused} rounds in 2 s");

    set_reachable(&app, true);
    let back = Instant::now();
    loop {
        let ready = app.get("/readyz", None).await;
        if ready.status == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "recovers without a restart: {}",
            ready.text
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    app.org(&owner, "Hotel Sonne").await;
    // No write refused during the outage was stored.
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM orgs WHERE name LIKE 'Outage %'"),
        0
    );
}
