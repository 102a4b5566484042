//! Accounts and sessions: registration, login, throttling, access tokens, refresh-token
//! rotation, logout, suspension and platform roles.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, RunQueryDsl};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::backends;
use crate::helpers::{error_fields, Backend, Resp, TestApp, TestUser, JWT_SECRET, PASSWORD};

const REGISTER: &str = "/api/v1/auth/register";
const LOGIN: &str = "/api/v1/auth/login";
const REFRESH: &str = "/api/v1/auth/refresh";
const LOGOUT: &str = "/api/v1/auth/logout";
const ME: &str = "/api/v1/me";

// ---------------------------------------------------------------------------------------
// Helpers local to this file
// ---------------------------------------------------------------------------------------

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct TextValue {
    #[diesel(sql_type = Text)]
    v: String,
}

/// Runs `SELECT COUNT(*) AS n ...` directly against the test database.
fn count(app: &TestApp, query: &str) -> i64 {
    let mut conn = app.pool.get().expect("connection");
    diesel::sql_query(query)
        .get_result::<Count>(&mut *conn)
        .expect("count query runs")
        .n
}

/// Runs `SELECT <text> AS v ...` directly against the test database.
fn texts(app: &TestApp, query: &str) -> Vec<String> {
    let mut conn = app.pool.get().expect("connection");
    diesel::sql_query(query)
        .load::<TextValue>(&mut *conn)
        .expect("text query runs")
        .into_iter()
        .map(|row| row.v)
        .collect()
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The decoded payload (claims) of a JWT, without checking anything.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("JWT has a payload part");
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .expect("payload is base64url");
    serde_json::from_slice(&bytes).expect("payload is JSON")
}

/// Signs arbitrary claims with HS256 and the given secret.
fn sign(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("token signs")
}

/// Claims the server would accept for this user's current session.
fn valid_claims(user: &TestUser) -> Value {
    let real = claims_of(&user.access);
    let now = unix_now();
    json!({
        "sub": user.id,
        "sid": real["sid"],
        "iss": "mutua",
        "aud": "mutua-api",
        "iat": now,
        "exp": now + 600,
    })
}

/// Asserts a 401 problem that asks for a bearer token.
#[track_caller]
fn expect_unauthorized(resp: &Resp) {
    resp.expect_problem(401);
    assert_eq!(
        resp.header("www-authenticate").as_deref(),
        Some("Bearer"),
        "401 must carry WWW-Authenticate: Bearer"
    );
}

/// Asserts a 429 problem with a `Retry-After` of a positive whole number of seconds, at
/// most `max_secs`; returns it.
#[track_caller]
fn expect_throttled(resp: &Resp, max_secs: u64) -> u64 {
    resp.expect_problem(429);
    let retry_after = resp
        .header("retry-after")
        .unwrap_or_else(|| panic!("429 without Retry-After; body: {}", resp.text));
    let secs: u64 = retry_after
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After is not an integer: {retry_after:?}"));
    assert!(
        (1..=max_secs).contains(&secs),
        "Retry-After {secs} outside 1..={max_secs}"
    );
    assert!(
        resp.body.get("access_token").is_none(),
        "a throttled login must not hand out tokens"
    );
    secs
}

async fn login_with(app: &TestApp, email: &str, password: &str) -> Resp {
    app.post(LOGIN, None, json!({"email": email, "password": password}))
        .await
}

async fn refresh_with(app: &TestApp, refresh_token: &str) -> Resp {
    app.post(REFRESH, None, json!({"refresh_token": refresh_token}))
        .await
}

async fn logout(app: &TestApp, access: &str) -> Resp {
    app.call("POST", LOGOUT, Some(access), None, &[]).await
}

fn user_count(app: &TestApp) -> i64 {
    count(app, "SELECT COUNT(*) AS n FROM users")
}

// ---------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------

