//! `mutua verify`: checks what the transparency log published, from files (offline) or
//! fetched from a server, and prints one PASS or FAIL line per check. Exit code 0 when every
//! check passed, 1 when one failed or could not be made, 2 for a usage error. The checks
//! themselves are `transparency::verify`'s pure functions.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

mod agreement;
mod checks;

use clap::{Args, Parser, Subcommand};
use serde_json::Value;

use crate::transparency::verify;
use crate::transparency::wire::{ConsistencyProof, InclusionProof};
use agreement::AgreementArgs;
use checks::{
    check_consistency, check_extends_empty, check_inclusion, checkpoint_text, client, key, open,
    read, read_json, served_leaf, strip_newline, usage, Report, Stop,
};

/// Check the Mutua transparency log: checkpoint signatures, inclusion and consistency
/// proofs, terms commitments, and every log entry of an agreement.
#[derive(Debug, Parser)]
#[command(name = "mutua verify", version)]
struct VerifyCli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Check a checkpoint's signature against the log's verifier key.
    Checkpoint(CheckpointArgs),
    /// Check that a leaf is in the tree a signed checkpoint describes.
    Inclusion(InclusionArgs),
    /// Check that an older checkpoint's tree is a prefix of a newer one's (nothing rewritten).
    Consistency(ConsistencyArgs),
    /// Check a terms commitment against the revealed terms and salt (offline).
    Commitment(CommitmentArgs),
    /// Check every log entry of one agreement against a server's current checkpoint.
    Agreement(AgreementArgs),
}

/// Where the key and whatever no file gives come from.
#[derive(Debug, Args)]
struct Source {
    /// Base URL of a Mutua server (e.g. http://127.0.0.1:8080): fetch from it what no file gives.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// The log's verifier key (<origin>+<key id>+<base64 key>), as published at
    /// GET /api/v1/transparency/public-key. Pin it: without it the server's own key is used,
    /// which proves nothing against a server that swapped its key.
    #[arg(long, value_name = "VERIFIER_KEY")]
    key: Option<String>,
}

#[derive(Debug, Args)]
struct CheckpointArgs {
    /// The signed checkpoint (the body of GET /api/v1/transparency/checkpoint); default: the server's current one.
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    #[command(flatten)]
    source: Source,
}

#[derive(Debug, Args)]
struct InclusionArgs {
    /// The leaf's index in the log.
    #[arg(long, value_name = "N")]
    leaf_index: u64,
    /// A file holding the leaf input, the exact hashed text (one trailing newline is ignored).
    #[arg(long, value_name = "FILE", conflicts_with = "leaf_hash")]
    leaf_input: Option<PathBuf>,
    /// The leaf hash instead of the input (base64). Without either, the server's entry is used.
    #[arg(long, value_name = "BASE64")]
    leaf_hash: Option<String>,
    /// The signed checkpoint to check against; default: the server's current one.
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// The inclusion proof (JSON of GET /api/v1/transparency/proofs/inclusion); default: fetched for the checkpoint's size.
    #[arg(long, value_name = "FILE")]
    proof: Option<PathBuf>,
    #[command(flatten)]
    source: Source,
}

#[derive(Debug, Args)]
struct ConsistencyArgs {
    /// The older signed checkpoint, kept from an earlier visit.
    #[arg(long, value_name = "FILE")]
    old_checkpoint: PathBuf,
    /// The newer signed checkpoint; default: the server's current one.
    #[arg(long, value_name = "FILE")]
    new_checkpoint: Option<PathBuf>,
    /// The consistency proof (JSON of GET /api/v1/transparency/proofs/consistency); default: fetched for the two sizes.
    #[arg(long, value_name = "FILE")]
    proof: Option<PathBuf>,
    #[command(flatten)]
    source: Source,
}

#[derive(Debug, Args)]
struct CommitmentArgs {
    /// A saved agreement (JSON of GET /api/v1/agreements/{id} as a party reads it) holding
    /// terms, terms_salt and terms_commitment.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["terms", "salt", "commitment"])]
    agreement: Option<PathBuf>,
    /// A file holding the terms as JSON (any key order or spacing: they are canonicalised).
    #[arg(long, value_name = "FILE", requires_all = ["salt", "commitment"])]
    terms: Option<PathBuf>,
    /// The agreement's terms_salt (base64).
    #[arg(long, value_name = "BASE64", requires = "terms")]
    salt: Option<String>,
    /// The terms_commitment to check (base64), as in the log entry.
    #[arg(long, value_name = "BASE64", requires = "terms")]
    commitment: Option<String>,
}

