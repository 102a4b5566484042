//! The transparency log over HTTP: signed checkpoints that verify with the published key,
//! entries that rebuild the signed root, inclusion and consistency proofs that verify with
//! `tlog_tiles`' checkers, the refusals of bad parameters, two instances signing alike, the
//! append-only triggers, and a leaf rewritten behind the server's back being caught.

use base64::prelude::*;
use diesel::RunQueryDsl;
use serde_json::{json, Value};
use signed_note::{Note, StandardVerifier, VerifierList};
use tlog_tiles::{Checkpoint, Hash};

use mutua::db::{self, DbConnection};
use mutua::models::{new_id, now};
use mutua::transparency::{store, terms_commitment, Leaf, LogEvent};

use crate::backends;
use crate::helpers::{Backend, Resp, TestApp};

const CHECKPOINT: &str = "/api/v1/transparency/checkpoint";
const PUBLIC_KEY: &str = "/api/v1/transparency/public-key";
const ENTRIES: &str = "/api/v1/transparency/entries";
const INCLUSION: &str = "/api/v1/transparency/proofs/inclusion";
const CONSISTENCY: &str = "/api/v1/transparency/proofs/consistency";

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

/// An agreement event between two organisations; every third one is confidential.
pub(crate) fn leaf(i: usize) -> Leaf {
    let terms = json!({
        "from_gives": [{"category": "expertise", "description": format!("Beratung {i}"),
                        "quantity": i, "unit": "hours"}],
        "to_gives": [{"category": "resource", "description": "Kühlraum am Wochenende"}],
    });
    let salt = mutua::transparency::new_salt();
    Leaf {
        agreement_id: new_id(),
        event: [LogEvent::Accepted, LogEvent::Completed, LogEvent::Cancelled][i % 3],
        logged_at: now(),
        from_org_id: new_id(),
        to_org_id: new_id(),
        kind: if i.is_multiple_of(4) {
            "trial"
        } else {
            "exchange"
        }
        .into(),
        terms_commitment: terms_commitment(&salt, &terms),
        terms: (i % 3 != 2).then_some(terms),
    }
}

/// Appends `count` leaves through the store in one write transaction on the app's pool, as
/// the agreement endpoints will.
pub(crate) fn append(app: &TestApp, count: usize) -> Vec<Leaf> {
    let leaves: Vec<Leaf> = (0..count).map(leaf).collect();
    let mut conn = app.pool.get().expect("connection");
    db::write_transaction(&mut conn, |c: &mut DbConnection| {
        for l in &leaves {
            mutua::models::effects::emit(c, l.clone())?;
        }
        Ok::<_, diesel::result::Error>(())
    })
    .expect("leaves appended");
    leaves
}

async fn verifier_key(app: &TestApp) -> String {
    let resp = app.get(PUBLIC_KEY, None).await;
    resp.expect(200);
    resp.str("verifier_key")
}

/// Checks the checkpoint's signature with the verifier key and parses it.
fn open(note: &str, vkey: &str) -> Checkpoint {
    let verifier = StandardVerifier::new(vkey).expect("verifier key parses");
    let note = Note::from_bytes(note.as_bytes()).expect("signed note parses");
    note.verify(&VerifierList::new(vec![Box::new(verifier)]))
        .expect("signature verifies");
    Checkpoint::from_bytes(note.text()).expect("checkpoint parses")
}

async fn checkpoint(app: &TestApp) -> (String, Checkpoint) {
    let resp = app.get(CHECKPOINT, None).await;
    resp.expect(200);
    let vkey = verifier_key(app).await;
    let parsed = open(&resp.text, &vkey);
    (resp.text, parsed)
}

fn hash(text: &str) -> Hash {
    Hash::parse_hash(text).expect("base64 hash")
}

fn hashes(resp: &Resp) -> Vec<Hash> {
    resp.body["hashes"]
        .as_array()
        .expect("hashes")
        .iter()
        .map(|h| hash(h.as_str().expect("string")))
        .collect()
}

/// RFC 6962 §2.1 over leaf inputs, computed here without the server's stored hashes.
fn root(inputs: &[String]) -> Hash {
    match inputs.len() {
        0 => tlog_tiles::EMPTY_HASH,
        1 => tlog_tiles::record_hash(inputs[0].as_bytes()),
        n => {
            let k = 1usize << (n - 1).ilog2();
            tlog_tiles::node_hash(root(&inputs[..k]), root(&inputs[k..]))
        }
    }
}

