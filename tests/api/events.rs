//! The organisation event feed: each change an organisation cares about is an event in the
//! same transaction as the change, carrying the resource as that organisation sees it;
//! the feed is its own, pages in commit order, and is never skipped or doubled, also while
//! two instances write.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::backends;
use crate::deals::{act, complete, exchange_terms, pair, read_agreement, read_proposal, PROPOSALS};
use crate::helpers::{enc, Backend, Resp, TestApp, TestUser};
use crate::market::{self, offer, world, LISTINGS};

backends!(
    a_negotiation_tells_both_parties_each_step,
    the_listing_lifecycle_tells_its_owner,
    members_invitations_and_keys_are_told,
    the_feed_belongs_to_its_organisation,
    bad_feed_requests_get_problems,
    pages_see_every_event_once_and_polling_goes_on_from_the_end,
    refused_and_replayed_changes_write_no_event,
    writers_on_two_instances_never_make_a_poller_skip,
    a_report_filed_for_an_organisation_tells_it_the_outcome,
    suspension_and_reinstatement_are_told,
);

fn feed_path(org_id: &str) -> String {
    format!("/api/v1/orgs/{org_id}/events")
}

/// Every event of the organisation, paged with `limit`, checking each page's shape.
async fn all_events(app: &TestApp, token: &str, org_id: &str, limit: usize) -> Vec<Value> {
    let mut events = Vec::new();
    let mut path = format!("{}?limit={limit}", feed_path(org_id));
    loop {
        let page = app.get(&path, Some(token)).await;
        page.expect(200);
        let items = page.body["items"].as_array().expect("items").clone();
        assert!(items.len() <= limit, "{}", page.text);
        let cursor = page.str("next_cursor");
        let more = page.body["has_more"].as_bool().expect("has_more");
        events.extend(items.clone());
        if !more {
            assert!(items.len() <= limit);
            return events;
        }
        assert_eq!(items.len(), limit, "a page before the last is full");
        path = format!(
            "{}?limit={limit}&cursor={}",
            feed_path(org_id),
            enc(&cursor)
        );
    }
}

fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().expect("type").to_owned())
        .collect()
}

/// The fields every event carries, for the organisation whose feed it is in.
fn check_envelope(events: &[Value], org_id: &str) {
    let mut ids = BTreeSet::new();
    for event in events {
        let id = event["id"].as_str().expect("event id");
        uuid::Uuid::parse_str(id).expect("event id is a UUID");
        assert!(ids.insert(id.to_owned()), "event {id} twice");
        assert_eq!(event["org_id"], json!(org_id), "{event}");
        let at = event["created_at"].as_str().expect("created_at");
        chrono::DateTime::parse_from_rfc3339(at).expect("created_at is RFC 3339");
        assert!(event["data"].is_object(), "{event}");
    }
}

