//! Login throttling that cannot be used to lock an account's owner out: failures count per
//! account and client address (an attacker's guesses throttle only the attacker's address),
//! and per account with a far higher ceiling; unknown e-mail addresses behave the same.

use serde_json::json;

use crate::backends;
use crate::helpers::{Backend, Resp, TestApp, PASSWORD};

const LOGIN: &str = "/api/v1/auth/login";
const OWNER: &str = "127.0.0.1";
const ATTACKER: &str = "127.0.0.2";
const ELSEWHERE: &str = "127.0.0.3";

async fn login_from(app: &TestApp, source: &str, email: &str, password: &str) -> Resp {
    app.post_from(source, LOGIN, json!({"email": email, "password": password}))
        .await
}

fn sessions(app: &TestApp) -> usize {
    app.count("SELECT COUNT(*) AS n FROM sessions") as usize
}

backends!(
    an_attackers_failures_do_not_lock_the_owner_out,
    the_account_ceiling_stops_guessing_from_many_addresses,
    unknown_accounts_are_throttled_alike,
);

async fn an_attackers_failures_do_not_lock_the_owner_out(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.rate_limits.login_failures = 3;
        s.rate_limits.login_account_failures = 50;
    })
    .await;
    let email = "paul.richter@hotel-alpenblick.example";
    app.register(email).await.expect(201);
    for attempt in 1..=5 {
        let resp = login_from(&app, ATTACKER, email, &format!("Geraten-{attempt:04}")).await;
        if attempt <= 3 {
            resp.expect_problem(401);
        } else {
            resp.expect_problem(429);
            assert!(resp.header("retry-after").is_some());
        }
    }
    // The attacker's address stays throttled, even with the right password ...
    login_from(&app, ATTACKER, email, PASSWORD)
        .await
        .expect_problem(429);
    assert_eq!(sessions(&app), 0);
    // ... while the owner, from their own address, signs in.
    let owner = login_from(&app, OWNER, email, PASSWORD).await;
    owner.expect(200);
    assert_eq!(sessions(&app), 1);
}

async fn the_account_ceiling_stops_guessing_from_many_addresses(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.rate_limits.login_failures = 3;
        s.rate_limits.login_account_failures = 5;
    })
    .await;
    let email = "ida.lorenz@consulting-lorenz.example";
    app.register(email).await.expect(201);
    for (source, n) in [(ATTACKER, 3), (ELSEWHERE, 2)] {
        for attempt in 0..n {
            login_from(&app, source, email, &format!("Geraten-{source}-{attempt}"))
                .await
                .expect_problem(401);
        }
    }
    // Five failures in all: the account is throttled from every address, the owner's too.
    let owner = login_from(&app, OWNER, email, PASSWORD).await;
    owner.expect_problem(429);
    let retry: u64 = owner
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=24 * 3600).contains(&retry), "{retry}");
    assert_eq!(sessions(&app), 0);
    // Other accounts are not affected.
    app.register("greta.lorenz@consulting-lorenz.example")
        .await
        .expect(201);
    login_from(
        &app,
        OWNER,
        "greta.lorenz@consulting-lorenz.example",
        PASSWORD,
    )
    .await
    .expect(200);
}

async fn unknown_accounts_are_throttled_alike(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.rate_limits.login_failures = 2;
        s.rate_limits.login_account_failures = 50;
    })
    .await;
    let known = "tom.krause@weinhaus-krause.example";
    let unknown = "niemand@weinhaus-krause.example";
    app.register(known).await.expect(201);
    for attempt in 0..2 {
        let k = login_from(&app, ATTACKER, known, &format!("Geraten-{attempt}")).await;
        let u = login_from(&app, ATTACKER, unknown, &format!("Geraten-{attempt}")).await;
        k.expect_problem(401);
        u.expect_problem(401);
        assert_eq!(k.answer(), u.answer());
    }
    let k = login_from(&app, ATTACKER, known, "Geraten-x").await;
    let u = login_from(&app, ATTACKER, unknown, "Geraten-x").await;
    k.expect_problem(429);
    u.expect_problem(429);
    assert_eq!(
        k.answer(),
        u.answer(),
        "throttling must not reveal whether the account exists"
    );
    // From another address the known account still signs in.
    login_from(&app, OWNER, known, PASSWORD).await.expect(200);
}
