//! Races on proposals and agreements, on one instance and on two instances sharing the
//! database (as behind a load balancer): two accepts, accept against withdraw, accept
//! against counter, two counters, two completions. Exactly one side of each race wins and
//! the stored state — agreements, revisions, log leaves — is what the winner said.

use serde_json::{json, Value};

use crate::backends;
use crate::deals::{
    act, exchange_terms, open_between, pair, propose, read_agreement, read_proposal, Pair,
};
use crate::helpers::{Backend, Resp, TestApp};

backends!(
    two_accepts_race,
    accept_races_withdraw,
    accept_races_decline,
    accept_races_counter,
    two_counters_race,
    two_completions_race,
    accepts_of_different_proposals_append_one_log,
    racing_creates_keep_the_open_limit,
    racing_endorsements_by_one_side_store_one,
    racing_blocks_store_one,
);

/// Rounds per race: half on one instance, half across two.
const ROUNDS: usize = 6;

struct Race {
    app: TestApp,
    sibling: TestApp,
    pair: Pair,
    /// A `write` key of each side, so each side has two distinct callers.
    a_key: String,
    b_key: String,
}

async fn race(backend: Backend) -> Race {
    let app = TestApp::spawn_with(backend, |s| {
        s.proposal_limits.open_per_partner = 1000;
        s.proposal_limits.declines_before_cooldown = 0;
    })
    .await;
    let sibling = app.spawn_sibling().await;
    let pair = pair(&app).await;
    let a_key = app
        .api_key(&pair.a.id, &pair.a.owner, &["read", "write"])
        .await;
    let b_key = app
        .api_key(&pair.b.id, &pair.b.owner, &["read", "write"])
        .await;
    Race {
        app,
        sibling,
        pair,
        a_key,
        b_key,
    }
}

impl Race {
    /// The two instances of round `round`: the same one, or both.
    fn instances(&self, round: usize) -> (&TestApp, &TestApp) {
        if round.is_multiple_of(2) {
            (&self.app, &self.app)
        } else {
            (&self.app, &self.sibling)
        }
    }

    async fn open(&self) -> String {
        open_between(
            &self.app,
            &self.pair.a.owner.access,
            &self.pair.a.id,
            &self.pair.b.id,
        )
        .await
    }

    fn count(&self, query: &str) -> i64 {
        self.app.count(query)
    }

    fn agreements_of(&self, proposal: &str) -> i64 {
        self.count(&format!(
            "SELECT COUNT(*) AS n FROM agreements WHERE proposal_id = '{proposal}'"
        ))
    }

    fn leaves_of_proposal(&self, proposal: &str) -> i64 {
        self.count(&format!(
            "SELECT COUNT(*) AS n FROM log_leaves WHERE agreement_id IN (SELECT id FROM agreements WHERE proposal_id = '{proposal}')"
        ))
    }

    fn leaves(&self, agreement: &str, event: &str) -> i64 {
        self.count(&format!(
            "SELECT COUNT(*) AS n FROM log_leaves WHERE agreement_id = '{agreement}' AND event = '{event}'"
        ))
    }

    fn revisions(&self, proposal: &str) -> i64 {
        self.count(&format!(
            "SELECT COUNT(*) AS n FROM proposal_revisions WHERE proposal_id = '{proposal}'"
        ))
    }

    /// The log is one consecutive sequence of leaves from 0, whatever raced.
    fn assert_log_consistent(&self) {
        let leaves = self.count("SELECT COUNT(*) AS n FROM log_leaves");
        let top = self.count("SELECT COALESCE(MAX(leaf_index) + 1, 0) AS n FROM log_leaves");
        assert_eq!(leaves, top, "leaf indexes have no gaps");
        let size = self.count("SELECT size AS n FROM log_state");
        assert_eq!(size, leaves, "the log's size is its number of leaves");
    }
}

/// Exactly one of two responses has `won` and the other is a 409 problem; the winner first.
#[track_caller]
fn one_wins<'r>(first: &'r Resp, second: &'r Resp, won: u16) -> (&'r Resp, &'r Resp) {
    let pair = match (first.status, second.status) {
        (w, 409) if w == won => (first, second),
        (409, w) if w == won => (second, first),
        _ => panic!(
            "expected one {won} and one 409, got {} ({}) and {} ({})",
            first.status, first.text, second.status, second.text
        ),
    };
    pair.1.expect_problem(409);
    pair
}

