//! The rules of proposals, one unhappy path at a time: what a create refuses and with which
//! field, who may propose, idempotent creates, whose turn it is, what closed and expired
//! proposals refuse, the optional bodies of decline and withdraw, the list's filters and
//! pages, and who may see a proposal at all. Every refusal is checked for its status, its
//! problem body and for what was (not) stored.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::backends;
use crate::deals::{
    act, exchange_terms, ids, item, join, open, open_between, pair, proposal_body, propose,
    read_proposal, third, PROPOSALS,
};
use crate::helpers::{error_fields, Backend, Resp, TestApp};
use crate::market::{self, draft, in_days, moderator, offer, World};

backends!(
    create_refuses_invalid_fields_by_path,
    create_accepts_the_limits_exactly,
    create_refuses_malformed_bodies_without_500,
    items_tied_to_listings_name_published_listings_of_the_giver,
    only_members_and_write_keys_of_from_may_propose,
    idempotency_key_replays_and_refuses_another_body,
    only_the_other_side_answers_the_latest_revision,
    closed_proposals_refuse_everything_naming_the_status,
    decline_and_withdraw_take_an_optional_reason,
    expired_proposals_read_expired_at_once,
    list_filters_and_pages,
    outsiders_anonymous_and_moderators_do_not_see_proposals,
    suspended_organisations_cannot_negotiate,
);

/// Asserts a 422 validation problem naming `field` (among its errors).
#[track_caller]
fn assert_field(resp: &Resp, field: &str, case: &str) {
    assert_eq!(resp.status, 422, "{case}: {}", resp.text);
    resp.expect_problem(422);
    assert_eq!(resp.body["type"], "/problems/validation", "{case}");
    let fields = error_fields(resp);
    assert!(
        fields.iter().any(|f| f == field),
        "{case}: expected field {field} in {fields:?}"
    );
}

fn proposals_in_db(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) AS n FROM proposals")
}

fn items(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| item("expertise", &format!("Workshop Nummer {i}")))
            .collect(),
    )
}

async fn create_refuses_invalid_fields_by_path(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = pair(&app).await;
    let c = third(&app).await;
    app.suspend_org_in_db(&c.id);
    let base = proposal_body(&pair, "exchange", exchange_terms(), false);
    let with = |change: &dyn Fn(&mut Value)| {
        let mut body = base.clone();
        change(&mut body);
        body
    };
    let unknown = uuid::Uuid::new_v4().to_string();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "exchange without to_gives",
            with(&|b| b["terms"]["to_gives"] = json!([])),
            "terms.to_gives",
        ),
        (
            "trial with to_gives",
            with(&|b| b["kind"] = json!("trial")),
            "terms.to_gives",
        ),
        (
            "empty from_gives",
            with(&|b| b["terms"]["from_gives"] = json!([])),
            "terms.from_gives",
        ),
        (
            "trial with empty from_gives",
            with(&|b| {
                b["kind"] = json!("trial");
                b["terms"] = json!({"from_gives": [], "to_gives": []});
            }),
            "terms.from_gives",
        ),
        (
            "21 items",
            with(&|b| b["terms"]["from_gives"] = items(21)),
            "terms.from_gives",
        ),
        (
            "21 items on the receiving side",
            with(&|b| b["terms"]["to_gives"] = items(21)),
            "terms.to_gives",
        ),
        (
            "quantity 0",
            with(&|b| b["terms"]["from_gives"][0]["quantity"] = json!(0)),
            "terms.from_gives[0].quantity",
        ),
        (
            "negative quantity",
            with(&|b| b["terms"]["to_gives"][0]["quantity"] = json!(-3)),
            "terms.to_gives[0].quantity",
        ),
        (
            "quantity above a million",
            with(&|b| b["terms"]["from_gives"][0]["quantity"] = json!(1_000_001)),
            "terms.from_gives[0].quantity",
        ),
        (
            "fractional quantity",
            with(&|b| b["terms"]["from_gives"][0]["quantity"] = json!(2.5)),
            "terms.from_gives[0].quantity",
        ),
        (
            "quantity as text",
            with(&|b| b["terms"]["from_gives"][0]["quantity"] = json!("2")),
            "terms.from_gives[0].quantity",
        ),
        (
            "unit without quantity",
            with(&|b| {
                b["terms"]["from_gives"][0] =
                    json!({"category": "expertise", "description": "Workshop", "unit": "hours"})
            }),
            "terms.from_gives[0].unit",
        ),
        (
            "empty unit",
            with(&|b| b["terms"]["to_gives"][0]["unit"] = json!("  ")),
            "terms.to_gives[0].unit",
        ),
        (
            "unit of 31 characters",
            with(&|b| b["terms"]["to_gives"][0]["unit"] = json!("x".repeat(31))),
            "terms.to_gives[0].unit",
        ),
        (
            "description of 2 characters",
            with(&|b| b["terms"]["from_gives"][0]["description"] = json!("ab")),
            "terms.from_gives[0].description",
        ),
        (
            "description of 501 characters",
            with(&|b| b["terms"]["to_gives"][0]["description"] = json!("ä".repeat(501))),
            "terms.to_gives[0].description",
        ),
        (
            "description with a control character",
            with(&|b| b["terms"]["from_gives"][0]["description"] = json!("Work\u{7}shop")),
            "terms.from_gives[0].description",
        ),
        (
            "unknown category",
            with(&|b| b["terms"]["from_gives"][0]["category"] = json!("money")),
            "terms.from_gives[0].category",
        ),
        (
            "missing description",
            with(&|b| b["terms"]["from_gives"][0] = json!({"category": "expertise"})),
            "terms.from_gives[0].description",
        ),
        (
            "expires_at in the past",
            with(&|b| b["expires_at"] = json!("2020-01-01T00:00:00Z")),
            "expires_at",
        ),
        (
            "expires_at not a time",
            with(&|b| b["expires_at"] = json!("tomorrow")),
            "expires_at",
        ),
        (
            "from == to",
            with(&|b| b["to_org_id"] = json!(pair.a.id)),
            "to_org_id",
        ),
        (
            "unknown to_org",
            with(&|b| b["to_org_id"] = json!(unknown)),
            "to_org_id",
        ),
        (
            "suspended receiver",
            with(&|b| b["to_org_id"] = json!(c.id)),
            "to_org_id",
        ),
        (
            "to_org_id not a UUID",
            with(&|b| b["to_org_id"] = json!("gasthof")),
            "to_org_id",
        ),
        (
            "message of 2001 characters",
            with(&|b| b["message"] = json!("m".repeat(2001))),
            "message",
        ),
        (
            "message missing",
            with(&|b| {
                b.as_object_mut().unwrap().remove("message");
            }),
            "message",
        ),
        (
            "unknown kind",
            with(&|b| b["kind"] = json!("barter")),
            "kind",
        ),
        (
            "terms missing",
            with(&|b| {
                b.as_object_mut().unwrap().remove("terms");
            }),
            "terms",
        ),
        (
            "from_gives not a list",
            with(&|b| b["terms"]["from_gives"] = json!("Workshops")),
            "terms.from_gives",
        ),
        (
            "confidential not a boolean",
            with(&|b| b["confidential"] = json!("yes")),
            "confidential",
        ),
    ];
    for (case, body, field) in cases {
        let resp = app.post(PROPOSALS, Some(&pair.a.owner.access), body).await;
        assert_field(&resp, field, case);
    }
    // Several invalid fields at once are all named.
    let resp = app
        .post(
            PROPOSALS,
            Some(&pair.a.owner.access),
            with(&|b| {
                b["terms"]["to_gives"] = json!([]);
                b["message"] = json!("m".repeat(2001));
                b["expires_at"] = json!("2020-01-01T00:00:00Z");
            }),
        )
        .await;
    for field in ["terms.to_gives", "message", "expires_at"] {
        assert_field(&resp, field, "three invalid fields");
    }
    assert_eq!(proposals_in_db(&app), 0, "no refused proposal was stored");
}

