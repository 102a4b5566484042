//! The `mutua` binary: start-up refusals, `migrate`, `openapi` and `create-admin`, each
//! command's flags and help, the data folder, and the log lines.

use std::io::{BufRead, Read, Write};
use std::process::{Command, Output, Stdio};

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
        .args(["create-admin", "--email", "Admin@Mutua.example"])
        .env("MUTUA_ADMIN_PASSWORD", PASSWORD)
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

    // An existing account is promoted, its password kept; none is asked for.
    let user = app.user("greta@gasthof-sonne.example").await;
    let output = mutua(dir.path())
        .args(["create-admin", "--email", "greta@gasthof-sonne.example"])
        .env("DATABASE_URL", &app.database_url)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("password unchanged"),
        "{output:?}"
    );
    let me = app.get("/api/v1/me", Some(&user.access)).await;
    assert_eq!(me.body["platform_role"], json!("admin"));
    app.login("greta@gasthof-sonne.example").await.expect(200);

    // A weak password is refused with a reason.
    let output = mutua(dir.path())
        .args(["create-admin", "--email", "x@mutua.example"])
        .env("MUTUA_ADMIN_PASSWORD", "short")
        .env("DATABASE_URL", &app.database_url)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(stderr(&output).contains("password"), "{}", stderr(&output));
    app.login("x@mutua.example").await.expect(401);
}

