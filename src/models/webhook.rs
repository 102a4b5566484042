//! Webhooks (an organisation's endpoints for its events), their deliveries (one event to one
//! endpoint, written with the event) and each delivery's attempts.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::event::{EventType, StoredEvent};
use super::user::parse_uuid;
use super::{new_id, utc};
use crate::db::schema::{events, webhook_attempts, webhook_deliveries, webhooks};
use crate::db::DbConnection;
use crate::error::ApiError;

/// A stored webhook.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhooks)]
pub struct Webhook {
    pub id: String,
    pub org_id: String,
    pub url: String,
    /// Comma-separated; empty: every type.
    pub event_types: String,
    pub enabled: bool,
    pub failing_since: Option<NaiveDateTime>,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<NaiveDateTime>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A webhook as its organisation's owners and admins see it (the secret only once, when
/// it is created or rotated).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: uuid::Uuid,
    pub org_id: uuid::Uuid,
    pub url: String,
    /// The event types delivered; empty: every type.
    pub event_types: Vec<EventType>,
    /// Whether events are delivered (false while paused).
    pub enabled: bool,
    /// `active`, `paused` (turned off) or `failing` (paused because a delivery ran out of
    /// retries; enable it again to resume).
    #[schema(value_type = WebhookStatus)]
    pub status: String,
    /// Since when deliveries have been failing, if they are.
    pub failing_since: Option<DateTime<Utc>>,
    /// Until when the previous secret still signs too (after a rotation).
    pub previous_secret_valid_until: Option<DateTime<Utc>>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The signing secret: shown once, in the response that made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// The event types of a stored list.
pub fn parse_types(stored: &str) -> Vec<EventType> {
    stored.split(',').filter_map(EventType::from_text).collect()
}

/// The stored form of a list of event types (sorted, unique).
pub fn stored_types(types: &[EventType]) -> String {
    let mut names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names.join(",")
}

impl Webhook {
    /// The webhook as sent to clients (without its secret).
    pub fn view(&self) -> Result<WebhookView, ApiError> {
        let status = match (self.enabled, self.failing_since) {
            (true, _) => "active",
            (false, Some(_)) => "failing",
            (false, None) => "paused",
        };
        Ok(WebhookView {
            id: parse_uuid(&self.id)?,
            org_id: parse_uuid(&self.org_id)?,
            url: self.url.clone(),
            event_types: parse_types(&self.event_types),
            enabled: self.enabled,
            status: status.to_owned(),
            failing_since: self.failing_since.map(utc),
            previous_secret_valid_until: self.previous_secret_until.map(utc),
            version: self.version,
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
            secret: None,
        })
    }

