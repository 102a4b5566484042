//! The transparency log of agreement events: an RFC 6962 Merkle tree whose leaves are the
//! canonical JSON of each event (`leaf`), stored as every complete subtree's hash in the
//! database so that appends, roots and proofs each touch O(log n) rows (`store`).
//! `docs/TRANSPARENCY.md` describes the format for verifiers.

pub mod client;
#[cfg(test)]
mod known_answers;
pub mod leaf;
pub mod signing;
pub mod store;
pub mod verify;
pub mod wire;

pub use leaf::{canonical_json, new_salt, terms_commitment, Leaf, LogEvent};
