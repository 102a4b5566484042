//! Conventions shared by every endpoint: pagination, ETags and conditional requests,
//! idempotency, validation, problem documents, control-character refusal, rate limits.

pub mod bulkhead;
pub mod conditional;
pub mod control_chars;
pub mod etag;
pub mod idempotency;
pub mod json;
pub mod pagination;
pub mod problems;
pub mod query;
pub mod rate_limit;
pub mod validate;
pub mod wording;

use actix_web::HttpRequest;

/// The client's address as seen by this server (the TCP peer). Proxies are not trusted,
/// so a forged `X-Forwarded-For` cannot dodge rate limits.
pub fn client_address(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|addr| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}
