//! Fixed-window counters kept in the database, so limits hold across API instances.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};

use crate::db::schema::rate_limit_buckets;
use crate::db::DbConnection;
use crate::error::ApiError;

#[derive(QueryableByName)]
struct Counter {
    #[diesel(sql_type = Integer)]
    hits: i32,
    #[diesel(sql_type = BigInt)]
    window_start: i64,
}

/// Counts one hit of `subject` in `bucket`; answers 429 with `Retry-After` once more than
/// `limit` hits fall into the current window of `window_secs`. One atomic upsert.
pub fn hit(
    conn: &mut DbConnection,
    bucket: &str,
    subject: &str,
    limit: u32,
    window_secs: i64,
) -> Result<(), ApiError> {
    let now = chrono::Utc::now().timestamp();
    let taken = take(conn, bucket, subject, 1, window_secs, now)?;
    if taken.hits > limit as i64 {
        return Err(too_many(taken.window_start + window_secs - now));
    }
    Ok(())
}

/// A subject's count after [`take`]: the hits in its current window, this take included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taken {
    pub hits: i64,
    /// Unix seconds; the window ends at `window_start + window_secs`.
    pub window_start: i64,
}

/// Adds `n` hits to `subject` in `bucket` (starting a new window when the stored one has
/// ended) and returns the count: one atomic upsert, so concurrent instances never lose a
/// hit. The caller decides what the count allows.
pub fn take(
    conn: &mut DbConnection,
    bucket: &str,
    subject: &str,
    n: u32,
    window_secs: i64,
    now: i64,
) -> QueryResult<Taken> {
    let n = n.min(i32::MAX as u32) as i32;
    // SQLite numbers `$N` parameters in the order they first appear: keep them in order.
    let counter: Counter = diesel::sql_query(
        "INSERT INTO rate_limit_buckets (bucket, subject, window_start, hits) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (bucket, subject) DO UPDATE SET \
         hits = CASE WHEN rate_limit_buckets.window_start <= $5 THEN $4 \
           WHEN rate_limit_buckets.hits > 2147483647 - $4 THEN 2147483647 \
           ELSE rate_limit_buckets.hits + $4 END, \
         window_start = CASE WHEN rate_limit_buckets.window_start <= $5 THEN $3 ELSE rate_limit_buckets.window_start END \
         RETURNING hits, window_start",
    )
    .bind::<Text, _>(bucket)
    .bind::<Text, _>(subject)
    .bind::<BigInt, _>(now)
    .bind::<Integer, _>(n)
    .bind::<BigInt, _>(now - window_secs)
    .get_result(conn)?;
    Ok(Taken {
        hits: counter.hits.into(),
        window_start: counter.window_start,
    })
}

/// Fails with 429 when `subject` already has `limit` hits in the current window, without
/// counting this call.
pub fn check(
    conn: &mut DbConnection,
    bucket: &str,
    subject: &str,
    limit: u32,
    window_secs: i64,
) -> Result<(), ApiError> {
    let now = chrono::Utc::now().timestamp();
    let row: Option<(i64, i32)> = rate_limit_buckets::table
        .find((bucket, subject))
        .select((rate_limit_buckets::window_start, rate_limit_buckets::hits))
        .first(conn)
        .optional()?;
    match row {
        Some((start, hits)) if start > now - window_secs && hits as i64 >= limit as i64 => {
            Err(too_many(start + window_secs - now))
        }
        _ => Ok(()),
    }
}

/// Forgets a subject's count (e.g. after a successful login).
pub fn reset(conn: &mut DbConnection, bucket: &str, subject: &str) -> QueryResult<()> {
    diesel::delete(rate_limit_buckets::table.find((bucket, subject)))
        .execute(conn)
        .map(|_| ())
}

fn too_many(retry_after: i64) -> ApiError {
    ApiError::TooManyRequests {
        detail: "too many attempts; retry later".into(),
        retry_after: retry_after.max(1) as u64,
    }
}