async fn a_negotiation_tells_both_parties_each_step(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = pair(&app).await;
    let (a, b) = (&pair.a, &pair.b);
    let opened = crate::deals::open(&app, &pair, true).await;
    let proposal = opened.str("id");
    // What b was told on receiving it is the proposal as b read it then.
    let received = read_proposal(&app, &b.owner.access, &proposal).await;
    let countered = act(
        &app,
        &b.owner.access,
        &proposal,
        "counter",
        json!({"terms": exchange_terms(), "message": "Gern, mit drei Tagen Raum?"}),
    )
    .await;
    countered.expect(201);
    let accepted = act(
        &app,
        &a.owner.access,
        &proposal,
        "accept",
        json!({"revision": 2}),
    )
    .await;
    accepted.expect(200);
    let agreement = accepted.str("agreement_id");
    let path = format!("/api/v1/agreements/{agreement}/complete");
    let confirmed = app.post(&path, Some(&a.owner.access), json!({})).await;
    confirmed.expect(200);
    let completed = app.post(&path, Some(&b.owner.access), json!({})).await;
    completed.expect(200);
    let endorsed = app
        .post(
            &format!("/api/v1/agreements/{agreement}/endorsements"),
            Some(&b.owner.access),
            json!({"text": "Verlässlich, herzlich und pünktlich – gern wieder."}),
        )
        .await;
    endorsed.expect(201);

    let a_events = all_events(&app, &a.owner.access, &a.id, 100).await;
    let b_events = all_events(&app, &b.owner.access, &b.id, 100).await;
    check_envelope(&a_events, &a.id);
    check_envelope(&b_events, &b.id);
    assert_eq!(
        types(&a_events),
        [
            "proposal.countered",
            "proposal.accepted",
            "agreement.confirmed",
            "agreement.completed",
            "endorsement.received",
        ]
    );
    assert_eq!(
        types(&b_events),
        [
            "proposal.received",
            "proposal.countered",
            "proposal.accepted",
            "agreement.confirmed",
            "agreement.completed",
        ]
    );
    // Each event carries the resource as the receiving party saw it at that moment.
    assert_eq!(b_events[0]["data"], received);
    assert_eq!(b_events[0]["data"], opened.body);
    assert_eq!(a_events[0]["data"], countered.body);
    assert_eq!(b_events[1]["data"], countered.body);
    assert_eq!(a_events[1]["data"], accepted.body);
    assert_eq!(a_events[1]["data"]["agreement_id"], json!(agreement));
    assert_eq!(a_events[2]["data"], confirmed.body);
    assert_eq!(b_events[3]["data"], confirmed.body);
    assert_eq!(confirmed.body["status"], "active");
    for completed_event in [&a_events[3], &b_events[4]] {
        assert_eq!(completed_event["data"], completed.body);
    }
    let read = read_agreement(&app, Some(&a.owner.access), &agreement).await;
    assert_eq!(a_events[3]["data"]["terms_salt"], read["terms_salt"]);
    // Confidential terms reach the parties' feeds, as the parties read them.
    assert_eq!(completed.body["status"], "completed");
    assert!(completed.body["terms"].is_object() && completed.body["terms_salt"].is_string());
    assert_eq!(a_events[4]["data"], endorsed.body);
    // The stored events are exactly these: nothing for anyone else.
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM events"), 10);
}

async fn the_listing_lifecycle_tells_its_owner(backend: Backend) {
    let w = world(backend).await;
    let app = &w.app;
    let c = w
        .company("anna@hotel-alpenblick.example", "Hotel Alpenblick")
        .await;
    let first = w
        .draft(&c, offer("Schulung Kundenservice", &["kundenservice"]))
        .await;
    w.submit(&c, &first).await;
    let approved = w.approve(&first).await;
    let edited = app
        .patch(
            &format!("{LISTINGS}/{first}"),
            Some(&c.owner.access),
            json!({"title": "Schulung Kundenservice für Rezeption"}),
        )
        .await;
    edited.expect(200);
    let edit_approved = w.approve(&first).await;
    app.patch(
        &format!("{LISTINGS}/{first}"),
        Some(&c.owner.access),
        json!({"title": "Kostenlose Schulung!!!"}),
    )
    .await
    .expect(200);
    let edit_rejected = w
        .moderate(
            &first,
            "reject",
            json!({"reason": "Der Titel verspricht zu viel."}),
        )
        .await;
    let removed = w
        .moderate(&first, "remove", json!({"reason": "Doppelt eingestellt."}))
        .await;
    let restored = w.moderate(&first, "restore", json!({})).await;
    let second = w.pending(&c, offer("Tagungsraum", &["seminarraum"])).await;
    let rejected = w
        .moderate(
            &second,
            "reject",
            json!({"reason": "Bitte den Raum beschreiben."}),
        )
        .await;
    // Owners' own edits and archiving tell nothing.
    market::archive(app, &c.owner, &first).await;

    let events = all_events(app, &c.owner.access, &c.id, 3).await;
    check_envelope(&events, &c.id);
    assert_eq!(
        types(&events),
        [
            "listing.submitted",
            "listing.approved",
            "listing.edit_approved",
            "listing.edit_rejected",
            "listing.removed",
            "listing.restored",
            "listing.submitted",
            "listing.rejected",
        ]
    );
    assert_eq!(events[0]["data"]["id"], json!(first));
    assert_eq!(events[0]["data"]["status"], "pending_review");
    assert_eq!(events[1]["data"], approved.body);
    assert_eq!(events[2]["data"], edit_approved.body);
    assert_eq!(events[3]["data"], edit_rejected.body);
    assert_eq!(events[4]["data"], removed.body);
    assert_eq!(
        events[4]["data"]["moderation_reason"],
        "Doppelt eingestellt."
    );
    assert_eq!(events[5]["data"], restored.body);
    assert_eq!(events[6]["data"]["id"], json!(second));
    assert_eq!(events[7]["data"], rejected.body);
}

