//! Organisations: creation (with idempotency), the public directory, profiles and updates.

use serde_json::{json, Value};

use crate::backends;
use crate::helpers::{error_fields, Backend, Resp, TestApp, TestUser};

const ORGS: &str = "/api/v1/orgs";

fn org_path(id: &str) -> String {
    format!("{ORGS}/{id}")
}

async fn create(app: &TestApp, user: &TestUser, body: Value) -> Resp {
    app.post(ORGS, Some(&user.access), body).await
}

async fn create_with_key(app: &TestApp, user: &TestUser, key: &str, body: Value) -> Resp {
    app.call(
        "POST",
        ORGS,
        Some(&user.access),
        Some(body),
        &[("Idempotency-Key", key)],
    )
    .await
}

fn sonne() -> Value {
    json!({
        "name": "Gasthof Sonne",
        "industry": "  Hospitality ",
        "description": "Familiengeführter Gasthof mit 24 Zimmern und regionaler Küche.",
        "website": "https://gasthof-sonne.example",
        "region": "Oberbayern"
    })
}

/// The `items` of a list response.
fn items(resp: &Resp) -> &Vec<Value> {
    resp.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {}", resp.text))
}

/// The names of a list response's items, in order.
fn names(resp: &Resp) -> Vec<String> {
    items(resp)
        .iter()
        .map(|o| o["name"].as_str().expect("name").to_owned())
        .collect()
}

/// The names of every directory entry matching a raw query string (all pages).
async fn directory(app: &TestApp, query: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("{ORGS}?limit=100&{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = app.get(&path, None).await;
        page.expect(200);
        seen.extend(names(&page));
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return seen,
        }
    }
}

#[track_caller]
fn assert_names_field(resp: &Resp, field: &str) {
    resp.expect_problem(422);
    assert!(
        error_fields(resp).iter().any(|f| f == field),
        "expected an error for `{field}`: {}",
        resp.text
    );
}

/// The public profile as stored now.
async fn profile(app: &TestApp, id: &str) -> Resp {
    let resp = app.get(&org_path(id), None).await;
    resp.expect(200);
    resp
}

async fn create_org_returns_201_with_location_etag_and_normalised_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@gasthof-sonne.example").await;

    let created = create(&app, &anna, sonne()).await;
    created.expect(201);
    let id = created.str("id");
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "id is a UUID: {id}");
    assert_eq!(created.header("location"), Some(org_path(&id)));
    assert_eq!(created.header("etag").as_deref(), Some("\"1\""));
    assert_eq!(created.body["name"], json!("Gasthof Sonne"));
    assert_eq!(created.body["industry"], json!("hospitality"));
    assert_eq!(
        created.body["description"],
        json!("Familiengeführter Gasthof mit 24 Zimmern und regionaler Küche.")
    );
    assert_eq!(
        created.body["website"],
        json!("https://gasthof-sonne.example")
    );
    assert_eq!(created.body["region"], json!("Oberbayern"));
    assert_eq!(created.body["version"], json!(1));
    assert_eq!(created.body["status"], json!("active"));
    assert!(created.body["created_at"].is_string());

    // Stored as answered.
    let stored = profile(&app, &id).await;
    assert_eq!(stored.body, created.body);

    // The creator is its owner.
    let me = app.get("/api/v1/me", Some(&anna.access)).await;
    me.expect(200);
    assert_eq!(
        me.body["memberships"],
        json!([{"org_id": id, "org_name": "Gasthof Sonne", "role": "owner"}])
    );
}

async fn create_org_accepts_names_at_the_length_limits(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@gasthof-sonne.example").await;
    let long = "K".repeat(120);
    for name in ["KW", long.as_str()] {
        let created = create(&app, &anna, json!({"name": name, "industry": "consulting"})).await;
        created.expect(201);
        assert_eq!(
            profile(&app, &created.str("id")).await.body["name"],
            json!(name)
        );
    }
}