async fn create_accepts_the_limits_exactly(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = pair(&app).await;
    let mut body = proposal_body(&pair, "exchange", exchange_terms(), false);
    body["terms"]["from_gives"] = items(20);
    body["terms"]["from_gives"][0] = json!({"category": "referral", "description": "  Empfehlung an drei Partnerbetriebe  ", "quantity": 1_000_000, "unit": "x".repeat(30)});
    body["terms"]["to_gives"][0]["description"] = json!("ä".repeat(500));
    body["message"] = json!("m".repeat(2000));
    body["expires_at"] = json!(in_days(7));
    let created = app.post(PROPOSALS, Some(&pair.a.owner.access), body).await;
    created.expect(201);
    let id = created.str("id");
    assert_eq!(
        created.header("location").as_deref(),
        Some(format!("{PROPOSALS}/{id}").as_str())
    );
    let stored = read_proposal(&app, &pair.b.owner.access, &id).await;
    let first = &stored["revisions"][0]["terms"]["from_gives"][0];
    assert_eq!(first["description"], "Empfehlung an drei Partnerbetriebe");
    assert_eq!(first["quantity"], 1_000_000);
    assert_eq!(
        stored["revisions"][0]["terms"]["from_gives"]
            .as_array()
            .unwrap()
            .len(),
        20
    );
    // Optional fields that were not given are omitted, never null.
    let second = stored["revisions"][0]["terms"]["from_gives"][1]
        .as_object()
        .unwrap();
    assert_eq!(
        second.keys().collect::<Vec<_>>(),
        ["category", "description"]
    );
    assert_eq!(stored["status"], "open");
    assert_eq!(stored["confidential"], false);
    assert_eq!(stored["kind"], "exchange");
    assert_eq!(stored["latest_revision"], 1);
    assert_eq!(stored["revisions"][0]["author_org_id"], pair.a.id.as_str());
    let mut keys: Vec<&String> = stored["revisions"][0].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["author_org_id", "created_at", "message", "number", "terms"],
        "a revision carries the documented fields"
    );
    assert_eq!(created.body, stored, "the 201 is the stored proposal");
    assert!(stored["expires_at"].is_string());

    // A trial: items on the giving side only.
    let trial = propose(
        &app,
        &pair.a.owner.access,
        &pair.a.id,
        &pair.b.id,
        "trial",
        json!({"from_gives": [item("support", "Eine Probeberatung")], "to_gives": []}),
    )
    .await;
    trial.expect(201);
    assert_eq!(trial.body["kind"], "trial");
    assert_eq!(trial.body["awaiting_org_id"], pair.b.id.as_str());

    // The latest expiry a timestamp can say is stored and read back on both backends, and
    // the open limit's Retry-After is computed from it without overflow.
    let mut far = proposal_body(&pair, "exchange", exchange_terms(), false);
    far["expires_at"] = json!("9999-12-31T23:59:59Z");
    let far = app.post(PROPOSALS, Some(&pair.a.owner.access), far).await;
    far.expect(201);
    let stored = read_proposal(&app, &pair.b.owner.access, &far.str("id")).await;
    assert_eq!(stored["status"], "open");
    assert!(
        stored["expires_at"]
            .as_str()
            .unwrap()
            .starts_with("9999-12-31T23:59:59"),
        "{stored}"
    );
    let full = propose(
        &app,
        &pair.a.owner.access,
        &pair.a.id,
        &pair.b.id,
        "exchange",
        exchange_terms(),
    )
    .await;
    full.expect_problem(429);
    assert!(full.header("retry-after").is_some());
}