/// Every entry, page by page through `next_cursor`.
async fn all_entries(app: &TestApp, limit: usize) -> Vec<Value> {
    let mut items = Vec::new();
    let mut path = format!("{ENTRIES}?limit={limit}");
    loop {
        let resp = app.get(&path, None).await;
        resp.expect(200);
        let page = resp.body["items"].as_array().expect("items").clone();
        assert!(page.len() <= limit);
        items.extend(page);
        match resp.body["next_cursor"].as_str() {
            Some(next) => path = format!("{ENTRIES}?limit={limit}&cursor={next}"),
            None => break,
        }
    }
    items
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

async fn checkpoints_are_signed_by_the_published_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.get(PUBLIC_KEY, None).await;
    key.expect(200);
    assert_eq!(key.body["origin"], json!("mutua.local/transparency"));
    let vkey = key.str("verifier_key");
    assert!(vkey.starts_with("mutua.local/transparency+"), "{vkey}");

    let resp = app.get(CHECKPOINT, None).await;
    resp.expect(200);
    assert_eq!(
        resp.header("content-type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    let empty = open(&resp.text, &vkey);
    assert_eq!(empty.origin(), "mutua.local/transparency");
    assert_eq!((empty.size(), *empty.hash()), (0, tlog_tiles::EMPTY_HASH));

    let leaves = append(&app, 5);
    let (text, five) = checkpoint(&app).await;
    assert_eq!(five.size(), 5);
    let inputs: Vec<String> = leaves.iter().map(Leaf::input).collect();
    assert_eq!(*five.hash(), root(&inputs));
    assert!(text.starts_with(&format!(
        "mutua.local/transparency\n5\n{}\n\n— mutua.local/transparency ",
        five.hash()
    )));

    // Another key does not verify it.
    let (other, _) =
        mutua::transparency::signing::LogSigner::generate("mutua.local/transparency").expect("key");
    let note = Note::from_bytes(text.as_bytes()).expect("note");
    let verifier = StandardVerifier::new(other.verifier_key()).expect("verifier");
    assert!(note
        .verify(&VerifierList::new(vec![Box::new(verifier)]))
        .is_err());
}

async fn entries_rebuild_the_signed_root(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let empty = app.get(ENTRIES, None).await;
    empty.expect(200);
    assert_eq!(empty.body, json!({"items": [], "next_cursor": null}));

    let leaves = append(&app, 45);
    let first = app.get(ENTRIES, None).await;
    first.expect(200);
    assert_eq!(first.body["items"].as_array().unwrap().len(), 20);
    assert_eq!(first.body["next_cursor"], json!("20"));

    let items = all_entries(&app, 7).await;
    assert_eq!(items.len(), 45);
    let mut inputs = Vec::new();
    for (i, (item, leaf)) in items.iter().zip(&leaves).enumerate() {
        assert_eq!(item["index"], json!(i));
        let input = item["leaf_input"].as_str().unwrap().to_owned();
        assert_eq!(input, leaf.input());
        let expected_hash = BASE64_STANDARD.encode(tlog_tiles::record_hash(input.as_bytes()).0);
        assert_eq!(item["leaf_hash"], json!(expected_hash));
        assert_eq!(item["agreement_id"], json!(leaf.agreement_id));
        assert_eq!(item["event"], json!(leaf.event.as_str()));
        let parsed: Value = serde_json::from_str(&input).unwrap();
        assert_eq!(parsed["event"], item["event"]);
        assert_eq!(parsed["agreement_id"], item["agreement_id"]);
        assert_eq!(
            parsed.get("terms").is_some(),
            i % 3 != 2,
            "terms only when public"
        );
        inputs.push(input);
    }
    let (_, signed) = checkpoint(&app).await;
    assert_eq!((signed.size(), *signed.hash()), (45, root(&inputs)));

    // `start` is the same as `cursor`; beyond the end is an empty last page.
    let page = app.get(&format!("{ENTRIES}?start=40&limit=3"), None).await;
    page.expect(200);
    assert_eq!(page.body["items"][0]["index"], json!(40));
    assert_eq!(page.body["next_cursor"], json!("43"));
    let tail = app
        .get(&format!("{ENTRIES}?start=43&cursor=43"), None)
        .await;
    tail.expect(200);
    assert_eq!(tail.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(tail.body["next_cursor"], Value::Null);
    let past = app.get(&format!("{ENTRIES}?start=1000"), None).await;
    past.expect(200);
    assert_eq!(past.body, json!({"items": [], "next_cursor": null}));
    let exact = app.get(&format!("{ENTRIES}?start=35&limit=10"), None).await;
    assert_eq!(
        exact.body["next_cursor"],
        Value::Null,
        "no empty page after a full one"
    );
}

async fn proofs_verify_with_tlog_checkers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let leaves = append(&app, 13);
    let inputs: Vec<String> = leaves.iter().map(Leaf::input).collect();
    let (_, signed) = checkpoint(&app).await;

    for size in 1..=13u64 {
        let tree_root = root(&inputs[..size as usize]);
        for index in 0..size {
            let resp = app
                .get(
                    &format!("{INCLUSION}?leaf_index={index}&tree_size={size}"),
                    None,
                )
                .await;
            resp.expect(200);
            assert_eq!(resp.body["leaf_index"], json!(index));
            assert_eq!(resp.body["tree_size"], json!(size));
            let leaf_hash = hash(&resp.str("leaf_hash"));
            assert_eq!(
                leaf_hash,
                tlog_tiles::record_hash(inputs[index as usize].as_bytes())
            );
            tlog_tiles::check_record(&hashes(&resp), size, tree_root, index, leaf_hash)
                .unwrap_or_else(|e| panic!("inclusion {index} in {size}: {e}"));
        }
        for first in 1..=size {
            let resp = app
                .get(&format!("{CONSISTENCY}?first={first}&second={size}"), None)
                .await;
            resp.expect(200);
            assert_eq!(resp.body["first"], json!(first));
            assert_eq!(resp.body["second"], json!(size));
            let old_root = root(&inputs[..first as usize]);
            tlog_tiles::check_tree(&hashes(&resp), size, tree_root, first, old_root)
                .unwrap_or_else(|e| panic!("consistency {first} → {size}: {e}"));
        }
    }

    // The defaults are the current tree, the one the checkpoint signs.
    let resp = app.get(&format!("{INCLUSION}?leaf_index=6"), None).await;
    resp.expect(200);
    assert_eq!(resp.body["tree_size"], json!(13));
    let leaf_hash = hash(&resp.str("leaf_hash"));
    tlog_tiles::check_record(&hashes(&resp), 13, *signed.hash(), 6, leaf_hash).unwrap();
    let resp = app.get(&format!("{CONSISTENCY}?first=5"), None).await;
    resp.expect(200);
    assert_eq!(resp.body["second"], json!(13));
    tlog_tiles::check_tree(&hashes(&resp), 13, *signed.hash(), 5, root(&inputs[..5])).unwrap();
}

async fn bad_parameters_are_refused_in_the_apis_words(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // An empty log has no leaf to prove yet: not found (it may be later).
    let resp = app.get(&format!("{INCLUSION}?leaf_index=0"), None).await;
    resp.expect_problem(404);
    assert!(
        resp.str("detail")
            .contains("leaf_index 0 is beyond the log, which has 0 leaves"),
        "{}",
        resp.text
    );
    append(&app, 6);
    // Well-formed requests: what the log has not reached yet is 404 (a later request may
    // succeed); sizes that contradict each other can never make a proof, 422.
    for (path, status, kind, words) in [
        (
            format!("{INCLUSION}?leaf_index=6"),
            404,
            "not-found",
            "leaf_index 6 is beyond the log, which has 6 leaves",
        ),
        (
            format!("{INCLUSION}?leaf_index=0&tree_size=7"),
            404,
            "not-found",
            "tree_size 7 is beyond the log, which has 6 leaves",
        ),
        (
            format!("{INCLUSION}?leaf_index=0&tree_size=9223372036854775807"),
            404,
            "not-found",
            "tree_size 9223372036854775807 is beyond the log, which has 6 leaves",
        ),
        (
            format!("{INCLUSION}?leaf_index=3&tree_size=3"),
            422,
            "unprocessable",
            "leaf_index 3 is not in a tree of 3 leaves",
        ),
        (
            format!("{INCLUSION}?leaf_index=9&tree_size=7"),
            422,
            "unprocessable",
            "leaf_index 9 is not in a tree of 7 leaves",
        ),
        (
            format!("{CONSISTENCY}?first=7"),
            404,
            "not-found",
            "first 7 is beyond the log, which has 6 leaves",
        ),
        (
            format!("{CONSISTENCY}?first=2&second=9"),
            404,
            "not-found",
            "second 9 is beyond the log, which has 6 leaves",
        ),
        (
            format!("{CONSISTENCY}?first=5&second=4"),
            422,
            "unprocessable",
            "first (5) must not be larger than second (4)",
        ),
        (
            format!("{CONSISTENCY}?first=9&second=8"),
            422,
            "unprocessable",
            "first (9) must not be larger than second (8)",
        ),
    ] {
        let resp = app.get(&path, None).await;
        resp.expect_problem(status);
        assert_eq!(
            resp.body["type"],
            json!(format!("/problems/{kind}")),
            "{path}"
        );
        let detail = resp.str("detail");
        assert!(detail.contains(words), "{path}: {detail}");
    }
    for (path, words) in [
        (INCLUSION.to_string(), "leaf_index is required"),
        (
            format!("{INCLUSION}?leaf_index=0&tree_size=0"),
            "tree_size must be at least 1",
        ),
        (
            format!("{INCLUSION}?leaf_index=-1"),
            "leaf_index must be a whole number",
        ),
        (
            format!("{INCLUSION}?leaf_index=abc"),
            "leaf_index must be a whole number",
        ),
        (
            format!("{INCLUSION}?leaf_index=1.0"),
            "leaf_index must be a whole number",
        ),
        (
            format!("{INCLUSION}?leaf_index="),
            "leaf_index must be a whole number",
        ),
        (
            format!("{INCLUSION}?leaf_index=0&tree_size=-6"),
            "tree_size must be a whole number",
        ),
        (
            format!("{INCLUSION}?leaf_index=0&tree_size=18446744073709551616"),
            "tree_size must be a whole number",
        ),
        (
            format!("{INCLUSION}?leaf_index=9223372036854775808"),
            "leaf_index must be a whole number",
        ),
        (CONSISTENCY.to_string(), "first is required"),
        (format!("{CONSISTENCY}?first=0"), "first must be at least 1"),
        (
            format!("{CONSISTENCY}?first=0&second=0"),
            "first must be at least 1",
        ),
        (
            format!("{CONSISTENCY}?first=1&second=0"),
            "second must be at least 1",
        ),
        (
            format!("{CONSISTENCY}?first=x"),
            "first must be a whole number",
        ),
        (
            format!("{CONSISTENCY}?first=1&second=-2"),
            "second must be a whole number",
        ),
        (
            format!("{ENTRIES}?limit=0"),
            "limit must be between 1 and 100",
        ),
        (
            format!("{ENTRIES}?limit=101"),
            "limit must be between 1 and 100",
        ),
        (
            format!("{ENTRIES}?limit=ten"),
            "limit must be a whole number",
        ),
        (
            format!("{ENTRIES}?start=-1"),
            "start must be a whole number",
        ),
        (
            format!("{ENTRIES}?cursor=abc"),
            "cursor is not one this API issued",
        ),
        (
            format!("{ENTRIES}?cursor=-3"),
            "cursor is not one this API issued",
        ),
        (
            format!("{ENTRIES}?start=2&cursor=3"),
            "give start or cursor, not both",
        ),
    ] {
        let resp = app.get(&path, None).await;
        resp.expect_problem(400);
        assert_eq!(resp.body["type"], json!("/problems/bad-request"), "{path}");
        let detail = resp.str("detail");
        assert!(detail.contains(words), "{path}: {detail}");
        for internal in ["tlog", "n >= t", "invalid digit", "ParseInt", "diesel"] {
            assert!(!detail.contains(internal), "{path}: {detail}");
        }
    }
    // Largest number accepted is still refused politely, never a 500.
    let resp = app
        .get(&format!("{ENTRIES}?start=9223372036854775807"), None)
        .await;
    resp.expect(200);
    let resp = app
        .get(&format!("{INCLUSION}?leaf_index=9223372036854775807"), None)
        .await;
    resp.expect_problem(404);
}

async fn sibling_instances_sign_with_one_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let sibling = app.spawn_sibling().await;
    assert_eq!(verifier_key(&app).await, verifier_key(&sibling).await);
    append(&app, 3);
    let (ours, parsed) = checkpoint(&app).await;
    let (theirs, _) = checkpoint(&sibling).await;
    assert_eq!(parsed.size(), 3);
    // Ed25519 signatures are deterministic: one key, one tree, one checkpoint.
    assert_eq!(ours, theirs);
    append(&sibling, 2);
    let (ours, parsed) = checkpoint(&app).await;
    assert_eq!(parsed.size(), 5);
    assert_eq!(ours, checkpoint(&sibling).await.0);
    if backend == Backend::Sqlite {
        let path = app.data_dir.join("log-signing-key");
        let text = std::fs::read_to_string(path).expect("key file in the data folder");
        assert!(text.starts_with("PRIVATE+KEY+mutua.local/transparency+"));
    } else {
        let mut conn = app.pool.get().expect("connection");
        let stored: i64 = diesel::dsl::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT COUNT(*) FROM log_signing_keys)",
        ))
        .get_result(&mut *conn)
        .expect("count");
        assert_eq!(stored, 1);
    }
}

