//! Moderation: the review queue, reports and their resolution, suspensions of
//! organisations and users, the public moderation log and the admins' audit log.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::backends;
use crate::helpers::{error_fields, Backend, Resp, TestApp, TestUser};

const QUEUE: &str = "/api/v1/moderation/queue";
const REPORTS: &str = "/api/v1/reports";
const MOD_REPORTS: &str = "/api/v1/moderation/reports";
const MODLOG: &str = "/api/v1/modlog";
const AUDIT_LOG: &str = "/api/v1/admin/audit-log";
const LISTINGS: &str = "/api/v1/listings";

const ANNA: &str = "anna@gasthof-sonne.example";
const JONAS: &str = "jonas@gasthof-sonne.example";
const MARTIN: &str = "martin@baeckerei-morgenrot.example";
const CLARA: &str = "clara@hotel-alpenblick.example";
const EVA: &str = "eva@weinhaus-reben.example";
const MIRA: &str = "mira.moderation@mutua.example";
const TOM: &str = "tom.moderation@mutua.example";
const ADA: &str = "ada.admin@mutua.example";

/// A `manipulation` report in the words of the essay: gifts used to create obligation.
const DRUCK_DURCH_GESCHENKE: &str = "Druck durch Geschenke: Wer das kostenlose Muster annimmt, \
     wird am selben Tag angerufen und soll als Gegenleistung einen Jahresvertrag unterschreiben. \
     Das ist keine echte Gegenseitigkeit, sondern eine Manipulationstaktik.";
const FAKE_RECIPROCITY: &str =
    "Vorgetäuschte Gegenseitigkeit: Die angebliche Win-Win-Partnerschaft \
     verlangt Vorauszahlung, eine Gegenleistung wird nie erbracht.";

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

fn items(resp: &Resp) -> &Vec<Value> {
    resp.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {}", resp.text))
}

fn ids(resp: &Resp) -> Vec<String> {
    items(resp)
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect()
}

async fn with_role(app: &TestApp, email: &str, role: &str) -> TestUser {
    let user = app.user(email).await;
    app.sql(&format!(
        "UPDATE users SET platform_role = '{role}' WHERE id = '{}'",
        user.id
    ));
    user
}

async fn moderator(app: &TestApp, email: &str) -> TestUser {
    with_role(app, email, "moderator").await
}

async fn admin(app: &TestApp, email: &str) -> TestUser {
    with_role(app, email, "admin").await
}

/// Creates a draft offer and returns its id.
async fn draft(app: &TestApp, by: &TestUser, org: &str, title: &str) -> String {
    let created = app
        .post(
            LISTINGS,
            Some(&by.access),
            json!({
                "org_id": org,
                "kind": "offer",
                "category": "expertise",
                "title": title,
                "description": "Wir teilen Fachwissen und Ressourcen mit Betrieben derselben Branche.",
                "tags": ["kundenservice", "gastronomie"],
            }),
        )
        .await;
    created.expect(201);
    assert_eq!(created.body["status"], json!("draft"));
    created.str("id")
}

async fn submit(app: &TestApp, by: &TestUser, id: &str) -> Resp {
    let resp = app
        .call(
            "POST",
            &format!("{LISTINGS}/{id}/submit"),
            Some(&by.access),
            None,
            &[],
        )
        .await;
    resp.expect(200);
    assert_eq!(resp.body["status"], json!("pending_review"));
    resp
}

async fn decide(app: &TestApp, by: &TestUser, id: &str, verb: &str, body: Value) -> Resp {
    app.post(
        &format!("/api/v1/moderation/listings/{id}/{verb}"),
        Some(&by.access),
        body,
    )
    .await
}

async fn approve(app: &TestApp, by: &TestUser, id: &str) {
    let resp = decide(app, by, id, "approve", json!({})).await;
    resp.expect(200);
    assert_eq!(resp.body["status"], json!("published"));
}

/// Creates, submits and approves an offer; returns its id.
async fn publish(
    app: &TestApp,
    owner: &TestUser,
    org: &str,
    moderator: &TestUser,
    title: &str,
) -> String {
    let id = draft(app, owner, org, title).await;
    submit(app, owner, &id).await;
    approve(app, moderator, &id).await;
    id
}

async fn report(
    app: &TestApp,
    by: &TestUser,
    target_type: &str,
    target_id: &str,
    reason: &str,
    details: &str,
) -> Resp {
    app.post(
        REPORTS,
        Some(&by.access),
        json!({
            "target_type": target_type,
            "target_id": target_id,
            "reason": reason,
            "details": details,
        }),
    )
    .await
}

/// Files a report that must be new; returns its id.
async fn new_report(
    app: &TestApp,
    by: &TestUser,
    target_type: &str,
    target_id: &str,
    details: &str,
) -> String {
    let resp = report(app, by, target_type, target_id, "manipulation", details).await;
    resp.expect(201);
    resp.str("id")
}

async fn resolve(app: &TestApp, by: &TestUser, report_id: &str, action: &str, note: &str) -> Resp {
    app.post(
        &format!("{MOD_REPORTS}/{report_id}/resolve"),
        Some(&by.access),
        json!({"action": action, "note": note}),
    )
    .await
}

async fn suspend_org(app: &TestApp, by: &TestUser, org: &str, reason: &str) -> Resp {
    app.post(
        &format!("/api/v1/moderation/orgs/{org}/suspend"),
        Some(&by.access),
        json!({"reason": reason}),
    )
    .await
}

async fn unsuspend_org(app: &TestApp, by: &TestUser, org: &str, reason: &str) -> Resp {
    app.post(
        &format!("/api/v1/moderation/orgs/{org}/unsuspend"),
        Some(&by.access),
        json!({"reason": reason}),
    )
    .await
}

async fn suspend_user(app: &TestApp, by: &TestUser, user: &str, reason: &str) -> Resp {
    app.post(
        &format!("/api/v1/moderation/users/{user}/suspend"),
        Some(&by.access),
        json!({"reason": reason}),
    )
    .await
}

async fn unsuspend_user(app: &TestApp, by: &TestUser, user: &str, reason: &str) -> Resp {
    app.post(
        &format!("/api/v1/moderation/users/{user}/unsuspend"),
        Some(&by.access),
        json!({"reason": reason}),
    )
    .await
}

/// The ids of every publicly searchable listing.
async fn public_listings(app: &TestApp) -> Vec<String> {
    let resp = app.get(&format!("{LISTINGS}?limit=100"), None).await;
    resp.expect(200);
    ids(&resp)
}

/// A listing as one caller reads it.
async fn listing(app: &TestApp, id: &str, token: Option<&str>) -> Resp {
    app.get(&format!("{LISTINGS}/{id}"), token).await
}

async fn org_status(app: &TestApp, org: &str) -> String {
    let resp = app.get(&format!("/api/v1/orgs/{org}"), None).await;
    resp.expect(200);
    resp.str("status")
}

/// A report as its reporter reads it.
async fn my_report(app: &TestApp, by: &TestUser, id: &str) -> Resp {
    let resp = app.get(&format!("{REPORTS}/{id}"), Some(&by.access)).await;
    resp.expect(200);
    resp
}

/// The whole public moderation log as `token` sees it (newest first).
async fn modlog(app: &TestApp, token: Option<&str>) -> Vec<Value> {
    let resp = app.get(&format!("{MODLOG}?limit=100"), token).await;
    resp.expect(200);
    assert_eq!(resp.body["next_cursor"], Value::Null, "{}", resp.text);
    items(&resp).clone()
}

fn actions(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["action"].as_str().expect("action").to_owned())
        .collect()
}

