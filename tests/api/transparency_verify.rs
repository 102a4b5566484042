//! `mutua verify` against a running server and against files saved from it: PASS and exit
//! 0 for what the log really published, FAIL and exit 1 for anything altered, 2 for usage
//! errors, and the `agreement` mode over an agreement's log entries.

use std::path::Path;
use std::process::{Command, Output};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};

use crate::backends;
use crate::helpers::{Backend, TestApp};
use crate::transparency::append;

fn verify(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mutua"))
        .arg("verify")
        .args(args)
        .env_remove("MUTUA_TOKEN")
        .output()
        .expect("mutua runs")
}

/// [`verify`] off the test's runtime, which must keep serving the stand-in server below.
async fn verify_beside(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    actix_web::rt::task::spawn_blocking(move || {
        verify(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .expect("verify ran")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[track_caller]
fn passes(output: &Output) -> String {
    let out = stdout(output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!out.contains("FAIL"), "{out}");
    assert!(out.contains("PASS"), "{out}");
    out
}

#[track_caller]
fn fails(output: &Output, words: &str) -> String {
    let out = stdout(output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("FAIL"))
        .unwrap_or_else(|| panic!("no FAIL line in {out}"));
    assert!(line.contains(words), "{line}");
    out
}

fn save(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("file written");
    path.to_string_lossy().into_owned()
}

/// Replaces the first hash of a proof with another valid hash.
fn altered(proof: &Value) -> String {
    let mut proof = proof.clone();
    proof["hashes"][0] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    proof.to_string()
}

async fn offline_files_and_the_server_agree(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dir = tempfile::tempdir().expect("dir");
    let key = app.get("/api/v1/transparency/public-key", None).await;
    let key = key.str("verifier_key");
    append(&app, 5);
    let old = app.get("/api/v1/transparency/checkpoint", None).await.text;
    let old_file = save(dir.path(), "old-checkpoint", &old);
    append(&app, 6);
    let new = app.get("/api/v1/transparency/checkpoint", None).await.text;
    let new_file = save(dir.path(), "checkpoint", &new);

    // Checkpoint: from the server, and from the file.
    let out = passes(&verify(&[
        "checkpoint",
        "--server",
        &app.address,
        "--key",
        &key,
    ]));
    assert!(
        out.contains("PASS checkpoint: mutua.local/transparency with 11 leaves"),
        "{out}"
    );
    passes(&verify(&[
        "checkpoint",
        "--checkpoint",
        &new_file,
        "--key",
        &key,
    ]));
    let forged = save(dir.path(), "forged", &new.replacen("\n11\n", "\n12\n", 1));
    fails(
        &verify(&["checkpoint", "--checkpoint", &forged, "--key", &key]),
        "invalid",
    );
    let (other, _) =
        mutua::transparency::signing::LogSigner::generate("mutua.local/transparency").expect("key");
    fails(
        &verify(&[
            "checkpoint",
            "--checkpoint",
            &new_file,
            "--key",
            other.verifier_key(),
        ]),
        "no signature by the key",
    );

    // Inclusion of leaf 7, offline from saved files.
    let entry = app
        .get("/api/v1/transparency/entries?start=7&limit=1", None)
        .await;
    let leaf_input = entry.body["items"][0]["leaf_input"]
        .as_str()
        .unwrap()
        .to_owned();
    let leaf_file = save(dir.path(), "leaf", &format!("{leaf_input}\n"));
    let proof = app
        .get(
            "/api/v1/transparency/proofs/inclusion?leaf_index=7&tree_size=11",
            None,
        )
        .await
        .body;
    let proof_file = save(dir.path(), "inclusion.json", &proof.to_string());
    let offline = [
        "inclusion",
        "--leaf-index",
        "7",
        "--leaf-input",
        &leaf_file,
        "--checkpoint",
        &new_file,
        "--proof",
        &proof_file,
        "--key",
        &key,
    ];
    let out = passes(&verify(&offline));
    assert!(out.contains("PASS inclusion of leaf 7"), "{out}");
    let bad_proof = save(dir.path(), "bad.json", &altered(&proof));
    let mut tampered = offline;
    tampered[8] = &bad_proof;
    fails(&verify(&tampered), "inclusion of leaf 7");
    let other_leaf = save(
        dir.path(),
        "other-leaf",
        &leaf_input.replacen('"', "\" ", 1),
    );
    let mut tampered = offline;
    tampered[4] = &other_leaf;
    fails(&verify(&tampered), "inclusion of leaf 7");
    let mut wrong_index = offline;
    wrong_index[2] = "6";
    fails(&verify(&wrong_index), "the proof is for leaf 7");
    // From the server alone, and by leaf hash.
    passes(&verify(&[
        "inclusion",
        "--leaf-index",
        "3",
        "--server",
        &app.address,
        "--key",
        &key,
    ]));
    let hash = entry.body["items"][0]["leaf_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    passes(&verify(&[
        "inclusion",
        "--leaf-index",
        "7",
        "--leaf-hash",
        &hash,
        "--server",
        &app.address,
        "--key",
        &key,
    ]));

    // Consistency of the old checkpoint with the new one.
    let proof = app
        .get(
            "/api/v1/transparency/proofs/consistency?first=5&second=11",
            None,
        )
        .await
        .body;
    let proof_file = save(dir.path(), "consistency.json", &proof.to_string());
    let offline = [
        "consistency",
        "--old-checkpoint",
        &old_file,
        "--new-checkpoint",
        &new_file,
        "--proof",
        &proof_file,
        "--key",
        &key,
    ];
    let out = passes(&verify(&offline));
    assert!(out.contains("PASS consistency 5 → 11"), "{out}");
    let bad_proof = save(dir.path(), "bad-consistency.json", &altered(&proof));
    let mut tampered = offline;
    tampered[6] = &bad_proof;
    fails(&verify(&tampered), "consistency 5 → 11");
    passes(&verify(&[
        "consistency",
        "--old-checkpoint",
        &old_file,
        "--server",
        &app.address,
        "--key",
        &key,
    ]));
    // Swapped: the "old" one is larger, the log would have shrunk.
    fails(
        &verify(&[
            "consistency",
            "--old-checkpoint",
            &new_file,
            "--new-checkpoint",
            &old_file,
            "--proof",
            &proof_file,
            "--key",
            &key,
        ]),
        "consistency 11 → 5",
    );

    // Without the server's help, the server's key is the only way.
    let out = passes(&verify(&["checkpoint", "--server", &app.address]));
    assert!(
        out.contains("PASS public key") || out.contains("PASS checkpoint"),
        "{out}"
    );
}

async fn terms_commitments_open_with_terms_and_salt(_backend: Backend) {
    let dir = tempfile::tempdir().expect("dir");
    let terms = json!({"to_gives": [{"description": "Audit", "category": "expertise"}],
                       "from_gives": [{"category": "support", "description": "Schulung",
                                       "quantity": 10, "unit": "hours"}]});
    let salt = mutua::transparency::new_salt();
    let commitment = mutua::transparency::terms_commitment(&salt, &terms);
    use base64::prelude::*;
    let salt = BASE64_STANDARD.encode(salt);
    let terms_file = save(
        dir.path(),
        "terms.json",
        &serde_json::to_string_pretty(&terms).unwrap(),
    );
    passes(&verify(&[
        "commitment",
        "--terms",
        &terms_file,
        "--salt",
        &salt,
        "--commitment",
        &commitment,
    ]));
    let agreement = json!({"terms": terms, "terms_salt": salt, "terms_commitment": commitment});
    let agreement_file = save(dir.path(), "agreement.json", &agreement.to_string());
    passes(&verify(&["commitment", "--agreement", &agreement_file]));
    let other = save(
        dir.path(),
        "other.json",
        r#"{"from_gives": [], "to_gives": []}"#,
    );
    fails(
        &verify(&[
            "commitment",
            "--terms",
            &other,
            "--salt",
            &salt,
            "--commitment",
            &commitment,
        ]),
        "do not give this commitment",
    );
}

async fn usage_errors_exit_2(_backend: Backend) {
    for args in [
        vec![],
        vec!["bogus"],
        vec!["inclusion"],
        vec!["inclusion", "--leaf-index", "x"],
        vec!["inclusion", "--leaf-index", "1"],
        vec![
            "checkpoint",
            "--checkpoint",
            "/nonexistent/checkpoint",
            "--key",
            "k",
        ],
        vec!["checkpoint", "--server", "ftp://example.org"],
        vec!["commitment", "--salt", "AA=="],
        vec!["agreement", "not-a-uuid"],
    ] {
        let output = verify(&args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stdout(&output)
        );
    }
    // Each mode's help shows its own flags only.
    let help = stdout(&verify(&["consistency", "--help"]));
    assert!(
        help.contains("--old-checkpoint") && help.contains("--proof"),
        "{help}"
    );
    for server_flag in [
        "--database-url",
        "--bind",
        "--jwt-secret",
        "--leaf-index",
        "--data-dir",
    ] {
        assert!(!help.contains(server_flag), "{server_flag} in {help}");
    }
}

/// Stands in for the agreements endpoint, which lives on another branch: serves one
/// agreement and redirects every other request to the real server.
async fn agreement_front(target: String, agreement: Value) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = HttpServer::new(move || {
        let agreement = agreement.clone();
        let target = target.clone();
        App::new()
            .route(
                "/api/v1/agreements/{id}",
                web::get().to(move |path: web::Path<String>| {
                    let agreement = agreement.clone();
                    async move {
                        if agreement["id"] == json!(path.into_inner()) {
                            HttpResponse::Ok().json(agreement)
                        } else {
                            HttpResponse::NotFound().finish()
                        }
                    }
                }),
            )
            .default_service(web::to(move |req: HttpRequest| {
                let location = format!("{}{}", target, req.uri());
                async move {
                    HttpResponse::TemporaryRedirect()
                        .insert_header(("Location", location))
                        .finish()
                }
            }))
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    actix_web::rt::spawn(server);
    format!("http://127.0.0.1:{port}")
}

async fn an_agreements_entries_verify_in_the_current_checkpoint(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dir = tempfile::tempdir().expect("dir");
    append(&app, 3);
    let old = app.get("/api/v1/transparency/checkpoint", None).await.text;
    let old_file = save(dir.path(), "old", &old);
    let leaves = append(&app, 4);
    // Leaves 3 and 4 as the accepted and the completed event of one agreement.
    let accepted = &leaves[0];
    let mut entries = vec![json!({"leaf_index": 3, "event": "agreement.accepted"})];
    assert_eq!(accepted.event.as_str(), "agreement.accepted");
    let mut agreement = json!({
        "id": accepted.agreement_id,
        "from_org_id": accepted.from_org_id,
        "to_org_id": accepted.to_org_id,
        "kind": accepted.kind,
        "terms_commitment": accepted.terms_commitment,
        "log_entries": entries,
    });
    let key = app
        .get("/api/v1/transparency/public-key", None)
        .await
        .str("verifier_key");
    let front = agreement_front(app.address.clone(), agreement.clone()).await;
    let id = accepted.agreement_id.clone();
    let out = passes(
        &verify_beside(&[
            "agreement",
            &id,
            "--server",
            &front,
            "--key",
            &key,
            "--old-checkpoint",
            &old_file,
        ])
        .await,
    );
    assert!(out.contains("PASS leaf 3 (agreement.accepted)"), "{out}");
    assert!(out.contains("PASS inclusion of leaf 3"), "{out}");
    assert!(out.contains("PASS consistency 3 → 7"), "{out}");

    // An entry that names another agreement's leaf is caught.
    entries.push(json!({"leaf_index": 4, "event": "agreement.completed"}));
    agreement["log_entries"] = json!(entries);
    let front = agreement_front(app.address.clone(), agreement).await;
    fails(
        &verify_beside(&["agreement", &id, "--server", &front, "--key", &key]).await,
        "leaf 4 (agreement.completed)",
    );
    // An unknown agreement.
    let out = verify_beside(&[
        "agreement",
        &mutua::models::new_id(),
        "--server",
        &front,
        "--key",
        &key,
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
}

backends!(
    offline_files_and_the_server_agree,
    terms_commitments_open_with_terms_and_salt,
    usage_errors_exit_2,
    an_agreements_entries_verify_in_the_current_checkpoint,
);

async fn seed_fills_the_log_through_the_store(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dir = tempfile::tempdir().expect("dir");
    let output = Command::new(env!("CARGO_BIN_EXE_mutua"))
        .args([
            "seed",
            "--orgs",
            "3",
            "--listings-per-org",
            "1",
            "--seed",
            "7",
            "--log-leaves",
            "25",
            "--out",
        ])
        .arg(dir.path().join("logins.csv"))
        .env("DATABASE_URL", &app.database_url)
        .env("MUTUA_DATA_DIR", dir.path())
        .env("RUST_LOG", "warn")
        .output()
        .expect("mutua runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout(&output).contains("and 25 log leaves"),
        "{}",
        stdout(&output)
    );
    let key = app
        .get("/api/v1/transparency/public-key", None)
        .await
        .str("verifier_key");
    passes(
        &verify_beside(&[
            "inclusion",
            "--leaf-index",
            "24",
            "--server",
            &app.address,
            "--key",
            &key,
        ])
        .await,
    );
    let page = app.get("/api/v1/transparency/entries?start=20", None).await;
    let items = page.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 5);
    let orgs = app.get("/api/v1/orgs?limit=100", None).await;
    let org_ids: Vec<&Value> = orgs.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["id"])
        .collect();
    for item in items {
        let leaf: Value = serde_json::from_str(item["leaf_input"].as_str().unwrap()).unwrap();
        assert_eq!(leaf["event"], json!("agreement.accepted"));
        assert!(org_ids.contains(&&leaf["from_org_id"]) && org_ids.contains(&&leaf["to_org_id"]));
        assert_ne!(leaf["from_org_id"], leaf["to_org_id"]);
    }
    // More leaves join the seeded database.
    let again = Command::new(env!("CARGO_BIN_EXE_mutua"))
        .args([
            "seed",
            "--orgs",
            "0",
            "--seed",
            "7",
            "--log-leaves",
            "5",
            "--out",
        ])
        .arg(dir.path().join("again.csv"))
        .env("DATABASE_URL", &app.database_url)
        .env("MUTUA_DATA_DIR", dir.path())
        .env("RUST_LOG", "warn")
        .output()
        .expect("mutua runs");
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let checkpoint = app.get("/api/v1/transparency/checkpoint", None).await.text;
    assert!(
        checkpoint.starts_with("mutua.local/transparency\n30\n"),
        "{checkpoint}"
    );
}

backends!(seed_fills_the_log_through_the_store);
