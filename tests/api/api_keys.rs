//! Organisation API keys: created once with their secret, scoped, revocable, never leaked.

use serde_json::{json, Value};

use crate::backends;
use crate::helpers::{Backend, Resp, TestApp, TestUser};

fn keys_path(org: &str) -> String {
    format!("/api/v1/orgs/{org}/api-keys")
}

fn key_path(org: &str, id: &str) -> String {
    format!("/api/v1/orgs/{org}/api-keys/{id}")
}

fn members_path(org: &str) -> String {
    format!("/api/v1/orgs/{org}/members")
}

async fn create_key(app: &TestApp, org: &str, token: &str, name: &str, scopes: Value) -> Resp {
    app.post(
        &keys_path(org),
        Some(token),
        json!({"name": name, "scopes": scopes}),
    )
    .await
}

/// The organisation's active keys as listed to `viewer`.
async fn listed(app: &TestApp, org: &str, viewer: &TestUser) -> Vec<Value> {
    let resp = app.get(&keys_path(org), Some(&viewer.access)).await;
    resp.expect(200);
    resp.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {}", resp.text))
        .clone()
}

fn ids(keys: &[Value]) -> Vec<String> {
    keys.iter()
        .map(|k| k["id"].as_str().expect("id").to_owned())
        .collect()
}

/// Anna owns "Gasthof Sonne".
async fn sonne(app: &TestApp) -> (TestUser, String) {
    let anna = app.user("anna@gasthof-sonne.example").await;
    let org = app.org(&anna, "Gasthof Sonne").await;
    (anna, org)
}

/// Bernd owns "Kundenwerk GmbH".
async fn kundenwerk(app: &TestApp) -> (TestUser, String) {
    let bernd = app.user("bernd@kundenwerk.example").await;
    let org = app.org(&bernd, "Kundenwerk GmbH").await;
    (bernd, org)
}

async fn created_key_shows_its_secret_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;

    let created = create_key(
        &app,
        &org,
        &anna.access,
        "Buchungssystem",
        json!(["write", "read", "read"]),
    )
    .await;
    created.expect(201);
    let id = created.str("id");
    let key = created.str("key");
    assert!(key.starts_with("mutua_"), "key prefix: {key}");
    assert!(key.len() > 30, "a long secret: {key}");
    assert_eq!(
        created.str("prefix"),
        key.chars().take(12).collect::<String>()
    );
    assert_eq!(created.body["scopes"], json!(["read", "write"]));
    assert_eq!(created.body["name"], json!("Buchungssystem"));
    assert_eq!(created.body["org_id"], json!(org));
    assert_eq!(created.body["created_by"], json!(anna.id));
    assert_eq!(created.body["last_used_at"], Value::Null);
    assert_eq!(created.header("location"), Some(key_path(&org, &id)));

    let keys = listed(&app, &org, &anna).await;
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["id"], json!(id));
    assert_eq!(keys[0]["prefix"], created.body["prefix"]);
    assert_eq!(keys[0]["scopes"], json!(["read", "write"]));
    assert!(keys[0].get("key").is_none(), "secret leaked: {}", keys[0]);
    assert!(
        !keys[0].to_string().contains(&key),
        "secret leaked: {}",
        keys[0]
    );
}

async fn admin_may_create_keys(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let lena = app
        .member(&org, &anna, "lena@gasthof-sonne.example", "admin")
        .await;
    let created = create_key(&app, &org, &lena.access, "Kassensystem", json!(["read"])).await;
    created.expect(201);
    assert_eq!(
        ids(&listed(&app, &org, &anna).await),
        vec![created.str("id")]
    );
}

async fn read_key_reads_the_org_and_records_its_use(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let key = app.api_key(&org, &anna, &["read"]).await;
    assert_eq!(
        listed(&app, &org, &anna).await[0]["last_used_at"],
        Value::Null
    );

    let members = app.get(&members_path(&org), Some(&key)).await;
    members.expect(200);
    let items = members.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["user_id"], json!(anna.id));

    let keys = listed(&app, &org, &anna).await;
    assert!(
        keys[0]["last_used_at"].is_string(),
        "last_used_at recorded: {}",
        keys[0]
    );
}

async fn key_scopes_govern_profile_updates(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let read = app.api_key(&org, &anna, &["read"]).await;
    let write = app.api_key(&org, &anna, &["write"]).await;
    let profile = format!("/api/v1/orgs/{org}");

    app.patch(&profile, Some(&read), json!({"region": "Tirol"}))
        .await
        .expect_problem(403);
    let stored = app.get(&profile, None).await;
    assert_eq!(stored.body["region"], json!("Bayern"));
    assert_eq!(stored.body["version"], json!(1));

    let updated = app
        .patch(&profile, Some(&write), json!({"region": "Chiemgau"}))
        .await;
    updated.expect(200);
    assert_eq!(updated.body["region"], json!("Chiemgau"));
    let stored = app.get(&profile, None).await;
    assert_eq!(stored.body["region"], json!("Chiemgau"));
    assert_eq!(stored.body["version"], json!(2));
}

async fn key_is_forbidden_in_another_org(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, sonne_org) = sonne(&app).await;
    let (_bernd, kundenwerk_org) = kundenwerk(&app).await;
    let key = app.api_key(&sonne_org, &anna, &["read", "write"]).await;

    app.get(&members_path(&kundenwerk_org), Some(&key))
        .await
        .expect_problem(403);
    // Its own organisation still works.
    app.get(&members_path(&sonne_org), Some(&key))
        .await
        .expect(200);
}

