//! Listings: creation and validation, visibility of unpublished listings (BOLA), the
//! moderation lifecycle and every illegal transition, review of edits to published text,
//! `If-Match`, quotas, suspended organisations, expiry and the moderators' endpoints.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::backends;
use crate::helpers::{error_fields, Backend, Resp, TestApp, TestUser};

const ANNA: &str = "anna@gasthof-sonne.example";
const JONAS: &str = "jonas@gasthof-sonne.example";
const MAX: &str = "max@hotel-alpenblick.example";
const MIRA: &str = "mira@mutua-moderation.example";

const SERVICE_TITLE: &str = "Außergewöhnlicher Kundenservice: Schulung für Empfangsteams";
const SERVICE_TEXT: &str = "Wir teilen unser Wissen: ein halbtägiger Workshop für Empfangsteams, \
     wie ein aussergewöhnlicher, überdurchschnittlicher Kundenservice Zufriedenheit schafft \
     und Rückhilfe ermöglicht.";
const TRIAL_TITLE: &str = "Unverbindlich testen: Probemonat Buchhaltungssoftware";
const TRIAL_TEXT: &str = "Ein kostenloser Probemonat unserer Buchhaltungssoftware schafft \
     Vertrauen, ohne das Gefühl von Verpflichtung auszulösen.";
const NEED_TITLE: &str = "Gesucht: Erfahrungen mit Spendenaktionen für die Gemeinschaft";
const NEED_TEXT: &str = "Wir möchten persönliche Zeit in Projekte unserer Kundschaft \
     investieren und suchen Partner, die ihr Fachwissen teilen.";

const REJECT_REASON: &str = "Der Titel verspricht Leistungen, die in der Beschreibung fehlen.";
const REMOVE_REASON: &str = "Reine Manipulationstaktik: Druck statt echter Gegenseitigkeit.";

// ---- paths and bodies ----------------------------------------------------------------

fn listing_path(id: &str) -> String {
    format!("/api/v1/listings/{id}")
}

fn action_path(id: &str, action: &str) -> String {
    format!("/api/v1/listings/{id}/{action}")
}

fn moderation_path(id: &str, action: &str) -> String {
    format!("/api/v1/moderation/listings/{id}/{action}")
}

