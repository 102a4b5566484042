//! Known-answer tests: the log's hashing, proofs, checkpoints and keys against vectors of
//! implementations we did not write.
//!
//! - RFC 6962 trees and proofs from transparency-dev/merkle (`testonly/constants.go` and
//!   the probe files of `testdata/inclusion` and `testdata/consistency`, commit
//!   417fb0c, Apache-2.0, copied whole into `testdata/`): every probe through our
//!   verifier, and the store's roots and proofs for the same leaves.
//! - Go's golang.org/x/mod/sumdb (`note/note_test.go`, `tlog/note_test.go`, commit
//!   fe2ec04, BSD-3-Clause): a signed-note key pair, its verifier key and a signature, and
//!   the checkpoint text format.
//! - Every pair of sizes up to 64 from the database store, and every proof with one hash
//!   altered, removed or added.

use base64::prelude::*;
use diesel::{Connection, SqliteConnection};
use serde::Deserialize;
use signed_note::{Note, StandardVerifier, VerifierList};
use tlog_tiles::{Checkpoint, Hash};

use super::signing::LogSigner;
use super::store;
use super::verify;
use crate::db::{self, DbConnection};

const INCLUSION: &str = include_str!("testdata/transparency-dev-inclusion.json");
const CONSISTENCY: &str = include_str!("testdata/transparency-dev-consistency.json");

/// transparency-dev/merkle `testonly.LeafInputs()` (hex).
const LEAF_INPUTS: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// transparency-dev/merkle `testonly.RootHashes()`: the roots of the trees of 0..=8 of
/// those leaves (hex).
const ROOT_HASHES: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

