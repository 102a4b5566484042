//! Every error leaves as an RFC 9457 problem document naming its request.
//!
//! Handlers and extractors answer with [`ApiError`], which already renders a problem; this
//! middleware, around everything but the request log, adds what only the request knows
//! (`instance`, `request_id`) and turns the few errors made by libraries — a CORS refusal,
//! an error returned by a middleware — into problems in this API's words. It also refuses
//! request heads that are too large (414, 431) before any other work is done.

use actix_web::body::{self, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse, ResponseError};
use serde_json::Value;

use crate::error::ApiError;
use crate::telemetry::RequestId;

/// The longest request target (path and query) served: beyond it, 414.
pub const MAX_URI_BYTES: usize = 8_192;
/// The most header bytes (names and values) a request may carry: beyond it, 431.
pub const MAX_HEADER_BYTES: usize = 32_768;
/// The most header fields a request may carry: beyond it, 431. (The HTTP layer itself
/// closes the connection with a bare 431 beyond 96 fields or a 128 KiB head.)
pub const MAX_HEADERS: usize = 64;

/// The methods a cross-origin request may use: the CORS layer's configuration and the
/// words of its refusals.
pub const CORS_METHODS: [&str; 5] = ["GET", "HEAD", "POST", "PATCH", "DELETE"];
/// The request headers a cross-origin request may send, likewise.
pub const CORS_REQUEST_HEADERS: [&str; 6] = [
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "Idempotency-Key",
    "X-Request-Id",
];

/// `a, b and c`.
fn listed(items: &[&str]) -> String {
    match items.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// Problem bodies are small; anything larger is not one of ours and is replaced.
const MAX_PROBLEM_BYTES: usize = 64 * 1024;

/// Middleware: see the module documentation.
pub async fn complete(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let instance = req.path().to_owned();
    let request_id = req.extensions().get::<RequestId>().map(|id| id.0.clone());
    // (The request is not cloned: routing needs to own it. Every layer inside answers
    // errors as responses, so none arrives as an `Err`.)
    let res = match head_too_large(&req) {
        Some(refusal) => req.error_response(refusal),
        None => next.call(req).await?.map_into_boxed_body(),
    };
    if res.status().as_u16() < 400 {
        return Ok(res);
    }
    let (req, response) = res.into_parts();
    let response = complete_problem(response, instance, request_id).await;
    Ok(ServiceResponse::new(req, response))
}

/// The refusal of a request whose target or headers are too large, if it is one.
fn head_too_large(req: &ServiceRequest) -> Option<ApiError> {
    let uri = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if uri > MAX_URI_BYTES {
        return Some(ApiError::UriTooLong(format!(
            "the request's path and query are {uri} bytes; at most {MAX_URI_BYTES} are served"
        )));
    }
    let headers = req.headers();
    let count = headers.len();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if count > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return Some(ApiError::HeadersTooLarge(format!(
            "the request carries {count} header fields of {bytes} bytes; at most \
             {MAX_HEADERS} fields of {MAX_HEADER_BYTES} bytes in all are served"
        )));
    }
    None
}

/// The error response as a problem document with `instance` and `request_id`.
async fn complete_problem(
    response: HttpResponse<BoxBody>,
    instance: String,
    request_id: Option<String>,
) -> HttpResponse<BoxBody> {
    let status = response.status();
    let own = is_problem(&response);
    let replacement = if own {
        None
    } else {
        Some(library_error(&response))
    };
    let (mut head, body) = response.into_parts();
    let mut problem = match replacement {
        Some(error) => {
            *head.status_mut() = error.status_code();
            serde_json::to_value(error.problem()).unwrap_or(Value::Null)
        }
        None => body::to_bytes_limited(body, MAX_PROBLEM_BYTES)
            .await
            .ok()
            .and_then(Result::ok)
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .unwrap_or(Value::Null),
    };
    if !problem.is_object() {
        // Not readable as a problem after all: describe the status instead.
        problem = serde_json::to_value(
            ApiError::of_status(status, "the request failed".into()).problem(),
        )
        .unwrap_or(Value::Null);
    }
    if let Value::Object(fields) = &mut problem {
        fields
            .entry("instance")
            .or_insert_with(|| Value::String(instance));
        if let Some(id) = request_id {
            fields.entry("request_id").or_insert(Value::String(id));
        }
    }
    let text = serde_json::to_vec(&problem).unwrap_or_default();
    let headers = head.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    headers.remove(header::CONTENT_LENGTH);
    head.set_body(BoxBody::new(text))
}

fn is_problem(response: &HttpResponse<BoxBody>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json"))
}

/// This API's words for an error response a library made.
fn library_error(response: &HttpResponse<BoxBody>) -> ApiError {
    use actix_cors::CorsError;
    let status = response.status();
    let cors = response
        .error()
        .and_then(|error| error.as_error::<CorsError>());
    match cors {
        Some(CorsError::OriginNotAllowed) => ApiError::Forbidden(
            "this origin may not call the API from a browser; the server allows the origins \
             listed in MUTUA_CORS_ORIGINS"
                .into(),
        ),
        Some(CorsError::MethodNotAllowed) => ApiError::Forbidden(format!(
            "a cross-origin request may use {} only",
            listed(&CORS_METHODS)
        )),
        Some(CorsError::HeadersNotAllowed) => ApiError::Forbidden(format!(
            "a cross-origin request may send only the headers {}",
            listed(&CORS_REQUEST_HEADERS)
        )),
        Some(CorsError::MissingOrigin) => {
            ApiError::BadRequest("a CORS preflight request needs an Origin header".into())
        }
        Some(CorsError::MissingRequestMethod | CorsError::BadRequestMethod) => {
            ApiError::BadRequest(
                "a CORS preflight request needs a valid Access-Control-Request-Method header"
                    .into(),
            )
        }
        Some(CorsError::BadRequestHeaders) => ApiError::BadRequest(
            "the Access-Control-Request-Headers header of this preflight request is malformed"
                .into(),
        ),
        _ => ApiError::of_status(
            status,
            format!(
                "the request failed: {}",
                status.canonical_reason().unwrap_or("error").to_lowercase()
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use crate::http::problems::{listed, CORS_METHODS, CORS_REQUEST_HEADERS};

    #[test]
    fn refusals_list_what_cors_allows() {
        assert_eq!(listed(&CORS_METHODS), "GET, HEAD, POST, PATCH and DELETE");
        assert_eq!(
            listed(&CORS_REQUEST_HEADERS),
            "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key and X-Request-Id"
        );
        assert_eq!(listed(&["GET"]), "GET");
        assert_eq!(listed(&[]), "");
    }
}
