//! No pressure: blocks, the limit of open proposals to one partner, and the pause after
//! repeated declines — each refusal with its status, problem and `Retry-After`, each limit
//! lifted the documented way, and other pairs of organisations never affected.

use chrono::{Duration, Utc};
use serde_json::{json, Value};

use crate::backends;
use crate::deals::{act, exchange_terms, join, open_between, pair, propose, third, PROPOSALS};
use crate::helpers::{error_fields, Backend, Resp, TestApp};
use crate::market::in_days;

backends!(
    a_block_stops_proposals_from_the_blocked_org_only,
    only_members_and_write_keys_of_the_blocker_manage_blocks,
    open_proposals_per_partner_are_limited,
    repeated_declines_start_a_cooldown,
    declines_far_apart_or_long_ago_do_not_cool_down,
    a_threshold_of_zero_turns_the_cooldown_off,
    declining_the_other_sides_counter_is_no_decline_of_ones_own,
);

fn blocks(org: &str) -> String {
    format!("/api/v1/orgs/{org}/blocks")
}

fn retry_after(resp: &Resp) -> i64 {
    resp.header("retry-after")
        .unwrap_or_else(|| panic!("429 without Retry-After: {}", resp.text))
        .parse()
        .expect("Retry-After is whole seconds")
}

#[track_caller]
fn assert_rate_limited(resp: &Resp) {
    resp.expect_problem(429);
    assert_eq!(resp.body["type"], "/problems/rate-limited");
}

fn between(app: &TestApp, from: &str, to: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) AS n FROM proposals WHERE from_org_id = '{from}' AND to_org_id = '{to}'"
    ))
}

/// A stored time `days` ago, in the form both backends compare correctly.
fn days_ago(days: i64) -> String {
    (Utc::now() - Duration::days(days))
        .naive_utc()
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string()
}

async fn a_block_stops_proposals_from_the_blocked_org_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = pair(&app).await;
    let c = third(&app).await;
    let (a, b) = (&pair.a.owner.access, &pair.b.owner.access);
    let already_open = open_between(&app, a, &pair.a.id, &pair.b.id).await;

    let blocked = app
        .post(&blocks(&pair.b.id), Some(b), json!({"org_id": pair.a.id}))
        .await;
    blocked.expect(201);
    assert_eq!(blocked.body["blocker"], pair.b.id.as_str());
    assert_eq!(blocked.body["org_id"], pair.a.id.as_str());
    assert_eq!(
        blocked.header("location").as_deref(),
        Some(format!("{}/{}", blocks(&pair.b.id), pair.a.id).as_str())
    );
    // Blocking again answers the existing block.
    let again = app
        .post(&blocks(&pair.b.id), Some(b), json!({"org_id": pair.a.id}))
        .await;
    again.expect(200);
    assert_eq!(again.body["created_at"], blocked.body["created_at"]);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM org_blocks WHERE org_id = '{}'",
            pair.b.id
        )),
        1
    );
    let listed = app.get(&blocks(&pair.b.id), Some(b)).await;
    listed.expect(200);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed.body["items"][0]["org_id"], pair.a.id.as_str());
    assert_eq!(listed.body["next_cursor"], Value::Null);

    let refused = propose(
        &app,
        a,
        &pair.a.id,
        &pair.b.id,
        "exchange",
        exchange_terms(),
    )
    .await;
    refused.expect_problem(403);
    assert_eq!(refused.body["type"], "/problems/forbidden");
    assert_eq!(between(&app, &pair.a.id, &pair.b.id), 1);
    // A write key of the blocked organisation is refused the same way.
    let a_key = app
        .api_key(&pair.a.id, &pair.a.owner, &["read", "write"])
        .await;
    propose(
        &app,
        &a_key,
        &pair.a.id,
        &pair.b.id,
        "exchange",
        exchange_terms(),
    )
    .await
    .expect_problem(403);
    // Others are unaffected: c proposes to b, a proposes to c, b still proposes to a.
    open_between(&app, &c.owner.access, &c.id, &pair.b.id).await;
    open_between(&app, a, &pair.a.id, &c.id).await;
    open_between(&app, b, &pair.b.id, &pair.a.id).await;
    // The proposal sent before the block stays open and can be answered.
    act(&app, b, &already_open, "accept", json!({"revision": 1}))
        .await
        .expect(200);

    // Lifting the block lets a propose again.
    let lifted = app
        .delete(&format!("{}/{}", blocks(&pair.b.id), pair.a.id), Some(b))
        .await;
    lifted.expect(204);
    assert!(lifted.text.is_empty());
    let listed = app.get(&blocks(&pair.b.id), Some(b)).await;
    assert!(listed.body["items"].as_array().unwrap().is_empty());
    open_between(&app, a, &pair.a.id, &pair.b.id).await;
    app.delete(&format!("{}/{}", blocks(&pair.b.id), pair.a.id), Some(b))
        .await
        .expect_problem(404);
}

