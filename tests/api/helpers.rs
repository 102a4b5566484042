//! Test harness: every test starts the real application on port 0 against a fresh
//! database — a temporary SQLite file, or a PostgreSQL database created on the server
//! `TEST_DATABASE_URL` names for the test and dropped after it.

use std::path::PathBuf;
use std::time::Duration;

use awc::http::header::HeaderMap;
use awc::http::Method;
use diesel::{Connection, PgConnection, RunQueryDsl};
use mutua::db::Pool;
use mutua::settings::Settings;
use mutua::startup::Application;
use secrecy::SecretString;
use serde_json::{json, Value};

/// The password every fixture user has.
pub const PASSWORD: &str = "Gegenseitigkeit-2026!";
/// The signing secret of every test server (tests forge tokens with it).
pub const JWT_SECRET: &str = "test-secret-that-is-long-enough-for-hs256-000";

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs one async test body on SQLite and on PostgreSQL: `backends!(name1, name2, ...)` for
/// `async fn name1(backend: Backend)`. The PostgreSQL variant is `#[ignore]`d, so a plain
/// `cargo test` reports it as ignored rather than passed; run it with
/// `cargo test --test api postgres -- --ignored` and `TEST_DATABASE_URL` set (it fails,
/// never passes, without one).
#[macro_export]
macro_rules! backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[actix_web::test]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await;
                }

                #[actix_web::test]
                #[ignore = "needs TEST_DATABASE_URL"]
                async fn postgres() {
                    super::$name($crate::helpers::Backend::Postgres).await;
                }
            }
        )+
    };
}

/// The PostgreSQL server the PostgreSQL variants run against. A variant run without one
/// fails: a test that did not run must never count as passed.
#[track_caller]
pub fn postgres_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| {
            panic!(
                "TEST_DATABASE_URL is not set: the PostgreSQL variants need a server, e.g. \
                 TEST_DATABASE_URL='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable' \
                 cargo test --test api postgres -- --ignored"
            )
        })
}

/// Where a test's database lives; dropping it removes the database.
enum TestDb {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
    // Another instance's database, removed by that instance.
    Shared,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { admin_url, name } = self {
            if let Ok(mut conn) = PgConnection::establish(admin_url) {
                let _ =
                    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .execute(&mut conn);
            }
        }
    }
}

/// `url` with its database name replaced by `name` (the query string is kept).
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    let mut out = format!("{}/{}", &base[..host_end], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// A running application and a client for it.
pub struct TestApp {
    pub address: String,
    pub pool: Pool,
    pub backend: Backend,
    pub database_url: String,
    /// The data folder (generated secrets and keys).
    pub data_dir: PathBuf,
    /// The server's bulkheads, sharing its slots.
    pub bulkheads: mutua::http::bulkhead::Bulkheads,
    client: awc::Client,
    _db: TestDb,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as JSON, `Null` when it is empty or not JSON.
    pub body: Value,
}

impl Resp {
    /// The body without its `request_id` (which names each request, so differs between
    /// two that must otherwise answer alike).
    pub fn answer(&self) -> Value {
        let mut body = self.body.clone();
        if let Some(fields) = body.as_object_mut() {
            fields.remove("request_id");
        }
        body
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }

    /// Asserts an RFC 9457 problem with this status.
    #[track_caller]
    pub fn expect_problem(&self, status: u16) -> &Self {
        self.expect(status);
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/problem+json"),
            "problem content type; body: {}",
            self.text
        );
        assert_eq!(self.body["status"], json!(status), "problem status field");
        assert!(self.body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("/problems/")));
        assert!(self.body["title"].is_string());
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        self
    }

    /// A string field of the body.
    #[track_caller]
    pub fn str(&self, field: &str) -> String {
        self.body[field]
            .as_str()
            .unwrap_or_else(|| panic!("no string field {field} in {}", self.text))
            .to_owned()
    }
}

/// A signed-in fixture user.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub email: String,
    pub access: String,
    pub refresh: String,
}

