//! The one error type of the API, rendered as RFC 9457 `application/problem+json`.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One invalid field of a request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    /// The field's name (dotted path for nested fields).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An RFC 9457 problem document, as sent on every error.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type (`/problems/<slug>`); it resolves to a
    /// page describing the problem.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this occurrence.
    pub detail: String,
    /// The invalid fields, for validation problems.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The request this occurrence answered: its path (the query is left out, as it may
    /// carry search words).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The request's id, as in its `X-Request-Id` header: quote it when asking about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// One problem type: the slug of its `type` URI (`/problems/<slug>`), its title, its
/// status, and what a client should know about it (served at `/problems/<slug>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemType {
    pub slug: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub about: &'static str,
}

macro_rules! problem_types {
    ($($name:ident: $slug:literal, $status:literal, $title:literal, $about:literal;)*) => {
        $(const $name: ProblemType = ProblemType {
            slug: $slug,
            title: $title,
            status: $status,
            about: $about,
        };)*
        /// Every problem type the API answers with.
        pub const PROBLEM_TYPES: &[ProblemType] = &[$($name),*];
    };
}

problem_types! {
    BAD_REQUEST: "bad-request", 400, "Bad request",
        "The request could not be read: malformed JSON, a query or path parameter of the wrong \
         form, a cursor this API did not issue. `detail` names what is wrong; fix the request \
         before sending it again.";
    VALIDATION: "validation", 422, "Invalid request",
        "The request was read, but some fields break the rules. `errors` lists each field \
         (dotted path, `tags[1]` for list items) with what is wrong; nothing was changed.";
    UNAUTHORIZED: "unauthorized", 401, "Authentication required",
        "No credentials, or credentials that are not valid (expired, revoked, malformed). Send \
         `Authorization: Bearer <access token or API key>`; refresh an expired access token at \
         `/api/v1/auth/refresh`.";
    FORBIDDEN: "forbidden", 403, "Forbidden",
        "The caller is known but may not do this: a role, an API key scope, a suspension, or a \
         cross-origin request from an origin that is not allowed.";
    NOT_FOUND: "not-found", 404, "Not found",
        "No such resource visible to the caller. Another organisation's private resources \
         answer 404 too, so ids cannot be probed.";
    METHOD_NOT_ALLOWED: "method-not-allowed", 405, "Method not allowed",
        "The path exists, but not for this method; the `Allow` header lists the methods it has.";
    CONFLICT: "conflict", 409, "Conflict",
        "The request conflicts with the resource's current state: a duplicate, an illegal \
         transition (accepting a proposal that changed), or a concurrent change. Read the \
         resource again before deciding what to do.";
    PRECONDITION_FAILED: "precondition-failed", 412, "Precondition failed",
        "`If-Match` named a version that is no longer current. Read the resource, reapply the \
         change to what it is now, and send it with the new `ETag`.";
    PAYLOAD_TOO_LARGE: "payload-too-large", 413, "Payload too large",
        "The request body is larger than the server accepts (64 KiB unless configured).";
    URI_TOO_LONG: "uri-too-long", 414, "URI too long",
        "The request's path and query are longer than 8,192 bytes. Send fewer or shorter \
         query parameters.";
    UNSUPPORTED_MEDIA_TYPE: "unsupported-media-type", 415, "Unsupported media type",
        "A request body must be sent as `Content-Type: application/json`.";
    UNPROCESSABLE: "unprocessable", 422, "Unprocessable request",
        "The request is well-formed but cannot be carried out as it stands, e.g. an \
         `Idempotency-Key` reused with another body, or a reference to a resource that does \
         not exist.";
    RATE_LIMITED: "rate-limited", 429, "Too many requests",
        "A rate limit is used up. `Retry-After` says how many seconds to wait; the `RateLimit` \
         headers show the quota. Nothing was changed.";
    HEADERS_TOO_LARGE: "headers-too-large", 431, "Request header fields too large",
        "The request's headers are larger than 32 KiB in all, or more than 64. Send fewer or \
         smaller headers.";
    UNAVAILABLE: "unavailable", 503, "Service unavailable",
        "The server cannot serve this now (the database is busy or down, or the server is at \
         capacity). Retry after `Retry-After` seconds; nothing was changed.";
    OUTCOME_UNKNOWN: "outcome-unknown", 503, "Outcome unknown",
        "The connection to the database was lost while committing, so whether the change was \
         stored is unknown. Retry with the same `Idempotency-Key`, or read the resource, to \
         find out.";
    INTERNAL: "internal", 500, "Internal server error",
        "The server failed. It logged the details under the `request_id`; quote it when \
         reporting the problem.";
}

/// The problem type of a slug, if the API has one.
pub fn problem_type(slug: &str) -> Option<&'static ProblemType> {
    PROBLEM_TYPES.iter().find(|t| t.slug == slug)
}

