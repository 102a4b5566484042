//! The rules of agreements: what accepting creates, completion by both sides, cancellation
//! with a reason, who may act, endorsements after completion, the public registry and an
//! organisation's own list, confidentiality (the terms appear nowhere public, while each
//! party can recompute the commitment) and the reciprocity balances and partner histories.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::backends;
use crate::deals::{
    act, commitment, exchange_terms, ids, item, join, open, pair, proposal_body, propose,
    read_agreement, read_proposal, third, Pair, PROPOSALS,
};
use crate::helpers::{error_fields, Backend, Resp, TestApp};
use crate::market::{moderator, Company};

backends!(
    accepting_creates_an_active_agreement_with_the_accepted_terms,
    completion_needs_both_sides_once,
    cancel_needs_a_reason_and_ends_the_agreement,
    only_parties_with_write_access_act_on_agreements,
    endorsements_follow_completion_once_per_party,
    registry_and_organisation_lists,
    confidential_terms_appear_nowhere_public,
    reciprocity_counts_completed_items_only,
);

const AGREEMENTS: &str = "/api/v1/agreements";

fn path(agreement: &str, action: &str) -> String {
    format!("{AGREEMENTS}/{agreement}/{action}")
}

fn leaves(app: &TestApp, agreement: &str, event: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) AS n FROM log_leaves WHERE agreement_id = '{agreement}' AND event = '{event}'"
    ))
}

fn events(agreement: &Value) -> Vec<String> {
    agreement["log_entries"]
        .as_array()
        .expect("log_entries")
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect()
}

/// Opens a proposal `from` → `to` with `terms` and has `to` accept it; the agreement id.
async fn agree(
    app: &TestApp,
    from: &Company,
    to: &Company,
    kind: &str,
    terms: Value,
    confidential: bool,
) -> String {
    let body = json!({
        "from_org_id": from.id, "to_org_id": to.id, "kind": kind,
        "message": "Vorschlag", "terms": terms, "confidential": confidential,
    });
    let opened = app.post(PROPOSALS, Some(&from.owner.access), body).await;
    opened.expect(201);
    let accepted = act(
        app,
        &to.owner.access,
        &opened.str("id"),
        "accept",
        json!({"revision": 1}),
    )
    .await;
    accepted.expect(200);
    accepted.str("agreement_id")
}

/// Both owners confirm completion.
async fn complete_both(app: &TestApp, x: &Company, y: &Company, agreement: &str) {
    for side in [x, y] {
        app.post(
            &path(agreement, "complete"),
            Some(&side.owner.access),
            json!({}),
        )
        .await
        .expect(200);
    }
}

async fn cancel(app: &TestApp, by: &Company, agreement: &str) -> Resp {
    app.post(
        &path(agreement, "cancel"),
        Some(&by.owner.access),
        json!({"reason": "Der Termin ist leider ausgefallen."}),
    )
    .await
}