/// The moderators' report list with a raw filter query: sorted ids and the response.
async fn filtered(app: &TestApp, by: &TestUser, query: &str) -> (Vec<String>, Resp) {
    let resp = app
        .get(&format!("{MOD_REPORTS}?limit=100{query}"), Some(&by.access))
        .await;
    resp.expect(200);
    let mut got = ids(&resp);
    got.sort();
    (got, resp)
}

fn time(value: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(
        value.as_str().unwrap_or_else(|| panic!("no time: {value}")),
    )
    .unwrap_or_else(|e| panic!("not RFC 3339: {value}: {e}"))
}

/// The whole review queue in one page.
async fn queue(app: &TestApp, by: &TestUser) -> Resp {
    let resp = app
        .get(&format!("{QUEUE}?limit=100"), Some(&by.access))
        .await;
    resp.expect(200);
    assert_eq!(resp.body["next_cursor"], Value::Null, "{}", resp.text);
    resp
}

/// Anna owns "Gasthof Sonne"; Mira moderates.
async fn sonne_and_mira(app: &TestApp) -> (TestUser, String, TestUser) {
    let anna = app.user(ANNA).await;
    let org = app.org(&anna, "Gasthof Sonne").await;
    let mira = moderator(app, MIRA).await;
    (anna, org, mira)
}

// ---------------------------------------------------------------------------------------
// The review queue
// ---------------------------------------------------------------------------------------

async fn queue_lists_submissions_oldest_first_with_counts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org, mira) = sonne_and_mira(&app).await;

    // Created in one order, submitted in another: the queue follows submission.
    let service = draft(&app, &anna, &org, "Aussergewöhnlicher Kundenservice").await;
    let sample = draft(&app, &anna, &org, "Kostenloses Muster unverbindlich testen").await;
    let partner = draft(&app, &anna, &org, "Zusammenarbeit und Partnerschaft").await;
    let still_draft = draft(&app, &anna, &org, "Einladung zur Besichtigung").await;
    submit(&app, &anna, &partner).await;
    submit(&app, &anna, &service).await;
    submit(&app, &anna, &sample).await;

    let q = queue(&app, &mira).await;
    assert_eq!(
        ids(&q),
        vec![partner.clone(), service.clone(), sample.clone()]
    );
    assert_eq!(q.body["counts"]["pending_review"], json!(3), "{}", q.text);
    assert_eq!(q.body["counts"]["pending_changes"], json!(0), "{}", q.text);
    for item in items(&q) {
        assert_eq!(item["status"], json!("pending_review"));
        assert_eq!(item["org_id"], json!(org));
    }
    let submitted: Vec<_> = items(&q).iter().map(|i| time(&i["submitted_at"])).collect();
    let mut sorted = submitted.clone();
    sorted.sort();
    assert_eq!(submitted, sorted, "oldest submission first");
    assert!(!ids(&q).contains(&still_draft), "a draft is in the queue");

    // Approved listings leave the queue; the count follows.
    approve(&app, &mira, &partner).await;
    let q = queue(&app, &mira).await;
    assert_eq!(ids(&q), vec![service.clone(), sample.clone()]);
    assert_eq!(q.body["counts"]["pending_review"], json!(2));
    assert_eq!(q.body["counts"]["pending_changes"], json!(0));

    // An edit of the published listing waits for review too, counted separately.
    let edit = app
        .patch(
            &format!("{LISTINGS}/{partner}"),
            Some(&anna.access),
            json!({"title": "Partnerschaft für gemeinsame Zielgruppen"}),
        )
        .await;
    edit.expect(200);
    let q = queue(&app, &mira).await;
    assert_eq!(ids(&q), vec![service, sample, partner.clone()]);
    assert_eq!(q.body["counts"]["pending_review"], json!(2));
    assert_eq!(q.body["counts"]["pending_changes"], json!(1));
    // The public still sees the approved text.
    let public = listing(&app, &partner, None).await;
    public.expect(200);
    assert_eq!(
        public.body["title"],
        json!("Zusammenarbeit und Partnerschaft")
    );
}

async fn queue_pages_with_limit_one_without_duplicates(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org, mira) = sonne_and_mira(&app).await;
    let titles = [
        "Aussergewöhnlicher Kundenservice",
        "Kostenloses Muster",
        "Wissen und Ressourcen teilen",
        "Dankesschreiben und kleine Präsente",
        "Kontakte aufrechterhalten",
    ];
    let mut expected = Vec::new();
    for title in titles {
        let id = draft(&app, &anna, &org, title).await;
        submit(&app, &anna, &id).await;
        expected.push(id);
    }
    draft(&app, &anna, &org, "Noch ein Entwurf").await;

    let mut seen = Vec::new();
    let mut path = format!("{QUEUE}?limit=1");
    let mut pages = 0;
    loop {
        let page = app.get(&path, Some(&mira.access)).await;
        page.expect(200);
        pages += 1;
        assert!(pages <= titles.len(), "the queue does not end");
        assert_eq!(items(&page).len(), 1, "{}", page.text);
        assert_eq!(page.body["counts"]["pending_review"], json!(5));
        seen.extend(ids(&page));
        match page.body["next_cursor"].as_str() {
            Some(next) => path = format!("{QUEUE}?limit=1&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen, expected);
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(
        unique.len(),
        seen.len(),
        "duplicates across pages: {seen:?}"
    );
}

async fn queue_is_for_moderators_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org, mira) = sonne_and_mira(&app).await;
    let id = draft(&app, &anna, &org, "Aussergewöhnlicher Kundenservice").await;
    submit(&app, &anna, &id).await;

    app.get(QUEUE, Some(&anna.access)).await.expect_problem(403);
    app.get(QUEUE, None).await.expect_problem(401);
    // A plain user cannot decide either, and nothing changed.
    decide(&app, &anna, &id, "approve", json!({}))
        .await
        .expect_problem(403);
    let q = queue(&app, &mira).await;
    assert_eq!(ids(&q), vec![id]);
    // An admin is a moderator too.
    let ada = admin(&app, ADA).await;
    queue(&app, &ada).await;
}

// ---------------------------------------------------------------------------------------
// Filing reports
// ---------------------------------------------------------------------------------------

async fn report_is_created_open(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org, mira) = sonne_and_mira(&app).await;
    let offer = publish(&app, &anna, &org, &mira, "Kostenloses Muster mit Folgen").await;
    let martin = app.user(MARTIN).await;

    let created = report(
        &app,
        &martin,
        "listing",
        &offer,
        "manipulation",
        DRUCK_DURCH_GESCHENKE,
    )
    .await;
    created.expect(201);
    let id = created.str("id");
    assert_eq!(
        created.header("location").as_deref(),
        Some(format!("/api/v1/reports/{id}").as_str())
    );
    assert_eq!(created.body["status"], json!("open"));
    assert_eq!(created.body["target_type"], json!("listing"));
    assert_eq!(created.body["target_id"], json!(offer));
    assert_eq!(created.body["reason"], json!("manipulation"));
    assert_eq!(created.body["details"], json!(DRUCK_DURCH_GESCHENKE));
    assert_eq!(created.body["resolution"], Value::Null);
    assert_eq!(created.body["resolution_note"], Value::Null);
    assert!(created.body["created_at"].is_string());
    assert!(
        created.body.get("reporter_id").is_none(),
        "reporter_id shown to the reporter: {}",
        created.text
    );

    // Stored: the reporter reads it back, the moderators' queue has it with the reporter.
    let stored = my_report(&app, &martin, &id).await;
    assert_eq!(stored.body["status"], json!("open"));
    assert_eq!(stored.body["details"], json!(DRUCK_DURCH_GESCHENKE));
    let queue = app.get(MOD_REPORTS, Some(&mira.access)).await;
    queue.expect(200);
    assert_eq!(ids(&queue), vec![id.clone()]);
    assert_eq!(items(&queue)[0]["reporter_id"], json!(martin.id));
    assert_eq!(items(&queue)[0]["reason"], json!("manipulation"));
}