/// Everything a handler can fail with; each variant has one status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("method {method} is not allowed here; allowed: {allow}")]
    MethodNotAllowed { method: String, allow: String },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UriTooLong(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{detail}")]
    TooManyRequests { detail: String, retry_after: u64 },
    #[error("{0}")]
    HeadersTooLarge(String),
    #[error("{0}")]
    Unavailable(String),
    /// The connection was lost while committing and what became of the write could not be
    /// found out: neither success nor failure may be claimed.
    #[error("{0}")]
    OutcomeUnknown(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A validation problem with a single field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }

    /// The problem type of this error.
    fn kind(&self) -> &'static ProblemType {
        match self {
            ApiError::BadRequest(_) => &BAD_REQUEST,
            ApiError::Validation(_) => &VALIDATION,
            ApiError::Unauthorized(_) => &UNAUTHORIZED,
            ApiError::Forbidden(_) => &FORBIDDEN,
            ApiError::NotFound(_) => &NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => &METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => &CONFLICT,
            ApiError::PreconditionFailed(_) => &PRECONDITION_FAILED,
            ApiError::PayloadTooLarge(_) => &PAYLOAD_TOO_LARGE,
            ApiError::UriTooLong(_) => &URI_TOO_LONG,
            ApiError::UnsupportedMediaType(_) => &UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable(_) => &UNPROCESSABLE,
            ApiError::TooManyRequests { .. } => &RATE_LIMITED,
            ApiError::HeadersTooLarge(_) => &HEADERS_TOO_LARGE,
            ApiError::Unavailable(_) => &UNAVAILABLE,
            ApiError::OutcomeUnknown(_) => &OUTCOME_UNKNOWN,
            ApiError::Internal(_) => &INTERNAL,
        }
    }

    /// The error a bare response of this status stands for (one not made by this API's
    /// handlers, e.g. by a library), with `detail`.
    pub fn of_status(status: StatusCode, detail: String) -> Self {
        match status.as_u16() {
            401 => ApiError::Unauthorized(detail),
            403 => ApiError::Forbidden(detail),
            404 => ApiError::NotFound(detail),
            409 => ApiError::Conflict(detail),
            412 => ApiError::PreconditionFailed(detail),
            413 => ApiError::PayloadTooLarge(detail),
            414 => ApiError::UriTooLong(detail),
            415 => ApiError::UnsupportedMediaType(detail),
            422 => ApiError::Unprocessable(detail),
            431 => ApiError::HeadersTooLarge(detail),
            503 => ApiError::Unavailable(detail),
            400..=499 => ApiError::BadRequest(detail),
            _ => ApiError::Internal(detail),
        }
    }

    /// The problem document sent to the client; internal details never leave the server.
    pub fn problem(&self) -> Problem {
        let kind = self.kind();
        let detail = match self {
            ApiError::Validation(errors) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                format!("invalid fields: {}", fields.join(", "))
            }
            ApiError::Internal(_) => "the server failed to handle the request".to_owned(),
            other => other.to_string(),
        };
        Problem {
            problem_type: format!("/problems/{}", kind.slug),
            title: kind.title.to_owned(),
            status: self.status_code().as_u16(),
            detail,
            errors: match self {
                ApiError::Validation(errors) => errors.clone(),
                _ => Vec::new(),
            },
            instance: None,
            request_id: None,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Validation(_) | ApiError::Unprocessable(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            ApiError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) | ApiError::OutcomeUnknown(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(detail) = self {
            // Logged inside the request span, so the line carries the request id.
            tracing::error!(error = %detail, "internal error");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.content_type("application/problem+json");
        match self {
            ApiError::Unauthorized(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            ApiError::TooManyRequests { retry_after, .. } => {
                response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            ApiError::Unavailable(_) | ApiError::OutcomeUnknown(_) => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            ApiError::MethodNotAllowed { allow, .. } => {
                if let Ok(value) = HeaderValue::from_str(allow) {
                    response.insert_header((header::ALLOW, value));
                }
            }
            _ => {}
        }
        response.json(self.problem())
    }
}

impl From<DieselError> for ApiError {
    fn from(error: DieselError) -> Self {
        match error {
            DieselError::NotFound => ApiError::NotFound("no such resource".into()),
            DieselError::DatabaseError(kind, info) => match kind {
                DatabaseErrorKind::UniqueViolation => {
                    ApiError::Conflict("a resource with these values already exists".into())
                }
                DatabaseErrorKind::ForeignKeyViolation => {
                    ApiError::Unprocessable("a referenced resource does not exist".into())
                }
                DatabaseErrorKind::CheckViolation | DatabaseErrorKind::NotNullViolation => {
                    ApiError::Unprocessable("the values break a data rule".into())
                }
                DatabaseErrorKind::SerializationFailure => ApiError::Conflict(
                    "a concurrent change conflicted with this request; retry it".into(),
                ),
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => {
                    ApiError::Unavailable("the database connection was lost".into())
                }
                _ if is_busy(info.message()) => {
                    ApiError::Unavailable("the database is busy; retry shortly".into())
                }
                _ => ApiError::Internal(format!("database error: {}", info.message())),
            },
            // A commit that failed and could not even be rolled back: its own error says why.
            DieselError::RollbackErrorOnCommit { commit_error, .. } => (*commit_error).into(),
            other if crate::db::commit::CommitOutcomeUnknown::is(&other) => {
                ApiError::OutcomeUnknown(
                    "the database connection was lost while committing, so whether this change \
                 was stored is unknown; retry with the same Idempotency-Key, or read the \
                 resource, to find out"
                        .into(),
                )
            }
            other => ApiError::Internal(format!("database error: {other}")),
        }
    }
}

fn is_busy(message: &str) -> bool {
    message.contains("database is locked") || message.contains("database is busy")
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;