async fn a_configured_key_wins_and_a_foreign_one_is_refused(backend: Backend) {
    let (signer, private) =
        mutua::transparency::signing::LogSigner::generate("audit.example/agreements").expect("key");
    let configured = private.clone();
    let app = TestApp::spawn_with(backend, move |s| {
        s.log_origin = "audit.example/agreements".into();
        s.log_signing_key = Some(configured);
    })
    .await;
    let key = app.get(PUBLIC_KEY, None).await;
    assert_eq!(key.body["origin"], json!("audit.example/agreements"));
    assert_eq!(key.str("verifier_key"), signer.verifier_key());
    let (_, parsed) = checkpoint(&app).await;
    assert_eq!(parsed.origin(), "audit.example/agreements");

    let mut settings = mutua::settings::Settings::new(
        app.database_url.clone(),
        app.data_dir.clone(),
        secrecy::SecretString::from(crate::helpers::JWT_SECRET),
    );
    settings.bind = "127.0.0.1:0".into();
    settings.log_signing_key = Some(private);
    let reason = match mutua::startup::Application::build(settings).await {
        Ok(_) => panic!("a key of another origin must refuse start"),
        Err(reason) => reason,
    };
    assert!(reason.contains("MUTUA_LOG_SIGNING_KEY"), "{reason}");
    assert!(reason.contains("audit.example/agreements"), "{reason}");
    assert_eq!(reason.lines().count(), 1);
}