async fn repeated_report_answers_the_open_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org, mira) = sonne_and_mira(&app).await;
    let offer = publish(&app, &anna, &org, &mira, "Kostenloses Muster mit Folgen").await;
    let martin = app.user(MARTIN).await;
    let clara = app.user(CLARA).await;

    let first = new_report(&app, &martin, "listing", &offer, DRUCK_DURCH_GESCHENKE).await;
    let again = report(
        &app,
        &martin,
        "listing",
        &offer,
        "misleading",
        "Noch einmal gemeldet.",
    )
    .await;
    again.expect(200);
    assert_eq!(again.str("id"), first);
    assert_eq!(again.body["status"], json!("open"));
    // The existing report is answered unchanged.
    assert_eq!(again.body["reason"], json!("manipulation"));
    assert_eq!(again.body["details"], json!(DRUCK_DURCH_GESCHENKE));

    // Another reporter files their own.
    let second = new_report(&app, &clara, "listing", &offer, FAKE_RECIPROCITY).await;
    assert_ne!(second, first);

    // The same reporter about another target: a new report too.
    let other_target = new_report(&app, &martin, "org", &org, FAKE_RECIPROCITY).await;
    assert_ne!(other_target, first);

    let all = app
        .get(&format!("{MOD_REPORTS}?limit=100"), Some(&mira.access))
        .await;
    all.expect(200);
    assert_eq!(
        ids(&all).len(),
        3,
        "one report per reporter and target: {}",
        all.text
    );

    // Each reporter lists only their own reports.
    let mine = app.get(REPORTS, Some(&martin.access)).await;
    mine.expect(200);
    let mut got = ids(&mine);
    got.sort();
    let mut want = vec![first.clone(), other_target];
    want.sort();
    assert_eq!(got, want);
    for item in items(&mine) {
        assert!(item.get("reporter_id").is_none(), "{item}");
    }
    let hers = app.get(REPORTS, Some(&clara.access)).await;
    hers.expect(200);
    assert_eq!(ids(&hers), vec![second]);

    // Once resolved, a new report on the same target opens a new one.
    resolve(&app, &mira, &first, "dismiss", "Kein Verstoss erkennbar.")
        .await
        .expect(200);
    let fresh = report(
        &app,
        &martin,
        "listing",
        &offer,
        "manipulation",
        "Der Druck geht weiter.",
    )
    .await;
    fresh.expect(201);
    assert_ne!(fresh.str("id"), first);
}

async fn every_documented_reason_is_accepted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org, mira) = sonne_and_mira(&app).await;
    let martin = app.user(MARTIN).await;
    for (i, reason) in [
        "spam",
        "misleading",
        "manipulation",
        "inappropriate",
        "other",
    ]
    .into_iter()
    .enumerate()
    {
        let offer = publish(&app, &anna, &org, &mira, &format!("Angebot Nummer {i}")).await;
        let resp = report(&app, &martin, "listing", &offer, reason, "Bitte prüfen.").await;
        resp.expect(201);
        assert_eq!(resp.body["reason"], json!(reason));
        let stored = my_report(&app, &martin, &resp.str("id")).await;
        assert_eq!(stored.body["reason"], json!(reason));
    }

    let offer = publish(&app, &anna, &org, &mira, "Noch ein Angebot").await;
    let unknown = report(&app, &martin, "listing", &offer, "bribery", "Bitte prüfen.").await;
    unknown.expect_problem(422);
    assert_eq!(error_fields(&unknown), vec!["reason"]);
    let bad_type = report(&app, &martin, "invoice", &offer, "spam", "Bitte prüfen.").await;
    bad_type.expect_problem(422);
    assert_eq!(error_fields(&bad_type), vec!["target_type"]);

    let mine = app.get(REPORTS, Some(&martin.access)).await;
    mine.expect(200);
    assert_eq!(items(&mine).len(), 5, "rejected reports were stored");
}

async fn report_target_must_exist_and_be_visible(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org, mira) = sonne_and_mira(&app).await;
    let martin = app.user(MARTIN).await;
    let nowhere = uuid::Uuid::new_v4().to_string();

    for target_type in ["listing", "org", "user", "agreement"] {
        report(
            &app,
            &martin,
            target_type,
            &nowhere,
            "spam",
            "Bitte prüfen.",
        )
        .await
        .expect_problem(404);
    }

    // Another organisation's draft and pending listings are as unknown as a missing id.
    let hidden = draft(&app, &anna, &org, "Geheimer Entwurf").await;
    report(&app, &martin, "listing", &hidden, "spam", "Bitte prüfen.")
        .await
        .expect_problem(404);
    submit(&app, &anna, &hidden).await;
    report(&app, &martin, "listing", &hidden, "spam", "Bitte prüfen.")
        .await
        .expect_problem(404);

    // Existing organisations and users can be reported.
    report(&app, &martin, "org", &org, "misleading", FAKE_RECIPROCITY)
        .await
        .expect(201);
    report(
        &app,
        &martin,
        "user",
        &anna.id,
        "manipulation",
        DRUCK_DURCH_GESCHENKE,
    )
    .await
    .expect(201);

    // Nothing was stored for the refused targets.
    let all = app
        .get(&format!("{MOD_REPORTS}?limit=100"), Some(&mira.access))
        .await;
    all.expect(200);
    let targets: Vec<&str> = items(&all)
        .iter()
        .map(|r| r["target_type"].as_str().expect("target_type"))
        .collect();
    assert_eq!(targets, vec!["org", "user"]);
}

async fn report_details_are_limited_and_need_a_signed_in_user(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org, mira) = sonne_and_mira(&app).await;
    let offer = publish(&app, &anna, &org, &mira, "Kostenloses Muster").await;
    let martin = app.user(MARTIN).await;
    let clara = app.user(CLARA).await;

    let too_long = report(&app, &martin, "listing", &offer, "spam", &"x".repeat(2001)).await;
    too_long.expect_problem(422);
    assert_eq!(error_fields(&too_long), vec!["details"]);

    // 2,000 characters are allowed, counted as characters, not bytes.
    let umlauts = "ä".repeat(2000);
    let at_limit = report(&app, &clara, "listing", &offer, "spam", &umlauts).await;
    at_limit.expect(201);
    assert_eq!(
        my_report(&app, &clara, &at_limit.str("id")).await.body["details"],
        json!(umlauts)
    );

    app.post(
        REPORTS,
        None,
        json!({"target_type": "listing", "target_id": offer, "reason": "spam", "details": "x"}),
    )
    .await
    .expect_problem(401);
    app.get(REPORTS, None).await.expect_problem(401);

    let mine = app.get(REPORTS, Some(&martin.access)).await;
    mine.expect(200);
    assert!(items(&mine).is_empty(), "{}", mine.text);
}

// ---------------------------------------------------------------------------------------
// The reporter sees the outcome
// ---------------------------------------------------------------------------------------