async fn create_org_rejects_invalid_fields_with_422_naming_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@gasthof-sonne.example").await;

    let short = create(&app, &anna, json!({"name": "G", "industry": "hospitality"})).await;
    assert_names_field(&short, "name");

    let long = create(
        &app,
        &anna,
        json!({"name": "G".repeat(121), "industry": "hospitality"}),
    )
    .await;
    assert_names_field(&long, "name");

    let no_industry = create(&app, &anna, json!({"name": "Gasthof Sonne"})).await;
    assert_names_field(&no_industry, "industry");

    let ftp = create(
        &app,
        &anna,
        json!({"name": "Gasthof Sonne", "industry": "hospitality", "website": "ftp://x"}),
    )
    .await;
    assert_names_field(&ftp, "website");

    // Every problem of one request is reported together.
    let both = create(
        &app,
        &anna,
        json!({"name": "G", "industry": "hospitality", "website": "ftp://x"}),
    )
    .await;
    assert_names_field(&both, "name");
    assert_names_field(&both, "website");

    // Nothing was created.
    assert!(directory(&app, "").await.is_empty());
    let me = app.get("/api/v1/me", Some(&anna.access)).await;
    me.expect(200);
    assert_eq!(me.body["memberships"], json!([]));
}

async fn create_org_without_token_is_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let resp = app.post(ORGS, None, sonne()).await;
    resp.expect_problem(401);
    assert!(directory(&app, "").await.is_empty());
}

async fn idempotent_create_replays_the_first_response(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@gasthof-sonne.example").await;

    let first = create_with_key(&app, &anna, "sonne-2026-04-01", sonne()).await;
    first.expect(201);
    assert_eq!(first.header("idempotent-replayed"), None);

    let second = create_with_key(&app, &anna, "sonne-2026-04-01", sonne()).await;
    second.expect(201);
    assert_eq!(
        second.header("idempotent-replayed").as_deref(),
        Some("true")
    );
    assert_eq!(second.body, first.body);
    assert_eq!(second.str("id"), first.str("id"));
    assert_eq!(second.header("location"), first.header("location"));
    assert_eq!(second.header("etag").as_deref(), Some("\"1\""));

    assert_eq!(directory(&app, "q=sonne").await, vec!["Gasthof Sonne"]);
    let me = app.get("/api/v1/me", Some(&anna.access)).await;
    assert_eq!(me.body["memberships"].as_array().map(Vec::len), Some(1));
}

async fn idempotency_key_reused_with_another_body_is_422(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@gasthof-sonne.example").await;

    create_with_key(&app, &anna, "onboarding-7", sonne())
        .await
        .expect(201);
    let other = create_with_key(
        &app,
        &anna,
        "onboarding-7",
        json!({"name": "Kundenwerk GmbH", "industry": "consulting"}),
    )
    .await;
    other.expect_problem(422);
    assert_eq!(other.header("idempotent-replayed"), None);

    assert_eq!(directory(&app, "").await, vec!["Gasthof Sonne"]);
}

async fn idempotency_keys_are_scoped_to_the_caller(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@gasthof-sonne.example").await;
    let bernd = app.user("bernd@kundenwerk.example").await;
    let body = json!({"name": "Kundenwerk GmbH", "industry": "consulting"});

    let first = create_with_key(&app, &anna, "setup-1", body.clone()).await;
    first.expect(201);
    let theirs = create_with_key(&app, &bernd, "setup-1", body).await;
    theirs.expect(201);
    assert_eq!(theirs.header("idempotent-replayed"), None);
    assert_ne!(theirs.str("id"), first.str("id"));

    assert_eq!(
        directory(&app, "q=kundenwerk").await,
        vec!["Kundenwerk GmbH", "Kundenwerk GmbH"]
    );
    let me = app.get("/api/v1/me", Some(&bernd.access)).await;
    assert_eq!(
        me.body["memberships"],
        json!([{"org_id": theirs.str("id"), "org_name": "Kundenwerk GmbH", "role": "owner"}])
    );
}

async fn over_long_idempotency_key_is_400(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@gasthof-sonne.example").await;

    let resp = create_with_key(&app, &anna, &"k".repeat(256), sonne()).await;
    resp.expect_problem(400);
    assert!(directory(&app, "").await.is_empty());

    // 255 characters are still fine.
    create_with_key(&app, &anna, &"k".repeat(255), sonne())
        .await
        .expect(201);
    assert_eq!(directory(&app, "").await, vec!["Gasthof Sonne"]);
}

