//! The `Idempotency-Key` layer for creating POSTs: the same key with the same body replays
//! the first response; the same key with another body is 422; a key whose first request
//! is still running is 409. Records are scoped to the caller and kept for 24 hours. The
//! record is written in the same transaction as the resource, so a failed request leaves
//! neither, and a concurrent request with the same key waits and replays.

use std::future::{ready, Ready};

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{dev::Payload, FromRequest, HttpRequest, HttpResponse};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::{self, DbConnection, Pool};
use crate::error::ApiError;
use crate::models::idempotency::IdempotencyRecord;
use crate::models::now;

/// Header that marks a replayed response.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
const HEADER: &str = "idempotency-key";
const MAX_KEY_CHARS: usize = 255;
const RETENTION_HOURS: i64 = 24;
/// How long a pending claim may block its key. Claims are made in the transaction of their
/// work, so this version never commits one pending; a pending row is left only by an older
/// version (which stored the response in a separate step) that died between its steps. Such
/// a claim is taken over once it is older than this lease.
pub const PENDING_LEASE_SECONDS: i64 = 30;

/// The request's `Idempotency-Key`, if it sent one.
#[derive(Debug, Clone)]
pub struct IdempotencyKey(pub Option<String>);

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = match req.headers().get(HEADER) {
            None => Ok(IdempotencyKey(None)),
            Some(value) => match value.to_str() {
                Ok(key)
                    if !key.is_empty()
                        && key.len() <= MAX_KEY_CHARS
                        && key.chars().all(|c| c.is_ascii_graphic()) =>
                {
                    Ok(IdempotencyKey(Some(key.to_owned())))
                }
                _ => Err(ApiError::BadRequest(format!(
                    "Idempotency-Key must be 1–{MAX_KEY_CHARS} visible ASCII characters"
                ))),
            },
        };
        ready(result)
    }
}

/// A created resource: its body, where it lives, and its ETag if versioned.
#[derive(Debug)]
pub struct Created<T> {
    pub body: T,
    pub location: String,
    pub etag: Option<String>,
}

fn created_response(body: &serde_json::Value, location: &str, etag: Option<&str>) -> HttpResponse {
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, location.to_owned()));
    if let Some(etag) = etag {
        response.insert_header((header::ETAG, etag.to_owned()));
    }
    response.json(body)
}

