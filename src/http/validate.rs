//! Field validation that collects every problem of a request into one 422.

use crate::error::{ApiError, FieldError};

/// Collects field errors while a request is checked.
#[derive(Debug, Default)]
pub struct Checks {
    errors: Vec<FieldError>,
}

impl Checks {
    /// No errors yet.
    pub fn new() -> Self {
        Checks::default()
    }

    /// Records an error for a field.
    pub fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// Trims a required text field and checks its length in characters.
    pub fn text(&mut self, field: &str, value: &str, min: usize, max: usize) -> String {
        let trimmed = value.trim().to_owned();
        let chars = trimmed.chars().count();
        if chars < min {
            if min <= 1 {
                self.fail(field, "must not be empty");
            } else {
                self.fail(field, format!("must be at least {min} characters"));
            }
        } else if chars > max {
            self.fail(field, format!("must be at most {max} characters"));
        }
        trimmed
    }

    /// Like [`Checks::text`] for an optional field; blank becomes `None`.
    pub fn optional_text(
        &mut self,
        field: &str,
        value: Option<&str>,
        max: usize,
    ) -> Option<String> {
        let trimmed = value.map(str::trim).filter(|v| !v.is_empty())?;
        Some(self.text(field, trimmed, 1, max))
    }

    /// Checks an optional http(s) URL.
    pub fn optional_url(&mut self, field: &str, value: Option<&str>) -> Option<String> {
        let url = self.optional_text(field, value, 300)?;
        let lower = url.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("https://")
            .or_else(|| lower.strip_prefix("http://"));
        match rest {
            Some(host)
                if !host.is_empty()
                    && !host.starts_with('/')
                    && !url.contains(char::is_whitespace) => {}
            _ => self.fail(field, "must be an http:// or https:// URL"),
        }
        Some(url)
    }

    /// Normalises and checks an e-mail address (trimmed, lower-cased, RFC 5321 syntax).
    pub fn email(&mut self, field: &str, value: &str) -> String {
        let email = crate::models::user::normalize_email(value);
        if email.len() > 254
            || !email_address::EmailAddress::is_valid(&email)
            || !email
                .rsplit_once('@')
                .is_some_and(|(_, domain)| domain.contains('.'))
        {
            self.fail(field, "must be a valid e-mail address");
        }
        email
    }

    /// Trims, checks (2–80 characters) and lower-cases an industry: industries are compared
    /// exactly, in matching and in filters.
    pub fn industry(&mut self, field: &str, value: &str) -> String {
        self.text(field, value, 2, 80).to_lowercase()
    }

    /// Normalises and checks a tag list: 1–10 distinct tags (see [`normalize_tag`]).
    pub fn tags(&mut self, field: &str, tags: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut bad = false;
        for (i, tag) in tags.iter().enumerate() {
            match normalize_tag(tag) {
                Ok(tag) if !out.contains(&tag) => out.push(tag),
                Ok(_) => {}
                Err(message) => {
                    bad = true;
                    self.fail(&format!("{field}[{i}]"), message);
                }
            }
        }
        // One error per problem: a bad tag is reported as itself, not also as a short list.
        if tags.len() > 10 {
            self.fail(
                field,
                format!("must hold at most 10 tags, not {}", tags.len()),
            );
        } else if out.is_empty() && !bad {
            self.fail(field, "must hold at least one tag");
        }
        out
    }

    /// Checks that an optional time lies in the future; returns it as stored.
    pub fn future(
        &mut self,
        field: &str,
        value: Option<chrono::DateTime<chrono::Utc>>,
        now: chrono::NaiveDateTime,
    ) -> Option<chrono::NaiveDateTime> {
        use chrono::SubsecRound;
        let at = value?.naive_utc().trunc_subsecs(6);
        if at <= now {
            self.fail(field, "must be in the future");
        }
        Some(at)
    }

    /// Ends the checks: 422 with every collected error, if any.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}

/// Trims and lower-cases a tag and checks it is 2–40 characters of `a-z 0-9 -`. Only ASCII
/// letters are lower-cased, so what is accepted is exactly `A-Z a-z 0-9 -` (the Kelvin sign
/// would lower-case to `k`).
pub fn normalize_tag(tag: &str) -> Result<String, &'static str> {
    let tag = tag.trim().to_ascii_lowercase();
    let valid_chars = tag
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if (2..=40).contains(&tag.len()) && valid_chars {
        Ok(tag)
    } else {
        Err("must be 2–40 characters of a-z, 0-9 and -")
    }
}
