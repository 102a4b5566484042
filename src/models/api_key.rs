//! Organisation API keys: shown once, stored as a SHA-256 hash with a visible prefix.

use chrono::{DateTime, NaiveDateTime, Utc};
use std::io::Write;

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;
use serde::Serialize;
use utoipa::ToSchema;

use super::user::parse_uuid;
use super::user::AccountStatus;
use super::{text_enum, utc};
use crate::db::schema::{api_keys, orgs};
use crate::db::{DbConnection, MultiBackend};
use crate::error::ApiError;

/// Every API key starts with this, which is how a bearer credential is told from a JWT.
pub const KEY_PREFIX: &str = "mutua_";
/// How many characters of a key are kept in clear to recognise it.
pub const VISIBLE_CHARS: usize = 12;

text_enum! {
    /// What an API key may do for its organisation.
    Scope {
        /// Read the organisation's own data.
        Read => "read",
        /// Create and change data for the organisation.
        Write => "write",
    }
}

/// A stored API key row.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = api_keys)]
pub struct ApiKey {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub prefix: String,
    pub key_hash: String,
    pub scopes: Scopes,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

/// An API key as listed (never with its secret, except once at creation).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: uuid::Uuid,
    pub org_id: uuid::Uuid,
    pub name: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_by: uuid::Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// The secret itself: present only in the response that created the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// What an API key authenticates as.
#[derive(Debug, Clone)]
pub struct KeyGrant {
    pub key_id: String,
    pub org_id: String,
    pub scopes: Vec<Scope>,
    pub org_status: AccountStatus,
    pub last_used_at: Option<NaiveDateTime>,
}

/// A key's scopes, stored comma-joined in one TEXT column (`read,write`); a stored scope
/// outside [`Scope`] fails when the row is read.
#[derive(Debug, Clone, PartialEq, Eq, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct Scopes(pub Vec<Scope>);

impl Scopes {
    fn to_text(&self) -> String {
        let names: Vec<&str> = self.0.iter().map(|s| s.as_str()).collect();
        names.join(",")
    }

    fn from_text(text: &str) -> Result<Scopes, String> {
        text.split(',')
            .filter(|s| !s.is_empty())
            .map(|s| Scope::from_text(s).ok_or_else(|| format!("unknown scope in database: {s:?}")))
            .collect::<Result<_, _>>()
            .map(Scopes)
    }
}

// Written per backend: the text is computed, so it cannot borrow from `self` as `str`'s
// generic impl would need.
impl ToSql<Text, Sqlite> for Scopes {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.to_text());
        Ok(serialize::IsNull::No)
    }
}

impl ToSql<Text, Pg> for Scopes {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(self.to_text().as_bytes())?;
        Ok(serialize::IsNull::No)
    }
}

impl ToSql<Text, MultiBackend> for Scopes {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        out.set_value((Text, self));
        Ok(serialize::IsNull::No)
    }
}

impl<DB> FromSql<Text, DB> for Scopes
where
    DB: Backend,
    String: FromSql<Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        Ok(Scopes::from_text(&String::from_sql(bytes)?)?)
    }
}

impl ApiKey {
    /// The client-facing form (without the secret).
    pub fn view(&self) -> Result<ApiKeyView, ApiError> {
        Ok(ApiKeyView {
            id: parse_uuid(&self.id)?,
            org_id: parse_uuid(&self.org_id)?,
            name: self.name.clone(),
            prefix: self.prefix.clone(),
            scopes: self.scopes.0.clone(),
            created_by: parse_uuid(&self.created_by)?,
            created_at: utc(self.created_at),
            last_used_at: self.last_used_at.map(utc),
            key: None,
        })
    }

