//! The transparency log as real agreements fill it: the leaves that accepting, completing
//! and cancelling write (exactly the documented keys, canonical, hashed as RFC 6962 says,
//! the terms and commitment the parties read, nothing of confidential terms in public),
//! the entries rebuilding the signed root with every inclusion and consistency proof,
//! `mutua verify` run as a process against the real server, and accepts racing on two
//! instances of one database.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use base64::prelude::*;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use signed_note::{Note, StandardVerifier, VerifierList};
use tlog_tiles::{Checkpoint, Hash};

use crate::backends;
use crate::deals::{
    accept, agreement, commitment, complete, exchange_terms, item, pair, proposal_body,
    read_agreement, third, Pair, PROPOSALS,
};
use crate::helpers::{Backend, Resp, TestApp};

backends!(
    real_agreements_append_the_documented_leaves,
    the_entries_rebuild_every_signed_root,
    mutua_verify_checks_real_agreements,
    racing_accepts_on_two_instances_take_consecutive_leaves,
);

const CHECKPOINT: &str = "/api/v1/transparency/checkpoint";
const PUBLIC_KEY: &str = "/api/v1/transparency/public-key";
const ENTRIES: &str = "/api/v1/transparency/entries";
const INCLUSION: &str = "/api/v1/transparency/proofs/inclusion";
const CONSISTENCY: &str = "/api/v1/transparency/proofs/consistency";

/// What the confidential agreement's parties exchange: text that appears nowhere else, so
/// any public response holding a piece of it leaked it.
const SECRET_GIVEN: &str = "Geheimrezept Kaiserschmarrn nach Oma Huber";
const SECRET_RECEIVED: &str = "Vertrauliche Lieferantenliste Bergkaese Allgaeu";
const SECRET_UNIT: &str = "Rezeptkarten";
/// Pieces of the secret text that must not show up on their own either.
const SECRET_FRAGMENTS: [&str; 7] = [
    SECRET_GIVEN,
    SECRET_RECEIVED,
    SECRET_UNIT,
    "Kaiserschmarrn",
    "Oma Huber",
    "Lieferantenliste",
    "Bergkaese",
];

fn confidential_terms() -> Value {
    json!({
        "from_gives": [{"category": "expertise", "description": SECRET_GIVEN, "quantity": 3, "unit": SECRET_UNIT}],
        "to_gives": [item("referral", SECRET_RECEIVED)],
    })
}

fn trial_terms() -> Value {
    json!({
        "from_gives": [{"category": "support", "description": "Probewoche Hausmeisterservice", "quantity": 5, "unit": "days"}],
        "to_gives": [],
    })
}

// ---------------------------------------------------------------------------------------
// The story every test but the race tells
// ---------------------------------------------------------------------------------------

