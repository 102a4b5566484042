//! Input hygiene at the edge: control characters in JSON text (422 naming the field) and in
//! query parameters (400), and bodies that are not JSON objects (422). Each refusal is a
//! problem document in the API's words, on both backends (PostgreSQL cannot store U+0000
//! and used to answer 500), and nothing is stored.

use diesel::RunQueryDsl;
use serde_json::{json, Value};

use crate::backends;
use crate::helpers::{error_fields, Backend, Resp, TestApp, PASSWORD};

const LOGIN: &str = "/api/v1/auth/login";
const REGISTER: &str = "/api/v1/auth/register";
const ORGS: &str = "/api/v1/orgs";
const LISTINGS: &str = "/api/v1/listings";

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Rows in a table, read directly from the test database.
fn rows(app: &TestApp, table: &str) -> i64 {
    let mut conn = app.pool.get().expect("connection");
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
        .get_result::<Count>(&mut *conn)
        .expect("count")
        .n
}

/// Asserts a 422 validation problem naming exactly these fields, each message about a
/// control character, in the API's words.
#[track_caller]
fn expect_control_chars(resp: &Resp, fields: &[&str]) {
    resp.expect_problem(422);
    assert_eq!(
        resp.body["type"],
        json!("/problems/validation"),
        "{}",
        resp.text
    );
    assert_eq!(error_fields(resp), fields, "{}", resp.text);
    for error in resp.body["errors"].as_array().unwrap() {
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("control character"), "{message}");
    }
}

/// Asserts a 400 problem naming the query parameter.
#[track_caller]
fn expect_bad_query(resp: &Resp, parameter: &str) {
    resp.expect_problem(400);
    let detail = resp.str("detail");
    assert!(
        detail.contains(&format!("`{parameter}`")) && detail.contains("control character"),
        "{detail}"
    );
}

async fn login_with_control_characters_is_refused_before_any_lookup(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("anna@ex.example").await.expect(201);
    let buckets = rows(&app, "rate_limit_buckets");
    let sessions = rows(&app, "sessions");

    let resp = app
        .post(
            LOGIN,
            None,
            json!({"email": "a\u{0}b@ex.example", "password": PASSWORD}),
        )
        .await;
    expect_control_chars(&resp, &["email"]);
    assert!(resp.body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("U+0000"));
    let resp = app
        .post(
            LOGIN,
            None,
            json!({"email": "anna@ex.example", "password": format!("{PASSWORD}\u{0}")}),
        )
        .await;
    expect_control_chars(&resp, &["password"]);

    // Nothing was counted or stored, and the real user still signs in.
    assert_eq!(rows(&app, "rate_limit_buckets"), buckets);
    assert_eq!(rows(&app, "sessions"), sessions);
    app.login("anna@ex.example").await.expect(200);
}

async fn registration_with_a_control_character_creates_no_account(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let resp = app
        .post(
            REGISTER,
            None,
            json!({"email": "bert@ex.example", "password": PASSWORD, "display_name": "Bert\u{0}"}),
        )
        .await;
    expect_control_chars(&resp, &["display_name"]);
    let resp = app
        .post(
            REGISTER,
            None,
            json!({"email": "bert@ex.example", "password": PASSWORD, "display_name": "Bert\u{1b}[31m"}),
        )
        .await;
    expect_control_chars(&resp, &["display_name"]);
    assert_eq!(rows(&app, "users"), 0);
    app.login("bert@ex.example").await.expect_problem(401);
}

async fn org_text_with_control_characters_creates_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.user("carla@ex.example").await;
    let resp = app
        .post(
            ORGS,
            Some(&owner.access),
            json!({
                "name": "Gasthof\u{0}Sonne",
                "industry": "hospitality",
                "description": "Zimmer\u{7}",
                "region": "Bayern\u{7f}",
            }),
        )
        .await;
    expect_control_chars(&resp, &["name", "description", "region"]);
    assert_eq!(rows(&app, "orgs"), 0);

    // Updates go through the same extractor.
    let org = app.org(&owner, "Gasthof Sonne").await;
    let resp = app
        .patch(
            &format!("{ORGS}/{org}"),
            Some(&owner.access),
            json!({"description": "a\u{0}b"}),
        )
        .await;
    expect_control_chars(&resp, &["description"]);
    let profile = app.get(&format!("{ORGS}/{org}"), None).await;
    profile.expect(200);
    assert_ne!(profile.body["description"], json!("a\u{0}b"));
}

