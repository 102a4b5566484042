//! The transparency endpoints' JSON, shared by the handlers that send it and by
//! `mutua verify`, which reads it back (hashes are base64, standard alphabet).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::leaf::LogEvent;

/// The log's origin and the key its checkpoints are signed with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PublicKey {
    /// The log's origin: the first line of every checkpoint and the key's name.
    #[schema(example = "mutua.local/transparency")]
    pub origin: String,
    /// The C2SP signed-note verifier key: `<origin>+<8 hex key id>+<base64(0x01 ‖ Ed25519 public key)>`.
    #[schema(
        example = "mutua.local/transparency+884cc43c+AahuBjkRCXEPDvFMCCqp1r7hsx3udcbqGTfFYoUbY8Xy"
    )]
    pub verifier_key: String,
}

/// One leaf of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LogEntry {
    /// Position in the log, from 0.
    #[schema(minimum = 0)]
    pub index: u64,
    /// The exact hashed text: RFC 8785 canonical JSON of the event (see docs/TRANSPARENCY.md).
    pub leaf_input: String,
    /// `base64(SHA-256(0x00 ‖ leaf_input))` (RFC 6962 leaf hash).
    pub leaf_hash: String,
    /// The agreement the event belongs to.
    pub agreement_id: String,
    /// What happened.
    pub event: LogEvent,
    /// When it was logged.
    pub logged_at: DateTime<Utc>,
}

/// One page of log entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EntryPage {
    /// The entries, in log order.
    pub items: Vec<LogEntry>,
    /// The index of the next page's first entry, in decimal (pass as `start` or `cursor`);
    /// `null` when no further entry exists yet.
    pub next_cursor: Option<String>,
}

/// An RFC 9162 §2.1.3 inclusion proof: the audit path of one leaf in one tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InclusionProof {
    /// The leaf's index.
    #[schema(minimum = 0)]
    pub leaf_index: u64,
    /// The size of the tree the proof is for.
    #[schema(minimum = 1)]
    pub tree_size: u64,
    /// The leaf's hash, base64.
    pub leaf_hash: String,
    /// The audit path, base64 hashes from the leaf's sibling up to the root's child.
    pub hashes: Vec<String>,
}

/// An RFC 9162 §2.1.4 consistency proof: the tree of `first` leaves is a prefix of the tree
/// of `second`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProof {
    /// The older tree's size.
    #[schema(minimum = 1)]
    pub first: u64,
    /// The newer tree's size.
    #[schema(minimum = 1)]
    pub second: u64,
    /// The proof's base64 hashes.
    pub hashes: Vec<String>,
}