async fn only_members_and_write_keys_of_the_blocker_manage_blocks(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = pair(&app).await;
    let c = third(&app).await;
    let (a, b) = (&pair.a.owner.access, &pair.b.owner.access);
    let block = |org: &str| json!({"org_id": org});
    let b_blocks = blocks(&pair.b.id);

    app.post(&b_blocks, None, block(&pair.a.id))
        .await
        .expect_problem(401);
    app.get(&b_blocks, None).await.expect_problem(401);
    let foreign = app.post(&b_blocks, Some(a), block(&c.id)).await;
    foreign.expect_problem(403);
    let read_key = app.api_key(&pair.b.id, &pair.b.owner, &["read"]).await;
    app.post(&b_blocks, Some(&read_key), block(&pair.a.id))
        .await
        .expect_problem(403);
    let a_key = app
        .api_key(&pair.a.id, &pair.a.owner, &["read", "write"])
        .await;
    app.post(&b_blocks, Some(&a_key), block(&c.id))
        .await
        .expect_problem(403);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM org_blocks"), 0);

    let itself = app.post(&b_blocks, Some(b), block(&pair.b.id)).await;
    itself.expect_problem(422);
    assert_eq!(error_fields(&itself), ["org_id"]);
    let unknown = app
        .post(&b_blocks, Some(b), block(&uuid::Uuid::new_v4().to_string()))
        .await;
    unknown.expect_problem(422);
    assert_eq!(error_fields(&unknown), ["org_id"]);
    let not_uuid = app
        .post(&b_blocks, Some(b), json!({"org_id": "hotel"}))
        .await;
    not_uuid.expect_problem(422);
    assert_eq!(error_fields(&not_uuid), ["org_id"]);
    app.post(
        &blocks(&uuid::Uuid::new_v4().to_string()),
        Some(b),
        block(&pair.a.id),
    )
    .await
    .expect_problem(404);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM org_blocks"), 0);

    // A write key and a plain member of b block; the read key lists.
    let write_key = app
        .api_key(&pair.b.id, &pair.b.owner, &["read", "write"])
        .await;
    app.post(&b_blocks, Some(&write_key), block(&pair.a.id))
        .await
        .expect(201);
    let member = app.user("mitarbeiter@gasthof-seeblick.example").await;
    join(&app, &pair.b.id, &pair.b.owner, &member, "member").await;
    app.post(&b_blocks, Some(&member.access), block(&c.id))
        .await
        .expect(201);
    let listed = app.get(&b_blocks, Some(&read_key)).await;
    listed.expect(200);
    let mut blocked: Vec<String> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["org_id"].as_str().unwrap().to_owned())
        .collect();
    blocked.sort();
    let mut expected = vec![pair.a.id.clone(), c.id.clone()];
    expected.sort();
    assert_eq!(blocked, expected);
    // Paging by one: each once.
    let first = app.get(&format!("{b_blocks}?limit=1"), Some(b)).await;
    first.expect(200);
    let cursor = first.str("next_cursor");
    let second = app
        .get(
            &format!("{b_blocks}?limit=1&cursor={}", crate::helpers::enc(&cursor)),
            Some(b),
        )
        .await;
    second.expect(200);
    assert_ne!(first.body["items"][0], second.body["items"][0]);
    assert_eq!(second.body["next_cursor"], Value::Null);
    // The blocked organisation does not read b's blocks, nor lift one.
    app.get(&b_blocks, Some(a)).await.expect_problem(403);
    app.delete(&format!("{b_blocks}/{}", pair.a.id), Some(a))
        .await
        .expect_problem(403);
    app.delete(&format!("{b_blocks}/{}", pair.a.id), Some(&read_key))
        .await
        .expect_problem(403);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM org_blocks"), 2);
    app.delete(&format!("{b_blocks}/{}", pair.a.id), Some(&write_key))
        .await
        .expect(204);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM org_blocks"), 1);
}