impl TestApp {
    /// Starts the app with the default test settings.
    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, |_| {}).await
    }

    /// Starts the app after `tweak` adjusted the settings (e.g. tight rate limits).
    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let (database_url, db) = match backend {
            Backend::Sqlite => (
                dir.path().join("mutua.db").to_string_lossy().into_owned(),
                TestDb::Sqlite(dir),
            ),
            Backend::Postgres => {
                let admin_url = postgres_url();
                let name = format!("mutua_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn =
                    PgConnection::establish(&admin_url).expect("connect to TEST_DATABASE_URL");
                diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut conn)
                    .expect("create test database");
                (
                    with_database(&admin_url, &name),
                    TestDb::Postgres { admin_url, name },
                )
            }
        };
        let data_dir = tempfile::tempdir().expect("temp dir").keep();
        TestApp::start(backend, database_url, db, data_dir, tweak).await
    }

    /// Starts a second instance of the application on this app's database, with its own
    /// pool and in-memory state, as a deployment behind a load balancer runs several.
    /// Dropping it leaves the database to this app. On SQLite the instances share the
    /// database file and so the data folder beside it (generated secrets, the log-signing
    /// key); on PostgreSQL each has a folder of its own, as on separate machines, so what
    /// they share comes from the database alone.
    pub async fn spawn_sibling(&self) -> TestApp {
        self.spawn_sibling_with(|_| {}).await
    }

    /// [`TestApp::spawn_sibling`] with adjusted settings (e.g. the same tight limits).
    pub async fn spawn_sibling_with(&self, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let data_dir = match self.backend {
            Backend::Sqlite => self.data_dir.clone(),
            Backend::Postgres => tempfile::tempdir().expect("temp dir").keep(),
        };
        TestApp::start(
            self.backend,
            self.database_url.clone(),
            TestDb::Shared,
            data_dir,
            tweak,
        )
        .await
    }

    async fn start(
        backend: Backend,
        database_url: String,
        db: TestDb,
        data_dir: PathBuf,
        tweak: impl FnOnce(&mut Settings),
    ) -> TestApp {
        let mut settings = Settings::new(
            database_url.clone(),
            data_dir.clone(),
            SecretString::from(JWT_SECRET),
        );
        settings.bind = "127.0.0.1:0".into();
        settings.workers = 1;
        settings.db_pool_size = 4;
        settings.shutdown_timeout = Duration::from_secs(0);
        // Generous by default; throttling tests set their own.
        settings.rate_limits.login_per_address_per_minute = 10_000;
        settings.rate_limits.register_per_address_per_hour = 10_000;
        // Tests run the periodic jobs when they mean to (`TestApp::run_jobs`), so nothing
        // changes behind their backs.
        settings.jobs = false;
        tweak(&mut settings);
        let app = Application::build(settings)
            .await
            .expect("application starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        let pool = app.pool();
        let bulkheads = app.bulkheads();
        actix_web::rt::spawn(app.server());
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(30))
            .disable_redirects()
            .finish();
        TestApp {
            address,
            pool,
            backend,
            database_url,
            data_dir,
            bulkheads,
            client,
            _db: db,
        }
    }

    /// POSTs JSON from another client address (any of 127.0.0.0/8 reaches the server), as
    /// a second device or an attacker elsewhere would.
    pub async fn post_from(&self, source: &str, path: &str, body: Value) -> Resp {
        let ip: std::net::IpAddr = source.parse().expect("a loopback address");
        let client = awc::Client::builder()
            .connector(awc::Connector::new().local_address(ip))
            .timeout(Duration::from_secs(30))
            .finish();
        let response = client
            .post(format!("{}{}", self.address, path))
            .send_json(&body)
            .await;
        read(response.expect("request sent")).await
    }

    /// Sends a request from another client address (see [`TestApp::post_from`]).
    pub async fn call_from(
        &self,
        source: &str,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let ip: std::net::IpAddr = source.parse().expect("a loopback address");
        let client = awc::Client::builder()
            .connector(awc::Connector::new().local_address(ip))
            .timeout(Duration::from_secs(30))
            .finish();
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = client.request(method, format!("{}{}", self.address, path));
        if let Some(token) = token {
            request = request.insert_header(("Authorization", format!("Bearer {token}")));
        }
        let response = match body {
            Some(body) => request.send_json(&body).await,
            None => request.send().await,
        };
        read(response.expect("request sent")).await
    }

    /// Sends a request; `body` is sent as JSON when given.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self
            .client
            .request(method, format!("{}{}", self.address, path));
        if let Some(token) = token {
            request = request.insert_header(("Authorization", format!("Bearer {token}")));
        }
        for (name, value) in headers {
            request = request.insert_header((*name, *value));
        }
        let response = match body {
            Some(body) => request.send_json(&body).await,
            None => request.send().await,
        };
        read(response.expect("request sent")).await
    }

    /// Sends a raw body with a content type.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: impl Into<String>,
    ) -> Resp {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self
            .client
            .request(method, format!("{}{}", self.address, path))
            .insert_header(("Content-Type", content_type));
        if let Some(token) = token {
            request = request.insert_header(("Authorization", format!("Bearer {token}")));
        }
        read(request.send_body(body.into()).await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.call("GET", path, token, None, &[]).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.call("POST", path, token, Some(body), &[]).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.call("PATCH", path, token, Some(body), &[]).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Resp {
        self.call("DELETE", path, token, None, &[]).await
    }

    /// Registers an account with [`PASSWORD`].
    pub async fn register(&self, email: &str) -> Resp {
        self.post(
            "/api/v1/auth/register",
            None,
            json!({"email": email, "password": PASSWORD, "display_name": display_name(email)}),
        )
        .await
    }

    /// Logs in with [`PASSWORD`].
    pub async fn login(&self, email: &str) -> Resp {
        self.post(
            "/api/v1/auth/login",
            None,
            json!({"email": email, "password": PASSWORD}),
        )
        .await
    }

    /// Registers and signs in a user.
    pub async fn user(&self, email: &str) -> TestUser {
        let registered = self.register(email).await;
        registered.expect(201);
        let tokens = self.login(email).await;
        tokens.expect(200);
        TestUser {
            id: registered.str("id"),
            email: email.to_lowercase(),
            access: tokens.str("access_token"),
            refresh: tokens.str("refresh_token"),
        }
    }

    /// Creates an organisation owned by `owner` and returns its id.
    pub async fn org(&self, owner: &TestUser, name: &str) -> String {
        let created = self
            .post(
                "/api/v1/orgs",
                Some(&owner.access),
                json!({"name": name, "industry": "hospitality", "region": "Bayern"}),
            )
            .await;
        created.expect(201);
        created.str("id")
    }

    /// Invites `email` into the organisation with `role` and has them join; returns them.
    pub async fn member(
        &self,
        org_id: &str,
        inviter: &TestUser,
        email: &str,
        role: &str,
    ) -> TestUser {
        let invitation = self
            .post(
                &format!("/api/v1/orgs/{org_id}/invitations"),
                Some(&inviter.access),
                json!({"email": email, "role": role}),
            )
            .await;
        invitation.expect(201);
        let user = self.user(email).await;
        self.post(
            &format!("/api/v1/orgs/{org_id}/members"),
            Some(&user.access),
            json!({"invitation_token": invitation.str("token")}),
        )
        .await
        .expect(201);
        user
    }

    /// Creates an API key with the given scopes and returns the secret.
    pub async fn api_key(&self, org_id: &str, owner: &TestUser, scopes: &[&str]) -> String {
        let created = self
            .post(
                &format!("/api/v1/orgs/{org_id}/api-keys"),
                Some(&owner.access),
                json!({"name": "integration", "scopes": scopes}),
            )
            .await;
        created.expect(201);
        created.str("key")
    }

    /// Runs SQL directly against the test database (to arrange states the API cannot).
    pub fn sql(&self, statement: &str) -> usize {
        let mut conn = self.pool.get().expect("connection");
        diesel::RunQueryDsl::execute(diesel::sql_query(statement), &mut *conn)
            .expect("statement runs")
    }

    /// Runs a `SELECT COUNT(*) AS n …` directly against the test database and returns `n`
    /// (to check what was stored, e.g. how many log leaves an agreement has).
    pub fn count(&self, query: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.pool.get().expect("connection");
        let row: Count = match &mut *conn {
            mutua::db::DbConnection::Sqlite(c) => diesel::sql_query(query).get_result(c),
            mutua::db::DbConnection::Pg(c) => diesel::sql_query(query).get_result(c),
        }
        .unwrap_or_else(|e| panic!("count query {query:?} fails: {e}"));
        row.n
    }

    /// Runs the periodic jobs that are due, as the runner named `runner` (what a server's
    /// runner does on each tick), and returns what ran.
    pub async fn run_jobs(&self, runner: &str) -> Vec<mutua::jobs::Ran> {
        let settings = mutua::jobs::JobSettings {
            access_token_ttl: Duration::from_secs(15 * 60),
            delivery_retention: Duration::from_secs(30 * 24 * 3600),
        };
        mutua::jobs::run_due(&self.pool, runner, &settings)
            .await
            .expect("the jobs run")
    }

    /// Makes every periodic job due at once (and unclaimed).
    pub fn make_jobs_due(&self) {
        self.sql(
            "UPDATE jobs SET due_at = '2000-01-01 00:00:00', claimed_by = NULL, lease_until = NULL",
        );
    }

    /// Moves a listing's expiry date into the past, as if that date had passed. Only the
    /// row is changed here; its derived data (the tag postings' copy of the date, the
    /// catalogue version cached searches rely on) is written by the application's own
    /// writer, as for every change of a listing.
    pub fn expire_listing(&self, id: &str) {
        use mutua::models::listing::{derived, Listing};
        let mut conn = self.pool.get().expect("connection");
        diesel::Connection::transaction::<_, diesel::result::Error, _>(&mut *conn, |conn| {
            let before = Listing::find(conn, id)?.expect("the listing exists");
            diesel::RunQueryDsl::execute(
                diesel::sql_query(format!(
                    "UPDATE listings SET expires_at = '2000-01-01 00:00:00' WHERE id = '{id}'"
                )),
                conn,
            )?;
            let after = Listing::find(conn, id)?.expect("the listing exists");
            derived::listing_changed(conn, Some(&before), Some(&after))
        })
        .expect("expiry stored");
    }

    /// Suspends an organisation directly in the database (bypassing the moderation API),
    /// taking its listings out of search and bumping the catalogue version with the
    /// application's own functions.
    pub fn suspend_org_in_db(&self, org_id: &str) {
        let mut conn = self.pool.get().expect("connection");
        diesel::Connection::transaction::<_, diesel::result::Error, _>(&mut *conn, |conn| {
            diesel::RunQueryDsl::execute(
                diesel::sql_query(format!(
                    "UPDATE orgs SET status = 'suspended' WHERE id = '{org_id}'"
                )),
                conn,
            )?;
            mutua::search::org_status_changed(conn, org_id, false, mutua::models::now())?;
            mutua::models::catalogue_state::changed(conn)
        })
        .expect("suspension stored");
    }
}

/// Percent-encodes a query value.
pub fn enc(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The field names of a validation problem.
pub fn error_fields(resp: &Resp) -> Vec<String> {
    resp.body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {}", resp.text))
        .iter()
        .map(|e| {
            assert!(
                e["message"].as_str().is_some_and(|m| !m.is_empty()),
                "every field error has a message: {e}"
            );
            e["field"].as_str().expect("field name").to_owned()
        })
        .collect()
}

fn display_name(email: &str) -> String {
    email.split('@').next().unwrap_or("user").to_owned()
}

async fn read<S>(mut response: awc::ClientResponse<S>) -> Resp
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + Unpin,
{
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.body().limit(4 << 20).await.expect("body read");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        text,
        body,
    }
}
