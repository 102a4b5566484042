//! Marketplace fixtures shared by the matching, postings and catalogue cache tests: a running
//! application with a platform moderator, organisations with their owners, listing bodies,
//! the listing lifecycle (draft, submit, approve, publish, reject, remove, restore, archive)
//! and readers of match pages.

use std::collections::BTreeSet;

use chrono::{Duration, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::helpers::{Backend, Resp, TestApp, TestUser};

pub const LISTINGS: &str = "/api/v1/listings";

/// A running marketplace with a platform moderator.
pub struct World {
    pub app: TestApp,
    pub moderator: TestUser,
}

/// An organisation (industry hospitality, region Bayern) and its owner.
pub struct Company {
    pub owner: TestUser,
    pub id: String,
}

pub async fn world(backend: Backend) -> World {
    let app = TestApp::spawn(backend).await;
    let moderator = moderator(&app, "moderation@mutua.example").await;
    World { app, moderator }
}

/// A new user with the platform role `moderator`.
pub async fn moderator(app: &TestApp, email: &str) -> TestUser {
    let moderator = app.user(email).await;
    app.sql(&format!(
        "UPDATE users SET platform_role = 'moderator' WHERE id = '{}'",
        moderator.id
    ));
    moderator
}

/// A hospitality organisation in Bayern with its own owner.
pub async fn company(app: &TestApp, email: &str, name: &str) -> Company {
    let owner = app.user(email).await;
    let id = app.org(&owner, name).await;
    Company { owner, id }
}

/// A listing body (without `org_id`): category `expertise`, no trial.
pub fn listing(kind: &str, title: &str, tags: &[&str], region: &str) -> Value {
    json!({
        "kind": kind,
        "category": "expertise",
        "title": title,
        "description": "Fachwissen und Ressourcen teilen – gegenseitiger Nutzen unter Betrieben.",
        "tags": tags,
        "region": region,
    })
}

/// An offer in Bayern.
pub fn offer(title: &str, tags: &[&str]) -> Value {
    listing("offer", title, tags, "Bayern")
}

/// A need in Bayern.
pub fn need(title: &str, tags: &[&str]) -> Value {
    listing("need", title, tags, "Bayern")
}

/// A time `days` from now, RFC 3339 with whole seconds.
pub fn in_days(days: i64) -> String {
    (Utc::now() + Duration::days(days)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Creates a draft from `body` in `org_id` and returns its id.
pub async fn draft(app: &TestApp, owner: &TestUser, org_id: &str, mut body: Value) -> String {
    body["org_id"] = json!(org_id);
    let created = app.post(LISTINGS, Some(&owner.access), body).await;
    created.expect(201);
    assert_eq!(created.body["status"], "draft", "{}", created.text);
    created.str("id")
}

/// Submits a draft for review.
pub async fn submit(app: &TestApp, owner: &TestUser, id: &str) {
    let submitted = app
        .post(
            &format!("{LISTINGS}/{id}/submit"),
            Some(&owner.access),
            json!({}),
        )
        .await;
    submitted.expect(200);
    assert_eq!(
        submitted.body["status"], "pending_review",
        "{}",
        submitted.text
    );
}

/// Creates a listing and submits it for review; returns its id.
pub async fn pending(app: &TestApp, owner: &TestUser, org_id: &str, body: Value) -> String {
    let id = draft(app, owner, org_id, body).await;
    submit(app, owner, &id).await;
    id
}

/// `POST /moderation/listings/{id}/{decision}` as `moderator`; must answer 200 for `id`.
pub async fn moderate(
    app: &TestApp,
    moderator: &TestUser,
    id: &str,
    decision: &str,
    body: Value,
) -> Resp {
    let resp = app
        .post(
            &format!("/api/v1/moderation/listings/{id}/{decision}"),
            Some(&moderator.access),
            body,
        )
        .await;
    resp.expect(200);
    assert_eq!(resp.body["id"], json!(id), "{}", resp.text);
    resp
}

/// A moderator approves a submitted listing or a published listing's pending edit.
pub async fn approve(app: &TestApp, moderator: &TestUser, id: &str) -> Resp {
    let approved = moderate(app, moderator, id, "approve", json!({})).await;
    assert_eq!(approved.body["status"], "published", "{}", approved.text);
    approved
}

/// Creates, submits and approves a listing; returns its id.
pub async fn publish(
    app: &TestApp,
    owner: &TestUser,
    moderator: &TestUser,
    org_id: &str,
    body: Value,
) -> String {
    let id = pending(app, owner, org_id, body).await;
    approve(app, moderator, &id).await;
    id
}

/// The organisation archives its published listing.
pub async fn archive(app: &TestApp, owner: &TestUser, id: &str) {
    let archived = app
        .post(
            &format!("{LISTINGS}/{id}/archive"),
            Some(&owner.access),
            json!({}),
        )
        .await;
    archived.expect(200);
    assert_eq!(archived.body["status"], "archived", "{}", archived.text);
}

impl World {
    /// A hospitality organisation in Bayern.
    pub async fn company(&self, email: &str, name: &str) -> Company {
        company(&self.app, email, name).await
    }

    /// Creates a draft; returns its id.
    pub async fn draft(&self, company: &Company, body: Value) -> String {
        draft(&self.app, &company.owner, &company.id, body).await
    }

    pub async fn submit(&self, company: &Company, id: &str) {
        submit(&self.app, &company.owner, id).await;
    }

    /// Creates a listing and submits it for review; returns its id.
    pub async fn pending(&self, company: &Company, body: Value) -> String {
        pending(&self.app, &company.owner, &company.id, body).await
    }

    pub async fn moderate(&self, id: &str, decision: &str, body: Value) -> Resp {
        moderate(&self.app, &self.moderator, id, decision, body).await
    }

    pub async fn approve(&self, id: &str) -> Resp {
        approve(&self.app, &self.moderator, id).await
    }

    /// Creates, submits and approves a listing; returns its id.
    pub async fn publish(&self, company: &Company, body: Value) -> String {
        publish(
            &self.app,
            &company.owner,
            &self.moderator,
            &company.id,
            body,
        )
        .await
    }

    pub async fn reject(&self, id: &str) -> Resp {
        self.moderate(
            id,
            "reject",
            json!({"reason": "Bitte die Gegenleistung genauer beschreiben."}),
        )
        .await
    }

    pub async fn remove(&self, id: &str) {
        let removed = self
            .moderate(
                id,
                "remove",
                json!({"reason": "Reine Manipulationstaktik statt echter Gegenseitigkeit."}),
            )
            .await;
        assert_eq!(removed.body["status"], "removed");
    }

    pub async fn restore(&self, id: &str) {
        let restored = self
            .moderate(
                id,
                "restore",
                json!({"reason": "Nach Rücksprache mit dem Betrieb korrigiert."}),
            )
            .await;
        assert_eq!(restored.body["status"], "published");
    }

    pub async fn archive(&self, company: &Company, id: &str) {
        archive(&self.app, &company.owner, id).await;
    }

    /// `GET /orgs/{org}/matches?{query}` as `token`; must answer 200 with a page.
    pub async fn matches(&self, token: &str, org: &str, query: &str) -> Resp {
        let resp = self
            .app
            .get(&format!("/api/v1/orgs/{org}/matches?{query}"), Some(token))
            .await;
        assert_eq!(resp.status, 200, "matches of {org}?{query}: {}", resp.text);
        assert!(resp.body["items"].is_array(), "no items: {}", resp.text);
        resp
    }

    /// The partner org ids `company` sees (as its owner), in rank order.
    pub async fn partners(&self, company: &Company, query: &str) -> Vec<String> {
        org_ids(
            &self
                .matches(&company.owner.access, &company.id, query)
                .await,
        )
    }

    /// `GET /listings/{id}/matches?{query}` as `token`; must answer 200 with a page.
    pub async fn listing_matches(&self, token: Option<&str>, id: &str, query: &str) -> Resp {
        let resp = self
            .app
            .get(&format!("{LISTINGS}/{id}/matches?{query}"), token)
            .await;
        assert_eq!(
            resp.status, 200,
            "matches of listing {id}?{query}: {}",
            resp.text
        );
        assert!(resp.body["items"].is_array(), "no items: {}", resp.text);
        resp
    }
}

pub fn items(resp: &Resp) -> &Vec<Value> {
    resp.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {}", resp.text))
}

pub fn org_ids(resp: &Resp) -> Vec<String> {
    items(resp)
        .iter()
        .map(|p| p["org_id"].as_str().expect("org_id").to_owned())
        .collect()
}

pub fn listing_ids(resp: &Resp) -> Vec<String> {
    items(resp)
        .iter()
        .map(|m| m["listing"]["id"].as_str().expect("listing.id").to_owned())
        .collect()
}

/// The item of partner `org`.
pub fn partner<'a>(resp: &'a Resp, org: &str) -> &'a Value {
    items(resp)
        .iter()
        .find(|p| p["org_id"] == json!(org))
        .unwrap_or_else(|| panic!("partner {org} not in {}", resp.text))
}

pub fn next_cursor(resp: &Resp) -> Option<String> {
    match &resp.body["next_cursor"] {
        Value::Null => None,
        Value::String(c) => Some(c.clone()),
        other => panic!("next_cursor is neither null nor a string: {other}"),
    }
}

pub fn set<S: AsRef<str>>(ids: &[S]) -> BTreeSet<String> {
    ids.iter().map(|i| i.as_ref().to_owned()).collect()
}

/// The documented tag weight: `ln(1 + P / df)`, for a tag carried by `df` of `published`
/// published listings.
pub fn weight(published: u32, df: u32) -> f64 {
    (1.0 + f64::from(published) / f64::from(df)).ln()
}