async fn register_creates_active_user_with_normalised_email(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let resp = app
        .post(
            REGISTER,
            None,
            json!({
                "email": "  Sophie.Wagner@Hotel-Alpenblick.Example ",
                "password": PASSWORD,
                "display_name": "Sophie Wagner",
            }),
        )
        .await;
    resp.expect(201);
    let id = resp.str("id");
    uuid::Uuid::parse_str(&id).expect("id is a UUID");
    assert_eq!(
        resp.body["email"],
        json!("sophie.wagner@hotel-alpenblick.example")
    );
    assert_eq!(resp.body["display_name"], json!("Sophie Wagner"));
    assert_eq!(resp.body["platform_role"], json!("user"));
    assert_eq!(resp.body["status"], json!("active"));
    assert!(
        resp.body.get("password_hash").is_none() && resp.body.get("password").is_none(),
        "no password material in the response: {}",
        resp.text
    );

    // Stored: one row, normalised e-mail, an Argon2id hash rather than the password.
    assert_eq!(user_count(&app), 1);
    assert_eq!(
        texts(
            &app,
            &format!("SELECT email AS v FROM users WHERE id = '{id}'")
        ),
        vec!["sophie.wagner@hotel-alpenblick.example".to_owned()]
    );
    let hash = texts(
        &app,
        &format!("SELECT password_hash AS v FROM users WHERE id = '{id}'"),
    );
    assert!(
        hash[0].starts_with("$argon2id$"),
        "stored hash: {}",
        hash[0]
    );
    assert!(!hash[0].contains(PASSWORD));

    // The normalised address signs in.
    app.login("sophie.wagner@hotel-alpenblick.example")
        .await
        .expect(200);
}

async fn register_duplicate_email_case_insensitive_conflicts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("lukas.brandt@gasthof-sonnenhof.example")
        .await
        .expect(201);
    let resp = app
        .post(
            REGISTER,
            None,
            json!({
                "email": " Lukas.Brandt@GASTHOF-SONNENHOF.example",
                "password": "Ein-anderes-Passwort-42",
                "display_name": "Lukas Brandt (zweites Konto)",
            }),
        )
        .await;
    resp.expect_problem(409);
    assert_eq!(user_count(&app), 1);
    assert_eq!(
        texts(&app, "SELECT display_name AS v FROM users"),
        vec!["lukas.brandt".to_owned()],
        "the first account is untouched"
    );
    // The original password still works; the second one never became valid.
    app.login("lukas.brandt@gasthof-sonnenhof.example")
        .await
        .expect(200);
    login_with(
        &app,
        "lukas.brandt@gasthof-sonnenhof.example",
        "Ein-anderes-Passwort-42",
    )
    .await
    .expect(401);
}

async fn register_invalid_fields_are_all_reported(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let resp = app
        .post(
            REGISTER,
            None,
            json!({
                "email": "mara.keller-at-keller-partner.example",
                "password": "Kurz-pw-123", // 11 characters
                "display_name": "",
            }),
        )
        .await;
    resp.expect_problem(422);
    let mut fields = error_fields(&resp);
    fields.sort();
    assert_eq!(fields, vec!["display_name", "email", "password"]);
    assert_eq!(user_count(&app), 0);
}

async fn register_password_length_bounds(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    async fn attempt(app: &TestApp, email: &str, password: String) -> Resp {
        app.post(
            REGISTER,
            None,
            json!({"email": email, "password": password, "display_name": "Jonas Vogel"}),
        )
        .await
    }

    let short = attempt(&app, "jonas.kurz@beratung-vogel.example", "x".repeat(11)).await;
    short.expect_problem(422);
    assert_eq!(error_fields(&short), vec!["password"]);

    let long = attempt(&app, "jonas.lang@beratung-vogel.example", "y".repeat(129)).await;
    long.expect_problem(422);
    assert_eq!(error_fields(&long), vec!["password"]);

    // Multi-byte characters count as characters, not bytes: 128 umlauts are accepted.
    attempt(&app, "jonas.min@beratung-vogel.example", "z".repeat(12))
        .await
        .expect(201);
    attempt(&app, "jonas.max@beratung-vogel.example", "ä".repeat(128))
        .await
        .expect(201);

    let mut stored = texts(&app, "SELECT email AS v FROM users");
    stored.sort();
    assert_eq!(
        stored,
        vec![
            "jonas.max@beratung-vogel.example".to_owned(),
            "jonas.min@beratung-vogel.example".to_owned(),
        ]
    );
}

async fn register_rejects_malformed_bodies(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let missing = app
        .post(
            REGISTER,
            None,
            json!({"email": "clara.hofmann@seehotel.example", "display_name": "Clara Hofmann"}),
        )
        .await;
    missing.expect_problem(422);
    assert!(
        error_fields(&missing).contains(&"password".to_owned()),
        "the missing field is named: {}",
        missing.text
    );

    let wrong_type = app
        .post(
            REGISTER,
            None,
            json!({
                "email": "clara.hofmann@seehotel.example",
                "password": 123_456_789_012_345_u64,
                "display_name": "Clara Hofmann",
            }),
        )
        .await;
    wrong_type.expect_problem(422);
    assert!(!error_fields(&wrong_type).is_empty());

    let malformed = app
        .raw(
            "POST",
            REGISTER,
            None,
            "application/json",
            r#"{"email": "clara.hofmann@seehotel.example", "password": "#,
        )
        .await;
    malformed.expect_problem(400);

    let not_json = app
        .raw(
            "POST",
            REGISTER,
            None,
            "text/plain",
            json!({
                "email": "clara.hofmann@seehotel.example",
                "password": PASSWORD,
                "display_name": "Clara Hofmann",
            })
            .to_string(),
        )
        .await;
    not_json.expect_problem(415);

    assert_eq!(
        user_count(&app),
        0,
        "no request above may create an account"
    );
}