async fn create_refuses_malformed_bodies_without_500(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = pair(&app).await;
    let token = Some(pair.a.owner.access.as_str());
    let malformed = app
        .raw("POST", PROPOSALS, token, "application/json", "{\"kind\": ")
        .await;
    malformed.expect_problem(400);
    assert_eq!(malformed.body["type"], "/problems/bad-request");
    let array = app
        .raw("POST", PROPOSALS, token, "application/json", "[]")
        .await;
    assert_field(&array, "body", "an array body");
    let not_json = app
        .raw("POST", PROPOSALS, token, "text/plain", "hallo")
        .await;
    not_json.expect_problem(415);
    let empty = app
        .raw("POST", PROPOSALS, token, "application/json", "")
        .await;
    empty.expect_problem(400);
    let mut unknown_item_field = proposal_body(&pair, "exchange", exchange_terms(), false);
    unknown_item_field["terms"]["from_gives"][0]["price"] = json!(100);
    let resp = app.post(PROPOSALS, token, unknown_item_field).await;
    assert!(
        (400..500).contains(&resp.status),
        "an unknown field of an item is a 4xx: {}",
        resp.text
    );
    resp.expect_problem(resp.status);
    let null_terms = app
        .post(
            PROPOSALS,
            token,
            json!({"from_org_id": pair.a.id, "to_org_id": pair.b.id, "kind": "exchange", "message": "", "terms": null}),
        )
        .await;
    assert_field(&null_terms, "terms", "null terms");
    // Bad ids in paths and bodies of the actions are 4xx too.
    let bad_path = app
        .post(
            &format!("{PROPOSALS}/not-a-uuid/accept"),
            token,
            json!({"revision": 1}),
        )
        .await;
    bad_path.expect_problem(400);
    let id = open(&app, &pair, false).await.str("id");
    let bad_revision = act(
        &app,
        &pair.b.owner.access,
        &id,
        "accept",
        json!({"revision": "1"}),
    )
    .await;
    assert_field(&bad_revision, "revision", "revision as text");
    let no_revision = act(&app, &pair.b.owner.access, &id, "accept", json!({})).await;
    assert_field(&no_revision, "revision", "revision missing");
    let huge_revision = act(
        &app,
        &pair.b.owner.access,
        &id,
        "accept",
        json!({"revision": 99_999_999_999u64}),
    )
    .await;
    assert_field(&huge_revision, "revision", "revision out of range");
    assert_eq!(
        read_proposal(&app, &pair.b.owner.access, &id).await["status"],
        "open"
    );
    assert_eq!(proposals_in_db(&app), 1);
}

async fn items_tied_to_listings_name_published_listings_of_the_giver(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.proposal_limits.open_per_partner = 100).await;
    let moderator = moderator(&app, "moderation@mutua.example").await;
    let world = World { app, moderator };
    let app = &world.app;
    let pair = pair(app).await;
    let a_offer = world
        .publish(&pair.a, offer("Schulung Empfang", &["kundenservice"]))
        .await;
    let a_draft = draft(
        app,
        &pair.a.owner,
        &pair.a.id,
        offer("Entwurf Schulung", &["kundenservice"]),
    )
    .await;
    let a_archived = world
        .publish(&pair.a, offer("Alte Schulung", &["kundenservice"]))
        .await;
    world.archive(&pair.a, &a_archived).await;
    let a_expired = world
        .publish(&pair.a, offer("Abgelaufene Schulung", &["kundenservice"]))
        .await;
    app.expire_listing(&a_expired);
    let b_offer = world
        .publish(&pair.b, offer("Tagungsraum", &["tagungsraum"]))
        .await;

    let tied = |from_listing: Option<&str>, to_listing: Option<&str>| {
        let mut terms = exchange_terms();
        if let Some(l) = from_listing {
            terms["from_gives"][0]["listing_id"] = json!(l);
        }
        if let Some(l) = to_listing {
            terms["to_gives"][0]["listing_id"] = json!(l);
        }
        proposal_body(&pair, "exchange", terms, false)
    };
    let token = Some(pair.a.owner.access.as_str());
    let ok = app
        .post(PROPOSALS, token, tied(Some(&a_offer), Some(&b_offer)))
        .await;
    ok.expect(201);
    assert_eq!(
        ok.body["revisions"][0]["terms"]["from_gives"][0]["listing_id"],
        a_offer.as_str()
    );
    assert_eq!(
        ok.body["revisions"][0]["terms"]["to_gives"][0]["listing_id"],
        b_offer.as_str()
    );
    let before = proposals_in_db(app);

    let unknown = uuid::Uuid::new_v4().to_string();
    for (case, listing) in [
        ("another organisation's listing", &b_offer),
        ("a draft", &a_draft),
        ("an archived listing", &a_archived),
        ("an expired listing", &a_expired),
        ("an unknown id", &unknown),
    ] {
        let resp = app.post(PROPOSALS, token, tied(Some(listing), None)).await;
        assert_field(&resp, "terms.from_gives[0].listing_id", case);
    }
    // On the receiving side the listing must be the receiver's.
    let resp = app.post(PROPOSALS, token, tied(None, Some(&a_offer))).await;
    assert_field(
        &resp,
        "terms.to_gives[0].listing_id",
        "to_gives with a listing of from",
    );
    let resp = app.post(PROPOSALS, token, tied(None, Some("nope"))).await;
    assert_field(
        &resp,
        "terms.to_gives[0].listing_id",
        "listing_id not a UUID",
    );
    assert_eq!(proposals_in_db(app), before, "nothing refused was stored");

    // A counter-offer is checked the same way.
    let id = ok.str("id");
    let mut terms = exchange_terms();
    terms["to_gives"][0]["listing_id"] = json!(a_offer);
    let counter = act(
        app,
        &pair.b.owner.access,
        &id,
        "counter",
        json!({"terms": terms, "message": ""}),
    )
    .await;
    assert_field(
        &counter,
        "terms.to_gives[0].listing_id",
        "counter with a foreign listing",
    );
    terms["to_gives"][0]["listing_id"] = json!(b_offer);
    act(
        app,
        &pair.b.owner.access,
        &id,
        "counter",
        json!({"terms": terms, "message": ""}),
    )
    .await
    .expect(201);
}