async fn stored_leaves_and_hashes_cannot_be_changed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    append(&app, 4);
    let mut conn = app.pool.get().expect("connection");
    let mut statements = vec![
        "UPDATE log_leaves SET leaf_input = '{}' WHERE leaf_index = 1",
        "DELETE FROM log_leaves WHERE leaf_index = 3",
        "UPDATE log_hashes SET hash = hash WHERE hash_index = 0",
        "DELETE FROM log_hashes",
    ];
    if backend == Backend::Postgres {
        statements.extend(["TRUNCATE log_leaves", "TRUNCATE log_hashes"]);
    }
    for statement in statements {
        let refused = diesel::sql_query(statement).execute(&mut *conn);
        let error = refused.expect_err(statement).to_string();
        assert!(error.contains("append-only"), "{statement}: {error}");
    }
    drop(conn);
    assert_eq!(all_entries(&app, 100).await.len(), 4);
    assert_eq!(checkpoint(&app).await.1.size(), 4);
}

async fn a_leaf_rewritten_behind_the_servers_back_breaks_consistency(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    append(&app, 8);
    let (_, old) = checkpoint(&app).await;
    assert_eq!(old.size(), 8);

    // The operator drops the triggers, rewrites leaf 3 and recomputes every stored hash,
    // so the database is self-consistent again, and carries on appending.
    {
        let mut conn = app.pool.get().expect("connection");
        let drop_triggers = match backend {
            Backend::Sqlite => {
                "DROP TRIGGER log_leaves_no_update; DROP TRIGGER log_hashes_no_update; \
                 DROP TRIGGER log_hashes_no_delete;"
            }
            Backend::Postgres => {
                "DROP TRIGGER log_leaves_no_update ON log_leaves; \
                 DROP TRIGGER log_hashes_no_update ON log_hashes; \
                 DROP TRIGGER log_hashes_no_delete ON log_hashes;"
            }
        };
        diesel::connection::SimpleConnection::batch_execute(&mut *conn, drop_triggers)
            .expect("triggers dropped");
        let mut forged = leaf(3);
        forged.terms = Some(json!({"from_gives": [], "to_gives": [{"category": "other",
                                   "description": "nothing was promised"}]}));
        let input = forged.input();
        let leaf_hash = BASE64_STANDARD.encode(tlog_tiles::record_hash(input.as_bytes()).0);
        diesel::sql_query(
            "UPDATE log_leaves SET leaf_input = $1, leaf_hash = $2 WHERE leaf_index = 3",
        )
        .bind::<diesel::sql_types::Text, _>(&input)
        .bind::<diesel::sql_types::Text, _>(&leaf_hash)
        .execute(&mut *conn)
        .expect("leaf rewritten");
        let inputs: Vec<String> = store::entries(&mut conn, 0, 100)
            .expect("entries")
            .into_iter()
            .map(|l| l.leaf_input)
            .collect();
        let mut recomputed = MemoryHashes::default();
        for (n, input) in inputs.iter().enumerate() {
            let new = tlog_tiles::stored_hashes(n as u64, input.as_bytes(), &recomputed).unwrap();
            recomputed.0.extend(new);
        }
        diesel::sql_query("DELETE FROM log_hashes")
            .execute(&mut *conn)
            .expect("hashes removed");
        for (index, h) in recomputed.0.iter().enumerate() {
            diesel::sql_query("INSERT INTO log_hashes (hash_index, hash) VALUES ($1, $2)")
                .bind::<diesel::sql_types::BigInt, _>(index as i64)
                .bind::<diesel::sql_types::Binary, _>(h.0.to_vec())
                .execute(&mut *conn)
                .expect("hash stored");
        }
    }
    append(&app, 4);

    let (_, new) = checkpoint(&app).await;
    assert_eq!(new.size(), 12);
    let resp = app
        .get(&format!("{CONSISTENCY}?first=8&second=12"), None)
        .await;
    resp.expect(200);
    let verdict = tlog_tiles::check_tree(&hashes(&resp), 12, *new.hash(), 8, *old.hash());
    assert!(verdict.is_err(), "the rewrite must not go unnoticed");
    // The server's own view is self-consistent: the lie shows only against the old checkpoint.
    let now_eight = app
        .get(&format!("{CONSISTENCY}?first=1&second=8"), None)
        .await;
    now_eight.expect(200);
}

