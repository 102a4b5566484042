//! Fixtures for proposals and agreements: two hospitality companies, terms, and the steps
//! of a negotiation (open, counter, accept, complete) as one call each.

use serde_json::{json, Value};

use crate::helpers::{Resp, TestApp};
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
