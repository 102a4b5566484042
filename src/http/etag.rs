//! `ETag` / `If-Match` for versioned resources: the ETag is the version number, quoted.

use std::future::{ready, Ready};

use actix_web::http::StatusCode;
use actix_web::{dev::Payload, http::header, FromRequest, HttpRequest, HttpResponse};
use serde::Serialize;

use crate::error::ApiError;

/// The strong ETag of a version.
pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

/// A versioned resource's response: the body with its `ETag`.
pub fn tagged(status: StatusCode, version: i32, body: &impl Serialize) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(version)))
        .json(body)
}

/// The `If-Match` precondition of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMatch {
    /// No header (or `*`): apply the change to whatever is current.
    Any,
    /// Apply only if the current version is this one.
    Version(i32),
    /// A header naming no version this API issued: can never match.
    Never,
}

impl IfMatch {
    /// The version an update must find, `None` for any. `Never` asks for version 0, which
    /// no resource has (versions start at 1), so the update answers 412.
    pub fn expected(self) -> Option<i32> {
        match self {
            IfMatch::Any => None,
            IfMatch::Version(v) => Some(v),
            IfMatch::Never => Some(0),
        }
    }
}

fn parse(value: &str) -> IfMatch {
    let mut result = IfMatch::Never;
    for tag in value.split(',').map(str::trim) {
        if tag == "*" {
            return IfMatch::Any;
        }
        let tag = tag.strip_prefix("W/").unwrap_or(tag);
        if let Some(v) = tag
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .and_then(|t| t.parse::<i32>().ok())
        {
            result = IfMatch::Version(v);
        }
    }
    result
}

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let value = match req.headers().get(header::IF_MATCH) {
            None => IfMatch::Any,
            Some(v) => v.to_str().map(parse).unwrap_or(IfMatch::Never),
        };
        ready(Ok(value))
    }
}
