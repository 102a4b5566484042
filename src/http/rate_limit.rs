//! Per-caller rate limits on writes, reports and expensive reads, with the IETF `RateLimit`
//! and `RateLimit-Policy` fields (draft-ietf-httpapi-ratelimit-headers) on every response
//! of a limited class, so clients see their quota before they hit it.
//!
//! One middleware classifies each request under `/api/v1` ([`classes`]), names its caller
//! (a user, an API key, or — anonymous or with credentials that do not authenticate — the
//! client address) and takes one hit per class from the caller's quota: from this
//! instance's lease ([`crate::quota`]) when it holds one, else from the database row that
//! every instance shares. A refused request gets 429 with `Retry-After` and never reaches
//! its handler, so it changes nothing. Login and registration keep their own, stricter
//! counters in `routes::auth`.

use std::net::IpAddr;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, Error, ResponseError};

use crate::app::AppState;
use crate::auth::extract::authenticate;
use crate::db;
use crate::error::ApiError;
use crate::models::rate_limit;
use crate::quota::{chunk_for, Decision, Standing};
use crate::settings::{Quota, RateLimits};

/// The `RateLimit-Policy` response field: each limit that applies, with quota and window.
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// The `RateLimit` response field: what is left of each limit and when its window ends.
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// A limit class: a set of requests that share one quota per caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Every method but GET, HEAD and OPTIONS under `/api/v1`.
    Writes,
    /// `POST /reports`.
    Reports,
    /// `GET /listings` with a search text `q`.
    Searches,
    /// `GET /orgs/{org_id}/matches` and `GET /listings/{id}/matches`.
    Matches,
}

impl Class {
    /// The policy's name in the headers, and its bucket in `rate_limit_buckets`.
    pub fn name(self) -> &'static str {
        match self {
            Class::Writes => "writes",
            Class::Reports => "reports",
            Class::Searches => "search",
            Class::Matches => "matches",
        }
    }

    /// The configured quota of this class.
    pub fn quota(self, limits: &RateLimits) -> Quota {
        match self {
            Class::Writes => limits.writes,
            Class::Reports => limits.reports,
            Class::Searches => limits.searches,
            Class::Matches => limits.matches,
        }
    }
}

/// The classes a request counts in, the most specific first (a refused report does not
/// use up the caller's writes). `searching`: the query has a non-blank `q`.
pub fn classes_of(method: &Method, path: &str, searching: bool) -> &'static [Class] {
    let Some(rest) = path.strip_prefix("/api/v1/") else {
        return &[];
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let reading = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    match (reading, segments.as_slice()) {
        (true, ["listings"]) if searching => &[Class::Searches],
        (true, ["orgs", id, "matches"] | ["listings", id, "matches"]) if !id.is_empty() => {
            &[Class::Matches]
        }
        (true, _) => &[],
        (false, ["reports"]) if *method == Method::POST => &[Class::Reports, Class::Writes],
        (false, _) => &[Class::Writes],
    }
}

/// The classes of an incoming request.
pub fn classes(method: &Method, path: &str, query: &str) -> &'static [Class] {
    let searching = || {
        serde_html_form::from_str::<Vec<(String, String)>>(query)
            .map(|pairs| pairs.iter().any(|(k, v)| k == "q" && !v.trim().is_empty()))
            // An unparseable query is refused by the handler; count it as a search so
            // garbage is not free.
            .unwrap_or(true)
    };
    let searching = query.contains("q=") && searching();
    classes_of(method, path, searching)
}

/// Who a quota belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Caller {
    Principal(String),
    Address(String),
}

impl Caller {
    fn subject(&self) -> &str {
        match self {
            Caller::Principal(s) | Caller::Address(s) => s,
        }
    }

    fn noun(&self) -> &'static str {
        match self {
            Caller::Principal(s) if s.starts_with("key:") => "API key",
            Caller::Principal(_) => "user",
            Caller::Address(_) => "client address",
        }
    }
}