/// One agreement of the story and the leaves it must have written.
struct Deal {
    id: String,
    kind: &'static str,
    confidential: bool,
    /// The terms as they were proposed.
    terms: Value,
    /// (leaf index, event), oldest first.
    leaves: Vec<(u64, &'static str)>,
}

/// A negotiated history: an exchange accepted then completed, another exchange accepted
/// then cancelled, a confidential exchange accepted, a trial accepted. `checkpoints[i]` is
/// the checkpoint served after the log's `i + 1`-th leaf, kept as a verifier would keep it.
struct Story {
    pair: Pair,
    completed: Deal,
    cancelled: Deal,
    confidential: Deal,
    trial: Deal,
    checkpoints: Vec<String>,
}

impl Story {
    fn deals(&self) -> [&Deal; 4] {
        [
            &self.completed,
            &self.cancelled,
            &self.confidential,
            &self.trial,
        ]
    }
}

/// Opens a proposal from `a` to `b` with these terms and has `b` accept it; the agreement id.
async fn agree(
    app: &TestApp,
    pair: &Pair,
    kind: &str,
    terms: &Value,
    confidential: bool,
) -> String {
    let opened = app
        .post(
            PROPOSALS,
            Some(&pair.a.owner.access),
            json!({
                "from_org_id": pair.a.id, "to_org_id": pair.b.id, "kind": kind,
                "message": "Gegenseitig und fair?", "terms": terms, "confidential": confidential,
            }),
        )
        .await;
    opened.expect(201);
    let accepted = accept(app, pair, &opened.str("id"), 1).await;
    assert_eq!(accepted.body["status"], json!("accepted"));
    accepted.str("agreement_id")
}

async fn story(app: &TestApp) -> Story {
    let pair = pair(app).await;
    let mut checkpoints = Vec::new();

    let completed_id = agreement(app, &pair, false).await;
    checkpoints.push(checkpoint_text(app).await);
    complete(app, &pair, &completed_id).await;
    checkpoints.push(checkpoint_text(app).await);

    let cancelled_id = agreement(app, &pair, false).await;
    checkpoints.push(checkpoint_text(app).await);
    app.post(
        &format!("/api/v1/agreements/{cancelled_id}/cancel"),
        Some(&pair.b.owner.access),
        json!({"reason": "Der Tagungsraum wird renoviert."}),
    )
    .await
    .expect(200);
    checkpoints.push(checkpoint_text(app).await);

    let confidential_id = agree(app, &pair, "exchange", &confidential_terms(), true).await;
    checkpoints.push(checkpoint_text(app).await);
    let trial_id = agree(app, &pair, "trial", &trial_terms(), false).await;
    checkpoints.push(checkpoint_text(app).await);

    Story {
        completed: Deal {
            id: completed_id,
            kind: "exchange",
            confidential: false,
            terms: exchange_terms(),
            leaves: vec![(0, "agreement.accepted"), (1, "agreement.completed")],
        },
        cancelled: Deal {
            id: cancelled_id,
            kind: "exchange",
            confidential: false,
            terms: exchange_terms(),
            leaves: vec![(2, "agreement.accepted"), (3, "agreement.cancelled")],
        },
        confidential: Deal {
            id: confidential_id,
            kind: "exchange",
            confidential: true,
            terms: confidential_terms(),
            leaves: vec![(4, "agreement.accepted")],
        },
        trial: Deal {
            id: trial_id,
            kind: "trial",
            confidential: false,
            terms: trial_terms(),
            leaves: vec![(5, "agreement.accepted")],
        },
        pair,
        checkpoints,
    }
}

// ---------------------------------------------------------------------------------------
// Reading the log, independently of the server's code
// ---------------------------------------------------------------------------------------

async fn checkpoint_text(app: &TestApp) -> String {
    let resp = app.get(CHECKPOINT, None).await;
    resp.expect(200);
    resp.text
}

async fn verifier_key(app: &TestApp) -> String {
    let resp = app.get(PUBLIC_KEY, None).await;
    resp.expect(200);
    let key = resp.str("verifier_key");
    assert!(
        key.starts_with(&format!("{}+", resp.str("origin"))),
        "the key is named by the origin: {}",
        resp.text
    );
    key
}

/// Checks the checkpoint's Ed25519 signature with the verifier key and parses the tree
/// head; the origin must be the key's name.
#[track_caller]
fn open(note: &str, vkey: &str) -> Checkpoint {
    let verifier = StandardVerifier::new(vkey).expect("verifier key parses");
    let parsed = Note::from_bytes(note.as_bytes()).expect("signed note parses");
    let (verified, unverified) = parsed
        .verify(&VerifierList::new(vec![Box::new(verifier)]))
        .unwrap_or_else(|e| panic!("checkpoint signature verifies: {e:?}\n{note}"));
    assert_eq!((verified.len(), unverified.len()), (1, 0), "{note}");
    let checkpoint = Checkpoint::from_bytes(parsed.text()).expect("checkpoint parses");
    assert_eq!(
        Some(checkpoint.origin()),
        vkey.split('+').next(),
        "origin is the key's name"
    );
    assert_eq!(verified[0].name(), checkpoint.origin());
    checkpoint
}

/// Every entry, page by page through `next_cursor`, with small pages.
async fn all_entries(app: &TestApp) -> Vec<Value> {
    let mut items = Vec::new();
    let mut path = format!("{ENTRIES}?limit=2");
    loop {
        let resp = app.get(&path, None).await;
        resp.expect(200);
        items.extend(resp.body["items"].as_array().expect("items").clone());
        match resp.body["next_cursor"].as_str() {
            Some(next) => path = format!("{ENTRIES}?limit=2&cursor={next}"),
            None => break,
        }
    }
    for (i, item) in items.iter().enumerate() {
        assert_eq!(item["index"], json!(i), "entries in log order from 0");
    }
    items
}

fn input_of(entry: &Value) -> String {
    entry["leaf_input"]
        .as_str()
        .unwrap_or_else(|| panic!("leaf_input in {entry}"))
        .to_owned()
}

/// SHA-256(0x00 ‖ input), written out with sha2 rather than taken from `tlog_tiles`.
fn rfc6962_leaf_hash(input: &str) -> [u8; 32] {
    Sha256::new()
        .chain_update([0u8])
        .chain_update(input.as_bytes())
        .finalize()
        .into()
}

/// RFC 6962 §2.1 root over leaf hashes (largest power of two below n splits the tree).
fn root_of(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => tlog_tiles::EMPTY_HASH,
        1 => leaves[0],
        n => {
            let k = 1usize << (n - 1).ilog2();
            tlog_tiles::node_hash(root_of(&leaves[..k]), root_of(&leaves[k..]))
        }
    }
}

/// Stored hashes in memory, by stored-hash index, as `tlog_tiles::stored_hashes` lays them.
#[derive(Default)]
struct MemoryHashes(Vec<Hash>);