async fn accepting_creates_an_active_agreement_with_the_accepted_terms(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = pair(&app).await;
    let (a, b) = (&pair.a.owner.access, &pair.b.owner.access);
    let id = open(&app, &pair, false).await.str("id");
    let second_terms = json!({
        "from_gives": [{"category": "expertise", "description": "Drei Workshops", "quantity": 3, "unit": "workshops"}],
        "to_gives": [item("resource", "Tagungsraum"), {"category": "referral", "description": "Empfehlung an den Tourismusverband", "listing_id": null}],
    });
    // `listing_id: null` is read as absent and stored without it.
    let expected_terms = json!({
        "from_gives": [{"category": "expertise", "description": "Drei Workshops", "quantity": 3, "unit": "workshops"}],
        "to_gives": [item("resource", "Tagungsraum"), item("referral", "Empfehlung an den Tourismusverband")],
    });
    act(
        &app,
        b,
        &id,
        "counter",
        json!({"terms": second_terms, "message": "Gegenvorschlag"}),
    )
    .await
    .expect(201);
    let accepted = act(&app, a, &id, "accept", json!({"revision": 2})).await;
    accepted.expect(200);
    assert_eq!(accepted.body["status"], "accepted");
    assert_eq!(accepted.body["awaiting_org_id"], Value::Null);
    let agreement_id = accepted.str("agreement_id");
    assert_eq!(
        read_proposal(&app, b, &id).await["agreement_id"],
        agreement_id.as_str()
    );

    let agreement = read_agreement(&app, Some(a), &agreement_id).await;
    assert_eq!(agreement["id"], agreement_id.as_str());
    assert_eq!(agreement["proposal_id"], id.as_str());
    assert_eq!(agreement["status"], "active");
    assert_eq!(agreement["from_org_id"], pair.a.id.as_str());
    assert_eq!(agreement["to_org_id"], pair.b.id.as_str());
    assert_eq!(agreement["kind"], "exchange");
    assert_eq!(agreement["confidential"], false);
    assert_eq!(agreement["revision"], 2);
    assert_eq!(
        agreement["terms"], expected_terms,
        "the accepted revision's terms"
    );
    assert_eq!(events(&agreement), ["agreement.accepted"]);
    assert!(agreement["log_entries"][0]["leaf_index"].is_i64());
    assert_eq!(agreement["from_confirmed_at"], Value::Null);
    assert_eq!(agreement["to_confirmed_at"], Value::Null);
    assert_eq!(
        commitment(
            agreement["terms_salt"].as_str().unwrap(),
            &agreement["terms"]
        ),
        agreement["terms_commitment"].as_str().unwrap(),
        "the commitment is base64(SHA-256(salt ‖ JCS(terms)))"
    );
    // The other side reads the same agreement.
    assert_eq!(
        read_agreement(&app, Some(b), &agreement_id).await,
        agreement
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM agreements WHERE proposal_id = '{id}'"
        )),
        1
    );
    assert_eq!(leaves(&app, &agreement_id, "agreement.accepted"), 1);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM agreement_items WHERE agreement_id = '{agreement_id}'"
        )),
        3
    );
    // Unknown agreements are 404, a bad id 400.
    app.get(&format!("{AGREEMENTS}/{}", uuid::Uuid::new_v4()), None)
        .await
        .expect_problem(404);
    app.get(&format!("{AGREEMENTS}/nope"), None)
        .await
        .expect_problem(400);
}

async fn completion_needs_both_sides_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = pair(&app).await;
    let (a, b) = (&pair.a.owner.access, &pair.b.owner.access);
    let id = crate::deals::agreement(&app, &pair, false).await;

    let first = app.post(&path(&id, "complete"), Some(b), json!({})).await;
    first.expect(200);
    assert_eq!(first.body["status"], "active");
    assert!(first.body["to_confirmed_at"].is_string());
    assert_eq!(first.body["from_confirmed_at"], Value::Null);
    let twice = app.post(&path(&id, "complete"), Some(b), json!({})).await;
    twice.expect_problem(409);
    assert!(
        twice.str("detail").contains("already confirmed"),
        "{}",
        twice.text
    );
    // Another member of the same side is the same side.
    let colleague = app.user("kollege@gasthof-seeblick.example").await;
    join(&app, &pair.b.id, &pair.b.owner, &colleague, "member").await;
    app.post(&path(&id, "complete"), Some(&colleague.access), json!({}))
        .await
        .expect_problem(409);
    let stored = read_agreement(&app, Some(a), &id).await;
    assert_eq!(stored["status"], "active");
    assert_eq!(events(&stored), ["agreement.accepted"]);

    // The complete endpoint takes no body: an empty one does too.
    let done = app
        .raw(
            "POST",
            &path(&id, "complete"),
            Some(a),
            "application/json",
            "",
        )
        .await;
    done.expect(200);
    assert_eq!(done.body["status"], "completed");
    assert!(done.body["completed_at"].is_string());
    assert!(done.body["from_confirmed_at"].is_string());
    assert_eq!(
        events(&done.body),
        ["agreement.accepted", "agreement.completed"]
    );
    for (token, action, body) in [
        (a, "complete", json!({})),
        (b, "complete", json!({})),
        (a, "cancel", json!({"reason": "Doch nicht"})),
        (b, "cancel", json!({"reason": "Doch nicht"})),
    ] {
        let resp = app.post(&path(&id, action), Some(token), body).await;
        resp.expect_problem(409);
        assert!(
            resp.str("detail").contains("completed"),
            "{action}: {}",
            resp.text
        );
    }
    let stored = read_agreement(&app, None, &id).await;
    assert_eq!(stored["status"], "completed");
    assert_eq!(stored["cancelled_at"], Value::Null);
    assert_eq!(leaves(&app, &id, "agreement.completed"), 1);
    assert_eq!(leaves(&app, &id, "agreement.cancelled"), 0);
}

