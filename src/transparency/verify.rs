//! The checks a verifier makes, as pure functions over what a log published: a
//! checkpoint's signature, a leaf's inclusion in a signed tree, the consistency of two
//! signed trees, and a terms commitment. `mutua verify` is a thin command line over these;
//! they use only `signed_note` and `tlog_tiles`, as an independent verifier would.

use base64::prelude::*;
use serde_json::Value;
use signed_note::{Note, NoteError, StandardVerifier, VerifierList};
use tlog_tiles::{Checkpoint, Hash};

use super::leaf::terms_commitment;

/// Why a check failed, in words for the person running it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Failure(pub String);

fn fail<T>(message: impl Into<String>) -> Result<T, Failure> {
    Err(Failure(message.into()))
}

/// Parses a C2SP signed-note verifier key (`<name>+<8 hex id>+<base64(0x01 ‖ key)>`).
pub fn verifier(key: &str) -> Result<StandardVerifier, Failure> {
    StandardVerifier::new(key.trim()).map_err(|e| {
        Failure(format!(
            "the verifier key is not a signed-note Ed25519 key ({e})"
        ))
    })
}

/// Checks a signed checkpoint against the log's verifier key and returns the tree it signs.
/// The checkpoint's origin must be the key's name, as the log signs with a key named so.
pub fn open_checkpoint(note: &[u8], verifier_key: &str) -> Result<Checkpoint, Failure> {
    let verifier = verifier(verifier_key)?;
    let name = signed_note::Verifier::name(&verifier).to_owned();
    let id = signed_note::Verifier::key_id(&verifier);
    let note = Note::from_bytes(note)
        .map_err(|_| Failure("the checkpoint is not a well-formed signed note".into()))?;
    match note.verify(&VerifierList::new(vec![Box::new(verifier)])) {
        Ok(_) => {}
        Err(NoteError::UnverifiedNote) => {
            return fail(format!(
                "the checkpoint carries no signature by the key {name}+{id:08x}"
            ))
        }
        Err(NoteError::InvalidSignature { .. }) => {
            return fail(format!(
                "the checkpoint's signature by {name}+{id:08x} is invalid: the text was \
                 changed or signed with another key"
            ))
        }
        Err(e) => {
            return fail(format!(
                "the checkpoint's signatures cannot be checked: {e}"
            ))
        }
    }
    let checkpoint = Checkpoint::from_bytes(note.text())
        .map_err(|_| Failure("the signed text is not a C2SP tlog checkpoint".into()))?;
    if checkpoint.origin() != name {
        return fail(format!(
            "the checkpoint's origin `{}` is not the key's name `{name}`",
            checkpoint.origin()
        ));
    }
    Ok(checkpoint)
}

/// The RFC 6962 leaf hash of a leaf input: SHA-256(0x00 ‖ input).
pub fn leaf_hash(leaf_input: &[u8]) -> Hash {
    tlog_tiles::record_hash(leaf_input)
}

/// Parses a base64 hash (standard alphabet, 32 bytes).
pub fn parse_hash(text: &str, what: &str) -> Result<Hash, Failure> {
    Hash::parse_hash(text.trim())
        .map_err(|_| Failure(format!("{what} is not a base64 SHA-256 hash")))
}

/// Parses a proof's list of base64 hashes.
pub fn parse_hashes(hashes: &[String]) -> Result<Vec<Hash>, Failure> {
    hashes
        .iter()
        .enumerate()
        .map(|(i, h)| parse_hash(h, &format!("proof hash {i}")))
        .collect()
}

/// Checks an RFC 9162 §2.1.3 inclusion proof: the leaf with this hash is leaf `leaf_index`
/// of the tree the checkpoint signs.
pub fn check_inclusion(
    checkpoint: &Checkpoint,
    leaf_index: u64,
    leaf_hash: Hash,
    proof: &[Hash],
) -> Result<(), Failure> {
    let size = checkpoint.size();
    if leaf_index >= size {
        return fail(format!(
            "leaf {leaf_index} is not in the checkpoint's tree of {size} leaves"
        ));
    }
    tlog_tiles::check_record(
        &proof.to_vec(),
        size,
        *checkpoint.hash(),
        leaf_index,
        leaf_hash,
    )
    .map_err(|_| {
        Failure(format!(
            "the inclusion proof does not lead from leaf {leaf_index} to the checkpoint's \
                 root of {size} leaves"
        ))
    })
}