impl MemoryHashes {
    fn of(inputs: &[String]) -> MemoryHashes {
        let mut hashes = MemoryHashes::default();
        for (n, input) in inputs.iter().enumerate() {
            let new = tlog_tiles::stored_hashes(n as u64, input.as_bytes(), &hashes)
                .expect("stored hashes");
            hashes.0.extend(new);
        }
        hashes
    }
}

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

fn proof_hashes(resp: &Resp) -> Vec<Hash> {
    resp.body["hashes"]
        .as_array()
        .unwrap_or_else(|| panic!("hashes in {}", resp.text))
        .iter()
        .map(|h| Hash::parse_hash(h.as_str().expect("a string")).expect("a base64 hash"))
        .collect()
}

fn instant(text: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text.as_str().unwrap_or_else(|| panic!("a time: {text}")))
        .unwrap_or_else(|e| panic!("{text} is RFC 3339: {e}"))
        .with_timezone(&Utc)
}

/// Asserts that no piece of the confidential terms is in a public response.
#[track_caller]
fn assert_no_secret(what: &str, text: &str) {
    for fragment in SECRET_FRAGMENTS {
        assert!(
            !text.contains(fragment),
            "{what} reveals `{fragment}` of confidential terms: {text}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// 1. The leaves of a real flow
// ---------------------------------------------------------------------------------------

/// The documented keys of a leaf: `terms` only when the agreement is not confidential.
fn leaf_keys(confidential: bool) -> BTreeSet<&'static str> {
    let mut keys = BTreeSet::from([
        "agreement_id",
        "event",
        "logged_at",
        "from_org_id",
        "to_org_id",
        "kind",
        "terms_commitment",
    ]);
    if !confidential {
        keys.insert("terms");
    }
    keys
}

/// Checks one entry against the agreement as a party reads it (`party`) and as the public
/// reads it (`public`).
#[track_caller]
fn check_leaf(entry: &Value, event: &str, deal: &Deal, party: &Value, public: &Value) {
    let input = input_of(entry);
    let what = format!("leaf {} ({event} of {})", entry["index"], deal.id);

    // Exactly the documented keys, in RFC 8785 canonical form, hashed as RFC 6962 says.
    let leaf: Map<String, Value> = serde_json::from_str(&input)
        .unwrap_or_else(|e| panic!("{what}: leaf_input is not a JSON object ({e}): {input}"));
    let keys: BTreeSet<&str> = leaf.keys().map(String::as_str).collect();
    assert_eq!(keys, leaf_keys(deal.confidential), "{what}: {input}");
    let canonical = serde_json_canonicalizer::to_string(&Value::Object(leaf.clone()))
        .expect("the leaf canonicalises");
    assert_eq!(canonical, input, "{what}: leaf_input is its own JCS form");
    assert_eq!(
        entry["leaf_hash"],
        json!(BASE64_STANDARD.encode(rfc6962_leaf_hash(&input))),
        "{what}: leaf_hash = base64(SHA-256(0x00 ‖ leaf_input))"
    );

    // What it records is what the entry and the agreement say.
    assert_eq!(leaf["agreement_id"], json!(deal.id), "{what}");
    assert_eq!(entry["agreement_id"], json!(deal.id), "{what}");
    assert_eq!(leaf["event"], json!(event), "{what}");
    assert_eq!(entry["event"], json!(event), "{what}");
    assert_eq!(leaf["from_org_id"], party["from_org_id"], "{what}");
    assert_eq!(leaf["to_org_id"], party["to_org_id"], "{what}");
    assert_eq!(leaf["kind"], json!(deal.kind), "{what}");
    assert_eq!(leaf["kind"], party["kind"], "{what}");

    // logged_at: six fractional digits and Z, the entry's instant, and the instant the
    // agreement records for the event.
    let logged_at = leaf["logged_at"].as_str().expect("logged_at is a string");
    assert_eq!(
        logged_at.len(),
        "2026-12-01T16:50:00.123456Z".len(),
        "{what}: {logged_at}"
    );
    assert!(
        logged_at.ends_with('Z') && logged_at.as_bytes()[19] == b'.',
        "{what}: {logged_at}"
    );
    let at = instant(&leaf["logged_at"]);
    assert_eq!(
        at,
        instant(&entry["logged_at"]),
        "{what}: entry's logged_at"
    );
    let recorded = match event {
        "agreement.accepted" => "created_at",
        "agreement.completed" => "completed_at",
        "agreement.cancelled" => "cancelled_at",
        other => panic!("unknown event {other}"),
    };
    assert_eq!(
        at,
        instant(&party[recorded]),
        "{what}: the agreement's {recorded}"
    );

    // The commitment is the agreement's, and opens with the party's terms and salt.
    let salt = party["terms_salt"]
        .as_str()
        .expect("parties read terms_salt");
    assert_eq!(
        leaf["terms_commitment"], party["terms_commitment"],
        "{what}"
    );
    assert_eq!(
        leaf["terms_commitment"], public["terms_commitment"],
        "{what}"
    );
    assert_eq!(
        leaf["terms_commitment"],
        json!(commitment(salt, &party["terms"])),
        "{what}: base64(SHA-256(salt ‖ JCS(terms)))"
    );

    // Terms: the parties' terms in a public leaf, none in a confidential one.
    assert_eq!(party["terms"], deal.terms, "{what}: the agreed terms");
    if deal.confidential {
        assert!(leaf.get("terms").is_none(), "{what}: {input}");
        assert_no_secret(&what, &input);
        assert!(!input.contains(salt), "{what}: the salt is not published");
    } else {
        assert_eq!(
            leaf["terms"], party["terms"],
            "{what}: terms as parties read them"
        );
        assert_eq!(
            leaf["terms"], public["terms"],
            "{what}: terms as the public reads them"
        );
    }
}

async fn real_agreements_append_the_documented_leaves(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let story = story(&app).await;
    let entries = all_entries(&app).await;
    assert_eq!(entries.len(), 6, "one leaf per event");

    let mut seen = BTreeSet::new();
    for deal in story.deals() {
        let party = read_agreement(&app, Some(&story.pair.a.owner.access), &deal.id).await;
        let other_party = read_agreement(&app, Some(&story.pair.b.owner.access), &deal.id).await;
        let public = read_agreement(&app, None, &deal.id).await;
        assert_eq!(party["confidential"], json!(deal.confidential));
        for field in ["terms", "terms_salt", "terms_commitment"] {
            assert_eq!(
                party[field], other_party[field],
                "both parties read one {field}"
            );
        }
        assert!(public.get("terms_salt").is_none(), "{public}");

        // The agreement names exactly its leaves, in order, in every view.
        let expected: Vec<Value> = deal
            .leaves
            .iter()
            .map(|(index, event)| json!({"leaf_index": index, "event": event}))
            .collect();
        assert_eq!(party["log_entries"], json!(expected), "{}", deal.id);
        assert_eq!(public["log_entries"], json!(expected), "{}", deal.id);
        let mine: Vec<(u64, String)> = entries
            .iter()
            .filter(|e| e["agreement_id"] == json!(deal.id))
            .map(|e| {
                (
                    e["index"].as_u64().unwrap(),
                    e["event"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let named: Vec<(u64, String)> = deal
            .leaves
            .iter()
            .map(|(i, e)| (*i, e.to_string()))
            .collect();
        assert_eq!(
            mine, named,
            "the log holds exactly the leaves the agreement names"
        );

        for (index, event) in &deal.leaves {
            check_leaf(&entries[*index as usize], event, deal, &party, &public);
            assert!(seen.insert(*index), "leaf {index} belongs to one agreement");
        }
    }
    assert_eq!(
        seen.len(),
        entries.len(),
        "every leaf is one of the story's"
    );

    // The confidential agreement: its parties read the terms; no public response holds any
    // of them (the terms were proposed with text used nowhere else).
    let confidential = &story.confidential.id;
    let party = read_agreement(&app, Some(&story.pair.b.owner.access), confidential).await;
    assert_eq!(party["terms"], confidential_terms());
    let salt = party["terms_salt"].as_str().unwrap().to_owned();
    let public = read_agreement(&app, None, confidential).await;
    assert!(public.get("terms").is_none(), "{public}");
    assert!(public.get("terms_salt").is_none(), "{public}");
    assert!(public.get("cancel_reason").is_none(), "{public}");
    let outsider = third(&app).await;
    let proposal = party["proposal_id"].as_str().unwrap().to_owned();
    let (a, b) = (&story.pair.a.id, &story.pair.b.id);
    let mut public_paths = vec![
        format!("/api/v1/agreements/{confidential}"),
        format!("/api/v1/agreements/{confidential}/endorsements"),
        "/api/v1/agreements?limit=100".to_owned(),
        format!("/api/v1/agreements?org_id={a}&limit=100"),
        format!("/api/v1/orgs/{a}"),
        format!("/api/v1/orgs/{b}"),
        format!("/api/v1/orgs/{a}/reciprocity"),
        format!("/api/v1/orgs/{b}/reciprocity"),
        format!("/api/v1/orgs/{a}/endorsements"),
        "/api/v1/orgs?limit=100".to_owned(),
        "/api/v1/listings?limit=100".to_owned(),
        "/api/v1/modlog".to_owned(),
        format!("{ENTRIES}?limit=100"),
        format!("{ENTRIES}?start=4&limit=1"),
        format!("{INCLUSION}?leaf_index=4"),
        format!("{CONSISTENCY}?first=4"),
        CHECKPOINT.to_owned(),
        "/metrics".to_owned(),
    ];
    for path in &public_paths {
        let resp = app.get(path, None).await;
        assert!(resp.status < 500, "{path}: {}", resp.text);
        assert_no_secret(path, &resp.text);
        assert!(!resp.text.contains(&salt), "{path} reveals the salt");
    }
    // Nor to a signed-in outsider, whatever it asks.
    public_paths.extend([
        format!("{PROPOSALS}/{proposal}"),
        format!("{PROPOSALS}?limit=100"),
        format!("/api/v1/orgs/{a}/agreements"),
        format!("/api/v1/orgs/{a}/partners"),
        format!("/api/v1/orgs/{a}/events"),
    ]);
    for path in &public_paths {
        let resp = app.get(path, Some(&outsider.owner.access)).await;
        assert!(resp.status < 500, "{path}: {}", resp.text);
        assert_no_secret(path, &resp.text);
        assert!(!resp.text.contains(&salt), "{path} reveals the salt");
    }
    let outsiders_view = read_agreement(&app, Some(&outsider.owner.access), confidential).await;
    assert!(outsiders_view.get("terms").is_none(), "{outsiders_view}");
    assert!(
        outsiders_view.get("terms_salt").is_none(),
        "{outsiders_view}"
    );
}

// ---------------------------------------------------------------------------------------
// 2. The entries rebuild the signed root; every proof verifies
// ---------------------------------------------------------------------------------------

async fn the_entries_rebuild_every_signed_root(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let story = story(&app).await;
    let vkey = verifier_key(&app).await;
    let entries = all_entries(&app).await;
    let inputs: Vec<String> = entries.iter().map(input_of).collect();
    let leaf_hashes: Vec<Hash> = inputs
        .iter()
        .map(|input| Hash(rfc6962_leaf_hash(input)))
        .collect();
    for (entry, hash) in entries.iter().zip(&leaf_hashes) {
        assert_eq!(entry["leaf_hash"], json!(hash.to_string()));
        assert_eq!(*hash, tlog_tiles::record_hash(input_of(entry).as_bytes()));
    }
    let stored = MemoryHashes::of(&inputs);
    let n = entries.len() as u64;
    assert_eq!(n, 6);

    // The current checkpoint signs the root of exactly these entries.
    let current = open(&checkpoint_text(&app).await, &vkey);
    assert_eq!(current.size(), n);
    assert_eq!(*current.hash(), root_of(&leaf_hashes));
    assert_eq!(
        *current.hash(),
        tlog_tiles::tree_hash(n, &stored).expect("tree hash")
    );
    assert_eq!(
        story
            .checkpoints
            .last()
            .map(|c| open(c, &vkey).hash().to_owned()),
        Some(*current.hash())
    );

    // Every checkpoint kept along the way signed the prefix the entries still show: the log
    // only grew.
    for (i, note) in story.checkpoints.iter().enumerate() {
        let kept = open(note, &vkey);
        let size = i as u64 + 1;
        assert_eq!(kept.size(), size, "checkpoint after leaf {i}");
        assert_eq!(*kept.hash(), root_of(&leaf_hashes[..size as usize]));
        assert_eq!(*kept.hash(), tlog_tiles::tree_hash(size, &stored).unwrap());
    }
    let first = open(&story.checkpoints[0], &vkey);
    assert_eq!(
        *first.hash(),
        leaf_hashes[0],
        "one leaf: the root is its hash"
    );

    // Inclusion of every leaf in the current tree (the default size and named), and in
    // every kept tree that holds it.
    for (index, hash) in leaf_hashes.iter().enumerate() {
        let index = index as u64;
        for path in [
            format!("{INCLUSION}?leaf_index={index}"),
            format!("{INCLUSION}?leaf_index={index}&tree_size={n}"),
        ] {
            let resp = app.get(&path, None).await;
            resp.expect(200);
            assert_eq!(resp.body["leaf_index"], json!(index));
            assert_eq!(resp.body["tree_size"], json!(n));
            assert_eq!(resp.body["leaf_hash"], json!(hash.to_string()));
            let proof = proof_hashes(&resp);
            assert_eq!(proof, tlog_tiles::prove_record(n, index, &stored).unwrap());
            tlog_tiles::check_record(&proof, n, *current.hash(), index, *hash)
                .unwrap_or_else(|e| panic!("{path}: {e}"));
        }
        for note in &story.checkpoints[index as usize..] {
            let kept = open(note, &vkey);
            let resp = app
                .get(
                    &format!("{INCLUSION}?leaf_index={index}&tree_size={}", kept.size()),
                    None,
                )
                .await;
            resp.expect(200);
            tlog_tiles::check_record(
                &proof_hashes(&resp),
                kept.size(),
                *kept.hash(),
                index,
                *hash,
            )
            .unwrap_or_else(|e| panic!("leaf {index} in {}: {e}", kept.size()));
        }
    }

    // Consistency from the checkpoint kept after the first accept to the current one (the
    // default second size and named), and between every two kept checkpoints.
    for path in [
        format!("{CONSISTENCY}?first=1"),
        format!("{CONSISTENCY}?first=1&second={n}"),
    ] {
        let resp = app.get(&path, None).await;
        resp.expect(200);
        assert_eq!(
            (resp.body["first"].clone(), resp.body["second"].clone()),
            (json!(1), json!(n))
        );
        let proof = proof_hashes(&resp);
        assert_eq!(proof, tlog_tiles::prove_tree(n, 1, &stored).unwrap());
        tlog_tiles::check_tree(&proof, n, *current.hash(), 1, *first.hash())
            .unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    for (i, older) in story.checkpoints.iter().enumerate() {
        let older = open(older, &vkey);
        for newer in &story.checkpoints[i..] {
            let newer = open(newer, &vkey);
            let resp = app
                .get(
                    &format!(
                        "{CONSISTENCY}?first={}&second={}",
                        older.size(),
                        newer.size()
                    ),
                    None,
                )
                .await;
            resp.expect(200);
            tlog_tiles::check_tree(
                &proof_hashes(&resp),
                newer.size(),
                *newer.hash(),
                older.size(),
                *older.hash(),
            )
            .unwrap_or_else(|e| panic!("{} → {}: {e}", older.size(), newer.size()));
        }
    }
}

// ---------------------------------------------------------------------------------------
// 3. `mutua verify` against the real server
// ---------------------------------------------------------------------------------------

/// Runs `mutua verify` off the test's runtime (the server under test keeps serving).
async fn verify(args: Vec<String>) -> Output {
    actix_web::rt::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_mutua"))
            .arg("verify")
            .args(&args)
            .env_remove("MUTUA_TOKEN")
            .output()
            .expect("mutua runs")
    })
    .await
    .expect("verify ran")
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|a| a.to_string()).collect()
}

#[track_caller]
fn passes(output: &Output) -> String {
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
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
fn has_line(out: &str, start: &str) {
    assert!(
        out.lines().any(|l| l.starts_with(start)),
        "no line starting `{start}` in\n{out}"
    );
}

fn save(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("file written");
    path.to_string_lossy().into_owned()
}

async fn mutua_verify_checks_real_agreements(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let story = story(&app).await;
    let dir = tempfile::tempdir().expect("dir");
    let vkey = verifier_key(&app).await;
    let old = save(dir.path(), "after-first-accept", &story.checkpoints[0]);

    // The completed agreement, from the public's side, against the checkpoint kept after
    // its accept.
    let completed = &story.completed.id;
    let out = passes(
        &verify(args(&[
            "agreement",
            completed,
            "--server",
            &app.address,
            "--key",
            &vkey,
            "--old-checkpoint",
            &old,
        ]))
        .await,
    );
    for line in [
        "PASS checkpoint: mutua.local/transparency with 6 leaves",
        "PASS leaf 0 (agreement.accepted)",
        "PASS inclusion of leaf 0",
        "PASS leaf 1 (agreement.completed)",
        "PASS inclusion of leaf 1",
        "PASS old checkpoint: mutua.local/transparency with 1 leaves",
        "PASS consistency 1 → 6",
    ] {
        has_line(&out, line);
    }
    // With a party's token the terms commitment is opened too.
    let out = passes(
        &verify(args(&[
            "agreement",
            completed,
            "--server",
            &app.address,
            "--key",
            &vkey,
            "--token",
            &story.pair.a.owner.access,
        ]))
        .await,
    );
    has_line(&out, "PASS terms commitment");

    // The cancelled one: both of its leaves.
    let out = passes(
        &verify(args(&[
            "agreement",
            &story.cancelled.id,
            "--server",
            &app.address,
            "--key",
            &vkey,
            "--old-checkpoint",
            &save(dir.path(), "after-three", &story.checkpoints[2]),
        ]))
        .await,
    );
    has_line(&out, "PASS leaf 2 (agreement.accepted)");
    has_line(&out, "PASS leaf 3 (agreement.cancelled)");
    has_line(&out, "PASS consistency 3 → 6");

    // The confidential one: the leaf checks pass for anyone; a party's token (its owner's
    // session, or the other side's read key) opens the commitment with the terms it reads.
    let confidential = &story.confidential.id;
    let out = passes(
        &verify(args(&[
            "agreement",
            confidential,
            "--server",
            &app.address,
            "--key",
            &vkey,
        ]))
        .await,
    );
    has_line(&out, "PASS leaf 4 (agreement.accepted)");
    has_line(&out, "PASS inclusion of leaf 4");
    let b_key = app
        .api_key(&story.pair.b.id, &story.pair.b.owner, &["read"])
        .await;
    for token in [story.pair.a.owner.access.as_str(), b_key.as_str()] {
        let out = passes(
            &verify(args(&[
                "agreement",
                confidential,
                "--server",
                &app.address,
                "--key",
                &vkey,
                "--old-checkpoint",
                &old,
                "--token",
                token,
            ]))
            .await,
        );
        has_line(&out, "PASS leaf 4 (agreement.accepted)");
        has_line(&out, "PASS terms commitment");
        has_line(&out, "PASS consistency 1 → 6");
    }

    // The party's saved agreement proves the terms offline; altered terms do not.
    let saved = app
        .get(
            &format!("/api/v1/agreements/{confidential}"),
            Some(&story.pair.a.owner.access),
        )
        .await;
    saved.expect(200);
    assert_eq!(saved.body["terms"], confidential_terms());
    let file = save(dir.path(), "agreement.json", &saved.text);
    let out = passes(&verify(args(&["commitment", "--agreement", &file])).await);
    has_line(&out, "PASS terms commitment");
    // Key order and spacing do not matter: the terms are canonicalised.
    let pretty = save(
        dir.path(),
        "pretty.json",
        &serde_json::to_string_pretty(&saved.body).unwrap(),
    );
    passes(&verify(args(&["commitment", "--agreement", &pretty])).await);
    let mut alterations = Vec::new();
    let mut more = saved.body.clone();
    more["terms"]["from_gives"][0]["quantity"] = json!(4);
    alterations.push(("quantity", more));
    let mut other_text = saved.body.clone();
    other_text["terms"]["to_gives"][0]["description"] =
        json!(format!("{SECRET_RECEIVED} und Tirol"));
    alterations.push(("description", other_text));
    let mut dropped = saved.body.clone();
    dropped["terms"]["to_gives"] = json!([]);
    alterations.push(("dropped item", dropped));
    for (what, altered) in alterations {
        let file = save(dir.path(), "altered.json", &altered.to_string());
        let output = verify(args(&["commitment", "--agreement", &file])).await;
        let out = String::from_utf8_lossy(&output.stdout).into_owned();
        assert_eq!(output.status.code(), Some(1), "{what}: {out}");
        has_line(&out, "FAIL terms commitment");
        assert!(out.contains("do not give this commitment"), "{what}: {out}");
    }
}

// ---------------------------------------------------------------------------------------
// 4. Accepts racing on two instances of one database
// ---------------------------------------------------------------------------------------

/// `POST /proposals/{id}/accept` of revision 1 on `instance`, as `token`.
async fn accept_on(instance: &TestApp, token: &str, proposal: &str) -> Resp {
    instance
        .post(
            &format!("{PROPOSALS}/{proposal}/accept"),
            Some(token),
            json!({"revision": 1}),
        )
        .await
}

async fn racing_accepts_on_two_instances_take_consecutive_leaves(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let sibling = app.spawn_sibling().await;
    let pair = pair(&app).await;
    let vkey = verifier_key(&app).await;
    assert_eq!(verifier_key(&sibling).await, vkey, "one log, one key");
    let dir = tempfile::tempdir().expect("dir");

    let mut agreements: Vec<String> = Vec::new();
    for round in 0..3u64 {
        let mut proposals = Vec::new();
        for _ in 0..2 {
            let opened = app
                .post(
                    PROPOSALS,
                    Some(&pair.a.owner.access),
                    proposal_body(&pair, "exchange", exchange_terms(), round == 1),
                )
                .await;
            opened.expect(201);
            proposals.push(opened.str("id"));
        }
        let before = checkpoint_text(&app).await;
        let token = &pair.b.owner.access;
        let (first, second) = tokio::join!(
            accept_on(&app, token, &proposals[0]),
            accept_on(&sibling, token, &proposals[1])
        );
        let mut ids = Vec::new();
        for accepted in [first, second] {
            accepted.expect(200);
            assert_eq!(accepted.body["status"], json!("accepted"));
            ids.push(accepted.str("agreement_id"));
        }
        assert_ne!(ids[0], ids[1]);

        // One leaf each, at the two indexes after the previous rounds' leaves.
        let mut indexes = Vec::new();
        for id in &ids {
            let stored = read_agreement(&sibling, None, id).await;
            let entries = stored["log_entries"].as_array().expect("log_entries");
            assert_eq!(entries.len(), 1, "{stored}");
            assert_eq!(entries[0]["event"], json!("agreement.accepted"));
            indexes.push(entries[0]["leaf_index"].as_u64().unwrap());
        }
        indexes.sort();
        assert_eq!(indexes, [2 * round, 2 * round + 1], "round {round}");
        agreements.extend(ids);

        // Both instances serve one checkpoint, consistent with the one before the race,
        // and its root is the root of the entries.
        let ours = checkpoint_text(&app).await;
        assert_eq!(ours, checkpoint_text(&sibling).await, "round {round}");
        let signed = open(&ours, &vkey);
        let entries = all_entries(&sibling).await;
        assert_eq!(signed.size(), entries.len() as u64);
        assert_eq!(signed.size(), 2 * round + 2);
        let leaf_hashes: Vec<Hash> = entries
            .iter()
            .map(|e| Hash(rfc6962_leaf_hash(&input_of(e))))
            .collect();
        for (entry, hash) in entries.iter().zip(&leaf_hashes) {
            assert_eq!(entry["leaf_hash"], json!(hash.to_string()));
        }
        assert_eq!(*signed.hash(), root_of(&leaf_hashes), "round {round}");
        let old = open(&before, &vkey);
        if old.size() > 0 {
            let resp = app
                .get(
                    &format!(
                        "{CONSISTENCY}?first={}&second={}",
                        old.size(),
                        signed.size()
                    ),
                    None,
                )
                .await;
            resp.expect(200);
            tlog_tiles::check_tree(
                &proof_hashes(&resp),
                signed.size(),
                *signed.hash(),
                old.size(),
                *old.hash(),
            )
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        }
        let before_file = save(dir.path(), &format!("before-{round}"), &before);

        // Each raced agreement verifies with `mutua verify`, against either instance.
        for (id, server) in agreements[agreements.len() - 2..]
            .iter()
            .zip([&app.address, &sibling.address])
        {
            let out = passes(
                &verify(args(&[
                    "agreement",
                    id,
                    "--server",
                    server,
                    "--key",
                    &vkey,
                    "--old-checkpoint",
                    &before_file,
                    "--token",
                    &pair.b.owner.access,
                ]))
                .await,
            );
            has_line(&out, "PASS terms commitment");
            has_line(
                &out,
                &format!("PASS consistency {} → {}", old.size(), signed.size()),
            );
        }
    }

    // All leaves, whatever raced: each agreement's one leaf, consecutive from 0.
    let entries = all_entries(&app).await;
    assert_eq!(entries.len(), 6);
    let logged: BTreeSet<String> = entries
        .iter()
        .map(|e| e["agreement_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(logged, agreements.iter().cloned().collect::<BTreeSet<_>>());
    assert_eq!(app.count("SELECT size AS n FROM log_state"), 6);
}

// ---------------------------------------------------------------------------------------
// 5. A leaf that misrecords the terms is caught by `mutua verify agreement`
// ---------------------------------------------------------------------------------------

backends!(a_leaf_misrecording_the_terms_fails_verification);

/// Appends, through the store as the agreement endpoints do, a further leaf of the
/// agreement whose first leaf is `entry`: the same parties, kind and commitment, but with
/// `terms` (`None`: none) — what a faulty or dishonest writer could log.
fn append_misrecorded(app: &TestApp, entry: &Value, terms: Option<Value>) {
    let real: Value = serde_json::from_str(&input_of(entry)).expect("leaf JSON");
    let text = |key: &str| real[key].as_str().expect("a string").to_owned();
    let leaf = mutua::transparency::Leaf {
        agreement_id: text("agreement_id"),
        event: mutua::transparency::LogEvent::Completed,
        logged_at: mutua::models::now(),
        from_org_id: text("from_org_id"),
        to_org_id: text("to_org_id"),
        kind: text("kind"),
        terms_commitment: text("terms_commitment"),
        terms,
    };
    let mut conn = app.pool.get().expect("connection");
    mutua::db::write_transaction(&mut conn, |c| mutua::models::effects::emit(c, leaf))
        .expect("leaf appended");
}

async fn a_leaf_misrecording_the_terms_fails_verification(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = pair(&app).await;
    let vkey = verifier_key(&app).await;
    let public = agreement(&app, &pair, false).await;
    let confidential = agree(&app, &pair, "exchange", &confidential_terms(), true).await;
    let entries = all_entries(&app).await;
    let verify_agreement = |id: &str| {
        args(&[
            "agreement",
            id,
            "--server",
            &app.address,
            "--key",
            &vkey,
            "--token",
            &pair.a.owner.access,
        ])
    };
    // As the real flow wrote them, both verify, commitment included.
    for id in [&public, &confidential] {
        has_line(
            &passes(&verify(verify_agreement(id)).await),
            "PASS terms commitment",
        );
    }

    // A public leaf with terms other than the agreed ones (whose commitment it still
    // carries), and a leaf publishing a confidential agreement's terms.
    let mut other_terms = exchange_terms();
    other_terms["to_gives"][0]["quantity"] = json!(1);
    append_misrecorded(&app, &entries[0], Some(other_terms));
    append_misrecorded(&app, &entries[1], Some(confidential_terms()));
    for (id, leaf, reason) in [
        (&public, 2, "differ from the agreement's"),
        (
            &confidential,
            3,
            "publishes the terms of a confidential agreement",
        ),
    ] {
        let output = verify(verify_agreement(id)).await;
        let out = String::from_utf8_lossy(&output.stdout).into_owned();
        assert_eq!(output.status.code(), Some(1), "{out}");
        has_line(&out, &format!("FAIL leaf {leaf} (agreement.completed)"));
        assert!(out.contains(reason), "{out}");
        // Everything else about the leaf is in order: only the terms are wrong.
        has_line(&out, &format!("PASS inclusion of leaf {leaf}"));
        has_line(&out, "PASS terms commitment");
        assert_eq!(out.matches("FAIL").count(), 1, "{out}");
    }
}
