//! Stored outcomes of creating POSTs sent with an `Idempotency-Key`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::idempotency_records;
use crate::db::DbConnection;

/// A stored record; `status_code` is `None` while the first request is still running.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = idempotency_records)]
pub struct IdempotencyRecord {
    pub principal: String,
    pub idempotency_key: String,
    pub request_hash: String,
    pub status_code: Option<i32>,
    pub response_body: Option<String>,
    pub location: Option<String>,
    pub etag: Option<String>,
    pub created_at: NaiveDateTime,
}

impl IdempotencyRecord {
    /// Claims the key; `false` when a record for it already exists.
    pub fn claim(&self, conn: &mut DbConnection) -> QueryResult<bool> {
        match diesel::insert_into(idempotency_records::table)
            .values(self)
            .execute(conn)
        {
            Ok(_) => Ok(true),
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The record for a principal's key.
    pub fn find(conn: &mut DbConnection, principal: &str, key: &str) -> QueryResult<Option<Self>> {
        idempotency_records::table
            .find((principal, key))
            .first(conn)
            .optional()
    }

    /// Stores the response of the first request.
    pub fn complete(
        conn: &mut DbConnection,
        principal: &str,
        key: &str,
        status: i32,
        body: &str,
        location: Option<&str>,
        etag: Option<&str>,
    ) -> QueryResult<usize> {
        diesel::update(idempotency_records::table.find((principal, key)))
            .set((
                idempotency_records::status_code.eq(status),
                idempotency_records::response_body.eq(body),
                idempotency_records::location.eq(location),
                idempotency_records::etag.eq(etag),
            ))
            .execute(conn)
    }

    /// Drops a record (the first request failed, or the record expired).
    pub fn release(conn: &mut DbConnection, principal: &str, key: &str) -> QueryResult<usize> {
        diesel::delete(idempotency_records::table.find((principal, key))).execute(conn)
    }

    /// Drops records older than `before`.
    pub fn expire(
        conn: &mut DbConnection,
        principal: &str,
        key: &str,
        before: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::delete(
            idempotency_records::table
                .find((principal, key))
                .filter(idempotency_records::created_at.lt(before)),
        )
        .execute(conn)
    }
}