    /// Stores a new key.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(api_keys::table)
            .values(self)
            .execute(conn)
            .map(|_| ())
    }

    /// One page of an organisation's active keys.
    pub fn list(
        conn: &mut DbConnection,
        org_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> QueryResult<Vec<ApiKey>> {
        let mut query = api_keys::table
            .filter(api_keys::org_id.eq(org_id))
            .filter(api_keys::revoked_at.is_null())
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(api_keys::id.gt(after.to_owned()));
        }
        query.order(api_keys::id.asc()).limit(limit).load(conn)
    }

    /// Revokes an active key of the organisation and returns it as revoked; `None` means no
    /// such active key there.
    pub fn revoke(
        conn: &mut DbConnection,
        org_id: &str,
        id: &str,
        at: NaiveDateTime,
    ) -> QueryResult<Option<ApiKey>> {
        diesel::update(
            api_keys::table
                .filter(api_keys::id.eq(id))
                .filter(api_keys::org_id.eq(org_id))
                .filter(api_keys::revoked_at.is_null()),
        )
        .set(api_keys::revoked_at.eq(at))
        .get_result(conn)
        .optional()
    }

    /// Resolves an active key by its hash, with its organisation's status.
    pub fn authenticate(
        conn: &mut DbConnection,
        key_hash: &str,
    ) -> Result<Option<KeyGrant>, ApiError> {
        let row: Option<(String, String, Scopes, AccountStatus, Option<NaiveDateTime>)> =
            crate::native!(conn, |c| api_keys::table
                .inner_join(orgs::table)
                .filter(api_keys::key_hash.eq(key_hash))
                .filter(api_keys::revoked_at.is_null())
                .select((
                    api_keys::id,
                    api_keys::org_id,
                    api_keys::scopes,
                    orgs::status,
                    api_keys::last_used_at,
                ))
                .first(c)
                .optional())?;
        row.map(|(key_id, org_id, scopes, org_status, last_used_at)| {
            Ok(KeyGrant {
                key_id,
                org_id,
                scopes: scopes.0,
                org_status,
                last_used_at,
            })
        })
        .transpose()
    }
}

/// Uses of API keys not yet written to `last_used_at`. Recording a use is a map insert;
/// [`KeyUsage::flush`] writes the batch in one transaction (every few seconds from a
/// background task, and before keys are listed), so authenticating with a key never turns a
/// read request into a database write. `last_used_at` is kept to the minute.
#[derive(Debug, Default)]
pub struct KeyUsage {
    pending: std::sync::Mutex<std::collections::HashMap<String, NaiveDateTime>>,
}

impl KeyUsage {
    /// How often the background task writes the recorded uses.
    pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

    /// Notes a use of the key at `at`, unless the stored last use is under a minute old.
    pub fn record(&self, grant: &KeyGrant, at: NaiveDateTime) {
        let fresh = grant
            .last_used_at
            .is_some_and(|t| at - t < chrono::Duration::seconds(60));
        if !fresh {
            if let Ok(mut pending) = self.pending.lock() {
                pending.insert(grant.key_id.clone(), at);
            }
        }
    }

    /// Writes the recorded uses (each only moves `last_used_at` forward) and returns how
    /// many there were. On failure the uses are dropped: they are a convenience, not a record.
    pub fn flush(&self, conn: &mut DbConnection) -> QueryResult<usize> {
        let batch: Vec<(String, NaiveDateTime)> = match self.pending.lock() {
            Ok(mut pending) => pending.drain().collect(),
            Err(_) => return Ok(0),
        };
        if batch.is_empty() {
            return Ok(0);
        }
        conn.transaction(|conn| {
            for (key_id, at) in &batch {
                diesel::update(
                    api_keys::table.find(key_id).filter(
                        api_keys::last_used_at
                            .is_null()
                            .or(api_keys::last_used_at.lt(at)),
                    ),
                )
                .set(api_keys::last_used_at.eq(at))
                .execute(conn)?;
            }
            Ok(batch.len())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_stored_comma_joined_and_unknown_ones_fail_at_the_row() {
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        let written: String =
            diesel::select(Scopes(vec![Scope::Read, Scope::Write]).into_sql::<Text>())
                .get_result(&mut conn)
                .unwrap();
        assert_eq!(written, "read,write");
        let read: Scopes = diesel::select(diesel::dsl::sql::<Text>("'write'"))
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(read, Scopes(vec![Scope::Write]));
        let bad = diesel::select(diesel::dsl::sql::<Text>("'read,admin'"))
            .get_result::<Scopes>(&mut conn)
            .unwrap_err();
        assert!(
            format!("{bad:?}").contains("unknown scope in database"),
            "{bad:?}"
        );
    }
}