async fn members_invitations_and_keys_are_told(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.user("anna@hotel-alpenblick.example").await;
    let org = app.org(&owner, "Hotel Alpenblick").await;
    let invited = app
        .post(
            &format!("/api/v1/orgs/{org}/invitations"),
            Some(&owner.access),
            json!({"email": "bernd@hotel-alpenblick.example", "role": "member"}),
        )
        .await;
    invited.expect(201);
    let bernd = app.user("bernd@hotel-alpenblick.example").await;
    let joined = app
        .post(
            &format!("/api/v1/orgs/{org}/members"),
            Some(&bernd.access),
            json!({"invitation_token": invited.str("token")}),
        )
        .await;
    joined.expect(201);
    app.delete(
        &format!("/api/v1/orgs/{org}/members/{}", bernd.id),
        Some(&owner.access),
    )
    .await
    .expect(204);
    let key = app
        .post(
            &format!("/api/v1/orgs/{org}/api-keys"),
            Some(&owner.access),
            json!({"name": "Warenwirtschaft", "scopes": ["read"]}),
        )
        .await;
    key.expect(201);
    let key_id = key.str("id");
    app.delete(
        &format!("/api/v1/orgs/{org}/api-keys/{key_id}"),
        Some(&owner.access),
    )
    .await
    .expect(204);

    let events = all_events(&app, &owner.access, &org, 20).await;
    check_envelope(&events, &org);
    assert_eq!(
        types(&events),
        [
            "member.invited",
            "member.joined",
            "member.removed",
            "api_key.created",
            "api_key.revoked",
        ]
    );
    // Secrets never enter an event: the invitation's token and the key are shown once.
    let mut invitation = invited.body.clone();
    invitation.as_object_mut().unwrap().remove("token");
    assert_eq!(events[0]["data"], invitation);
    assert!(events[0]["data"].get("token").is_none());
    assert_eq!(events[1]["data"], joined.body);
    assert_eq!(events[2]["data"]["user_id"], json!(bernd.id));
    let mut shown = key.body.clone();
    shown.as_object_mut().unwrap().remove("key");
    assert_eq!(events[3]["data"], shown);
    assert!(!events
        .iter()
        .any(|e| e.to_string().contains(&key.str("key"))));
    assert_eq!(events[4]["data"]["id"], json!(key_id));
    // A revocation of a key already revoked changes nothing and tells nothing.
    app.delete(
        &format!("/api/v1/orgs/{org}/api-keys/{key_id}"),
        Some(&owner.access),
    )
    .await
    .expect_problem(404);
    assert_eq!(all_events(&app, &owner.access, &org, 20).await.len(), 5);
}

async fn the_feed_belongs_to_its_organisation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = pair(&app).await;
    crate::deals::open(&app, &pair, false).await;
    let b = &pair.b;
    let path = feed_path(&b.id);
    // Any key of the organisation reads it, a read-only one too.
    let read_key = app.api_key(&b.id, &b.owner, &["read"]).await;
    let own = app.get(&path, Some(&b.owner.access)).await;
    own.expect(200);
    assert_eq!(
        types(own.body["items"].as_array().unwrap()),
        ["proposal.received", "api_key.created"]
    );
    let by_key = app.get(&path, Some(&read_key)).await;
    by_key.expect(200);
    assert_eq!(by_key.body["items"], own.body["items"]);
    // The other party, its key, strangers and anonymous callers do not.
    app.get(&path, Some(&pair.a.owner.access))
        .await
        .expect_problem(403);
    let a_key = app
        .api_key(&pair.a.id, &pair.a.owner, &["read", "write"])
        .await;
    app.get(&path, Some(&a_key)).await.expect_problem(403);
    app.get(&path, None).await.expect_problem(401);
    app.get(&path, Some("not-a-token"))
        .await
        .expect_problem(401);
    let missing = uuid::Uuid::now_v7();
    app.get(&feed_path(&missing.to_string()), Some(&b.owner.access))
        .await
        .expect_problem(404);
    // a's own feed has nothing of b's: only its own key.
    let a_feed = app
        .get(&feed_path(&pair.a.id), Some(&pair.a.owner.access))
        .await;
    a_feed.expect(200);
    assert_eq!(
        types(a_feed.body["items"].as_array().unwrap()),
        ["api_key.created"]
    );
}