async fn cancel_needs_a_reason_and_ends_the_agreement(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = pair(&app).await;
    let (a, b) = (&pair.a.owner.access, &pair.b.owner.access);
    let id = crate::deals::agreement(&app, &pair, false).await;
    let cancel_path = path(&id, "cancel");

    for (case, body, field) in [
        ("no reason", json!({}), "reason"),
        ("null reason", json!({"reason": null}), "reason"),
        ("short reason", json!({"reason": " ab "}), "reason"),
        ("long reason", json!({"reason": "r".repeat(1001)}), "reason"),
        ("reason as a number", json!({"reason": 3}), "reason"),
    ] {
        let resp = app.post(&cancel_path, Some(a), body).await;
        resp.expect_problem(422);
        assert_eq!(error_fields(&resp), [field], "{case}");
    }
    app.raw("POST", &cancel_path, Some(a), "application/json", "")
        .await
        .expect_problem(400);
    assert_eq!(read_agreement(&app, Some(a), &id).await["status"], "active");

    // The receiving side cancels while active, after the proposer confirmed.
    app.post(&path(&id, "complete"), Some(a), json!({}))
        .await
        .expect(200);
    let cancelled = app
        .post(
            &cancel_path,
            Some(b),
            json!({"reason": "  Der Raum wird renoviert.  "}),
        )
        .await;
    cancelled.expect(200);
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(cancelled.body["cancelled_by_org_id"], pair.b.id.as_str());
    assert_eq!(cancelled.body["cancel_reason"], "Der Raum wird renoviert.");
    assert!(cancelled.body["cancelled_at"].is_string());
    assert_eq!(
        events(&cancelled.body),
        ["agreement.accepted", "agreement.cancelled"]
    );
    // The reason is for the parties; the public sees who cancelled.
    assert_eq!(
        read_agreement(&app, Some(a), &id).await["cancel_reason"],
        "Der Raum wird renoviert."
    );
    let public = read_agreement(&app, None, &id).await;
    assert!(public.get("cancel_reason").is_none(), "{public}");
    assert_eq!(public["cancelled_by_org_id"], pair.b.id.as_str());
    for (token, action, body) in [
        (a, "complete", json!({})),
        (b, "complete", json!({})),
        (a, "cancel", json!({"reason": "Nochmal absagen"})),
        (b, "cancel", json!({"reason": "Nochmal absagen"})),
    ] {
        let resp = app.post(&path(&id, action), Some(token), body).await;
        resp.expect_problem(409);
        assert!(
            resp.str("detail").contains("cancelled"),
            "{action}: {}",
            resp.text
        );
    }
    assert_eq!(leaves(&app, &id, "agreement.cancelled"), 1);
    assert_eq!(leaves(&app, &id, "agreement.completed"), 0);
    assert_eq!(
        read_agreement(&app, None, &id).await["completed_at"],
        Value::Null
    );

    // The proposing side may cancel too, without anyone having confirmed.
    let other = crate::deals::agreement(&app, &pair, false).await;
    let resp = cancel(&app, &pair.a, &other).await;
    resp.expect(200);
    assert_eq!(resp.body["cancelled_by_org_id"], pair.a.id.as_str());
}

async fn only_parties_with_write_access_act_on_agreements(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let moderator = moderator(&app, "moderation@mutua.example").await;
    let pair = pair(&app).await;
    let c = third(&app).await;
    let id = crate::deals::agreement(&app, &pair, false).await;
    let reason = json!({"reason": "Ich bin gar nicht beteiligt."});

    for action in ["complete", "cancel"] {
        app.post(&path(&id, action), None, reason.clone())
            .await
            .expect_problem(401);
        for token in [&c.owner.access, &moderator.access] {
            let resp = app
                .post(&path(&id, action), Some(token), reason.clone())
                .await;
            resp.expect_problem(403);
            assert_eq!(resp.body["type"], "/problems/forbidden");
        }
        let c_key = app.api_key(&c.id, &c.owner, &["read", "write"]).await;
        app.post(&path(&id, action), Some(&c_key), reason.clone())
            .await
            .expect_problem(403);
        let read_key = app.api_key(&pair.a.id, &pair.a.owner, &["read"]).await;
        let resp = app
            .post(&path(&id, action), Some(&read_key), reason.clone())
            .await;
        resp.expect_problem(403);
        assert!(resp.str("detail").contains("write"), "{}", resp.text);
        app.post(
            &path(&uuid::Uuid::new_v4().to_string(), action),
            Some(&pair.a.owner.access),
            reason.clone(),
        )
        .await
        .expect_problem(404);
    }
    // A member of both organisations cannot confirm for either.
    let both = app.user("doppelt@mutua.example").await;
    join(&app, &pair.a.id, &pair.a.owner, &both, "member").await;
    join(&app, &pair.b.id, &pair.b.owner, &both, "member").await;
    app.post(&path(&id, "complete"), Some(&both.access), json!({}))
        .await
        .expect_problem(422);
    let stored = read_agreement(&app, Some(&pair.a.owner.access), &id).await;
    assert_eq!(stored["status"], "active");
    assert_eq!(stored["from_confirmed_at"], Value::Null);
    assert_eq!(stored["to_confirmed_at"], Value::Null);
    assert_eq!(events(&stored), ["agreement.accepted"]);

    // Write keys of either side act for their side.
    let a_key = app
        .api_key(&pair.a.id, &pair.a.owner, &["read", "write"])
        .await;
    let b_key = app
        .api_key(&pair.b.id, &pair.b.owner, &["read", "write"])
        .await;
    let by_key = app
        .post(&path(&id, "complete"), Some(&a_key), json!({}))
        .await;
    by_key.expect(200);
    assert!(by_key.body["from_confirmed_at"].is_string());
    assert!(
        by_key.body["terms_salt"].is_string(),
        "a key of a party sees the salt"
    );
    let done = app
        .post(&path(&id, "complete"), Some(&b_key), json!({}))
        .await;
    done.expect(200);
    assert_eq!(done.body["status"], "completed");
    // A suspended party cannot act any more.
    let other = crate::deals::agreement(&app, &pair, false).await;
    app.suspend_org_in_db(&pair.b.id);
    app.post(
        &path(&other, "complete"),
        Some(&pair.b.owner.access),
        json!({}),
    )
    .await
    .expect_problem(403);
    cancel(&app, &pair.b, &other).await.expect_problem(403);
    assert_eq!(read_agreement(&app, None, &other).await["status"], "active");
}