async fn only_members_and_write_keys_of_from_may_propose(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = pair(&app).await;
    let c = third(&app).await;
    let body = || proposal_body(&pair, "exchange", exchange_terms(), false);

    let anonymous = app.post(PROPOSALS, None, body()).await;
    anonymous.expect_problem(401);
    assert!(anonymous.header("www-authenticate").is_some());
    for (case, token) in [
        ("the receiver's owner", pair.b.owner.access.clone()),
        ("an outsider", c.owner.access.clone()),
    ] {
        let resp = app.post(PROPOSALS, Some(&token), body()).await;
        resp.expect_problem(403);
        assert_eq!(resp.body["type"], "/problems/forbidden", "{case}");
    }
    let read_key = app.api_key(&pair.a.id, &pair.a.owner, &["read"]).await;
    let resp = app.post(PROPOSALS, Some(&read_key), body()).await;
    resp.expect_problem(403);
    assert!(resp.str("detail").contains("write"), "{}", resp.text);
    let b_key = app
        .api_key(&pair.b.id, &pair.b.owner, &["read", "write"])
        .await;
    app.post(PROPOSALS, Some(&b_key), body())
        .await
        .expect_problem(403);
    let unknown_from = app
        .post(
            PROPOSALS,
            Some(&pair.a.owner.access),
            json!({"from_org_id": uuid::Uuid::new_v4(), "to_org_id": pair.b.id, "kind": "exchange", "message": "", "terms": exchange_terms()}),
        )
        .await;
    unknown_from.expect_problem(404);

    // A member of both organisations cannot sit on both sides.
    let both = app.user("doppelt@mutua.example").await;
    join(&app, &pair.a.id, &pair.a.owner, &both, "member").await;
    join(&app, &pair.b.id, &pair.b.owner, &both, "member").await;
    let resp = app.post(PROPOSALS, Some(&both.access), body()).await;
    resp.expect_problem(422);
    assert_eq!(resp.body["type"], "/problems/unprocessable");
    assert!(resp.str("detail").contains("both"), "{}", resp.text);
    assert_eq!(proposals_in_db(&app), 0, "nothing refused was stored");

    // A write key of `from` proposes; a plain member does too.
    let write_key = app
        .api_key(&pair.a.id, &pair.a.owner, &["read", "write"])
        .await;
    let by_key = app.post(PROPOSALS, Some(&write_key), body()).await;
    by_key.expect(201);
    assert_eq!(
        by_key.body["revisions"][0]["author_org_id"],
        pair.a.id.as_str()
    );
    let member = app
        .member(
            &pair.a.id,
            &pair.a.owner,
            "mitarbeiter@hotel-alpenblick.example",
            "member",
        )
        .await;
    app.post(PROPOSALS, Some(&member.access), body())
        .await
        .expect(201);
    // The key's proposal is read by the key and by the other side.
    let id = by_key.str("id");
    read_proposal(&app, &read_key, &id).await;
    read_proposal(&app, &pair.b.owner.access, &id).await;
    // The member of both sides reads it but cannot act on it.
    read_proposal(&app, &both.access, &id).await;
    act(&app, &both.access, &id, "accept", json!({"revision": 1}))
        .await
        .expect_problem(422);
    // The read-only key cannot act on it either.
    act(&app, &read_key, &id, "withdraw", json!({}))
        .await
        .expect_problem(403);

    // A suspended organisation cannot propose.
    app.suspend_org_in_db(&pair.a.id);
    app.post(PROPOSALS, Some(&pair.a.owner.access), body())
        .await
        .expect_problem(403);
    assert_eq!(proposals_in_db(&app), 2);
}

async fn idempotency_key_replays_and_refuses_another_body(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = pair(&app).await;
    let body = proposal_body(&pair, "exchange", exchange_terms(), false);
    let send = |key: &'static str, body: Value| {
        let app = &app;
        let token = pair.a.owner.access.clone();
        async move {
            app.call(
                "POST",
                PROPOSALS,
                Some(&token),
                Some(body),
                &[("Idempotency-Key", key)],
            )
            .await
        }
    };
    let first = send("vorschlag-1", body.clone()).await;
    first.expect(201);
    let replay = send("vorschlag-1", body.clone()).await;
    replay.expect(201);
    assert_eq!(replay.body, first.body, "the replay is the same response");
    assert_eq!(replay.header("location"), first.header("location"));
    assert_eq!(
        replay.header("idempotent-replayed").as_deref(),
        Some("true")
    );
    assert_eq!(proposals_in_db(&app), 1, "no duplicate row");

    let mut other = body.clone();
    other["message"] = json!("Ein anderer Text");
    let refused = send("vorschlag-1", other).await;
    refused.expect_problem(422);
    assert_eq!(refused.body["type"], "/problems/unprocessable");
    assert_eq!(proposals_in_db(&app), 1);

    let second = send("vorschlag-2", body.clone()).await;
    second.expect(201);
    assert_ne!(second.str("id"), first.str("id"));
    assert_eq!(proposals_in_db(&app), 2);

    // A refused create leaves no key behind: after the refusal, the same key works.
    let mut invalid = body.clone();
    invalid["terms"]["to_gives"] = json!([]);
    assert_field(
        &send("vorschlag-3", invalid).await,
        "terms.to_gives",
        "invalid",
    );
    send("vorschlag-3", body.clone()).await.expect(201);
    assert_eq!(proposals_in_db(&app), 3);

    // A counter-offer replays too, and stores one revision.
    let id = first.str("id");
    let counter = json!({"terms": exchange_terms(), "message": "Gegenvorschlag"});
    let path = format!("{PROPOSALS}/{id}/counter");
    let headers = [("Idempotency-Key", "gegen-1")];
    let c1 = app
        .call(
            "POST",
            &path,
            Some(&pair.b.owner.access),
            Some(counter.clone()),
            &headers,
        )
        .await;
    c1.expect(201);
    let c2 = app
        .call(
            "POST",
            &path,
            Some(&pair.b.owner.access),
            Some(counter),
            &headers,
        )
        .await;
    c2.expect(201);
    assert_eq!(c2.body, c1.body);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM proposal_revisions WHERE proposal_id = '{id}'"
        )),
        2
    );
}

