//! Which backend a database URL names, and a form of it that is safe to print.

use std::path::PathBuf;

/// Which backend a database URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file at this path.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string.
    Postgres(String),
}

impl Backend {
    /// Chooses the backend from the URL scheme: `postgres://`/`postgresql://` select
    /// PostgreSQL; `sqlite://PATH`, `sqlite:PATH` or a bare path select SQLite. Any other
    /// scheme (`mysql://`, `file:` …) is refused rather than taken for a file name; the
    /// reason names the scheme only, so no password can reach it.
    pub fn from_url(url: &str) -> Result<Backend, String> {
        let url = url.trim();
        let Some((scheme, rest)) = scheme(url) else {
            return sqlite_path(url);
        };
        match scheme.to_ascii_lowercase().as_str() {
            // libpq reads only the lower-case prefixes.
            "postgres" | "postgresql" => Ok(Backend::Postgres(format!(
                "{}:{rest}",
                scheme.to_ascii_lowercase()
            ))),
            "sqlite" => sqlite_path(rest.strip_prefix("//").unwrap_or(rest)),
            _ => Err(format!(
                "DATABASE_URL uses the unsupported scheme `{scheme}:`; use a postgres:// or \
                 postgresql:// URL for PostgreSQL, or sqlite://PATH or a file path for SQLite"
            )),
        }
    }

    /// A form of the URL safe to print (the password is masked).
    pub fn display_url(&self) -> String {
        match self {
            Backend::Sqlite(path) => format!("sqlite://{}", path.display()),
            Backend::Postgres(url) => mask_password(url),
        }
    }
}

/// The URL scheme and the rest, if the text starts with one (RFC 3986: a letter, then
/// letters, digits, `+`, `-`, `.`, then `:`). A single letter is a Windows drive, not a
/// scheme.
fn scheme(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (valid && scheme.len() > 1).then_some((scheme, rest))
}

fn sqlite_path(path: &str) -> Result<Backend, String> {
    if path.is_empty() {
        return Err("DATABASE_URL names no SQLite file".into());
    }
    Ok(Backend::Sqlite(PathBuf::from(path)))
}

/// The URL with the password of its user information and any `password=` parameter
/// replaced by `***`. A password may hold `@`, so the user information ends at the last
/// `@` before the query.
pub fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (location, query) = match rest.split_once('?') {
        Some((location, query)) => (location, Some(query)),
        None => (rest, None),
    };
    let location = match location.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => location.to_owned(),
    };
    let mut masked = format!("{scheme}://{location}");
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => param.to_owned(),
            })
            .collect();
        masked.push('?');
        masked.push_str(&params.join("&"));
    }
    masked
}

#[cfg(test)]
mod tests {
    use crate::db::url::*;

    #[test]
    fn chooses_the_backend_from_the_scheme() {
        let pg = "postgres://u:pw@db.example:5432/mutua?sslmode=disable";
        assert_eq!(Backend::from_url(pg), Ok(Backend::Postgres(pg.into())));
        assert_eq!(
            Backend::from_url("PostgreSQL://db.example/mutua"),
            Ok(Backend::Postgres("postgresql://db.example/mutua".into()))
        );
        for (url, path) in [
            ("sqlite://data/mutua.db", "data/mutua.db"),
            ("sqlite:///var/lib/mutua.db", "/var/lib/mutua.db"),
            ("sqlite:data/mutua.db", "data/mutua.db"),
            ("./data/mutua.db", "./data/mutua.db"),
            ("/var/lib/mutua.db", "/var/lib/mutua.db"),
            ("mutua.db", "mutua.db"),
            ("C:\\mutua\\mutua.db", "C:\\mutua\\mutua.db"),
        ] {
            assert_eq!(
                Backend::from_url(url),
                Ok(Backend::Sqlite(PathBuf::from(path))),
                "{url}"
            );
        }
    }

    #[test]
    fn refuses_other_schemes_without_echoing_the_url() {
        for url in [
            "mysql://u:secret@h/db",
            "mariadb://u:secret@h/db",
            "file:secret.db",
            "http://u:secret@h/db",
            "postgres+tls://u:secret@h/db",
        ] {
            let reason = Backend::from_url(url).unwrap_err();
            assert!(reason.contains("unsupported scheme"), "{reason}");
            assert!(!reason.contains("secret"), "{reason}");
            assert_eq!(reason.lines().count(), 1);
        }
        assert!(Backend::from_url("sqlite://").is_err());
        assert!(Backend::from_url("").is_err());
    }

    #[test]
    fn masks_every_password() {
        assert_eq!(
            mask_password("postgres://u:secret@h:5432/db?sslmode=disable"),
            "postgres://u:***@h:5432/db?sslmode=disable"
        );
        assert_eq!(
            mask_password("postgres://u:se@cr@et@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(
            mask_password("postgres://h/db?user=u&password=secret&sslmode=require"),
            "postgres://h/db?user=u&password=***&sslmode=require"
        );
        assert_eq!(mask_password("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            Backend::from_url("postgresql://:secret@h/db")
                .unwrap()
                .display_url(),
            "postgresql://:***@h/db"
        );
    }
}
