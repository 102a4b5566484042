//! The `mutua` binary: start-up refusals, `migrate`, `openapi` and `create-admin`.

use std::process::{Command, Output};

use serde_json::json;

use crate::backends;
use crate::helpers::{Backend, TestApp, PASSWORD};

/// The binary with a clean environment (no inherited Mutua or database settings).
fn mutua(data_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mutua"));
    for (key, _) in std::env::vars() {
        if key.starts_with("MUTUA_") || key == "DATABASE_URL" {
            cmd.env_remove(key);
        }
    }
    cmd.env("MUTUA_DATA_DIR", data_dir).env("RUST_LOG", "warn");
    cmd
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn weak_jwt_secret_stops_start_up_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let output = mutua(dir.path())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("MUTUA_JWT_SECRET", "too-short")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = stderr(&output);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("MUTUA_JWT_SECRET") && err.contains("32"),
        "{err}"
    );
    // Nothing was created: the refusal comes before the database is touched.
    assert!(!dir.path().join("mutua.db").exists());
}

#[test]
fn bad_log_origin_stops_start_up_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let output = mutua(dir.path())
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--log-origin",
            "has space",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = stderr(&output);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("MUTUA_LOG_ORIGIN"), "{err}");
    assert!(!dir.path().join("mutua.db").exists());
}

#[test]
fn bad_log_signing_key_stops_start_up_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let (_, other) =
        mutua::transparency::signing::LogSigner::generate("other.example/log").unwrap();
    for key in [
        "PRIVATE+KEY+garbage",
        secrecy::ExposeSecret::expose_secret(&other),
    ] {
        let output = mutua(dir.path())
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("MUTUA_LOG_SIGNING_KEY", key)
            .output()
            .unwrap();
        assert!(!output.status.success());
        let err = stderr(&output);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("MUTUA_LOG_SIGNING_KEY"), "{err}");
        assert!(!err.contains(key), "the key must not be echoed: {err}");
    }
}

#[test]
fn unreachable_database_stops_start_up_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let output = mutua(dir.path())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env(
            "DATABASE_URL",
            "postgres://mutua:secret-pw@127.0.0.1:1/mutua",
        )
        .env("MUTUA_DB_TIMEOUT_SECS", "1")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = stderr(&output);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("cannot connect to database"), "{err}");
    assert!(
        !err.contains("secret-pw"),
        "the password must be masked: {err}"
    );
}

#[test]
fn generated_secret_is_kept_private_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let first = mutua(dir.path()).arg("migrate").output().unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(String::from_utf8_lossy(&first.stdout).contains("applied"));
    let again = mutua(dir.path()).arg("migrate").output().unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("up to date"));
    // `migrate` does not need the signing secret; `serve` would create it. Resolve it as serve does.
    let secret = mutua::settings::resolve_jwt_secret(None, dir.path()).unwrap();
    let path = dir.path().join("jwt-secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = mutua::settings::resolve_jwt_secret(None, dir.path()).unwrap();
    use secrecy::ExposeSecret;
    assert_eq!(secret.expose_secret(), again.expose_secret());
    assert!(secret.expose_secret().len() >= 32);
}

#[test]
fn openapi_command_prints_the_committed_document() {
    let dir = tempfile::tempdir().unwrap();
    let output = mutua(dir.path()).arg("openapi").output().unwrap();
    assert!(output.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), committed);
}