// ---------------------------------------------------------------------------------------
// Login
// ---------------------------------------------------------------------------------------

async fn login_returns_token_pair(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let registered = app.register("anna.berger@kundenwerk.example").await;
    registered.expect(201);
    let resp = app.login("anna.berger@kundenwerk.example").await;
    resp.expect(200);
    assert_eq!(resp.body["token_type"], json!("Bearer"));
    assert_eq!(resp.body["expires_in"], json!(900));
    let access = resp.str("access_token");
    let refresh = resp.str("refresh_token");
    assert_ne!(access, refresh);

    let claims = claims_of(&access);
    assert_eq!(claims["sub"], json!(registered.str("id")));
    assert_eq!(claims["iss"], json!("mutua"));
    assert_eq!(claims["aud"], json!("mutua-api"));
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 900);

    // One session with one live refresh token, stored only as a hash.
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM sessions"), 1);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM refresh_tokens"), 1);
    assert_eq!(
        count(
            &app,
            &format!("SELECT COUNT(*) AS n FROM refresh_tokens WHERE token_hash = '{refresh}'")
        ),
        0,
        "refresh tokens are not stored in clear"
    );

    app.get(ME, Some(&access)).await.expect(200);
}

async fn login_unknown_email_and_wrong_password_answer_alike(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("felix.neumann@tagungshotel-linde.example")
        .await
        .expect(201);
    let wrong_password = login_with(
        &app,
        "felix.neumann@tagungshotel-linde.example",
        "Falsches-Passwort-2026",
    )
    .await;
    let unknown_email = login_with(
        &app,
        "niemand@tagungshotel-linde.example",
        "Falsches-Passwort-2026",
    )
    .await;
    expect_unauthorized(&wrong_password);
    expect_unauthorized(&unknown_email);
    assert_eq!(wrong_password.status, unknown_email.status);
    assert_eq!(
        wrong_password.answer(),
        unknown_email.answer(),
        "the bodies must not reveal whether the account exists"
    );
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM sessions"), 0);
}

async fn login_email_is_case_insensitive(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let registered = app.register("lena.schulz@eventagentur-nord.example").await;
    registered.expect(201);
    let resp = login_with(&app, "  LENA.Schulz@EventAgentur-Nord.EXAMPLE ", PASSWORD).await;
    resp.expect(200);
    assert_eq!(
        claims_of(&resp.str("access_token"))["sub"],
        json!(registered.str("id"))
    );
}

// ---------------------------------------------------------------------------------------
// Throttling
// ---------------------------------------------------------------------------------------

async fn login_throttled_after_consecutive_failures(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.rate_limits.login_failures = 3;
    })
    .await;
    let email = "paul.richter@hotel-alpenblick.example";
    app.register(email).await.expect(201);
    for attempt in 1..=3 {
        let resp = login_with(&app, email, &format!("Falsch-geraten-{attempt:04}")).await;
        expect_unauthorized(&resp);
    }
    let blocked = app.login(email).await; // the right password
    expect_throttled(&blocked, 15 * 60);
    assert_eq!(
        count(&app, "SELECT COUNT(*) AS n FROM sessions"),
        0,
        "no session was started"
    );

    // Another account is not affected.
    app.register("greta.richter@hotel-alpenblick.example")
        .await
        .expect(201);
    app.login("greta.richter@hotel-alpenblick.example")
        .await
        .expect(200);
}

