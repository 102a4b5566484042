//! The checks and report shared by the modes of `mutua verify`: reading inputs, opening a
//! signed checkpoint against a pinned key, inclusion and consistency checks, and the
//! PASS/FAIL lines with their exit code.

use std::path::Path;

use tlog_tiles::{Checkpoint, Hash};

use crate::transparency::client::LogClient;
use crate::transparency::verify::{self, Failure};
use crate::transparency::wire::{ConsistencyProof, InclusionProof};

/// Why a run stopped early.
pub(super) enum Stop {
    /// Wrong invocation or unreadable input: exit 2.
    Usage(String),
    /// Something to check could not be had (a fetch failed) or a check that later ones
    /// build on failed: reported as a FAIL, exit 1.
    Failed,
}

/// The PASS and FAIL lines of a run.
#[derive(Default)]
pub(super) struct Report {
    pub(super) passed: usize,
    pub(super) failed: usize,
}

impl Report {
    pub(super) fn pass(&mut self, what: &str, detail: impl std::fmt::Display) {
        self.passed += 1;
        println!("PASS {what}: {detail}");
    }

    pub(super) fn fail(&mut self, what: &str, reason: impl std::fmt::Display) {
        self.failed += 1;
        println!("FAIL {what}: {reason}");
    }

    /// Reports a check; `Ok` carries the PASS line's detail.
    pub(super) fn check(&mut self, what: &str, result: Result<String, Failure>) -> bool {
        match result {
            Ok(detail) => {
                self.pass(what, detail);
                true
            }
            Err(reason) => {
                self.fail(what, reason);
                false
            }
        }
    }

    /// A value that had to be fetched: a FAIL line and a stop when it could not be.
    pub(super) fn fetched<T>(&mut self, what: &str, result: Result<T, String>) -> Result<T, Stop> {
        result.map_err(|reason| {
            self.fail(what, reason);
            Stop::Failed
        })
    }
}

pub(super) fn usage(reason: impl Into<String>) -> Stop {
    Stop::Usage(reason.into())
}

pub(super) fn read(path: &Path) -> Result<Vec<u8>, Stop> {
    std::fs::read(path).map_err(|e| usage(format!("cannot read {}: {e}", path.display())))
}

pub(super) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, Stop> {
    serde_json::from_slice(&read(path)?)
        .map_err(|e| usage(format!("{} is not the expected JSON: {e}", path.display())))
}

pub(super) fn client(
    server: Option<&str>,
    token: Option<String>,
) -> Result<Option<LogClient>, Stop> {
    server
        .map(|url| LogClient::new(url, token).map_err(usage))
        .transpose()
}

/// The pinned key, or the server's with a warning that it proves nothing about the key.
pub(super) fn key(
    report: &mut Report,
    pinned: Option<&str>,
    client: Option<&LogClient>,
) -> Result<String, Stop> {
    if let Some(key) = pinned {
        return Ok(key.trim().to_owned());
    }
    let Some(client) = client else {
        return Err(usage(
            "give the log's verifier key with --key, or a --server to take it from",
        ));
    };
    let published = report.fetched("public key", client.public_key())?;
    eprintln!(
        "note: using the server's own key {}; pin it with --key to notice a key swap",
        published.verifier_key
    );
    Ok(published.verifier_key)
}

/// The signed checkpoint from a file, or else the server's current one.
pub(super) fn checkpoint_text(
    report: &mut Report,
    file: Option<&Path>,
    client: Option<&LogClient>,
    flag: &str,
) -> Result<Vec<u8>, Stop> {
    match (file, client) {
        (Some(path), _) => read(path),
        (None, Some(client)) => Ok(report
            .fetched("checkpoint", client.checkpoint())?
            .into_bytes()),
        (None, None) => Err(usage(format!("give {flag} FILE or --server URL"))),
    }
}