async fn open_proposals_per_partner_are_limited(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.proposal_limits.open_per_partner = 2).await;
    let pair = pair(&app).await;
    let c = third(&app).await;
    let (a, b) = (&pair.a.owner.access, &pair.b.owner.access);
    let first = open_between(&app, a, &pair.a.id, &pair.b.id).await;
    let second = open_between(&app, a, &pair.a.id, &pair.b.id).await;
    let third_try = propose(
        &app,
        a,
        &pair.a.id,
        &pair.b.id,
        "exchange",
        exchange_terms(),
    )
    .await;
    assert_rate_limited(&third_try);
    assert!(
        third_try.str("detail").contains("at most 2"),
        "{}",
        third_try.text
    );
    // Without any expiry there is no time to promise: an hour.
    assert_eq!(retry_after(&third_try), 3600);
    assert_eq!(between(&app, &pair.a.id, &pair.b.id), 2);
    // Others are unaffected.
    open_between(&app, b, &pair.b.id, &pair.a.id).await;
    open_between(&app, a, &pair.a.id, &c.id).await;

    // Withdrawing one frees a place.
    act(&app, a, &first, "withdraw", json!({}))
        .await
        .expect(200);
    let mut expiring = crate::deals::proposal_body(&pair, "exchange", exchange_terms(), false);
    expiring["expires_at"] = json!(in_days(2));
    let expiring = app.post(PROPOSALS, Some(a), expiring).await;
    expiring.expect(201);
    let expiring = expiring.str("id");
    // Full again; now the earliest expiry frees a place by itself.
    let full = propose(
        &app,
        a,
        &pair.a.id,
        &pair.b.id,
        "exchange",
        exchange_terms(),
    )
    .await;
    assert_rate_limited(&full);
    let wait = retry_after(&full);
    assert!(
        (2 * 86_400 - 120..=2 * 86_400).contains(&wait),
        "Retry-After is the time until the expiry: {wait}"
    );
    // An answer frees a place too: b declines the second.
    act(&app, b, &second, "decline", json!({}))
        .await
        .expect(200);
    let replacement = open_between(&app, a, &pair.a.id, &pair.b.id).await;
    assert_rate_limited(
        &propose(
            &app,
            a,
            &pair.a.id,
            &pair.b.id,
            "exchange",
            exchange_terms(),
        )
        .await,
    );
    // An expired proposal no longer counts.
    app.sql(&format!(
        "UPDATE proposals SET expires_at = '2000-01-01 00:00:00' WHERE id = '{expiring}'"
    ));
    open_between(&app, a, &pair.a.id, &pair.b.id).await;
    assert_rate_limited(
        &propose(
            &app,
            a,
            &pair.a.id,
            &pair.b.id,
            "exchange",
            exchange_terms(),
        )
        .await,
    );
    // Accepting frees a place as well.
    act(&app, b, &replacement, "accept", json!({"revision": 1}))
        .await
        .expect(200);
    open_between(&app, a, &pair.a.id, &pair.b.id).await;
    let open_now = app.count(&format!(
        "SELECT COUNT(*) AS n FROM proposals WHERE from_org_id = '{}' AND to_org_id = '{}' AND status = 'open' AND id <> '{expiring}'",
        pair.a.id, pair.b.id
    ));
    assert_eq!(open_now, 2);
}

async fn repeated_declines_start_a_cooldown(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = pair(&app).await;
    let c = third(&app).await;
    let (a, b) = (&pair.a.owner.access, &pair.b.owner.access);
    let first = open_between(&app, a, &pair.a.id, &pair.b.id).await;
    act(&app, b, &first, "decline", json!({})).await.expect(200);
    // One decline is no reason to pause.
    let second = open_between(&app, a, &pair.a.id, &pair.b.id).await;
    act(
        &app,
        b,
        &second,
        "decline",
        json!({"reason": "Kein Bedarf"}),
    )
    .await
    .expect(200);

    let paused = propose(
        &app,
        a,
        &pair.a.id,
        &pair.b.id,
        "exchange",
        exchange_terms(),
    )
    .await;
    assert_rate_limited(&paused);
    let wait = retry_after(&paused);
    assert!(
        (30 * 86_400 - 120..=30 * 86_400).contains(&wait),
        "about 30 days: {wait}"
    );
    assert!(
        paused.str("detail").contains("declined 2"),
        "{}",
        paused.text
    );
    // A trial is a proposal too.
    assert_rate_limited(
        &propose(
            &app,
            a,
            &pair.a.id,
            &pair.b.id,
            "trial",
            json!({"from_gives": [{"category": "support", "description": "Probeberatung"}], "to_gives": []}),
        )
        .await,
    );
    assert_eq!(between(&app, &pair.a.id, &pair.b.id), 2);
    // Only this direction pauses: b may propose to a, a to c, c to b.
    open_between(&app, b, &pair.b.id, &pair.a.id).await;
    open_between(&app, a, &pair.a.id, &c.id).await;
    open_between(&app, &c.owner.access, &c.id, &pair.b.id).await;
    // Withdrawals are not declines.
    let withdrawn = open_between(&app, &c.owner.access, &c.id, &pair.b.id).await;
    act(&app, &c.owner.access, &withdrawn, "withdraw", json!({}))
        .await
        .expect(200);
    let declined = open_between(&app, &c.owner.access, &c.id, &pair.b.id).await;
    act(&app, b, &declined, "decline", json!({}))
        .await
        .expect(200);
    open_between(&app, &c.owner.access, &c.id, &pair.b.id).await;
}