async fn reporter_sees_the_outcome_others_do_not(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org, mira) = sonne_and_mira(&app).await;
    let offer = publish(&app, &anna, &org, &mira, "Kostenloses Muster mit Folgen").await;
    let martin = app.user(MARTIN).await;
    let clara = app.user(CLARA).await;
    let id = new_report(&app, &martin, "listing", &offer, DRUCK_DURCH_GESCHENKE).await;

    let note = "Geprüft: Das Muster ist tatsächlich unverbindlich, kein Verstoss.";
    resolve(&app, &mira, &id, "dismiss", note).await.expect(200);

    let outcome = my_report(&app, &martin, &id).await;
    assert_eq!(outcome.body["status"], json!("resolved"));
    assert_eq!(outcome.body["resolution"], json!("dismiss"));
    assert_eq!(outcome.body["resolution_note"], json!(note));
    assert!(outcome.body["resolved_at"].is_string(), "{}", outcome.text);
    assert!(
        outcome.body.get("reporter_id").is_none(),
        "{}",
        outcome.text
    );

    // The reporter's list shows the outcome as well.
    let mine = app.get(REPORTS, Some(&martin.access)).await;
    mine.expect(200);
    assert_eq!(ids(&mine), vec![id.clone()]);
    assert_eq!(items(&mine)[0]["status"], json!("resolved"));
    assert_eq!(items(&mine)[0]["resolution_note"], json!(note));

    // Someone else (even the reported owner) cannot read it, and has none.
    for other in [&clara, &anna] {
        app.get(&format!("{REPORTS}/{id}"), Some(&other.access))
            .await
            .expect_problem(404);
        let theirs = app.get(REPORTS, Some(&other.access)).await;
        theirs.expect(200);
        assert!(items(&theirs).is_empty(), "{}", theirs.text);
    }
    app.get(&format!("{REPORTS}/{id}"), None)
        .await
        .expect_problem(401);

    // A moderator reads it with its reporter.
    let as_moderator = app
        .get(&format!("{REPORTS}/{id}"), Some(&mira.access))
        .await;
    as_moderator.expect(200);
    assert_eq!(as_moderator.body["reporter_id"], json!(martin.id));
}

async fn moderators_filter_reports_by_status_and_target(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org, mira) = sonne_and_mira(&app).await;
    let offer = publish(&app, &anna, &org, &mira, "Kostenloses Muster mit Folgen").await;
    let martin = app.user(MARTIN).await;
    let clara = app.user(CLARA).await;

    let on_listing = new_report(&app, &martin, "listing", &offer, DRUCK_DURCH_GESCHENKE).await;
    let on_org = new_report(&app, &martin, "org", &org, FAKE_RECIPROCITY).await;
    let on_user = new_report(&app, &clara, "user", &anna.id, DRUCK_DURCH_GESCHENKE).await;
    let dismissed = new_report(&app, &clara, "listing", &offer, FAKE_RECIPROCITY).await;
    resolve(&app, &mira, &dismissed, "dismiss", "Doppelt gemeldet.")
        .await
        .expect(200);

    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };

    let (open, resp) = filtered(&app, &mira, "&status=open").await;
    assert_eq!(
        open,
        sorted(vec![on_listing.clone(), on_org.clone(), on_user.clone()])
    );
    for item in items(&resp) {
        assert_eq!(item["status"], json!("open"));
        assert!(item["reporter_id"].is_string(), "no reporter_id: {item}");
    }
    let (resolved, resp) = filtered(&app, &mira, "&status=resolved").await;
    assert_eq!(resolved, vec![dismissed.clone()]);
    assert_eq!(items(&resp)[0]["reporter_id"], json!(clara.id));
    assert_eq!(items(&resp)[0]["resolution"], json!("dismiss"));
    let (listings, resp) = filtered(&app, &mira, "&target_type=listing").await;
    assert_eq!(
        listings,
        sorted(vec![on_listing.clone(), dismissed.clone()])
    );
    for item in items(&resp) {
        assert_eq!(item["target_type"], json!("listing"));
        assert_eq!(item["target_id"], json!(offer));
    }
    let (open_listings, resp) = filtered(&app, &mira, "&target_type=listing&status=open").await;
    assert_eq!(open_listings, vec![on_listing.clone()]);
    assert_eq!(items(&resp)[0]["reporter_id"], json!(martin.id));
    let (all, _) = filtered(&app, &mira, "").await;
    assert_eq!(all.len(), 4);

    app.get(&format!("{MOD_REPORTS}?status=closed"), Some(&mira.access))
        .await
        .expect_problem(400);
    app.get(MOD_REPORTS, Some(&martin.access))
        .await
        .expect_problem(403);
    app.get(MOD_REPORTS, None).await.expect_problem(401);
}

// ---------------------------------------------------------------------------------------
// Resolving reports
// ---------------------------------------------------------------------------------------

async fn dismissal_resolves_and_leaves_the_target_alone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org, mira) = sonne_and_mira(&app).await;
    let offer = publish(&app, &anna, &org, &mira, "Kostenloses Muster").await;
    let martin = app.user(MARTIN).await;
    let id = new_report(&app, &martin, "listing", &offer, DRUCK_DURCH_GESCHENKE).await;

    let resolved = resolve(&app, &mira, &id, "dismiss", "Kein Verstoss erkennbar.").await;
    resolved.expect(200);
    assert_eq!(resolved.body["id"], json!(id));
    assert_eq!(resolved.body["status"], json!("resolved"));
    assert_eq!(resolved.body["resolution"], json!("dismiss"));
    assert_eq!(
        resolved.body["resolution_note"],
        json!("Kein Verstoss erkennbar.")
    );
    assert_eq!(resolved.body["reporter_id"], json!(martin.id));

    // The listing and its organisation are untouched.
    let public = listing(&app, &offer, None).await;
    public.expect(200);
    assert_eq!(public.body["status"], json!("published"));
    assert!(public_listings(&app).await.contains(&offer));
    assert_eq!(org_status(&app, &org).await, "active");
    // Only the resolution is logged.
    let log = modlog(&app, None).await;
    assert_eq!(actions(&log[..1]), vec!["resolve_report"]);
    assert_eq!(log[0]["target_type"], json!("report"));
    assert_eq!(log[0]["target_id"], json!(id));
    assert!(
        !actions(&log).contains(&"remove_listing".to_owned()),
        "{log:?}"
    );

    // Plain users cannot resolve.
    let other = new_report(&app, &martin, "org", &org, FAKE_RECIPROCITY).await;
    resolve(&app, &martin, &other, "dismiss", "Selbst erledigt.")
        .await
        .expect_problem(403);
    assert_eq!(
        my_report(&app, &martin, &other).await.body["status"],
        json!("open")
    );
    resolve(
        &app,
        &mira,
        &uuid::Uuid::new_v4().to_string(),
        "dismiss",
        "Gibt es nicht.",
    )
    .await
    .expect_problem(404);
}

async fn remove_listing_resolution_hides_the_listing_and_is_logged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org, mira) = sonne_and_mira(&app).await;
    let offer = publish(&app, &anna, &org, &mira, "Kostenloses Muster mit Folgen").await;
    let kept = publish(&app, &anna, &org, &mira, "Aussergewöhnlicher Kundenservice").await;
    let martin = app.user(MARTIN).await;
    let id = new_report(&app, &martin, "listing", &offer, DRUCK_DURCH_GESCHENKE).await;

    let note = "Druck durch Geschenke bestätigt; das Angebot wird entfernt.";
    let resolved = resolve(&app, &mira, &id, "remove_listing", note).await;
    resolved.expect(200);
    assert_eq!(resolved.body["status"], json!("resolved"));
    assert_eq!(resolved.body["resolution"], json!("remove_listing"));

    // The listing is removed: gone for the public, visible to its owner with the reason.
    let owner_view = listing(&app, &offer, Some(&anna.access)).await;
    owner_view.expect(200);
    assert_eq!(owner_view.body["status"], json!("removed"));
    assert_eq!(owner_view.body["moderation_reason"], json!(note));
    listing(&app, &offer, None).await.expect_problem(404);
    let public = public_listings(&app).await;
    assert!(!public.contains(&offer), "removed listing still searchable");
    assert!(public.contains(&kept), "the other listing vanished");

    // The log has both steps, newest first.
    let log = modlog(&app, None).await;
    assert_eq!(actions(&log[..2]), vec!["resolve_report", "remove_listing"]);
    assert_eq!(log[0]["target_id"], json!(id));
    assert_eq!(log[1]["target_type"], json!("listing"));
    assert_eq!(log[1]["target_id"], json!(offer));
    assert_eq!(log[1]["reason"], json!(note));

    // The reporter sees the outcome.
    let outcome = my_report(&app, &martin, &id).await;
    assert_eq!(outcome.body["status"], json!("resolved"));
    assert_eq!(outcome.body["resolution"], json!("remove_listing"));
    assert_eq!(outcome.body["resolution_note"], json!(note));
}

