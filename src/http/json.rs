//! The JSON body extractor used by every handler. Unlike `actix_web::web::Json` it names
//! the offending field for type errors and unknown enum values (via `serde_path_to_error`)
//! and answers every failure with a problem document. Before the typed deserialisation it
//! refuses what serde would let through: a body that is not a JSON object (derived structs
//! also accept arrays) and text holding control characters ([`super::control_chars`]).

use std::future::Future;
use std::pin::Pin;

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{control_chars, wording};
use crate::app::AppState;
use crate::error::{ApiError, FieldError};

/// Body limit when no application state is present (never in the real app).
const FALLBACK_LIMIT: usize = 64 * 1024;

/// A JSON request body of type `T`.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    /// The parsed body.
    pub fn into_inner(self) -> T {
        self.0
    }
}

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
        .unwrap_or(false)
}

fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Parses a body, naming the field of a data error.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let document: Value = serde_json::from_slice(body).map_err(|e| malformed(&e))?;
    if !document.is_object() {
        return Err(ApiError::field(
            "body",
            format!("must be a JSON object, not {}", kind_of(&document)),
        ));
    }
    let errors = control_chars::json_errors(&document);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    // JSON Schema counts `1.0` as an integer, so a whole number written with a fraction
    // is read as that integer.
    let whole;
    let body = match integral_floats(&document) {
        Some(rewritten) => {
            whole = rewritten;
            whole.as_slice()
        }
        None => body,
    };
    // Deserialised from the text, not from `document`, so that messages and number
    // handling stay those of the text deserialiser.
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_data() {
            let message = wording::describe(&inner.to_string());
            // A missing field is reported at its parent; name the field itself.
            let field = match (path.as_str(), missing_field(&inner.to_string())) {
                (".", missing) => missing.unwrap_or_else(|| "body".to_owned()),
                (_, Some(missing)) => format!("{path}.{missing}"),
                (_, None) => path,
            };
            ApiError::Validation(vec![FieldError::new(field, message)])
        } else {
            malformed(&inner)
        }
    })?;
    de.end().map_err(|e| malformed(&e))?;
    Ok(value)
}

/// The 400 for a body that is not JSON, saying where, in words rather than the parser's.
fn malformed(error: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let (line, column) = (error.line(), error.column());
    let what = match error.classify() {
        Category::Eof => "the body ends before the JSON document is complete".to_owned(),
        _ if error.to_string().starts_with("trailing characters") => {
            format!("more text follows the JSON document (line {line}, column {column})")
        }
        _ if error.to_string().starts_with("recursion limit exceeded") => {
            "the JSON document is nested too deeply".to_owned()
        }
        _ => format!("the body is not valid JSON at line {line}, column {column}"),
    };
    ApiError::BadRequest(format!("malformed JSON: {what}"))
}

/// The document again with every whole-number float (`2.0`) as an integer, if it has one.
fn integral_floats(document: &Value) -> Option<Vec<u8>> {
    fn whole(value: &mut Value) -> bool {
        match value {
            Value::Number(n) if n.is_f64() => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => {
                    *value = Value::from(f as i64);
                    true
                }
                _ => false,
            },
            Value::Array(items) => items.iter_mut().fold(false, |any, v| whole(v) | any),
            Value::Object(fields) => fields.values_mut().fold(false, |any, v| whole(v) | any),
            _ => false,
        }
    }
    fn any(value: &Value) -> bool {
        match value {
            Value::Number(n) => n.as_f64().is_some_and(|f| n.is_f64() && f.fract() == 0.0),
            Value::Array(items) => items.iter().any(any),
            Value::Object(fields) => fields.values().any(any),
            _ => false,
        }
    }
    if !any(document) {
        return None;
    }
    let mut copy = document.clone();
    whole(&mut copy);
    serde_json::to_vec(&copy).ok()
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "an array",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Null => "null",
        Value::Object(_) => "an object",
    }
}

/// The name in serde's ``missing field `email` `` message, if it is one.
fn missing_field(message: &str) -> Option<String> {
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
        .map(str::to_owned)
}

/// For optional PATCH fields: tells a present `null` (`Some(None)`, "clear it") from an
/// absent field (`None`, "leave it"). Use with `#[serde(default, deserialize_with = ...)]`.
pub fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(d).map(Some)
}

/// Reads a body up to the configured limit; `required` bodies must be declared JSON, an
/// optional one only when it is not empty.
fn read_body(
    req: &HttpRequest,
    payload: &mut Payload,
) -> impl Future<Output = Result<(bool, Vec<u8>), ApiError>> {
    let limit = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.settings.body_limit)
        .unwrap_or(FALLBACK_LIMIT);
    let json = is_json(req);
    let declared = declared_length(req);
    let mut payload = payload.take();
    async move {
        let too_large =
            || ApiError::PayloadTooLarge(format!("the request body exceeds {limit} bytes"));
        if declared.is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|_| {
                ApiError::BadRequest("the request body could not be read to its end".into())
            })?;
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok((json, body))
    }
}

fn not_json() -> ApiError {
    ApiError::UnsupportedMediaType(
        "the request body must be JSON (Content-Type: application/json)".into(),
    )
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = is_json(req);
        let body = read_body(req, payload);
        Box::pin(async move {
            if !json {
                return Err(not_json());
            }
            let (_, body) = body.await?;
            parse(&body).map(Json)
        })
    }
}

/// A JSON body that may be left out: an empty body is `None`; anything else must be a
/// valid JSON object of type `T`, checked as strictly as [`Json`] (never silently ignored).
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload);
        Box::pin(async move {
            let (json, body) = body.await?;
            if body.is_empty() {
                return Ok(OptionalJson(None));
            }
            if !json {
                return Err(not_json());
            }
            parse(&body).map(|v| OptionalJson(Some(v)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        role: Option<crate::models::membership::OrgRole>,
    }

    #[test]
    fn names_the_field_of_a_data_error() {
        let Err(ApiError::Validation(errors)) = parse::<Sample>(br#"{"name": 5}"#) else {
            panic!("expected a validation error")
        };
        assert_eq!(errors[0].field, "name");
        let Err(ApiError::Validation(errors)) =
            parse::<Sample>(br#"{"name": "x", "role": "chef"}"#)
        else {
            panic!("expected a validation error")
        };
        assert_eq!(errors[0].field, "role");
        assert!(errors[0].message.contains("chef"));
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        assert!(matches!(
            parse::<Sample>(br#"{"name": "#),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(
            parse::<Sample>(br#"{"name": "x"} trailing"#),
            Err(ApiError::BadRequest(_))
        ));
        assert!(parse::<Sample>(br#"{"name": "x"}"#).is_ok());
    }

    #[test]
    fn only_an_object_is_a_body() {
        for body in [&br#"["x", null]"#[..], br#""x""#, b"5", b"null", b"true"] {
            let Err(ApiError::Validation(errors)) = parse::<Sample>(body) else {
                panic!(
                    "expected a validation error for {}",
                    String::from_utf8_lossy(body)
                )
            };
            assert_eq!(errors[0].field, "body");
            assert!(errors[0].message.contains("JSON object"));
        }
    }

    #[test]
    fn control_characters_are_refused_before_deserialising() {
        let Err(ApiError::Validation(errors)) = parse::<Sample>(br#"{"name": "a\u0000b"}"#) else {
            panic!("expected a validation error")
        };
        assert_eq!(errors[0].field, "name");
        assert!(errors[0].message.contains("U+0000"));
        assert!(parse::<Sample>(br#"{"name": "line\nnext\ttab"}"#).is_ok());
    }
}