async fn listing_text_keeps_newlines_and_tabs_but_refuses_other_controls(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.user("dora@ex.example").await;
    let org = app.org(&owner, "Gasthof Sonne").await;
    let listing = |description: &str, tags: Value| {
        json!({
            "org_id": org,
            "kind": "offer",
            "category": "expertise",
            "title": "Schulung Kundenservice",
            "description": description,
            "tags": tags,
            "region": "Bayern",
        })
    };
    let resp = app
        .post(
            LISTINGS,
            Some(&owner.access),
            listing(
                "Zwei Tage\u{0} vor Ort.",
                json!(["schulung", "kunden\u{1b}service"]),
            ),
        )
        .await;
    expect_control_chars(&resp, &["description", "tags[1]"]);
    assert_eq!(rows(&app, "listings"), 0);
    assert_eq!(rows(&app, "listing_tags"), 0);

    let text = "Zwei Tage vor Ort:\r\n\t- Beschwerden\n\t- Telefon";
    let resp = app
        .post(
            LISTINGS,
            Some(&owner.access),
            listing(text, json!(["schulung"])),
        )
        .await;
    resp.expect(201);
    assert_eq!(resp.body["description"], json!(text));
}

async fn key_names_and_report_details_refuse_control_characters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.user("emil@ex.example").await;
    let org = app.org(&owner, "Gasthof Sonne").await;
    let resp = app
        .post(
            &format!("{ORGS}/{org}/api-keys"),
            Some(&owner.access),
            json!({"name": "ci\u{0}", "scopes": ["listings:read"]}),
        )
        .await;
    expect_control_chars(&resp, &["name"]);
    assert_eq!(rows(&app, "api_keys"), 0);

    let resp = app
        .post(
            "/api/v1/reports",
            Some(&owner.access),
            json!({"target_type": "org", "target_id": org, "reason": "spam", "details": "see\u{0}"}),
        )
        .await;
    expect_control_chars(&resp, &["details"]);
    assert_eq!(rows(&app, "reports"), 0);
}

async fn query_parameters_with_control_characters_are_400(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.user("fritz@ex.example").await;
    app.org(&owner, "Gasthof Sonne").await;

    // Unauthenticated, as in the report: no 500, one problem naming the parameter.
    expect_bad_query(
        &app.get(&format!("{LISTINGS}?region=a%00b"), None).await,
        "region",
    );
    expect_bad_query(
        &app.get(&format!("{LISTINGS}?limit=5&industry=x%1Fy"), None)
            .await,
        "industry",
    );
    expect_bad_query(
        &app.get(&format!("{ORGS}?industry=a%00b"), None).await,
        "industry",
    );
    // A query parameter is one line: tab, line feed and DEL are refused too.
    expect_bad_query(&app.get(&format!("{LISTINGS}?q=a%09b"), None).await, "q");
    expect_bad_query(&app.get(&format!("{LISTINGS}?q=a%0Ab"), None).await, "q");
    expect_bad_query(&app.get(&format!("{LISTINGS}?q=a%7Fb"), None).await, "q");
    let resp = app
        .get(
            &format!("{ORGS}/none/members?cursor=%00"),
            Some(&owner.access),
        )
        .await;
    expect_bad_query(&resp, "cursor");

    // Ordinary text still works, accents and spaces included.
    app.get(&format!("{LISTINGS}?q=caf%C3%A9+sonne&region=Bayern"), None)
        .await
        .expect(200);
    app.get(&format!("{ORGS}?industry=hospitality"), None)
        .await
        .expect(200);
}

async fn only_a_json_object_is_a_body(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.user("greta@ex.example").await;
    for body in [
        json!(["Org", "hospitality", null, null, null]),
        json!("Org"),
        json!(42),
        json!(null),
    ] {
        let resp = app.post(ORGS, Some(&owner.access), body.clone()).await;
        resp.expect_problem(422);
        assert_eq!(error_fields(&resp), ["body"], "{}", resp.text);
        let message = resp.body["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains("must be a JSON object"),
            "{body}: {message}"
        );
    }
    assert_eq!(rows(&app, "orgs"), 0);
    let directory = app.get(ORGS, None).await;
    directory.expect(200);
    assert_eq!(directory.body["items"], json!([]));

    // Login too: the array form of valid credentials does not sign in.
    let resp = app
        .post(LOGIN, None, json!(["greta@ex.example", PASSWORD]))
        .await;
    resp.expect_problem(422);
    assert_eq!(error_fields(&resp), ["body"]);
}

backends!(
    login_with_control_characters_is_refused_before_any_lookup,
    registration_with_a_control_character_creates_no_account,
    org_text_with_control_characters_creates_nothing,
    listing_text_keeps_newlines_and_tabs_but_refuses_other_controls,
    key_names_and_report_details_refuse_control_characters,
    query_parameters_with_control_characters_are_400,
    only_a_json_object_is_a_body,
);