async fn suspend_org_resolution_suspends_the_reported_or_listing_org(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, sonne, mira) = sonne_and_mira(&app).await;
    let clara = app.user(CLARA).await;
    let alpenblick = app.org(&clara, "Hotel Alpenblick").await;
    let sonne_offer = publish(&app, &anna, &sonne, &mira, "Kostenloses Muster").await;
    let alpen_offer = publish(&app, &clara, &alpenblick, &mira, "Win-Win-Partnerschaft").await;
    let martin = app.user(MARTIN).await;

    // A report on an organisation.
    let on_org = new_report(&app, &martin, "org", &sonne, FAKE_RECIPROCITY).await;
    let note = "Wiederholte Manipulationstaktik gegenüber Partnern.";
    let resolved = resolve(&app, &mira, &on_org, "suspend_org", note).await;
    resolved.expect(200);
    assert_eq!(resolved.body["resolution"], json!("suspend_org"));
    assert_eq!(org_status(&app, &sonne).await, "suspended");
    assert_eq!(org_status(&app, &alpenblick).await, "active");

    // A report on a listing suspends that listing's organisation.
    let on_listing = new_report(
        &app,
        &martin,
        "listing",
        &alpen_offer,
        DRUCK_DURCH_GESCHENKE,
    )
    .await;
    resolve(&app, &mira, &on_listing, "suspend_org", note)
        .await
        .expect(200);
    assert_eq!(org_status(&app, &alpenblick).await, "suspended");

    let public = public_listings(&app).await;
    assert!(!public.contains(&sonne_offer), "{public:?}");
    assert!(!public.contains(&alpen_offer), "{public:?}");

    let log = modlog(&app, None).await;
    assert_eq!(
        actions(&log),
        vec![
            "resolve_report",
            "suspend_org",
            "resolve_report",
            "suspend_org",
            "approve_listing",
            "approve_listing"
        ]
    );
    assert_eq!(log[1]["target_type"], json!("org"));
    assert_eq!(log[1]["target_id"], json!(alpenblick));
    assert_eq!(log[1]["reason"], json!(note));
    assert_eq!(log[3]["target_id"], json!(sonne));
}

async fn suspend_user_resolution_locks_the_user_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mira = moderator(&app, MIRA).await;
    let eva = app.user(EVA).await;
    let martin = app.user(MARTIN).await;
    let id = new_report(&app, &martin, "user", &eva.id, DRUCK_DURCH_GESCHENKE).await;

    let note = "Verschickt Präsente und fordert danach Gegenleistungen ein.";
    let resolved = resolve(&app, &mira, &id, "suspend_user", note).await;
    resolved.expect(200);
    assert_eq!(resolved.body["resolution"], json!("suspend_user"));

    app.login(EVA).await.expect_problem(403);
    // The reporter is unaffected and sees the outcome.
    assert_eq!(
        my_report(&app, &martin, &id).await.body["resolution"],
        json!("suspend_user")
    );
    let log = modlog(&app, None).await;
    assert_eq!(actions(&log), vec!["resolve_report", "suspend_user"]);
    assert_eq!(log[1]["target_id"], json!(eva.id));
    // The existing token stops: the account is suspended.
    app.get("/api/v1/me", Some(&eva.access))
        .await
        .expect_problem(403);
}

async fn resolving_twice_conflicts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org, mira) = sonne_and_mira(&app).await;
    let offer = publish(&app, &anna, &org, &mira, "Kostenloses Muster").await;
    let martin = app.user(MARTIN).await;
    let id = new_report(&app, &martin, "listing", &offer, DRUCK_DURCH_GESCHENKE).await;
    resolve(&app, &mira, &id, "dismiss", "Kein Verstoss erkennbar.")
        .await
        .expect(200);

    resolve(&app, &mira, &id, "remove_listing", "Doch entfernen.")
        .await
        .expect_problem(409);
    // The first resolution stands and the second action was not applied.
    let stored = my_report(&app, &martin, &id).await;
    assert_eq!(stored.body["resolution"], json!("dismiss"));
    assert_eq!(
        stored.body["resolution_note"],
        json!("Kein Verstoss erkennbar.")
    );
    assert!(public_listings(&app).await.contains(&offer));
    let log = modlog(&app, None).await;
    assert_eq!(
        actions(&log),
        vec!["resolve_report", "approve_listing"],
        "the refused resolution left traces"
    );
}

async fn unfit_or_failing_action_rolls_the_resolution_back(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org, mira) = sonne_and_mira(&app).await;
    let offer = publish(&app, &anna, &org, &mira, "Kostenloses Muster").await;
    let martin = app.user(MARTIN).await;
    let eva = app.user(EVA).await;
    let on_user = new_report(&app, &martin, "user", &eva.id, DRUCK_DURCH_GESCHENKE).await;
    let on_listing = new_report(&app, &martin, "listing", &offer, FAKE_RECIPROCITY).await;
    let on_org = new_report(&app, &martin, "org", &org, FAKE_RECIPROCITY).await;

    for (report_id, action) in [
        (&on_user, "remove_listing"),
        (&on_user, "suspend_org"),
        (&on_listing, "suspend_user"),
        (&on_org, "remove_listing"),
    ] {
        let refused = resolve(&app, &mira, report_id, action, "Passt nicht zum Ziel.").await;
        refused.expect_problem(422);
        let stored = my_report(&app, &martin, report_id).await;
        assert_eq!(
            stored.body["status"],
            json!("open"),
            "{action} on {report_id} left the report resolved"
        );
        assert_eq!(stored.body["resolution"], Value::Null);
    }

    // An action whose target is already in that state (409) also leaves the report open.
    suspend_org(&app, &mira, &org, "Bereits aus anderem Grund gesperrt.")
        .await
        .expect(200);
    resolve(&app, &mira, &on_org, "suspend_org", "Sperren.")
        .await
        .expect_problem(409);
    assert_eq!(
        my_report(&app, &martin, &on_org).await.body["status"],
        json!("open")
    );

    // Nothing else changed either.
    app.login(EVA).await.expect(200);
    let owner_view = listing(&app, &offer, Some(&anna.access)).await;
    assert_eq!(owner_view.body["status"], json!("published"));
    let log = modlog(&app, None).await;
    assert_eq!(actions(&log), vec!["suspend_org", "approve_listing"]);

    // The report can still be resolved properly.
    resolve(
        &app,
        &mira,
        &on_org,
        "dismiss",
        "Organisation ist bereits gesperrt.",
    )
    .await
    .expect(200);
    assert_eq!(
        my_report(&app, &martin, &on_org).await.body["status"],
        json!("resolved")
    );
}

async fn resolution_note_is_validated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org, mira) = sonne_and_mira(&app).await;
    let offer = publish(&app, &anna, &org, &mira, "Kostenloses Muster").await;
    let martin = app.user(MARTIN).await;
    let id = new_report(&app, &martin, "listing", &offer, DRUCK_DURCH_GESCHENKE).await;

    for note in ["ok", "  ab  ", ""] {
        let short = resolve(&app, &mira, &id, "remove_listing", note).await;
        short.expect_problem(422);
        assert_eq!(error_fields(&short), vec!["note"], "note {note:?}");
    }
    let missing = app
        .post(
            &format!("{MOD_REPORTS}/{id}/resolve"),
            Some(&mira.access),
            json!({"action": "dismiss"}),
        )
        .await;
    missing.expect_problem(422);
    assert_eq!(error_fields(&missing), vec!["note"]);
    let unknown = resolve(&app, &mira, &id, "ban_forever", "Für immer sperren.").await;
    unknown.expect_problem(422);
    assert_eq!(error_fields(&unknown), vec!["action"]);

    assert_eq!(
        my_report(&app, &martin, &id).await.body["status"],
        json!("open")
    );
    assert!(public_listings(&app).await.contains(&offer));
    // A three-character note is enough.
    resolve(&app, &mira, &id, "dismiss", "o.k")
        .await
        .expect(200);
}

