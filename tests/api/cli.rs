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

backends!(create_admin_creates_then_promotes);
