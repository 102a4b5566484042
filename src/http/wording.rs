//! The messages of the decoders (serde, serde_json, uuid, chrono, the number parsers) in
//! this API's words: what a field must be, never a Rust type name or a library's phrase.
//! Messages this API wrote itself pass through unchanged.

/// What is wrong with a value, from a decoder's message about it.
pub fn describe(message: &str) -> String {
    let message = strip_position(message);
    if message.starts_with("missing field `") {
        // The field error names the field itself.
        return "is required".to_owned();
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let (got, expected) = rest.split_once('`').unwrap_or((rest, ""));
        return format!("must be {}, not {got:?}", one_of(expected));
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or(rest);
        return format!("`{name}` is not a field of this request");
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let (got, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        return format!(
            "must be {}, not {}",
            expected_words(expected),
            got_words(got)
        );
    }
    if let Some(rest) = message.strip_prefix("invalid value: ") {
        let (_, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        return format!("must be {}", expected_words(expected));
    }
    if let Some(rest) = message.strip_prefix("invalid length ") {
        let (_, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        return format!(
            "has the wrong length: expected {}",
            expected_words(expected)
        );
    }
    if message.starts_with("duplicate field `") {
        return "is given more than once".to_owned();
    }
    if is_uuid_error(&message) {
        return "must be a UUID".to_owned();
    }
    if is_time_error(&message) {
        return "must be an RFC 3339 date-time such as 2026-12-31T23:00:00Z".to_owned();
    }
    if is_number_error(&message) {
        return "must be a number of the documented range".to_owned();
    }
    if message.contains("was not `true` or `false`") {
        return "must be true or false".to_owned();
    }
    if message.contains('`') {
        // Some other decoder phrase: say only that the value is wrong.
        return "has a value of the wrong form".to_owned();
    }
    message
}

/// serde_json appends " at line 1 column 9"; the field name says more.
pub fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// `, expected one of `a`, `b`` / `, expected `a` or `b`` / `, expected `a`` → "a, b".
fn one_of(expected: &str) -> String {
    let names: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    match names.as_slice() {
        [] => "a known value".to_owned(),
        [one] => format!("\"{one}\""),
        [init @ .., last] => {
            let init: Vec<String> = init.iter().map(|n| format!("\"{n}\"")).collect();
            format!("one of {} or \"{last}\"", init.join(", "))
        }
    }
}

fn expected_words(expected: &str) -> String {
    let expected = expected.trim();
    let words = match expected {
        "a string" | "a borrowed string" | "a string or bytes" => "a string",
        "i8" | "i16" | "i32" | "i64" | "isize" | "an integer" => "a whole number",
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number, 0 or more",
        "f32" | "f64" | "a number" => "a number",
        "a boolean" => "true or false",
        "a sequence" => "an array",
        "a map" => "an object",
        "a UUID string" => "a UUID",
        "a formatted date and time string or a unix timestamp"
        | "an RFC 3339 formatted date and time string" => "an RFC 3339 date-time",
        _ if expected.starts_with("struct ") => "an object",
        _ if expected.starts_with("a sequence") || expected.starts_with("an array") => "an array",
        _ if expected.starts_with("one of ") || expected.starts_with('`') => {
            return one_of(expected);
        }
        _ if expected.contains("::") || expected.contains('<') || expected.is_empty() => {
            "a value of the documented type"
        }
        other => other,
    };
    words.to_owned()
}

fn got_words(got: &str) -> String {
    let got = got.trim();
    let kind = got.split(' ').next().unwrap_or(got);
    match kind {
        "integer" | "floating" => "a number",
        "string" => "a string",
        "boolean" => "a boolean",
        "null" | "unit" => "null",
        "sequence" => "an array",
        "map" => "an object",
        _ => "a value of another type",
    }
    .to_owned()
}

fn is_uuid_error(message: &str) -> bool {
    message.contains("UUID parsing failed")
        || message.starts_with("invalid character: expected an optional prefix of `urn:uuid:`")
        || message.starts_with("invalid group")
        || message.starts_with("invalid length: expected length")
}

fn is_time_error(message: &str) -> bool {
    [
        "input contains invalid characters",
        "premature end of input",
        "input is out of range",
        "trailing input",
        "no possible date and time matching input",
        "input is not enough for unique date and time",
        "bad or unsupported format string",
    ]
    .iter()
    .any(|phrase| message.starts_with(phrase))
}

fn is_number_error(message: &str) -> bool {
    [
        "invalid digit found in string",
        "cannot parse integer from empty string",
        "number too large to fit in target type",
        "number too small to fit in target type",
        "invalid float literal",
        "number out of range",
    ]
    .iter()
    .any(|phrase| message.starts_with(phrase))
}

#[cfg(test)]
mod tests {
    use crate::http::wording::describe;

    #[test]
    fn decoder_messages_become_the_apis_words() {
        let cases = [
            ("missing field `email`", "is required"),
            (
                "unknown variant `none`, expected `offer` or `need`",
                "must be one of \"offer\" or \"need\", not \"none\"",
            ),
            (
                "unknown variant `x`, expected one of `a`, `b`, `c` at line 1 column 9",
                "must be one of \"a\", \"b\" or \"c\", not \"x\"",
            ),
            (
                "invalid type: integer `5`, expected a string",
                "must be a string, not a number",
            ),
            (
                "invalid type: string \"x\", expected i64",
                "must be a whole number, not a string",
            ),
            (
                "invalid type: map, expected a sequence",
                "must be an array, not an object",
            ),
            (
                "invalid type: null, expected struct Terms",
                "must be an object, not null",
            ),
            (
                "invalid value: integer `-1`, expected u32",
                "must be a whole number, 0 or more",
            ),
            (
                "UUID parsing failed: invalid character: found `n` at 0",
                "must be a UUID",
            ),
            (
                "invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `z` at 1",
                "must be a UUID",
            ),
            (
                "input contains invalid characters",
                "must be an RFC 3339 date-time such as 2026-12-31T23:00:00Z",
            ),
            (
                "invalid digit found in string",
                "must be a number of the documented range",
            ),
            ("must not be empty", "must not be empty"),
            ("some `odd` library phrase", "has a value of the wrong form"),
        ];
        for (message, expected) in cases {
            assert_eq!(describe(message), expected, "{message}");
        }
    }

    #[test]
    fn no_rust_type_name_survives() {
        for message in [
            "invalid type: string \"a\", expected struct mutua::routes::CreateListing",
            "invalid type: sequence, expected alloc::string::String",
            "invalid value: string \"x\", expected Option<u32>",
        ] {
            let words = describe(message);
            assert!(!words.contains("::") && !words.contains('<'), "{words}");
        }
    }
}