/// A time `days` from now, RFC 3339 with whole seconds.
fn in_days(days: i64) -> String {
    (Utc::now() + Duration::days(days)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn instant(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .unwrap_or_else(|| panic!("not an RFC 3339 time: {value}"))
        .with_timezone(&Utc)
}

/// Gasthof Sonne offers a customer-service training (expertise).
fn service_offer(org: &str) -> Value {
    json!({
        "org_id": org,
        "kind": "offer",
        "category": "expertise",
        "title": SERVICE_TITLE,
        "description": SERVICE_TEXT,
        "tags": ["kundenservice", "schulung"],
        "region": "Bayern",
    })
}

/// A no-obligation trial month of accounting software (resource).
fn trial_offer(org: &str) -> Value {
    json!({
        "org_id": org,
        "kind": "offer",
        "category": "resource",
        "title": TRIAL_TITLE,
        "description": TRIAL_TEXT,
        "tags": ["probemonat", "buchhaltung"],
        "trial_available": true,
    })
}

/// A need: experience with charity campaigns.
fn charity_need(org: &str) -> Value {
    json!({
        "org_id": org,
        "kind": "need",
        "category": "expertise",
        "title": NEED_TITLE,
        "description": NEED_TEXT,
        "tags": ["spendenaktion", "gemeinschaft"],
    })
}

fn with(mut body: Value, field: &str, value: Value) -> Value {
    body[field] = value;
    body
}

// ---- actors ----------------------------------------------------------------------------

/// Anna owns "Gasthof Sonne" (industry hospitality, region Bayern).
async fn sonne(app: &TestApp) -> (TestUser, String) {
    let anna = app.user(ANNA).await;
    let org = app.org(&anna, "Gasthof Sonne").await;
    (anna, org)
}

/// Max owns "Hotel Alpenblick", another organisation.
async fn alpenblick(app: &TestApp) -> (TestUser, String) {
    let max = app.user(MAX).await;
    let org = app.org(&max, "Hotel Alpenblick").await;
    (max, org)
}

/// Mira, a platform moderator.
async fn moderator(app: &TestApp) -> TestUser {
    let mira = app.user(MIRA).await;
    app.sql(&format!(
        "UPDATE users SET platform_role = 'moderator' WHERE id = '{}'",
        mira.id
    ));
    mira
}

// ---- requests --------------------------------------------------------------------------

async fn create(app: &TestApp, token: Option<&str>, body: Value) -> Resp {
    app.post("/api/v1/listings", token, body).await
}

/// Creates a draft and returns its id.
async fn draft(app: &TestApp, token: &str, body: Value) -> String {
    let created = create(app, Some(token), body).await;
    created.expect(201);
    created.str("id")
}

async fn read(app: &TestApp, id: &str, token: Option<&str>) -> Resp {
    app.get(&listing_path(id), token).await
}

/// The listing as its organisation sees it.
async fn inside(app: &TestApp, id: &str, token: &str) -> Value {
    let resp = read(app, id, Some(token)).await;
    resp.expect(200);
    resp.body.clone()
}

async fn status_of(app: &TestApp, id: &str, token: &str) -> String {
    inside(app, id, token).await["status"]
        .as_str()
        .expect("status")
        .to_owned()
}

/// An owner action without body: `submit`, `archive`.
async fn act(app: &TestApp, token: &str, id: &str, action: &str) -> Resp {
    app.call("POST", &action_path(id, action), Some(token), None, &[])
        .await
}

async fn edit(app: &TestApp, token: &str, id: &str, body: Value) -> Resp {
    app.patch(&listing_path(id), Some(token), body).await
}

/// A moderator decision; `reason` is sent as `{"reason": ...}` when given.
async fn moderate(
    app: &TestApp,
    token: Option<&str>,
    id: &str,
    action: &str,
    reason: Option<&str>,
) -> Resp {
    let body = reason.map(|r| json!({ "reason": r }));
    app.call("POST", &moderation_path(id, action), token, body, &[])
        .await
}

async fn submitted(app: &TestApp, owner: &TestUser, body: Value) -> String {
    let id = draft(app, &owner.access, body).await;
    act(app, &owner.access, &id, "submit").await.expect(200);
    id
}

async fn published(app: &TestApp, owner: &TestUser, mira: &TestUser, body: Value) -> String {
    let id = submitted(app, owner, body).await;
    moderate(app, Some(&mira.access), &id, "approve", None)
        .await
        .expect(200);
    id
}

async fn rejected(app: &TestApp, owner: &TestUser, mira: &TestUser, body: Value) -> String {
    let id = submitted(app, owner, body).await;
    moderate(app, Some(&mira.access), &id, "reject", Some(REJECT_REASON))
        .await
        .expect(200);
    id
}

async fn archived(app: &TestApp, owner: &TestUser, mira: &TestUser, body: Value) -> String {
    let id = published(app, owner, mira, body).await;
    act(app, &owner.access, &id, "archive").await.expect(200);
    id
}

async fn removed(app: &TestApp, owner: &TestUser, mira: &TestUser, body: Value) -> String {
    let id = published(app, owner, mira, body).await;
    moderate(app, Some(&mira.access), &id, "remove", Some(REMOVE_REASON))
        .await
        .expect(200);
    id
}

/// Ids found by `GET /listings?<query>`.
async fn search_ids(app: &TestApp, query: &str, token: Option<&str>) -> Vec<String> {
    let resp = app.get(&format!("/api/v1/listings?{query}"), token).await;
    resp.expect(200);
    resp.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {}", resp.text))
        .iter()
        .map(|item| item["id"].as_str().expect("id").to_owned())
        .collect()
}

/// Every listing of the organisation, whatever its status, as its member sees them.
async fn org_listing_ids(app: &TestApp, org: &str, token: &str) -> Vec<String> {
    search_ids(
        app,
        &format!(
            "org_id={org}&status=draft&status=pending_review&status=published\
             &status=rejected&status=archived&status=removed&limit=100"
        ),
        Some(token),
    )
    .await
}

async fn queue(app: &TestApp, mira: &TestUser) -> Resp {
    let resp = app
        .get("/api/v1/moderation/queue", Some(&mira.access))
        .await;
    resp.expect(200);
    resp
}

fn queue_ids(resp: &Resp) -> Vec<String> {
    resp.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {}", resp.text))
        .iter()
        .map(|item| item["id"].as_str().expect("id").to_owned())
        .collect()
}

// ---- assertions ------------------------------------------------------------------------

#[track_caller]
fn expect_invalid(resp: &Resp, field: &str) {
    resp.expect_problem(422);
    let fields = error_fields(resp);
    assert!(
        fields
            .iter()
            .any(|f| f == field || f.starts_with(&format!("{field}["))),
        "expected an error naming {field}, got {fields:?}"
    );
}

/// A 409 problem whose detail names the listing's current status.
#[track_caller]
fn expect_conflict(resp: &Resp, status: &str) {
    resp.expect_problem(409);
    let detail = resp.str("detail");
    assert!(
        detail.contains(status),
        "the detail should name the status {status}: {detail}"
    );
}

/// A one-element id list, to compare with search and queue results.
fn only(id: &str) -> Vec<String> {
    vec![id.to_owned()]
}

fn absent(body: &Value, field: &str) -> bool {
    body.get(field).is_none_or(Value::is_null)
}

fn tags(body: &Value) -> Vec<String> {
    body["tags"]
        .as_array()
        .unwrap_or_else(|| panic!("no tags in {body}"))
        .iter()
        .map(|t| t.as_str().expect("tag").to_owned())
        .collect()
}

// ---- create ----------------------------------------------------------------------------

async fn create_returns_a_draft_with_location_and_etag(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let expires = in_days(30);

    let body = json!({
        "org_id": org,
        "kind": "offer",
        "category": "expertise",
        "title": SERVICE_TITLE,
        "description": SERVICE_TEXT,
        "tags": ["  Kundenservice ", "SCHULUNG", "kundenservice", "Empfang"],
        "region": "Bayern",
        "trial_available": true,
        "expires_at": expires,
    });
    let created = create(&app, Some(&anna.access), body).await;
    created.expect(201);
    let id = created.str("id");
    assert_eq!(
        created.header("location").as_deref(),
        Some(listing_path(&id).as_str())
    );
    assert_eq!(created.header("etag").as_deref(), Some("\"1\""));
    let b = &created.body;
    assert_eq!(b["status"], json!("draft"));
    assert_eq!(b["version"], json!(1));
    assert_eq!(b["org_id"], json!(org));
    assert_eq!(b["kind"], json!("offer"));
    assert_eq!(b["category"], json!("expertise"));
    assert_eq!(b["title"], json!(SERVICE_TITLE));
    assert_eq!(b["description"], json!(SERVICE_TEXT));
    assert_eq!(tags(b), ["kundenservice", "schulung", "empfang"]);
    assert_eq!(b["industry"], json!("hospitality"), "the org's industry");
    assert_eq!(b["region"], json!("Bayern"));
    assert_eq!(b["trial_available"], json!(true));
    assert_eq!(instant(&b["expires_at"]), instant(&json!(expires)));
    assert!(b["published_at"].is_null());
    assert!(absent(b, "moderation_reason"));
    assert!(absent(b, "pending_changes"));

    // Stored as answered.
    let stored = read(&app, &id, Some(&anna.access)).await;
    stored.expect(200);
    assert_eq!(stored.header("etag").as_deref(), Some("\"1\""));
    for field in [
        "id",
        "org_id",
        "kind",
        "category",
        "title",
        "description",
        "tags",
        "industry",
        "region",
        "trial_available",
        "status",
        "version",
    ] {
        assert_eq!(stored.body[field], created.body[field], "field {field}");
    }
    assert_eq!(org_listing_ids(&app, &org, &anna.access).await, [id]);

    // An explicit industry wins (lower-cased); trial_available defaults to false.
    let gastro = create(
        &app,
        Some(&anna.access),
        with(charity_need(&org), "industry", json!("Gastronomie")),
    )
    .await;
    gastro.expect(201);
    assert_eq!(gastro.body["industry"], json!("gastronomie"));
    assert_eq!(gastro.body["kind"], json!("need"));
    assert_eq!(gastro.body["trial_available"], json!(false));
    assert!(gastro.body["region"].is_null());
    let stored = inside(&app, &gastro.str("id"), &anna.access).await;
    assert_eq!(stored["industry"], json!("gastronomie"));
}

async fn create_rejects_invalid_fields_naming_each(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let base = service_offer(&org);
    let eleven: Vec<String> = (1..=11).map(|i| format!("thema-{i}")).collect();

    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "two-character title",
            with(base.clone(), "title", json!("Ab")),
            "title",
        ),
        (
            "121-character title",
            with(base.clone(), "title", json!("Ü".repeat(121))),
            "title",
        ),
        (
            "5001-character description",
            with(base.clone(), "description", json!("ä".repeat(5001))),
            "description",
        ),
        ("no tags", with(base.clone(), "tags", json!([])), "tags"),
        ("11 tags", with(base.clone(), "tags", json!(eleven)), "tags"),
        (
            "one-character tag",
            with(base.clone(), "tags", json!(["kundenservice", "x"])),
            "tags",
        ),
        (
            "tag with a space",
            with(base.clone(), "tags", json!(["kunden service"])),
            "tags",
        ),
        (
            "tag with an umlaut",
            with(base.clone(), "tags", json!(["kundenservice", "bäckerei"])),
            "tags",
        ),
        (
            "unknown kind",
            with(base.clone(), "kind", json!("tauschhandel")),
            "kind",
        ),
        (
            "unknown category",
            with(base.clone(), "category", json!("geld")),
            "category",
        ),
        (
            "expiry in the past",
            with(base.clone(), "expires_at", json!("2000-01-01T00:00:00Z")),
            "expires_at",
        ),
    ];
    for (case, body, field) in cases {
        let resp = create(&app, Some(&anna.access), body).await;
        assert_eq!(resp.status, 422, "{case}: {}", resp.text);
        expect_invalid(&resp, field);
    }

    // Several problems at once are all named.
    let many = json!({
        "org_id": org,
        "kind": "offer",
        "category": "expertise",
        "title": "Ab",
        "description": "ä".repeat(5001),
        "tags": [],
    });
    let resp = create(&app, Some(&anna.access), many).await;
    resp.expect_problem(422);
    let fields = error_fields(&resp);
    for field in ["title", "description", "tags"] {
        assert!(fields.iter().any(|f| f == field), "{field} in {fields:?}");
    }

    // Nothing was stored.
    assert!(org_listing_ids(&app, &org, &anna.access).await.is_empty());

    // The limits themselves are accepted (counted in characters, not bytes).
    let longest = create(
        &app,
        Some(&anna.access),
        with(
            with(base.clone(), "title", json!("Ü".repeat(120))),
            "description",
            json!("ä".repeat(5000)),
        ),
    )
    .await;
    longest.expect(201);
    let ten: Vec<String> = (1..=10).map(|i| format!("thema-{i}")).collect();
    let shortest = create(
        &app,
        Some(&anna.access),
        with(with(base, "title", json!("Tee")), "tags", json!(ten)),
    )
    .await;
    shortest.expect(201);
    assert_eq!(tags(&shortest.body).len(), 10);
    assert_eq!(org_listing_ids(&app, &org, &anna.access).await.len(), 2);
}