/// Runs `cmd` with `input` on its standard input (a pipe, not a terminal).
fn with_stdin(cmd: &mut Command, input: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// The password never has to be on the command line: it comes from standard input (one line,
/// its newline stripped) or from `MUTUA_ADMIN_PASSWORD`, which wins; without either the
/// command stops rather than creating an account.
async fn create_admin_reads_the_password_from_stdin_or_the_environment(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let output = with_stdin(
        mutua(dir.path())
            .args(["create-admin", "--email", "stdin@mutua.example"])
            .env("DATABASE_URL", &app.database_url),
        &format!("{PASSWORD}\n"),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let tokens = app.login("stdin@mutua.example").await;
    tokens.expect(200);
    let me = app
        .get("/api/v1/me", Some(&tokens.str("access_token")))
        .await;
    assert_eq!(me.body["platform_role"], json!("admin"));

    let output = with_stdin(
        mutua(dir.path())
            .args(["create-admin", "--email", "env@mutua.example"])
            .env("MUTUA_ADMIN_PASSWORD", PASSWORD)
            .env("DATABASE_URL", &app.database_url),
        "not-the-password-from-the-environment\n",
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let tokens = app.login("env@mutua.example").await;
    tokens.expect(200);
    let me = app
        .get("/api/v1/me", Some(&tokens.str("access_token")))
        .await;
    assert_eq!(me.body["platform_role"], json!("admin"));

    let output = with_stdin(
        mutua(dir.path())
            .args(["create-admin", "--email", "none@mutua.example"])
            .env("DATABASE_URL", &app.database_url),
        "",
    );
    assert!(!output.status.success());
    let err = stderr(&output);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("MUTUA_ADMIN_PASSWORD"), "{err}");
    app.login("none@mutua.example").await.expect(401);
}

/// Runs a command that should stop by itself, killing it if it is still running after
/// `limit` (a `serve` that wrongly starts must fail the test, not hang it).
fn finished_within(mut cmd: Command, limit: std::time::Duration) -> Output {
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
        &["create-admin", "--email", "admin@mutua.example"],
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
                .env("MUTUA_ADMIN_PASSWORD", PASSWORD)
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

/// The `--help` text of `mutua <args>`.
fn help(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let output = mutua(dir.path()).args(args).arg("--help").output().unwrap();
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The flags a `--help` text lists, each with its help line (empty when it has none). A flag
/// is on a line of its own indented by two (`-h, --help`) or six (`--bind <BIND>`) spaces;
/// its help follows on that line after two spaces, or on the next line.
fn flags_with_help(help: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = help.lines().collect();
    let mut flags = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !(line.starts_with("  -") || line.starts_with("      --")) {
            continue;
        }
        let spec = line.trim();
        let (spec, rest) = spec.split_once("  ").unwrap_or((spec, ""));
        let text = match rest.trim() {
            "" => lines
                .get(i + 1)
                .map(|next| next.trim())
                .filter(|next| !next.starts_with('-') && !next.starts_with('['))
                .unwrap_or(""),
            same_line => same_line,
        };
        let name = spec
            .split([',', ' '])
            .find(|word| word.starts_with("--"))
            .unwrap_or(spec);
        flags.push((name.to_owned(), text.to_owned()));
    }
    flags
}

const COMMANDS: [&[&str]; 7] = [
    &[],
    &["serve"],
    &["worker"],
    &["migrate"],
    &["openapi"],
    &["seed"],
    &["create-admin"],
];

#[test]
fn every_flag_of_every_command_has_help() {
    for args in COMMANDS {
        let text = help(args);
        let flags = flags_with_help(&text);
        assert!(
            flags.iter().any(|(name, _)| name == "--help"),
            "{args:?}: no flags found in {text}"
        );
        for (name, help) in &flags {
            assert!(!help.is_empty(), "{args:?} {name} has no help:\n{text}");
        }
    }
}

/// Each command lists only the flags it uses: no server flag where there is no server, no
/// database flag where there is no database.
#[test]
fn each_command_lists_only_its_own_flags() {
    let server = ["--bind", "--jwt-secret", "--write-limit", "--cors-origins"];
    let background = [
        "--jobs-tick-secs",
        "--webhook-concurrency",
        "--db-pool-size",
    ];
    let database = ["--database-url", "--data-dir", "--db-timeout-secs"];
    let cases: [(&[&str], Vec<&str>, Vec<&str>); 7] = [
        (
            &["openapi"],
            vec![],
            [&server[..], &background, &database, &["--log-format"]].concat(),
        ),
        (
            &["migrate"],
            [&database[..], &["--log-format"]].concat(),
            [&server[..], &background].concat(),
        ),
        (
            &["create-admin"],
            [&database[..], &["--email", "--display-name"]].concat(),
            [&server[..], &background, &["--password"]].concat(),
        ),
        (
            &["seed"],
            [&database[..], &["--orgs", "--out"]].concat(),
            [&server[..], &background].concat(),
        ),
        (
            &["worker"],
            [&database[..], &background].concat(),
            server.to_vec(),
        ),
        (
            &["serve"],
            [&server[..], &background, &database, &["--log-format"]].concat(),
            vec!["--email", "--orgs"],
        ),
        (
            &[],
            [&server[..], &background, &database].concat(),
            vec!["--email", "--orgs"],
        ),
    ];
    for (args, present, absent) in cases {
        let flags: Vec<String> = flags_with_help(&help(args))
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        for flag in present {
            assert!(
                flags.iter().any(|f| f == flag),
                "{args:?} lacks {flag}: {flags:?}"
            );
        }
        for flag in absent {
            assert!(
                !flags.iter().any(|f| f == flag),
                "{args:?} lists {flag}: {flags:?}"
            );
        }
    }
}

/// `create-admin --help` explains its flags and where the password comes from; the old
/// `--password` flag (a secret in shell histories and process lists) is refused.
#[test]
fn create_admin_help_explains_the_email_and_the_password() {
    let text = help(&["create-admin"]);
    let flags = flags_with_help(&text);
    let email = flags.iter().find(|(name, _)| name == "--email");
    assert!(
        email.is_some_and(|(_, help)| help.contains("E-mail")),
        "{text}"
    );
    assert!(text.contains("MUTUA_ADMIN_PASSWORD"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let output = mutua(dir.path())
        .args([
            "create-admin",
            "--email",
            "a@mutua.example",
            "--password",
            PASSWORD,
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(!dir.path().join("mutua.db").exists());
}

/// Flags given without a command are `serve`'s; they do not reach another command.
#[test]
fn server_flags_before_a_command_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let output = mutua(dir.path())
        .args(["--bind", "127.0.0.1:0", "migrate"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(!dir.path().join("mutua.db").exists());
}

/// A configured data folder that does not exist is a mistake (a typo, a volume not mounted):
/// every command that uses one stops with one line and creates nothing, whether the folder
/// came from `MUTUA_DATA_DIR` or `--data-dir`.
#[test]
fn missing_data_dir_is_refused_by_every_command_with_one_line() {
    let commands: [&[&str]; 5] = [
        &["serve", "--bind", "127.0.0.1:0"],
        &["worker"],
        &["migrate"],
        &["seed", "--orgs", "1", "--listings-per-org", "1"],
        &["create-admin", "--email", "admin@mutua.example"],
    ];
    for args in commands {
        for by_flag in [false, true] {
            let parent = tempfile::tempdir().unwrap();
            let cwd = tempfile::tempdir().unwrap();
            let missing = parent.path().join("no/such/dir");
            let mut cmd = mutua(&missing);
            cmd.args(args)
                .env("MUTUA_ADMIN_PASSWORD", PASSWORD)
                .current_dir(cwd.path());
            if by_flag {
                cmd.env_remove("MUTUA_DATA_DIR")
                    .arg("--data-dir")
                    .arg(&missing);
            }
            let output = finished_within(cmd, std::time::Duration::from_secs(20));
            let err = stderr(&output);
            assert!(!output.status.success(), "{args:?} started: {err}");
            assert_eq!(
                err.trim(),
                format!("error: data directory {} does not exist", missing.display()),
                "{args:?}"
            );
            for dir in [parent.path(), cwd.path()] {
                let created: Vec<_> = std::fs::read_dir(dir).unwrap().collect();
                assert!(created.is_empty(), "{args:?} created {created:?}");
            }
        }
    }
    // A file is no data folder either.
    let parent = tempfile::tempdir().unwrap();
    let file = parent.path().join("data");
    std::fs::write(&file, "").unwrap();
    let output = mutua(&file).arg("migrate").output().unwrap();
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("is not a directory"),
        "{}",
        stderr(&output)
    );
}

/// The default data folder is created on first use, as `cargo run` without configuration
/// needs.
#[test]
fn default_data_dir_is_created_on_first_use() {
    let cwd = tempfile::tempdir().unwrap();
    let output = mutua(cwd.path())
        .env_remove("MUTUA_DATA_DIR")
        .arg("migrate")
        .current_dir(cwd.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(cwd.path().join("data/mutua.db").exists());
}

/// Starts `serve` with its log on a pipe, requests `/healthz` once it listens, and returns
/// every log line up to the request's completion line.
fn served_log(format: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut child = mutua(dir.path())
        .args(["serve", "--bind", "127.0.0.1:0", "--log-format", format])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut log = String::new();
    let mut requested = false;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let Ok(line) = received.recv_timeout(left) else {
            child.kill().unwrap();
            panic!("no request completion line in:\n{log}");
        };
        log.push_str(&line);
        log.push('\n');
        if !requested {
            if let Some(port) = line.split("http://127.0.0.1:").nth(1) {
                let port: String = port.chars().take_while(char::is_ascii_digit).collect();
                let mut stream = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
                stream
                    .write_all(
                        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                    )
                    .unwrap();
                stream.read_to_end(&mut Vec::new()).unwrap();
                requested = true;
            }
        } else if line.contains("request completed") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    log
}

/// The latency of a completion line (`latency_ms=0.047` or `"latency_ms":0.047`) as written.
fn latency(line: &str) -> &str {
    let after = line.split("latency_ms").nth(1).unwrap_or("");
    let number = after.trim_start_matches(['=', '"', ':']);
    let end = number
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(number.len());
    &number[..end]
}

/// Log lines to a pipe carry no colour codes, and a request's latency is rounded to the
/// microsecond (`0.047`, not `0.047382999999999995`), a number in JSON.
#[test]
fn logs_to_a_pipe_have_no_colours_and_rounded_latencies() {
    for format in ["pretty", "json"] {
        let log = served_log(format);
        assert!(!log.contains('\x1b'), "{format}: escape codes in\n{log}");
        let line = log
            .lines()
            .find(|l| l.contains("request completed"))
            .unwrap();
        let latency = latency(line);
        assert!(!latency.is_empty(), "{format}: {line}");
        let decimals = latency.split_once('.').map_or(0, |(_, d)| d.len());
        assert!(decimals <= 3, "{format}: {latency} in {line}");
        if format == "json" {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(value["fields"]["latency_ms"].is_f64(), "{line}");
        }
    }
}

backends!(
    create_admin_creates_then_promotes,
    create_admin_reads_the_password_from_stdin_or_the_environment,
    migrate_prints_the_database_without_its_password
);