async fn bad_feed_requests_get_problems(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.user("anna@hotel-alpenblick.example").await;
    let org = app.org(&owner, "Hotel Alpenblick").await;
    let path = feed_path(&org);
    let unknown = app
        .get(
            &format!("{path}?types=proposal.received,proposal.exploded"),
            Some(&owner.access),
        )
        .await;
    unknown.expect_problem(400);
    assert!(
        unknown.str("detail").contains("proposal.exploded"),
        "{}",
        unknown.text
    );
    for query in [
        "limit=0",
        "limit=101",
        "limit=zwanzig",
        "cursor=bm9wZQ",
        "cursor=%%%",
    ] {
        app.get(&format!("{path}?{query}"), Some(&owner.access))
            .await
            .expect_problem(400);
    }
    // A cursor of another list is not one of this feed's.
    let other = crate::helpers::enc(&base64_url("id:0190d7a4-0000-7000-8000-000000000001"));
    app.get(&format!("{path}?cursor={other}"), Some(&owner.access))
        .await
        .expect_problem(400);
    app.get("/api/v1/orgs/not-a-uuid/events", Some(&owner.access))
        .await
        .expect_problem(400);
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

/// Submits `count` listings of `c` (one `listing.submitted` each); returns their ids.
async fn submissions(app: &TestApp, owner: &TestUser, org: &str, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..count {
        let body = offer(&format!("Schulung Nummer {i}"), &["schulung"]);
        ids.push(market::pending(app, owner, org, body).await);
    }
    ids
}

async fn pages_see_every_event_once_and_polling_goes_on_from_the_end(backend: Backend) {
    let w = world(backend).await;
    let app = &w.app;
    let c = w
        .company("anna@hotel-alpenblick.example", "Hotel Alpenblick")
        .await;
    let ids = submissions(app, &c.owner, &c.id, 5).await;
    let events = all_events(app, &c.owner.access, &c.id, 2).await;
    let listed: Vec<Value> = events.iter().map(|e| e["data"]["id"].clone()).collect();
    assert_eq!(listed, ids.iter().map(|id| json!(id)).collect::<Vec<_>>());

    // The last page's cursor is where the next event appears.
    let first = app
        .get(
            &format!("{}?limit=5", feed_path(&c.id)),
            Some(&c.owner.access),
        )
        .await;
    first.expect(200);
    assert_eq!(first.body["has_more"], json!(false));
    let cursor = first.str("next_cursor");
    let poll = format!("{}?cursor={}", feed_path(&c.id), enc(&cursor));
    let quiet = app.get(&poll, Some(&c.owner.access)).await;
    quiet.expect(200);
    assert_eq!(quiet.body["items"], json!([]));
    assert_eq!(
        quiet.str("next_cursor"),
        cursor,
        "an empty poll keeps its place"
    );
    let approved = w.approve(&ids[2]).await;
    let next = app.get(&poll, Some(&c.owner.access)).await;
    next.expect(200);
    assert_eq!(
        types(next.body["items"].as_array().unwrap()),
        ["listing.approved"]
    );
    assert_eq!(next.body["items"][0]["data"], approved.body);

    // `types` narrows the feed, and the same cursor works with it.
    let only = app
        .get(
            &format!(
                "{}?types=listing.approved,proposal.received",
                feed_path(&c.id)
            ),
            Some(&c.owner.access),
        )
        .await;
    only.expect(200);
    assert_eq!(
        types(only.body["items"].as_array().unwrap()),
        ["listing.approved"]
    );
    let filtered_poll = app
        .get(
            &format!("{poll}&types=listing.submitted"),
            Some(&c.owner.access),
        )
        .await;
    filtered_poll.expect(200);
    assert_eq!(filtered_poll.body["items"], json!([]));
}

async fn refused_and_replayed_changes_write_no_event(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = pair(&app).await;
    let proposal = crate::deals::open(&app, &pair, false).await.str("id");
    let before = app.count("SELECT COUNT(*) AS n FROM events");
    assert_eq!(before, 1);
    // Refused: the proposer accepts its own revision, b accepts a revision that does not
    // exist, a stranger declines, a malformed counter.
    act(
        &app,
        &pair.a.owner.access,
        &proposal,
        "accept",
        json!({"revision": 1}),
    )
    .await
    .expect_problem(409);
    act(
        &app,
        &pair.b.owner.access,
        &proposal,
        "accept",
        json!({"revision": 7}),
    )
    .await
    .expect_problem(409);
    let stranger = crate::deals::third(&app).await;
    act(
        &app,
        &stranger.owner.access,
        &proposal,
        "decline",
        json!({}),
    )
    .await
    .expect_problem(404);
    act(
        &app,
        &pair.b.owner.access,
        &proposal,
        "counter",
        json!({"terms": {"from_gives": []}}),
    )
    .await
    .expect_problem(422);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM events"), before);
    // A counter replayed with its idempotency key is told once.
    let body = json!({"terms": exchange_terms(), "message": "Einverstanden mit kleiner Änderung"});
    let path = format!("{PROPOSALS}/{proposal}/counter");
    for _ in 0..2 {
        app.call(
            "POST",
            &path,
            Some(&pair.b.owner.access),
            Some(body.clone()),
            &[("Idempotency-Key", "gegenangebot-1")],
        )
        .await
        .expect(201);
    }
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM events"),
        before + 2,
        "one per party"
    );
    // A completion that lost its race writes nothing either.
    let agreement = act(
        &app,
        &pair.a.owner.access,
        &proposal,
        "accept",
        json!({"revision": 2}),
    )
    .await;
    agreement.expect(200);
    let agreement = agreement.str("agreement_id");
    complete(&app, &pair, &agreement).await;
    let done = app.count("SELECT COUNT(*) AS n FROM events");
    app.post(
        &format!("/api/v1/agreements/{agreement}/complete"),
        Some(&pair.a.owner.access),
        json!({}),
    )
    .await
    .expect_problem(409);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM events"), done);
}