/// Stored hashes in memory, by stored-hash index.
#[derive(Default)]
struct MemoryHashes(Vec<Hash>);

impl tlog_tiles::HashReader for MemoryHashes {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                self.0
                    .get(i as usize)
                    .copied()
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

backends!(
    checkpoints_are_signed_by_the_published_key,
    entries_rebuild_the_signed_root,
    proofs_verify_with_tlog_checkers,
    bad_parameters_are_refused_in_the_apis_words,
    sibling_instances_sign_with_one_key,
    a_configured_key_wins_and_a_foreign_one_is_refused,
    stored_leaves_and_hashes_cannot_be_changed,
    a_leaf_rewritten_behind_the_servers_back_breaks_consistency,
);

async fn concurrent_appends_queue_in_the_database(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let sibling = app.spawn_sibling().await;
    let pools = [app.pool.clone(), sibling.pool.clone()];
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let pool = pools[w % 2].clone();
            std::thread::spawn(move || {
                for i in 0..8 {
                    let mut conn = pool.get().expect("connection");
                    db::write_transaction(&mut conn, |c: &mut DbConnection| {
                        mutua::models::effects::emit(c, leaf(w * 100 + i))
                    })
                    .expect("append");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("writer");
    }
    let items = all_entries(&app, 100).await;
    assert_eq!(items.len(), 48);
    let inputs: Vec<String> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            assert_eq!(item["index"], json!(i));
            item["leaf_input"].as_str().unwrap().to_owned()
        })
        .collect();
    let (_, signed) = checkpoint(&sibling).await;
    assert_eq!((signed.size(), *signed.hash()), (48, root(&inputs)));
}

backends!(concurrent_appends_queue_in_the_database);

async fn instances_racing_to_the_first_key_agree_on_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Forget the key the first instance made, so two instances starting together both
    // find none and both generate one.
    match backend {
        Backend::Sqlite => {
            std::fs::remove_file(app.data_dir.join("log-signing-key")).expect("key file")
        }
        Backend::Postgres => {
            app.sql("DELETE FROM log_signing_keys");
        }
    }
    let (one, two) = tokio::join!(app.spawn_sibling(), app.spawn_sibling());
    let (one, two) = (verifier_key(&one).await, verifier_key(&two).await);
    assert_eq!(one, two);
    assert_ne!(one, verifier_key(&app).await, "a new key was made");
    append(&app, 2);
    let third = app.spawn_sibling().await;
    assert_eq!(verifier_key(&third).await, one);
}

backends!(instances_racing_to_the_first_key_agree_on_one);
