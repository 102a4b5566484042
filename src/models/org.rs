//! Organisations: the companies that publish offers and needs.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::user::{parse_uuid, AccountStatus};
use super::utc;
use crate::db::schema::orgs;
use crate::db::DbConnection;
use crate::error::ApiError;

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// A stored organisation row.
#[derive(Debug, Clone, Queryable, Identifiable, Insertable)]
#[diesel(table_name = orgs)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub industry: String,
    pub description: Option<String>,
    pub website: Option<String>,
    pub region: Option<String>,
    pub status: AccountStatus,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// An organisation's public profile.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrgView {
    pub id: uuid::Uuid,
    pub name: String,
    /// The industry the organisation works in; matching stays within it by default.
    pub industry: String,
    pub description: Option<String>,
    pub website: Option<String>,
    pub region: Option<String>,
    /// `suspended` organisations cannot write.
    pub status: AccountStatus,
    /// Increases with every change; the `ETag` is this number quoted.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Org {
    /// The names and regions of some organisations, by id (one statement).
    pub fn names_and_regions(
        conn: &mut DbConnection,
        ids: &[&str],
    ) -> QueryResult<std::collections::HashMap<String, (String, Option<String>)>> {
        let found: Vec<(String, String, Option<String>)> = crate::native!(conn, |c| orgs::table
            .filter(orgs::id.eq_any(ids))
            .select((orgs::id, orgs::name, orgs::region))
            .load(c))?;
        Ok(found
            .into_iter()
            .map(|(id, name, region)| (id, (name, region)))
            .collect())
    }
}

/// The fields a PATCH may change; `Some(None)` clears an optional field.
#[derive(Debug, Default, Clone, AsChangeset)]
#[diesel(table_name = orgs)]
pub struct OrgChanges {
    pub name: Option<String>,
    pub industry: Option<String>,
    pub description: Option<Option<String>>,
    pub website: Option<Option<String>>,
    pub region: Option<Option<String>>,
}

/// Filters of the organisation directory.
#[derive(Debug, Default, Clone)]
pub struct OrgFilter {
    /// Case-insensitive substring of the name.
    pub name_contains: Option<String>,
    pub industry: Option<String>,
}

impl Org {
    /// The client-facing form.
    pub fn view(&self) -> Result<OrgView, ApiError> {
        Ok(OrgView {
            id: parse_uuid(&self.id)?,
            name: self.name.clone(),
            industry: self.industry.clone(),
            description: self.description.clone(),
            website: self.website.clone(),
            region: self.region.clone(),
            status: self.status,
            version: self.version,
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
        })
    }

    /// Finds an organisation by id.
    pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Org>> {
        crate::native!(conn, |c| orgs::table.find(id).first(c).optional())
    }

    /// An organisation that must exist: 404 in the API's words otherwise.
    pub fn find_existing(conn: &mut DbConnection, id: &str) -> Result<Org, ApiError> {
        Org::find(conn, id)?
            .ok_or_else(|| ApiError::NotFound(format!("organisation {id} does not exist")))
    }

    /// Takes the organisation's row lock for the rest of the transaction (a no-op update),
    /// so membership changes of one organisation are serialised on both backends; it also
    /// makes a SQLite transaction start as a writer. `false` when there is no such row.
    pub fn lock(conn: &mut DbConnection, id: &str) -> QueryResult<bool> {
        diesel::update(orgs::table.find(id))
            .set(orgs::updated_at.eq(orgs::updated_at))
            .execute(conn)
            .map(|n| n > 0)
    }

    /// Stores a new organisation.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(orgs::table)
            .values(self)
            .execute(conn)
            .map(|_| ())
    }

    /// One page of the directory in id (creation) order, after the cursor's id.
    pub fn list(
        conn: &mut DbConnection,
        filter: &OrgFilter,
        after: Option<&str>,
        limit: i64,
    ) -> QueryResult<Vec<Org>> {
        let mut query = orgs::table.into_boxed();
        if let Some(text) = &filter.name_contains {
            query = query.filter(lower(orgs::name).like(like_pattern(text)).escape('\\'));
        }
        if let Some(industry) = &filter.industry {
            query = query.filter(orgs::industry.eq(industry.clone()));
        }
        if let Some(after) = after {
            query = query.filter(orgs::id.gt(after.to_owned()));
        }
        query.order(orgs::id.asc()).limit(limit).load(conn)
    }

    /// Applies a change if the stored version is still `expected` (when given); the
    /// version check and the write are one statement, so concurrent edits cannot both win.
    pub fn update(
        conn: &mut DbConnection,
        id: &str,
        expected: Option<i32>,
        changes: &OrgChanges,
    ) -> Result<Org, ApiError> {
        let current = Org::find(conn, id)?
            .ok_or_else(|| ApiError::NotFound(format!("organisation {id} does not exist")))?;
        let version = expected.unwrap_or(current.version);
        if version != current.version {
            return Err(stale(current.version));
        }
        let target = orgs::table
            .filter(orgs::id.eq(id))
            .filter(orgs::version.eq(version));
        let updated = diesel::update(target)
            .set((
                changes,
                orgs::version.eq(version + 1),
                orgs::updated_at.eq(super::now()),
            ))
            .execute(conn)?;
        if updated == 0 {
            let latest = Org::find(conn, id)?.map(|o| o.version).unwrap_or(version);
            return Err(stale(latest));
        }
        Org::find(conn, id)?
            .ok_or_else(|| ApiError::NotFound(format!("organisation {id} does not exist")))
    }
}

/// The 412 problem for a stale `If-Match`.
pub fn stale(current: i32) -> ApiError {
    ApiError::PreconditionFailed(format!(
        "the resource has changed (current ETag \"{current}\"); fetch it again and retry"
    ))
}

/// A LIKE pattern matching `text` anywhere, with `% _ \` escaped, lower-cased.
pub fn like_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}
