//! Control characters are refused at the edge, in one place per input channel: JSON text
//! (by [`crate::http::json`], 422 naming the field) and query parameters (by
//! [`refuse_in_query`], 400 naming the parameter). PostgreSQL cannot store U+0000 in text at
//! all, and no field of this API means anything by a control character, so neither backend
//! ever sees one.
//!
//! In JSON text, tab, line feed and carriage return stay allowed (descriptions are
//! multi-line); every other character of U+0000–U+001F and U+007F is refused. A query
//! parameter is one line: all of U+0000–U+001F and U+007F are refused after percent-decoding.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, Error, ResponseError};
use serde_json::Value;

use crate::error::{ApiError, FieldError};

/// The first character a JSON text value may not contain, if any.
fn forbidden_in_text(text: &str) -> Option<char> {
    text.chars()
        .find(|&c| c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// The first character a one-line value (a query parameter, a field name) may not contain.
fn forbidden_in_line(text: &str) -> Option<char> {
    text.chars().find(char::is_ascii_control)
}

fn code_point(c: char) -> String {
    format!("U+{:04X}", c as u32)
}

/// Every string (and object key) of a JSON document holding a control character, named by
/// its path as the typed field errors name fields (`tags[1]`, `a.b[0].c`).
pub fn json_errors(value: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    walk(value, &mut String::new(), &mut errors);
    errors
}

fn walk(value: &Value, path: &mut String, errors: &mut Vec<FieldError>) {
    match value {
        Value::String(text) => {
            if let Some(c) = forbidden_in_text(text) {
                errors.push(FieldError::new(
                    field_name(path),
                    format!(
                        "must not contain the control character {}; only tab, line feed and \
                         carriage return are allowed",
                        code_point(c)
                    ),
                ));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk(item, path, errors);
                path.truncate(len);
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                if let Some(c) = forbidden_in_line(key) {
                    errors.push(FieldError::new(
                        field_name(path),
                        format!(
                            "holds a field name with the control character {}",
                            code_point(c)
                        ),
                    ));
                    continue;
                }
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                walk(item, path, errors);
                path.truncate(len);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn field_name(path: &str) -> String {
    if path.is_empty() {
        "body".to_owned()
    } else {
        path.to_owned()
    }
}

/// The refusal of a query string holding a control character in a parameter's name or
/// value (after percent-decoding), if it holds one.
pub fn query_error(query: &str) -> Option<ApiError> {
    // A query string that does not decode is left to the handler's own extractor.
    let pairs = web::Query::<Vec<(String, String)>>::from_query(query).ok()?;
    pairs.iter().find_map(|(name, value)| {
        if let Some(c) = forbidden_in_line(name) {
            return Some(ApiError::BadRequest(format!(
                "a query parameter name contains the control character {}",
                code_point(c)
            )));
        }
        forbidden_in_line(value).map(|c| {
            ApiError::BadRequest(format!(
                "query parameter `{name}` contains the control character {}",
                code_point(c)
            ))
        })
    })
}

/// Middleware: answers 400 before routing when a query parameter holds a control character.
pub async fn refuse_in_query(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if let Some(error) = query_error(req.query_string()) {
        return Ok(req.into_response(error.error_response()));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_each_string_with_a_control_character_by_its_path() {
        let body = json!({
            "name": "a\u{0}b",
            "description": "line one\nline two\r\n\tindented",
            "terms": {"gives": [{"description": "fine"}, {"description": "bell\u{7}"}]},
            "tags": ["ok", "del\u{7f}"],
        });
        let errors = json_errors(&body);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "terms.gives[1].description", "tags[1]"]);
        assert!(
            errors[0].message.contains("U+0000"),
            "{}",
            errors[0].message
        );
        assert!(errors[1].message.contains("U+0007"));
        assert!(errors[2].message.contains("U+007F"));
    }

    #[test]
    fn control_characters_in_keys_and_top_level_strings_are_named() {
        let errors = json_errors(&json!({"meta": {"k\u{1}": 1}}));
        assert_eq!(errors[0].field, "meta");
        assert_eq!(json_errors(&json!("\u{1b}"))[0].field, "body");
        assert!(json_errors(&json!({"n": 1, "b": true, "x": null, "s": "é ✓"})).is_empty());
    }

    #[test]
    fn query_parameters_refuse_every_control_character_after_decoding() {
        assert!(query_error("region=a%00b").is_some());
        assert!(query_error("q=a%0Ab").is_some());
        assert!(query_error("q=a%09b").is_some());
        assert!(query_error("q=a%7Fb").is_some());
        assert!(query_error("a%00=1").is_some());
        let Some(ApiError::BadRequest(detail)) = query_error("limit=5&industry=x%1Fy") else {
            panic!("expected a bad request")
        };
        assert!(
            detail.contains("`industry`") && detail.contains("U+001F"),
            "{detail}"
        );
        assert!(query_error("q=caf%C3%A9+bar&limit=5").is_none());
        assert!(query_error("").is_none());
    }
}