/// Sixteen submissions, half through each of two instances on one database, while a
/// poller pages the feed: the poller sees each event once, in the order of its number,
/// and ends with exactly the stored events.
async fn writers_on_two_instances_never_make_a_poller_skip(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let sibling = app.spawn_sibling().await;
    let owner = app.user("anna@hotel-alpenblick.example").await;
    let org = app.org(&owner, "Hotel Alpenblick").await;
    let drafts = {
        let mut ids = Vec::new();
        for i in 0..16 {
            let mut body = offer(&format!("Schulung Nummer {i}"), &["schulung"]);
            body["org_id"] = json!(org);
            let created = app.post(LISTINGS, Some(&owner.access), body).await;
            created.expect(201);
            ids.push(created.str("id"));
        }
        ids
    };
    let submit = |instance: &'static str, ids: Vec<String>| {
        let (app, sibling, token) = (&app, &sibling, owner.access.clone());
        async move {
            for id in ids {
                let via = if instance == "app" { app } else { sibling };
                via.post(&format!("{LISTINGS}/{id}/submit"), Some(&token), json!({}))
                    .await
                    .expect(200);
            }
        }
    };
    let poll = async {
        let mut seen: Vec<Value> = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..2000 {
            let path = match &cursor {
                None => format!("{}?limit=3", feed_path(&org)),
                Some(c) => format!("{}?limit=3&cursor={}", feed_path(&org), enc(c)),
            };
            let page: Resp = sibling.get(&path, Some(&owner.access)).await;
            page.expect(200);
            let items = page.body["items"].as_array().unwrap();
            if items.is_empty() {
                actix_web::rt::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            seen.extend(items.iter().cloned());
            cursor = Some(page.str("next_cursor"));
            if seen.len() >= 16 {
                break;
            }
        }
        seen
    };
    let (halves_a, halves_b) = drafts.split_at(8);
    let ((), (), seen) = tokio::join!(
        submit("app", halves_a.to_vec()),
        submit("sibling", halves_b.to_vec()),
        poll
    );
    check_envelope(&seen, &org);
    assert_eq!(seen.len(), 16, "every event once");
    let stored = all_events(&app, &owner.access, &org, 100).await;
    assert_eq!(seen, stored, "the poller saw the stored feed, in its order");
    let listed: BTreeSet<String> = seen
        .iter()
        .map(|e| e["data"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, drafts.into_iter().collect::<BTreeSet<_>>());
    assert!(types(&seen).iter().all(|t| t == "listing.submitted"));
}

async fn a_report_filed_for_an_organisation_tells_it_the_outcome(backend: Backend) {
    let w = world(backend).await;
    let app = &w.app;
    let reporter = w
        .company("anna@hotel-alpenblick.example", "Hotel Alpenblick")
        .await;
    let other = w
        .company("bernd@gasthof-seeblick.example", "Gasthof Seeblick")
        .await;
    let listing = w
        .publish(&other, offer("Gratis Bewertungen!!!", &["marketing"]))
        .await;
    let report = |org_id: Option<&str>| {
        let mut body = json!({
            "target_type": "listing", "target_id": listing, "reason": "manipulation",
            "details": "Verspricht gekaufte Bewertungen.",
        });
        if let Some(org) = org_id {
            body["org_id"] = json!(org);
        }
        body
    };
    // Only for an organisation the reporter belongs to.
    let refused = app
        .post(
            "/api/v1/reports",
            Some(&reporter.owner.access),
            report(Some(&other.id)),
        )
        .await;
    refused.expect_problem(422);
    assert_eq!(crate::helpers::error_fields(&refused), ["org_id"]);
    let filed = app
        .post(
            "/api/v1/reports",
            Some(&reporter.owner.access),
            report(Some(&reporter.id)),
        )
        .await;
    filed.expect(201);
    assert_eq!(filed.body["org_id"], json!(reporter.id));
    let id = filed.str("id");
    let resolved = app
        .post(
            &format!("/api/v1/moderation/reports/{id}/resolve"),
            Some(&w.moderator.access),
            json!({"action": "remove_listing", "note": "Gekaufte Bewertungen sind nicht erlaubt."}),
        )
        .await;
    resolved.expect(200);

    let events = all_events(app, &reporter.owner.access, &reporter.id, 20).await;
    check_envelope(&events, &reporter.id);
    assert_eq!(types(&events), ["report.resolved"]);
    // The report as its reporter reads it: the outcome, not the moderator's identity.
    let mine = app
        .get("/api/v1/reports", Some(&reporter.owner.access))
        .await;
    mine.expect(200);
    assert_eq!(events[0]["data"], mine.body["items"][0]);
    assert_eq!(events[0]["data"]["resolution"], "remove_listing");
    assert!(events[0]["data"].get("reporter_id").is_none());
    // The removed listing's owner is told of the removal; nobody else of the report.
    let owner_events = all_events(app, &other.owner.access, &other.id, 20).await;
    assert_eq!(
        types(&owner_events),
        ["listing.submitted", "listing.approved", "listing.removed"]
    );
    // A report filed for nobody tells nobody.
    let private = app
        .post(
            "/api/v1/reports",
            Some(&other.owner.access),
            json!({
                "target_type": "org", "target_id": reporter.id, "reason": "other",
                "details": "Nur ein Test.",
            }),
        )
        .await;
    private.expect(201);
    assert!(private.body["org_id"].is_null());
    let before = app.count("SELECT COUNT(*) AS n FROM events");
    app.post(
        &format!("/api/v1/moderation/reports/{}/resolve", private.str("id")),
        Some(&w.moderator.access),
        json!({"action": "dismiss", "note": "Kein Verstoß erkennbar."}),
    )
    .await
    .expect(200);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM events"), before);
}

async fn suspension_and_reinstatement_are_told(backend: Backend) {
    let w = world(backend).await;
    let app = &w.app;
    let c = w
        .company("anna@hotel-alpenblick.example", "Hotel Alpenblick")
        .await;
    let suspended = app
        .post(
            &format!("/api/v1/moderation/orgs/{}/suspend", c.id),
            Some(&w.moderator.access),
            json!({"reason": "Wiederholte Täuschung von Partnern."}),
        )
        .await;
    suspended.expect(200);
    // A suspended organisation still reads its own feed.
    let feed = app.get(&feed_path(&c.id), Some(&c.owner.access)).await;
    feed.expect(200);
    assert_eq!(
        types(feed.body["items"].as_array().unwrap()),
        ["org.suspended"]
    );
    assert_eq!(feed.body["items"][0]["data"], suspended.body);
    let reinstated = app
        .post(
            &format!("/api/v1/moderation/orgs/{}/unsuspend", c.id),
            Some(&w.moderator.access),
            json!({"reason": "Einspruch geprüft und angenommen."}),
        )
        .await;
    reinstated.expect(200);
    let events = all_events(app, &c.owner.access, &c.id, 20).await;
    assert_eq!(types(&events), ["org.suspended", "org.reinstated"]);
    assert_eq!(events[1]["data"], reinstated.body);
    assert_eq!(events[1]["data"]["status"], "active");
}