async fn create_needs_a_member_or_a_write_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let (max, _) = alpenblick(&app).await;
    let jonas = app.member(&org, &anna, JONAS, "member").await;
    let read_key = app.api_key(&org, &anna, &["read"]).await;
    let write_key = app.api_key(&org, &anna, &["read", "write"]).await;

    create(&app, None, service_offer(&org))
        .await
        .expect_problem(401);
    create(&app, Some(&max.access), service_offer(&org))
        .await
        .expect_problem(403);
    create(&app, Some(&read_key), service_offer(&org))
        .await
        .expect_problem(403);
    let unknown = uuid::Uuid::new_v4().to_string();
    create(&app, Some(&anna.access), service_offer(&unknown))
        .await
        .expect_problem(404);
    assert!(org_listing_ids(&app, &org, &anna.access).await.is_empty());

    let by_key = create(&app, Some(&write_key), trial_offer(&org)).await;
    by_key.expect(201);
    assert_eq!(by_key.body["org_id"], json!(org));
    assert_eq!(by_key.body["status"], json!("draft"));
    let by_member = create(&app, Some(&jonas.access), charity_need(&org)).await;
    by_member.expect(201);

    let mut stored = org_listing_ids(&app, &org, &anna.access).await;
    stored.sort();
    let mut expected = vec![by_key.str("id"), by_member.str("id")];
    expected.sort();
    assert_eq!(stored, expected);
}

// ---- visibility ------------------------------------------------------------------------

async fn unpublished_listings_are_hidden_from_outsiders(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let (max, other_org) = alpenblick(&app).await;
    let mira = moderator(&app).await;
    let jonas = app.member(&org, &anna, JONAS, "member").await;
    let read_key = app.api_key(&org, &anna, &["read"]).await;
    let foreign_key = app.api_key(&other_org, &max, &["read", "write"]).await;

    let draft_id = draft(&app, &anna.access, service_offer(&org)).await;
    let pending_id = submitted(&app, &anna, trial_offer(&org)).await;
    let rejected_id = rejected(&app, &anna, &mira, charity_need(&org)).await;

    for (id, status) in [
        (&draft_id, "draft"),
        (&pending_id, "pending_review"),
        (&rejected_id, "rejected"),
    ] {
        read(&app, id, None).await.expect_problem(404);
        read(&app, id, Some(&max.access)).await.expect_problem(404);
        read(&app, id, Some(&foreign_key)).await.expect_problem(404);
        for (who, token) in [
            ("owner", anna.access.as_str()),
            ("member", jonas.access.as_str()),
            ("read key", read_key.as_str()),
            ("moderator", mira.access.as_str()),
        ] {
            let seen = read(&app, id, Some(token)).await;
            assert_eq!(seen.status, 200, "{who} reads the {status}: {}", seen.text);
            assert_eq!(seen.body["status"], json!(status), "{who}");
            assert_eq!(seen.body["org_id"], json!(org), "{who}");
        }

        // Outsiders cannot change what they cannot see either.
        edit(&app, &max.access, id, json!({"title": "Übernommen"}))
            .await
            .expect_problem(404);
        act(&app, &foreign_key, id, "submit")
            .await
            .expect_problem(404);
        app.delete(&listing_path(id), Some(&max.access))
            .await
            .expect_problem(404);
        assert_eq!(status_of(&app, id, &anna.access).await, status);
    }
    // The rejection reason is for insiders.
    for token in [&anna.access, &jonas.access, &read_key, &mira.access] {
        let seen = inside(&app, &rejected_id, token).await;
        assert_eq!(seen["moderation_reason"], json!(REJECT_REASON));
    }

    // The catalogue does not leak them either.
    for token in [None, Some(max.access.as_str())] {
        assert!(search_ids(&app, &format!("org_id={org}"), token)
            .await
            .is_empty());
        app.get(
            &format!("/api/v1/listings?org_id={org}&status=draft"),
            token,
        )
        .await
        .expect_problem(403);
    }
    let mut own = org_listing_ids(&app, &org, &jonas.access).await;
    own.sort();
    let mut all = vec![draft_id, pending_id, rejected_id];
    all.sort();
    assert_eq!(own, all);
}

async fn published_listings_are_public_without_moderation_details(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let (max, _) = alpenblick(&app).await;
    let mira = moderator(&app).await;
    let read_key = app.api_key(&org, &anna, &["read"]).await;
    let id = published(&app, &anna, &mira, service_offer(&org)).await;

    for token in [None, Some(max.access.as_str())] {
        let public = read(&app, &id, token).await;
        public.expect(200);
        assert_eq!(public.body["status"], json!("published"));
        assert_eq!(public.body["title"], json!(SERVICE_TITLE));
    }

    // A rejected edit leaves a reason: private to insiders.
    edit(
        &app,
        &anna.access,
        &id,
        json!({"title": "Außergewöhnlicher Kundenservice: garantierte Gegenleistung"}),
    )
    .await
    .expect(200);
    moderate(&app, Some(&mira.access), &id, "reject", Some(REJECT_REASON))
        .await
        .expect(200);
    for token in [None, Some(max.access.as_str())] {
        let public = read(&app, &id, token).await;
        public.expect(200);
        assert_eq!(public.body["title"], json!(SERVICE_TITLE));
        assert!(absent(&public.body, "moderation_reason"), "{}", public.text);
    }
    for token in [&anna.access, &read_key, &mira.access] {
        let private = inside(&app, &id, token).await;
        assert_eq!(private["moderation_reason"], json!(REJECT_REASON));
    }

    // A pending edit: private to insiders.
    edit(
        &app,
        &anna.access,
        &id,
        json!({"title": "Außergewöhnlicher Kundenservice: Schulung mit Rollenspielen"}),
    )
    .await
    .expect(200);
    for token in [None, Some(max.access.as_str())] {
        let public = read(&app, &id, token).await;
        public.expect(200);
        assert_eq!(public.body["title"], json!(SERVICE_TITLE));
        assert!(absent(&public.body, "pending_changes"), "{}", public.text);
        assert!(absent(&public.body, "moderation_reason"), "{}", public.text);
    }
    for token in [&anna.access, &read_key, &mira.access] {
        let private = inside(&app, &id, token).await;
        assert_eq!(private["title"], json!(SERVICE_TITLE));
        assert_eq!(
            private["pending_changes"]["title"],
            json!("Außergewöhnlicher Kundenservice: Schulung mit Rollenspielen")
        );
    }
    // The public search shows the public side only.
    let found = app
        .get(&format!("/api/v1/listings?org_id={org}"), None)
        .await;
    found.expect(200);
    let item = &found.body["items"][0];
    assert_eq!(item["id"], json!(id));
    assert!(absent(item, "pending_changes"), "{item}");
    assert!(absent(item, "moderation_reason"), "{item}");
}

