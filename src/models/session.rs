//! Login sessions and their single-use, rotating refresh tokens (RFC 9700 §4.14.2).
//!
//! A session is one refresh-token family. Access tokens name their session, so revoking
//! the session (logout, or reuse of a spent refresh token) stops its access tokens too.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::user::{AccountStatus, PlatformRole};
use super::{new_id, now};
use crate::auth::tokens::{random_token, sha256_hex};
use crate::db::schema::{refresh_tokens, sessions, users};
use crate::db::DbConnection;

/// What a refresh attempt came to.
#[derive(Debug)]
pub enum Rotation {
    /// The token was valid; here is its successor.
    Rotated {
        user_id: String,
        session_id: String,
        refresh_token: String,
    },
    /// Unknown, expired, revoked, or the account is suspended.
    Invalid,
    /// The token was already spent: the whole family has been revoked.
    Reused,
}

/// The facts an access check needs about a session, read in one primary-key lookup.
#[derive(Debug, Queryable)]
pub struct SessionState {
    pub revoked_at: Option<NaiveDateTime>,
    pub user_id: String,
    pub email: String,
    pub platform_role: PlatformRole,
    pub status: AccountStatus,
}

/// Starts a session for a user and returns `(session_id, refresh_token)`.
pub fn start(
    conn: &mut DbConnection,
    user_id: &str,
    ttl: Duration,
) -> QueryResult<(String, String)> {
    let session_id = new_id();
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(&session_id),
            sessions::user_id.eq(user_id),
            sessions::created_at.eq(now()),
        ))
        .execute(conn)?;
    let refresh = issue_refresh(conn, &session_id, ttl)?;
    Ok((session_id, refresh))
}

fn issue_refresh(conn: &mut DbConnection, session_id: &str, ttl: Duration) -> QueryResult<String> {
    let token = random_token(32);
    let created = now();
    let expires = created + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(30));
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(new_id()),
            refresh_tokens::session_id.eq(session_id),
            refresh_tokens::token_hash.eq(sha256_hex(&token)),
            refresh_tokens::created_at.eq(created),
            refresh_tokens::expires_at.eq(expires),
        ))
        .execute(conn)?;
    Ok(token)
}

/// Spends a refresh token and issues its successor. The claim is one conditional UPDATE,
/// so of two concurrent refreshes with the same token exactly one succeeds; the other sees
/// a spent token and revokes the family, as a replay would.
pub fn rotate(conn: &mut DbConnection, presented: &str, ttl: Duration) -> QueryResult<Rotation> {
    let hash = sha256_hex(presented);
    let at = now();
    let claimed = diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(&hash))
            .filter(refresh_tokens::used_at.is_null())
            .filter(refresh_tokens::expires_at.gt(at)),
    )
    .set(refresh_tokens::used_at.eq(at))
    .execute(conn)?;
    let token: Option<(String, Option<NaiveDateTime>)> = refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(&hash))
        .select((refresh_tokens::session_id, refresh_tokens::used_at))
        .first(conn)
        .optional()?;
    let Some((session_id, used_at)) = token else {
        return Ok(Rotation::Invalid);
    };
    if claimed == 0 {
        if used_at.is_some() {
            revoke(conn, &session_id)?;
            return Ok(Rotation::Reused);
        }
        return Ok(Rotation::Invalid);
    }
    let state = state(conn, &session_id)?;
    match state {
        Some(s) if s.revoked_at.is_none() && s.status == AccountStatus::Active => {
            let refresh_token = issue_refresh(conn, &session_id, ttl)?;
            Ok(Rotation::Rotated {
                user_id: s.user_id,
                session_id,
                refresh_token,
            })
        }
        _ => Ok(Rotation::Invalid),
    }
}

/// Revokes a session: its refresh tokens and access tokens stop working.
pub fn revoke(conn: &mut DbConnection, session_id: &str) -> QueryResult<usize> {
    diesel::update(
        sessions::table
            .find(session_id)
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(now()))
    .execute(conn)
}

/// Reads a session with its user's status and role.
pub fn state(conn: &mut DbConnection, session_id: &str) -> QueryResult<Option<SessionState>> {
    sessions::table
        .inner_join(users::table)
        .filter(sessions::id.eq(session_id))
        .select((
            sessions::revoked_at,
            users::id,
            users::email,
            users::platform_role,
            users::status,
        ))
        .first(conn)
        .optional()
}

/// Deletes what can no longer authenticate anyone (the housekeeping job): refresh tokens
/// past their expiry, then sessions revoked at least `access_ttl` ago or without a refresh
/// token left and started at least `access_ttl` ago (no access token of theirs is still
/// valid: one lives `access_ttl` at most). Returns the rows deleted.
pub fn purge(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    access_ttl: Duration,
) -> QueryResult<usize> {
    let tokens = diesel::delete(refresh_tokens::table.filter(refresh_tokens::expires_at.lt(now)))
        .execute(conn)?;
    let settled = now - chrono::Duration::from_std(access_ttl).unwrap_or(chrono::Duration::MAX);
    let live_tokens = refresh_tokens::table
        .filter(refresh_tokens::session_id.eq(sessions::id))
        .select(refresh_tokens::id);
    let dead = sessions::revoked_at.lt(settled).or(sessions::created_at
        .lt(settled)
        .and(diesel::dsl::not(diesel::dsl::exists(live_tokens))));
    let sessions = diesel::delete(sessions::table.filter(dead)).execute(conn)?;
    Ok(tokens + sessions)
}