// ---------------------------------------------------------------------------------------
// Suspending organisations
// ---------------------------------------------------------------------------------------

async fn suspended_org_vanishes_and_cannot_write(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, sonne, mira) = sonne_and_mira(&app).await;
    let jonas = app.member(&sonne, &anna, JONAS, "member").await;
    let key = app.api_key(&sonne, &anna, &["read", "write"]).await;
    let clara = app.user(CLARA).await;
    let alpenblick = app.org(&clara, "Hotel Alpenblick").await;
    let service = publish(
        &app,
        &anna,
        &sonne,
        &mira,
        "Aussergewöhnlicher Kundenservice",
    )
    .await;
    let sample = publish(&app, &anna, &sonne, &mira, "Kostenloses Muster").await;
    let neighbour = publish(&app, &clara, &alpenblick, &mira, "Gemeinsame Zielgruppen").await;
    let mut before = public_listings(&app).await;
    before.sort();
    let mut expected = vec![service.clone(), sample.clone(), neighbour.clone()];
    expected.sort();
    assert_eq!(before, expected);

    let reason = "Druck durch Geschenke gegenüber mehreren Partnern belegt.";
    let suspended = suspend_org(&app, &mira, &sonne, reason).await;
    suspended.expect(200);
    assert_eq!(suspended.body["id"], json!(sonne));
    assert_eq!(suspended.body["status"], json!("suspended"));
    assert_eq!(org_status(&app, &sonne).await, "suspended");

    // Its listings leave the catalogue, the neighbour's stay.
    assert_eq!(public_listings(&app).await, vec![neighbour.clone()]);
    let by_org = app.get(&format!("{LISTINGS}?org_id={sonne}"), None).await;
    by_org.expect(200);
    assert!(items(&by_org).is_empty(), "{}", by_org.text);

    // Neither members nor keys can write.
    let new_listing = json!({
        "org_id": sonne,
        "kind": "need",
        "category": "resource",
        "title": "Suchen Partner für Spendenaktion",
        "description": "Gemeinsam für die Gemeinschaft.",
        "tags": ["spenden"],
    });
    for token in [&jonas.access, &anna.access, &key] {
        app.post(LISTINGS, Some(token), new_listing.clone())
            .await
            .expect_problem(403);
    }
    for token in [&anna.access, &key] {
        app.patch(
            &format!("/api/v1/orgs/{sonne}"),
            Some(token),
            json!({"description": "Wir haben nichts falsch gemacht."}),
        )
        .await
        .expect_problem(403);
    }
    let profile = app.get(&format!("/api/v1/orgs/{sonne}"), None).await;
    profile.expect(200);
    assert_eq!(profile.body["status"], json!("suspended"));
    assert_ne!(
        profile.body["description"],
        json!("Wir haben nichts falsch gemacht.")
    );
    let drafts = app
        .get(
            &format!("{LISTINGS}?org_id={sonne}&status=draft"),
            Some(&anna.access),
        )
        .await;
    drafts.expect(200);
    assert!(items(&drafts).is_empty(), "{}", drafts.text);
    // The neighbour is unaffected.
    app.post(
        LISTINGS,
        Some(&clara.access),
        json!({
            "org_id": alpenblick,
            "kind": "need",
            "category": "resource",
            "title": "Suchen Muster zum Testen",
            "description": "Unverbindlich.",
            "tags": ["muster"],
        }),
    )
    .await
    .expect(201);

    // Reinstated: listings are back, writing works again.
    let back = unsuspend_org(&app, &mira, &sonne, "Einspruch geprüft und angenommen.").await;
    back.expect(200);
    assert_eq!(back.body["status"], json!("active"));
    assert_eq!(org_status(&app, &sonne).await, "active");
    let mut after = public_listings(&app).await;
    after.sort();
    assert_eq!(after, expected);
    app.post(LISTINGS, Some(&jonas.access), new_listing.clone())
        .await
        .expect(201);
    app.post(LISTINGS, Some(&key), new_listing)
        .await
        .expect(201);

    let log = modlog(&app, None).await;
    assert_eq!(actions(&log[..2]), vec!["unsuspend_org", "suspend_org"]);
    assert_eq!(log[1]["reason"], json!(reason));
    assert_eq!(log[1]["target_type"], json!("org"));
    assert_eq!(log[1]["target_id"], json!(sonne));
}

async fn org_suspension_refuses_bad_requests(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org, mira) = sonne_and_mira(&app).await;
    let reason = "Vorgetäuschte Gegenseitigkeit.";

    unsuspend_org(&app, &mira, &org, reason)
        .await
        .expect_problem(409);
    let missing = app
        .post(
            &format!("/api/v1/moderation/orgs/{org}/suspend"),
            Some(&mira.access),
            json!({}),
        )
        .await;
    missing.expect_problem(422);
    assert_eq!(error_fields(&missing), vec!["reason"]);
    let short = suspend_org(&app, &mira, &org, " x ").await;
    short.expect_problem(422);
    assert_eq!(error_fields(&short), vec!["reason"]);
    suspend_org(&app, &mira, &uuid::Uuid::new_v4().to_string(), reason)
        .await
        .expect_problem(404);
    suspend_org(&app, &anna, &org, reason)
        .await
        .expect_problem(403);
    app.post(
        &format!("/api/v1/moderation/orgs/{org}/suspend"),
        None,
        json!({"reason": reason}),
    )
    .await
    .expect_problem(401);
    assert_eq!(org_status(&app, &org).await, "active");

    suspend_org(&app, &mira, &org, reason).await.expect(200);
    suspend_org(&app, &mira, &org, reason)
        .await
        .expect_problem(409);
    assert_eq!(org_status(&app, &org).await, "suspended");
    let log = modlog(&app, None).await;
    assert_eq!(
        actions(&log),
        vec!["suspend_org"],
        "only one suspension logged"
    );
}

// ---------------------------------------------------------------------------------------
// Suspending users
// ---------------------------------------------------------------------------------------

async fn suspended_user_cannot_log_in_or_use_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mira = moderator(&app, MIRA).await;
    let eva = app.user(EVA).await;
    let other_session = app.login(EVA).await;
    other_session.expect(200);

    let reason = "Nutzt kleine Präsente, um Verpflichtungen zu erzeugen.";
    let suspended = suspend_user(&app, &mira, &eva.id, reason).await;
    suspended.expect(200);
    assert_eq!(suspended.body["id"], json!(eva.id));
    assert_eq!(suspended.body["status"], json!("suspended"));

    app.login(EVA).await.expect_problem(403);
    // Existing tokens stop (the exact status is checked in
    // `suspended_users_existing_tokens_answer_forbidden`).
    app.get("/api/v1/me", Some(&eva.access))
        .await
        .assert_refused();
    app.get("/api/v1/me", Some(&other_session.str("access_token")))
        .await
        .assert_refused();
    app.post(
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": eva.refresh}),
    )
    .await
    .expect_problem(401);
    // Suspended users cannot file reports either.
    report(&app, &eva, "user", &mira.id, "other", "Ungerecht gesperrt.")
        .await
        .assert_refused();

    suspend_user(&app, &mira, &eva.id, reason)
        .await
        .expect_problem(409);

    let back = unsuspend_user(&app, &mira, &eva.id, "Einspruch angenommen.").await;
    back.expect(200);
    assert_eq!(back.body["status"], json!("active"));
    let login = app.login(EVA).await;
    login.expect(200);
    let me = app
        .get("/api/v1/me", Some(&login.str("access_token")))
        .await;
    me.expect(200);
    assert_eq!(me.body["status"], json!("active"));
    unsuspend_user(&app, &mira, &eva.id, "Nochmals.")
        .await
        .expect_problem(409);

    let log = modlog(&app, None).await;
    assert_eq!(actions(&log), vec!["unsuspend_user", "suspend_user"]);
    assert_eq!(log[1]["target_type"], json!("user"));
    assert_eq!(log[1]["target_id"], json!(eva.id));
    assert_eq!(log[1]["reason"], json!(reason));
}

