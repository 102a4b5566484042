//! Passes over the generated document that make it say exactly what the server does, in
//! the places utoipa's derives cannot: one rule each, applied to every operation so that
//! no handler can be left out.

use serde_json::{json, Map, Value};

/// Applies every pass, in order.
pub fn apply(doc: &mut Value) {
    refer_to_page_items(doc);
    text_patterns(doc);
    if let Some(Value::Object(shared)) = doc.pointer_mut("/components/responses") {
        for response in shared.values_mut().filter_map(Value::as_object_mut) {
            request_id_header(response);
        }
    }
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut().filter_map(Value::as_object_mut) {
            for (method, op) in item.iter_mut() {
                let Some(op) = op.as_object_mut() else {
                    continue;
                };
                optional_body(op);
                tag_patterns(op);
                optional_security(op);
                conditional_get(method, op);
                response_headers(op);
            }
        }
    }
}

/// The pattern of a trimmed text field of `min..=max` characters (`Checks::text`): the
/// server trims Unicode white space and refuses control characters other than tab, line
/// feed and carriage return (see `http::control_chars`), so the characters between the
/// first and the last non-space one are counted. `optional` fields may be blank (absent).
pub fn text_pattern(min: u64, max: u64, optional: bool) -> String {
    const SPACE: &str = r"\t\n\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
    const NOT_SPACE_OR_CONTROL: &str =
        r"\u0000-\u0020\u007F\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
    let space = format!("[{SPACE}]");
    let solid = format!("[^{NOT_SPACE_OR_CONTROL}]");
    let any = r"[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]";
    let min = min.max(1);
    let core = match (min, max) {
        (_, 0) => String::new(),
        (_, 1) => solid.clone(),
        (1, max) => format!("{solid}(?:{any}{{0,{}}}{solid})?", max - 2),
        (min, max) => format!("{solid}{any}{{{},{}}}{solid}", min - 2, max.max(min) - 2),
    };
    if optional {
        format!("^{space}*(?:{core}{space}*)?$")
    } else {
        format!("^{space}*{core}{space}*$")
    }
}

/// utoipa inlines a generic page's item schema (juhaku/utoipa#1586); each `Page_X` refers
/// to `X` instead, so generated clients have one model per resource.
fn refer_to_page_items(doc: &mut Value) {
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let pages: Vec<String> = schemas
        .keys()
        .filter(|name| name.starts_with("Page_"))
        .cloned()
        .collect();
    for page in pages {
        let item = page.trim_start_matches("Page_").to_owned();
        let Some(inline) = schemas
            .get(&page)
            .and_then(|s| s.pointer("/properties/items/items"))
            .filter(|s| s.get("$ref").is_none())
            .cloned()
        else {
            continue;
        };
        schemas.entry(item.clone()).or_insert(inline);
        if let Some(items) = schemas
            .get_mut(&page)
            .and_then(|s| s.pointer_mut("/properties/items/items"))
        {
            *items = json!({ "$ref": format!("#/components/schemas/{item}") });
        }
    }
}

/// Every string property of a request body's schemas with `minLength`/`maxLength` and no
/// other constraint is a trimmed text field: its lengths become the exact pattern.
fn text_patterns(doc: &mut Value) {
    let mut names = Vec::new();
    if let Some(paths) = doc.get("paths") {
        collect_request_refs(paths, &mut names);
    }
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    // Request schemas refer to others (Terms → Item): follow them.
    let mut i = 0;
    while i < names.len() {
        if let Some(schema) = schemas.get(&names[i]) {
            let mut more = Vec::new();
            collect_refs(schema, &mut more);
            for name in more {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        i += 1;
    }
    for name in names {
        if let Some(schema) = schemas.get_mut(&name) {
            pattern_properties(schema);
            body_tags(schema);
        }
    }
}

fn body_tags(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            if fields.get("pattern").and_then(Value::as_str) == Some(TAG) {
                fields.insert("pattern".into(), Value::String(tag_pattern(false)));
            }
            fields.values_mut().for_each(body_tags);
        }
        Value::Array(items) => items.iter_mut().for_each(body_tags),
        _ => {}
    }
}

/// A UUID field or parameter: `format: uuid` alone lets fuzzers send any string.
fn uuid_pattern(value: &mut Value) {
    if let Some(fields) = value.as_object_mut() {
        if fields.get("format").and_then(Value::as_str) == Some("uuid")
            && !fields.contains_key("pattern")
        {
            fields.insert("pattern".into(), Value::String(UUID.to_owned()));
        }
    }
}