// ---- lifecycle -------------------------------------------------------------------------

async fn listing_goes_from_draft_through_review_to_archive(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let mira = moderator(&app).await;
    let id = draft(&app, &anna.access, service_offer(&org)).await;

    let submitted = act(&app, &anna.access, &id, "submit").await;
    submitted.expect(200);
    assert_eq!(submitted.body["status"], json!("pending_review"));
    assert_eq!(submitted.body["version"], json!(2));
    assert_eq!(submitted.header("etag").as_deref(), Some("\"2\""));
    assert!(submitted.body["published_at"].is_null());
    assert_eq!(status_of(&app, &id, &anna.access).await, "pending_review");
    read(&app, &id, None).await.expect_problem(404);
    let waiting = queue(&app, &mira).await;
    assert_eq!(queue_ids(&waiting), only(&id));
    assert_eq!(waiting.body["counts"]["pending_review"], json!(1));

    let approved = moderate(&app, Some(&mira.access), &id, "approve", None).await;
    approved.expect(200);
    assert_eq!(approved.body["status"], json!("published"));
    let published_at = instant(&approved.body["published_at"]);
    assert!((Utc::now() - published_at).num_minutes().abs() < 5);
    let public = read(&app, &id, None).await;
    public.expect(200);
    assert_eq!(public.body["status"], json!("published"));
    assert_eq!(instant(&public.body["published_at"]), published_at);
    assert_eq!(
        search_ids(&app, &format!("org_id={org}"), None).await,
        only(&id)
    );
    assert_eq!(search_ids(&app, "q=empfangsteams", None).await, only(&id));
    let after = queue(&app, &mira).await;
    assert!(queue_ids(&after).is_empty());
    assert_eq!(after.body["counts"]["pending_review"], json!(0));

    let archived = act(&app, &anna.access, &id, "archive").await;
    archived.expect(200);
    assert_eq!(archived.body["status"], json!("archived"));
    assert_eq!(status_of(&app, &id, &anna.access).await, "archived");
    read(&app, &id, None).await.expect_problem(404);
    assert!(search_ids(&app, &format!("org_id={org}"), None)
        .await
        .is_empty());
    assert!(search_ids(&app, "q=empfangsteams", None).await.is_empty());
}

async fn rejected_listing_is_edited_and_resubmitted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let mira = moderator(&app).await;
    let id = submitted(&app, &anna, trial_offer(&org)).await;

    let rejected = moderate(&app, Some(&mira.access), &id, "reject", Some(REJECT_REASON)).await;
    rejected.expect(200);
    assert_eq!(rejected.body["status"], json!("rejected"));
    assert_eq!(rejected.body["moderation_reason"], json!(REJECT_REASON));
    let seen = inside(&app, &id, &anna.access).await;
    assert_eq!(seen["status"], json!("rejected"));
    assert_eq!(seen["moderation_reason"], json!(REJECT_REASON));
    read(&app, &id, None).await.expect_problem(404);

    let edited = edit(
        &app,
        &anna.access,
        &id,
        json!({
            "title": "Unverbindlich testen: Probemonat Buchhaltungssoftware ohne Abo",
            "tags": ["probemonat", "buchhaltung", "Muster"],
        }),
    )
    .await;
    edited.expect(200);
    assert_eq!(edited.body["status"], json!("rejected"));
    let seen = inside(&app, &id, &anna.access).await;
    assert_eq!(
        seen["title"],
        json!("Unverbindlich testen: Probemonat Buchhaltungssoftware ohne Abo")
    );
    assert_eq!(tags(&seen), ["probemonat", "buchhaltung", "muster"]);

    let resubmitted = act(&app, &anna.access, &id, "submit").await;
    resubmitted.expect(200);
    assert_eq!(resubmitted.body["status"], json!("pending_review"));
    assert!(absent(&resubmitted.body, "moderation_reason"));
    let seen = inside(&app, &id, &anna.access).await;
    assert_eq!(seen["status"], json!("pending_review"));
    assert!(absent(&seen, "moderation_reason"), "{seen}");
    assert_eq!(queue_ids(&queue(&app, &mira).await), only(&id));

    moderate(&app, Some(&mira.access), &id, "approve", None)
        .await
        .expect(200);
    let public = read(&app, &id, None).await;
    public.expect(200);
    assert_eq!(
        public.body["title"],
        json!("Unverbindlich testen: Probemonat Buchhaltungssoftware ohne Abo")
    );
}

async fn removed_listing_is_hidden_until_restored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let mira = moderator(&app).await;
    let id = published(&app, &anna, &mira, service_offer(&org)).await;
    assert_eq!(search_ids(&app, "q=kundenservice", None).await, only(&id));

    let removed = moderate(&app, Some(&mira.access), &id, "remove", Some(REMOVE_REASON)).await;
    removed.expect(200);
    assert_eq!(removed.body["status"], json!("removed"));
    assert_eq!(removed.body["moderation_reason"], json!(REMOVE_REASON));
    read(&app, &id, None).await.expect_problem(404);
    assert!(search_ids(&app, "q=kundenservice", None).await.is_empty());
    let seen = inside(&app, &id, &anna.access).await;
    assert_eq!(seen["status"], json!("removed"));
    assert_eq!(seen["moderation_reason"], json!(REMOVE_REASON));

    let restored = moderate(&app, Some(&mira.access), &id, "restore", None).await;
    restored.expect(200);
    assert_eq!(restored.body["status"], json!("published"));
    let public = read(&app, &id, None).await;
    public.expect(200);
    assert_eq!(public.body["status"], json!("published"));
    assert_eq!(public.body["title"], json!(SERVICE_TITLE));
    assert_eq!(search_ids(&app, "q=kundenservice", None).await, only(&id));
    assert!(absent(
        &inside(&app, &id, &anna.access).await,
        "moderation_reason"
    ));

    // A listing removed while pending goes back to review.
    let pending = submitted(&app, &anna, trial_offer(&org)).await;
    moderate(
        &app,
        Some(&mira.access),
        &pending,
        "remove",
        Some(REMOVE_REASON),
    )
    .await
    .expect(200);
    assert_eq!(status_of(&app, &pending, &anna.access).await, "removed");
    let back = moderate(&app, Some(&mira.access), &pending, "restore", None).await;
    back.expect(200);
    assert_eq!(back.body["status"], json!("pending_review"));
    assert_eq!(
        status_of(&app, &pending, &anna.access).await,
        "pending_review"
    );
    read(&app, &pending, None).await.expect_problem(404);
}