/// Checks an RFC 9162 §2.1.4 consistency proof: the older checkpoint's tree is a prefix of
/// the newer one's, so nothing logged by then was changed or removed.
pub fn check_consistency(
    old: &Checkpoint,
    new: &Checkpoint,
    proof: &[Hash],
) -> Result<(), Failure> {
    if old.origin() != new.origin() {
        return fail(format!(
            "the checkpoints are of different logs: `{}` and `{}`",
            old.origin(),
            new.origin()
        ));
    }
    let (first, second) = (old.size(), new.size());
    if first > second {
        return fail(format!(
            "the older checkpoint has more leaves ({first}) than the newer one ({second}): \
             the log shrank"
        ));
    }
    if first == 0 {
        // RFC 9162 §2.1.4 defines proofs from a tree of at least one leaf; see
        // [`check_extends_empty`] for a checkpoint of the empty tree.
        return fail("a consistency proof needs an older tree of at least one leaf");
    }
    tlog_tiles::check_tree(&proof.to_vec(), second, *new.hash(), first, *old.hash()).map_err(|_| {
        Failure(format!(
            "the consistency proof does not show the tree of {first} leaves to be a prefix \
                 of the tree of {second}: the log was rewritten, or the proof is wrong"
        ))
    })
}

/// Checks a checkpoint of the empty tree, which every later tree extends with nothing to
/// prove: only its root must be the empty tree's (SHA-256 of nothing).
pub fn check_extends_empty(old: &Checkpoint, new: &Checkpoint) -> Result<(), Failure> {
    if old.origin() != new.origin() {
        return fail(format!(
            "the checkpoints are of different logs: `{}` and `{}`",
            old.origin(),
            new.origin()
        ));
    }
    if old.size() != 0 || *old.hash() != tlog_tiles::EMPTY_HASH {
        return fail("the older checkpoint is not one of the empty tree");
    }
    if new.size() == 0 && *new.hash() != tlog_tiles::EMPTY_HASH {
        return fail("the newer checkpoint claims the empty tree with another root");
    }
    Ok(())
}

