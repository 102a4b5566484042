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
    /// Claims the key; `false` when a record for it already exists. A conflicting insert
    /// does nothing instead of failing, so on PostgreSQL the surrounding transaction stays
    /// usable; there it also waits for an uncommitted claim of the same key to commit or
    /// roll back, so the caller then finds the finished record (or holds the claim itself).
    pub fn claim(&self, conn: &mut DbConnection) -> QueryResult<bool> {
        // diesel's `on_conflict` does not compile through the `MultiConnection` enum.
        let inserted = crate::native!(conn, |c| diesel::insert_into(idempotency_records::table)
            .values(self)
            .on_conflict_do_nothing()
            .execute(c))?;
        Ok(inserted == 1)
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

    /// Drops the principal's record for `key` if it is older than `before`, or if it is
    /// still pending and older than `stale_before` (its first request died).
    pub fn expire(
        conn: &mut DbConnection,
        principal: &str,
        key: &str,
        before: NaiveDateTime,
        stale_before: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::delete(
            idempotency_records::table.find((principal, key)).filter(
                idempotency_records::created_at
                    .lt(before)
                    .or(idempotency_records::status_code
                        .is_null()
                        .and(idempotency_records::created_at.lt(stale_before))),
            ),
        )
        .execute(conn)
    }

    /// Deletes the records made before `before` (the housekeeping job; a replay after that
    /// runs anew, as documented). Returns how many.
    pub fn purge(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<usize> {
        diesel::delete(
            idempotency_records::table.filter(idempotency_records::created_at.lt(before)),
        )
        .execute(conn)
    }
}