#[derive(Deserialize)]
struct Vectors<T> {
    cases: Vec<T>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InclusionProbe {
    file: String,
    leaf_idx: u64,
    tree_size: u64,
    root: Option<String>,
    leaf_hash: Option<String>,
    proof: Option<Vec<String>>,
    want_err: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConsistencyProbe {
    file: String,
    size1: u64,
    size2: u64,
    root1: Option<String>,
    root2: Option<String>,
    proof: Option<Vec<String>>,
    want_err: bool,
}

/// A probe's base64 hash; the vectors' empty, short and garbage-padded ones fail here.
fn probe_hash(text: &Option<String>) -> Result<Hash, verify::Failure> {
    verify::parse_hash(text.as_deref().unwrap_or_default(), "probe hash")
}

fn probe_checkpoint(size: u64, root: Hash) -> Checkpoint {
    Checkpoint::new("probe", size, root, "").unwrap()
}

fn hex_hash(text: &str) -> Hash {
    Hash(hex::decode(text).unwrap().try_into().unwrap())
}

fn memory_log() -> DbConnection {
    let mut conn = DbConnection::Sqlite(SqliteConnection::establish(":memory:").unwrap());
    db::migrate(&mut conn).unwrap();
    conn
}

fn append_records(conn: &mut DbConnection, records: &[Hash]) {
    db::write_transaction(conn, |c| store::append_records(c, records)).unwrap();
}

#[test]
fn every_transparency_dev_inclusion_probe_has_its_verdict() {
    let vectors: Vectors<InclusionProbe> = serde_json::from_str(INCLUSION).unwrap();
    assert_eq!(vectors.cases.len(), 98);
    for probe in &vectors.cases {
        let verdict = (|| {
            let root = probe_hash(&probe.root)?;
            let leaf = probe_hash(&probe.leaf_hash)?;
            let proof = verify::parse_hashes(probe.proof.as_deref().unwrap_or_default())?;
            verify::check_inclusion(
                &probe_checkpoint(probe.tree_size, root),
                probe.leaf_idx,
                leaf,
                &proof,
            )
        })();
        assert_eq!(
            verdict.is_err(),
            probe.want_err,
            "{}: {verdict:?}",
            probe.file
        );
    }
}

/// Probes whose "roots" are placeholder strings of other lengths than a SHA-256 hash,
/// which transparency-dev compares as bytes and accepts when equal. A checkpoint can only
/// carry a 32-byte root, so our verifier refuses them before any proof is run.
const PLACEHOLDER_ROOTS: [&str; 1] =
    ["testdata/consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"];

#[test]
fn every_transparency_dev_consistency_probe_has_its_verdict() {
    let vectors: Vectors<ConsistencyProbe> = serde_json::from_str(CONSISTENCY).unwrap();
    assert_eq!(vectors.cases.len(), 98);
    for probe in &vectors.cases {
        if PLACEHOLDER_ROOTS.contains(&probe.file.as_str()) {
            assert!(probe_hash(&probe.root1).is_err() && !probe.want_err);
            continue;
        }
        let verdict = (|| {
            let old = probe_checkpoint(probe.size1, probe_hash(&probe.root1)?);
            let new = probe_checkpoint(probe.size2, probe_hash(&probe.root2)?);
            let proof = verify::parse_hashes(probe.proof.as_deref().unwrap_or_default())?;
            verify::check_consistency(&old, &new, &proof)
        })();
        assert_eq!(
            verdict.is_err(),
            probe.want_err,
            "{}: {verdict:?}",
            probe.file
        );
    }
}

#[test]
fn the_store_gives_the_reference_roots_and_proofs() {
    let mut conn = memory_log();
    let leaves: Vec<Hash> = LEAF_INPUTS
        .iter()
        .map(|input| tlog_tiles::record_hash(&hex::decode(input).unwrap()))
        .collect();
    // Appended one at a time and in batches, as the API and the seed do.
    append_records(&mut conn, &leaves[..1]);
    append_records(&mut conn, &leaves[1..3]);
    append_records(&mut conn, &leaves[3..]);
    for (size, root) in ROOT_HASHES.iter().enumerate() {
        assert_eq!(
            store::tree_hash(&mut conn, size as u64).unwrap(),
            hex_hash(root),
            "size {size}"
        );
    }
    // The happy-path probes are proofs in these very trees: the store must give them
    // hash for hash.
    let roots: Vec<String> = ROOT_HASHES
        .iter()
        .map(|r| BASE64_STANDARD.encode(hex::decode(r).unwrap()))
        .collect();
    let in_our_tree = |size: u64, root: &Option<String>| {
        size <= 8 && root.as_deref() == Some(roots[size as usize].as_str())
    };
    let inclusion: Vectors<InclusionProbe> = serde_json::from_str(INCLUSION).unwrap();
    let mut compared = 0;
    for probe in inclusion.cases.iter().filter(|p| !p.want_err) {
        if !in_our_tree(probe.tree_size, &probe.root) {
            continue;
        }
        let proof = store::inclusion_proof(&mut conn, probe.leaf_idx, probe.tree_size).unwrap();
        let expected = verify::parse_hashes(probe.proof.as_deref().unwrap_or_default()).unwrap();
        assert_eq!(proof, expected, "{}", probe.file);
        compared += 1;
    }
    let consistency: Vectors<ConsistencyProbe> = serde_json::from_str(CONSISTENCY).unwrap();
    for probe in consistency.cases.iter().filter(|p| !p.want_err) {
        if !in_our_tree(probe.size2, &probe.root2) || probe.size1 == 0 {
            continue;
        }
        let proof = store::consistency_proof(&mut conn, probe.size1, probe.size2).unwrap();
        let expected = verify::parse_hashes(probe.proof.as_deref().unwrap_or_default()).unwrap();
        assert_eq!(proof, expected, "{}", probe.file);
        compared += 1;
    }
    assert!(
        compared >= 10,
        "only {compared} probes were in the reference tree"
    );
}

/// Every variant of a proof with one hash altered, one removed or one added.
fn tampered(proof: &[Hash]) -> Vec<Vec<Hash>> {
    let mut variants = Vec::new();
    let extra = tlog_tiles::record_hash(b"not in the log");
    for i in 0..proof.len() {
        let mut altered = proof.to_vec();
        altered[i].0[i % 32] ^= 0x01;
        variants.push(altered);
        let mut removed = proof.to_vec();
        removed.remove(i);
        variants.push(removed);
    }
    for i in 0..=proof.len() {
        let mut added = proof.to_vec();
        added.insert(i, extra);
        variants.push(added);
    }
    variants
}

#[test]
fn every_proof_up_to_64_leaves_verifies_and_every_tampered_one_fails() {
    let mut conn = memory_log();
    let leaves: Vec<Hash> = (0..64u32)
        .map(|i| tlog_tiles::record_hash(format!("leaf {i}").as_bytes()))
        .collect();
    append_records(&mut conn, &leaves);
    let roots: Vec<Hash> = (0..=64)
        .map(|size| store::tree_hash(&mut conn, size).unwrap())
        .collect();
    for t in 1..=64u64 {
        for n in 0..t {
            let proof = store::inclusion_proof(&mut conn, n, t).unwrap();
            let leaf = leaves[n as usize];
            tlog_tiles::check_record(&proof, t, roots[t as usize], n, leaf)
                .unwrap_or_else(|e| panic!("inclusion {n} in {t}: {e}"));
            for bad in tampered(&proof) {
                assert!(
                    tlog_tiles::check_record(&bad, t, roots[t as usize], n, leaf).is_err(),
                    "tampered inclusion {n} in {t} passed"
                );
            }
        }
        for m in 1..=t {
            let proof = store::consistency_proof(&mut conn, m, t).unwrap();
            let (old, new) = (roots[m as usize], roots[t as usize]);
            tlog_tiles::check_tree(&proof, t, new, m, old)
                .unwrap_or_else(|e| panic!("consistency {m} → {t}: {e}"));
            for bad in tampered(&proof) {
                assert!(
                    tlog_tiles::check_tree(&bad, t, new, m, old).is_err(),
                    "tampered consistency {m} → {t} passed"
                );
            }
        }
    }
}

/// golang.org/x/mod/sumdb/note `TestNewSigner`/`TestSign`: the private key, its verifier
/// key and the signature Go makes of this text.
const GO_SIGNER: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const GO_VERIFIER: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const GO_SIGNED: &str = "If you think cryptography is the answer to your problem,\n\
    then you don't know what your problem is.\n\
    \n\
    — PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

#[test]
fn keys_and_signatures_match_go_sumdb_note() {
    // Our verifier key of Go's private key is Go's verifier key.
    let signer = LogSigner::from_private_key(GO_SIGNER, "PeterNeumann").unwrap();
    assert_eq!(signer.verifier_key(), GO_VERIFIER);
    // Go's signed note verifies with it, and signing the same text gives Go's bytes.
    let note = Note::from_bytes(GO_SIGNED.as_bytes()).unwrap();
    let verifier = StandardVerifier::new(signer.verifier_key()).unwrap();
    note.verify(&VerifierList::new(vec![Box::new(verifier)]))
        .unwrap();
    let standard = signed_note::StandardSigner::new(GO_SIGNER).unwrap();
    let mut ours = Note::new(note.text(), &[]).unwrap();
    ours.add_sigs(&[&standard]).unwrap();
    assert_eq!(String::from_utf8(ours.to_bytes()).unwrap(), GO_SIGNED);
    // A checkpoint we sign with it opens with Go's verifier key.
    let root = tlog_tiles::record_hash(b"hello world");
    let checkpoint = signer.sign_checkpoint(123_456_789_012, root).unwrap();
    let opened = verify::open_checkpoint(checkpoint.as_bytes(), GO_VERIFIER).unwrap();
    assert_eq!((opened.size(), *opened.hash()), (123_456_789_012, root));
}

#[test]
fn checkpoint_text_matches_go_sumdb_tlog() {
    // golang.org/x/mod/sumdb/tlog `TestFormatTree`.
    let golden =
        "go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n";
    let tree = Checkpoint::new(
        "go.sum database tree",
        123_456_789_012,
        tlog_tiles::record_hash(b"hello world"),
        "",
    )
    .unwrap();
    assert_eq!(String::from_utf8(tree.to_bytes()).unwrap(), golden);
}
