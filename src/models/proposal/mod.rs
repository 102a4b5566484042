//! Proposals: one organisation offers another an exchange in which both say what they give
//! (or a no-obligation trial in which only the proposer gives), negotiated in immutable
//! revisions until one side accepts, declines or withdraws, or it expires.

pub mod lifecycle;
pub mod pressure;
pub mod store;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::listing::Listing;
use super::party::Side;
use super::user::parse_uuid;
use super::{text_enum, utc};
use crate::db::schema::{proposal_revisions, proposals};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::http::validate::Checks;

text_enum! {
    /// What kind of exchange a proposal (and its agreement) is.
    ProposalKind {
        /// Both sides give something: at least one item each.
        Exchange => "exchange",
        /// A no-obligation trial or gift: only the proposer gives, and accepting it creates
        /// no debt anywhere.
        Trial => "trial",
    }
}

text_enum! {
    /// Where a proposal stands.
    ProposalStatus {
        /// Under negotiation.
        Open => "open",
        /// The latest revision was accepted; an agreement exists.
        Accepted => "accepted",
        /// The receiver of the latest revision said no.
        Declined => "declined",
        /// The author of the latest revision took it back.
        Withdrawn => "withdrawn",
        /// `expires_at` passed while it was open.
        Expired => "expired",
    }
}

text_enum! {
    /// What an item of the terms is.
    ItemCategory {
        Expertise => "expertise",
        Resource => "resource",
        /// An introduction or recommendation to someone else.
        Referral => "referral",
        Support => "support",
        Other => "other",
    }
}

/// One thing a side gives. Optional fields that were not given are omitted (never `null`),
/// so the canonical form of the terms is unambiguous.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub category: ItemCategory,
    /// 3–500 characters (trimmed).
    #[schema(
        example = "Zwei Workshops zu Kundenservice für das Empfangsteam",
        min_length = 3,
        max_length = 500
    )]
    pub description: String,
    /// A positive whole number, up to 1,000,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 1_000_000, example = 8)]
    pub quantity: Option<i64>,
    /// The unit of `quantity`, 1–30 characters (trimmed; e.g. `hours`); only with a
    /// `quantity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "hours", min_length = 1, max_length = 30)]
    pub unit: Option<String>,
    /// A published listing of the giving side that this item fulfils.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing_id: Option<uuid::Uuid>,
}

/// What each side gives. `from` is the organisation that opened the proposal, whoever
/// wrote a revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Terms {
    /// 1–20 items: the proposing organisation always gives something.
    #[schema(min_items = 1, max_items = 20)]
    pub from_gives: Vec<Item>,
    /// Up to 20 items: at least one for an `exchange`, none for a `trial`.
    #[schema(max_items = 20)]
    pub to_gives: Vec<Item>,
}

/// Most items one side may list.
pub const MAX_ITEMS: usize = 20;

impl Terms {
    /// The items `side` gives.
    pub fn given_by(&self, side: Side) -> &[Item] {
        match side {
            Side::From => &self.from_gives,
            Side::To => &self.to_gives,
        }
    }

    /// The terms as a JSON value (the form that is canonicalised and committed to).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Reads terms stored by [`Terms::stored`].
    pub fn from_stored(text: &str) -> Result<Terms, ApiError> {
        serde_json::from_str(text)
            .map_err(|e| ApiError::Internal(format!("stored terms are not readable: {e}")))
    }

    /// The stored text form (fields in declaration order, optional ones omitted).
    pub fn stored(&self) -> String {
        self.to_value().to_string()
    }
}

/// Checks terms for a proposal of `kind` and returns them trimmed. Field paths are
/// `terms.from_gives[0].description` etc.
pub fn check_terms(checks: &mut Checks, kind: ProposalKind, terms: &Terms) -> Terms {
    let side = |name: &str, items: &[Item], checks: &mut Checks| -> Vec<Item> {
        let field = format!("terms.{name}");
        if items.len() > MAX_ITEMS {
            checks.fail(&field, format!("must hold at most {MAX_ITEMS} items"));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, item)| check_item(checks, &format!("{field}[{i}]"), item))
            .collect()
    };
    let from_gives = side("from_gives", &terms.from_gives, checks);
    let to_gives = side("to_gives", &terms.to_gives, checks);
    if from_gives.is_empty() {
        checks.fail(
            "terms.from_gives",
            "must hold at least one item: the proposing organisation always gives something",
        );
    }
    match kind {
        ProposalKind::Exchange if to_gives.is_empty() => checks.fail(
            "terms.to_gives",
            "an exchange needs at least one item on each side (use kind `trial` for a gift)",
        ),
        ProposalKind::Trial if !to_gives.is_empty() => checks.fail(
            "terms.to_gives",
            "a trial asks nothing in return: the receiving side gives no items",
        ),
        _ => {}
    }
    Terms {
        from_gives,
        to_gives,
    }
}

/// Checks a message: up to 2,000 characters, trimmed.
pub fn check_message(checks: &mut Checks, message: &str) -> String {
    checks.text("message", message, 0, 2000)
}

/// 422 unless every item tied to a listing names a published, unexpired listing of the
/// side that gives it.
pub fn check_listings(
    conn: &mut DbConnection,
    terms: &Terms,
    from: &str,
    to: &str,
    at: NaiveDateTime,
) -> Result<(), ApiError> {
    let mut checks = Checks::new();
    for (name, side) in [("from_gives", Side::From), ("to_gives", Side::To)] {
        let giver = side.org(from, to);
        for (i, item) in terms.given_by(side).iter().enumerate() {
            let Some(listing_id) = item.listing_id else {
                continue;
            };
            let field = format!("terms.{name}[{i}].listing_id");
            match Listing::find(conn, &listing_id.to_string())? {
                Some(l) if l.org_id == giver && l.is_public(conn, at)? => {}
                Some(l) if l.org_id == giver => {
                    checks.fail(&field, "must name a published listing")
                }
                _ => checks.fail(
                    &field,
                    "must name a published listing of the organisation that gives this item",
                ),
            }
        }
    }
    checks.finish()
}