async fn only_the_other_side_answers_the_latest_revision(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = pair(&app).await;
    let c = third(&app).await;
    let (a, b) = (&pair.a.owner.access, &pair.b.owner.access);
    let id = open(&app, &pair, false).await.str("id");
    let counter_body = |message: &str| json!({"terms": exchange_terms(), "message": message});

    let before = read_proposal(&app, a, &id).await;
    // Revision 1 is a's: a can neither counter, accept nor decline it; b cannot withdraw it.
    let refusals = [
        (a, "counter", counter_body("Noch einmal"), "revision 1"),
        (a, "accept", json!({"revision": 1}), "revision 1"),
        (a, "decline", json!({}), "revision 1"),
        (b, "withdraw", json!({}), "other side"),
        (b, "accept", json!({"revision": 2}), "revision 1 is"),
        (b, "accept", json!({"revision": 0}), "revision 1 is"),
    ];
    for (token, action, body, says) in refusals {
        let resp = act(&app, token, &id, action, body).await;
        resp.expect_problem(409);
        assert_eq!(resp.body["type"], "/problems/conflict");
        assert!(resp.str("detail").contains(says), "{action}: {}", resp.text);
    }
    // Outsiders learn nothing.
    for action in ["counter", "accept", "decline", "withdraw"] {
        let body = if action == "counter" {
            counter_body("x")
        } else {
            json!({"revision": 1})
        };
        act(&app, &c.owner.access, &id, action, body)
            .await
            .expect_problem(404);
    }

    assert_eq!(
        read_proposal(&app, a, &id).await,
        before,
        "refused actions change nothing, not even updated_at"
    );
    let countered = act(&app, b, &id, "counter", counter_body("Gegenvorschlag")).await;
    countered.expect(201);
    assert_eq!(countered.body["latest_revision"], 2);
    assert_eq!(countered.body["awaiting_org_id"], pair.a.id.as_str());
    // Now revision 2 is b's.
    act(&app, b, &id, "accept", json!({"revision": 2}))
        .await
        .expect_problem(409);
    act(&app, b, &id, "counter", counter_body("Nochmal"))
        .await
        .expect_problem(409);
    let stale = act(&app, a, &id, "accept", json!({"revision": 1})).await;
    stale.expect_problem(409);
    assert!(
        stale.str("detail").contains("revision 2"),
        "names the latest: {}",
        stale.text
    );
    // A counter follows the proposal's kind.
    let invalid = act(
        &app,
        a,
        &id,
        "counter",
        json!({"terms": {"from_gives": [item("expertise", "Workshop")], "to_gives": []}, "message": ""}),
    )
    .await;
    assert_field(
        &invalid,
        "terms.to_gives",
        "counter of an exchange without to_gives",
    );
    let third_revision = act(
        &app,
        a,
        &id,
        "counter",
        json!({"terms": {"from_gives": [item("expertise", "Drei Workshops")], "to_gives": [item("resource", "Raum")]}, "message": "Letztes Angebot"}),
    )
    .await;
    third_revision.expect(201);

    let stored = read_proposal(&app, b, &id).await;
    assert_eq!(stored["status"], "open");
    assert_eq!(stored["latest_revision"], 3);
    assert_eq!(stored["awaiting_org_id"], pair.b.id.as_str());
    let revisions = stored["revisions"].as_array().unwrap();
    let numbers: Vec<i64> = revisions
        .iter()
        .map(|r| r["number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2, 3]);
    let authors: Vec<&str> = revisions
        .iter()
        .map(|r| r["author_org_id"].as_str().unwrap())
        .collect();
    assert_eq!(authors, [&pair.a.id, &pair.b.id, &pair.a.id]);
    // Revision 1 is unchanged by the counters.
    assert_eq!(revisions[0]["terms"], exchange_terms());
    assert_eq!(revisions[2]["message"], "Letztes Angebot");

    // A counter-offer to a trial keeps it a trial: the receiver gives nothing.
    let trial = propose(
        &app,
        a,
        &pair.a.id,
        &pair.b.id,
        "trial",
        json!({"from_gives": [item("support", "Probeberatung")], "to_gives": []}),
    )
    .await;
    trial.expect(201);
    let trial = trial.str("id");
    let asks = act(
        &app,
        b,
        &trial,
        "counter",
        json!({"terms": {"from_gives": [item("support", "Zwei Probeberatungen")], "to_gives": [item("resource", "Raum")]}, "message": ""}),
    )
    .await;
    assert_field(&asks, "terms.to_gives", "counter of a trial with to_gives");
    act(
        &app,
        b,
        &trial,
        "counter",
        json!({"terms": {"from_gives": [item("support", "Zwei Probeberatungen")], "to_gives": []}, "message": "Gern zwei"}),
    )
    .await
    .expect(201);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM agreements"),
        0,
        "no refusal made an agreement"
    );
}

async fn closed_proposals_refuse_everything_naming_the_status(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = pair(&app).await;
    let (a, b) = (&pair.a.owner.access, &pair.b.owner.access);
    let accepted = open(&app, &pair, false).await.str("id");
    act(&app, b, &accepted, "accept", json!({"revision": 1}))
        .await
        .expect(200);
    let declined = open(&app, &pair, false).await.str("id");
    act(
        &app,
        b,
        &declined,
        "decline",
        json!({"reason": "Passt gerade nicht"}),
    )
    .await
    .expect(200);
    let withdrawn = open(&app, &pair, false).await.str("id");
    act(&app, a, &withdrawn, "withdraw", json!({}))
        .await
        .expect(200);

    for (id, status) in [
        (&accepted, "accepted"),
        (&declined, "declined"),
        (&withdrawn, "withdrawn"),
    ] {
        for token in [a, b] {
            for (action, body) in [
                (
                    "counter",
                    json!({"terms": exchange_terms(), "message": "Noch ein Versuch"}),
                ),
                ("accept", json!({"revision": 1})),
                ("decline", json!({})),
                ("withdraw", json!({})),
            ] {
                let resp = act(&app, token, id, action, body).await;
                resp.expect_problem(409);
                assert!(
                    resp.str("detail").contains(status),
                    "{action} on {status}: {}",
                    resp.text
                );
            }
        }
        let stored = read_proposal(&app, a, id).await;
        assert_eq!(stored["status"], status);
        assert_eq!(stored["latest_revision"], 1);
        assert_eq!(stored["awaiting_org_id"], Value::Null);
        assert!(stored["closed_at"].is_string());
    }
    assert!(read_proposal(&app, a, &accepted).await["agreement_id"].is_string());
    assert_eq!(
        read_proposal(&app, a, &declined).await["agreement_id"],
        Value::Null
    );
    assert_eq!(
        read_proposal(&app, a, &declined).await["reason"],
        "Passt gerade nicht"
    );
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM agreements"), 1);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM proposal_revisions"), 3);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM log_leaves"), 1);
}