// ---- illegal transitions ---------------------------------------------------------------

async fn submit_is_only_for_drafts_and_rejected_listings(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let mira = moderator(&app).await;
    let pending = submitted(&app, &anna, service_offer(&org)).await;
    let public = published(&app, &anna, &mira, trial_offer(&org)).await;
    let gone = archived(&app, &anna, &mira, charity_need(&org)).await;
    let hidden = removed(&app, &anna, &mira, service_offer(&org)).await;

    for (id, status) in [
        (&pending, "pending_review"),
        (&public, "published"),
        (&gone, "archived"),
        (&hidden, "removed"),
    ] {
        let version = inside(&app, id, &anna.access).await["version"].clone();
        expect_conflict(&act(&app, &anna.access, id, "submit").await, status);
        let after = inside(&app, id, &anna.access).await;
        assert_eq!(after["status"], json!(status));
        assert_eq!(after["version"], version, "unchanged");
    }
}

async fn archive_is_only_for_published_listings(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let mira = moderator(&app).await;
    let drafted = draft(&app, &anna.access, service_offer(&org)).await;
    let pending = submitted(&app, &anna, trial_offer(&org)).await;
    let turned_down = rejected(&app, &anna, &mira, charity_need(&org)).await;
    let gone = archived(&app, &anna, &mira, service_offer(&org)).await;

    for (id, status) in [
        (&drafted, "draft"),
        (&pending, "pending_review"),
        (&turned_down, "rejected"),
        (&gone, "archived"),
    ] {
        expect_conflict(&act(&app, &anna.access, id, "archive").await, status);
        assert_eq!(status_of(&app, id, &anna.access).await, status);
    }
}

/// Moderators cannot see drafts in the queue and cannot act on them: by design the
/// moderation endpoints answer 404 for a draft (it is private to its organisation until
/// submitted), not 409 — even though `GET /listings/{id}` shows it to a moderator.
async fn moderators_cannot_act_on_drafts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let mira = moderator(&app).await;
    let id = draft(&app, &anna.access, service_offer(&org)).await;

    moderate(&app, Some(&mira.access), &id, "approve", None)
        .await
        .expect_problem(404);
    moderate(&app, Some(&mira.access), &id, "reject", Some(REJECT_REASON))
        .await
        .expect_problem(404);
    moderate(&app, Some(&mira.access), &id, "remove", Some(REMOVE_REASON))
        .await
        .expect_problem(404);
    moderate(&app, Some(&mira.access), &id, "restore", None)
        .await
        .expect_problem(404);
    let seen = inside(&app, &id, &anna.access).await;
    assert_eq!(seen["status"], json!("draft"));
    assert_eq!(seen["version"], json!(1));
    assert!(queue_ids(&queue(&app, &mira).await).is_empty());
    read(&app, &id, None).await.expect_problem(404);
}

async fn decisions_conflict_when_nothing_waits_for_review(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let mira = moderator(&app).await;
    let public = published(&app, &anna, &mira, service_offer(&org)).await;
    let turned_down = rejected(&app, &anna, &mira, trial_offer(&org)).await;
    let gone = archived(&app, &anna, &mira, charity_need(&org)).await;

    // A published listing without a pending edit: nothing to approve or reject.
    expect_conflict(
        &moderate(&app, Some(&mira.access), &public, "approve", None).await,
        "published",
    );
    expect_conflict(
        &moderate(
            &app,
            Some(&mira.access),
            &public,
            "reject",
            Some(REJECT_REASON),
        )
        .await,
        "published",
    );
    let seen = read(&app, &public, None).await;
    seen.expect(200);
    assert_eq!(seen.body["status"], json!("published"));
    assert_eq!(seen.body["version"], json!(3));
    assert!(absent(
        &inside(&app, &public, &anna.access).await,
        "moderation_reason"
    ));

    // Rejected and archived listings are not under review either.
    for (id, status) in [(&turned_down, "rejected"), (&gone, "archived")] {
        expect_conflict(
            &moderate(&app, Some(&mira.access), id, "approve", None).await,
            status,
        );
        expect_conflict(
            &moderate(&app, Some(&mira.access), id, "reject", Some(REJECT_REASON)).await,
            status,
        );
        assert_eq!(status_of(&app, id, &anna.access).await, status);
    }
}

async fn restore_and_remove_conflict_in_the_wrong_status(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let mira = moderator(&app).await;
    let public = published(&app, &anna, &mira, service_offer(&org)).await;
    let pending = submitted(&app, &anna, trial_offer(&org)).await;
    let hidden = removed(&app, &anna, &mira, charity_need(&org)).await;

    for (id, status) in [(&public, "published"), (&pending, "pending_review")] {
        expect_conflict(
            &moderate(&app, Some(&mira.access), id, "restore", None).await,
            status,
        );
        assert_eq!(status_of(&app, id, &anna.access).await, status);
    }
    read(&app, &public, None).await.expect(200);

    expect_conflict(
        &moderate(
            &app,
            Some(&mira.access),
            &hidden,
            "remove",
            Some(REJECT_REASON),
        )
        .await,
        "removed",
    );
    let seen = inside(&app, &hidden, &anna.access).await;
    assert_eq!(seen["status"], json!("removed"));
    assert_eq!(
        seen["moderation_reason"],
        json!(REMOVE_REASON),
        "first reason kept"
    );
}

async fn edits_are_refused_while_pending_archived_or_removed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let mira = moderator(&app).await;
    let pending = submitted(&app, &anna, service_offer(&org)).await;
    let gone = archived(&app, &anna, &mira, trial_offer(&org)).await;
    let hidden = removed(&app, &anna, &mira, charity_need(&org)).await;

    for (id, status) in [
        (&pending, "pending_review"),
        (&gone, "archived"),
        (&hidden, "removed"),
    ] {
        let before = inside(&app, id, &anna.access).await;
        let resp = edit(
            &app,
            &anna.access,
            id,
            json!({"title": "Zusammenarbeit und Partnerschaft", "region": "Tirol"}),
        )
        .await;
        expect_conflict(&resp, status);
        let after = inside(&app, id, &anna.access).await;
        assert_eq!(after["title"], before["title"]);
        assert_eq!(after["region"], before["region"]);
        assert_eq!(after["version"], before["version"]);
        assert!(absent(&after, "pending_changes"));
    }
}

async fn delete_depends_on_the_status(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let mira = moderator(&app).await;
    let public = published(&app, &anna, &mira, service_offer(&org)).await;
    let pending = submitted(&app, &anna, trial_offer(&org)).await;
    let hidden = removed(&app, &anna, &mira, charity_need(&org)).await;

    for (id, status) in [
        (&public, "published"),
        (&pending, "pending_review"),
        (&hidden, "removed"),
    ] {
        expect_conflict(
            &app.delete(&listing_path(id), Some(&anna.access)).await,
            status,
        );
        assert_eq!(status_of(&app, id, &anna.access).await, status);
    }
    read(&app, &public, None).await.expect(200);

    let drafted = draft(&app, &anna.access, service_offer(&org)).await;
    let turned_down = rejected(&app, &anna, &mira, trial_offer(&org)).await;
    let gone = archived(&app, &anna, &mira, charity_need(&org)).await;
    for id in [&drafted, &turned_down, &gone] {
        let deleted = app.delete(&listing_path(id), Some(&anna.access)).await;
        deleted.expect(204);
        assert!(deleted.text.is_empty());
        read(&app, id, Some(&anna.access)).await.expect_problem(404);
        read(&app, id, Some(&mira.access)).await.expect_problem(404);
        app.delete(&listing_path(id), Some(&anna.access))
            .await
            .expect_problem(404);
    }
    let mut left = org_listing_ids(&app, &org, &anna.access).await;
    left.sort();
    let mut expected = vec![public, pending, hidden];
    expected.sort();
    assert_eq!(left, expected);
}