async fn login_throttling_same_for_unknown_email(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.rate_limits.login_failures = 3;
    })
    .await;
    let known = "paul.richter@hotel-alpenblick.example";
    let unknown = "gibt.es.nicht@hotel-alpenblick.example";
    app.register(known).await.expect(201);

    let mut known_fail = Vec::new();
    let mut unknown_fail = Vec::new();
    for attempt in 1..=3 {
        let pw = format!("Falsch-geraten-{attempt:04}");
        known_fail.push(login_with(&app, known, &pw).await);
        unknown_fail.push(login_with(&app, unknown, &pw).await);
    }
    for (k, u) in known_fail.iter().zip(&unknown_fail) {
        expect_unauthorized(k);
        expect_unauthorized(u);
        assert_eq!(k.answer(), u.answer());
    }
    let known_blocked = app.login(known).await;
    let unknown_blocked = login_with(&app, unknown, PASSWORD).await;
    expect_throttled(&known_blocked, 15 * 60);
    expect_throttled(&unknown_blocked, 15 * 60);
    assert_eq!(
        known_blocked.answer(),
        unknown_blocked.answer(),
        "throttling must not reveal whether the account exists"
    );
}

async fn login_success_resets_failure_count(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.rate_limits.login_failures = 3;
    })
    .await;
    let email = "ida.lorenz@consulting-lorenz.example";
    app.register(email).await.expect(201);
    for pw in ["Vertippt-Montag-01", "Vertippt-Montag-02"] {
        expect_unauthorized(&login_with(&app, email, pw).await);
    }
    app.login(email).await.expect(200);
    for pw in ["Vertippt-Dienstag-01", "Vertippt-Dienstag-02"] {
        let resp = login_with(&app, email, pw).await;
        expect_unauthorized(&resp);
    }
    // Only two failures since the success: still allowed.
    app.login(email).await.expect(200);
}

async fn login_throttled_per_client_address(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.rate_limits.login_per_address_per_minute = 2;
    })
    .await;
    app.register("tom.krause@weinhaus-krause.example")
        .await
        .expect(201);
    app.register("eva.krause@weinhaus-krause.example")
        .await
        .expect(201);
    app.login("tom.krause@weinhaus-krause.example")
        .await
        .expect(200);
    expect_unauthorized(
        &login_with(
            &app,
            "eva.krause@weinhaus-krause.example",
            "Nicht-das-Richtige",
        )
        .await,
    );
    // Third attempt from this address within the minute, another account, right password.
    let third = app.login("eva.krause@weinhaus-krause.example").await;
    expect_throttled(&third, 60);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM sessions"), 1);
}

async fn register_throttled_per_client_address(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.rate_limits.register_per_address_per_hour = 2;
    })
    .await;
    app.register("marie.fischer@landhotel-eiche.example")
        .await
        .expect(201);
    app.register("karl.fischer@landhotel-eiche.example")
        .await
        .expect(201);
    let third = app.register("nina.fischer@landhotel-eiche.example").await;
    expect_throttled(&third, 3600);
    assert_eq!(user_count(&app), 2);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) AS n FROM users WHERE email = 'nina.fischer@landhotel-eiche.example'"
        ),
        0
    );
}

// ---------------------------------------------------------------------------------------
// GET /me and access tokens
// ---------------------------------------------------------------------------------------

async fn me_returns_user_with_memberships(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.user("julia.meyer@gasthof-sonnenhof.example").await;
    let org_id = app.org(&owner, "Gasthof Sonnenhof GmbH").await;
    let other_org = app.org(&owner, "Sonnenhof Catering KG").await;
    let cook = app
        .member(
            &org_id,
            &owner,
            "ben.wolf@gasthof-sonnenhof.example",
            "member",
        )
        .await;

    let me = app.get(ME, Some(&owner.access)).await;
    me.expect(200);
    assert_eq!(me.body["id"], json!(owner.id));
    assert_eq!(
        me.body["email"],
        json!("julia.meyer@gasthof-sonnenhof.example")
    );
    assert_eq!(me.body["display_name"], json!("julia.meyer"));
    assert_eq!(me.body["platform_role"], json!("user"));
    assert_eq!(me.body["status"], json!("active"));
    let mut memberships = me.body["memberships"]
        .as_array()
        .expect("memberships list")
        .clone();
    memberships.sort_by_key(|m| m["org_name"].as_str().unwrap_or_default().to_owned());
    assert_eq!(
        memberships,
        vec![
            json!({"org_id": org_id, "org_name": "Gasthof Sonnenhof GmbH", "role": "owner"}),
            json!({"org_id": other_org, "org_name": "Sonnenhof Catering KG", "role": "owner"}),
        ]
    );

    let me = app.get(ME, Some(&cook.access)).await;
    me.expect(200);
    assert_eq!(me.body["id"], json!(cook.id));
    assert_eq!(
        me.body["memberships"],
        json!([{"org_id": org_id, "org_name": "Gasthof Sonnenhof GmbH", "role": "member"}])
    );

    let loner = app.user("oskar.lang@freiberater.example").await;
    let me = app.get(ME, Some(&loner.access)).await;
    me.expect(200);
    assert_eq!(me.body["memberships"], json!([]));
}

