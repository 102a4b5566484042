//! Partnerships between seeded organisations: three in ten organisations propose an
//! exchange to a partner whose published offer meets one of their published needs and who
//! needs one of their offers; the terms give exactly those two listings. Most proposals are
//! accepted, most agreements completed and endorsed, a few stay open, active or are
//! cancelled.
//!
//! Each step goes through the model functions the API's handlers call, in their order —
//! the proposal lifecycle's transition, `Proposal::insert` / `add_revision` / `close`,
//! `agreement::from_accepted`, `Agreement::insert` / `confirm` / `cancel` (which append the
//! transparency-log leaves and derive the item rows the reciprocity balances count), the
//! agreement lifecycle's transition, `Endorsement::insert` — and produces the events the
//! handlers emit, which the caller writes last (`event::write_all`).

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDateTime};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::base::{seeded_id, SeedReport};
use super::topics::TOPICS;
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::http::validate::Checks;
use crate::models::agreement::lifecycle as agreement_lifecycle;
use crate::models::agreement::{self, Agreement};
use crate::models::endorsement::Endorsement;
use crate::models::event::{Event, EventType};
use crate::models::party::Side;
use crate::models::proposal::lifecycle::{self, Action, Outcome, State};
use crate::models::proposal::{
    check_listings, check_terms, Item, Proposal, ProposalKind, ProposalStatus, Revision, Terms,
};

/// The organisations that propose a partnership: these positions of every ten.
const PROPOSING: [usize; 3] = [0, 3, 6];
/// Partners looked at per need before the next need is tried.
const CANDIDATES_PER_NEED: usize = 24;

/// A published listing of a seeded organisation.
#[derive(Debug, Clone)]
pub struct Listed {
    /// Index into [`TOPICS`].
    pub topic: usize,
    pub listing_id: String,
    pub trial: bool,
}

/// A seeded organisation as partnerships see it.
#[derive(Debug, Clone)]
pub struct Member {
    pub org_id: String,
    pub owner_id: String,
    pub region: &'static str,
    /// When it joined; its listings are a few seconds younger.
    pub joined: NaiveDateTime,
    pub offers: Vec<Listed>,
    pub needs: Vec<Listed>,
}

/// Two organisations that give each other what the other needs: `from` proposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub from: usize,
    pub to: usize,
    /// Index into `from`'s offers: what `from` gives.
    pub from_gives: usize,
    /// Index into `to`'s offers: what `to` gives.
    pub to_gives: usize,
}

/// Chooses the partnerships among `members` (indices into it): each proposer's first need
/// that a partner offers while needing one of the proposer's offers, partners of the same
/// region first; no two organisations twice.
pub fn pairs(rng: &mut ChaCha8Rng, members: &[Member]) -> Vec<Pair> {
    let mut offered_by: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, m) in members.iter().enumerate() {
        for offer in &m.offers {
            offered_by.entry(offer.topic).or_default().push(i);
        }
    }
    let mut taken: HashSet<(usize, usize)> = HashSet::new();
    let mut out = Vec::new();
    for (a, proposer) in members.iter().enumerate() {
        if !PROPOSING.contains(&(a % 10)) {
            continue;
        }
        let found = proposer.needs.iter().find_map(|need| {
            let mut candidates = offered_by.get(&need.topic)?.clone();
            candidates.shuffle(rng);
            // Neighbours first: a stable sort keeps the shuffled order within each group.
            candidates.sort_by_key(|&b| members[b].region != proposer.region);
            candidates
                .into_iter()
                .filter(|&b| b != a && !taken.contains(&(a.min(b), a.max(b))))
                .take(CANDIDATES_PER_NEED)
                .find_map(|b| {
                    let partner = &members[b];
                    let to_gives = partner.offers.iter().position(|o| o.topic == need.topic)?;
                    let from_gives = proposer
                        .offers
                        .iter()
                        .position(|o| partner.needs.iter().any(|n| n.topic == o.topic))?;
                    Some(Pair {
                        from: a,
                        to: b,
                        from_gives,
                        to_gives,
                    })
                })
        });
        if let Some(pair) = found {
            taken.insert((pair.from.min(pair.to), pair.from.max(pair.to)));
            out.push(pair);
        }
    }
    out
}

/// How far a partnership gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Open,
    Active { one_confirmed: bool },
    Cancelled,
    Completed,
}

fn fate(rng: &mut ChaCha8Rng) -> Fate {
    let roll = rng.gen::<f64>();
    if roll < 0.1 {
        Fate::Open
    } else if roll < 0.28 {
        Fate::Active {
            one_confirmed: rng.gen_bool(0.5),
        }
    } else if roll < 0.33 {
        Fate::Cancelled
    } else {
        Fate::Completed
    }
}