async fn user_suspension_respects_platform_roles(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mira = moderator(&app, MIRA).await;
    let tom = moderator(&app, TOM).await;
    let ada = admin(&app, ADA).await;
    let eva = app.user(EVA).await;
    let reason = "Missbrauch der Moderationsrechte.";

    suspend_user(&app, &mira, &ada.id, reason)
        .await
        .expect_problem(403);
    suspend_user(&app, &mira, &tom.id, reason)
        .await
        .expect_problem(403);
    suspend_user(&app, &mira, &mira.id, reason)
        .await
        .expect_problem(409);
    suspend_user(&app, &ada, &ada.id, reason)
        .await
        .expect_problem(409);
    suspend_user(&app, &eva, &mira.id, reason)
        .await
        .expect_problem(403);
    suspend_user(&app, &mira, &uuid::Uuid::new_v4().to_string(), reason)
        .await
        .expect_problem(404);
    for user in [&mira, &tom, &ada] {
        app.get("/api/v1/me", Some(&user.access)).await.expect(200);
    }

    // An admin may suspend a moderator.
    let suspended = suspend_user(&app, &ada, &tom.id, reason).await;
    suspended.expect(200);
    assert_eq!(suspended.body["status"], json!("suspended"));
    app.login(TOM).await.expect_problem(403);

    let log = modlog(&app, None).await;
    assert_eq!(actions(&log), vec!["suspend_user"]);
    assert_eq!(log[0]["target_id"], json!(tom.id));
    assert_eq!(log[0]["reason"], json!(reason));
    // The suspended moderator's token no longer moderates.
    app.get(QUEUE, Some(&tom.access)).await.expect_problem(403);
}

async fn suspended_users_existing_tokens_answer_forbidden(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mira = moderator(&app, MIRA).await;
    let eva = app.user(EVA).await;
    let second = app.login(EVA).await;
    second.expect(200);
    app.get("/api/v1/me", Some(&eva.access)).await.expect(200);

    suspend_user(&app, &mira, &eva.id, "Manipulationstaktik mit Geschenken.")
        .await
        .expect(200);

    // Every session of the account answers "suspended" (403), as login does.
    for token in [eva.access.clone(), second.str("access_token")] {
        let me = app.get("/api/v1/me", Some(&token)).await;
        me.expect_problem(403);
        assert!(me.str("detail").contains("suspended"), "{}", me.text);
    }
}

// ---------------------------------------------------------------------------------------
// The moderation log
// ---------------------------------------------------------------------------------------

/// Has Mira take every kind of moderator action once; returns the expected public log,
/// newest first, as `(action, target_type, target_id, reason)`.
async fn every_moderator_action(
    app: &TestApp,
    mira: &TestUser,
) -> Vec<(String, String, String, Option<String>)> {
    let anna = app.user(ANNA).await;
    let org = app.org(&anna, "Gasthof Sonne").await;
    let eva = app.user(EVA).await;
    let martin = app.user(MARTIN).await;
    let offer = draft(app, &anna, &org, "Aussergewöhnlicher Kundenservice").await;
    let need = draft(app, &anna, &org, "Suchen Gratismuster gegen Verpflichtung").await;
    submit(app, &anna, &offer).await;
    submit(app, &anna, &need).await;

    let mut log = Vec::new();
    let mut push = |action: &str, target_type: &str, target: &str, reason: Option<&str>| {
        log.push((
            action.to_owned(),
            target_type.to_owned(),
            target.to_owned(),
            reason.map(str::to_owned),
        ))
    };

    approve(app, mira, &offer).await;
    push("approve_listing", "listing", &offer, None);
    let reject_reason = "Die versprochene Gegenleistung ist nicht belegt.";
    decide(app, mira, &need, "reject", json!({"reason": reject_reason}))
        .await
        .expect(200);
    push("reject_listing", "listing", &need, Some(reject_reason));
    let remove_reason = "Druck durch Geschenke.";
    decide(
        app,
        mira,
        &offer,
        "remove",
        json!({"reason": remove_reason}),
    )
    .await
    .expect(200);
    push("remove_listing", "listing", &offer, Some(remove_reason));
    let restore_reason = "Nach Rücksprache korrigiert.";
    let restored = decide(
        app,
        mira,
        &offer,
        "restore",
        json!({"reason": restore_reason}),
    )
    .await;
    restored.expect(200);
    assert_eq!(restored.body["status"], json!("published"));
    push("restore_listing", "listing", &offer, Some(restore_reason));
    suspend_org(app, mira, &org, "Vorgetäuschte Gegenseitigkeit.")
        .await
        .expect(200);
    push(
        "suspend_org",
        "org",
        &org,
        Some("Vorgetäuschte Gegenseitigkeit."),
    );
    unsuspend_org(app, mira, &org, "Transparenz wiederhergestellt.")
        .await
        .expect(200);
    push(
        "unsuspend_org",
        "org",
        &org,
        Some("Transparenz wiederhergestellt."),
    );
    suspend_user(app, mira, &eva.id, "Manipulationstaktik.")
        .await
        .expect(200);
    push(
        "suspend_user",
        "user",
        &eva.id,
        Some("Manipulationstaktik."),
    );
    unsuspend_user(app, mira, &eva.id, "Authentisch entschuldigt.")
        .await
        .expect(200);
    push(
        "unsuspend_user",
        "user",
        &eva.id,
        Some("Authentisch entschuldigt."),
    );
    let report_id = new_report(app, &martin, "listing", &offer, DRUCK_DURCH_GESCHENKE).await;
    resolve(app, mira, &report_id, "dismiss", "Bereits behoben.")
        .await
        .expect(200);
    // The reason of a resolution entry is not fixed by the contract; checked separately.
    push("resolve_report", "report", &report_id, None);

    log.reverse();
    log
}

fn check_entries(
    entries: &[Value],
    expected: &[(String, String, String, Option<String>)],
    who: &str,
) {
    assert_eq!(entries.len(), expected.len(), "{who}: {entries:?}");
    for (entry, (action, target_type, target_id, reason)) in entries.iter().zip(expected) {
        assert_eq!(entry["action"], json!(action), "{who}: {entry}");
        assert_eq!(entry["target_type"], json!(target_type), "{who}: {entry}");
        assert_eq!(entry["target_id"], json!(target_id), "{who}: {entry}");
        assert!(entry.get("reason").is_some(), "{who}: no reason in {entry}");
        if action == "resolve_report" {
            assert!(entry["reason"].is_string(), "{who}: {entry}");
        } else {
            assert_eq!(entry["reason"], json!(reason), "{who}: {entry}");
        }
        assert!(entry["created_at"].is_string(), "{who}: {entry}");
        assert!(entry["id"].is_string(), "{who}: {entry}");
    }
    let times: Vec<_> = entries.iter().map(|e| time(&e["created_at"])).collect();
    let mut newest_first = times.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, newest_first, "{who}: not newest first");
}

