//! Conventions shared by every endpoint: pagination, ETags, idempotency, validation,
//! control-character refusal, rate limits.

pub mod bulkhead;
pub mod control_chars;
pub mod etag;
pub mod idempotency;
pub mod json;
pub mod pagination;
pub mod rate_limit;
pub mod validate;

use actix_web::HttpRequest;

/// The client's address as seen by this server (the TCP peer). Proxies are not trusted,
/// so a forged `X-Forwarded-For` cannot dodge rate limits.
pub fn client_address(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|addr| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}