/// Runs `mutua verify` with the arguments after `verify`.
pub fn run(args: Vec<OsString>) -> ExitCode {
    let argv = std::iter::once(OsString::from("mutua verify")).chain(args);
    let cli = match VerifyCli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let mut report = Report::default();
    let outcome = match cli.mode {
        Mode::Checkpoint(args) => checkpoint(&mut report, args),
        Mode::Inclusion(args) => inclusion(&mut report, args),
        Mode::Consistency(args) => consistency(&mut report, args),
        Mode::Commitment(args) => commitment(&mut report, args),
        Mode::Agreement(args) => agreement::run(&mut report, args),
    };
    match outcome {
        Err(Stop::Usage(reason)) => {
            eprintln!("error: {reason}");
            ExitCode::from(2)
        }
        _ if report.failed > 0 => {
            println!(
                "{} of {} checks failed",
                report.failed,
                report.failed + report.passed
            );
            ExitCode::from(1)
        }
        _ => {
            println!("all {} checks passed", report.passed);
            ExitCode::SUCCESS
        }
    }
}

fn checkpoint(report: &mut Report, args: CheckpointArgs) -> Result<(), Stop> {
    let client = client(args.source.server.as_deref(), None)?;
    let note = checkpoint_text(
        report,
        args.checkpoint.as_deref(),
        client.as_ref(),
        "--checkpoint",
    )?;
    let key = key(report, args.source.key.as_deref(), client.as_ref())?;
    open(report, "checkpoint", &note, &key).map(|_| ())
}

fn inclusion(report: &mut Report, args: InclusionArgs) -> Result<(), Stop> {
    let client = client(args.source.server.as_deref(), None)?;
    let note = checkpoint_text(
        report,
        args.checkpoint.as_deref(),
        client.as_ref(),
        "--checkpoint",
    )?;
    let key = key(report, args.source.key.as_deref(), client.as_ref())?;
    let checkpoint = open(report, "checkpoint", &note, &key)?;
    let index = args.leaf_index;
    let leaf_hash = match (&args.leaf_input, &args.leaf_hash, &client) {
        (Some(path), _, _) => verify::leaf_hash(strip_newline(&read(path)?)),
        (None, Some(text), _) => verify::parse_hash(text, "--leaf-hash").map_err(|e| usage(e.0))?,
        (None, None, Some(client)) => {
            let entry = report.fetched("leaf", client.entry(index))?;
            served_leaf(report, index, &entry.leaf_input, &entry.leaf_hash)?
        }
        (None, None, None) => {
            return Err(usage(
                "give --leaf-input FILE, --leaf-hash BASE64 or --server URL",
            ))
        }
    };
    let proof: InclusionProof = match (&args.proof, &client) {
        (Some(path), _) => read_json(path)?,
        (None, Some(client)) => report.fetched(
            "inclusion proof",
            client.inclusion(index, checkpoint.size()),
        )?,
        (None, None) => return Err(usage("give --proof FILE or --server URL")),
    };
    check_inclusion(report, &checkpoint, index, leaf_hash, &proof);
    Ok(())
}

fn consistency(report: &mut Report, args: ConsistencyArgs) -> Result<(), Stop> {
    let client = client(args.source.server.as_deref(), None)?;
    let old_note = read(&args.old_checkpoint)?;
    let new_note = checkpoint_text(
        report,
        args.new_checkpoint.as_deref(),
        client.as_ref(),
        "--new-checkpoint",
    )?;
    let key = key(report, args.source.key.as_deref(), client.as_ref())?;
    let old = open(report, "old checkpoint", &old_note, &key)?;
    let new = open(report, "new checkpoint", &new_note, &key)?;
    if old.size() == 0 {
        check_extends_empty(report, &old, &new);
        return Ok(());
    }
    let proof = match (&args.proof, &client) {
        (Some(path), _) => read_json(path)?,
        // A server that shrank cannot prove anything; the check below says so.
        (None, _) if old.size() > new.size() => ConsistencyProof {
            first: old.size(),
            second: new.size(),
            hashes: Vec::new(),
        },
        (None, Some(client)) => report.fetched(
            "consistency proof",
            client.consistency(old.size(), new.size()),
        )?,
        (None, None) => return Err(usage("give --proof FILE or --server URL")),
    };
    check_consistency(report, &old, &new, &proof);
    Ok(())
}

fn commitment(report: &mut Report, args: CommitmentArgs) -> Result<(), Stop> {
    let (terms, salt, commitment) = match (args.agreement, args.terms, args.salt, args.commitment) {
        (Some(path), ..) => {
            let agreement: Value = read_json(&path)?;
            let field = |name: &str| {
                agreement.get(name).cloned().ok_or_else(|| {
                    usage(format!(
                        "{} has no `{name}` (read it as a party)",
                        path.display()
                    ))
                })
            };
            let text = |name: &str| -> Result<String, Stop> {
                field(name)?
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| usage(format!("`{name}` in {} is not a string", path.display())))
            };
            (
                field("terms")?,
                text("terms_salt")?,
                text("terms_commitment")?,
            )
        }
        (None, Some(path), Some(salt), Some(commitment)) => (read_json(&path)?, salt, commitment),
        _ => {
            return Err(usage(
                "give --agreement FILE, or --terms FILE with --salt and --commitment",
            ))
        }
    };
    report.check(
        "terms commitment",
        verify::check_commitment(&terms, &salt, &commitment)
            .map(|()| format!("the terms and salt give {}", commitment.trim())),
    );
    Ok(())
}
