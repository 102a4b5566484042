//! The whole story: two organisations negotiate over two revisions, accept, both confirm
//! completion and endorse each other; the public sees the agreement, both balances and the
//! endorsements, and the agreement's leaves are in the log.

use serde_json::json;

use crate::backends;
use crate::deals::{item, pair, PROPOSALS};
use crate::helpers::{Backend, TestApp};

backends!(two_revisions_accept_complete_endorse);

async fn two_revisions_accept_complete_endorse(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = pair(&app).await;
    let opened = app
        .post(
            PROPOSALS,
            Some(&pair.a.owner.access),
            json!({
                "from_org_id": pair.a.id, "to_org_id": pair.b.id, "kind": "exchange",
                "message": "Schulung gegen Tagungsraum?",
                "terms": {"from_gives": [item("expertise", "Schulung Empfang")], "to_gives": [item("resource", "Tagungsraum einen Tag")]},
            }),
        )
        .await;
    opened.expect(201);
    assert_eq!(opened.body["status"], "open");
    assert_eq!(opened.body["revisions"].as_array().unwrap().len(), 1);
    assert_eq!(opened.body["awaiting_org_id"], pair.b.id.as_str());
    let id = opened.str("id");

    let countered = app
        .post(
            &format!("{PROPOSALS}/{id}/counter"),
            Some(&pair.b.owner.access),
            json!({
                "message": "Gern – zwei Tage Raum, dafür zwei Schulungen.",
                "terms": {
                    "from_gives": [{"category": "expertise", "description": "Schulung Empfang", "quantity": 2, "unit": "sessions"}],
                    "to_gives": [{"category": "resource", "description": "Tagungsraum", "quantity": 2, "unit": "days"}],
                },
            }),
        )
        .await;
    countered.expect(201);
    assert_eq!(countered.body["latest_revision"], 2);
    assert_eq!(
        countered.body["revisions"][1]["author_org_id"],
        pair.b.id.as_str()
    );

    // The side that wrote revision 2 cannot accept it; the other side accepts it.
    app.post(
        &format!("{PROPOSALS}/{id}/accept"),
        Some(&pair.b.owner.access),
        json!({"revision": 2}),
    )
    .await
    .expect_problem(409);
    let accepted = app
        .post(
            &format!("{PROPOSALS}/{id}/accept"),
            Some(&pair.a.owner.access),
            json!({"revision": 2}),
        )
        .await;
    accepted.expect(200);
    assert_eq!(accepted.body["status"], "accepted");
    let agreement_id = accepted.str("agreement_id");

    let path = format!("/api/v1/agreements/{agreement_id}");
    let party_view = app.get(&path, Some(&pair.a.owner.access)).await;
    party_view.expect(200);
    assert_eq!(party_view.body["status"], "active");
    assert_eq!(party_view.body["terms"]["from_gives"][0]["quantity"], 2);
    assert!(party_view.body["terms_salt"].is_string());
    assert_eq!(
        party_view.body["log_entries"][0]["event"],
        "agreement.accepted"
    );

    app.post(
        &format!("{path}/complete"),
        Some(&pair.a.owner.access),
        json!({}),
    )
    .await
    .expect(200);
    app.post(
        &format!("{path}/complete"),
        Some(&pair.a.owner.access),
        json!({}),
    )
    .await
    .expect_problem(409);
    let done = app
        .post(
            &format!("{path}/complete"),
            Some(&pair.b.owner.access),
            json!({}),
        )
        .await;
    done.expect(200);
    assert_eq!(done.body["status"], "completed");
    assert_eq!(done.body["log_entries"][1]["event"], "agreement.completed");

    for (author, text) in [
        (&pair.a, "Danke für den Raum!"),
        (&pair.b, "Tolle Schulung, danke!"),
    ] {
        app.post(
            &format!("{path}/endorsements"),
            Some(&author.owner.access),
            json!({"text": text}),
        )
        .await
        .expect(201);
    }
    app.post(
        &format!("{path}/endorsements"),
        Some(&pair.a.owner.access),
        json!({"text": "Nochmal danke"}),
    )
    .await
    .expect_problem(409);

    // The public view: terms (not confidential), no salt; balances; endorsements.
    let public = app.get(&path, None).await;
    public.expect(200);
    assert!(public.body.get("terms_salt").is_none());
    assert_eq!(public.body["terms"]["to_gives"][0]["unit"], "days");
    let registry = app.get("/api/v1/agreements", None).await;
    registry.expect(200);
    assert_eq!(registry.body["items"][0]["id"], agreement_id.as_str());

    let a_balance = app
        .get(&format!("/api/v1/orgs/{}/reciprocity", pair.a.id), None)
        .await;
    a_balance.expect(200);
    assert_eq!(a_balance.body["completed_agreements"], 1);
    assert_eq!(a_balance.body["given"]["expertise"], 1);
    assert_eq!(a_balance.body["received"]["resource"], 1);
    let b_endorsements = app
        .get(&format!("/api/v1/orgs/{}/endorsements", pair.b.id), None)
        .await;
    b_endorsements.expect(200);
    assert_eq!(
        b_endorsements.body["items"][0]["text"],
        "Danke für den Raum!"
    );

    let partners = app
        .get(
            &format!("/api/v1/orgs/{}/partners", pair.a.id),
            Some(&pair.a.owner.access),
        )
        .await;
    partners.expect(200);
    assert_eq!(partners.body["items"][0]["org_id"], pair.b.id.as_str());
    assert_eq!(partners.body["items"][0]["agreements"]["completed"], 1);
    assert_eq!(partners.body["items"][0]["received"]["resource"], 1);
    app.get(
        &format!("/api/v1/orgs/{}/partners", pair.a.id),
        Some(&pair.b.owner.access),
    )
    .await
    .expect_problem(403);

    // Two leaves in the log, and the proposal stays private to the parties.
    let entries = app.get("/api/v1/transparency/entries", None).await;
    if entries.status == 200 {
        assert_eq!(entries.body["items"].as_array().unwrap().len(), 2);
    }
    let outsider = app.user("neugierig@example.org").await;
    app.get(&format!("{PROPOSALS}/{id}"), Some(&outsider.access))
        .await
        .expect_problem(404);
}