async fn directory_is_public_and_pages_in_creation_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@gasthof-sonne.example").await;
    let created = [
        "Gasthof Sonne",
        "Kundenwerk GmbH",
        "Hotel Alpenblick",
        "Brauerei Maier",
        "Beratungshaus Nord",
    ];
    for name in created {
        app.org(&anna, name).await;
    }

    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut path = format!("{ORGS}?limit=2");
    loop {
        let page = app.get(&path, None).await;
        page.expect(200);
        sizes.push(items(&page).len());
        seen.extend(names(&page));
        match &page.body["next_cursor"] {
            Value::String(next) => path = format!("{ORGS}?limit=2&cursor={next}"),
            Value::Null => break,
            other => panic!("next_cursor must be a string or null: {other}"),
        }
        assert!(sizes.len() < 10, "pagination does not end");
    }
    assert_eq!(sizes, vec![2, 2, 1]);
    assert_eq!(seen, created);
}

async fn directory_pages_stay_stable_while_orgs_are_created(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@gasthof-sonne.example").await;
    for name in ["Gasthof Sonne", "Kundenwerk GmbH", "Hotel Alpenblick"] {
        app.org(&anna, name).await;
    }

    let first = app.get(&format!("{ORGS}?limit=2"), None).await;
    first.expect(200);
    assert_eq!(names(&first), vec!["Gasthof Sonne", "Kundenwerk GmbH"]);
    let cursor = first.str("next_cursor");

    app.org(&anna, "Brauerei Maier").await;

    let second = app
        .get(&format!("{ORGS}?limit=2&cursor={cursor}"), None)
        .await;
    second.expect(200);
    assert_eq!(names(&second), vec!["Hotel Alpenblick", "Brauerei Maier"]);
    assert_eq!(second.body["next_cursor"], Value::Null);
}

async fn directory_filters_by_name_substring_and_industry(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@gasthof-sonne.example").await;
    for (name, industry) in [
        ("Gasthof Sonne", "hospitality"),
        ("Sonnenhof Consulting", "consulting"),
        ("Kundenwerk GmbH", "Consulting"),
        ("100% Bio Catering", "hospitality"),
        ("Hotel_Alpenblick", "hospitality"),
        ("Hotel Alpenblick", "hospitality"),
    ] {
        create(&app, &anna, json!({"name": name, "industry": industry}))
            .await
            .expect(201);
    }

    let sonne = vec!["Gasthof Sonne", "Sonnenhof Consulting"];
    assert_eq!(directory(&app, "q=sonne").await, sonne);
    assert_eq!(directory(&app, "q=SONNE").await, sonne);
    assert_eq!(directory(&app, "q=%20sonne").await, sonne, "q is trimmed");
    // `%` and `_` are matched literally, not as LIKE wildcards.
    assert_eq!(directory(&app, "q=%25").await, vec!["100% Bio Catering"]);
    assert_eq!(directory(&app, "q=l_a").await, vec!["Hotel_Alpenblick"]);
    assert!(directory(&app, "q=sonne%25").await.is_empty());

    assert_eq!(
        directory(&app, "industry=consulting").await,
        vec!["Sonnenhof Consulting", "Kundenwerk GmbH"]
    );
    assert_eq!(
        directory(&app, "industry=consulting&q=sonne").await,
        vec!["Sonnenhof Consulting"]
    );
    assert!(directory(&app, "industry=logistics").await.is_empty());
}

async fn directory_rejects_bad_limits_and_cursors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@gasthof-sonne.example").await;
    app.org(&anna, "Gasthof Sonne").await;

    for limit in ["0", "101", "-1", "abc"] {
        let resp = app.get(&format!("{ORGS}?limit={limit}"), None).await;
        resp.expect_problem(400);
    }
    for cursor in ["garbage", "aWQ6bm90LWEtdXVpZA", "%00"] {
        let resp = app.get(&format!("{ORGS}?cursor={cursor}"), None).await;
        resp.expect_problem(400);
    }
    for limit in ["1", "100"] {
        let resp = app.get(&format!("{ORGS}?limit={limit}"), None).await;
        resp.expect(200);
        assert_eq!(names(&resp), vec!["Gasthof Sonne"]);
    }
}

async fn org_profile_is_public_with_etag(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@gasthof-sonne.example").await;
    let id = app.org(&anna, "Gasthof Sonne").await;

    let resp = app.get(&org_path(&id), None).await;
    resp.expect(200);
    assert_eq!(resp.header("etag").as_deref(), Some("\"1\""));
    assert_eq!(resp.body["id"], json!(id));
    assert_eq!(resp.body["name"], json!("Gasthof Sonne"));
    assert_eq!(resp.body["region"], json!("Bayern"));

    let unknown = app
        .get(&org_path(&uuid::Uuid::new_v4().to_string()), None)
        .await;
    unknown.expect_problem(404);

    let bad = app.get(&org_path("gasthof-sonne"), None).await;
    bad.expect_problem(400);
}