async fn endorsements_follow_completion_once_per_party(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = pair(&app).await;
    let c = third(&app).await;
    let (a, b) = (&pair.a.owner.access, &pair.b.owner.access);
    let id = crate::deals::agreement(&app, &pair, false).await;
    let endorse = |token: &str, body: Value| {
        let app = &app;
        let (token, url) = (token.to_owned(), path(&id, "endorsements"));
        async move { app.post(&url, Some(&token), body).await }
    };
    let thanks = || json!({"text": "Danke für die großartige Schulung!"});

    let early = endorse(a, thanks()).await;
    early.expect_problem(409);
    assert!(early.str("detail").contains("active"), "{}", early.text);
    app.post(&path(&id, "complete"), Some(a), json!({}))
        .await
        .expect(200);
    endorse(b, thanks()).await.expect_problem(409);
    app.post(&path(&id, "complete"), Some(b), json!({}))
        .await
        .expect(200);

    // Text is checked first, and completely.
    for (case, body) in [
        ("short", json!({"text": "ok"})),
        ("long", json!({"text": "d".repeat(1001)})),
        ("missing", json!({})),
        ("a number", json!({"text": 5})),
        ("a control character", json!({"text": "Danke\u{1b}!"})),
    ] {
        let resp = endorse(a, body).await;
        resp.expect_problem(422);
        assert_eq!(error_fields(&resp), ["text"], "{case}");
    }
    endorse(&c.owner.access, thanks()).await.expect_problem(403);
    let read_key = app.api_key(&pair.a.id, &pair.a.owner, &["read"]).await;
    endorse(&read_key, thanks()).await.expect_problem(403);
    app.post(&path(&id, "endorsements"), None, thanks())
        .await
        .expect_problem(401);
    app.post(
        &path(&uuid::Uuid::new_v4().to_string(), "endorsements"),
        Some(a),
        thanks(),
    )
    .await
    .expect_problem(404);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM endorsements"), 0);

    let first = endorse(a, json!({"text": "  Danke für den Raum!  "})).await;
    first.expect(201);
    assert_eq!(first.body["text"], "Danke für den Raum!");
    assert_eq!(first.body["author_org_id"], pair.a.id.as_str());
    assert_eq!(first.body["endorsed_org_id"], pair.b.id.as_str());
    let again = endorse(a, thanks()).await;
    again.expect_problem(409);
    assert!(
        again.str("detail").contains("already endorsed"),
        "{}",
        again.text
    );
    let a_key = app
        .api_key(&pair.a.id, &pair.a.owner, &["read", "write"])
        .await;
    endorse(&a_key, thanks()).await.expect_problem(409);
    endorse(b, thanks()).await.expect(201);
    let listed = app.get(&path(&id, "endorsements"), None).await;
    listed.expect(200);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM endorsements"), 2);
    let b_profile = app
        .get(&format!("/api/v1/orgs/{}/endorsements", pair.b.id), None)
        .await;
    assert_eq!(ids(&b_profile), [first.str("id")]);

    // A cancelled agreement takes no endorsement.
    let other = crate::deals::agreement(&app, &pair, false).await;
    cancel(&app, &pair.a, &other).await.expect(200);
    let resp = app
        .post(&path(&other, "endorsements"), Some(a), thanks())
        .await;
    resp.expect_problem(409);
    assert!(resp.str("detail").contains("cancelled"), "{}", resp.text);
}

