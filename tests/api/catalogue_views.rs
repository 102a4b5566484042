//! Catalogue pages are read from the listings' search documents, which keep each listing's
//! public form. Whatever happens to a listing, a page shows it exactly as reading it by id
//! does — to anyone, and to its own organisation with the private fields.

use serde_json::{json, Value};

use crate::backends;
use crate::catalogue::{listing, market, publish_with, search, Market};
use crate::catalogue_cache::moderate_org;
use crate::helpers::{Backend, TestUser};

backends!(a_catalogue_item_is_the_listing_as_reading_it_by_id_shows_it);

/// The item of `id` on the page answering `query` as `token`, or `None`.
async fn item(m: &Market, token: Option<&TestUser>, query: &str, id: &str) -> Option<Value> {
    let page = search(&m.app, token.map(|u| u.access.as_str()), query).await;
    let items = page.body["items"].as_array().expect("items").clone();
    items.into_iter().find(|i| i["id"] == json!(id))
}

/// Every way a page can show the listing agrees with reading it by id.
async fn check(m: &Market, id: &str, label: &str) {
    let public = m.app.get(&format!("/api/v1/listings/{id}"), None).await;
    let own = m
        .app
        .get(&format!("/api/v1/listings/{id}"), Some(&m.owner.access))
        .await;
    own.expect(200);
    let of_org = format!("org_id={}&limit=100", m.org);
    if public.status == 200 {
        // Twice: computed, then from the result cache.
        for round in ["computed", "cached"] {
            for query in [of_org.as_str(), "q=seminarraum", "limit=100"] {
                let shown = item(m, None, query, id).await;
                assert_eq!(
                    shown.as_ref(),
                    Some(&public.body),
                    "{label}, {round}, ?{query}: the page shows the listing as it is"
                );
            }
        }
    } else {
        public.expect(404);
        assert_eq!(
            item(m, None, &of_org, id).await,
            None,
            "{label}: not public"
        );
    }
    let statuses = "&status=draft&status=pending_review&status=published&status=archived";
    let insider = item(m, Some(&m.owner), &format!("{of_org}{statuses}"), id).await;
    assert_eq!(
        insider.as_ref(),
        Some(&own.body),
        "{label}: the organisation's own page shows its private fields"
    );
}

async fn a_catalogue_item_is_the_listing_as_reading_it_by_id_shows_it(backend: Backend) {
    let m = market(backend).await;
    let app = &m.app;
    let mut body = listing(
        "offer",
        "resource",
        "Seminarraum für einen Nachmittag",
        "Unser Seminarraum steht Partnern unverbindlich zur Verfügung — mit \"Beamer\".",
        &["seminarraum", "tagung"],
    );
    body["region"] = json!("Bayern");
    body["trial_available"] = json!(true);
    let id = publish_with(app, &m.owner, &m.moderator, &m.org, body).await;
    check(&m, &id, "published").await;

    let path = format!("/api/v1/listings/{id}");
    // An edit of the published text waits for review: the public form keeps the approved
    // text, the organisation sees the pending change.
    app.patch(
        &path,
        Some(&m.owner.access),
        json!({"title": "Seminarraum für einen ganzen Tag"}),
    )
    .await
    .expect(200);
    check(&m, &id, "edit pending").await;
    app.post(
        &format!("/api/v1/moderation/listings/{id}/approve"),
        Some(&m.moderator.access),
        json!({}),
    )
    .await
    .expect(200);
    let approved = app.get(&path, None).await;
    assert_eq!(approved.body["title"], "Seminarraum für einen ganzen Tag");
    check(&m, &id, "edit approved").await;

    // Changes that need no review: the expiry date and the trial.
    app.patch(
        &path,
        Some(&m.owner.access),
        json!({"expires_at": "2099-01-01T00:00:00Z", "trial_available": false}),
    )
    .await
    .expect(200);
    check(&m, &id, "expiry and trial changed").await;

    // Suspended and reinstated: out of the catalogue, then back as it was.
    for (action, to) in [("suspend", "suspended"), ("unsuspend", "active")] {
        moderate_org(app, &m.moderator, &m.org, action, to).await;
        if action == "suspend" {
            assert_eq!(
                item(&m, None, &format!("org_id={}", m.org), &id).await,
                None,
                "a suspended organisation's listing is not public"
            );
        } else {
            check(&m, &id, "reinstated").await;
        }
    }

    app.post(&format!("{path}/archive"), Some(&m.owner.access), json!({}))
        .await
        .expect(200);
    check(&m, &id, "archived").await;
}