// ---- editing published listings --------------------------------------------------------

const EDITED_TITLE: &str = "Außergewöhnlicher Kundenservice: Rezeptionstraining mit Rollenspielen";
const EDITED_TEXT: &str = "Ein Tag Rezeptionstraining: Rollenspiele zeigen, wie Wertschätzung \
     und Aufmerksamkeit Gegenseitigkeit fördern.";

async fn edit_of_published_text_waits_for_review(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let mira = moderator(&app).await;
    let id = published(&app, &anna, &mira, service_offer(&org)).await;
    assert_eq!(search_ids(&app, "q=empfangsteams", None).await, only(&id));
    let etag = read(&app, &id, Some(&anna.access))
        .await
        .header("etag")
        .expect("etag");

    let edited = app
        .call(
            "PATCH",
            &listing_path(&id),
            Some(&anna.access),
            Some(json!({
                "title": EDITED_TITLE,
                "description": EDITED_TEXT,
                "tags": ["Kundenservice", "rezeption"],
            })),
            &[("If-Match", etag.as_str())],
        )
        .await;
    edited.expect(200);
    assert_eq!(edited.body["status"], json!("published"));
    assert_eq!(edited.body["title"], json!(SERVICE_TITLE));
    assert_eq!(edited.body["pending_changes"]["title"], json!(EDITED_TITLE));

    // The approved text stays public and searchable; the new text is not.
    let public = read(&app, &id, None).await;
    public.expect(200);
    assert_eq!(public.body["title"], json!(SERVICE_TITLE));
    assert_eq!(public.body["description"], json!(SERVICE_TEXT));
    assert_eq!(tags(&public.body), ["kundenservice", "schulung"]);
    assert!(absent(&public.body, "pending_changes"));
    assert!(search_ids(&app, "q=rezeptionstraining", None)
        .await
        .is_empty());
    assert!(search_ids(&app, "tag=rezeption", None).await.is_empty());
    assert_eq!(search_ids(&app, "q=empfangsteams", None).await, only(&id));

    // The owner sees what waits.
    let own = inside(&app, &id, &anna.access).await;
    assert_eq!(own["title"], json!(SERVICE_TITLE));
    let pending = &own["pending_changes"];
    assert_eq!(pending["title"], json!(EDITED_TITLE));
    assert_eq!(pending["description"], json!(EDITED_TEXT));
    assert_eq!(tags(pending), ["kundenservice", "rezeption"]);

    // It is in the moderators' queue as a pending change.
    let waiting = queue(&app, &mira).await;
    assert_eq!(queue_ids(&waiting), only(&id));
    assert_eq!(waiting.body["counts"]["pending_changes"], json!(1));
    assert_eq!(waiting.body["counts"]["pending_review"], json!(0));
    assert_eq!(
        waiting.body["items"][0]["pending_changes"]["title"],
        json!(EDITED_TITLE)
    );

    // Approval makes the new text public and searchable, the old one leaves the index.
    let approved = moderate(&app, Some(&mira.access), &id, "approve", None).await;
    approved.expect(200);
    assert_eq!(approved.body["status"], json!("published"));
    assert_eq!(approved.body["title"], json!(EDITED_TITLE));
    let public = read(&app, &id, None).await;
    public.expect(200);
    assert_eq!(public.body["title"], json!(EDITED_TITLE));
    assert_eq!(public.body["description"], json!(EDITED_TEXT));
    assert_eq!(tags(&public.body), ["kundenservice", "rezeption"]);
    assert!(absent(
        &inside(&app, &id, &anna.access).await,
        "pending_changes"
    ));
    assert_eq!(
        search_ids(&app, "q=rezeptionstraining", None).await,
        only(&id)
    );
    assert_eq!(search_ids(&app, "tag=rezeption", None).await, only(&id));
    assert!(search_ids(&app, "q=empfangsteams", None).await.is_empty());
    let after = queue(&app, &mira).await;
    assert!(queue_ids(&after).is_empty());
    assert_eq!(after.body["counts"]["pending_changes"], json!(0));

    // A second edit, rejected: the approved text stays, the edit is dropped.
    edit(
        &app,
        &anna.access,
        &id,
        json!({"title": "Außergewöhnlicher Kundenservice: Telefontraining mit Erfolgsgarantie"}),
    )
    .await
    .expect(200);
    let own = inside(&app, &id, &anna.access).await;
    assert_eq!(
        own["pending_changes"]["description"],
        json!(EDITED_TEXT),
        "untouched fields carry over into the pending edit"
    );
    let turned_down = moderate(&app, Some(&mira.access), &id, "reject", Some(REJECT_REASON)).await;
    turned_down.expect(200);
    assert_eq!(turned_down.body["status"], json!("published"));
    let public = read(&app, &id, None).await;
    public.expect(200);
    assert_eq!(public.body["title"], json!(EDITED_TITLE));
    assert!(absent(&public.body, "moderation_reason"));
    let own = inside(&app, &id, &anna.access).await;
    assert_eq!(own["status"], json!("published"));
    assert_eq!(own["title"], json!(EDITED_TITLE));
    assert!(absent(&own, "pending_changes"), "{own}");
    assert_eq!(own["moderation_reason"], json!(REJECT_REASON));
    assert!(search_ids(&app, "q=telefontraining", None).await.is_empty());
    assert!(queue_ids(&queue(&app, &mira).await).is_empty());
}

async fn non_text_fields_of_published_listing_apply_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let mira = moderator(&app).await;
    let id = published(&app, &anna, &mira, service_offer(&org)).await;
    let expires = in_days(60);

    let edited = edit(
        &app,
        &anna.access,
        &id,
        json!({"region": "Tirol", "trial_available": true, "expires_at": expires}),
    )
    .await;
    edited.expect(200);
    assert_eq!(edited.body["region"], json!("Tirol"));
    assert!(absent(&edited.body, "pending_changes"));

    let public = read(&app, &id, None).await;
    public.expect(200);
    assert_eq!(public.body["status"], json!("published"));
    assert_eq!(public.body["region"], json!("Tirol"));
    assert_eq!(public.body["trial_available"], json!(true));
    assert_eq!(
        instant(&public.body["expires_at"]),
        instant(&json!(expires))
    );
    assert_eq!(public.body["title"], json!(SERVICE_TITLE));
    assert_eq!(search_ids(&app, "region=Tirol", None).await, only(&id));
    assert_eq!(search_ids(&app, "trial=true", None).await, only(&id));
    assert!(search_ids(&app, "region=Bayern", None).await.is_empty());

    // Nothing went to review.
    let waiting = queue(&app, &mira).await;
    assert!(queue_ids(&waiting).is_empty());
    assert_eq!(waiting.body["counts"]["pending_changes"], json!(0));
    assert!(absent(
        &inside(&app, &id, &anna.access).await,
        "pending_changes"
    ));
}