backends!(a_reported_endorsement_can_be_taken_down);

/// An endorsement is reportable like other content: a moderator's `remove_endorsement`
/// takes it off the agreement and the profile and is in the public modlog; the resolution
/// fits no other target.
async fn a_reported_endorsement_can_be_taken_down(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = pair(&app).await;
    let moderator = crate::market::moderator(&app, "moderation@mutua.example").await;
    let agreement = crate::deals::agreement(&app, &pair, false).await;
    crate::deals::complete(&app, &pair, &agreement).await;
    let path = format!("/api/v1/agreements/{agreement}/endorsements");
    let endorsement = app
        .post(
            &path,
            Some(&pair.a.owner.access),
            json!({"text": "Bester Partner der Welt!!!"}),
        )
        .await;
    endorsement.expect(201);
    let endorsement = endorsement.str("id");

    let reporter = app.user("leser@example.org").await;
    let report = app
        .post(
            "/api/v1/reports",
            Some(&reporter.access),
            json!({"target_type": "endorsement", "target_id": endorsement, "reason": "misleading", "details": "Gekaufte Bewertung."}),
        )
        .await;
    report.expect(201);
    let report = report.str("id");
    let resolve = format!("/api/v1/moderation/reports/{report}/resolve");
    app.post(
        &resolve,
        Some(&moderator.access),
        json!({"action": "suspend_user", "note": "falsch"}),
    )
    .await
    .expect_problem(422);
    app.post(
        &resolve,
        Some(&moderator.access),
        json!({"action": "remove_endorsement", "note": "Nicht authentisch."}),
    )
    .await
    .expect(200);

    let shown = app.get(&path, None).await;
    shown.expect(200);
    assert_eq!(shown.body["items"].as_array().unwrap().len(), 0);
    let profile = app
        .get(&format!("/api/v1/orgs/{}/endorsements", pair.b.id), None)
        .await;
    assert_eq!(profile.body["items"].as_array().unwrap().len(), 0);
    let modlog = app.get("/api/v1/modlog", None).await;
    let actions: Vec<&str> = modlog.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"remove_endorsement"), "{actions:?}");
    // A removed endorsement can no longer be reported, and the party may not post another.
    app.post(
        "/api/v1/reports",
        Some(&reporter.access),
        json!({"target_type": "endorsement", "target_id": endorsement, "reason": "spam", "details": "x"}),
    )
    .await
    .expect_problem(404);
    app.post(
        &path,
        Some(&pair.a.owner.access),
        json!({"text": "Noch einmal danke"}),
    )
    .await
    .expect_problem(409);
}