async fn decline_and_withdraw_take_an_optional_reason(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.proposal_limits.declines_before_cooldown = 0;
        s.proposal_limits.open_per_partner = 10;
    })
    .await;
    let pair = pair(&app).await;
    let (a, b) = (&pair.a.owner.access, &pair.b.owner.access);
    let path = |id: &str, action: &str| format!("{PROPOSALS}/{id}/{action}");

    for (action, token) in [("decline", b), ("withdraw", a)] {
        // Invalid bodies change nothing.
        let id = open(&app, &pair, false).await.str("id");
        let malformed = app
            .raw(
                "POST",
                &path(&id, action),
                Some(token),
                "application/json",
                "{\"reason\": ",
            )
            .await;
        malformed.expect_problem(400);
        let long = act(
            &app,
            token,
            &id,
            action,
            json!({"reason": "r".repeat(1001)}),
        )
        .await;
        assert_field(&long, "reason", "reason of 1001 characters");
        let number = act(&app, token, &id, action, json!({"reason": 7})).await;
        assert_field(&number, "reason", "reason as a number");
        let control = act(&app, token, &id, action, json!({"reason": "weil\u{0}"})).await;
        assert_field(&control, "reason", "reason with a control character");
        let array = app
            .raw(
                "POST",
                &path(&id, action),
                Some(token),
                "application/json",
                "[]",
            )
            .await;
        assert_field(&array, "body", "an array body");
        let text = app
            .raw(
                "POST",
                &path(&id, action),
                Some(token),
                "text/plain",
                "weil",
            )
            .await;
        text.expect_problem(415);
        let stored = read_proposal(&app, a, &id).await;
        assert_eq!(
            stored["status"], "open",
            "{action}: refused bodies change nothing"
        );

        // A reason of exactly 1000 characters is kept and shown to both sides.
        let reason = "g".repeat(1000);
        let done = act(
            &app,
            token,
            &id,
            action,
            json!({"reason": format!("  {reason} ")}),
        )
        .await;
        done.expect(200);
        let status = if action == "decline" {
            "declined"
        } else {
            "withdrawn"
        };
        assert_eq!(done.body["status"], status);
        for reader in [a, b] {
            assert_eq!(
                read_proposal(&app, reader, &id).await["reason"],
                reason.as_str()
            );
        }

        // Without a body at all, with an empty body and with `{}`: no reason.
        let no_body = open(&app, &pair, false).await.str("id");
        let resp = app
            .call("POST", &path(&no_body, action), Some(token), None, &[])
            .await;
        resp.expect(200);
        assert_eq!(resp.body["status"], status);
        assert!(resp.body.get("reason").is_none(), "{}", resp.text);
        let empty = open(&app, &pair, false).await.str("id");
        let resp = app
            .raw(
                "POST",
                &path(&empty, action),
                Some(token),
                "application/json",
                "",
            )
            .await;
        resp.expect(200);
        assert_eq!(resp.body["status"], status);
        let braces = open(&app, &pair, false).await.str("id");
        let resp = act(&app, token, &braces, action, json!({})).await;
        resp.expect(200);
        assert!(resp.body.get("reason").is_none(), "{}", resp.text);
        let null_reason = open(&app, &pair, false).await.str("id");
        let resp = act(&app, token, &null_reason, action, json!({"reason": null})).await;
        resp.expect(200);
        assert!(resp.body.get("reason").is_none(), "{}", resp.text);
        let stored = read_proposal(&app, b, &no_body).await;
        assert_eq!(stored["status"], status);
        assert!(stored["closed_at"].is_string());
    }
}