/// Runs a creating request under its idempotency key (if any). `route` names the endpoint
/// so a key reused on another endpoint counts as another body; `secret_fields` are left out
/// of the stored copy (secrets are shown once and never stored), so a replay omits them.
/// Responses of an endpoint with secret fields carry `Cache-Control: no-store`, so no
/// cache on the way keeps the secret.
///
/// Claim, `work` and the stored response are one database transaction: if anything fails
/// (the handler, the database, the process), none of it is kept and the key is free for a
/// retry. A concurrent request with the same key waits for that transaction (PostgreSQL:
/// on the claim's primary key; SQLite: on the write lock) and then replays its response.
/// `work` runs on the blocking pool and should only touch the database; CPU-heavy
/// preparation (hashing, validation) belongs before this call.
pub async fn create<T, F>(
    pool: &Pool,
    scope: String,
    key: IdempotencyKey,
    route: &str,
    request: &impl Serialize,
    secret_fields: &[&str],
    work: F,
) -> Result<HttpResponse, ApiError>
where
    T: Serialize,
    F: FnOnce(&mut DbConnection) -> Result<Created<T>, ApiError> + Send + 'static,
{
    let no_store = !secret_fields.is_empty();
    let mut response = respond(pool, scope, key, route, request, secret_fields, work).await?;
    if no_store {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}

async fn respond<T, F>(
    pool: &Pool,
    scope: String,
    key: IdempotencyKey,
    route: &str,
    request: &impl Serialize,
    secret_fields: &[&str],
    work: F,
) -> Result<HttpResponse, ApiError>
where
    T: Serialize,
    F: FnOnce(&mut DbConnection) -> Result<Created<T>, ApiError> + Send + 'static,
{
    let Some(key) = key.0 else {
        let fresh = db::run(pool, move |conn| {
            db::write_transaction(conn, |conn| Fresh::new(work(conn)?))
        })
        .await?;
        return Ok(fresh.response());
    };
    let request_hash = hash(route, request)?;
    let record = IdempotencyRecord {
        principal: scope,
        idempotency_key: key,
        request_hash: request_hash.clone(),
        status_code: None,
        response_body: None,
        location: None,
        etag: None,
        created_at: now(),
    };
    let secret_fields: Vec<String> = secret_fields.iter().map(|f| f.to_string()).collect();
    let outcome = db::run(pool, move |conn| {
        db::write_transaction(conn, |conn| {
            claim_and_run(conn, record, &secret_fields, work)
        })
    })
    .await?;
    match outcome {
        Outcome::Fresh(fresh) => Ok(fresh.response()),
        Outcome::Existing(existing) => replay(existing, &request_hash),
    }
}

/// What the transaction did: ran the work, or found the key's record.
enum Outcome {
    Fresh(Fresh),
    Existing(IdempotencyRecord),
}

/// A response created by this request.
struct Fresh {
    body: serde_json::Value,
    location: String,
    etag: Option<String>,
}

impl Fresh {
    fn new<T: Serialize>(created: Created<T>) -> Result<Fresh, ApiError> {
        Ok(Fresh {
            body: to_value(&created.body)?,
            location: created.location,
            etag: created.etag,
        })
    }

    fn response(&self) -> HttpResponse {
        created_response(&self.body, &self.location, self.etag.as_deref())
    }
}

/// Inside the transaction: frees the key if its record expired or its claim went stale,
/// claims it, runs the work and stores the response. The expiry is a write and comes first,
/// so the transaction never reads before it writes.
fn claim_and_run<T, F>(
    conn: &mut DbConnection,
    record: IdempotencyRecord,
    secret_fields: &[String],
    work: F,
) -> Result<Outcome, ApiError>
where
    T: Serialize,
    F: FnOnce(&mut DbConnection) -> Result<Created<T>, ApiError>,
{
    let (principal, key) = (&record.principal, &record.idempotency_key);
    let at = now();
    let retention = at - chrono::Duration::hours(RETENTION_HOURS);
    IdempotencyRecord::expire(
        conn,
        principal,
        key,
        retention,
        at - chrono::Duration::seconds(PENDING_LEASE_SECONDS),
    )?;
    if !record.claim(conn)? {
        let existing = IdempotencyRecord::find(conn, principal, key)?.ok_or_else(|| {
            ApiError::Conflict("this Idempotency-Key changed concurrently; retry".into())
        })?;
        return Ok(Outcome::Existing(existing));
    }
    let fresh = Fresh::new(work(conn)?)?;
    let mut stored = fresh.body.clone();
    if let Some(map) = stored.as_object_mut() {
        for field in secret_fields {
            map.remove(field);
        }
    }
    IdempotencyRecord::complete(
        conn,
        principal,
        key,
        201,
        &stored.to_string(),
        Some(&fresh.location),
        fresh.etag.as_deref(),
    )?;
    Ok(Outcome::Fresh(fresh))
}

fn hash(route: &str, request: &impl Serialize) -> Result<String, ApiError> {
    let request_json = serde_json::to_string(request)
        .map_err(|e| ApiError::Internal(format!("cannot hash request: {e}")))?;
    Ok(hex::encode(Sha256::digest(
        format!("{route}\n{request_json}").as_bytes(),
    )))
}

fn replay(existing: IdempotencyRecord, request_hash: &str) -> Result<HttpResponse, ApiError> {
    if existing.request_hash != request_hash {
        return Err(ApiError::Unprocessable(
            "this Idempotency-Key was already used with a different request".into(),
        ));
    }
    let (Some(status), Some(body)) = (existing.status_code, existing.response_body) else {
        return Err(ApiError::Conflict(
            "a request with this Idempotency-Key is still being processed".into(),
        ));
    };
    let status = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::CREATED);
    let mut response = HttpResponse::build(status);
    response.insert_header((REPLAYED, "true"));
    if let Some(location) = existing.location {
        response.insert_header((header::LOCATION, location));
    }
    if let Some(etag) = existing.etag {
        response.insert_header((header::ETAG, etag));
    }
    Ok(response.content_type("application/json").body(body))
}

fn to_value(body: &impl Serialize) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(body)
        .map_err(|e| ApiError::Internal(format!("cannot serialise response: {e}")))
}
