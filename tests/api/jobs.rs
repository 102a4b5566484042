//! The periodic jobs: expired proposals are told to both parties exactly once, also when two
//! instances run the jobs at once; what has outlived its use is purged and nothing else;
//! a crashed runner's claim is taken over, a live one is respected.

use serde_json::{json, Value};

use crate::backends;
use crate::deals::{act, exchange_terms, pair, read_proposal, PROPOSALS};
use crate::helpers::{Backend, TestApp};
use crate::market::in_days;
use mutua::jobs::Job;

backends!(
    expired_proposals_are_told_to_both_parties_once,
    purges_remove_what_has_outlived_its_use_and_nothing_else,
    a_crashed_runners_claim_is_taken_over_and_a_live_one_is_respected,
);

fn events_of(app: &TestApp, org_id: &str, event_type: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) AS n FROM events WHERE org_id = '{org_id}' AND event_type = '{event_type}'"
    ))
}

fn ran(runs: &[mutua::jobs::Ran], job: Job) -> Option<Option<usize>> {
    runs.iter().find(|r| r.job == job).map(|r| r.count)
}

async fn expired_proposals_are_told_to_both_parties_once(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.proposal_limits.open_per_partner = 10).await;
    let sibling = app.spawn_sibling().await;
    let pair = pair(&app).await;
    let (a, b) = (&pair.a, &pair.b);
    let open_until = |expires: Option<String>| {
        let mut body = json!({
            "from_org_id": a.id, "to_org_id": b.id, "kind": "exchange",
            "message": "Ein Tausch für den Herbst?", "terms": exchange_terms(),
        });
        if let Some(at) = expires {
            body["expires_at"] = json!(at);
        }
        body
    };
    let mut expiring = Vec::new();
    for _ in 0..3 {
        let opened = app
            .post(
                PROPOSALS,
                Some(&a.owner.access),
                open_until(Some(in_days(2))),
            )
            .await;
        opened.expect(201);
        expiring.push(opened.str("id"));
    }
    let lasting = app
        .post(PROPOSALS, Some(&a.owner.access), open_until(None))
        .await;
    lasting.expect(201);
    let later = app
        .post(
            PROPOSALS,
            Some(&a.owner.access),
            open_until(Some(in_days(2))),
        )
        .await;
    later.expect(201);
    for id in &expiring {
        app.sql(&format!(
            "UPDATE proposals SET expires_at = '2000-01-01 00:00:00' WHERE id = '{id}'"
        ));
    }
    // It reads expired at once, before any job ran.
    let before: Vec<Value> = {
        let mut views = Vec::new();
        for id in &expiring {
            let view = read_proposal(&app, &b.owner.access, id).await;
            assert_eq!(view["status"], "expired");
            views.push(view);
        }
        views
    };
    assert_eq!(events_of(&app, &b.id, "proposal.expired"), 0);

    // Two instances run the job at the same moment: each expiry is told once per party.
    app.make_jobs_due();
    let (first, second) = tokio::join!(app.run_jobs("runner-a"), sibling.run_jobs("runner-b"));
    let told: usize = [&first, &second]
        .iter()
        .filter_map(|runs| ran(runs, Job::TellExpiredProposals).flatten())
        .sum();
    assert_eq!(told, 3, "{first:?} {second:?}");
    for org in [&a.id, &b.id] {
        assert_eq!(events_of(&app, org, "proposal.expired"), 3);
    }
    let feed = app
        .get(
            &format!("/api/v1/orgs/{}/events?types=proposal.expired", b.id),
            Some(&b.owner.access),
        )
        .await;
    feed.expect(200);
    let items = feed.body["items"].as_array().unwrap();
    for (id, view) in expiring.iter().zip(&before) {
        let event = items
            .iter()
            .find(|e| e["data"]["id"] == json!(id))
            .expect("an event for each expired proposal");
        // What the parties are told is what they read, before and after the job alike.
        assert_eq!(&event["data"], view);
        assert_eq!(&read_proposal(&app, &a.owner.access, id).await, view);
    }
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM proposals WHERE status = 'expired'"),
        3
    );
    // The others stay open, and the expired ones stay closed to every action.
    for other in [lasting.str("id"), later.str("id")] {
        assert_eq!(
            read_proposal(&app, &b.owner.access, &other).await["status"],
            "open"
        );
    }
    act(
        &app,
        &b.owner.access,
        &expiring[0],
        "accept",
        json!({"revision": 1}),
    )
    .await
    .expect_problem(409);

    // Run again: nothing left to tell.
    app.make_jobs_due();
    let again = app.run_jobs("runner-a").await;
    assert_eq!(ran(&again, Job::TellExpiredProposals), Some(Some(0)));
    assert_eq!(events_of(&app, &b.id, "proposal.expired"), 3);
}