async fn me_without_token_is_unauthorized(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let resp = app.get(ME, None).await;
    expect_unauthorized(&resp);
    let basic = app
        .call(
            "GET",
            ME,
            None,
            None,
            &[("Authorization", "Basic YW5uYTpnZWhlaW0=")],
        )
        .await;
    expect_unauthorized(&basic);
}

async fn me_rejects_garbage_and_tampered_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna.berger@kundenwerk.example").await;
    let jonas = app.user("jonas.weber@kundenwerk.example").await;

    expect_unauthorized(&app.get(ME, Some("das-ist-kein-token")).await);
    expect_unauthorized(&app.get(ME, Some("a.b.c")).await);

    // Anna's token with Jonas as subject, keeping Anna's signature.
    let parts: Vec<&str> = anna.access.split('.').collect();
    let mut claims = claims_of(&anna.access);
    claims["sub"] = json!(jonas.id);
    let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    expect_unauthorized(&app.get(ME, Some(&tampered)).await);

    // Extended lifetime, same signature.
    let mut claims = claims_of(&anna.access);
    claims["exp"] = json!(unix_now() + 365 * 24 * 3600);
    let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    expect_unauthorized(&app.get(ME, Some(&tampered)).await);

    // The untouched token still works.
    let me = app.get(ME, Some(&anna.access)).await;
    me.expect(200);
    assert_eq!(me.body["id"], json!(anna.id));
}

async fn me_accepts_token_forged_with_server_secret(backend: Backend) {
    // Control for the forgery tests below: well-formed claims signed with the server's
    // secret are accepted, so their rejections are due to the one thing they change.
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna.berger@kundenwerk.example").await;
    let token = sign(&valid_claims(&anna), JWT_SECRET);
    let me = app.get(ME, Some(&token)).await;
    me.expect(200);
    assert_eq!(me.body["id"], json!(anna.id));

    // Expired by 1 s, inside the 5 s leeway.
    let mut claims = valid_claims(&anna);
    claims["iat"] = json!(unix_now() - 901);
    claims["exp"] = json!(unix_now() - 1);
    app.get(ME, Some(&sign(&claims, JWT_SECRET)))
        .await
        .expect(200);
}

async fn me_rejects_token_signed_with_other_secret(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna.berger@kundenwerk.example").await;
    let token = sign(
        &valid_claims(&anna),
        "a-completely-different-secret-of-enough-length",
    );
    expect_unauthorized(&app.get(ME, Some(&token)).await);
}

async fn me_rejects_alg_none_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna.berger@kundenwerk.example").await;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&valid_claims(&anna)).unwrap());
    expect_unauthorized(&app.get(ME, Some(&format!("{header}.{payload}."))).await);
    // The same with Anna's real signature appended.
    let signature = anna.access.split('.').nth(2).unwrap();
    expect_unauthorized(
        &app.get(ME, Some(&format!("{header}.{payload}.{signature}")))
            .await,
    );
}

async fn me_rejects_expired_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna.berger@kundenwerk.example").await;
    let mut claims = valid_claims(&anna);
    claims["iat"] = json!(unix_now() - 960);
    claims["exp"] = json!(unix_now() - 60);
    expect_unauthorized(&app.get(ME, Some(&sign(&claims, JWT_SECRET))).await);
}

async fn me_rejects_wrong_issuer_or_audience(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna.berger@kundenwerk.example").await;
    let mut wrong_iss = valid_claims(&anna);
    wrong_iss["iss"] = json!("someone-else");
    expect_unauthorized(&app.get(ME, Some(&sign(&wrong_iss, JWT_SECRET))).await);

    let mut wrong_aud = valid_claims(&anna);
    wrong_aud["aud"] = json!("mutua-admin");
    expect_unauthorized(&app.get(ME, Some(&sign(&wrong_aud, JWT_SECRET))).await);
}

async fn me_rejects_token_without_subject(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna.berger@kundenwerk.example").await;
    let mut claims = valid_claims(&anna);
    claims.as_object_mut().unwrap().remove("sub");
    expect_unauthorized(&app.get(ME, Some(&sign(&claims, JWT_SECRET))).await);
}

