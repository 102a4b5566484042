//! Listings: what an organisation offers or needs, with the moderation lifecycle
//! `draft → pending_review → published | rejected`, `published → archived`, and moderator
//! `remove` / `restore`. An edit of a published listing's public text waits in `pending_*`
//! while the approved text stays public.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::user::{parse_uuid, AccountStatus};
use super::{text_enum, utc};
use crate::db::schema::{listing_tags, listings};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::search;

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

/// Splits the stored comma-joined tags.
pub fn split_tags(tags: &str) -> Vec<String> {
    tags.split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
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

    /// Stores a new listing and indexes its text.
    pub fn insert(&self, conn: &mut DbConnection) -> Result<(), ApiError> {
        diesel::insert_into(listings::table)
            .values(self)
            .execute(conn)?;
        sync_text(conn, &self.id)?;
        sync_postings(conn, None, Some(self))?;
        Ok(catalogue_changed(conn)?)
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

/// The 409 for an action the current status does not allow.
pub fn illegal(action: &str, status: &str) -> ApiError {
    ApiError::Conflict(format!(
        "cannot {action} a listing whose status is {status}"
    ))
}

/// Re-derives the folded search text and the FTS entry from the
/// listing's main text (for published listings that is the approved text).
pub fn sync_text(conn: &mut DbConnection, id: &str) -> Result<(), ApiError> {
    let listing = Listing::find(conn, id)?
        .ok_or_else(|| ApiError::NotFound(format!("listing {id} does not exist")))?;
    let title = search::fold(&listing.title);
    let tags = search::fold(&listing.tags.replace(',', " "));
    let body = search::fold(&listing.description);
    diesel::update(listings::table.find(id))
        .set((
            listings::search_title.eq(&title),
            listings::search_tags.eq(&tags),
            listings::search_body.eq(&body),
        ))
        .execute(conn)?;
    search::index(conn, id, &title, &tags, &body)?;
    Ok(())
}

/// What the tag postings copy from a listing; they are rewritten when it changes.
fn posting_fields(l: &Listing) -> impl PartialEq + '_ {
    (
        (&l.tags, &l.status, &l.kind, &l.category, &l.industry),
        (&l.org_id, &l.region, l.trial_available, l.expires_at),
    )
}

/// Keeps a listing's tag postings (`listing_tags`, one row per public tag with the columns
/// matching filters on) and the published-listing counts in `tag_stats` in step with the
/// listing, from its state `before` a change to its state `after` (`None`: not stored).
pub fn sync_postings(
    conn: &mut DbConnection,
    before: Option<&Listing>,
    after: Option<&Listing>,
) -> QueryResult<()> {
    let Some(id) = after.or(before).map(|l| l.id.as_str()) else {
        return Ok(());
    };
    if let (Some(b), Some(a)) = (before, after) {
        if posting_fields(b) == posting_fields(a) {
            return Ok(());
        }
    }
    diesel::delete(listing_tags::table.filter(listing_tags::listing_id.eq(id))).execute(conn)?;
    if let Some(l) = after {
        for tag in split_tags(&l.tags) {
            diesel::insert_into(listing_tags::table)
                .values((
                    listing_tags::listing_id.eq(&l.id),
                    listing_tags::tag.eq(tag),
                    listing_tags::org_id.eq(&l.org_id),
                    listing_tags::kind.eq(&l.kind),
                    listing_tags::status.eq(&l.status),
                    listing_tags::industry.eq(&l.industry),
                    listing_tags::category.eq(&l.category),
                    listing_tags::region.eq(&l.region),
                    listing_tags::trial_available.eq(l.trial_available),
                    listing_tags::expires_at.eq(l.expires_at),
                ))
                .execute(conn)?;
        }
    }
    // Published-listing counts: -1 for each tag the listing stops counting for, +1 for each
    // it starts to; the empty tag counts the listings themselves.
    let mut delta: std::collections::BTreeMap<String, i64> = Default::default();
    for (listing, sign) in [(before, -1), (after, 1)] {
        if let Some(l) = listing.filter(|l| l.status == ListingStatus::Published) {
            *delta.entry(String::new()).or_default() += sign;
            for tag in split_tags(&l.tags) {
                *delta.entry(tag).or_default() += sign;
            }
        }
    }
    for (tag, change) in delta.into_iter().filter(|(_, d)| *d != 0) {
        crate::models::matching::count_published(conn, &tag, change)?;
    }
    Ok(())
}

/// Marks the public catalogue as changed (see [`crate::catalogue_cache`]); call inside the
/// transaction of the change.
pub fn catalogue_changed(conn: &mut DbConnection) -> QueryResult<()> {
    use crate::db::schema::catalogue_state;
    diesel::update(catalogue_state::table.find(1))
        .set(catalogue_state::version.eq(catalogue_state::version + 1))
        .execute(conn)?;
    Ok(())
}

/// The current catalogue version.
pub fn catalogue_version(conn: &mut DbConnection) -> QueryResult<i64> {
    use crate::db::schema::catalogue_state;
    crate::native!(conn, |c| catalogue_state::table
        .find(1)
        .select(catalogue_state::version)
        .first(c))
}

/// Deletes a listing and its index entries.
pub fn delete(conn: &mut DbConnection, id: &str) -> Result<(), ApiError> {
    if let Some(listing) = Listing::find(conn, id)? {
        sync_postings(conn, Some(&listing), None)?;
    }
    catalogue_changed(conn)?;
    search::unindex(conn, id)?;
    diesel::delete(listings::table.find(id)).execute(conn)?;
    Ok(())
}

/// Any change to a listing; `Some(None)` clears a nullable column.
#[derive(Debug, Default, Clone, AsChangeset)]
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

impl ListingUpdate {
    /// Whether the main (indexed) text changes.
    fn touches_text(&self) -> bool {
        self.title.is_some() || self.description.is_some() || self.tags.is_some()
    }
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

/// Applies a change, bumps the version and keeps the index in step. When `expected` is
/// given, the stored version must still be it (412 otherwise).
pub fn apply(
    conn: &mut DbConnection,
    current: &Listing,
    expected: Option<i32>,
    update: &ListingUpdate,
) -> Result<Listing, ApiError> {
    if expected.is_some_and(|v| v != current.version) {
        return Err(super::org::stale(current.version));
    }
    diesel::update(
        listings::table
            .find(&current.id)
            .filter(listings::version.eq(current.version)),
    )
    .set((
        update,
        listings::version.eq(current.version + 1),
        listings::updated_at.eq(super::now()),
    ))
    .execute(conn)?;
    if update.touches_text() {
        sync_text(conn, &current.id)?;
    }
    let changed = Listing::find(conn, &current.id)?
        .ok_or_else(|| ApiError::NotFound("listing vanished".into()))?;
    sync_postings(conn, Some(current), Some(&changed))?;
    catalogue_changed(conn)?;
    Ok(changed)
}

/// A moderator's decision on a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
    Remove,
    Restore,
}

impl Decision {
    /// The verb used in messages and the moderation log.
    pub fn verb(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
            Decision::Remove => "remove",
            Decision::Restore => "restore",
        }
    }
}