fn counter_body(message: &str) -> Value {
    json!({"terms": exchange_terms(), "message": message})
}

async fn two_accepts_race(backend: Backend) {
    let race = race(backend).await;
    let b = &race.pair.b.owner.access;
    for round in 0..ROUNDS {
        let (x, y) = race.instances(round);
        let id = race.open().await;
        let accept = json!({"revision": 1});
        let (r1, r2) = tokio::join!(
            act(x, b, &id, "accept", accept.clone()),
            act(y, &race.b_key, &id, "accept", accept.clone()),
        );
        let (winner, loser) = one_wins(&r1, &r2, 200);
        assert!(
            loser.str("detail").contains("accepted") || loser.str("detail").contains("changed"),
            "{}",
            loser.text
        );
        let agreement = winner.str("agreement_id");
        let stored = read_proposal(&race.app, b, &id).await;
        assert_eq!(stored["status"], "accepted");
        assert_eq!(stored["agreement_id"], agreement.as_str());
        assert_eq!(race.agreements_of(&id), 1, "round {round}: one agreement");
        assert_eq!(race.leaves(&agreement, "agreement.accepted"), 1);
        assert_eq!(race.leaves_of_proposal(&id), 1);
        assert_eq!(
            race.count(&format!(
                "SELECT COUNT(*) AS n FROM agreement_items WHERE agreement_id = '{agreement}'"
            )),
            2
        );
        assert_eq!(
            read_agreement(&race.app, Some(b), &agreement).await["status"],
            "active"
        );
    }
    race.assert_log_consistent();
}

async fn accept_races_withdraw(backend: Backend) {
    let race = race(backend).await;
    let (a, b) = (&race.pair.a.owner.access, &race.pair.b.owner.access);
    let mut outcomes = Vec::new();
    for round in 0..ROUNDS {
        let (x, y) = race.instances(round);
        let id = race.open().await;
        let (accepted, withdrawn) = tokio::join!(
            act(x, b, &id, "accept", json!({"revision": 1})),
            act(y, a, &id, "withdraw", json!({"reason": "Doch nicht"})),
        );
        let (winner, _) = one_wins(&accepted, &withdrawn, 200);
        let status = winner.str("status");
        let stored = read_proposal(&race.app, a, &id).await;
        assert_eq!(stored["status"], status.as_str(), "round {round}");
        match status.as_str() {
            "accepted" => {
                assert!(stored["agreement_id"].is_string());
                assert!(stored.get("reason").is_none(), "{stored}");
                assert_eq!(race.agreements_of(&id), 1);
                assert_eq!(race.leaves_of_proposal(&id), 1);
            }
            "withdrawn" => {
                assert_eq!(stored["agreement_id"], Value::Null);
                assert_eq!(stored["reason"], "Doch nicht");
                assert_eq!(race.agreements_of(&id), 0);
                assert_eq!(race.leaves_of_proposal(&id), 0);
            }
            other => panic!("unexpected status {other}"),
        }
        outcomes.push(status);
    }
    race.assert_log_consistent();
    eprintln!("accept vs withdraw winners: {outcomes:?}");
}

async fn accept_races_decline(backend: Backend) {
    let race = race(backend).await;
    let b = &race.pair.b.owner.access;
    for round in 0..ROUNDS {
        let (x, y) = race.instances(round);
        let id = race.open().await;
        // The same side says yes and no at once (two colleagues): one answer stands.
        let (accepted, declined) = tokio::join!(
            act(x, b, &id, "accept", json!({"revision": 1})),
            act(
                y,
                &race.b_key,
                &id,
                "decline",
                json!({"reason": "Nein danke"})
            ),
        );
        let (winner, _) = one_wins(&accepted, &declined, 200);
        let status = winner.str("status");
        let stored = read_proposal(&race.app, b, &id).await;
        assert_eq!(stored["status"], status.as_str(), "round {round}");
        let agreements = i64::from(status == "accepted");
        assert_eq!(race.agreements_of(&id), agreements);
        assert_eq!(race.leaves_of_proposal(&id), agreements);
    }
    race.assert_log_consistent();
}