/// Checks a terms commitment: `base64(SHA-256(salt ‖ JCS(terms)))` with the base64 salt.
pub fn check_commitment(terms: &Value, salt: &str, commitment: &str) -> Result<(), Failure> {
    let salt = BASE64_STANDARD
        .decode(salt.trim())
        .map_err(|_| Failure("the salt is not base64".into()))?;
    if terms_commitment(&salt, terms) == commitment.trim() {
        Ok(())
    } else {
        fail("the terms and salt do not give this commitment")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transparency::signing::LogSigner;
    use serde_json::json;

    fn tree(size: usize) -> Vec<Hash> {
        (0..size)
            .map(|i| tlog_tiles::record_hash(format!("leaf {i}").as_bytes()))
            .collect()
    }

    fn root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => tlog_tiles::EMPTY_HASH,
            1 => leaves[0],
            n => {
                let k = 1usize << (n - 1).ilog2();
                tlog_tiles::node_hash(root(&leaves[..k]), root(&leaves[k..]))
            }
        }
    }

    fn signed(signer: &LogSigner, leaves: &[Hash]) -> Vec<u8> {
        signer
            .sign_checkpoint(leaves.len() as u64, root(leaves))
            .unwrap()
            .into_bytes()
    }

    #[test]
    fn checkpoints_open_only_with_their_key() {
        let (signer, _) = LogSigner::generate("example.org/log").unwrap();
        let (other, _) = LogSigner::generate("example.org/log").unwrap();
        let note = signed(&signer, &tree(5));
        let checkpoint = open_checkpoint(&note, signer.verifier_key()).unwrap();
        assert_eq!(checkpoint.size(), 5);
        let e = open_checkpoint(&note, other.verifier_key()).unwrap_err();
        assert!(e.0.contains("no signature by the key"), "{e}");
        let mut forged = String::from_utf8(note.clone()).unwrap();
        forged = forged.replacen("\n5\n", "\n6\n", 1);
        let e = open_checkpoint(forged.as_bytes(), signer.verifier_key()).unwrap_err();
        assert!(e.0.contains("is invalid"), "{e}");
        assert!(open_checkpoint(b"garbage", signer.verifier_key()).is_err());
        assert!(open_checkpoint(&note, "not a key").is_err());
    }

    #[test]
    fn inclusion_and_consistency_fail_when_anything_is_off() {
        let (signer, _) = LogSigner::generate("example.org/log").unwrap();
        let leaves = tree(9);
        let old = open_checkpoint(&signed(&signer, &leaves[..4]), signer.verifier_key()).unwrap();
        let new = open_checkpoint(&signed(&signer, &leaves), signer.verifier_key()).unwrap();
        // Proofs by hand from the leaves: the tree of 9 is [0..8) + [8].
        let inclusion_of_8 = vec![root(&leaves[..8])];
        check_inclusion(&new, 8, leaves[8], &inclusion_of_8).unwrap();
        assert!(check_inclusion(&new, 8, leaves[7], &inclusion_of_8).is_err());
        assert!(check_inclusion(&new, 9, leaves[8], &inclusion_of_8).is_err());
        assert!(check_inclusion(&new, 8, leaves[8], &[]).is_err());
        let consistency_4_9 = vec![root(&leaves[4..8]), leaves[8]];
        check_consistency(&old, &new, &consistency_4_9).unwrap();
        assert!(check_consistency(&new, &old, &consistency_4_9).is_err());
        assert!(check_consistency(&old, &new, &consistency_4_9[..1]).is_err());
        let empty = open_checkpoint(&signed(&signer, &[]), signer.verifier_key()).unwrap();
        assert!(check_consistency(&empty, &new, &[]).is_err());
        check_extends_empty(&empty, &new).unwrap();
        assert!(check_extends_empty(&old, &new).is_err());
        let note = signer.sign_checkpoint(0, leaves[0]).unwrap();
        let bogus = open_checkpoint(note.as_bytes(), signer.verifier_key()).unwrap();
        assert!(check_extends_empty(&bogus, &new).is_err());
        check_consistency(&new, &new, &[]).unwrap();
        let (other_log, _) = LogSigner::generate("example.org/other").unwrap();
        let other =
            open_checkpoint(&signed(&other_log, &leaves), other_log.verifier_key()).unwrap();
        assert!(check_consistency(&old, &other, &consistency_4_9).is_err());
    }

    #[test]
    fn huge_sizes_and_odd_proofs_fail_without_panicking() {
        let (signer, _) = LogSigner::generate("example.org/log").unwrap();
        let note = signer
            .sign_checkpoint(u64::MAX, tlog_tiles::EMPTY_HASH)
            .unwrap();
        let big = open_checkpoint(note.as_bytes(), signer.verifier_key()).unwrap();
        let proof = vec![tlog_tiles::EMPTY_HASH; 70];
        assert!(check_inclusion(&big, u64::MAX - 1, tlog_tiles::EMPTY_HASH, &proof).is_err());
        assert!(check_inclusion(&big, 0, tlog_tiles::EMPTY_HASH, &proof[..64]).is_err());
        let small = open_checkpoint(&signed(&signer, &tree(3)), signer.verifier_key()).unwrap();
        assert!(check_consistency(&small, &big, &proof).is_err());
        assert!(check_consistency(&small, &big, &[]).is_err());
    }

    #[test]
    fn a_commitment_opens_with_its_terms_and_salt_only() {
        let terms = json!({"from_gives": [{"category": "support", "description": "Hilfe"}],
                           "to_gives": []});
        let salt = [3u8; 32];
        let commitment = terms_commitment(&salt, &terms);
        let salt_b64 = BASE64_STANDARD.encode(salt);
        check_commitment(&terms, &salt_b64, &commitment).unwrap();
        let reordered = json!({"to_gives": [],
                               "from_gives": [{"description": "Hilfe", "category": "support"}]});
        check_commitment(&reordered, &salt_b64, &commitment).unwrap();
        assert!(check_commitment(&json!({}), &salt_b64, &commitment).is_err());
        assert!(check_commitment(&terms, &BASE64_STANDARD.encode([4u8; 32]), &commitment).is_err());
        assert!(check_commitment(&terms, "not base64!", &commitment).is_err());
    }
}