async fn registry_and_organisation_lists(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = pair(&app).await;
    let c = third(&app).await;
    let (a, b) = (&pair.a, &pair.b);
    let ab_public = agree(&app, a, b, "exchange", exchange_terms(), false).await;
    let ab_secret = agree(&app, a, b, "exchange", exchange_terms(), true).await;
    complete_both(&app, a, b, &ab_secret).await;
    let cb = agree(&app, &c, b, "exchange", exchange_terms(), false).await;
    complete_both(&app, &c, b, &cb).await;
    let ac = agree(&app, a, &c, "exchange", exchange_terms(), false).await;
    cancel(&app, &c, &ac).await.expect(200);

    let registry = |query: &str| {
        let app = &app;
        let query = query.to_owned();
        async move {
            let resp = app.get(&format!("{AGREEMENTS}?{query}"), None).await;
            resp.expect(200);
            for item in resp.body["items"].as_array().unwrap() {
                assert!(item.get("terms_salt").is_none(), "{item}");
                assert!(item["terms"].is_object(), "public terms are shown: {item}");
            }
            ids(&resp).into_iter().collect::<BTreeSet<_>>()
        }
    };
    let set = |ids: &[&String]| ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(registry("").await, set(&[&ab_public, &cb, &ac]));
    assert_eq!(
        registry(&format!("org_id={}", a.id)).await,
        set(&[&ab_public, &ac])
    );
    assert_eq!(registry("status=completed").await, set(&[&cb]));
    assert_eq!(registry("status=cancelled").await, set(&[&ac]));
    assert_eq!(
        registry(&format!("org_id={}&status=active", b.id)).await,
        set(&[&ab_public])
    );
    assert_eq!(
        registry(&format!("org_id={}", uuid::Uuid::new_v4())).await,
        set(&[])
    );
    // A party's token does not change the public registry.
    let as_party = app
        .get(
            &format!("{AGREEMENTS}?org_id={}", a.id),
            Some(&a.owner.access),
        )
        .await;
    assert_eq!(ids(&as_party).len(), 2);
    for query in ["status=open", "org_id=hotel", "limit=0", "cursor=garbage"] {
        app.get(&format!("{AGREEMENTS}?{query}"), None)
            .await
            .expect_problem(400);
    }
    // Pages of one: each public agreement once, newest first.
    let mut seen = Vec::new();
    let mut query = "limit=1".to_owned();
    loop {
        let resp = app.get(&format!("{AGREEMENTS}?{query}"), None).await;
        resp.expect(200);
        seen.extend(ids(&resp));
        match crate::market::next_cursor(&resp) {
            Some(c) => query = format!("limit=1&cursor={}", crate::helpers::enc(&c)),
            None => break,
        }
        assert!(seen.len() <= 3, "{seen:?}");
    }
    assert_eq!(seen, [ac.clone(), cb.clone(), ab_public.clone()]);

    // An organisation's own list holds its confidential ones, with terms and salt.
    let own = |token: &str, org: &str, query: &str| {
        let app = &app;
        let url = format!("/api/v1/orgs/{org}/agreements?{query}");
        let token = token.to_owned();
        async move { app.get(&url, Some(&token)).await }
    };
    let a_own = own(&a.owner.access, &a.id, "").await;
    a_own.expect(200);
    assert_eq!(
        ids(&a_own).into_iter().collect::<BTreeSet<_>>(),
        set(&[&ab_public, &ab_secret, &ac])
    );
    for item in a_own.body["items"].as_array().unwrap() {
        assert!(item["terms"].is_object(), "{item}");
        assert!(item["terms_salt"].is_string(), "{item}");
    }
    let completed = own(&a.owner.access, &a.id, "status=completed").await;
    assert_eq!(ids(&completed), std::slice::from_ref(&ab_secret));
    let read_key = app.api_key(&b.id, &b.owner, &["read"]).await;
    let b_own = own(&read_key, &b.id, "").await;
    b_own.expect(200);
    assert_eq!(
        ids(&b_own).into_iter().collect::<BTreeSet<_>>(),
        set(&[&ab_public, &ab_secret, &cb])
    );
    own(&c.owner.access, &a.id, "").await.expect_problem(403);
    own(&read_key, &a.id, "").await.expect_problem(403);
    app.get(&format!("/api/v1/orgs/{}/agreements", a.id), None)
        .await
        .expect_problem(401);
    own(&a.owner.access, &uuid::Uuid::new_v4().to_string(), "")
        .await
        .expect_problem(404);
    own(&a.owner.access, &a.id, "status=bogus")
        .await
        .expect_problem(400);
}

