//! Fixtures for proposals and agreements: two hospitality companies, terms, and the steps
//! of a negotiation (open, counter, accept, complete) as one call each.

use serde_json::{json, Value};

use crate::helpers::{Resp, TestApp, TestUser};
use crate::market::{company, Company};

pub const PROPOSALS: &str = "/api/v1/proposals";

/// Two companies that will negotiate: `a` proposes, `b` receives.
pub struct Pair {
    pub a: Company,
    pub b: Company,
}

pub async fn pair(app: &TestApp) -> Pair {
    Pair {
        a: company(app, "anna@hotel-alpenblick.example", "Hotel Alpenblick").await,
        b: company(app, "bernd@gasthof-seeblick.example", "Gasthof Seeblick").await,
    }
}

/// One item of terms.
pub fn item(category: &str, description: &str) -> Value {
    json!({"category": category, "description": description})
}

/// Exchange terms: `from` gives a workshop, `to` gives hours of support.
pub fn exchange_terms() -> Value {
    json!({
        "from_gives": [{"category": "expertise", "description": "Zwei Workshops Kundenservice für das Empfangsteam", "quantity": 2, "unit": "workshops"}],
        "to_gives": [{"category": "resource", "description": "Tagungsraum für 20 Personen an zwei Tagen", "quantity": 2, "unit": "days"}],
    })
}

/// A proposal body from `a` to `b`.
pub fn proposal_body(pair: &Pair, kind: &str, terms: Value, confidential: bool) -> Value {
    json!({
        "from_org_id": pair.a.id,
        "to_org_id": pair.b.id,
        "kind": kind,
        "message": "Ein fairer Tausch unter Nachbarn?",
        "terms": terms,
        "confidential": confidential,
    })
}

/// Opens an exchange from `a` to `b`; returns the proposal.
pub async fn open(app: &TestApp, pair: &Pair, confidential: bool) -> Resp {
    let resp = app
        .post(
            PROPOSALS,
            Some(&pair.a.owner.access),
            proposal_body(pair, "exchange", exchange_terms(), confidential),
        )
        .await;
    resp.expect(201);
    resp
}

/// `b` accepts revision `revision` of `proposal`; returns the accepted proposal.
pub async fn accept(app: &TestApp, pair: &Pair, proposal: &str, revision: i64) -> Resp {
    let resp = app
        .post(
            &format!("{PROPOSALS}/{proposal}/accept"),
            Some(&pair.b.owner.access),
            json!({"revision": revision}),
        )
        .await;
    resp.expect(200);
    resp
}

/// Opens and accepts an exchange; returns the agreement id.
pub async fn agreement(app: &TestApp, pair: &Pair, confidential: bool) -> String {
    let proposal = open(app, pair, confidential).await.str("id");
    accept(app, pair, &proposal, 1).await.str("agreement_id")
}

/// Both sides confirm completion of `agreement`.
pub async fn complete(app: &TestApp, pair: &Pair, agreement: &str) -> Resp {
    let path = format!("/api/v1/agreements/{agreement}/complete");
    app.post(&path, Some(&pair.a.owner.access), json!({}))
        .await
        .expect(200);
    let done = app.post(&path, Some(&pair.b.owner.access), json!({})).await;
    done.expect(200);
    done
}

/// A third hospitality company, outside the pair's negotiations.
pub async fn third(app: &TestApp) -> Company {
    company(app, "clara@pension-bergblick.example", "Pension Bergblick").await
}

/// `POST /proposals` from `from` to `to` as `token`, with `terms` (not checked).
pub async fn propose(
    app: &TestApp,
    token: &str,
    from: &str,
    to: &str,
    kind: &str,
    terms: Value,
) -> Resp {
    app.post(
        PROPOSALS,
        Some(token),
        json!({"from_org_id": from, "to_org_id": to, "kind": kind, "message": "Lust auf einen Austausch?", "terms": terms}),
    )
    .await
}

/// Opens an exchange from `from` to `to` as `token`; must answer 201. Returns its id.
pub async fn open_between(app: &TestApp, token: &str, from: &str, to: &str) -> String {
    let resp = propose(app, token, from, to, "exchange", exchange_terms()).await;
    resp.expect(201);
    resp.str("id")
}

/// `POST /proposals/{id}/{action}` as `token` with `body`.
pub async fn act(app: &TestApp, token: &str, proposal: &str, action: &str, body: Value) -> Resp {
    app.post(
        &format!("{PROPOSALS}/{proposal}/{action}"),
        Some(token),
        body,
    )
    .await
}

/// `GET /proposals/{id}` as `token`; must answer 200.
pub async fn read_proposal(app: &TestApp, token: &str, proposal: &str) -> Value {
    let resp = app
        .get(&format!("{PROPOSALS}/{proposal}"), Some(token))
        .await;
    resp.expect(200);
    resp.body
}

/// `GET /agreements/{id}` as `token` (anonymous when `None`); must answer 200.
pub async fn read_agreement(app: &TestApp, token: Option<&str>, agreement: &str) -> Value {
    let resp = app
        .get(&format!("/api/v1/agreements/{agreement}"), token)
        .await;
    resp.expect(200);
    resp.body
}

/// Makes an existing user a member of `org_id` with `role` (invited by `inviter`).
pub async fn join(app: &TestApp, org_id: &str, inviter: &TestUser, user: &TestUser, role: &str) {
    let invitation = app
        .post(
            &format!("/api/v1/orgs/{org_id}/invitations"),
            Some(&inviter.access),
            json!({"email": user.email, "role": role}),
        )
        .await;
    invitation.expect(201);
    app.post(
        &format!("/api/v1/orgs/{org_id}/members"),
        Some(&user.access),
        json!({"invitation_token": invitation.str("token")}),
    )
    .await
    .expect(201);
}

/// The documented commitment: base64(SHA-256(salt ‖ RFC 8785 JSON of `terms`)), computed
/// here independently of the application.
pub fn commitment(salt_b64: &str, terms: &Value) -> String {
    use base64::Engine;
    use sha2::Digest;
    let salt = base64::engine::general_purpose::STANDARD
        .decode(salt_b64)
        .expect("terms_salt is base64");
    assert_eq!(salt.len(), 32, "the salt is 32 bytes");
    let canonical = serde_json_canonicalizer::to_string(terms).expect("terms canonicalise");
    let mut hasher = sha2::Sha256::new();
    hasher.update(&salt);
    hasher.update(canonical.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(hasher.finalize())
}

/// The ids of a list page's items.
pub fn ids(resp: &Resp) -> Vec<String> {
    resp.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {}", resp.text))
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect()
}
