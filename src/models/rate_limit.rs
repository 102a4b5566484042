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
    let counter: Counter = diesel::sql_query(
        "INSERT INTO rate_limit_buckets (bucket, subject, window_start, hits) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (bucket, subject) DO UPDATE SET \
         hits = CASE WHEN rate_limit_buckets.window_start <= $4 THEN 1 ELSE rate_limit_buckets.hits + 1 END, \
         window_start = CASE WHEN rate_limit_buckets.window_start <= $4 THEN $3 ELSE rate_limit_buckets.window_start END \
         RETURNING hits, window_start",
    )
    .bind::<Text, _>(bucket)
    .bind::<Text, _>(subject)
    .bind::<BigInt, _>(now)
    .bind::<BigInt, _>(now - window_secs)
    .get_result(conn)?;
    if counter.hits as i64 > limit as i64 {
        return Err(too_many(counter.window_start + window_secs - now));
    }
    Ok(())
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