/// Every public read that could mention an agreement, as anonymous, an outsider and a
/// moderator; none may contain `secret`.
async fn assert_nowhere_public(
    app: &TestApp,
    pair: &Pair,
    agreement: &str,
    tokens: &[&str],
    secret: &str,
) {
    let mut readers: Vec<Option<&str>> = vec![None];
    readers.extend(tokens.iter().map(|t| Some(*t)));
    for token in readers {
        let one = app.get(&format!("{AGREEMENTS}/{agreement}"), token).await;
        one.expect(200);
        assert!(
            !one.text.contains(secret),
            "GET /agreements/{{id}}: {}",
            one.text
        );
        assert!(one.body.get("terms").is_none(), "{}", one.text);
        assert!(one.body.get("terms_salt").is_none(), "{}", one.text);
        assert!(one.body["terms_commitment"].is_string());
        assert_eq!(one.body["confidential"], true);
        let mut urls = vec![
            format!("{AGREEMENTS}"),
            format!("{AGREEMENTS}?org_id={}", pair.a.id),
            format!("{AGREEMENTS}?status=completed"),
            format!("{AGREEMENTS}/{agreement}/endorsements"),
            format!("/api/v1/orgs/{}/reciprocity", pair.a.id),
            format!("/api/v1/orgs/{}/reciprocity", pair.b.id),
            format!("/api/v1/orgs/{}/endorsements", pair.b.id),
            format!("/api/v1/orgs/{}", pair.a.id),
            "/api/v1/modlog".to_owned(),
        ];
        let entries = app.get("/api/v1/transparency/entries", None).await;
        if entries.status != 404 {
            urls.push("/api/v1/transparency/entries".to_owned());
        }
        for url in urls {
            let resp = app.get(&url, token).await;
            resp.expect(200);
            assert!(
                !resp.text.contains(secret),
                "{url} shows the terms: {}",
                resp.text
            );
            assert!(!resp.text.contains("terms_salt"), "{url}: {}", resp.text);
        }
    }
}

async fn confidential_terms_appear_nowhere_public(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let moderator = moderator(&app, "moderation@mutua.example").await;
    let pair = pair(&app).await;
    let c = third(&app).await;
    let secret = "GEHEIM-Rezeptur-4711";
    let terms = json!({
        "from_gives": [{"category": "expertise", "description": format!("Die {secret} für Apfelstrudel"), "quantity": 1, "unit": "recipe"}],
        "to_gives": [item("resource", "Zwei Tage Tagungsraum (vertraulich)")],
    });
    let opened = app
        .post(
            PROPOSALS,
            Some(&pair.a.owner.access),
            proposal_body(&pair, "exchange", terms.clone(), true),
        )
        .await;
    opened.expect(201);
    assert_eq!(opened.body["confidential"], true);
    let accepted = act(
        &app,
        &pair.b.owner.access,
        &opened.str("id"),
        "accept",
        json!({"revision": 1}),
    )
    .await;
    accepted.expect(200);
    let id = accepted.str("agreement_id");
    assert_nowhere_public(
        &app,
        &pair,
        &id,
        &[&c.owner.access, &moderator.access],
        secret,
    )
    .await;
    let done = crate::deals::complete(&app, &pair, &id).await;
    assert_eq!(done.body["status"], "completed");
    assert_eq!(
        done.body["terms"], terms,
        "the party's answer carries the terms"
    );
    app.post(
        &path(&id, "endorsements"),
        Some(&pair.b.owner.access),
        json!({"text": "Danke für das Rezept!"}),
    )
    .await
    .expect(201);
    assert_nowhere_public(
        &app,
        &pair,
        &id,
        &[&c.owner.access, &moderator.access],
        secret,
    )
    .await;

    // The log holds the commitment only: no leaf carries the terms.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM log_leaves WHERE agreement_id = '{id}'"
        )),
        2
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM log_leaves WHERE leaf_input LIKE '%{secret}%'"
        )),
        0
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM log_leaves WHERE agreement_id = '{id}' AND leaf_input LIKE '%\"terms\":%'"
        )),
        0
    );

    // The parties (people and keys) read terms and salt, and can prove the commitment.
    let b_key = app.api_key(&pair.b.id, &pair.b.owner, &["read"]).await;
    for token in [&pair.a.owner.access, &pair.b.owner.access, &b_key] {
        let party = read_agreement(&app, Some(token), &id).await;
        assert_eq!(party["terms"], terms);
        let salt = party["terms_salt"]
            .as_str()
            .expect("terms_salt for a party");
        assert_eq!(
            commitment(salt, &party["terms"]),
            party["terms_commitment"].as_str().unwrap()
        );
        let public = read_agreement(&app, None, &id).await;
        assert_eq!(public["terms_commitment"], party["terms_commitment"]);
    }
    let own = app
        .get(
            &format!("/api/v1/orgs/{}/agreements", pair.a.id),
            Some(&pair.a.owner.access),
        )
        .await;
    assert!(
        own.text.contains(secret),
        "the party's own list shows its terms"
    );

    // A public agreement's leaves carry its terms, and its commitment checks out as well.
    let public_id = agree(&app, &pair.a, &pair.b, "exchange", exchange_terms(), false).await;
    let party = read_agreement(&app, Some(&pair.a.owner.access), &public_id).await;
    assert_eq!(
        commitment(party["terms_salt"].as_str().unwrap(), &party["terms"]),
        party["terms_commitment"].as_str().unwrap()
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM log_leaves WHERE agreement_id = '{public_id}' AND leaf_input LIKE '%\"terms\":%'"
        )),
        1
    );
    // Salts differ per agreement.
    assert_ne!(
        party["terms_salt"],
        read_agreement(&app, Some(&pair.a.owner.access), &id).await["terms_salt"]
    );
}

