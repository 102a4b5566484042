//! Listings: what an organisation offers or needs, with the moderation lifecycle
//! `draft → pending_review → published | rejected`, `published → archived`, and moderator
//! `remove` / `restore`. An edit of a published listing's public text waits in `pending_*`
//! while the approved text stays public.
//!
//! This module holds the row, its views and its read queries. The lifecycle is one pure
//! function in [`lifecycle`]; every write goes through [`store`], which hands each change to
//! [`derived`], the only writer of a listing's search text, tag postings, tag counts and the
//! catalogue version.

pub mod derived;
pub mod lifecycle;
pub mod store;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::tag::split_tags;
use super::user::{parse_uuid, AccountStatus};
use super::{text_enum, utc};
use crate::db::schema::listings;
use crate::db::DbConnection;
use crate::error::ApiError;

text_enum! {
    /// Whether a listing offers something or asks for it.
    ListingKind {
        Offer => "offer",
        Need => "need",
    }
}

impl ListingKind {
    /// The kind that meets this one: offers meet needs.
    pub fn opposite(self) -> ListingKind {
        match self {
            ListingKind::Offer => ListingKind::Need,
            ListingKind::Need => ListingKind::Offer,
        }
    }
}

text_enum! {
    /// What is offered or needed.
    ListingCategory {
        /// Knowledge, skills, advice.
        Expertise => "expertise",
        /// Equipment, space, capacity, materials.
        Resource => "resource",
    }
}

text_enum! {
    /// Where a listing stands in its lifecycle.
    ListingStatus {
        Draft => "draft",
        PendingReview => "pending_review",
        Published => "published",
        Rejected => "rejected",
        Archived => "archived",
        Removed => "removed",
    }
}

/// A stored listing row (without the folded search columns, which only the index
/// maintenance writes and only SQL reads).
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = listings)]
pub struct Listing {
    pub id: String,
    pub org_id: String,
    pub kind: ListingKind,
    pub category: ListingCategory,
    pub title: String,
    pub description: String,
    pub tags: String,
    pub industry: String,
    pub region: Option<String>,
    pub trial_available: bool,
    pub expires_at: Option<NaiveDateTime>,
    pub status: ListingStatus,
    pub removed_from: Option<ListingStatus>,
    pub version: i32,
    pub moderation_reason: Option<String>,
    pub pending_title: Option<String>,
    pub pending_description: Option<String>,
    pub pending_tags: Option<String>,
    pub submitted_at: Option<NaiveDateTime>,
    pub published_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A new listing's own fields, before it is stored.
#[derive(Debug, Clone)]
pub struct ListingFields {
    pub kind: ListingKind,
    pub category: ListingCategory,
    pub title: String,
    pub description: String,
    /// The stored comma-joined form.
    pub tags: String,
    /// `None`: the organisation's industry.
    pub industry: Option<String>,
    pub region: Option<String>,
    pub trial_available: bool,
    pub expires_at: Option<NaiveDateTime>,
}

impl ListingFields {
    /// The row of a new listing in `status` (the API creates drafts; `mutua seed` stores
    /// listings as if they had been through review): version 1, nothing pending.
    pub fn into_row(
        self,
        id: String,
        org_id: String,
        org_industry: &str,
        status: ListingStatus,
        at: NaiveDateTime,
    ) -> Listing {
        Listing {
            id,
            org_id,
            kind: self.kind,
            category: self.category,
            title: self.title,
            description: self.description,
            tags: self.tags,
            industry: self.industry.unwrap_or_else(|| org_industry.to_owned()),
            region: self.region,
            trial_available: self.trial_available,
            expires_at: self.expires_at,
            status,
            removed_from: None,
            version: 1,
            moderation_reason: None,
            pending_title: None,
            pending_description: None,
            pending_tags: None,
            submitted_at: (status != ListingStatus::Draft).then_some(at),
            published_at: (status == ListingStatus::Published).then_some(at),
            created_at: at,
            updated_at: at,
        }
    }
}

/// An edit of a published listing's public text, waiting for review.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PendingChanges {
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
}

