//! `HEAD` wherever `GET` works, and `If-None-Match` on every `GET` that sends an `ETag`.
//!
//! Both are answered around the handlers rather than in them, so no endpoint can forget
//! them: a `HEAD` request is served as its `GET` (the HTTP layer remembers the method and
//! sends the headers, `Content-Length` included, without the body), and a successful `GET`
//! whose `ETag` matches the request's `If-None-Match` (weak comparison, RFC 9110 §13.1.2)
//! becomes a bodyless `304 Not Modified` carrying that `ETag`.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};

/// Response headers a `304` repeats from the `200` it stands for (RFC 9110 §15.4.5).
const KEPT_ON_304: [header::HeaderName; 4] = [
    header::ETAG,
    header::CACHE_CONTROL,
    header::VARY,
    header::CONTENT_LOCATION,
];

/// Middleware: serves `HEAD` as `GET` and answers `304` to a matching `If-None-Match`.
pub async fn serve(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let method = req.method().clone();
    if method == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    let if_none_match = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let res = next.call(req).await?;
    let fresh = (method == Method::GET || method == Method::HEAD)
        && res.status() == StatusCode::OK
        && if_none_match
            .as_deref()
            .zip(
                res.headers()
                    .get(header::ETAG)
                    .and_then(|v| v.to_str().ok()),
            )
            .is_some_and(|(wanted, current)| matches_any(wanted, current));
    if !fresh {
        return Ok(res.map_into_left_body());
    }
    let mut not_modified = HttpResponse::NotModified();
    copy_kept(res.headers(), &mut not_modified);
    let (req, _) = res.into_parts();
    Ok(ServiceResponse::new(req, not_modified.finish()).map_into_right_body())
}

fn copy_kept(from: &HeaderMap, to: &mut actix_web::HttpResponseBuilder) {
    for name in KEPT_ON_304 {
        for value in from.get_all(&name) {
            to.append_header((name.clone(), value.clone()));
        }
    }
    if let Some(id) = from.get(crate::telemetry::REQUEST_ID) {
        to.insert_header((crate::telemetry::REQUEST_ID, id.clone()));
    }
}

/// Whether an `If-None-Match` value names this entity tag: `*`, or any listed tag equal
/// to it under weak comparison (the `W/` prefix ignored on both).
pub fn matches_any(if_none_match: &str, etag: &str) -> bool {
    let weak = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let current = weak(etag);
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || (!tag.is_empty() && weak(tag) == current))
}

#[cfg(test)]
mod tests {
    use crate::http::conditional::matches_any;

    #[test]
    fn if_none_match_uses_weak_comparison() {
        let cases = [
            ("\"3\"", "\"3\"", true),
            ("W/\"3\"", "\"3\"", true),
            ("\"3\"", "W/\"3\"", true),
            ("\"2\", \"3\"", "\"3\"", true),
            ("*", "\"7\"", true),
            ("\"2\"", "\"3\"", false),
            ("", "\"3\"", false),
            ("\"33\"", "\"3\"", false),
            ("3", "\"3\"", false),
        ];
        for (header, etag, expected) in cases {
            assert_eq!(matches_any(header, etag), expected, "{header} vs {etag}");
        }
    }
}