async fn category_and_industry_of_published_listing_are_fixed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let mira = moderator(&app).await;
    let id = published(&app, &anna, &mira, service_offer(&org)).await;

    edit(&app, &anna.access, &id, json!({"category": "resource"}))
        .await
        .expect_problem(409);
    edit(&app, &anna.access, &id, json!({"industry": "einzelhandel"}))
        .await
        .expect_problem(409);
    let seen = inside(&app, &id, &anna.access).await;
    assert_eq!(seen["category"], json!("expertise"));
    assert_eq!(seen["industry"], json!("hospitality"));
    assert_eq!(seen["version"], json!(3));

    // On a draft both may change.
    let drafted = draft(&app, &anna.access, trial_offer(&org)).await;
    let changed = edit(
        &app,
        &anna.access,
        &drafted,
        json!({"category": "expertise", "industry": "Einzelhandel"}),
    )
    .await;
    changed.expect(200);
    let seen = inside(&app, &drafted, &anna.access).await;
    assert_eq!(seen["category"], json!("expertise"));
    assert_eq!(seen["industry"], json!("einzelhandel"));
}

// ---- If-Match --------------------------------------------------------------------------

async fn if_match_guards_against_lost_updates(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let id = draft(&app, &anna.access, service_offer(&org)).await;
    let path = listing_path(&id);

    let first = app
        .call(
            "PATCH",
            &path,
            Some(&anna.access),
            Some(json!({"title": "Aussergewöhnlicher Kundenservice für Hotels"})),
            &[("If-Match", "\"1\"")],
        )
        .await;
    first.expect(200);
    assert_eq!(first.header("etag").as_deref(), Some("\"2\""));
    assert_eq!(first.body["version"], json!(2));

    // A second writer still holding version 1 loses.
    let stale = app
        .call(
            "PATCH",
            &path,
            Some(&anna.access),
            Some(json!({"title": "Überholter Titel", "region": "Tirol"})),
            &[("If-Match", "\"1\"")],
        )
        .await;
    stale.expect_problem(412);
    let garbage = app
        .call(
            "PATCH",
            &path,
            Some(&anna.access),
            Some(json!({"title": "Überholter Titel"})),
            &[("If-Match", "irgendwas")],
        )
        .await;
    garbage.expect_problem(412);
    let seen = read(&app, &id, Some(&anna.access)).await;
    seen.expect(200);
    assert_eq!(seen.header("etag").as_deref(), Some("\"2\""));
    assert_eq!(
        seen.body["title"],
        json!("Aussergewöhnlicher Kundenservice für Hotels")
    );
    assert_eq!(seen.body["region"], json!("Bayern"));

    // Absent fields stay; `null` clears the region.
    let other = app
        .call(
            "PATCH",
            &path,
            Some(&anna.access),
            Some(json!({"trial_available": true})),
            &[("If-Match", "\"2\"")],
        )
        .await;
    other.expect(200);
    assert_eq!(other.header("etag").as_deref(), Some("\"3\""));
    assert_eq!(other.body["region"], json!("Bayern"));
    let cleared = app
        .call(
            "PATCH",
            &path,
            Some(&anna.access),
            Some(json!({"region": null})),
            &[("If-Match", "\"3\"")],
        )
        .await;
    cleared.expect(200);
    assert_eq!(cleared.header("etag").as_deref(), Some("\"4\""));
    let seen = read(&app, &id, Some(&anna.access)).await;
    assert_eq!(seen.header("etag").as_deref(), Some("\"4\""));
    assert!(seen.body["region"].is_null(), "{}", seen.text);
    assert_eq!(seen.body["trial_available"], json!(true));
    assert_eq!(seen.body["version"], json!(4));
    assert_eq!(tags(&seen.body), ["kundenservice", "schulung"]);
}

// ---- quotas ----------------------------------------------------------------------------

async fn listing_quota_limits_live_listings(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.listing_quota = 2).await;
    let (anna, org) = sonne(&app).await;
    let first = draft(&app, &anna.access, service_offer(&org)).await;
    let second = draft(&app, &anna.access, trial_offer(&org)).await;

    let third = create(&app, Some(&anna.access), charity_need(&org)).await;
    third.expect_problem(422);
    assert!(third.str("detail").contains('2'), "{}", third.text);
    let mut stored = org_listing_ids(&app, &org, &anna.access).await;
    stored.sort();
    let mut expected = vec![first.clone(), second];
    expected.sort();
    assert_eq!(stored, expected);

    // Deleting one frees a slot.
    app.delete(&listing_path(&first), Some(&anna.access))
        .await
        .expect(204);
    create(&app, Some(&anna.access), charity_need(&org))
        .await
        .expect(201);
    assert_eq!(org_listing_ids(&app, &org, &anna.access).await.len(), 2);
}

async fn daily_submission_quota_answers_429(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.submissions_per_day = 1).await;
    let (anna, org) = sonne(&app).await;
    let first = draft(&app, &anna.access, service_offer(&org)).await;
    let second = draft(&app, &anna.access, trial_offer(&org)).await;

    act(&app, &anna.access, &first, "submit").await.expect(200);
    let throttled = act(&app, &anna.access, &second, "submit").await;
    throttled.expect_problem(429);
    let retry: u64 = throttled
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=86_400).contains(&retry), "Retry-After {retry}");

    assert_eq!(
        status_of(&app, &first, &anna.access).await,
        "pending_review"
    );
    let seen = inside(&app, &second, &anna.access).await;
    assert_eq!(seen["status"], json!("draft"));
    assert_eq!(seen["version"], json!(1));
}

// ---- suspended organisations -----------------------------------------------------------

/// A suspended organisation's published listings vanish for the public everywhere — by
/// id, in their matches and as report targets — while its own members still see them.
async fn suspended_organisations_listings_are_hidden_from_the_public(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let mira = moderator(&app).await;
    let public = published(&app, &anna, &mira, trial_offer(&org)).await;
    read(&app, &public, None).await.expect(200);
    app.get(&format!("/api/v1/listings/{public}/matches"), None)
        .await
        .expect(200);

    app.suspend_org_in_db(&org);

    read(&app, &public, None).await.expect_problem(404);
    app.get(&format!("/api/v1/listings/{public}/matches"), None)
        .await
        .expect_problem(404);
    let outsider = app.user("lea@seehotel.example").await;
    read(&app, &public, Some(&outsider.access))
        .await
        .expect_problem(404);
    let report = app
        .post(
            "/api/v1/reports",
            Some(&outsider.access),
            json!({"target_type": "listing", "target_id": public, "reason": "spam", "details": ""}),
        )
        .await;
    report.expect_problem(404);
    let own = read(&app, &public, Some(&anna.access)).await;
    own.expect(200);
    assert_eq!(own.body["status"], json!("published"));
    read(&app, &public, Some(&mira.access)).await.expect(200);
}

