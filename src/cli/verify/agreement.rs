//! `mutua verify agreement`: every log entry of one agreement (`GET /agreements/{id}` →
//! `log_entries`) must be a leaf that records that agreement and event, with its parties,
//! kind, commitment and (unless it is confidential) terms, in the server's current signed
//! checkpoint; optionally the current checkpoint must be consistent with one kept from an
//! earlier visit, and a party's view must open the terms commitment.

use std::path::PathBuf;

use clap::Args;
use serde_json::Value;
use tlog_tiles::Checkpoint;

use super::checks::{
    check_consistency, check_extends_empty, check_inclusion, key, open, read, served_leaf, usage,
    Report, Stop,
};
use crate::transparency::canonical_json;
use crate::transparency::client::LogClient;
use crate::transparency::verify::{self, Failure};
use crate::transparency::wire::ConsistencyProof;

#[derive(Debug, Args)]
pub(super) struct AgreementArgs {
    /// The agreement's id.
    #[arg(value_name = "AGREEMENT_ID")]
    pub(super) id: String,
    /// Base URL of the Mutua server (e.g. http://127.0.0.1:8080).
    #[arg(long, value_name = "URL")]
    pub(super) server: String,
    /// The log's verifier key, pinned (see `mutua verify checkpoint --help`).
    #[arg(long, value_name = "VERIFIER_KEY")]
    pub(super) key: Option<String>,
    /// An older signed checkpoint: also check that the current one is consistent with it.
    #[arg(long, value_name = "FILE")]
    pub(super) old_checkpoint: Option<PathBuf>,
    /// A bearer token (access token or API key) of a party, to read confidential terms and
    /// their salt and check the commitment too.
    #[arg(
        long,
        env = "MUTUA_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub(super) token: Option<String>,
}

/// Checks every log entry of one agreement, as the module documentation describes.
pub(super) fn run(report: &mut Report, args: AgreementArgs) -> Result<(), Stop> {
    let client = LogClient::new(&args.server, args.token.clone()).map_err(usage)?;
    let old_note = args.old_checkpoint.as_deref().map(read).transpose()?;
    let key = key(report, args.key.as_deref(), Some(&client))?;
    let note = report.fetched("checkpoint", client.checkpoint())?;
    let current = open(report, "checkpoint", note.as_bytes(), &key)?;
    let agreement = report.fetched("agreement", client.agreement(&args.id))?;
    let entries = log_entries(&agreement);
    if entries.is_empty() {
        report.fail("agreement", format!("{} lists no log entries", args.id));
    }
    for (index, event) in entries {
        check_agreement_leaf(
            report, &client, &current, &agreement, &args.id, index, &event,
        );
    }
    if let (Some(terms), Some(salt), Some(commitment)) = (
        agreement.get("terms"),
        agreement["terms_salt"].as_str(),
        agreement["terms_commitment"].as_str(),
    ) {
        report.check(
            "terms commitment",
            verify::check_commitment(terms, salt, commitment)
                .map(|()| "the agreement's terms and salt give its commitment".to_owned()),
        );
    }
    if let Some(old_note) = old_note {
        let old = open(report, "old checkpoint", &old_note, &key)?;
        if old.size() == 0 {
            check_extends_empty(report, &old, &current);
            return Ok(());
        }
        let proof = if old.size() > current.size() {
            ConsistencyProof {
                first: old.size(),
                second: current.size(),
                hashes: Vec::new(),
            }
        } else {
            report.fetched(
                "consistency proof",
                client.consistency(old.size(), current.size()),
            )?
        };
        check_consistency(report, &old, &current, &proof);
    }
    Ok(())
}

/// The agreement's `log_entries` as (leaf index, event).
fn log_entries(agreement: &Value) -> Vec<(u64, String)> {
    agreement["log_entries"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| Some((e["leaf_index"].as_u64()?, e["event"].as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// The leaf's terms: present exactly when the agreement is not confidential, and then the
/// agreement's own (compared in canonical form). The commitment alone does not show this: it
/// binds the terms the parties read, not the terms a public leaf displays.
fn check_leaf_terms(agreement: &Value, leaf: &Value) -> Result<(), Failure> {
    let logged = leaf.get("terms");
    match (agreement["confidential"].as_bool(), logged) {
        (Some(true), Some(_)) => {
            return Err(Failure(
                "the leaf publishes the terms of a confidential agreement".into(),
            ))
        }
        (Some(false), None) => {
            return Err(Failure(
                "the leaf of an agreement that is not confidential lacks its terms".into(),
            ))
        }
        _ => {}
    }
    if let (Some(logged), Some(agreed)) = (logged, agreement.get("terms")) {
        if canonical_json(logged) != canonical_json(agreed) {
            return Err(Failure(format!(
                "the leaf's terms {} differ from the agreement's {}",
                canonical_json(logged),
                canonical_json(agreed)
            )));
        }
    }
    Ok(())
}

/// One of the agreement's leaves: it says what the agreement says, and it is in the tree.
fn check_agreement_leaf(
    report: &mut Report,
    client: &LogClient,
    checkpoint: &Checkpoint,
    agreement: &Value,
    id: &str,
    index: u64,
    event: &str,
) {
    let what = format!("leaf {index} ({event})");
    let Ok(entry) = report.fetched(&what, client.entry(index)) else {
        return;
    };
    let Ok(leaf_hash) = served_leaf(report, index, &entry.leaf_input, &entry.leaf_hash) else {
        return;
    };
    let content = (|| {
        let leaf: Value = serde_json::from_str(&entry.leaf_input)
            .map_err(|_| Failure("the leaf input is not JSON".into()))?;
        if leaf["agreement_id"].as_str() != Some(id) || leaf["event"].as_str() != Some(event) {
            return Err(Failure(format!(
                "the leaf records {} of agreement {}, not {event} of {id}",
                leaf["event"], leaf["agreement_id"]
            )));
        }
        for field in ["from_org_id", "to_org_id", "kind", "terms_commitment"] {
            if let Some(expected) = agreement.get(field) {
                if leaf.get(field) != Some(expected) {
                    return Err(Failure(format!(
                        "the leaf's {field} {} differs from the agreement's {expected}",
                        leaf[field]
                    )));
                }
            }
        }
        check_leaf_terms(agreement, &leaf)?;
        Ok(format!("records {event} of {id}"))
    })();
    report.check(&what, content);
    let proof = match report.fetched(
        &format!("inclusion proof of leaf {index}"),
        client.inclusion(index, checkpoint.size()),
    ) {
        Ok(proof) => proof,
        Err(_) => return,
    };
    check_inclusion(report, checkpoint, index, leaf_hash, &proof);
}
