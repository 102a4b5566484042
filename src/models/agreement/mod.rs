//! Agreements: what an accepted proposal becomes. Both parties confirm completion, either
//! may cancel while it is active, and every change of status is appended to the
//! transparency log. Terms are committed to with a per-agreement salt, so a confidential
//! agreement's parties can later prove what they agreed without the log revealing it.

pub mod lifecycle;
pub mod store;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::party::Side;
use super::proposal::{ProposalKind, Terms};
use super::user::parse_uuid;
use super::{text_enum, utc};
use crate::db::schema::agreements;
use crate::error::ApiError;
use crate::transparency::leaf::{Leaf, LogEvent};

text_enum! {
    /// Where an agreement stands.
    AgreementStatus {
        /// Accepted; the parties are delivering.
        Active => "active",
        /// Both parties confirmed it happened.
        Completed => "completed",
        /// A party called it off.
        Cancelled => "cancelled",
    }
}

/// A stored agreement row. `terms` is the RFC 8785 canonical JSON the commitment covers.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = agreements)]
pub struct Agreement {
    pub id: String,
    pub proposal_id: String,
    pub revision: i32,
    pub from_org_id: String,
    pub to_org_id: String,
    pub kind: ProposalKind,
    pub confidential: bool,
    pub status: AgreementStatus,
    pub terms: String,
    pub terms_salt: String,
    pub terms_commitment: String,
    pub from_confirmed_at: Option<NaiveDateTime>,
    pub to_confirmed_at: Option<NaiveDateTime>,
    pub cancelled_by_org_id: Option<String>,
    pub cancel_reason: Option<String>,
    pub created_at: NaiveDateTime,
    pub completed_at: Option<NaiveDateTime>,
    pub cancelled_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

/// A leaf of the transparency log that records this agreement.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LogEntryRef {
    /// Its index in the log (`GET /transparency/proofs/inclusion?leaf_index=`).
    pub leaf_index: i64,
    /// `agreement.accepted`, `agreement.completed` or `agreement.cancelled`.
    pub event: String,
}

/// An agreement. Everyone sees the parties, status, commitment and log entries; `terms`
/// only when it is not confidential (or the caller is a party); `terms_salt`, the
/// confirmations' details and the cancel reason only for the parties.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgreementView {
    pub id: uuid::Uuid,
    pub proposal_id: uuid::Uuid,
    pub status: AgreementStatus,
    pub from_org_id: uuid::Uuid,
    pub to_org_id: uuid::Uuid,
    pub kind: ProposalKind,
    pub confidential: bool,
    /// base64(SHA-256(salt ‖ RFC 8785 JSON of `terms`)), as in the log's leaves.
    pub terms_commitment: String,
    /// The leaves that record this agreement, oldest first.
    pub log_entries: Vec<LogEntryRef>,
    /// The revision of the proposal that was accepted.
    pub revision: i32,
    /// What each side gives; absent for outsiders when the agreement is confidential.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terms: Option<Terms>,
    /// The commitment's 32-byte salt (base64); parties only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terms_salt: Option<String>,
    /// When the `from` side confirmed completion.
    pub from_confirmed_at: Option<DateTime<Utc>>,
    /// When the `to` side confirmed completion.
    pub to_confirmed_at: Option<DateTime<Utc>>,
    /// The organisation that cancelled it.
    pub cancelled_by_org_id: Option<uuid::Uuid>,
    /// Why it was cancelled; parties only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    /// When the proposal was accepted.
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

impl Agreement {
    /// The side `org_id` is on, if it is a party.
    pub fn side_of(&self, org_id: &str) -> Option<Side> {
        Side::of(org_id, &self.from_org_id, &self.to_org_id)
    }

    /// The organisation on `side`.
    pub fn org(&self, side: Side) -> &str {
        side.org(&self.from_org_id, &self.to_org_id)
    }

    /// The agreed terms.
    pub fn terms(&self) -> Result<Terms, ApiError> {
        Terms::from_stored(&self.terms)
    }

    /// The transparency-log leaf recording `event` of this agreement at `at`: terms only
    /// when it is not confidential, the commitment always.
    pub fn leaf(&self, event: LogEvent, at: NaiveDateTime) -> Result<Leaf, ApiError> {
        let terms = if self.confidential {
            None
        } else {
            Some(self.terms()?.to_value())
        };
        Ok(Leaf {
            agreement_id: self.id.clone(),
            event,
            logged_at: at,
            from_org_id: self.from_org_id.clone(),
            to_org_id: self.to_org_id.clone(),
            kind: self.kind.as_str().to_owned(),
            terms_commitment: self.terms_commitment.clone(),
            terms,
        })
    }

    /// The agreement as `party` (true: a member or key of either side) sees it.
    pub fn view(
        &self,
        party: bool,
        log_entries: Vec<LogEntryRef>,
    ) -> Result<AgreementView, ApiError> {
        let terms = if party || !self.confidential {
            Some(self.terms()?)
        } else {
            None
        };
        Ok(AgreementView {
            id: parse_uuid(&self.id)?,
            proposal_id: parse_uuid(&self.proposal_id)?,
            status: self.status,
            from_org_id: parse_uuid(&self.from_org_id)?,
            to_org_id: parse_uuid(&self.to_org_id)?,
            kind: self.kind,
            confidential: self.confidential,
            terms_commitment: self.terms_commitment.clone(),
            log_entries,
            revision: self.revision,
            terms,
            terms_salt: party.then(|| self.terms_salt.clone()),
            from_confirmed_at: self.from_confirmed_at.map(utc),
            to_confirmed_at: self.to_confirmed_at.map(utc),
            cancelled_by_org_id: self
                .cancelled_by_org_id
                .as_deref()
                .map(parse_uuid)
                .transpose()?,
            cancel_reason: if party {
                self.cancel_reason.clone()
            } else {
                None
            },
            created_at: utc(self.created_at),
            completed_at: self.completed_at.map(utc),
            cancelled_at: self.cancelled_at.map(utc),
        })
    }
}

/// A new agreement for proposal `proposal_id`'s accepted revision, with a fresh salt and
/// the commitment to its terms.
pub fn from_accepted(
    proposal: &super::proposal::Proposal,
    revision: &super::proposal::Revision,
    id: String,
    at: NaiveDateTime,
) -> Result<Agreement, ApiError> {
    let terms = Terms::from_stored(&revision.terms)?.to_value();
    let salt = crate::transparency::leaf::new_salt();
    Ok(Agreement {
        id,
        proposal_id: proposal.id.clone(),
        revision: revision.number,
        from_org_id: proposal.from_org_id.clone(),
        to_org_id: proposal.to_org_id.clone(),
        kind: proposal.kind,
        confidential: proposal.confidential,
        status: AgreementStatus::Active,
        terms: crate::transparency::leaf::canonical_json(&terms),
        terms_salt: STANDARD.encode(salt),
        terms_commitment: crate::transparency::leaf::terms_commitment(&salt, &terms),
        from_confirmed_at: None,
        to_confirmed_at: None,
        cancelled_by_org_id: None,
        cancel_reason: None,
        created_at: at,
        completed_at: None,
        cancelled_at: None,
        updated_at: at,
    })
}