async fn me_rejects_token_for_foreign_or_unknown_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna.berger@kundenwerk.example").await;
    let jonas = app.user("jonas.weber@kundenwerk.example").await;

    // Jonas's id with Anna's session.
    let mut claims = valid_claims(&anna);
    claims["sub"] = json!(jonas.id);
    expect_unauthorized(&app.get(ME, Some(&sign(&claims, JWT_SECRET))).await);

    // A session that never existed.
    let mut claims = valid_claims(&anna);
    claims["sid"] = json!(uuid::Uuid::new_v4().to_string());
    expect_unauthorized(&app.get(ME, Some(&sign(&claims, JWT_SECRET))).await);
}

async fn me_with_api_key_is_forbidden(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.user("stefan.koch@hotel-alpenblick.example").await;
    let org_id = app.org(&owner, "Hotel Alpenblick GmbH").await;
    let key = app.api_key(&org_id, &owner, &["read", "write"]).await;
    let resp = app.get(ME, Some(&key)).await;
    resp.expect_problem(403);
    // The key itself is valid for its organisation.
    app.get(&format!("/api/v1/orgs/{org_id}/members"), Some(&key))
        .await
        .expect(200);
}

// ---------------------------------------------------------------------------------------
// Refresh-token rotation
// ---------------------------------------------------------------------------------------

async fn refresh_rotates_token_pair(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna.berger@kundenwerk.example").await;
    let resp = refresh_with(&app, &anna.refresh).await;
    resp.expect(200);
    assert_eq!(resp.body["token_type"], json!("Bearer"));
    assert_eq!(resp.body["expires_in"], json!(900));
    let access = resp.str("access_token");
    let refresh = resp.str("refresh_token");
    assert_ne!(refresh, anna.refresh);
    assert_eq!(
        claims_of(&access)["sid"],
        claims_of(&anna.access)["sid"],
        "rotation stays in the same session"
    );
    let me = app.get(ME, Some(&access)).await;
    me.expect(200);
    assert_eq!(me.body["id"], json!(anna.id));

    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM refresh_tokens"), 2);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) AS n FROM refresh_tokens WHERE used_at IS NOT NULL"
        ),
        1
    );

    // The successor can itself be rotated.
    refresh_with(&app, &refresh).await.expect(200);
}

async fn refresh_reuse_revokes_family(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna.berger@kundenwerk.example").await;
    let rotated = refresh_with(&app, &anna.refresh).await;
    rotated.expect(200);
    let new_access = rotated.str("access_token");
    let new_refresh = rotated.str("refresh_token");
    app.get(ME, Some(&new_access)).await.expect(200);

    // Replay of the spent token.
    expect_unauthorized(&refresh_with(&app, &anna.refresh).await);
    // The whole family is gone: the successor and the session's access tokens.
    expect_unauthorized(&refresh_with(&app, &new_refresh).await);
    expect_unauthorized(&app.get(ME, Some(&new_access)).await);
    expect_unauthorized(&app.get(ME, Some(&anna.access)).await);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) AS n FROM sessions WHERE revoked_at IS NOT NULL"
        ),
        1
    );

    // Signing in again starts a fresh, working session.
    let again = app.login("anna.berger@kundenwerk.example").await;
    again.expect(200);
    app.get(ME, Some(&again.str("access_token")))
        .await
        .expect(200);
}

async fn refresh_rejects_garbage_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna.berger@kundenwerk.example").await;
    expect_unauthorized(&refresh_with(&app, "kein-gueltiges-refresh-token").await);
    expect_unauthorized(&refresh_with(&app, "").await);
    // An access token is not a refresh token.
    expect_unauthorized(&refresh_with(&app, &anna.access).await);
    // None of that harmed Anna's session.
    app.get(ME, Some(&anna.access)).await.expect(200);
    refresh_with(&app, &anna.refresh).await.expect(200);
}

async fn refresh_rejects_expired_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna.berger@kundenwerk.example").await;
    assert_eq!(
        app.sql("UPDATE refresh_tokens SET expires_at = '2000-01-01 00:00:00'"),
        1
    );
    expect_unauthorized(&refresh_with(&app, &anna.refresh).await);
    assert_eq!(
        count(&app, "SELECT COUNT(*) AS n FROM refresh_tokens"),
        1,
        "no successor was issued"
    );
}

async fn refresh_concurrent_use_has_one_winner(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna.berger@kundenwerk.example").await;
    let (first, second) = futures_util::future::join(
        refresh_with(&app, &anna.refresh),
        refresh_with(&app, &anna.refresh),
    )
    .await;
    let mut statuses = [first.status, second.status];
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [200, 401],
        "bodies: {} / {}",
        first.text,
        second.text
    );
    let loser = if first.status == 401 { &first } else { &second };
    expect_unauthorized(loser);
    assert_eq!(
        count(&app, "SELECT COUNT(*) AS n FROM refresh_tokens"),
        2,
        "exactly one successor was issued"
    );
}