fn collect_request_refs(paths: &Value, out: &mut Vec<String>) {
    for item in paths.as_object().into_iter().flat_map(Map::values) {
        for op in item.as_object().into_iter().flat_map(Map::values) {
            if let Some(body) = op.get("requestBody") {
                collect_refs(body, out);
            }
        }
    }
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            if let Some(name) = fields
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                if !out.iter().any(|n| n == name) {
                    out.push(name.to_owned());
                }
            }
            fields.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// The server refuses a control character in any field name of a body (`http::control_chars`).
const FIELD_NAME: &str = r"^[^\u0000-\u001F\u007F]*$";

/// What the server accepts of a string it does not otherwise check: no control character
/// but tab, line feed and carriage return.
const PLAIN_TEXT: &str = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]*$";

/// What `uuid::Uuid` parses: hyphenated, simple, braced or URN form.
pub const UUID: &str = concat!(
    r"^(?:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}",
    r"|[0-9A-Fa-f]{32}",
    r"|\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}",
    r"|urn:uuid:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})$"
);

fn pattern_properties(schema: &mut Value) {
    if let Value::Object(fields) = schema {
        {
            if let Some(Value::Object(properties)) = fields.get_mut("properties") {
                for property in properties.values_mut() {
                    pattern_text(property);
                    uuid_pattern(property);
                    // Nested objects (terms in a proposal) and arrays of them.
                    pattern_properties(property);
                    if let Some(items) = property.get_mut("items") {
                        pattern_text(items);
                        uuid_pattern(items);
                        pattern_properties(items);
                    }
                }
                fields
                    .entry("propertyNames")
                    .or_insert_with(|| json!({ "type": "string", "pattern": FIELD_NAME }));
            }
            for key in ["allOf", "oneOf", "anyOf"] {
                if let Some(Value::Array(parts)) = fields.get_mut(key) {
                    parts.iter_mut().for_each(pattern_properties);
                }
            }
        }
    }
}

fn pattern_text(property: &mut Value) {
    let Some(fields) = property.as_object_mut() else {
        return;
    };
    let types: Vec<String> = match fields.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => return,
    };
    let has_length = fields.contains_key("minLength") || fields.contains_key("maxLength");
    let constrained = ["pattern", "format", "enum"]
        .iter()
        .any(|k| fields.contains_key(*k));
    if !types.iter().any(|t| t == "string") || constrained {
        return;
    }
    if !has_length {
        fields.insert("pattern".into(), Value::String(PLAIN_TEXT.to_owned()));
        return;
    }
    // A field given only a maximum may be blank (the server takes blank as absent, or
    // allows it); one given a minimum may not.
    let optional = !fields.contains_key("minLength");
    let min = fields
        .remove("minLength")
        .and_then(|v| v.as_u64())
        .unwrap_or(1);
    let max = fields
        .remove("maxLength")
        .and_then(|v| v.as_u64())
        .unwrap_or(100_000);
    fields.insert(
        "pattern".into(),
        Value::String(text_pattern(min, max, optional)),
    );
    let note = if optional {
        format!("Up to {max} characters once trimmed; blank is allowed.")
    } else {
        format!("{min}–{max} characters once trimmed.")
    };
    let description = match fields.get("description").and_then(Value::as_str) {
        Some(text) if !text.is_empty() => text.to_owned(),
        _ => note,
    };
    let description = format!(
        "{description} Control characters other than tab, line feed and carriage return \
         are refused."
    );
    fields.insert("description".into(), Value::String(description));
}

/// An optional body (`Option<OptionalJson<T>>`) comes out as `oneOf: [null, T]`, but a
/// body of `null` is refused (422: a body is an object): the body is `T`, not required.
fn optional_body(op: &mut Map<String, Value>) {
    let Some(body) = op.get_mut("requestBody") else {
        return;
    };
    let Some(schema) = body.pointer_mut("/content/application~1json/schema") else {
        return;
    };
    let Some(Value::Array(choices)) = schema.get("oneOf") else {
        return;
    };
    let refs: Vec<Value> = choices
        .iter()
        .filter(|c| c.get("type").and_then(Value::as_str) != Some("null"))
        .cloned()
        .collect();
    if refs.len() == 1 && refs.len() < choices.len() {
        *schema = refs[0].clone();
        if let Some(body) = body.as_object_mut() {
            body.insert("required".into(), Value::Bool(false));
        }
    }
}