async fn owner_patch_with_if_match_updates_and_rejects_stale_versions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@gasthof-sonne.example").await;
    let id = create(&app, &anna, sonne()).await.str("id");

    let updated = app
        .call(
            "PATCH",
            &org_path(&id),
            Some(&anna.access),
            Some(json!({
                "name": "Gasthof Sonne & Seminarhaus",
                "industry": " HOSPITALITY",
                "description": null,
                "region": "Chiemgau"
            })),
            &[("If-Match", "\"1\"")],
        )
        .await;
    updated.expect(200);
    assert_eq!(updated.header("etag").as_deref(), Some("\"2\""));
    assert_eq!(updated.body["version"], json!(2));
    assert_eq!(updated.body["name"], json!("Gasthof Sonne & Seminarhaus"));
    assert_eq!(updated.body["industry"], json!("hospitality"));
    assert_eq!(updated.body["description"], Value::Null);
    assert_eq!(updated.body["region"], json!("Chiemgau"));
    // Absent fields stay.
    assert_eq!(
        updated.body["website"],
        json!("https://gasthof-sonne.example")
    );

    let stored = profile(&app, &id).await;
    assert_eq!(stored.header("etag").as_deref(), Some("\"2\""));
    assert_eq!(stored.body, updated.body);

    // The same (now stale) version again.
    let stale = app
        .call(
            "PATCH",
            &org_path(&id),
            Some(&anna.access),
            Some(json!({"name": "Gasthof Mond"})),
            &[("If-Match", "\"1\"")],
        )
        .await;
    stale.expect_problem(412);
    let after = profile(&app, &id).await;
    assert_eq!(after.body, updated.body);
    assert_eq!(after.header("etag").as_deref(), Some("\"2\""));
}

async fn patch_without_if_match_or_with_star_applies(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@gasthof-sonne.example").await;
    let id = app.org(&anna, "Gasthof Sonne").await;

    let plain = app
        .patch(
            &org_path(&id),
            Some(&anna.access),
            json!({"description": "Tagungen und Hochzeiten"}),
        )
        .await;
    plain.expect(200);
    assert_eq!(plain.header("etag").as_deref(), Some("\"2\""));

    let star = app
        .call(
            "PATCH",
            &org_path(&id),
            Some(&anna.access),
            Some(json!({"website": "https://sonne.example"})),
            &[("If-Match", "*")],
        )
        .await;
    star.expect(200);
    assert_eq!(star.header("etag").as_deref(), Some("\"3\""));

    let stored = profile(&app, &id).await;
    assert_eq!(stored.body["version"], json!(3));
    assert_eq!(stored.body["description"], json!("Tagungen und Hochzeiten"));
    assert_eq!(stored.body["website"], json!("https://sonne.example"));
}

async fn patch_by_plain_member_is_forbidden_but_admin_may(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@gasthof-sonne.example").await;
    let id = app.org(&anna, "Gasthof Sonne").await;
    let jonas = app
        .member(&id, &anna, "jonas@gasthof-sonne.example", "member")
        .await;
    let lena = app
        .member(&id, &anna, "lena@gasthof-sonne.example", "admin")
        .await;

    let denied = app
        .patch(
            &org_path(&id),
            Some(&jonas.access),
            json!({"name": "Gasthof Jonas"}),
        )
        .await;
    denied.expect_problem(403);
    let stored = profile(&app, &id).await;
    assert_eq!(stored.body["name"], json!("Gasthof Sonne"));
    assert_eq!(stored.body["version"], json!(1));

    let allowed = app
        .patch(
            &org_path(&id),
            Some(&lena.access),
            json!({"region": "Allgäu"}),
        )
        .await;
    allowed.expect(200);
    assert_eq!(profile(&app, &id).await.body["region"], json!("Allgäu"));
}

async fn patch_by_user_of_another_org_is_forbidden(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@gasthof-sonne.example").await;
    let bernd = app.user("bernd@kundenwerk.example").await;
    let sonne = app.org(&anna, "Gasthof Sonne").await;
    app.org(&bernd, "Kundenwerk GmbH").await;

    let resp = app
        .call(
            "PATCH",
            &org_path(&sonne),
            Some(&bernd.access),
            Some(json!({"name": "Übernommen GmbH", "description": null})),
            &[("If-Match", "\"1\"")],
        )
        .await;
    resp.expect_problem(403);
    let stored = profile(&app, &sonne).await;
    assert_eq!(stored.body["name"], json!("Gasthof Sonne"));
    assert_eq!(stored.body["version"], json!(1));
}

