//! `Idempotency-Key` under failure and concurrency: a request that fails after its writes
//! leaves neither the resource nor a stuck key, a claim left pending by a dead process is
//! taken over after its lease, and racing requests with one key create one resource.

use diesel::sql_types::BigInt;
use diesel::{QueryableByName, RunQueryDsl};
use serde_json::{json, Value};

use crate::backends;
use crate::helpers::{Backend, Resp, TestApp, TestUser};

const ORGS: &str = "/api/v1/orgs";
const LISTINGS: &str = "/api/v1/listings";

async fn post_with_key(app: &TestApp, user: &TestUser, path: &str, key: &str, body: Value) -> Resp {
    app.call(
        "POST",
        path,
        Some(&user.access),
        Some(body),
        &[("Idempotency-Key", key)],
    )
    .await
}

fn sonne() -> Value {
    json!({"name": "Gasthof Sonne", "industry": "hospitality", "region": "Oberbayern"})
}

fn service_offer(org: &str, title: &str) -> Value {
    json!({
        "org_id": org,
        "kind": "offer",
        "category": "expertise",
        "title": title,
        "description": "Wir schulen Ihr Team im Umgang mit Gästen.",
        "tags": ["kundenservice"],
    })
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The number of rows a `SELECT COUNT(*) AS n …` query counts.
fn count(app: &TestApp, query: &str) -> i64 {
    let mut conn = app.pool.get().expect("connection");
    diesel::sql_query(query)
        .get_result::<Count>(&mut *conn)
        .expect("count query runs")
        .n
}

/// A database time `seconds` ago, as the application stores `created_at`.
fn ago(seconds: i64) -> String {
    (chrono::Utc::now().naive_utc() - chrono::Duration::seconds(seconds))
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string()
}

/// Makes every completion of an idempotency record fail, as a database failing between the
/// resource's writes and the commit would.
fn break_completion(app: &TestApp) {
    match app.backend {
        Backend::Sqlite => {
            app.sql(
                "CREATE TRIGGER injected_fault BEFORE UPDATE ON idempotency_records \
                 BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
            );
        }
        Backend::Postgres => {
            app.sql(
                "CREATE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$",
            );
            app.sql(
                "CREATE TRIGGER injected_fault BEFORE UPDATE ON idempotency_records \
                 FOR EACH ROW EXECUTE FUNCTION injected_fault()",
            );
        }
    }
}

fn mend_completion(app: &TestApp) {
    match app.backend {
        Backend::Sqlite => app.sql("DROP TRIGGER injected_fault"),
        Backend::Postgres => app.sql("DROP TRIGGER injected_fault ON idempotency_records"),
    };
}

async fn failure_after_the_writes_keeps_neither_resource_nor_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@gasthof-sonne.example").await;

    break_completion(&app);
    let failed = post_with_key(&app, &anna, ORGS, "sonne-1", sonne()).await;
    failed.expect_problem(500);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM orgs"), 0);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM memberships"), 0);
    assert_eq!(
        count(&app, "SELECT COUNT(*) AS n FROM idempotency_records"),
        0
    );

    mend_completion(&app);
    let retried = post_with_key(&app, &anna, ORGS, "sonne-1", sonne()).await;
    retried.expect(201);
    assert_eq!(retried.header("idempotent-replayed"), None);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM orgs"), 1);
    let me = app.get("/api/v1/me", Some(&anna.access)).await;
    assert_eq!(
        me.body["memberships"],
        json!([{"org_id": retried.str("id"), "org_name": "Gasthof Sonne", "role": "owner"}])
    );

    let replayed = post_with_key(&app, &anna, ORGS, "sonne-1", sonne()).await;
    replayed.expect(201);
    assert_eq!(
        replayed.header("idempotent-replayed").as_deref(),
        Some("true")
    );
    assert_eq!(replayed.str("id"), retried.str("id"));
}

async fn failed_listing_create_stores_no_listing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@gasthof-sonne.example").await;
    let org = app.org(&anna, "Gasthof Sonne").await;
    let body = service_offer(&org, "Gästeservice-Schulung");

    break_completion(&app);
    post_with_key(&app, &anna, LISTINGS, "offer-1", body.clone())
        .await
        .expect_problem(500);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM listings"), 0);

    mend_completion(&app);
    let retried = post_with_key(&app, &anna, LISTINGS, "offer-1", body).await;
    retried.expect(201);
    assert_eq!(retried.header("etag").as_deref(), Some("\"1\""));
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM listings"), 1);
}