async fn suspended_organisation_cannot_write_listings(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let mira = moderator(&app).await;
    let jonas = app.member(&org, &anna, JONAS, "member").await;
    let write_key = app.api_key(&org, &anna, &["read", "write"]).await;
    let drafted = draft(&app, &anna.access, service_offer(&org)).await;
    let public = published(&app, &anna, &mira, trial_offer(&org)).await;
    assert_eq!(search_ids(&app, "q=probemonat", None).await, only(&public));

    app.suspend_org_in_db(&org);

    for token in [&anna.access, &jonas.access, &write_key] {
        create(&app, Some(token), charity_need(&org))
            .await
            .expect_problem(403);
        edit(
            &app,
            token,
            &drafted,
            json!({"title": "Gesperrt, aber geändert"}),
        )
        .await
        .expect_problem(403);
        edit(&app, token, &public, json!({"region": "Tirol"}))
            .await
            .expect_problem(403);
        act(&app, token, &drafted, "submit")
            .await
            .expect_problem(403);
        act(&app, token, &public, "archive")
            .await
            .expect_problem(403);
        app.delete(&listing_path(&drafted), Some(token))
            .await
            .expect_problem(403);
    }

    // Nothing changed, and the organisation can still read its listings.
    let seen = inside(&app, &drafted, &anna.access).await;
    assert_eq!(seen["status"], json!("draft"));
    assert_eq!(seen["title"], json!(SERVICE_TITLE));
    assert_eq!(seen["version"], json!(1));
    let seen = inside(&app, &public, &write_key).await;
    assert_eq!(seen["status"], json!("published"));
    assert_eq!(seen["region"], Value::Null);
    let mut stored = org_listing_ids(&app, &org, &jonas.access).await;
    stored.sort();
    let mut expected = vec![drafted, public];
    expected.sort();
    assert_eq!(stored, expected);
    // Its listings leave the public search.
    assert!(search_ids(&app, "q=probemonat", None).await.is_empty());
}

// ---- expiry ----------------------------------------------------------------------------

async fn expired_listing_leaves_the_public_catalogue(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let (max, _) = alpenblick(&app).await;
    let mira = moderator(&app).await;
    let read_key = app.api_key(&org, &anna, &["read"]).await;
    let id = published(
        &app,
        &anna,
        &mira,
        with(service_offer(&org), "expires_at", json!(in_days(10))),
    )
    .await;
    let lasting = published(&app, &anna, &mira, trial_offer(&org)).await;
    read(&app, &id, None).await.expect(200);
    assert_eq!(search_ids(&app, "q=empfangsteams", None).await, only(&id));

    app.expire_listing(&id);

    read(&app, &id, None).await.expect_problem(404);
    read(&app, &id, Some(&max.access)).await.expect_problem(404);
    assert!(search_ids(&app, "q=empfangsteams", None).await.is_empty());
    assert_eq!(
        search_ids(&app, &format!("org_id={org}"), None).await,
        only(&lasting)
    );
    assert_eq!(
        search_ids(&app, "q=kundenservice", Some(&max.access)).await,
        Vec::<String>::new()
    );

    // Its organisation still sees it, unchanged.
    for token in [&anna.access, &read_key] {
        let seen = inside(&app, &id, token).await;
        assert_eq!(seen["status"], json!("published"));
        assert_eq!(
            instant(&seen["expires_at"]),
            instant(&json!("2000-01-01T00:00:00Z"))
        );
    }
    read(&app, &lasting, None).await.expect(200);
}

// ---- moderator endpoints ---------------------------------------------------------------

async fn moderator_endpoints_refuse_members_keys_and_anonymous(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let write_key = app.api_key(&org, &anna, &["read", "write"]).await;
    let pending = submitted(&app, &anna, service_offer(&org)).await;

    let queue_path = "/api/v1/moderation/queue";
    app.get(queue_path, None).await.expect_problem(401);
    app.get(queue_path, Some(&anna.access))
        .await
        .expect_problem(403);
    app.get(queue_path, Some(&write_key))
        .await
        .expect_problem(403);

    for (action, reason) in [
        ("approve", None),
        ("reject", Some(REJECT_REASON)),
        ("remove", Some(REMOVE_REASON)),
        ("restore", None),
    ] {
        moderate(&app, None, &pending, action, reason)
            .await
            .expect_problem(401);
        moderate(&app, Some(&anna.access), &pending, action, reason)
            .await
            .expect_problem(403);
        moderate(&app, Some(&write_key), &pending, action, reason)
            .await
            .expect_problem(403);
    }
    let seen = inside(&app, &pending, &anna.access).await;
    assert_eq!(seen["status"], json!("pending_review"));
    assert_eq!(seen["version"], json!(2));
    assert!(absent(&seen, "moderation_reason"));
}

async fn reject_and_remove_require_a_reason(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let mira = moderator(&app).await;
    let pending = submitted(&app, &anna, service_offer(&org)).await;
    let public = published(&app, &anna, &mira, trial_offer(&org)).await;

    for (id, action) in [
        (&pending, "reject"),
        (&pending, "remove"),
        (&public, "remove"),
    ] {
        let missing = app
            .call(
                "POST",
                &moderation_path(id, action),
                Some(&mira.access),
                Some(json!({})),
                &[],
            )
            .await;
        expect_invalid(&missing, "reason");
        expect_invalid(
            &moderate(&app, Some(&mira.access), id, action, Some("ok")).await,
            "reason",
        );
        expect_invalid(
            &moderate(&app, Some(&mira.access), id, action, Some("   ")).await,
            "reason",
        );
    }
    let seen = inside(&app, &pending, &anna.access).await;
    assert_eq!(seen["status"], json!("pending_review"));
    assert!(absent(&seen, "moderation_reason"));
    let seen = read(&app, &public, None).await;
    seen.expect(200);
    assert_eq!(seen.body["status"], json!("published"));
}

backends!(
    suspended_organisations_listings_are_hidden_from_the_public,
    create_returns_a_draft_with_location_and_etag,
    create_rejects_invalid_fields_naming_each,
    create_needs_a_member_or_a_write_key,
    unpublished_listings_are_hidden_from_outsiders,
    published_listings_are_public_without_moderation_details,
    listing_goes_from_draft_through_review_to_archive,
    rejected_listing_is_edited_and_resubmitted,
    removed_listing_is_hidden_until_restored,
    submit_is_only_for_drafts_and_rejected_listings,
    archive_is_only_for_published_listings,
    moderators_cannot_act_on_drafts,
    decisions_conflict_when_nothing_waits_for_review,
    restore_and_remove_conflict_in_the_wrong_status,
    edits_are_refused_while_pending_archived_or_removed,
    delete_depends_on_the_status,
    edit_of_published_text_waits_for_review,
    non_text_fields_of_published_listing_apply_at_once,
    category_and_industry_of_published_listing_are_fixed,
    if_match_guards_against_lost_updates,
    listing_quota_limits_live_listings,
    daily_submission_quota_answers_429,
    suspended_organisation_cannot_write_listings,
    expired_listing_leaves_the_public_catalogue,
    moderator_endpoints_refuse_members_keys_and_anonymous,
    reject_and_remove_require_a_reason,
);