async fn patch_with_api_keys_follows_scope_and_organisation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@gasthof-sonne.example").await;
    let bernd = app.user("bernd@kundenwerk.example").await;
    let sonne = app.org(&anna, "Gasthof Sonne").await;
    let kundenwerk = app.org(&bernd, "Kundenwerk GmbH").await;
    let read = app.api_key(&sonne, &anna, &["read"]).await;
    let write = app.api_key(&sonne, &anna, &["read", "write"]).await;
    let foreign_write = app.api_key(&kundenwerk, &bernd, &["write"]).await;

    let by_read = app
        .patch(&org_path(&sonne), Some(&read), json!({"region": "Tirol"}))
        .await;
    by_read.expect_problem(403);
    let by_foreign = app
        .patch(
            &org_path(&sonne),
            Some(&foreign_write),
            json!({"region": "Hamburg"}),
        )
        .await;
    by_foreign.expect_problem(403);
    let stored = profile(&app, &sonne).await;
    assert_eq!(stored.body["region"], json!("Bayern"));
    assert_eq!(stored.body["version"], json!(1));

    let by_write = app
        .call(
            "PATCH",
            &org_path(&sonne),
            Some(&write),
            Some(json!({"region": "Chiemgau"})),
            &[("If-Match", "\"1\"")],
        )
        .await;
    by_write.expect(200);
    assert_eq!(by_write.header("etag").as_deref(), Some("\"2\""));
    let stored = profile(&app, &sonne).await;
    assert_eq!(stored.body["region"], json!("Chiemgau"));
    assert_eq!(stored.body["version"], json!(2));
    // The other organisation was not touched either.
    let other = profile(&app, &kundenwerk).await;
    assert_eq!(other.body["version"], json!(1));
}

async fn patch_with_invalid_fields_is_422_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@gasthof-sonne.example").await;
    let id = create(&app, &anna, sonne()).await.str("id");
    let before = profile(&app, &id).await;

    let resp = app
        .patch(
            &org_path(&id),
            Some(&anna.access),
            json!({"name": "G", "website": "ftp://x", "region": "R".repeat(81)}),
        )
        .await;
    assert_names_field(&resp, "name");
    assert_names_field(&resp, "website");
    assert_names_field(&resp, "region");

    let wrong_type = app
        .patch(&org_path(&id), Some(&anna.access), json!({"name": 42}))
        .await;
    wrong_type.expect_problem(422);

    let after = profile(&app, &id).await;
    assert_eq!(after.body, before.body);
}

async fn patch_unknown_org_is_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@gasthof-sonne.example").await;
    app.org(&anna, "Gasthof Sonne").await;
    let resp = app
        .patch(
            &org_path(&uuid::Uuid::new_v4().to_string()),
            Some(&anna.access),
            json!({"name": "Gasthof Mond"}),
        )
        .await;
    resp.expect_problem(404);
    assert_eq!(directory(&app, "").await, vec!["Gasthof Sonne"]);
}

backends!(
    create_org_returns_201_with_location_etag_and_normalised_fields,
    create_org_accepts_names_at_the_length_limits,
    create_org_rejects_invalid_fields_with_422_naming_them,
    create_org_without_token_is_401,
    idempotent_create_replays_the_first_response,
    idempotency_key_reused_with_another_body_is_422,
    idempotency_keys_are_scoped_to_the_caller,
    over_long_idempotency_key_is_400,
    directory_is_public_and_pages_in_creation_order,
    directory_pages_stay_stable_while_orgs_are_created,
    directory_filters_by_name_substring_and_industry,
    directory_rejects_bad_limits_and_cursors,
    org_profile_is_public_with_etag,
    owner_patch_with_if_match_updates_and_rejects_stale_versions,
    patch_without_if_match_or_with_star_applies,
    patch_by_plain_member_is_forbidden_but_admin_may,
    patch_by_user_of_another_org_is_forbidden,
    patch_with_api_keys_follows_scope_and_organisation,
    patch_with_invalid_fields_is_422_and_changes_nothing,
    patch_unknown_org_is_404,
);