async fn create_admin_creates_then_promotes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let output = mutua(dir.path())
        .args([
            "create-admin",
            "--email",
            "Admin@Mutua.example",
            "--password",
            PASSWORD,
        ])
        .env("DATABASE_URL", &app.database_url)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let tokens = app.login("admin@mutua.example").await;
    tokens.expect(200);
    let me = app
        .get("/api/v1/me", Some(&tokens.str("access_token")))
        .await;
    assert_eq!(me.body["platform_role"], json!("admin"));

    // An existing account is promoted, its password kept.
    let user = app.user("greta@gasthof-sonne.example").await;
    let output = mutua(dir.path())
        .args([
            "create-admin",
            "--email",
            "greta@gasthof-sonne.example",
            "--password",
            "another-password-123",
        ])
        .env("DATABASE_URL", &app.database_url)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let me = app.get("/api/v1/me", Some(&user.access)).await;
    assert_eq!(me.body["platform_role"], json!("admin"));
    app.login("greta@gasthof-sonne.example").await.expect(200);

    // A weak password is refused with a reason.
    let output = mutua(dir.path())
        .args([
            "create-admin",
            "--email",
            "x@mutua.example",
            "--password",
            "short",
        ])
        .env("DATABASE_URL", &app.database_url)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(stderr(&output).contains("password"), "{}", stderr(&output));
    app.login("x@mutua.example").await.expect(401);
}

/// Runs a command that should stop by itself, killing it if it is still running after
/// `limit` (a `serve` that wrongly starts must fail the test, not hang it).
fn finished_within(mut cmd: Command, limit: std::time::Duration) -> Output {
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() && started.elapsed() < limit {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if child.try_wait().unwrap().is_none() {
        child.kill().unwrap();
    }
    child.wait_with_output().unwrap()
}

/// Every command that opens the database refuses a URL of another database with one line
/// naming the scheme, never the password, and creates nothing (it used to start on a new
/// SQLite file named after the URL).
#[test]
fn unsupported_database_scheme_is_refused_by_every_command() {
    let commands: [&[&str]; 4] = [
        &["serve", "--bind", "127.0.0.1:0"],
        &["migrate"],
        &["seed", "--orgs", "1", "--listings-per-org", "1"],
        &[
            "create-admin",
            "--email",
            "admin@mutua.example",
            "--password",
            PASSWORD,
        ],
    ];
    for url in [
        "mysql://u:secret@h/db",
        "mariadb://root:secret@127.0.0.1/mutua",
    ] {
        for args in commands {
            let data = tempfile::tempdir().unwrap();
            let cwd = tempfile::tempdir().unwrap();
            let mut cmd = mutua(data.path());
            cmd.args(args)
                .env("DATABASE_URL", url)
                .current_dir(cwd.path());
            let output = finished_within(cmd, std::time::Duration::from_secs(20));
            let err = stderr(&output);
            assert!(
                !output.status.success(),
                "{args:?} with {url} started: {err}"
            );
            assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
            let scheme = url.split(':').next().unwrap();
            assert!(
                err.contains("unsupported scheme") && err.contains(&format!("`{scheme}:`")),
                "{args:?}: {err}"
            );
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                !err.contains("secret") && !stdout.contains("secret"),
                "{args:?}: {err}"
            );
            // Nothing was created: no database file, no secret, no seed logins.
            for dir in [data.path(), cwd.path()] {
                let created: Vec<_> = std::fs::read_dir(dir).unwrap().collect();
                assert!(created.is_empty(), "{args:?} created {created:?}");
            }
        }
    }
}

/// `migrate` prints the database it migrated with the password masked.
async fn migrate_prints_the_database_without_its_password(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let url = match backend {
        // Local trust authentication ignores the password; it must still never be shown.
        Backend::Postgres => {
            app.database_url
                .replacen("://postgres@", "://postgres:hunter2-secret@", 1)
        }
        Backend::Sqlite => format!("sqlite://{}", app.database_url),
    };
    if backend == Backend::Postgres {
        assert!(url.contains("hunter2-secret"), "fixture URL {url}");
    }
    let output = mutua(dir.path())
        .arg("migrate")
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("up to date"), "{stdout}");
    assert!(
        !stdout.contains("hunter2") && !stderr(&output).contains("hunter2"),
        "{stdout}"
    );
    if backend == Backend::Postgres {
        assert!(stdout.contains("postgres:***@"), "{stdout}");
    } else {
        assert!(stdout.starts_with("sqlite://"), "{stdout}");
    }
}

backends!(
    create_admin_creates_then_promotes,
    migrate_prints_the_database_without_its_password
);