/// A listing as sent to clients. Moderation details and pending changes are shown only to
/// the owning organisation and to moderators.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ListingView {
    pub id: uuid::Uuid,
    pub org_id: uuid::Uuid,
    pub kind: ListingKind,
    pub category: ListingCategory,
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    pub industry: String,
    pub region: Option<String>,
    /// A no-obligation trial or sample is available; taking it creates no debt.
    pub trial_available: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub status: ListingStatus,
    /// Increases with every change; the `ETag` is this number quoted.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    /// Why a moderator rejected or removed it (owner and moderators only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moderation_reason: Option<String>,
    /// An edit of the public text awaiting review (owner and moderators only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_changes: Option<PendingChanges>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<DateTime<Utc>>,
}

impl Listing {
    /// Whether the public can see it: published, not expired, and its organisation is not
    /// suspended (a primary-key lookup, only for listings that pass the first two tests).
    pub fn is_public(&self, conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<bool> {
        if !self.is_live(now) {
            return Ok(false);
        }
        let status: Option<AccountStatus> = crate::db::schema::orgs::table
            .find(&self.org_id)
            .select(crate::db::schema::orgs::status)
            .first(conn)
            .optional()?;
        Ok(status.is_some_and(|s| self.is_public_with(s, now)))
    }

    /// [`Listing::is_public`] when the organisation's status is already known.
    pub fn is_public_with(&self, org_status: AccountStatus, now: NaiveDateTime) -> bool {
        self.is_live(now) && org_status == AccountStatus::Active
    }

    /// Published and not expired (public unless its organisation is suspended).
    pub fn is_live(&self, now: NaiveDateTime) -> bool {
        self.status == ListingStatus::Published && self.expires_at.is_none_or(|e| e > now)
    }

    /// Whether it has an edit waiting for review.
    pub fn has_pending_changes(&self) -> bool {
        self.pending_title.is_some()
    }

    /// The client-facing form; `private` adds moderation details and pending changes.
    pub fn view(&self, private: bool) -> Result<ListingView, ApiError> {
        let pending = match (
            &self.pending_title,
            &self.pending_description,
            &self.pending_tags,
        ) {
            (Some(title), Some(description), Some(tags)) if private => Some(PendingChanges {
                title: title.clone(),
                description: description.clone(),
                tags: split_tags(tags),
            }),
            _ => None,
        };
        Ok(ListingView {
            id: parse_uuid(&self.id)?,
            org_id: parse_uuid(&self.org_id)?,
            kind: self.kind,
            category: self.category,
            title: self.title.clone(),
            description: self.description.clone(),
            tags: split_tags(&self.tags),
            industry: self.industry.clone(),
            region: self.region.clone(),
            trial_available: self.trial_available,
            expires_at: self.expires_at.map(utc),
            status: self.status,
            version: self.version,
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
            published_at: self.published_at.map(utc),
            moderation_reason: self.moderation_reason.clone().filter(|_| private),
            pending_changes: pending,
            submitted_at: self.submitted_at.filter(|_| private).map(utc),
        })
    }

    /// Finds a listing by id.
    pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Listing>> {
        listings::table
            .find(id)
            .select(Listing::as_select())
            .first(conn)
            .optional()
    }

    /// Finds listings by id (one statement), keyed by id; ids that do not exist are absent.
    pub fn find_many(
        conn: &mut DbConnection,
        ids: &[&str],
    ) -> QueryResult<std::collections::HashMap<String, Listing>> {
        let found: Vec<Listing> = crate::native!(conn, |c| listings::table
            .filter(listings::id.eq_any(ids))
            .select(Listing::as_select())
            .load(c))?;
        Ok(found.into_iter().map(|l| (l.id.clone(), l)).collect())
    }

    /// Finds a listing by id with its organisation's status, in one statement.
    pub fn find_with_org_status(
        conn: &mut DbConnection,
        id: &str,
    ) -> QueryResult<Option<(Listing, AccountStatus)>> {
        use crate::db::schema::orgs;
        crate::native!(conn, |c| listings::table
            .inner_join(orgs::table)
            .filter(listings::id.eq(id))
            .select((Listing::as_select(), orgs::status))
            .first(c)
            .optional())
    }

    /// Counts an organisation's live listings (draft, pending or published).
    pub fn count_active(conn: &mut DbConnection, org_id: &str) -> QueryResult<i64> {
        listings::table
            .filter(listings::org_id.eq(org_id))
            .filter(listings::status.eq_any([
                ListingStatus::Draft,
                ListingStatus::PendingReview,
                ListingStatus::Published,
            ]))
            .count()
            .get_result(conn)
    }
}

/// Any change to a listing; `Some(None)` clears a nullable column.
#[derive(Debug, Default, Clone, PartialEq, AsChangeset)]
#[diesel(table_name = listings)]
pub struct ListingUpdate {
    pub category: Option<ListingCategory>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub tags: Option<String>,
    pub industry: Option<String>,
    pub region: Option<Option<String>>,
    pub trial_available: Option<bool>,
    pub expires_at: Option<Option<NaiveDateTime>>,
    pub status: Option<ListingStatus>,
    pub removed_from: Option<Option<ListingStatus>>,
    pub moderation_reason: Option<Option<String>>,
    pub pending_title: Option<Option<String>>,
    pub pending_description: Option<Option<String>>,
    pub pending_tags: Option<Option<String>>,
    pub submitted_at: Option<Option<NaiveDateTime>>,
    pub published_at: Option<Option<NaiveDateTime>>,
}

/// Takes the listing's row lock for the rest of the transaction and reads it, so the
/// status check and the change that follows cannot interleave with another request.
pub fn lock(conn: &mut DbConnection, id: &str) -> Result<Listing, ApiError> {
    diesel::update(listings::table.find(id))
        .set(listings::version.eq(listings::version))
        .execute(conn)?;
    Listing::find(conn, id)?
        .ok_or_else(|| ApiError::NotFound(format!("listing {id} does not exist")))
}

/// Listings waiting for a moderator: submitted listings and edits of published ones,
/// oldest submission first, after `(submitted_at, id)`.
pub fn review_queue(
    conn: &mut DbConnection,
    after: Option<(NaiveDateTime, String)>,
    limit: i64,
) -> QueryResult<Vec<Listing>> {
    // Literal values, so the planner can use the partial index `listings_review` (it does
    // not plan from bound values; see .cargo/config.toml).
    let waiting = diesel::dsl::sql::<diesel::sql_types::Bool>(
        "(listings.status = 'pending_review' OR listings.pending_title IS NOT NULL)",
    );
    let mut query = listings::table
        .filter(waiting)
        .select(Listing::as_select())
        .into_boxed();
    if let Some((at, id)) = after {
        query = query.filter(
            listings::submitted_at
                .gt(at)
                .or(listings::submitted_at.eq(at).and(listings::id.gt(id))),
        );
    }
    query
        .order((listings::submitted_at.asc(), listings::id.asc()))
        .limit(limit)
        .load(conn)
}

/// How many listings wait for review, and how many published ones have a pending edit.
pub fn review_counts(conn: &mut DbConnection) -> QueryResult<(i64, i64)> {
    let submitted = listings::table
        .filter(listings::status.eq(ListingStatus::PendingReview))
        .count()
        .get_result(conn)?;
    let edits = listings::table
        .filter(listings::status.eq(ListingStatus::Published))
        .filter(listings::pending_title.is_not_null())
        .count()
        .get_result(conn)?;
    Ok((submitted, edits))
}