async fn modlog_shows_every_action_without_moderator_identity(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mira = moderator(&app, MIRA).await;
    let tom = moderator(&app, TOM).await;
    let clara = app.user(CLARA).await;
    let expected = every_moderator_action(&app, &mira).await;

    for (who, token) in [
        ("anonymous", None),
        ("plain user", Some(clara.access.as_str())),
        ("acting moderator", Some(mira.access.as_str())),
        ("other moderator", Some(tom.access.as_str())),
    ] {
        let entries = modlog(&app, token).await;
        check_entries(&entries, &expected, who);
        for entry in &entries {
            assert!(
                entry.get("actor_id").is_none(),
                "{who} sees the moderator: {entry}"
            );
            let text = entry.to_string();
            assert!(
                !text.contains(&mira.id),
                "{who} sees the moderator's id: {entry}"
            );
        }
    }
    // A bad token is refused, never treated as anonymous.
    app.get(MODLOG, Some("not-a-token"))
        .await
        .expect_problem(401);
}

async fn admins_see_who_acted_in_the_modlog(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mira = moderator(&app, MIRA).await;
    let ada = admin(&app, ADA).await;
    let expected = every_moderator_action(&app, &mira).await;

    let entries = modlog(&app, Some(&ada.access)).await;
    check_entries(&entries, &expected, "admin");
    for entry in &entries {
        assert_eq!(entry["actor_id"], json!(mira.id), "{entry}");
    }

    // An action by the admin is attributed to the admin.
    let clara = app.user(CLARA).await;
    let org = app.org(&clara, "Hotel Alpenblick").await;
    suspend_org(&app, &ada, &org, "Admin greift ein.")
        .await
        .expect(200);
    let entries = modlog(&app, Some(&ada.access)).await;
    assert_eq!(entries[0]["action"], json!("suspend_org"));
    assert_eq!(entries[0]["actor_id"], json!(ada.id));
    assert_eq!(entries[1]["actor_id"], json!(mira.id));
    let anonymous = modlog(&app, None).await;
    assert!(anonymous[0].get("actor_id").is_none(), "{}", anonymous[0]);
}

async fn platform_role_changes_are_only_in_the_audit_log(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = admin(&app, ADA).await;
    let mira = moderator(&app, MIRA).await;
    let tom = app.user(TOM).await;

    // Before promotion Tom is a plain user.
    app.get(QUEUE, Some(&tom.access)).await.expect_problem(403);
    let promoted = app
        .patch(
            &format!("/api/v1/admin/users/{}", tom.id),
            Some(&ada.access),
            json!({"platform_role": "moderator"}),
        )
        .await;
    promoted.expect(200);
    assert_eq!(promoted.body["platform_role"], json!("moderator"));
    queue(&app, &tom).await;

    // Tom moderates: that is public.
    let anna = app.user(ANNA).await;
    let org = app.org(&anna, "Gasthof Sonne").await;
    let offer = draft(&app, &anna, &org, "Aussergewöhnlicher Kundenservice").await;
    submit(&app, &anna, &offer).await;
    approve(&app, &tom, &offer).await;

    for token in [None, Some(ada.access.as_str()), Some(mira.access.as_str())] {
        let public = modlog(&app, token).await;
        assert_eq!(
            actions(&public),
            vec!["approve_listing"],
            "role change in the public log"
        );
    }

    let audit = app
        .get(&format!("{AUDIT_LOG}?limit=100"), Some(&ada.access))
        .await;
    audit.expect(200);
    let entries = items(&audit);
    assert_eq!(
        actions(entries),
        vec!["approve_listing", "set_platform_role"]
    );
    assert_eq!(entries[0]["actor_id"], json!(tom.id));
    assert_eq!(entries[0]["target_id"], json!(offer));
    let role_change = &entries[1];
    assert_eq!(role_change["actor_id"], json!(ada.id));
    assert_eq!(role_change["target_type"], json!("user"));
    assert_eq!(role_change["target_id"], json!(tom.id));
    assert_eq!(role_change["reason"], json!("moderator"));
    assert!(role_change["created_at"].is_string());

    app.get(AUDIT_LOG, Some(&mira.access))
        .await
        .expect_problem(403);
    app.get(AUDIT_LOG, Some(&anna.access))
        .await
        .expect_problem(403);
    app.get(AUDIT_LOG, None).await.expect_problem(401);

    // Moderators cannot change roles, and a refused change is not logged.
    app.patch(
        &format!("/api/v1/admin/users/{}", anna.id),
        Some(&mira.access),
        json!({"platform_role": "admin"}),
    )
    .await
    .expect_problem(403);
    let audit = app
        .get(&format!("{AUDIT_LOG}?limit=100"), Some(&ada.access))
        .await;
    audit.expect(200);
    assert_eq!(items(&audit).len(), 2, "{}", audit.text);
}

async fn modlog_pages_with_limit(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_anna, org, mira) = sonne_and_mira(&app).await;
    for round in 0..3 {
        suspend_org(&app, &mira, &org, &format!("Sperre Nummer {round}"))
            .await
            .expect(200);
        unsuspend_org(&app, &mira, &org, &format!("Aufhebung Nummer {round}"))
            .await
            .expect(200);
    }
    let all = modlog(&app, None).await;
    assert_eq!(all.len(), 6);
    let all_ids: Vec<String> = all
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(all[0]["reason"], json!("Aufhebung Nummer 2"));
    assert_eq!(all[5]["reason"], json!("Sperre Nummer 0"));

    let mut seen = Vec::new();
    let mut path = format!("{MODLOG}?limit=4");
    let mut sizes = Vec::new();
    loop {
        let page = app.get(&path, None).await;
        page.expect(200);
        sizes.push(items(&page).len());
        seen.extend(ids(&page));
        assert!(sizes.len() <= 3, "the log does not end");
        match page.body["next_cursor"].as_str() {
            Some(next) => path = format!("{MODLOG}?limit=4&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(sizes, vec![4, 2]);
    assert_eq!(seen, all_ids);

    let one = app.get(&format!("{MODLOG}?limit=1"), None).await;
    one.expect(200);
    assert_eq!(ids(&one), vec![all_ids[0].clone()]);
    assert!(one.body["next_cursor"].is_string());
    app.get(&format!("{MODLOG}?cursor=bm90LWEtY3Vyc29y"), None)
        .await
        .expect_problem(400);
}

/// A refusal of a suspended account: 401 or 403, never success.
trait Refused {
    fn assert_refused(&self);
}

impl Refused for Resp {
    #[track_caller]
    fn assert_refused(&self) {
        assert!(
            self.status == 401 || self.status == 403,
            "expected a refusal, got {}: {}",
            self.status,
            self.text
        );
    }
}

backends!(
    queue_lists_submissions_oldest_first_with_counts,
    queue_pages_with_limit_one_without_duplicates,
    queue_is_for_moderators_only,
    report_is_created_open,
    repeated_report_answers_the_open_one,
    every_documented_reason_is_accepted,
    report_target_must_exist_and_be_visible,
    report_details_are_limited_and_need_a_signed_in_user,
    reporter_sees_the_outcome_others_do_not,
    moderators_filter_reports_by_status_and_target,
    dismissal_resolves_and_leaves_the_target_alone,
    remove_listing_resolution_hides_the_listing_and_is_logged,
    suspend_org_resolution_suspends_the_reported_or_listing_org,
    suspend_user_resolution_locks_the_user_out,
    resolving_twice_conflicts,
    unfit_or_failing_action_rolls_the_resolution_back,
    resolution_note_is_validated,
    suspended_org_vanishes_and_cannot_write,
    org_suspension_refuses_bad_requests,
    suspended_user_cannot_log_in_or_use_tokens,
    user_suspension_respects_platform_roles,
    suspended_users_existing_tokens_answer_forbidden,
    modlog_shows_every_action_without_moderator_identity,
    admins_see_who_acted_in_the_modlog,
    platform_role_changes_are_only_in_the_audit_log,
    modlog_pages_with_limit,
);