async fn expired_proposals_read_expired_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = pair(&app).await;
    let (a, b) = (&pair.a.owner.access, &pair.b.owner.access);
    let mut body = proposal_body(&pair, "exchange", exchange_terms(), false);
    body["expires_at"] = json!(in_days(3));
    let soon = app.post(PROPOSALS, Some(a), body).await;
    soon.expect(201);
    assert_eq!(soon.body["status"], "open");
    let soon = soon.str("id");
    let lasting = open(&app, &pair, false).await.str("id");
    // Its time runs out (no job runs; the read says so at once).
    app.sql(&format!(
        "UPDATE proposals SET expires_at = '2000-01-01 00:00:00' WHERE id = '{soon}'"
    ));

    for token in [a, b] {
        let stored = read_proposal(&app, token, &soon).await;
        assert_eq!(stored["status"], "expired");
        assert_eq!(stored["awaiting_org_id"], Value::Null);
    }
    let list = |query: &'static str| {
        let app = &app;
        async move {
            let resp = app.get(&format!("{PROPOSALS}?{query}"), Some(a)).await;
            resp.expect(200);
            ids(&resp)
        }
    };
    assert_eq!(list("status=expired").await, std::slice::from_ref(&soon));
    assert_eq!(list("status=open").await, std::slice::from_ref(&lasting));
    let all = list("").await;
    assert_eq!(all.len(), 2);
    let page = app.get(PROPOSALS, Some(b)).await;
    let listed = page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == soon.as_str())
        .unwrap()
        .clone();
    assert_eq!(listed["status"], "expired", "the list says expired too");

    for (token, action, body) in [
        (b, "accept", json!({"revision": 1})),
        (
            b,
            "counter",
            json!({"terms": exchange_terms(), "message": "Zu spät?"}),
        ),
        (b, "decline", json!({})),
        (a, "withdraw", json!({})),
    ] {
        let resp = act(&app, token, &soon, action, body).await;
        resp.expect_problem(409);
        assert!(
            resp.str("detail").contains("expired"),
            "{action}: {}",
            resp.text
        );
    }
    assert_eq!(read_proposal(&app, a, &soon).await["status"], "expired");
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM agreements"), 0);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM proposal_revisions WHERE proposal_id = '{soon}'"
        )),
        1
    );
    // The lasting one is unaffected.
    act(&app, b, &lasting, "accept", json!({"revision": 1}))
        .await
        .expect(200);
}

async fn list_filters_and_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = pair(&app).await;
    let c = third(&app).await;
    let (a, b) = (&pair.a.owner.access, &pair.b.owner.access);
    let ab = open_between(&app, a, &pair.a.id, &pair.b.id).await;
    let ba = open_between(&app, b, &pair.b.id, &pair.a.id).await;
    let ac = open_between(&app, a, &pair.a.id, &c.id).await;
    let cb = open_between(&app, &c.owner.access, &c.id, &pair.b.id).await;
    let ab2 = open_between(&app, a, &pair.a.id, &pair.b.id).await;
    act(&app, b, &ab2, "decline", json!({})).await.expect(200);

    let list = |token: &str, query: &str| {
        let app = &app;
        let (token, query) = (token.to_owned(), query.to_owned());
        async move {
            let resp = app.get(&format!("{PROPOSALS}?{query}"), Some(&token)).await;
            resp.expect(200);
            assert_eq!(resp.body["next_cursor"], Value::Null, "{query}: one page");
            ids(&resp).into_iter().collect::<BTreeSet<_>>()
        }
    };
    let set = |ids: &[&String]| ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(list(a, "").await, set(&[&ab, &ba, &ac, &ab2]));
    assert_eq!(list(a, "direction=sent").await, set(&[&ab, &ac, &ab2]));
    assert_eq!(list(a, "direction=received").await, set(&[&ba]));
    assert_eq!(
        list(a, &format!("org_id={}", pair.a.id)).await,
        set(&[&ab, &ba, &ac, &ab2])
    );
    assert_eq!(list(a, "status=open").await, set(&[&ab, &ba, &ac]));
    assert_eq!(list(a, "status=declined").await, set(&[&ab2]));
    assert_eq!(list(a, "status=accepted").await, set(&[]));
    assert_eq!(
        list(a, "status=declined&direction=received").await,
        set(&[])
    );
    assert_eq!(list(b, "direction=received").await, set(&[&ab, &cb, &ab2]));
    assert_eq!(list(&c.owner.access, "").await, set(&[&ac, &cb]));
    let key = app.api_key(&pair.a.id, &pair.a.owner, &["read"]).await;
    assert_eq!(list(&key, "direction=sent").await, set(&[&ab, &ac, &ab2]));

    // A foreign organisation is 403, an unknown one 404; bad parameters 400.
    let foreign = app
        .get(&format!("{PROPOSALS}?org_id={}", c.id), Some(a))
        .await;
    foreign.expect_problem(403);
    app.get(&format!("{PROPOSALS}?org_id={}", c.id), Some(&key))
        .await
        .expect_problem(403);
    app.get(
        &format!("{PROPOSALS}?org_id={}", uuid::Uuid::new_v4()),
        Some(a),
    )
    .await
    .expect_problem(404);
    for query in [
        "status=pending",
        "direction=both",
        "org_id=hotel",
        "limit=0",
        "limit=101",
        "limit=zwei",
        "cursor=garbage",
    ] {
        let resp = app.get(&format!("{PROPOSALS}?{query}"), Some(a)).await;
        resp.expect_problem(400);
        assert_eq!(resp.body["type"], "/problems/bad-request", "{query}");
    }

    // An empty cursor is the first page, as if it were absent.
    let first = app.get(PROPOSALS, Some(a)).await;
    let empty = app.get(&format!("{PROPOSALS}?cursor="), Some(a)).await;
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert_eq!(empty.body["items"], first.body["items"]);

    // limit=1 walks every proposal once, newest first.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("limit=1&cursor={}", crate::helpers::enc(c)),
            None => "limit=1".to_owned(),
        };
        let resp = app.get(&format!("{PROPOSALS}?{query}"), Some(a)).await;
        resp.expect(200);
        let page = ids(&resp);
        assert!(page.len() <= 1);
        seen.extend(page);
        cursor = market::next_cursor(&resp);
        if cursor.is_none() {
            break;
        }
        assert!(seen.len() <= 4, "paging does not end: {seen:?}");
    }
    assert_eq!(seen.len(), 4, "{seen:?}");
    let unique: BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(
        unique,
        set(&[&ab, &ba, &ac, &ab2]),
        "no duplicates, none missing"
    );
    let mut newest_first = seen.clone();
    newest_first.sort();
    newest_first.reverse();
    assert_eq!(seen, newest_first);
    // Pages of a filtered list stay filtered.
    let first = app
        .get(&format!("{PROPOSALS}?limit=1&direction=sent"), Some(a))
        .await;
    let next = market::next_cursor(&first).expect("a second page");
    let second = app
        .get(
            &format!(
                "{PROPOSALS}?limit=5&direction=sent&cursor={}",
                crate::helpers::enc(&next)
            ),
            Some(a),
        )
        .await;
    second.expect(200);
    assert_eq!(ids(&first).len() + ids(&second).len(), 3);
    assert!(!ids(&second).contains(&ba));
}