/// The change a moderator's decision makes, or 409 when the status does not allow it.
pub fn decide(
    listing: &Listing,
    decision: Decision,
    reason: Option<String>,
    at: NaiveDateTime,
) -> Result<ListingUpdate, ApiError> {
    let status = listing.status;
    let clear_pending = || ListingUpdate {
        pending_title: Some(None),
        pending_description: Some(None),
        pending_tags: Some(None),
        ..Default::default()
    };
    let update = match (decision, status) {
        (Decision::Approve, ListingStatus::PendingReview) => ListingUpdate {
            status: Some(ListingStatus::Published),
            published_at: Some(Some(at)),
            moderation_reason: Some(None),
            ..Default::default()
        },
        (Decision::Approve, ListingStatus::Published) if listing.has_pending_changes() => {
            ListingUpdate {
                title: listing.pending_title.clone(),
                description: listing.pending_description.clone(),
                tags: listing.pending_tags.clone(),
                moderation_reason: Some(None),
                ..clear_pending()
            }
        }
        (Decision::Reject, ListingStatus::PendingReview) => ListingUpdate {
            status: Some(ListingStatus::Rejected),
            moderation_reason: Some(reason),
            ..Default::default()
        },
        (Decision::Reject, ListingStatus::Published) if listing.has_pending_changes() => {
            ListingUpdate {
                moderation_reason: Some(reason),
                ..clear_pending()
            }
        }
        (
            Decision::Remove,
            ListingStatus::PendingReview
            | ListingStatus::Published
            | ListingStatus::Rejected
            | ListingStatus::Archived,
        ) => ListingUpdate {
            status: Some(ListingStatus::Removed),
            removed_from: Some(Some(status)),
            moderation_reason: Some(reason),
            ..clear_pending()
        },
        (Decision::Restore, ListingStatus::Removed) => ListingUpdate {
            status: Some(listing.removed_from.unwrap_or(ListingStatus::Published)),
            removed_from: Some(None),
            moderation_reason: Some(None),
            ..Default::default()
        },
        (decision, status) => return Err(illegal(decision.verb(), status.as_str())),
    };
    Ok(update)
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