fn item(rng: &mut ChaCha8Rng, listed: &Listed) -> Result<Item, ApiError> {
    let topic = &TOPICS[listed.topic];
    let listing_id = uuid::Uuid::parse_str(&listed.listing_id)
        .map_err(|e| ApiError::Internal(format!("seeded listing id: {e}")))?;
    Ok(Item {
        category: topic.item,
        description: topic.gives.to_owned(),
        quantity: topic
            .unit
            .map(|_| rng.gen_range(topic.quantity.0..=topic.quantity.1)),
        unit: topic.unit.map(str::to_owned),
        listing_id: Some(listing_id),
    })
}

/// The proposer's first message.
fn message(kind: ProposalKind, terms: &Terms, region: &str) -> String {
    let gives = |items: &[Item]| {
        items
            .iter()
            .map(|i| i.description.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match kind {
        ProposalKind::Trial => format!(
            "Zum Kennenlernen, ganz unverbindlich: {}. Wir erwarten nichts im Gegenzug.",
            gives(&terms.from_gives)
        ),
        ProposalKind::Exchange => format!(
            "Guten Tag aus {region}! Wir ergänzen uns gut. Wir bieten: {}. Im Gegenzug wünschen \
             wir uns: {}. Ein fairer Tausch?",
            gives(&terms.from_gives),
            gives(&terms.to_gives)
        ),
    }
}

/// A counter-offer's terms: another quantity of what the answering side gives; `None` when
/// it gives nothing with a quantity that could change.
fn countered(terms: &Terms) -> Option<Terms> {
    let mut revised = terms.clone();
    let item = revised.to_gives.first_mut()?;
    let quantity = item.quantity?;
    let topic = TOPICS.iter().find(|t| t.gives == item.description)?;
    let (low, high) = topic.quantity;
    item.quantity = Some(if quantity < high {
        quantity + 1
    } else if quantity > low {
        quantity - 1
    } else {
        return None;
    });
    Some(revised)
}

/// What the writer of one partnership needs besides the connection.
pub struct Writer<'a> {
    pub rng: &'a mut ChaCha8Rng,
    pub members: &'a [Member],
    /// The events of the chunk, written after its last change.
    pub events: &'a mut Vec<Event>,
    pub report: &'a mut SeedReport,
}

const ENDORSEMENTS: [&str; 4] = [
    "Herzlichen Dank für {thanks} – wir arbeiten gern wieder zusammen!",
    "Ein echter Gewinn für beide Seiten. Danke für {thanks} und den offenen Austausch.",
    "Pünktlich, herzlich und genau wie vereinbart: vielen Dank für {thanks}.",
    "Danke für {thanks}! Wir empfehlen Sie gern weiter.",
];
const CANCEL_REASONS: [&str; 3] = [
    "Wegen eines Wasserschadens schließen wir für mehrere Wochen; wir melden uns danach wieder.",
    "Unsere Saisonplanung hat sich geändert, der Termin passt leider nicht mehr.",
    "Der Betrieb wurde verkauft; die neue Leitung plant anders. Danke für das Verständnis.",
];

impl Writer<'_> {
    /// Proposes, negotiates and (mostly) concludes one partnership.
    pub fn write(&mut self, conn: &mut DbConnection, pair: &Pair) -> Result<(), ApiError> {
        let (from, to) = (&self.members[pair.from], &self.members[pair.to]);
        let offered = &from.offers[pair.from_gives];
        let kind = if offered.trial && self.rng.gen_bool(0.5) {
            ProposalKind::Trial
        } else {
            ProposalKind::Exchange
        };
        let to_gives = match kind {
            ProposalKind::Trial => Vec::new(),
            ProposalKind::Exchange => vec![item(self.rng, &to.offers[pair.to_gives])?],
        };
        let terms = Terms {
            from_gives: vec![item(self.rng, offered)?],
            to_gives,
        };
        let fate = fate(self.rng);
        let confidential = self.rng.gen_bool(1.0 / 6.0);
        let mut at =
            from.joined.max(to.joined) + Duration::minutes(self.rng.gen_range(60..60 * 24 * 10));
        let (mut proposal, mut revisions) =
            self.propose(conn, pair, kind, confidential, &terms, at)?;
        let counter = self.rng.gen_bool(0.3).then(|| countered(&terms)).flatten();
        if let Some(revised) = counter {
            at += Duration::minutes(self.rng.gen_range(30..60 * 24 * 3));
            proposal = self.counter(conn, pair, &proposal, &mut revisions, revised, at)?;
        }
        if fate == Fate::Open {
            return Ok(());
        }
        at += Duration::minutes(self.rng.gen_range(30..60 * 24 * 4));
        let agreement = self.accept(conn, &proposal, &revisions, at)?;
        at += Duration::days(self.rng.gen_range(3..30));
        self.conclude(conn, pair, fate, agreement, at)
    }

    /// What the parties do with the agreement: cancel it, confirm it, endorse each other.
    fn conclude(
        &mut self,
        conn: &mut DbConnection,
        pair: &Pair,
        fate: Fate,
        agreement: Agreement,
        mut at: NaiveDateTime,
    ) -> Result<(), ApiError> {
        use agreement_lifecycle::Action::{Cancel, Complete};
        match fate {
            Fate::Open
            | Fate::Active {
                one_confirmed: false,
            } => Ok(()),
            Fate::Cancelled => {
                let side = if self.rng.gen_bool(0.5) {
                    Side::From
                } else {
                    Side::To
                };
                let reason = CANCEL_REASONS[self.rng.gen_range(0..CANCEL_REASONS.len())];
                self.act(conn, &agreement, side, Cancel, reason, at)
                    .map(|_| ())
            }
            Fate::Active {
                one_confirmed: true,
            } => self
                .act(conn, &agreement, Side::From, Complete, "", at)
                .map(|_| ()),
            Fate::Completed => {
                let confirmed = self.act(conn, &agreement, Side::From, Complete, "", at)?;
                at += Duration::minutes(self.rng.gen_range(10..60 * 48));
                let completed = self.act(conn, &confirmed, Side::To, Complete, "", at)?;
                self.endorse(conn, pair, &completed, at)
            }
        }
    }

    /// `POST /proposals`: the checks of the terms, the first revision, `proposal.received`.
    fn propose(
        &mut self,
        conn: &mut DbConnection,
        pair: &Pair,
        kind: ProposalKind,
        confidential: bool,
        terms: &Terms,
        at: NaiveDateTime,
    ) -> Result<(Proposal, Vec<Revision>), ApiError> {
        let (from, to) = (&self.members[pair.from], &self.members[pair.to]);
        let mut checks = Checks::new();
        let terms = check_terms(&mut checks, kind, terms);
        checks.finish()?;
        check_listings(conn, &terms, &from.org_id, &to.org_id, at)?;
        let id = seeded_id(self.rng, at);
        let proposal = Proposal {
            id: id.clone(),
            from_org_id: from.org_id.clone(),
            to_org_id: to.org_id.clone(),
            kind,
            confidential,
            status: ProposalStatus::Open,
            latest_revision: 1,
            expires_at: None,
            agreement_id: None,
            closed_reason: None,
            closed_at: None,
            created_by: Some(from.owner_id.clone()),
            created_at: at,
            updated_at: at,
        };
        let first = Revision {
            proposal_id: id,
            number: 1,
            author_org_id: from.org_id.clone(),
            author_user_id: Some(from.owner_id.clone()),
            terms: terms.stored(),
            message: message(kind, &terms, from.region),
            created_at: at,
        };
        proposal.insert(conn, &first)?;
        let view = proposal.view(std::slice::from_ref(&first), at)?;
        self.events
            .push(Event::new(&to.org_id, EventType::ProposalReceived, &view)?);
        self.report.proposals += 1;
        Ok((proposal, vec![first]))
    }

    /// The lifecycle state of an open proposal, as the handlers compute it.
    fn state(proposal: &Proposal, latest: &Revision, at: NaiveDateTime) -> Result<State, ApiError> {
        let latest_author = proposal
            .side_of(&latest.author_org_id)
            .ok_or_else(|| ApiError::Internal("revision author is not a party".into()))?;
        Ok(State {
            status: proposal.status_at(at),
            latest_revision: proposal.latest_revision,
            latest_author,
        })
    }

    /// `POST /proposals/{id}/counter` by the receiver; adds the revision to `revisions`.
    fn counter(
        &mut self,
        conn: &mut DbConnection,
        pair: &Pair,
        proposal: &Proposal,
        revisions: &mut Vec<Revision>,
        terms: Terms,
        at: NaiveDateTime,
    ) -> Result<Proposal, ApiError> {
        let latest = revisions
            .last()
            .ok_or_else(|| ApiError::Internal("a proposal without revisions".into()))?;
        let state = Self::state(proposal, latest, at)?;
        let Outcome::Revised { number } = lifecycle::transition(state, Side::To, Action::Counter)?
        else {
            return Err(ApiError::Internal("a counter-offer adds a revision".into()));
        };
        let mut checks = Checks::new();
        let terms = check_terms(&mut checks, proposal.kind, &terms);
        checks.finish()?;
        check_listings(conn, &terms, &proposal.from_org_id, &proposal.to_org_id, at)?;
        let revision = Revision {
            proposal_id: proposal.id.clone(),
            number,
            author_org_id: proposal.to_org_id.clone(),
            author_user_id: Some(self.members[pair.to].owner_id.clone()),
            terms: terms.stored(),
            message: "Gern! Mit dieser Menge passt es für uns noch besser.".to_owned(),
            created_at: at,
        };
        proposal.add_revision(conn, &revision)?;
        let stored = Proposal::find(conn, &proposal.id)?
            .ok_or_else(|| ApiError::Internal("the countered proposal vanished".into()))?;
        revisions.push(revision);
        self.tell(&stored, revisions, EventType::ProposalCountered, at)?;
        Ok(stored)
    }

    /// `POST /proposals/{id}/accept` by the side that did not write the latest revision:
    /// the agreement with its items and `agreement.accepted` leaf.
    fn accept(
        &mut self,
        conn: &mut DbConnection,
        proposal: &Proposal,
        revisions: &[Revision],
        at: NaiveDateTime,
    ) -> Result<Agreement, ApiError> {
        let latest = revisions
            .last()
            .ok_or_else(|| ApiError::Internal("a proposal without revisions".into()))?;
        let state = Self::state(proposal, latest, at)?;
        let side = state.latest_author.other();
        lifecycle::transition(
            state,
            side,
            Action::Accept {
                revision: latest.number,
            },
        )?;
        let id = seeded_id(self.rng, at);
        let (closed, agreement) = agreement::store::accept(conn, proposal, latest, id, at)?;
        self.tell(&closed, revisions, EventType::ProposalAccepted, at)?;
        self.report.agreements += 1;
        self.report.agreement_leaves += 1;
        Ok(agreement)
    }

    /// The proposal event both parties receive.
    fn tell(
        &mut self,
        proposal: &Proposal,
        revisions: &[Revision],
        event_type: EventType,
        at: NaiveDateTime,
    ) -> Result<(), ApiError> {
        let view = proposal.view(revisions, at)?;
        let parties = [proposal.from_org_id.as_str(), proposal.to_org_id.as_str()];
        self.events
            .extend(Event::for_each(&parties, event_type, &view)?);
        Ok(())
    }

    /// `POST /agreements/{id}/complete` or `/cancel` by `side`.
    fn act(
        &mut self,
        conn: &mut DbConnection,
        agreement: &Agreement,
        side: Side,
        action: agreement_lifecycle::Action,
        reason: &str,
        at: NaiveDateTime,
    ) -> Result<Agreement, ApiError> {
        let (stored, event_type) = agreement.act(conn, side, action, reason, at)?;
        match event_type {
            EventType::AgreementCompleted => {
                self.report.completed += 1;
                self.report.agreement_leaves += 1;
            }
            EventType::AgreementCancelled => self.report.agreement_leaves += 1,
            _ => {}
        }
        let view = stored.view(true, stored.log_entries(conn)?)?;
        let parties = [stored.from_org_id.as_str(), stored.to_org_id.as_str()];
        self.events
            .extend(Event::for_each(&parties, event_type, &view)?);
        Ok(stored)
    }

    /// `POST /agreements/{id}/endorsements` by both parties (seven in ten) or one.
    fn endorse(
        &mut self,
        conn: &mut DbConnection,
        pair: &Pair,
        agreement: &Agreement,
        at: NaiveDateTime,
    ) -> Result<(), ApiError> {
        if agreement.status != agreement::AgreementStatus::Completed {
            return Err(ApiError::Internal("endorsements follow completion".into()));
        }
        let both = self.rng.gen_bool(0.7);
        let first = if self.rng.gen_bool(0.5) {
            Side::From
        } else {
            Side::To
        };
        let sides: &[Side] = if both {
            &[Side::From, Side::To]
        } else {
            &[first]
        };
        let terms = agreement.terms()?;
        for (n, &side) in sides.iter().enumerate() {
            let author = &self.members[if side == Side::From {
                pair.from
            } else {
                pair.to
            }];
            // The author thanks for what the other side gave; a trial's giver, who received
            // nothing, for the trust.
            let thanks = terms
                .given_by(side.other())
                .first()
                .and_then(|i| TOPICS.iter().find(|t| t.gives == i.description))
                .map_or("das Vertrauen und die ehrliche Rückmeldung", |t| t.thanks);
            let template = ENDORSEMENTS[self.rng.gen_range(0..ENDORSEMENTS.len())];
            let created_at = at + Duration::hours(self.rng.gen_range(2..96) + 24 * n as i64);
            let endorsement = Endorsement {
                id: seeded_id(self.rng, created_at),
                agreement_id: agreement.id.clone(),
                author_org_id: agreement.org(side).to_owned(),
                endorsed_org_id: agreement.org(side.other()).to_owned(),
                author_user_id: Some(author.owner_id.clone()),
                text: template.replace("{thanks}", thanks),
                removed_at: None,
                created_at,
            };
            endorsement.insert(conn)?;
            self.events.push(Event::new(
                &endorsement.endorsed_org_id,
                EventType::EndorsementReceived,
                &endorsement.view()?,
            )?);
            self.report.endorsements += 1;
        }
        Ok(())
    }
}