/// The client address a quota is kept for: the TCP peer, and for IPv6 its /64 (one
/// subscriber's usual allocation), so rotating addresses within it does not reset the
/// count.
fn address_subject(req: &ServiceRequest) -> String {
    match req.peer_addr().map(|a| a.ip()) {
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("addr:{v4}"),
            None => {
                let s = v6.segments();
                format!("addr:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Some(ip) => format!("addr:{ip}"),
        None => "addr:unknown".into(),
    }
}

/// The caller: the authenticated principal (remembered for the handler's extractors, so a
/// request is authenticated once), else the client address. Credentials that do not
/// authenticate count against the address: sending garbage tokens neither escapes the
/// limit nor creates a counter per fake token (the request fails with 401 anyway).
async fn caller(req: &ServiceRequest) -> Caller {
    if req.headers().contains_key(AUTHORIZATION) {
        if let Ok(principal) = authenticate(req.request().clone()).await {
            return Caller::Principal(principal.scope());
        }
    }
    Caller::Address(address_subject(req))
}

/// Takes one hit of `quota` for `caller` in `class`.
async fn admit(
    state: &AppState,
    class: Class,
    quota: Quota,
    caller: &Caller,
) -> Result<Decision, ApiError> {
    let key = format!("{}|{}", class.name(), caller.subject());
    let now = chrono::Utc::now().timestamp();
    if let Some(decision) = state.leases.admit_local(&key, now) {
        return Ok(decision);
    }
    let chunk = chunk_for(quota.count, state.settings.rate_limits.lease);
    let window = quota.window_secs();
    let subject = caller.subject().to_owned();
    let taken = db::run(&state.pool, move |conn| {
        Ok(rate_limit::take(
            conn,
            class.name(),
            &subject,
            chunk,
            window,
            now,
        )?)
    })
    .await?;
    Ok(state
        .leases
        .grant(&key, quota.count, chunk, window, taken, now))
}

/// Middleware: counts the request in its classes, refuses it with 429 once a quota is
/// used up, and adds `RateLimit-Policy` and `RateLimit` to the response either way.
pub async fn enforce(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let classes = classes(req.method(), req.path(), req.query_string());
    if classes.is_empty() {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let limits = &state.settings.rate_limits;
    let active: Vec<(Class, Quota)> = classes
        .iter()
        .map(|&c| (c, c.quota(limits)))
        .filter(|(_, q)| q.is_on())
        .collect();
    if active.is_empty() {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let caller = caller(&req).await;
    let mut shown: Vec<(Class, Quota, Standing)> = Vec::with_capacity(active.len());
    for (class, quota) in active {
        match admit(&state, class, quota, &caller).await {
            Ok(Decision::Admitted(standing)) => shown.push((class, quota, standing)),
            Ok(Decision::Refused(standing)) => {
                shown.push((class, quota, standing));
                let error = ApiError::TooManyRequests {
                    detail: format!(
                        "this {} has used its {} quota of {} requests per {} s; retry in {} s",
                        caller.noun(),
                        class.name(),
                        quota.count,
                        quota.window_secs(),
                        standing.reset
                    ),
                    retry_after: standing.reset.into(),
                };
                let mut response = error.error_response();
                add_fields(response.headers_mut(), &shown);
                return Ok(req.into_response(response));
            }
            Err(error) => return Ok(req.into_response(error.error_response())),
        }
    }
    let mut response = next.call(req).await?.map_into_boxed_body();
    add_fields(response.headers_mut(), &shown);
    Ok(response)
}

/// The two fields in the draft's structured-field syntax:
/// `RateLimit-Policy: "writes";q=300;w=60` and `RateLimit: "writes";r=299;t=60`.
fn add_fields(headers: &mut HeaderMap, shown: &[(Class, Quota, Standing)]) {
    let policy: Vec<String> = shown
        .iter()
        .map(|(c, q, _)| format!("\"{}\";q={};w={}", c.name(), q.count, q.window_secs()))
        .collect();
    let standing: Vec<String> = shown
        .iter()
        .map(|(c, _, s)| format!("\"{}\";r={};t={}", c.name(), s.remaining, s.reset))
        .collect();
    for (name, items) in [(RATELIMIT_POLICY, policy), (RATELIMIT, standing)] {
        if let Ok(value) = HeaderValue::from_str(&items.join(", ")) {
            headers.insert(name, value);
        }
    }
}

/// Documents the limits in the OpenAPI document: on every operation of a limited class,
/// both fields on every response and a 429 response (with `Retry-After`). Derived from
/// [`classes_of`], so the document cannot drift from what is enforced.
pub fn describe(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::header::{Header, HeaderBuilder};
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    use utoipa::PartialSchema;

    let header = |text: String| -> Header {
        HeaderBuilder::new()
            .schema(String::schema())
            .description(Some(text))
            .build()
    };
    let fields = |condition: &str| {
        [
            (
                "RateLimit-Policy",
                header(format!(
                    "{condition}The limits this request counts in \
                     (draft-ietf-httpapi-ratelimit-headers): per policy its quota `q` and \
                     window `w` in seconds, e.g. `\"writes\";q=300;w=60`."
                )),
            ),
            (
                "RateLimit",
                header(format!(
                    "{condition}Per policy the requests left `r` in the current window and \
                     the seconds `t` until it ends, e.g. `\"writes\";r=299;t=60`."
                )),
            ),
        ]
    };
    let retry_after = HeaderBuilder::new()
        .schema(u64::schema())
        .description(Some("Seconds until the quota allows this request again."))
        .build();
    let mut rate_limited = ResponseBuilder::new()
        .description(
            "A rate limit is used up (`RateLimit` shows which); `Retry-After` says when to \
             come back. Nothing was changed.",
        )
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(Ref::from_schema_name("Problem"))))
                .build(),
        )
        .header("Retry-After", retry_after.clone());
    for (name, field) in fields("") {
        rate_limited = rate_limited.header(name, field);
    }
    doc.components
        .get_or_insert_with(Default::default)
        .responses
        .insert("RateLimited".into(), rate_limited.build().into());
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations = [
            (Method::GET, &mut item.get),
            (Method::POST, &mut item.post),
            (Method::PUT, &mut item.put),
            (Method::PATCH, &mut item.patch),
            (Method::DELETE, &mut item.delete),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation else { continue };
            if classes_of(&method, path, true).is_empty() {
                continue;
            }
            let condition = if method == Method::GET && path == "/api/v1/listings" {
                "Only with a search text `q`. "
            } else {
                ""
            };
            let responses = &mut operation.responses.responses;
            responses
                .entry("429".into())
                .or_insert_with(|| RefOr::Ref(Ref::from_response_name("RateLimited")));
            for (status, response) in responses.iter_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                if status == "429" {
                    response
                        .headers
                        .insert("Retry-After".into(), retry_after.clone());
                }
                for (name, field) in fields(condition) {
                    response.headers.insert(name.into(), field);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_fall_into_their_classes() {
        let cases: &[(Method, &str, &str, &[Class])] = &[
            (Method::POST, "/api/v1/listings", "", &[Class::Writes]),
            (Method::PATCH, "/api/v1/listings/x", "", &[Class::Writes]),
            (
                Method::DELETE,
                "/api/v1/orgs/x/api-keys/y",
                "",
                &[Class::Writes],
            ),
            (Method::POST, "/api/v1/auth/login", "", &[Class::Writes]),
            (
                Method::POST,
                "/api/v1/reports",
                "",
                &[Class::Reports, Class::Writes],
            ),
            (Method::GET, "/api/v1/reports", "", &[]),
            (
                Method::GET,
                "/api/v1/listings",
                "q=kaffee",
                &[Class::Searches],
            ),
            (
                Method::GET,
                "/api/v1/listings",
                "kind=offer&q=kaffee+r%C3%B6sten",
                &[Class::Searches],
            ),
            (Method::GET, "/api/v1/listings", "q=%20&kind=offer", &[]),
            (Method::GET, "/api/v1/listings", "faq=1", &[]),
            (Method::GET, "/api/v1/listings", "", &[]),
            (Method::GET, "/api/v1/listings/x", "q=a", &[]),
            (Method::GET, "/api/v1/orgs/x/matches", "", &[Class::Matches]),
            (
                Method::GET,
                "/api/v1/listings/x/matches",
                "",
                &[Class::Matches],
            ),
            (Method::GET, "/api/v1/orgs//matches", "", &[]),
            (Method::GET, "/api/v1/orgs/x", "", &[]),
            (Method::POST, "/healthz", "", &[]),
            (Method::GET, "/openapi.json", "", &[]),
        ];
        for (method, path, query, expected) in cases {
            assert_eq!(
                classes(method, path, query),
                *expected,
                "{method} {path}?{query}"
            );
        }
    }

    #[test]
    fn fields_use_the_structured_syntax() {
        let mut headers = HeaderMap::new();
        let shown = [
            (
                Class::Reports,
                Quota::per(30, 3600),
                Standing {
                    remaining: 0,
                    reset: 17,
                },
            ),
            (
                Class::Writes,
                Quota::per(300, 60),
                Standing {
                    remaining: 123,
                    reset: 17,
                },
            ),
        ];
        add_fields(&mut headers, &shown);
        assert_eq!(
            headers.get(RATELIMIT_POLICY).unwrap(),
            "\"reports\";q=30;w=3600, \"writes\";q=300;w=60"
        );
        assert_eq!(
            headers.get(RATELIMIT).unwrap(),
            "\"reports\";r=0;t=17, \"writes\";r=123;t=17"
        );
    }
}