// ---------------------------------------------------------------------------------------
// Logout
// ---------------------------------------------------------------------------------------

async fn logout_ends_only_that_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let laptop = app.user("anna.berger@kundenwerk.example").await;
    let phone = app.login("anna.berger@kundenwerk.example").await;
    phone.expect(200);
    let phone_access = phone.str("access_token");
    let phone_refresh = phone.str("refresh_token");

    let resp = logout(&app, &laptop.access).await;
    resp.expect(204);
    assert!(resp.text.is_empty(), "204 has no body: {}", resp.text);

    expect_unauthorized(&app.get(ME, Some(&laptop.access)).await);
    expect_unauthorized(&refresh_with(&app, &laptop.refresh).await);
    expect_unauthorized(&logout(&app, &laptop.access).await);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) AS n FROM sessions WHERE revoked_at IS NOT NULL"
        ),
        1
    );

    // The other session is untouched.
    let me = app.get(ME, Some(&phone_access)).await;
    me.expect(200);
    assert_eq!(me.body["id"], json!(laptop.id));
    refresh_with(&app, &phone_refresh).await.expect(200);
}

async fn logout_without_token_is_unauthorized(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anna = app.user("anna.berger@kundenwerk.example").await;
    expect_unauthorized(&app.call("POST", LOGOUT, None, None, &[]).await);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) AS n FROM sessions WHERE revoked_at IS NOT NULL"
        ),
        0
    );
    app.get(ME, Some(&anna.access)).await.expect(200);
}

// ---------------------------------------------------------------------------------------
// Suspension
// ---------------------------------------------------------------------------------------

async fn suspended_user_is_locked_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.user("moritz.haas@partyservice-haas.example").await;
    app.get(ME, Some(&user.access)).await.expect(200);

    app.sql(&format!(
        "UPDATE users SET status = 'suspended' WHERE id = '{}'",
        user.id
    ));

    // At once, without waiting for the access token to expire.
    app.get(ME, Some(&user.access)).await.expect_problem(403);

    let right = app.login(&user.email).await;
    right.expect_problem(403);
    assert!(right.body.get("access_token").is_none());

    let wrong = login_with(&app, &user.email, "Falsches-Passwort-2026").await;
    let unknown = login_with(
        &app,
        "unbekannt@partyservice-haas.example",
        "Falsches-Passwort-2026",
    )
    .await;
    expect_unauthorized(&wrong);
    expect_unauthorized(&unknown);
    assert_eq!(
        wrong.answer(),
        unknown.answer(),
        "a bad login says nothing about the account"
    );

    // The refresh token does not mint new tokens either.
    let refreshed = refresh_with(&app, &user.refresh).await;
    assert!(
        refreshed.status == 401 || refreshed.status == 403,
        "refresh of a suspended account: {} {}",
        refreshed.status,
        refreshed.text
    );
    assert!(refreshed.body.get("access_token").is_none());
    assert_eq!(
        count(&app, "SELECT COUNT(*) AS n FROM sessions"),
        1,
        "no new session for a suspended account"
    );
}

// ---------------------------------------------------------------------------------------
// Platform roles
// ---------------------------------------------------------------------------------------

fn admin_path(user_id: &str) -> String {
    format!("/api/v1/admin/users/{user_id}")
}

fn make_admin(app: &TestApp, user: &TestUser) {
    assert_eq!(
        app.sql(&format!(
            "UPDATE users SET platform_role = 'admin' WHERE id = '{}'",
            user.id
        )),
        1
    );
}

async fn admin_role_change_requires_admin(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let plain = app.user("hannah.roth@kundenwerk.example").await;
    let target = app.user("david.seidel@kundenwerk.example").await;
    let resp = app
        .patch(
            &admin_path(&target.id),
            Some(&plain.access),
            json!({"platform_role": "moderator"}),
        )
        .await;
    resp.expect_problem(403);
    // Nor may a user promote themselves.
    app.patch(
        &admin_path(&plain.id),
        Some(&plain.access),
        json!({"platform_role": "admin"}),
    )
    .await
    .expect_problem(403);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) AS n FROM users WHERE platform_role <> 'user'"
        ),
        0
    );
    let me = app.get(ME, Some(&target.access)).await;
    me.expect(200);
    assert_eq!(me.body["platform_role"], json!("user"));
}