    /// The secrets that sign a delivery at `at`: the current one, and the previous one
    /// during its grace period.
    pub fn signing_secrets(&self, at: NaiveDateTime) -> Vec<&str> {
        let mut secrets = vec![self.secret.as_str()];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_secret_until) {
            if until > at {
                secrets.push(previous);
            }
        }
        secrets
    }

    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(webhooks::table)
            .values(self)
            .execute(conn)
            .map(|_| ())
    }

    /// A webhook of the organisation, by id.
    pub fn find_in_org(
        conn: &mut DbConnection,
        org_id: &str,
        id: &str,
    ) -> QueryResult<Option<Webhook>> {
        webhooks::table
            .find(id)
            .filter(webhooks::org_id.eq(org_id))
            .select(Webhook::as_select())
            .first(conn)
            .optional()
    }

    /// How many webhooks the organisation has.
    pub fn count_in_org(conn: &mut DbConnection, org_id: &str) -> QueryResult<i64> {
        webhooks::table
            .filter(webhooks::org_id.eq(org_id))
            .count()
            .get_result(conn)
    }

    /// One page of the organisation's webhooks, oldest first, after the cursor's id.
    pub fn list(
        conn: &mut DbConnection,
        org_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> QueryResult<Vec<Webhook>> {
        let mut query = webhooks::table
            .filter(webhooks::org_id.eq(org_id))
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(webhooks::id.gt(after.to_owned()));
        }
        query
            .order(webhooks::id.asc())
            .limit(limit)
            .select(Webhook::as_select())
            .load(conn)
    }

    /// Stores a changed webhook if its version is still `expected` (the caller bumps
    /// `version`); false when another change came first.
    pub fn save(&self, conn: &mut DbConnection, expected: i32) -> QueryResult<bool> {
        let changed = diesel::update(
            webhooks::table
                .find(&self.id)
                .filter(webhooks::version.eq(expected)),
        )
        .set((
            webhooks::url.eq(&self.url),
            webhooks::event_types.eq(&self.event_types),
            webhooks::enabled.eq(self.enabled),
            webhooks::failing_since.eq(self.failing_since),
            webhooks::secret.eq(&self.secret),
            webhooks::previous_secret.eq(&self.previous_secret),
            webhooks::previous_secret_until.eq(self.previous_secret_until),
            webhooks::version.eq(self.version),
            webhooks::updated_at.eq(self.updated_at),
        ))
        .execute(conn)?;
        Ok(changed == 1)
    }

    pub fn delete(conn: &mut DbConnection, org_id: &str, id: &str) -> QueryResult<usize> {
        diesel::delete(webhooks::table.find(id).filter(webhooks::org_id.eq(org_id))).execute(conn)
    }

    /// Pauses the webhook as failing (a delivery ran out of retries); false when it was
    /// already paused.
    pub fn mark_failing(conn: &mut DbConnection, id: &str, at: NaiveDateTime) -> QueryResult<bool> {
        let changed = diesel::update(webhooks::table.find(id).filter(webhooks::enabled.eq(true)))
            .set((
                webhooks::enabled.eq(false),
                webhooks::failing_since.eq(at),
                webhooks::version.eq(webhooks::version + 1),
                webhooks::updated_at.eq(at),
            ))
            .execute(conn)?;
        Ok(changed == 1)
    }

    pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Webhook>> {
        webhooks::table
            .find(id)
            .select(Webhook::as_select())
            .first(conn)
            .optional()
    }
}

/// Delivery states.
pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

/// A stored delivery.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_deliveries)]
pub struct Delivery {
    pub id: String,
    pub webhook_id: String,
    pub event_seq: i64,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub claimed_by: Option<String>,
    pub lease_until: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
}

impl Delivery {
    /// A new pending delivery of the event `seq` to `webhook_id`, due at `at`.
    pub fn new(webhook_id: &str, event_seq: i64, at: NaiveDateTime) -> Delivery {
        Delivery {
            id: new_id(),
            webhook_id: webhook_id.to_owned(),
            event_seq,
            status: PENDING.to_owned(),
            attempts: 0,
            next_attempt_at: at,
            claimed_by: None,
            lease_until: None,
            created_at: at,
            delivered_at: None,
        }
    }
}

/// One attempt of a delivery.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_attempts)]
pub struct Attempt {
    pub delivery_id: String,
    pub number: i32,
    pub attempted_at: NaiveDateTime,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub latency_ms: i64,
    pub response_snippet: Option<String>,
}

/// An attempt as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttemptView {
    pub number: i32,
    pub attempted_at: DateTime<Utc>,
    /// The endpoint's HTTP status, if it answered.
    pub status_code: Option<i32>,
    /// Why no answer counted (timeout, refused address, connection error …).
    pub error: Option<String>,
    pub latency_ms: i64,
    /// The start of the response body (at most 512 bytes).
    pub response_snippet: Option<String>,
}

/// A delivery as listed, with its attempts (oldest first).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: uuid::Uuid,
    pub webhook_id: uuid::Uuid,
    /// The event delivered (as in the event feed).
    pub event_id: uuid::Uuid,
    pub event_type: EventType,
    /// `pending` (waiting for its next attempt), `delivered` or `failed` (out of retries).
    #[schema(value_type = DeliveryStatus)]
    pub status: String,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub attempts: Vec<AttemptView>,
}