/// The pattern the tag fields carry in the code: the tag itself, without the white space
/// `normalize_tag` trims around it.
pub const TAG: &str = "^[A-Za-z0-9-]{2,40}$";

/// A tag as sent: [`TAG`], with the white space the server trims around it; in a query
/// parameter without tab, line feed and carriage return (refused there as control
/// characters).
fn tag_pattern(in_query: bool) -> String {
    let space = if in_query {
        r"[ \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
    } else {
        r"[\t\n\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
    };
    format!("^{space}*[A-Za-z0-9-]{{2,40}}{space}*$")
}

fn tag_patterns(op: &mut Map<String, Value>) {
    fn rewrite(value: &mut Value, pattern: &str) {
        match value {
            Value::Object(fields) => {
                if fields.get("pattern").and_then(Value::as_str) == Some(TAG) {
                    fields.insert("pattern".into(), Value::String(pattern.to_owned()));
                }
                fields.values_mut().for_each(|v| rewrite(v, pattern));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| rewrite(v, pattern)),
            _ => {}
        }
    }
    if let Some(Value::Array(parameters)) = op.get_mut("parameters") {
        for parameter in parameters.iter_mut() {
            rewrite(parameter, &tag_pattern(true));
            if let Some(schema) = parameter.get_mut("schema") {
                uuid_pattern(schema);
                if let Some(items) = schema.get_mut("items") {
                    uuid_pattern(items);
                }
            }
        }
    }
}

/// utoipa writes an optional credential as `security: [{}, {"bearer": []}]`, which client
/// generators (openapi-python-client) read as "credentials required". An operation anyone
/// may call says so by having no requirement; one that also reads credentials says that in
/// its description.
fn optional_security(op: &mut Map<String, Value>) {
    let Some(Value::Array(requirements)) = op.get("security") else {
        return;
    };
    let anonymous = requirements
        .iter()
        .any(|r| r.as_object().is_some_and(Map::is_empty));
    if !anonymous {
        return;
    }
    let reads_credentials = requirements
        .iter()
        .any(|r| r.as_object().is_some_and(|r| !r.is_empty()));
    op.remove("security");
    if reads_credentials {
        let note = "Anyone may call this without credentials. With a bearer token (an access \
                    token or an API key) the answer also includes what the caller's \
                    organisation may see.";
        let description = match op.get("description").and_then(Value::as_str) {
            Some(text) if !text.is_empty() => format!("{text}\n\n{note}"),
            _ => note.to_owned(),
        };
        op.insert("description".into(), Value::String(description));
    }
}

/// A `GET` that sends an `ETag` answers `If-None-Match` with `304` (and `HEAD` like `GET`,
/// which is said once in the document's description rather than on every path).
fn conditional_get(method: &str, op: &mut Map<String, Value>) {
    if method != "get" {
        return;
    }
    let tagged = op
        .get("responses")
        .and_then(|r| r.pointer("/200/headers/ETag"))
        .is_some();
    if !tagged {
        return;
    }
    if let Some(Value::Array(parameters)) = op.get_mut("parameters") {
        parameters.push(json!({
            "name": "If-None-Match",
            "in": "header",
            "required": false,
            "description": "ETags the caller holds (or `*`): when one is current, the answer \
                            is `304 Not Modified` with no body.",
            "schema": { "type": "string" }
        }));
    } else {
        op.insert(
            "parameters".into(),
            json!([{
                "name": "If-None-Match",
                "in": "header",
                "required": false,
                "description": "ETags the caller holds (or `*`): when one is current, the \
                                answer is `304 Not Modified` with no body.",
                "schema": { "type": "string" }
            }]),
        );
    }
    if let Some(Value::Object(responses)) = op.get_mut("responses") {
        responses.insert(
            "304".into(),
            json!({
                "description": "Not modified: the `If-None-Match` ETag is current",
                "headers": { "ETag": { "schema": { "type": "string" } } }
            }),
        );
    }
}

fn request_id_header(response: &mut Map<String, Value>) {
    let headers = response
        .entry("headers")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(headers) = headers.as_object_mut() {
        headers.entry("X-Request-Id").or_insert_with(|| {
            json!({
                "description": "The request's id: the client's own `X-Request-Id` if it sent \
                                a valid one (1–128 of `A-Z a-z 0-9 - _ . :`), else a new UUID.",
                "schema": { "type": "string" }
            })
        });
    }
}