async fn admin_sets_platform_role(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("claudia.bauer@mutua-betrieb.example").await;
    let target = app.user("david.seidel@kundenwerk.example").await;
    make_admin(&app, &admin);

    let resp = app
        .patch(
            &admin_path(&target.id),
            Some(&admin.access),
            json!({"platform_role": "moderator"}),
        )
        .await;
    resp.expect(200);
    assert_eq!(resp.body["id"], json!(target.id));
    assert_eq!(resp.body["email"], json!(target.email));
    assert_eq!(resp.body["platform_role"], json!("moderator"));

    // The target's existing token sees the new role.
    let me = app.get(ME, Some(&target.access)).await;
    me.expect(200);
    assert_eq!(me.body["platform_role"], json!("moderator"));
    assert_eq!(
        texts(
            &app,
            &format!(
                "SELECT platform_role AS v FROM users WHERE id = '{}'",
                target.id
            )
        ),
        vec!["moderator".to_owned()]
    );

    // And back.
    let resp = app
        .patch(
            &admin_path(&target.id),
            Some(&admin.access),
            json!({"platform_role": "user"}),
        )
        .await;
    resp.expect(200);
    assert_eq!(resp.body["platform_role"], json!("user"));
}

async fn admin_role_change_rejects_bad_input(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("claudia.bauer@mutua-betrieb.example").await;
    let target = app.user("david.seidel@kundenwerk.example").await;
    make_admin(&app, &admin);

    let unknown_role = app
        .patch(
            &admin_path(&target.id),
            Some(&admin.access),
            json!({"platform_role": "superuser"}),
        )
        .await;
    unknown_role.expect_problem(422);

    let unknown_user = app
        .patch(
            &admin_path(&uuid::Uuid::new_v4().to_string()),
            Some(&admin.access),
            json!({"platform_role": "moderator"}),
        )
        .await;
    unknown_user.expect_problem(404);

    let bad_uuid = app
        .patch(
            &admin_path("kein-uuid"),
            Some(&admin.access),
            json!({"platform_role": "moderator"}),
        )
        .await;
    bad_uuid.expect_problem(400);

    assert_eq!(
        texts(
            &app,
            &format!(
                "SELECT platform_role AS v FROM users WHERE id = '{}'",
                target.id
            )
        ),
        vec!["user".to_owned()]
    );
}

async fn admin_cannot_demote_themselves(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("claudia.bauer@mutua-betrieb.example").await;
    make_admin(&app, &admin);
    for role in ["moderator", "user"] {
        let resp = app
            .patch(
                &admin_path(&admin.id),
                Some(&admin.access),
                json!({"platform_role": role}),
            )
            .await;
        resp.expect_problem(409);
    }
    let me = app.get(ME, Some(&admin.access)).await;
    me.expect(200);
    assert_eq!(me.body["platform_role"], json!("admin"));
    // Confirming their own admin role is no demotion.
    app.patch(
        &admin_path(&admin.id),
        Some(&admin.access),
        json!({"platform_role": "admin"}),
    )
    .await
    .expect(200);
}

backends!(
    register_creates_active_user_with_normalised_email,
    register_duplicate_email_case_insensitive_conflicts,
    register_invalid_fields_are_all_reported,
    register_password_length_bounds,
    register_rejects_malformed_bodies,
    login_returns_token_pair,
    login_unknown_email_and_wrong_password_answer_alike,
    login_email_is_case_insensitive,
    login_throttled_after_consecutive_failures,
    login_throttling_same_for_unknown_email,
    login_success_resets_failure_count,
    login_throttled_per_client_address,
    register_throttled_per_client_address,
    me_returns_user_with_memberships,
    me_without_token_is_unauthorized,
    me_rejects_garbage_and_tampered_tokens,
    me_accepts_token_forged_with_server_secret,
    me_rejects_token_signed_with_other_secret,
    me_rejects_alg_none_token,
    me_rejects_expired_token,
    me_rejects_wrong_issuer_or_audience,
    me_rejects_token_without_subject,
    me_rejects_token_for_foreign_or_unknown_session,
    me_with_api_key_is_forbidden,
    refresh_rotates_token_pair,
    refresh_reuse_revokes_family,
    refresh_rejects_garbage_token,
    refresh_rejects_expired_token,
    refresh_concurrent_use_has_one_winner,
    logout_ends_only_that_session,
    logout_without_token_is_unauthorized,
    suspended_user_is_locked_out,
    admin_role_change_requires_admin,
    admin_sets_platform_role,
    admin_role_change_rejects_bad_input,
    admin_cannot_demote_themselves,
);