/// A claimed delivery with what sending it needs.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub delivery: Delivery,
    pub webhook: Webhook,
    pub event: StoredEvent,
}

/// Claims up to `limit` due deliveries of enabled webhooks for `runner` until `lease_until`
/// (call in a write transaction of its own). PostgreSQL skips rows another runner is
/// claiming at the same moment; SQLite holds the write lock.
pub fn claim(
    conn: &mut DbConnection,
    runner: &str,
    at: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Claimed>> {
    // Only deliveries of enabled webhooks: a paused webhook's pending ones wait without
    // taking the slots of others (a subquery, so that PostgreSQL locks delivery rows only).
    let enabled = webhooks::table
        .filter(webhooks::enabled.eq(true))
        .select(webhooks::id);
    let due = webhook_deliveries::table
        .filter(webhook_deliveries::status.eq(PENDING))
        .filter(webhook_deliveries::webhook_id.eq_any(enabled))
        .filter(webhook_deliveries::next_attempt_at.le(at))
        .filter(
            webhook_deliveries::lease_until
                .is_null()
                .or(webhook_deliveries::lease_until.lt(at)),
        )
        .order(webhook_deliveries::next_attempt_at.asc())
        .limit(limit)
        .select(webhook_deliveries::id);
    let ids: Vec<String> = match conn {
        DbConnection::Pg(c) => due.for_update().skip_locked().load(c)?,
        DbConnection::Sqlite(c) => due.load(c)?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(&ids)))
        .set((
            webhook_deliveries::claimed_by.eq(runner),
            webhook_deliveries::lease_until.eq(lease_until),
        ))
        .execute(conn)?;
    let rows: Vec<(Delivery, Webhook, StoredEvent)> = webhook_deliveries::table
        .inner_join(webhooks::table)
        .inner_join(events::table)
        .filter(webhook_deliveries::id.eq_any(&ids))
        .filter(webhooks::enabled.eq(true))
        .select((
            Delivery::as_select(),
            Webhook::as_select(),
            StoredEvent::as_select(),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(delivery, webhook, event)| Claimed {
            delivery,
            webhook,
            event,
        })
        .collect())
}

/// What an attempt came to, for [`record`].
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The endpoint answered 2xx.
    Delivered,
    /// Try again at this time.
    Retry(NaiveDateTime),
    /// Out of retries: the delivery failed and the webhook is paused.
    Failed,
}

