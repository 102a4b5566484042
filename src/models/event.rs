//! Organisation events: the transactional outbox behind `GET /orgs/{org_id}/events` (and,
//! later, webhook deliveries). Each event is written by the transaction of the change it
//! describes, so none is lost and none is invented, and carries the resource as the API
//! shows it to the receiving organisation, never more.
//!
//! Order: an event's `seq` is taken from the `event_state` row by an UPDATE that holds the
//! row's lock until the writing transaction ends (PostgreSQL: a row lock; SQLite: the write
//! lock, which every write transaction holds anyway). A second writer waits there until
//! the first has committed or rolled back, so numbers are handed out in commit order, and
//! a reader that pages by `seq` never sees a number before every smaller one is committed:
//! a cursor never skips an event, even with several processes on one PostgreSQL.
//!
//! Because that lock is held to the end of the transaction, events are written as a
//! change's last step (after its log leaf, whose `log_state` lock comes first), so a
//! writer holding it waits for nothing else and two writers cannot deadlock.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::value::RawValue;
use utoipa::ToSchema;

use crate::db::schema::{event_state, events};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::models::effects::Effect;
use crate::models::user::parse_uuid;
use crate::models::{new_id, now, utc};

macro_rules! event_types {
    ($($(#[$meta:meta])* $variant:ident => $text:literal),+ $(,)?) => {
        /// What happened. `data` holds the resource named by the part before the dot.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
        pub enum EventType {
            $($(#[$meta])* #[serde(rename = $text)] $variant),+
        }

        // Written out rather than derived: the derive cannot read a `rename` that a macro
        // passes in, and would name the variants as Rust spells them.
        impl utoipa::PartialSchema for EventType {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some(
                        "What happened, as `<resource>.<change>`; `data` holds the resource.",
                    ))
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        impl ToSchema for EventType {}

        impl EventType {
            /// Every type, in declaration order.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant),+];

            /// The stored and wire spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventType::$variant => $text),+
                }
            }

            /// The type with this spelling, if any.
            pub fn from_text(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(EventType::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

event_types! {
    /// A listing was submitted for review (data: the listing).
    ListingSubmitted => "listing.submitted",
    /// A moderator published a submitted listing.
    ListingApproved => "listing.approved",
    /// A moderator refused a submitted listing (`moderation_reason` says why).
    ListingRejected => "listing.rejected",
    /// A moderator hid a listing.
    ListingRemoved => "listing.removed",
    /// A moderator undid a removal.
    ListingRestored => "listing.restored",
    /// A moderator applied a published listing's pending edit.
    ListingEditApproved => "listing.edit_approved",
    /// A moderator refused a published listing's pending edit (the approved text stays).
    ListingEditRejected => "listing.edit_rejected",
    /// Another organisation sent this one a proposal (data: the proposal).
    ProposalReceived => "proposal.received",
    /// A party added a counter-offer (to both parties).
    ProposalCountered => "proposal.countered",
    /// A party accepted; `agreement_id` names the new agreement (to both parties).
    ProposalAccepted => "proposal.accepted",
    /// A party declined (to both parties).
    ProposalDeclined => "proposal.declined",
    /// The proposer withdrew (to both parties).
    ProposalWithdrawn => "proposal.withdrawn",
    /// An open proposal reached its `expires_at` unanswered (to both parties; told by
    /// the housekeeping job within its interval, `created_at` says when it was told).
    ProposalExpired => "proposal.expired",
    /// One party confirmed an agreement as completed (data: the agreement; to both).
    AgreementConfirmed => "agreement.confirmed",
    /// Both parties have confirmed: the agreement is completed (to both).
    AgreementCompleted => "agreement.completed",
    /// A party cancelled an agreement (to both).
    AgreementCancelled => "agreement.cancelled",
    /// The other party endorsed a completed agreement (data: the endorsement).
    EndorsementReceived => "endorsement.received",
    /// A moderator resolved a report filed for this organisation (data: the report as its
    /// reporter reads it).
    ReportResolved => "report.resolved",
    /// A moderator suspended this organisation (data: the organisation's profile).
    OrgSuspended => "org.suspended",
    /// A moderator lifted this organisation's suspension.
    OrgReinstated => "org.reinstated",
    /// Someone was invited to join (data: the invitation, without its token).
    MemberInvited => "member.invited",
    /// Someone joined (data: the membership).
    MemberJoined => "member.joined",
    /// A member left or was removed (data: the membership as it was).
    MemberRemoved => "member.removed",
    /// An API key was created (data: the key, without its secret).
    ApiKeyCreated => "api_key.created",
    /// An API key was revoked.
    ApiKeyRevoked => "api_key.revoked",
    /// A webhook's delivery ran out of retries: the webhook is paused until it is enabled
    /// again (data: the webhook, without its secret).
    WebhookFailing => "webhook.failing",
}

/// An event to write beside a change (see [`crate::models::effects`]).
#[derive(Debug, Clone)]
pub struct Event {
    org_id: String,
    event_type: EventType,
    data: String,
}

impl Event {
    /// An event for `org_id` carrying `data`, the resource as that organisation sees it.
    pub fn new(
        org_id: &str,
        event_type: EventType,
        data: &impl Serialize,
    ) -> Result<Event, ApiError> {
        let data = serde_json::to_string(data)
            .map_err(|e| ApiError::Internal(format!("event data: {e}")))?;
        Ok(Event {
            org_id: org_id.to_owned(),
            event_type,
            data,
        })
    }

    /// The same event for each of several organisations (e.g. both parties).
    pub fn for_each(
        org_ids: &[&str],
        event_type: EventType,
        data: &impl Serialize,
    ) -> Result<Vec<Event>, ApiError> {
        let first = Event::new(
            org_ids.first().copied().unwrap_or_default(),
            event_type,
            data,
        )?;
        // Serialised once: the same data for every organisation.
        Ok(org_ids
            .iter()
            .map(|org_id| Event {
                org_id: (*org_id).to_owned(),
                ..first.clone()
            })
            .collect())
    }
}

#[derive(Insertable)]
#[diesel(table_name = events)]
struct NewEvent<'a> {
    seq: i64,
    id: String,
    org_id: &'a str,
    event_type: &'static str,
    created_at: NaiveDateTime,
    data: &'a str,
}

/// Writes events in the given order as the last step of a change, numbered in commit order
/// (see the module documentation).
pub fn write_all(conn: &mut DbConnection, list: &[Event]) -> QueryResult<()> {
    if list.is_empty() {
        return Ok(());
    }
    let count = list.len() as i64;
    let last: i64 = diesel::update(event_state::table.find(1))
        .set(event_state::last_seq.eq(event_state::last_seq + count))
        .returning(event_state::last_seq)
        .get_result(conn)?;
    let at = now();
    let rows: Vec<NewEvent> = list
        .iter()
        .zip(last - count + 1..)
        .map(|(event, seq)| NewEvent {
            seq,
            id: new_id(),
            org_id: &event.org_id,
            event_type: event.event_type.as_str(),
            created_at: at,
            data: &event.data,
        })
        .collect();
    // A multi-row INSERT needs the concrete backend (diesel's multi-connection has no
    // batch inserts).
    crate::native!(&mut *conn, |c| diesel::insert_into(events::table)
        .values(&rows)
        .execute(c))?;
    // Each event goes out to the organisation's webhooks that take it, from the same
    // transaction: a delivery exists exactly when its event does.
    let written: Vec<(i64, &str, EventType)> = rows
        .iter()
        .zip(list)
        .map(|(row, event)| (row.seq, row.org_id, event.event_type))
        .collect();
    fan_out(conn, &written, at)?;
    Ok(())
}

/// Writes a pending delivery (`webhook_deliveries`) for every enabled webhook of the
/// events' organisations that takes their type; `models::webhook` reads and runs them.
fn fan_out(
    conn: &mut DbConnection,
    written: &[(i64, &str, EventType)],
    at: NaiveDateTime,
) -> QueryResult<()> {
    use crate::db::schema::{webhook_deliveries as d, webhooks as w};
    let mut orgs: Vec<&str> = written.iter().map(|(_, org, _)| *org).collect();
    orgs.sort_unstable();
    orgs.dedup();
    let hooks: Vec<(String, String, String)> = w::table
        .filter(w::org_id.eq_any(&orgs))
        .filter(w::enabled.eq(true))
        .select((w::id, w::org_id, w::event_types))
        .load(conn)?;
    for (seq, org, event_type) in written {
        for (hook, _, _) in hooks.iter().filter(|(_, hook_org, types)| {
            hook_org == org
                && (types.is_empty() || types.split(',').any(|t| t == event_type.as_str()))
        }) {
            diesel::insert_into(d::table)
                .values((
                    d::id.eq(new_id()),
                    d::webhook_id.eq(hook),
                    d::event_seq.eq(seq),
                    d::status.eq("pending"),
                    d::attempts.eq(0),
                    d::next_attempt_at.eq(at),
                    d::created_at.eq(at),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

impl Effect for Event {
    fn write(self, conn: &mut DbConnection) -> QueryResult<()> {
        write_all(conn, std::slice::from_ref(&self))
    }
}

impl Effect for Vec<Event> {
    fn write(self, conn: &mut DbConnection) -> QueryResult<()> {
        write_all(conn, &self)
    }
}

/// A stored event.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct StoredEvent {
    pub seq: i64,
    pub id: String,
    pub org_id: String,
    pub event_type: String,
    pub created_at: NaiveDateTime,
    pub data: String,
}

/// One event as the feed (and a webhook delivery) sends it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventView {
    pub id: uuid::Uuid,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub created_at: DateTime<Utc>,
    pub org_id: uuid::Uuid,
    /// The resource as the API shows it to this organisation (a listing, proposal,
    /// agreement, endorsement, report, organisation, invitation, membership or API key).
    #[schema(value_type = Object)]
    pub data: Box<RawValue>,
}

impl StoredEvent {
    /// The event as sent to clients.
    pub fn view(&self) -> Result<EventView, ApiError> {
        let event_type = EventType::from_text(&self.event_type).ok_or_else(|| {
            ApiError::Internal(format!("unknown stored event type {:?}", self.event_type))
        })?;
        Ok(EventView {
            id: parse_uuid(&self.id)?,
            event_type,
            created_at: utc(self.created_at),
            org_id: parse_uuid(&self.org_id)?,
            // Sent as stored (checked to be JSON, not parsed into a tree and written again).
            data: RawValue::from_string(self.data.clone())
                .map_err(|e| ApiError::Internal(format!("stored event data: {e}")))?,
        })
    }

    /// Up to `limit` of an organisation's events after `after` (a `seq`), oldest first,
    /// only of `types` when any are given.
    pub fn feed(
        conn: &mut DbConnection,
        org_id: &str,
        after: i64,
        types: &[EventType],
        limit: i64,
    ) -> QueryResult<Vec<StoredEvent>> {
        let mut query = events::table
            .filter(events::org_id.eq(org_id))
            .filter(events::seq.gt(after))
            .into_boxed();
        if !types.is_empty() {
            let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
            query = query.filter(events::event_type.eq_any(names));
        }
        query
            .order(events::seq.asc())
            .limit(limit)
            .select(StoredEvent::as_select())
            .load(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_and_is_sent_as_stored() {
        for t in EventType::ALL {
            assert_eq!(EventType::from_text(t.as_str()), Some(*t));
            assert_eq!(
                serde_json::to_value(t).unwrap(),
                serde_json::Value::String(t.as_str().to_owned())
            );
            let (resource, verb) = t.as_str().split_once('.').unwrap();
            assert!(!resource.is_empty() && !verb.is_empty());
        }
        assert_eq!(EventType::from_text("proposal.Received"), None);
    }
}