async fn accept_races_counter(backend: Backend) {
    let race = race(backend).await;
    let b = &race.pair.b.owner.access;
    for round in 0..ROUNDS {
        let (x, y) = race.instances(round);
        let id = race.open().await;
        let (accepted, countered) = tokio::join!(
            act(x, b, &id, "accept", json!({"revision": 1})),
            act(y, &race.b_key, &id, "counter", counter_body("Lieber so")),
        );
        let stored = read_proposal(&race.app, b, &id).await;
        match (accepted.status, countered.status) {
            (200, 409) => {
                countered.expect_problem(409);
                assert_eq!(stored["status"], "accepted");
                assert_eq!(stored["latest_revision"], 1);
                assert_eq!(race.revisions(&id), 1);
                assert_eq!(race.agreements_of(&id), 1);
            }
            (409, 201) => {
                accepted.expect_problem(409);
                assert_eq!(stored["status"], "open");
                assert_eq!(stored["latest_revision"], 2);
                assert_eq!(race.revisions(&id), 2);
                assert_eq!(race.agreements_of(&id), 0);
                assert_eq!(race.leaves_of_proposal(&id), 0);
            }
            _ => panic!(
                "round {round}: expected exactly one winner, got {} ({}) and {} ({})",
                accepted.status, accepted.text, countered.status, countered.text
            ),
        }
    }
    race.assert_log_consistent();
}

async fn two_counters_race(backend: Backend) {
    let race = race(backend).await;
    let b = &race.pair.b.owner.access;
    for round in 0..ROUNDS {
        let (x, y) = race.instances(round);
        let id = race.open().await;
        let (r1, r2) = tokio::join!(
            act(x, b, &id, "counter", counter_body("eins")),
            act(y, &race.b_key, &id, "counter", counter_body("zwei")),
        );
        let (winner, _) = one_wins(&r1, &r2, 201);
        let message = winner.body["revisions"][1]["message"].clone();
        assert_eq!(race.revisions(&id), 2, "round {round}: one revision 2 only");
        let stored = read_proposal(&race.app, b, &id).await;
        assert_eq!(stored["latest_revision"], 2);
        assert_eq!(stored["revisions"].as_array().unwrap().len(), 2);
        assert_eq!(stored["revisions"][1]["message"], message);
        assert_eq!(stored["awaiting_org_id"], race.pair.a.id.as_str());
    }
    // The side that answered cannot race itself into revision 3 either: a answers once.
    let id = race.open().await;
    act(&race.app, b, &id, "counter", counter_body("zwei"))
        .await
        .expect(201);
    let a = &race.pair.a.owner.access;
    let (r1, r2) = tokio::join!(
        act(&race.app, a, &id, "counter", counter_body("drei")),
        act(
            &race.sibling,
            &race.a_key,
            &id,
            "counter",
            counter_body("drei")
        ),
    );
    one_wins(&r1, &r2, 201);
    assert_eq!(race.revisions(&id), 3);
}