async fn declines_far_apart_or_long_ago_do_not_cool_down(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = pair(&app).await;
    let c = third(&app).await;
    let (a, b) = (&pair.a.owner.access, &pair.b.owner.access);
    let decline = |proposal: String, days: i64| {
        let app = &app;
        async move {
            act(app, b, &proposal, "decline", json!({}))
                .await
                .expect(200);
            app.sql(&format!(
                "UPDATE proposals SET closed_at = '{}' WHERE id = '{proposal}'",
                days_ago(days)
            ));
        }
    };
    // a → b: one decline 40 days ago, one now: more than 30 days apart.
    let old = open_between(&app, a, &pair.a.id, &pair.b.id).await;
    decline(old, 40).await;
    let recent = open_between(&app, a, &pair.a.id, &pair.b.id).await;
    act(&app, b, &recent, "decline", json!({}))
        .await
        .expect(200);
    open_between(&app, a, &pair.a.id, &pair.b.id).await;

    // c → b: two declines 35 and 31 days ago started a pause that ended a day ago.
    let c_token = &c.owner.access;
    let first = open_between(&app, c_token, &c.id, &pair.b.id).await;
    decline(first, 35).await;
    let second = open_between(&app, c_token, &c.id, &pair.b.id).await;
    decline(second, 31).await;
    open_between(&app, c_token, &c.id, &pair.b.id).await;

    // …but two declines 20 and 5 days ago still pause, for the 25 days left.
    let first = open_between(&app, b, &pair.b.id, &c.id).await;
    act(&app, c_token, &first, "decline", json!({}))
        .await
        .expect(200);
    app.sql(&format!(
        "UPDATE proposals SET closed_at = '{}' WHERE id = '{first}'",
        days_ago(20)
    ));
    let second = open_between(&app, b, &pair.b.id, &c.id).await;
    act(&app, c_token, &second, "decline", json!({}))
        .await
        .expect(200);
    app.sql(&format!(
        "UPDATE proposals SET closed_at = '{}' WHERE id = '{second}'",
        days_ago(5)
    ));
    let paused = propose(&app, b, &pair.b.id, &c.id, "exchange", exchange_terms()).await;
    assert_rate_limited(&paused);
    let wait = retry_after(&paused);
    assert!(
        (25 * 86_400 - 120..=25 * 86_400).contains(&wait),
        "the pause runs 30 days from the second decline: {wait}"
    );
}

async fn a_threshold_of_zero_turns_the_cooldown_off(backend: Backend) {
    let app =
        TestApp::spawn_with(backend, |s| s.proposal_limits.declines_before_cooldown = 0).await;
    let pair = pair(&app).await;
    let (a, b) = (&pair.a.owner.access, &pair.b.owner.access);
    for _ in 0..4 {
        let id = open_between(&app, a, &pair.a.id, &pair.b.id).await;
        act(&app, b, &id, "decline", json!({})).await.expect(200);
    }
    open_between(&app, a, &pair.a.id, &pair.b.id).await;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM proposals WHERE to_org_id = '{}' AND status = 'declined'",
            pair.b.id
        )),
        4
    );
}

async fn declining_the_other_sides_counter_is_no_decline_of_ones_own(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = pair(&app).await;
    let (a, b) = (&pair.a.owner.access, &pair.b.owner.access);
    // Twice a proposes, b answers with a counter-offer, and a declines that counter: it was
    // a who said no, so a owes b no pause.
    for _ in 0..2 {
        let id = open_between(&app, a, &pair.a.id, &pair.b.id).await;
        act(
            &app,
            b,
            &id,
            "counter",
            json!({"terms": exchange_terms(), "message": "Lieber so"}),
        )
        .await
        .expect(201);
        let declined = act(&app, a, &id, "decline", json!({"reason": "Zu teuer"})).await;
        declined.expect(200);
        assert_eq!(declined.body["status"], "declined");
    }
    open_between(&app, a, &pair.a.id, &pair.b.id).await;

    // When b declines a's latest revision (after a counter and a's answer), it counts.
    for _ in 0..2 {
        let id = open_between(&app, a, &pair.a.id, &pair.b.id).await;
        act(
            &app,
            b,
            &id,
            "counter",
            json!({"terms": exchange_terms(), "message": "So?"}),
        )
        .await
        .expect(201);
        act(
            &app,
            a,
            &id,
            "counter",
            json!({"terms": exchange_terms(), "message": "So!"}),
        )
        .await
        .expect(201);
        act(&app, b, &id, "decline", json!({})).await.expect(200);
    }
    let paused = propose(
        &app,
        a,
        &pair.a.id,
        &pair.b.id,
        "exchange",
        exchange_terms(),
    )
    .await;
    assert_rate_limited(&paused);
}