async fn purges_remove_what_has_outlived_its_use_and_nothing_else(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let old = app.user("alt@hotel-alpenblick.example").await;
    let fresh = app.user("neu@hotel-alpenblick.example").await;
    let org = app.org(&fresh, "Hotel Alpenblick").await;
    // Old: the first user's refresh token expired long ago, its session too.
    app.sql(&format!(
        "UPDATE refresh_tokens SET expires_at = '2000-01-01 00:00:00' WHERE session_id IN \
         (SELECT id FROM sessions WHERE user_id = '{}')",
        old.id
    ));
    app.sql(&format!(
        "UPDATE sessions SET created_at = '2000-01-01 00:00:00' WHERE user_id = '{}'",
        old.id
    ));
    // A create with an idempotency key, aged past 24 hours, and a fresh one.
    let create = |name: &str| json!({"name": name, "industry": "hospitality"});
    let aged = app
        .call(
            "POST",
            "/api/v1/orgs",
            Some(&fresh.access),
            Some(create("Gasthof Alt")),
            &[("Idempotency-Key", "alt-1")],
        )
        .await;
    aged.expect(201);
    app.sql("UPDATE idempotency_records SET created_at = '2000-01-01 00:00:00'");
    let recent = app
        .call(
            "POST",
            "/api/v1/orgs",
            Some(&fresh.access),
            Some(create("Gasthof Neu")),
            &[("Idempotency-Key", "neu-1")],
        )
        .await;
    recent.expect(201);
    // Invitations: one expired unused long ago, one revoked long ago, one pending, one
    // accepted long ago (kept: the record of who joined through whom).
    let invite = |email: &str| {
        let (app, token, org) = (&app, fresh.access.clone(), org.clone());
        let email = email.to_owned();
        async move {
            let resp = app
                .post(
                    &format!("/api/v1/orgs/{org}/invitations"),
                    Some(&token),
                    json!({"email": email, "role": "member"}),
                )
                .await;
            resp.expect(201);
            resp.str("id")
        }
    };
    let expired = invite("weg@hotel-alpenblick.example").await;
    let revoked = invite("zurueck@hotel-alpenblick.example").await;
    let pending = invite("bald@hotel-alpenblick.example").await;
    app.sql(&format!(
        "UPDATE invitations SET expires_at = '2000-01-01 00:00:00' WHERE id = '{expired}'"
    ));
    app.sql(&format!(
        "UPDATE invitations SET revoked_at = '2000-01-01 00:00:00' WHERE id = '{revoked}'"
    ));
    crate::deals::join(&app, &org, &fresh, &old, "member").await;
    app.sql(
        "UPDATE invitations SET expires_at = '2000-01-01 00:00:00' WHERE accepted_at IS NOT NULL",
    );
    // The old user joined with its (still valid) access token: one session, token expired.
    let old_sessions = app.count(&format!(
        "SELECT COUNT(*) AS n FROM sessions WHERE user_id = '{}'",
        old.id
    ));
    assert_eq!(
        old_sessions, 1,
        "the old user's one session (its token expired)"
    );

    app.make_jobs_due();
    let runs = app.run_jobs("runner-a").await;
    for job in Job::ALL {
        assert!(ran(&runs, job).flatten().is_some(), "{job:?} ran: {runs:?}");
    }
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM sessions WHERE user_id = '{}'",
            old.id
        )),
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM refresh_tokens WHERE expires_at < '2001-01-01'"),
        0
    );
    // The fresh user still refreshes and reads.
    let refreshed = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": fresh.refresh}),
        )
        .await;
    refreshed.expect(200);
    app.get("/api/v1/me", Some(&fresh.access)).await.expect(200);
    // The old user's access token names a purged session: refused, like a revoked one.
    app.get("/api/v1/me", Some(&old.access))
        .await
        .expect_problem(401);
    // The aged key is gone (a retry now creates anew), the recent one still replays.
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM idempotency_records"),
        1
    );
    let replay = app
        .call(
            "POST",
            "/api/v1/orgs",
            Some(&fresh.access),
            Some(create("Gasthof Neu")),
            &[("Idempotency-Key", "neu-1")],
        )
        .await;
    replay.expect(201);
    assert_eq!(
        replay.header("idempotent-replayed").as_deref(),
        Some("true")
    );
    assert_eq!(replay.str("id"), recent.str("id"));
    let ids: Vec<String> = {
        let list = app
            .get(
                &format!("/api/v1/orgs/{org}/invitations"),
                Some(&fresh.access),
            )
            .await;
        list.expect(200);
        list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(ids.contains(&pending), "{ids:?}");
    assert!(
        !ids.contains(&expired) && !ids.contains(&revoked),
        "{ids:?}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM invitations WHERE accepted_at IS NOT NULL"),
        1
    );
}

async fn a_crashed_runners_claim_is_taken_over_and_a_live_one_is_respected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Registered at start-up, due at once.
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM jobs"),
        Job::ALL.len() as i64
    );
    let first = app.run_jobs("runner-a").await;
    assert_eq!(first.len(), Job::ALL.len(), "{first:?}");
    // Nothing is due right after a run.
    assert_eq!(app.run_jobs("runner-a").await, vec![]);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM jobs WHERE lease_until IS NULL AND claimed_by IS NULL AND last_run_at IS NOT NULL"),
        Job::ALL.len() as i64
    );

    // A runner died holding a claim whose lease has run out: the next runner takes it over.
    app.make_jobs_due();
    app.sql(
        "UPDATE jobs SET claimed_by = 'runner-dead', lease_until = '2000-01-01 00:10:00' \
         WHERE name = 'tell_expired_proposals'",
    );
    let taken = app.run_jobs("runner-b").await;
    assert_eq!(ran(&taken, Job::TellExpiredProposals), Some(Some(0)));

    // A live claim (its lease runs far ahead) is left alone; the other jobs still run.
    app.make_jobs_due();
    app.sql(
        "UPDATE jobs SET claimed_by = 'runner-busy', lease_until = '2999-01-01 00:00:00' \
         WHERE name = 'purge_sessions'",
    );
    let respected = app.run_jobs("runner-b").await;
    assert_eq!(ran(&respected, Job::PurgeSessions), None, "{respected:?}");
    assert_eq!(respected.len(), Job::ALL.len() - 1);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM jobs WHERE name = 'purge_sessions' AND claimed_by = 'runner-busy'"),
        1
    );
}