async fn two_completions_race(backend: Backend) {
    let race = race(backend).await;
    let (a, b) = (&race.pair.a.owner.access, &race.pair.b.owner.access);
    for round in 0..ROUNDS {
        let (x, y) = race.instances(round);
        let id = race.open().await;
        let agreement = act(&race.app, b, &id, "accept", json!({"revision": 1}))
            .await
            .str("agreement_id");
        let path = format!("/api/v1/agreements/{agreement}/complete");
        let (r1, r2) = tokio::join!(
            x.post(&path, Some(a), json!({})),
            y.post(&path, Some(b), json!({}))
        );
        r1.expect(200);
        r2.expect(200);
        let completed = [&r1, &r2]
            .iter()
            .filter(|r| r.body["status"] == "completed")
            .count();
        assert_eq!(
            completed, 1,
            "round {round}: the later confirmation completes it"
        );
        let stored = read_agreement(&race.app, None, &agreement).await;
        assert_eq!(stored["status"], "completed");
        assert!(stored["from_confirmed_at"].is_string());
        assert!(stored["to_confirmed_at"].is_string());
        assert!(stored["completed_at"].is_string());
        assert_eq!(race.leaves(&agreement, "agreement.completed"), 1);
        assert_eq!(race.leaves(&agreement, "agreement.accepted"), 1);
    }
    // One side twice at once: one confirmation, no completion.
    let id = race.open().await;
    let agreement = act(&race.app, b, &id, "accept", json!({"revision": 1}))
        .await
        .str("agreement_id");
    let path = format!("/api/v1/agreements/{agreement}/complete");
    let (r1, r2) = tokio::join!(
        race.app.post(&path, Some(a), json!({})),
        race.sibling.post(&path, Some(&race.a_key), json!({})),
    );
    one_wins(&r1, &r2, 200);
    let stored = read_agreement(&race.app, None, &agreement).await;
    assert_eq!(stored["status"], "active");
    assert_eq!(race.leaves(&agreement, "agreement.completed"), 0);
    // Completing racing cancelling: exactly one wins.
    let id = race.open().await;
    let agreement = act(&race.app, b, &id, "accept", json!({"revision": 1}))
        .await
        .str("agreement_id");
    let (complete, cancel) = (
        format!("/api/v1/agreements/{agreement}/complete"),
        format!("/api/v1/agreements/{agreement}/cancel"),
    );
    race.app
        .post(&complete, Some(a), json!({}))
        .await
        .expect(200);
    let (done, cancelled) = tokio::join!(
        race.app.post(&complete, Some(b), json!({})),
        race.sibling
            .post(&cancel, Some(&race.a_key), json!({"reason": "Abgesagt"})),
    );
    let (winner, _) = one_wins(&done, &cancelled, 200);
    let status = winner.str("status");
    assert_eq!(
        read_agreement(&race.app, None, &agreement).await["status"],
        status.as_str()
    );
    assert_eq!(
        race.leaves(&agreement, "agreement.completed")
            + race.leaves(&agreement, "agreement.cancelled"),
        1
    );
    race.assert_log_consistent();
}

async fn racing_creates_keep_the_open_limit(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.proposal_limits.open_per_partner = 2).await;
    let sibling = app.spawn_sibling().await;
    let pair = pair(&app).await;
    let a_key = app
        .api_key(&pair.a.id, &pair.a.owner, &["read", "write"])
        .await;
    let a = &pair.a.owner.access;
    let (from, to) = (&pair.a.id, &pair.b.id);
    // Four at once on the instance configured with a limit of 2 (the sibling keeps the
    // default of 3, see below).
    let (r1, r2, r3, r4) = tokio::join!(
        propose(&app, a, from, to, "exchange", exchange_terms()),
        propose(&app, &a_key, from, to, "exchange", exchange_terms()),
        propose(&app, a, from, to, "exchange", exchange_terms()),
        propose(&app, &a_key, from, to, "exchange", exchange_terms()),
    );
    let statuses: Vec<u16> = [&r1, &r2, &r3, &r4].iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        2,
        "exactly the limit is created: {statuses:?}"
    );
    for r in [&r1, &r2, &r3, &r4] {
        if r.status != 201 {
            r.expect_problem(429);
        }
    }
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM proposals WHERE from_org_id = '{from}' AND status = 'open'"
        )),
        2
    );
    // Across instances (the sibling allows 3): three at once make three, never four.
    let (s1, s2, s3) = tokio::join!(
        propose(&sibling, a, to, from, "exchange", exchange_terms()),
        propose(
            &sibling,
            &pair.b.owner.access,
            to,
            from,
            "exchange",
            exchange_terms()
        ),
        propose(
            &sibling,
            &pair.b.owner.access,
            to,
            from,
            "exchange",
            exchange_terms()
        ),
    );
    // a's owner is not a member of b: 403; the other two are created.
    s1.expect_problem(403);
    s2.expect(201);
    s3.expect(201);
    let (t1, t2) = tokio::join!(
        propose(
            &sibling,
            &pair.b.owner.access,
            to,
            from,
            "exchange",
            exchange_terms()
        ),
        propose(
            &sibling,
            &pair.b.owner.access,
            to,
            from,
            "exchange",
            exchange_terms()
        ),
    );
    let created = [&t1, &t2].iter().filter(|r| r.status == 201).count();
    assert_eq!(created, 1, "{} / {}", t1.text, t2.text);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM proposals WHERE from_org_id = '{to}'"
        )),
        3
    );
}