fn check_item(checks: &mut Checks, field: &str, item: &Item) -> Item {
    let description = checks.text(&format!("{field}.description"), &item.description, 3, 500);
    if let Some(q) = item.quantity {
        if !(1..=1_000_000).contains(&q) {
            checks.fail(
                &format!("{field}.quantity"),
                "must be a whole number from 1 to 1,000,000",
            );
        }
    }
    let unit = item
        .unit
        .as_deref()
        .map(|u| checks.text(&format!("{field}.unit"), u, 1, 30));
    if unit.is_some() && item.quantity.is_none() {
        checks.fail(&format!("{field}.unit"), "needs a quantity");
    }
    Item {
        category: item.category,
        description,
        quantity: item.quantity,
        unit,
        listing_id: item.listing_id,
    }
}

/// A stored proposal row. `status` is what was stored: an `open` proposal past its
/// `expires_at` is expired ([`Proposal::status_at`]) without any job having run.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = proposals)]
pub struct Proposal {
    pub id: String,
    pub from_org_id: String,
    pub to_org_id: String,
    pub kind: ProposalKind,
    pub confidential: bool,
    pub status: ProposalStatus,
    pub latest_revision: i32,
    pub expires_at: Option<NaiveDateTime>,
    pub agreement_id: Option<String>,
    pub closed_reason: Option<String>,
    pub closed_at: Option<NaiveDateTime>,
    pub created_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Proposal {
    /// The status as of `at`: an open proposal whose time ran out is expired.
    pub fn status_at(&self, at: NaiveDateTime) -> ProposalStatus {
        match (self.status, self.expires_at) {
            (ProposalStatus::Open, Some(expiry)) if expiry <= at => ProposalStatus::Expired,
            (status, _) => status,
        }
    }

    /// The side `org_id` is on, if it is a party.
    pub fn side_of(&self, org_id: &str) -> Option<Side> {
        Side::of(org_id, &self.from_org_id, &self.to_org_id)
    }

    /// The organisation on `side`.
    pub fn org(&self, side: Side) -> &str {
        side.org(&self.from_org_id, &self.to_org_id)
    }
}

/// A stored revision row (immutable once written).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = proposal_revisions)]
pub struct Revision {
    pub proposal_id: String,
    pub number: i32,
    pub author_org_id: String,
    pub author_user_id: Option<String>,
    pub terms: String,
    pub message: String,
    pub created_at: NaiveDateTime,
}

/// One revision as the parties see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RevisionView {
    /// 1 for the opening proposal, then one more per counter-offer.
    pub number: i32,
    /// The organisation that wrote this revision.
    pub author_org_id: uuid::Uuid,
    pub terms: Terms,
    pub message: String,
    pub created_at: DateTime<Utc>,
}

/// A proposal with every revision, oldest first, as the two parties (and, once it is
/// reported, moderators) see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProposalView {
    pub id: uuid::Uuid,
    pub from_org_id: uuid::Uuid,
    pub to_org_id: uuid::Uuid,
    pub kind: ProposalKind,
    /// Whether the agreement's terms stay out of the public log and registry.
    pub confidential: bool,
    /// As of now: an open proposal past `expires_at` reads `expired`.
    pub status: ProposalStatus,
    /// The number of the newest revision (what `accept` must name).
    pub latest_revision: i32,
    /// The organisation whose turn it is to answer (accept, counter or decline), while open.
    pub awaiting_org_id: Option<uuid::Uuid>,
    pub expires_at: Option<DateTime<Utc>>,
    /// The agreement made when it was accepted.
    pub agreement_id: Option<uuid::Uuid>,
    /// The reason given when it was declined or withdrawn, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it was accepted, declined or withdrawn.
    pub closed_at: Option<DateTime<Utc>>,
    pub revisions: Vec<RevisionView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Revision {
    /// The revision as sent to clients.
    pub fn view(&self) -> Result<RevisionView, ApiError> {
        Ok(RevisionView {
            number: self.number,
            author_org_id: parse_uuid(&self.author_org_id)?,
            terms: Terms::from_stored(&self.terms)?,
            message: self.message.clone(),
            created_at: utc(self.created_at),
        })
    }
}

impl Proposal {
    /// The proposal with its revisions (oldest first) as of `at`.
    pub fn view(
        &self,
        revisions: &[Revision],
        at: NaiveDateTime,
    ) -> Result<ProposalView, ApiError> {
        let status = self.status_at(at);
        let awaiting = match (status, revisions.last()) {
            (ProposalStatus::Open, Some(latest)) => self
                .side_of(&latest.author_org_id)
                .map(|author| self.org(author.other()).to_owned()),
            _ => None,
        };
        Ok(ProposalView {
            id: parse_uuid(&self.id)?,
            from_org_id: parse_uuid(&self.from_org_id)?,
            to_org_id: parse_uuid(&self.to_org_id)?,
            kind: self.kind,
            confidential: self.confidential,
            status,
            latest_revision: self.latest_revision,
            awaiting_org_id: awaiting.as_deref().map(parse_uuid).transpose()?,
            expires_at: self.expires_at.map(utc),
            agreement_id: self.agreement_id.as_deref().map(parse_uuid).transpose()?,
            reason: self.closed_reason.clone(),
            closed_at: self.closed_at.map(utc),
            revisions: revisions
                .iter()
                .map(Revision::view)
                .collect::<Result<_, _>>()?,
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
        })
    }
}