async fn outsiders_anonymous_and_moderators_do_not_see_proposals(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let moderator = moderator(&app, "moderation@mutua.example").await;
    let pair = pair(&app).await;
    let c = third(&app).await;
    let id = open(&app, &pair, false).await.str("id");
    let path = format!("{PROPOSALS}/{id}");

    let anonymous = app.get(&path, None).await;
    anonymous.expect_problem(401);
    app.get(PROPOSALS, None).await.expect_problem(401);
    app.post(&format!("{path}/accept"), None, json!({"revision": 1}))
        .await
        .expect_problem(401);
    for token in [&c.owner.access, &moderator.access] {
        let resp = app.get(&path, Some(token)).await;
        resp.expect_problem(404);
        assert_eq!(resp.body["type"], "/problems/not-found");
        let listed = app.get(PROPOSALS, Some(token)).await;
        listed.expect(200);
        assert!(ids(&listed).is_empty(), "{}", listed.text);
    }
    // A proposal that does not exist answers the same.
    let missing = app
        .get(
            &format!("{PROPOSALS}/{}", uuid::Uuid::new_v4()),
            Some(&c.owner.access),
        )
        .await;
    missing.expect_problem(404);
    assert_eq!(
        missing.body["title"],
        app.get(&path, Some(&c.owner.access)).await.body["title"]
    );
    let c_key = app.api_key(&c.id, &c.owner, &["read", "write"]).await;
    app.get(&path, Some(&c_key)).await.expect_problem(404);

    // An outsider cannot report what it cannot see.
    let report = |token: &str| {
        let app = &app;
        let (token, id) = (token.to_owned(), id.clone());
        async move {
            app.post(
                "/api/v1/reports",
                Some(&token),
                json!({"target_type": "proposal", "target_id": id, "reason": "manipulation", "details": "Druck ausgeübt"}),
            )
            .await
        }
    };
    report(&c.owner.access).await.expect_problem(404);
    app.get(&path, Some(&moderator.access))
        .await
        .expect_problem(404);

    // Once a party reports it, a moderator reads it, but still cannot act on it.
    let filed = report(&pair.b.owner.access).await;
    filed.expect(201);
    report(&pair.b.owner.access).await.expect(200);
    let seen = app.get(&path, Some(&moderator.access)).await;
    seen.expect(200);
    assert_eq!(seen.body["revisions"][0]["terms"], exchange_terms());
    let queue = app
        .get(
            &format!("/api/v1/moderation/reports?target_type=proposal&target_id={id}"),
            Some(&moderator.access),
        )
        .await;
    queue.expect(200);
    assert_eq!(ids(&queue), [filed.str("id")]);
    // A proposal report is resolved by dismissing it; no other action fits it.
    let resolve = format!("/api/v1/moderation/reports/{}/resolve", filed.str("id"));
    for action in ["suspend_org", "remove_listing", "suspend_user"] {
        app.post(
            &resolve,
            Some(&moderator.access),
            json!({"action": action, "note": "Passt nicht"}),
        )
        .await
        .expect_problem(422);
    }
    let org_status = app.get(&format!("/api/v1/orgs/{}", pair.a.id), None).await;
    assert_eq!(org_status.body["status"], "active", "{}", org_status.text);
    app.post(
        &resolve,
        Some(&moderator.access),
        json!({"action": "dismiss", "note": "Kein Druck erkennbar"}),
    )
    .await
    .expect(200);
    // Dismissed, it was still reported: the moderator keeps reading it.
    app.get(&path, Some(&moderator.access)).await.expect(200);
    for (action, body) in [
        ("accept", json!({"revision": 1})),
        ("decline", json!({})),
        ("withdraw", json!({})),
        ("counter", json!({"terms": exchange_terms(), "message": ""})),
    ] {
        let resp = act(&app, &moderator.access, &id, action, body).await;
        assert!(
            resp.status == 404 || resp.status == 403,
            "a moderator cannot {action}: {}",
            resp.text
        );
        resp.expect_problem(resp.status);
    }
    // Outsiders still see nothing; the proposal is untouched.
    app.get(&path, Some(&c.owner.access))
        .await
        .expect_problem(404);
    let stored = read_proposal(&app, &pair.a.owner.access, &id).await;
    assert_eq!(stored["status"], "open");
    assert_eq!(stored["latest_revision"], 1);
}

async fn suspended_organisations_cannot_negotiate(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = pair(&app).await;
    let (a, b) = (&pair.a.owner.access, &pair.b.owner.access);
    let id = open(&app, &pair, false).await.str("id");
    app.suspend_org_in_db(&pair.b.id);
    for (action, body) in [
        ("accept", json!({"revision": 1})),
        ("decline", json!({})),
        ("counter", json!({"terms": exchange_terms(), "message": ""})),
    ] {
        let resp = act(&app, b, &id, action, body).await;
        resp.expect_problem(403);
        assert!(
            resp.str("detail").contains("suspended"),
            "{action}: {}",
            resp.text
        );
    }
    // Its members still read it; the other side may still withdraw.
    let stored = read_proposal(&app, b, &id).await;
    assert_eq!(stored["status"], "open");
    assert_eq!(stored["latest_revision"], 1);
    act(&app, a, &id, "withdraw", json!({})).await.expect(200);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM agreements"), 0);
}
