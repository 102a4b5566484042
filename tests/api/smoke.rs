//! The README walkthrough, end to end.

use serde_json::json;

use crate::backends;
use crate::helpers::{Backend, TestApp};

async fn walkthrough(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna@kundenwerk.example").await;
    let org_id = app.org(&anna, "Kundenwerk GmbH").await;
    let jonas = app
        .member(&org_id, &anna, "jonas@kundenwerk.example", "member")
        .await;
    let me = app.get("/api/v1/me", Some(&jonas.access)).await;
    me.expect(200);
    assert_eq!(me.body["memberships"][0]["org_id"], json!(org_id));
    assert_eq!(me.body["memberships"][0]["role"], json!("member"));
    let key = app.api_key(&org_id, &anna, &["read"]).await;
    let members = app
        .get(&format!("/api/v1/orgs/{org_id}/members"), Some(&key))
        .await;
    members.expect(200);
    assert_eq!(members.body["items"].as_array().map(Vec::len), Some(2));
}

backends!(walkthrough);
