//! The `Idempotency-Key` layer for creating POSTs: the same key with the same body replays
//! the first response; the same key with another body is 422; a key whose first request
//! is still running is 409. Records are scoped to the caller and kept for 24 hours.

use std::future::{ready, Future, Ready};

use actix_web::http::header::{self, HeaderName};
use actix_web::http::StatusCode;
use actix_web::{dev::Payload, FromRequest, HttpRequest, HttpResponse};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::{self, Pool};
use crate::error::ApiError;
use crate::models::idempotency::IdempotencyRecord;
use crate::models::now;

/// Header that marks a replayed response.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
const HEADER: &str = "idempotency-key";
const MAX_KEY_CHARS: usize = 255;
const RETENTION_HOURS: i64 = 24;

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
pub async fn create<T, F, Fut>(
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
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Created<T>, ApiError>>,
{
    let Some(key) = key.0 else {
        let created = work().await?;
        let body = to_value(&created.body)?;
        return Ok(created_response(
            &body,
            &created.location,
            created.etag.as_deref(),
        ));
    };
    let request_json = serde_json::to_string(request)
        .map_err(|e| ApiError::Internal(format!("cannot hash request: {e}")))?;
    let request_hash = hex::encode(Sha256::digest(
        format!("{route}\n{request_json}").as_bytes(),
    ));
    let record = IdempotencyRecord {
        principal: scope.clone(),
        idempotency_key: key.clone(),
        request_hash: request_hash.clone(),
        status_code: None,
        response_body: None,
        location: None,
        etag: None,
        created_at: now(),
    };
    let existing = db::run(pool, move |conn| {
        let cutoff = now() - chrono::Duration::hours(RETENTION_HOURS);
        IdempotencyRecord::expire(conn, &record.principal, &record.idempotency_key, cutoff)?;
        if record.claim(conn)? {
            return Ok(None);
        }
        Ok(IdempotencyRecord::find(
            conn,
            &record.principal,
            &record.idempotency_key,
        )?)
    })
    .await?;
    if let Some(existing) = existing {
        return replay(existing, &request_hash);
    }
    let outcome = work().await;
    let (s, k) = (scope.clone(), key.clone());
    match outcome {
        Err(error) => {
            db::run(pool, move |conn| {
                Ok(IdempotencyRecord::release(conn, &s, &k)?)
            })
            .await?;
            Err(error)
        }
        Ok(created) => {
            let body = to_value(&created.body)?;
            let mut stored = body.clone();
            if let Some(map) = stored.as_object_mut() {
                for field in secret_fields {
                    map.remove(*field);
                }
            }
            let stored = stored.to_string();
            let location = created.location.clone();
            let etag = created.etag.clone();
            db::run(pool, move |conn| {
                Ok(IdempotencyRecord::complete(
                    conn,
                    &s,
                    &k,
                    201,
                    &stored,
                    Some(&location),
                    etag.as_deref(),
                )?)
            })
            .await?;
            Ok(created_response(
                &body,
                &created.location,
                created.etag.as_deref(),
            ))
        }
    }
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