fn counts(value: &Value) -> Vec<(String, i64)> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .iter()
        .map(|(k, v)| (k.clone(), v.as_i64().unwrap()))
        .collect()
}

/// Every category with its count (0 for those not named).
fn expect_counts(named: &[(&str, i64)]) -> Vec<(String, i64)> {
    let mut all: Vec<(String, i64)> = ["expertise", "other", "referral", "resource", "support"]
        .iter()
        .map(|c| (c.to_string(), 0))
        .collect();
    for (category, n) in named {
        all.iter_mut().find(|(c, _)| c == category).unwrap().1 = *n;
    }
    all
}

async fn reciprocity_counts_completed_items_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = pair(&app).await;
    let c = third(&app).await;
    let (a, b) = (&pair.a, &pair.b);
    // Completed exchange a → b: a gives two expertise items, b one resource.
    let exchange = agree(
        &app,
        a,
        b,
        "exchange",
        json!({"from_gives": [item("expertise", "Workshop eins"), item("expertise", "Workshop zwei")], "to_gives": [item("resource", "Raum")]}),
        false,
    )
    .await;
    complete_both(&app, a, b, &exchange).await;
    // Completed trial a → c: a gives support; c receives no debt.
    let trial = agree(
        &app,
        a,
        &c,
        "trial",
        json!({"from_gives": [item("support", "Probeberatung")], "to_gives": []}),
        false,
    )
    .await;
    complete_both(&app, a, &c, &trial).await;
    // Completed confidential exchange a → b: counted as an agreement, not in items.
    let secret = agree(
        &app,
        a,
        b,
        "exchange",
        json!({"from_gives": [item("referral", "Empfehlung")], "to_gives": [item("other", "Geheimes")]}),
        true,
    )
    .await;
    complete_both(&app, a, b, &secret).await;
    // Active and cancelled agreements count for nothing.
    agree(&app, a, b, "exchange", exchange_terms(), false).await;
    let cancelled = agree(&app, b, a, "exchange", exchange_terms(), false).await;
    cancel(&app, a, &cancelled).await.expect(200);
    // Only one side confirmed: still not completed.
    let half = agree(&app, &c, a, "exchange", exchange_terms(), false).await;
    app.post(&path(&half, "complete"), Some(&c.owner.access), json!({}))
        .await
        .expect(200);

    let balance = |org: &str| {
        let app = &app;
        let url = format!("/api/v1/orgs/{org}/reciprocity");
        async move {
            let resp = app.get(&url, None).await;
            resp.expect(200);
            resp.body
        }
    };
    let a_balance = balance(&a.id).await;
    assert_eq!(a_balance["org_id"], a.id.as_str());
    assert_eq!(a_balance["completed_agreements"], 3);
    assert_eq!(a_balance["confidential_agreements"], 1);
    assert_eq!(
        counts(&a_balance["given"]),
        expect_counts(&[("expertise", 2), ("support", 1)])
    );
    assert_eq!(
        counts(&a_balance["received"]),
        expect_counts(&[("resource", 1)])
    );
    let b_balance = balance(&b.id).await;
    assert_eq!(b_balance["completed_agreements"], 2);
    assert_eq!(b_balance["confidential_agreements"], 1);
    assert_eq!(
        counts(&b_balance["given"]),
        expect_counts(&[("resource", 1)])
    );
    assert_eq!(
        counts(&b_balance["received"]),
        expect_counts(&[("expertise", 2)])
    );
    let c_balance = balance(&c.id).await;
    assert_eq!(c_balance["completed_agreements"], 1);
    assert_eq!(c_balance["confidential_agreements"], 0);
    assert_eq!(counts(&c_balance["given"]), expect_counts(&[]));
    assert_eq!(
        counts(&c_balance["received"]),
        expect_counts(&[]),
        "a trial is no debt of its receiver"
    );
    app.get(
        &format!("/api/v1/orgs/{}/reciprocity", uuid::Uuid::new_v4()),
        None,
    )
    .await
    .expect_problem(404);

    // Partners: per partner, agreements by status and the items that flowed each way in
    // completed agreements (its own confidential ones included).
    let partners = app
        .get(
            &format!("/api/v1/orgs/{}/partners", a.id),
            Some(&a.owner.access),
        )
        .await;
    partners.expect(200);
    let find = |org: &str| {
        partners.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["org_id"] == org)
            .unwrap_or_else(|| panic!("partner {org} in {}", partners.text))
            .clone()
    };
    let with_b = find(&b.id);
    assert_eq!(with_b["name"], "Gasthof Seeblick");
    assert_eq!(
        with_b["agreements"],
        json!({"active": 1, "completed": 2, "cancelled": 1})
    );
    assert_eq!(
        counts(&with_b["given"]),
        expect_counts(&[("expertise", 2), ("referral", 1)])
    );
    assert_eq!(
        counts(&with_b["received"]),
        expect_counts(&[("resource", 1), ("other", 1)])
    );
    assert!(with_b["first_agreement_at"].as_str() <= with_b["last_agreement_at"].as_str());
    let with_c = find(&c.id);
    assert_eq!(
        with_c["agreements"],
        json!({"active": 1, "completed": 1, "cancelled": 0})
    );
    assert_eq!(counts(&with_c["given"]), expect_counts(&[("support", 1)]));
    assert_eq!(counts(&with_c["received"]), expect_counts(&[]));
    assert_eq!(partners.body["items"].as_array().unwrap().len(), 2);
    // The most recent partner first: c's half-confirmed agreement is the newest.
    assert_eq!(partners.body["items"][0]["org_id"], c.id.as_str());

    let b_view = app
        .get(
            &format!("/api/v1/orgs/{}/partners", b.id),
            Some(&b.owner.access),
        )
        .await;
    b_view.expect(200);
    let with_a = &b_view.body["items"][0];
    assert_eq!(with_a["org_id"], a.id.as_str());
    assert_eq!(
        counts(&with_a["received"]),
        expect_counts(&[("expertise", 2), ("referral", 1)])
    );
    // Paging by one walks both partners.
    let first = app
        .get(
            &format!("/api/v1/orgs/{}/partners?limit=1", a.id),
            Some(&a.owner.access),
        )
        .await;
    first.expect(200);
    let cursor = first.str("next_cursor");
    let second = app
        .get(
            &format!(
                "/api/v1/orgs/{}/partners?limit=1&cursor={}",
                a.id,
                crate::helpers::enc(&cursor)
            ),
            Some(&a.owner.access),
        )
        .await;
    second.expect(200);
    assert_eq!(second.body["items"][0]["org_id"], b.id.as_str());
    assert_eq!(second.body["next_cursor"], Value::Null);
    app.get(
        &format!("/api/v1/orgs/{}/partners", a.id),
        Some(&c.owner.access),
    )
    .await
    .expect_problem(403);
    app.get(&format!("/api/v1/orgs/{}/partners", a.id), None)
        .await
        .expect_problem(401);
    // A proposal that was never accepted makes no partner.
    let d = crate::market::company(&app, "dora@cafe-dora.example", "Café Dora").await;
    propose(
        &app,
        &d.owner.access,
        &d.id,
        &a.id,
        "exchange",
        exchange_terms(),
    )
    .await
    .expect(201);
    let again = app
        .get(
            &format!("/api/v1/orgs/{}/partners", a.id),
            Some(&a.owner.access),
        )
        .await;
    assert_eq!(again.body["items"].as_array().unwrap().len(), 2);
}