/// Stores an attempt and its outcome if `runner` still holds the claim; returns whether it
/// did (a claim taken over after its lease ran out is the new runner's).
pub fn record(
    conn: &mut DbConnection,
    runner: &str,
    attempt: &Attempt,
    outcome: &Outcome,
) -> QueryResult<bool> {
    let mine = webhook_deliveries::table
        .find(&attempt.delivery_id)
        .filter(webhook_deliveries::claimed_by.eq(runner))
        .filter(webhook_deliveries::status.eq(PENDING));
    let at = attempt.attempted_at;
    let changed = match outcome {
        Outcome::Delivered => diesel::update(mine)
            .set((
                webhook_deliveries::status.eq(DELIVERED),
                webhook_deliveries::attempts.eq(attempt.number),
                webhook_deliveries::delivered_at.eq(at),
                webhook_deliveries::claimed_by.eq(None::<String>),
                webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?,
        Outcome::Retry(next) => diesel::update(mine)
            .set((
                webhook_deliveries::attempts.eq(attempt.number),
                webhook_deliveries::next_attempt_at.eq(*next),
                webhook_deliveries::claimed_by.eq(None::<String>),
                webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?,
        Outcome::Failed => diesel::update(mine)
            .set((
                webhook_deliveries::status.eq(FAILED),
                webhook_deliveries::attempts.eq(attempt.number),
                webhook_deliveries::claimed_by.eq(None::<String>),
                webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?,
    };
    if changed == 1 {
        diesel::insert_into(webhook_attempts::table)
            .values(attempt)
            .execute(conn)?;
    }
    Ok(changed == 1)
}

/// One page of a webhook's deliveries, newest first, before the cursor's id, with their
/// attempts.
pub fn deliveries(
    conn: &mut DbConnection,
    webhook_id: &str,
    before: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<(Delivery, StoredEvent, Vec<Attempt>)>> {
    let mut query = webhook_deliveries::table
        .inner_join(events::table)
        .filter(webhook_deliveries::webhook_id.eq(webhook_id))
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(webhook_deliveries::id.lt(before.to_owned()));
    }
    let rows: Vec<(Delivery, StoredEvent)> = query
        .order(webhook_deliveries::id.desc())
        .limit(limit)
        .select((Delivery::as_select(), StoredEvent::as_select()))
        .load(conn)?;
    let ids: Vec<&str> = rows.iter().map(|(d, _)| d.id.as_str()).collect();
    let attempts: Vec<Attempt> = webhook_attempts::table
        .filter(webhook_attempts::delivery_id.eq_any(&ids))
        .order((webhook_attempts::delivery_id, webhook_attempts::number))
        .select(Attempt::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(delivery, event)| {
            let own = attempts
                .iter()
                .filter(|a| a.delivery_id == delivery.id)
                .cloned()
                .collect();
            (delivery, event, own)
        })
        .collect())
}

/// Stores a new delivery.
pub fn insert_delivery(conn: &mut DbConnection, delivery: &Delivery) -> QueryResult<()> {
    diesel::insert_into(webhook_deliveries::table)
        .values(delivery)
        .execute(conn)
        .map(|_| ())
}

/// The stored event `seq`.
pub fn event_of(conn: &mut DbConnection, seq: i64) -> QueryResult<StoredEvent> {
    events::table
        .find(seq)
        .select(StoredEvent::as_select())
        .first(conn)
}

/// A delivery of the webhook, by id.
pub fn find_delivery(
    conn: &mut DbConnection,
    webhook_id: &str,
    id: &str,
) -> QueryResult<Option<Delivery>> {
    webhook_deliveries::table
        .find(id)
        .filter(webhook_deliveries::webhook_id.eq(webhook_id))
        .select(Delivery::as_select())
        .first(conn)
        .optional()
}

/// Deletes deliveries (and their attempts) made before `before` that are no longer pending
/// (the housekeeping job). Returns how many.
pub fn purge(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(
        webhook_deliveries::table
            .filter(webhook_deliveries::created_at.lt(before))
            .filter(webhook_deliveries::status.ne(PENDING)),
    )
    .execute(conn)
}

impl DeliveryView {
    pub fn of(
        delivery: &Delivery,
        event: &StoredEvent,
        attempts: &[Attempt],
    ) -> Result<DeliveryView, ApiError> {
        let event_type = EventType::from_text(&event.event_type).ok_or_else(|| {
            ApiError::Internal(format!("unknown stored event type {:?}", event.event_type))
        })?;
        Ok(DeliveryView {
            id: parse_uuid(&delivery.id)?,
            webhook_id: parse_uuid(&delivery.webhook_id)?,
            event_id: parse_uuid(&event.id)?,
            event_type,
            status: delivery.status.clone(),
            next_attempt_at: (delivery.status == PENDING).then(|| utc(delivery.next_attempt_at)),
            created_at: utc(delivery.created_at),
            delivered_at: delivery.delivered_at.map(utc),
            attempts: attempts
                .iter()
                .map(|a| AttemptView {
                    number: a.number,
                    attempted_at: utc(a.attempted_at),
                    status_code: a.status_code,
                    error: a.error.clone(),
                    latency_ms: a.latency_ms,
                    response_snippet: a.response_snippet.clone(),
                })
                .collect(),
        })
    }
}

/// A webhook's state, as [`WebhookView::status`] spells it (the document's name for it).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum WebhookStatus {
    Active,
    Paused,
    Failing,
}

/// A delivery's state, as its view spells it (the document's name for it).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}