async fn revoked_key_stops_working_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let created = create_key(&app, &org, &anna.access, "Altsystem", json!(["read"])).await;
    created.expect(201);
    let (id, key) = (created.str("id"), created.str("key"));
    let keeper = app.api_key(&org, &anna, &["read"]).await;
    app.get(&members_path(&org), Some(&key)).await.expect(200);

    let revoked = app.delete(&key_path(&org, &id), Some(&anna.access)).await;
    revoked.expect(204);
    assert!(revoked.text.is_empty());

    let resp = app.get(&members_path(&org), Some(&key)).await;
    resp.expect_problem(401);
    let keys = listed(&app, &org, &anna).await;
    assert_eq!(keys.len(), 1);
    assert_ne!(keys[0]["id"], json!(id));
    app.delete(&key_path(&org, &id), Some(&anna.access))
        .await
        .expect_problem(404);
    // Other keys are unaffected.
    app.get(&members_path(&org), Some(&keeper))
        .await
        .expect(200);
}

async fn other_orgs_owner_cannot_revoke_the_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, sonne_org) = sonne(&app).await;
    let (bernd, kundenwerk_org) = kundenwerk(&app).await;
    let created = create_key(
        &app,
        &sonne_org,
        &anna.access,
        "Channel-Manager",
        json!(["read"]),
    )
    .await;
    created.expect(201);
    let (id, key) = (created.str("id"), created.str("key"));

    app.delete(&key_path(&kundenwerk_org, &id), Some(&bernd.access))
        .await
        .expect_problem(404);
    app.delete(&key_path(&sonne_org, &id), Some(&bernd.access))
        .await
        .expect_problem(403);
    app.get(&keys_path(&sonne_org), Some(&bernd.access))
        .await
        .expect_problem(403);

    app.get(&members_path(&sonne_org), Some(&key))
        .await
        .expect(200);
    assert_eq!(ids(&listed(&app, &sonne_org, &anna).await), vec![id]);
    assert!(listed(&app, &kundenwerk_org, &bernd).await.is_empty());
}

async fn plain_member_cannot_create_or_list_keys(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let jonas = app
        .member(&org, &anna, "jonas@gasthof-sonne.example", "member")
        .await;

    create_key(&app, &org, &jonas.access, "Privat", json!(["read"]))
        .await
        .expect_problem(403);
    app.get(&keys_path(&org), Some(&jonas.access))
        .await
        .expect_problem(403);

    assert!(listed(&app, &org, &anna).await.is_empty());
}

async fn api_key_cannot_create_or_list_keys(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let key = app.api_key(&org, &anna, &["read", "write"]).await;

    create_key(&app, &org, &key, "Nachschub", json!(["write"]))
        .await
        .expect_problem(403);
    app.get(&keys_path(&org), Some(&key))
        .await
        .expect_problem(403);

    assert_eq!(listed(&app, &org, &anna).await.len(), 1);
}

async fn invalid_key_requests_are_422(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;

    let empty = create_key(&app, &org, &anna.access, "Buchhaltung", json!([])).await;
    empty.expect_problem(422);
    assert_eq!(empty.body["errors"][0]["field"], json!("scopes"));

    let unknown = create_key(&app, &org, &anna.access, "Buchhaltung", json!(["admin"])).await;
    unknown.expect_problem(422);
    assert!(
        unknown.text.contains("admin"),
        "the problem names the bad value: {}",
        unknown.text
    );

    for name in ["", "  "] {
        let nameless = create_key(&app, &org, &anna.access, name, json!(["read"])).await;
        nameless.expect_problem(422);
        assert_eq!(nameless.body["errors"][0]["field"], json!("name"));
    }

    let long = create_key(&app, &org, &anna.access, &"n".repeat(81), json!(["read"])).await;
    long.expect_problem(422);
    assert_eq!(long.body["errors"][0]["field"], json!("name"));

    assert!(listed(&app, &org, &anna).await.is_empty());
}

async fn idempotent_key_creation_replays_without_the_secret(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let body = json!({"name": "PMS-Anbindung", "scopes": ["read"]});
    let path = keys_path(&org);
    let send = || {
        app.call(
            "POST",
            &path,
            Some(&anna.access),
            Some(body.clone()),
            &[("Idempotency-Key", "pms-key-2026")],
        )
    };

    let first = send().await;
    first.expect(201);
    let key = first.str("key");

    let replay = send().await;
    replay.expect(201);
    assert_eq!(
        replay.header("idempotent-replayed").as_deref(),
        Some("true")
    );
    assert_eq!(replay.body["id"], first.body["id"]);
    assert_eq!(replay.body["prefix"], first.body["prefix"]);
    assert!(
        replay.body.get("key").is_none(),
        "secret replayed: {}",
        replay.text
    );
    assert!(
        !replay.text.contains(&key),
        "secret replayed: {}",
        replay.text
    );

    assert_eq!(ids(&listed(&app, &org, &anna).await), vec![first.str("id")]);
    app.get(&members_path(&org), Some(&key)).await.expect(200);
}

backends!(
    created_key_shows_its_secret_once,
    admin_may_create_keys,
    read_key_reads_the_org_and_records_its_use,
    key_scopes_govern_profile_updates,
    key_is_forbidden_in_another_org,
    revoked_key_stops_working_at_once,
    other_orgs_owner_cannot_revoke_the_key,
    plain_member_cannot_create_or_list_keys,
    api_key_cannot_create_or_list_keys,
    invalid_key_requests_are_422,
    idempotent_key_creation_replays_without_the_secret,
);
