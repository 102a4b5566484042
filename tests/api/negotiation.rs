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