pub(super) fn describe(checkpoint: &Checkpoint) -> String {
    format!(
        "{} with {} leaves, root {}",
        checkpoint.origin(),
        checkpoint.size(),
        checkpoint.hash()
    )
}

/// Checks a checkpoint's signature; later checks build on it, so a failure stops the run.
pub(super) fn open(
    report: &mut Report,
    what: &str,
    note: &[u8],
    key: &str,
) -> Result<Checkpoint, Stop> {
    match verify::open_checkpoint(note, key) {
        Ok(checkpoint) => {
            report.pass(
                what,
                format!("{}, signed by {}", describe(&checkpoint), key_id(key)),
            );
            Ok(checkpoint)
        }
        Err(reason) => {
            report.fail(what, reason);
            Err(Stop::Failed)
        }
    }
}

/// The `<name>+<id>` part of a verifier key.
pub(super) fn key_id(key: &str) -> String {
    key.rsplit_once('+').map_or(key, |(id, _)| id).to_owned()
}

/// The leaf hash of a leaf input the server sent, checked against the hash it sent beside.
pub(super) fn served_leaf(
    report: &mut Report,
    index: u64,
    input: &str,
    sent_hash: &str,
) -> Result<Hash, Stop> {
    let hash = verify::leaf_hash(input.as_bytes());
    if hash.to_string() != sent_hash {
        report.fail(
            &format!("leaf {index}"),
            "the server's leaf_hash is not the hash of its leaf_input",
        );
        return Err(Stop::Failed);
    }
    Ok(hash)
}

pub(super) fn check_inclusion(
    report: &mut Report,
    checkpoint: &Checkpoint,
    index: u64,
    leaf_hash: Hash,
    proof: &InclusionProof,
) -> bool {
    let what = format!("inclusion of leaf {index}");
    let result = (|| {
        if proof.leaf_index != index || proof.tree_size != checkpoint.size() {
            return Err(Failure(format!(
                "the proof is for leaf {} in a tree of {} leaves, not leaf {index} in the \
                 checkpoint's {}",
                proof.leaf_index,
                proof.tree_size,
                checkpoint.size()
            )));
        }
        let hashes = verify::parse_hashes(&proof.hashes)?;
        verify::check_inclusion(checkpoint, index, leaf_hash, &hashes)?;
        Ok(format!(
            "leaf hash {leaf_hash} is leaf {index} of the tree of {} leaves ({} proof hashes)",
            checkpoint.size(),
            hashes.len()
        ))
    })();
    report.check(&what, result)
}

pub(super) fn strip_newline(bytes: &[u8]) -> &[u8] {
    // A leaf input is a JSON object and never ends in a newline; an editor may add one.
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

/// The empty tree is a prefix of every tree: nothing to prove (and RFC 9162 defines no
/// proof for it), only the older checkpoint's root to check.
pub(super) fn check_extends_empty(report: &mut Report, old: &Checkpoint, new: &Checkpoint) {
    report.check(
        &format!("consistency 0 → {}", new.size()),
        verify::check_extends_empty(old, new)
            .map(|()| "the empty tree is a prefix of every tree".to_owned()),
    );
}

pub(super) fn check_consistency(
    report: &mut Report,
    old: &Checkpoint,
    new: &Checkpoint,
    proof: &ConsistencyProof,
) -> bool {
    let what = format!("consistency {} → {}", old.size(), new.size());
    let result = (|| {
        if proof.first != old.size() || proof.second != new.size() {
            return Err(Failure(format!(
                "the proof is for sizes {} → {}, not the checkpoints' {} → {}",
                proof.first,
                proof.second,
                old.size(),
                new.size()
            )));
        }
        let hashes = verify::parse_hashes(&proof.hashes)?;
        verify::check_consistency(old, new, &hashes)?;
        Ok(format!(
            "the tree of {} leaves is a prefix of the tree of {} ({} proof hashes)",
            old.size(),
            new.size(),
            hashes.len()
        ))
    })();
    report.check(&what, result)
}