async fn claim_left_pending_by_a_dead_process_is_taken_over_after_its_lease(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@gasthof-sonne.example").await;
    // An older version claimed the key, then died before it stored anything.
    app.sql(&format!(
        "INSERT INTO idempotency_records (principal, idempotency_key, request_hash, created_at) \
         VALUES ('user:{}', 'crashed-1', 'hash-of-the-first-attempt', '{}')",
        anna.id,
        ago(120)
    ));

    let retried = post_with_key(&app, &anna, ORGS, "crashed-1", sonne()).await;
    retried.expect(201);
    assert_eq!(retried.header("idempotent-replayed"), None);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM orgs"), 1);
    let replayed = post_with_key(&app, &anna, ORGS, "crashed-1", sonne()).await;
    replayed.expect(201);
    assert_eq!(
        replayed.header("idempotent-replayed").as_deref(),
        Some("true")
    );
    assert_eq!(replayed.str("id"), retried.str("id"));
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM orgs"), 1);
}

async fn claim_pending_within_its_lease_is_409(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@gasthof-sonne.example").await;
    post_with_key(&app, &anna, ORGS, "running-1", sonne())
        .await
        .expect(201);
    // Turn the record back into a claim made a moment ago (with this body's hash), as an
    // older version leaves it while its first request is still running.
    app.sql(&format!(
        "UPDATE idempotency_records SET status_code = NULL, response_body = NULL, \
         location = NULL, etag = NULL, created_at = '{}'",
        ago(1)
    ));

    let second = post_with_key(&app, &anna, ORGS, "running-1", sonne()).await;
    second.expect_problem(409);
    assert_eq!(second.header("idempotent-replayed"), None);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM orgs"), 1);
}

async fn racing_requests_with_one_key_create_one_resource(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@gasthof-sonne.example").await;

    let answers = futures_util::future::join_all(
        (0..6).map(|_| post_with_key(&app, &anna, ORGS, "race-1", sonne())),
    )
    .await;
    for answer in &answers {
        answer.expect(201);
    }
    let first = answers
        .iter()
        .find(|a| a.header("idempotent-replayed").is_none())
        .expect("one answer is the original");
    let replayed = answers
        .iter()
        .filter(|a| a.header("idempotent-replayed").as_deref() == Some("true"))
        .count();
    assert_eq!(replayed, answers.len() - 1);
    for answer in &answers {
        assert_eq!(answer.str("id"), first.str("id"));
        assert_eq!(answer.body, first.body);
        assert_eq!(answer.header("location"), first.header("location"));
        assert_eq!(answer.header("etag").as_deref(), Some("\"1\""));
    }
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM orgs"), 1);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM memberships"), 1);
}

async fn racing_listing_creates_with_one_key_create_one_listing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@gasthof-sonne.example").await;
    let org = app.org(&anna, "Gasthof Sonne").await;
    let body = service_offer(&org, "Gästeservice-Schulung");

    let answers = futures_util::future::join_all(
        (0..4).map(|_| post_with_key(&app, &anna, LISTINGS, "race-2", body.clone())),
    )
    .await;
    for answer in &answers {
        answer.expect(201);
        assert_eq!(answer.str("id"), answers[0].str("id"));
    }
    let originals = answers
        .iter()
        .filter(|a| a.header("idempotent-replayed").is_none())
        .count();
    assert_eq!(originals, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM listings"), 1);
}

async fn same_key_with_another_body_is_422_and_stores_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@gasthof-sonne.example").await;
    let org = app.org(&anna, "Gasthof Sonne").await;

    let first = post_with_key(
        &app,
        &anna,
        LISTINGS,
        "offer-7",
        service_offer(&org, "Gästeservice-Schulung"),
    )
    .await;
    first.expect(201);
    let other = post_with_key(
        &app,
        &anna,
        LISTINGS,
        "offer-7",
        service_offer(&org, "Buchhaltung im Probemonat"),
    )
    .await;
    other.expect_problem(422);
    assert_eq!(other.header("idempotent-replayed"), None);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM listings"), 1);

    // The first response is still what the key replays.
    let again = post_with_key(
        &app,
        &anna,
        LISTINGS,
        "offer-7",
        service_offer(&org, "Gästeservice-Schulung"),
    )
    .await;
    again.expect(201);
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(again.body, first.body);
}

async fn handler_refusal_keeps_the_key_free(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@gasthof-sonne.example").await;
    let unknown = uuid::Uuid::new_v4().to_string();

    post_with_key(
        &app,
        &anna,
        LISTINGS,
        "offer-8",
        service_offer(&unknown, "Gästeservice-Schulung"),
    )
    .await
    .expect_problem(404);
    assert_eq!(
        count(&app, "SELECT COUNT(*) AS n FROM idempotency_records"),
        0
    );
}

backends!(
    failure_after_the_writes_keeps_neither_resource_nor_key,
    failed_listing_create_stores_no_listing,
    claim_left_pending_by_a_dead_process_is_taken_over_after_its_lease,
    claim_pending_within_its_lease_is_409,
    racing_requests_with_one_key_create_one_resource,
    racing_listing_creates_with_one_key_create_one_listing,
    same_key_with_another_body_is_422_and_stores_nothing,
    handler_refusal_keeps_the_key_free,
);