async fn racing_endorsements_by_one_side_store_one(backend: Backend) {
    let race = race(backend).await;
    let (a, b) = (&race.pair.a.owner.access, &race.pair.b.owner.access);
    for round in 0..ROUNDS {
        let (x, y) = race.instances(round);
        let id = race.open().await;
        let agreement = act(&race.app, b, &id, "accept", json!({"revision": 1}))
            .await
            .str("agreement_id");
        let complete = format!("/api/v1/agreements/{agreement}/complete");
        race.app
            .post(&complete, Some(a), json!({}))
            .await
            .expect(200);
        race.app
            .post(&complete, Some(b), json!({}))
            .await
            .expect(200);
        let path = format!("/api/v1/agreements/{agreement}/endorsements");
        let (r1, r2) = tokio::join!(
            x.post(&path, Some(a), json!({"text": "Danke sehr!"})),
            y.post(&path, Some(&race.a_key), json!({"text": "Vielen Dank!"})),
        );
        one_wins(&r1, &r2, 201);
        assert_eq!(
            race.count(&format!(
                "SELECT COUNT(*) AS n FROM endorsements WHERE agreement_id = '{agreement}'"
            )),
            1,
            "round {round}"
        );
    }
}

async fn racing_blocks_store_one(backend: Backend) {
    let race = race(backend).await;
    let b = &race.pair.b.owner.access;
    let path = format!("/api/v1/orgs/{}/blocks", race.pair.b.id);
    for round in 0..ROUNDS {
        let (x, y) = race.instances(round);
        let (r1, r2) = tokio::join!(
            x.post(&path, Some(b), json!({"org_id": race.pair.a.id})),
            y.post(&path, Some(&race.b_key), json!({"org_id": race.pair.a.id})),
        );
        // Blocking twice answers the existing block, also when the two arrive at once.
        let mut statuses = [r1.status, r2.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [200, 201],
            "round {round}: {} / {}",
            r1.text,
            r2.text
        );
        assert_eq!(r1.body["created_at"], r2.body["created_at"]);
        assert_eq!(race.count("SELECT COUNT(*) AS n FROM org_blocks"), 1);
        x.delete(&format!("{path}/{}", race.pair.a.id), Some(b))
            .await
            .expect(204);
    }
}

async fn accepts_of_different_proposals_append_one_log(backend: Backend) {
    let race = race(backend).await;
    let b = &race.pair.b.owner.access;
    let mut proposals = Vec::new();
    for _ in 0..6 {
        proposals.push(race.open().await);
    }
    let body = || json!({"revision": 1});
    let (r0, r1, r2, r3, r4, r5) = tokio::join!(
        act(&race.app, b, &proposals[0], "accept", body()),
        act(&race.sibling, &race.b_key, &proposals[1], "accept", body()),
        act(&race.app, &race.b_key, &proposals[2], "accept", body()),
        act(&race.sibling, b, &proposals[3], "accept", body()),
        act(&race.app, b, &proposals[4], "accept", body()),
        act(&race.sibling, &race.b_key, &proposals[5], "accept", body()),
    );
    let mut agreements = Vec::new();
    for r in [r0, r1, r2, r3, r4, r5] {
        r.expect(200);
        agreements.push(r.str("agreement_id"));
    }
    let mut indexes = Vec::new();
    for agreement in &agreements {
        let stored = read_agreement(&race.app, None, agreement).await;
        let entries = stored["log_entries"].as_array().unwrap();
        assert_eq!(entries.len(), 1, "{stored}");
        indexes.push(entries[0]["leaf_index"].as_i64().unwrap());
    }
    indexes.sort();
    assert_eq!(indexes, [0, 1, 2, 3, 4, 5], "one leaf each, no index twice");
    race.assert_log_consistent();
}