/// `X-Request-Id` on every response; `Idempotent-Replayed` on the successes of operations
/// that take an `Idempotency-Key`; `Retry-After` on the catch-all problem (429, 503).
fn response_headers(op: &mut Map<String, Value>) {
    let idempotent = op
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|ps| {
            ps.iter()
                .any(|p| p.get("name").and_then(Value::as_str) == Some("Idempotency-Key"))
        });
    let Some(Value::Object(responses)) = op.get_mut("responses") else {
        return;
    };
    for (status, response) in responses.iter_mut() {
        let Some(response) = response.as_object_mut() else {
            continue;
        };
        if response.contains_key("$ref") {
            // A shared response: its headers are written once, in `components`.
            continue;
        }
        request_id_header(response);
        let Some(headers) = response.get_mut("headers").and_then(Value::as_object_mut) else {
            continue;
        };
        if idempotent && status.starts_with('2') {
            headers.entry("Idempotent-Replayed").or_insert_with(|| {
                json!({
                    "description": "`true` when this is the stored answer to an earlier \
                                    request with the same `Idempotency-Key` and body.",
                    "schema": { "type": "string", "enum": ["true"] }
                })
            });
        }
        if status == "default" {
            headers.entry("Retry-After").or_insert_with(|| {
                json!({
                    "description": "On 429 and 503: seconds to wait before retrying.",
                    "schema": { "type": "integer", "minimum": 0 }
                })
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::openapi::exact::text_pattern;

    /// What `Checks::text` accepts, to hold the pattern against.
    fn accepts(value: &str, min: usize, max: usize, optional: bool) -> bool {
        if value
            .chars()
            .any(|c| c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\r'))
        {
            return false;
        }
        let n = value.trim().chars().count();
        (optional && n == 0) || (min.max(1)..=max).contains(&n)
    }

    #[test]
    fn text_patterns_accept_exactly_what_the_checks_accept() {
        let values = [
            "",
            " ",
            "   ",
            "a",
            "ab",
            " ab ",
            "a ",
            " a",
            "abcde",
            "abcdef",
            "  abcde\n",
            "a\u{1}b",
            "a\tb",
            "a\u{b}b",
            "\u{a0}x\u{3000}",
            "x\u{85}",
            "a b",
            "\u{7f}ab",
            "äöü",
            "\u{2028}ab\u{2029}",
            "ab\u{feff}",
            "\t\n\r",
            "a\u{200b}",
        ];
        for (min, max, optional) in [(2, 5, false), (1, 5, true), (1, 3, false), (3, 5, false)] {
            let pattern = text_pattern(min as u64, max as u64, optional);
            let re = regex::Regex::new(&pattern).unwrap();
            for value in values {
                assert_eq!(
                    re.is_match(value),
                    accepts(value, min, max, optional),
                    "{value:?} against {min}..={max} optional={optional}"
                );
            }
        }
    }

    #[test]
    fn tag_patterns_accept_exactly_what_normalize_tag_accepts() {
        let values = [
            "ab",
            " ab ",
            "AB",
            "a",
            "a b",
            "\tkaffee\n",
            "\u{212A}affee",
            "küche",
            "-x",
            "x\u{3000}",
            &"a".repeat(40),
            &"a".repeat(41),
            " \u{a0}ab",
        ];
        for in_query in [false, true] {
            let re = regex::Regex::new(&crate::openapi::exact::tag_pattern(in_query)).unwrap();
            for value in values {
                let control = value.chars().any(|c| c.is_ascii_control());
                let server =
                    crate::http::validate::normalize_tag(value).is_ok() && !(in_query && control);
                assert_eq!(re.is_match(value), server, "{value:?} in_query={in_query}");
            }
        }
    }

    #[test]
    fn the_uuid_pattern_accepts_what_the_server_parses() {
        let re = regex::Regex::new(crate::openapi::exact::UUID).unwrap();
        let id = "01a235ae-a741-7441-9e03-a202b4262db7";
        for value in [
            id.to_owned(),
            id.to_uppercase(),
            id.replace('-', ""),
            format!("{{{id}}}"),
            format!("urn:uuid:{id}"),
            String::new(),
            "x".into(),
            format!("{id}0"),
            format!(" {id}"),
            "01a235ae-a741-7441-9e03-a202b4262dbz".into(),
            "01a235aea741-7441-9e03-a202b4262db7".into(),
        ] {
            assert_eq!(
                re.is_match(&value),
                uuid::Uuid::parse_str(&value).is_ok(),
                "{value:?}"
            );
        }
    }
}
