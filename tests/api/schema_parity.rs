//! Schema parity: `migrations/sqlite` and `migrations/postgres` must build the same schema.
//! Both trees are applied with the library's own `db::open` (which migrates), each schema
//! is read back from its catalogue and reduced to comparable facts (one line each), and the
//! two fact sets must be equal except for the differences listed in [`ALLOWED`].

mod postgres;
mod sqlite;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

use diesel::{Connection, PgConnection, RunQueryDsl};
use mutua::db::{self, DbConnection};

use crate::helpers::{postgres_url, with_database};

/// Facts about one schema: subject (`table T`, `table T / column C`, ...) → description.
/// Subjects are the same strings on both backends, so a missing or changed fact is a drift.
pub type Facts = BTreeMap<String, String>;

/// Which migration tree a fact comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Sqlite,
    Postgres,
}

/// A difference the two backends are meant to have. `subject` is a fact subject, or a
/// prefix of subjects when it ends in `*`; the fact must exist on `only_in` alone.
struct Allowed {
    subject: &'static str,
    only_in: Side,
    reason: &'static str,
}

/// Every intended difference, with its reason. Anything else that differs fails the test,
/// and so does an entry here that no longer matches a difference.
const ALLOWED: &[Allowed] = &[
    Allowed {
        subject: "table listings_fts",
        only_in: Side::Sqlite,
        reason: "full-text search on SQLite is an FTS5 virtual table the application keeps in step",
    },
    Allowed {
        subject: "table listings_fts / *",
        only_in: Side::Sqlite,
        reason: "the columns of the FTS5 virtual table (untyped, by FTS5's design)",
    },
    Allowed {
        subject: "table listings_fts_*",
        only_in: Side::Sqlite,
        reason:
            "FTS5's own shadow tables (data, idx, content, docsize, config) behind listings_fts",
    },
    Allowed {
        subject: "table search_docs / column doc",
        only_in: Side::Postgres,
        reason: "full-text search on PostgreSQL: the document's weighted tsvector (SQLite keeps it in listings_fts)",
    },
    Allowed {
        subject: "table search_docs / index search_docs_doc",
        only_in: Side::Postgres,
        reason: "the GIN index over that tsvector",
    },
    Allowed {
        subject: "trigger log_leaves_no_truncate",
        only_in: Side::Postgres,
        reason: "SQLite has no TRUNCATE; its DELETE trigger covers every removal",
    },
    Allowed {
        subject: "trigger log_hashes_no_truncate",
        only_in: Side::Postgres,
        reason: "SQLite has no TRUNCATE; its DELETE trigger covers every removal",
    },
];

/// Both migration trees produce the same tables, columns (type family, nullability, primary
/// key, default), indexes, unique, foreign-key and CHECK constraints, views and triggers.
#[test]
#[ignore = "needs TEST_DATABASE_URL"]
fn sqlite_and_postgres_schemas_match() {
    // Panics with how to run it when TEST_DATABASE_URL is unset: the comparison needs both.
    let admin_url = postgres_url();
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite_url = dir.path().join("parity.db").to_string_lossy().into_owned();
    let sqlite_facts = migrated_schema(&sqlite_url);

    let scratch = ScratchDatabase::create(&admin_url);
    let postgres_facts = migrated_schema(&scratch.url);

    for (side, facts) in [("SQLite", &sqlite_facts), ("PostgreSQL", &postgres_facts)] {
        assert!(
            facts.contains_key("table users / column id"),
            "introspection of {side} found no users.id; it is broken: {facts:#?}"
        );
    }
    let report = compare(&sqlite_facts, &postgres_facts, ALLOWED);
    assert!(
        report.is_empty(),
        "schema drift between migrations/sqlite and migrations/postgres \
         (fix with a NEW migration in both trees, or list an intended difference in ALLOWED):\n{report}"
    );
}

/// Migrates a fresh database at `url` with the application's own code and reads its schema.
fn migrated_schema(url: &str) -> Facts {
    let backend = db::Backend::from_url(url).expect("a supported database URL");
    let (pool, applied) = db::open(&backend, 1, Duration::from_secs(10)).expect("database opens");
    assert!(
        !applied.is_empty(),
        "a fresh database is migrated when it is opened"
    );
    let mut conn = pool.get().expect("connection");
    match &mut *conn {
        DbConnection::Sqlite(c) => sqlite::facts(c),
        DbConnection::Pg(c) => postgres::facts(c),
    }
}

/// A PostgreSQL database created for this test and dropped afterwards, even on a panic.
struct ScratchDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    fn create(admin_url: &str) -> ScratchDatabase {
        let name = format!("mutua_parity_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::establish(admin_url).expect("connect to TEST_DATABASE_URL");
        diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .expect("create scratch database");
        ScratchDatabase {
            admin_url: admin_url.to_owned(),
            url: with_database(admin_url, &name),
            name,
        }
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.admin_url) {
            let drop = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
            if let Err(e) = diesel::sql_query(drop).execute(&mut conn) {
                eprintln!("could not drop scratch database {}: {e}", self.name);
            }
        }
    }
}

/// The differences not covered by `allowed`, one block per subject; empty when none.
fn compare(sqlite: &Facts, postgres: &Facts, allowed: &[Allowed]) -> String {
    let subjects: BTreeSet<&String> = sqlite.keys().chain(postgres.keys()).collect();
    let mut used = vec![false; allowed.len()];
    let mut report = String::new();
    for subject in subjects {
        let (s, p) = (sqlite.get(subject), postgres.get(subject));
        if s == p {
            continue;
        }
        let only_in = match (s, p) {
            (Some(_), None) => Some(Side::Sqlite),
            (None, Some(_)) => Some(Side::Postgres),
            _ => None,
        };
        let excuse = allowed
            .iter()
            .position(|a| Some(a.only_in) == only_in && matches(a.subject, subject));
        if let Some(i) = excuse {
            used[i] = true;
            continue;
        }
        let show = |v: Option<&String>| v.map_or("(missing)".to_owned(), Clone::clone);
        let _ = writeln!(
            report,
            "  {subject}\n      sqlite:   {}\n      postgres: {}",
            show(s),
            show(p)
        );
    }
    for (a, used) in allowed.iter().zip(used) {
        if !used {
            let _ = writeln!(
                report,
                "  allowed difference no longer occurs, remove it from ALLOWED: {} only in {:?} ({})",
                a.subject, a.only_in, a.reason
            );
        }
    }
    report
}

fn matches(pattern: &str, subject: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => subject.starts_with(prefix),
        None => pattern == subject,
    }
}

/// The backend-neutral family of a declared SQLite type or a PostgreSQL `udt_name`;
/// widths are folded (SQLite stores every integer in up to 64 bits and its rowid alias must
/// be spelled `INTEGER`). An unknown type shows as itself, so it cannot match by accident.
pub fn type_family(declared: &str) -> String {
    let lower = declared.trim().to_ascii_lowercase();
    let base = lower.split('(').next().unwrap_or("").trim();
    let family = match base {
        "" => "untyped",
        "text" | "varchar" | "character varying" | "char" | "character" | "bpchar" | "clob"
        | "uuid" => "text",
        "integer" | "int" | "bigint" | "smallint" | "tinyint" | "int2" | "int4" | "int8"
        | "serial" | "bigserial" | "smallserial" => "integer",
        "boolean" | "bool" => "boolean",
        "timestamp"
        | "datetime"
        | "timestamptz"
        | "timestamp without time zone"
        | "timestamp with time zone" => "timestamp",
        "real" | "double" | "double precision" | "float" | "float4" | "float8" => "float",
        "blob" | "bytea" => "binary",
        other => return format!("unmapped type {other:?}"),
    };
    family.to_owned()
}

/// An SQL expression (CHECK, partial-index WHERE, default) in a form both catalogues agree
/// on: outside string literals, lower case without whitespace, parentheses or `::type`
/// casts, and PostgreSQL's `= ANY (ARRAY[..])` / `<> ALL (ARRAY[..])` read as `IN` / `NOT IN`.
pub fn normalise_expression(sql: &str) -> String {
    let mut out = String::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                out.push(c);
                while let Some(q) = chars.next() {
                    out.push(q);
                    if q == '\'' {
                        if chars.peek() == Some(&'\'') {
                            out.extend(chars.next());
                        } else {
                            break;
                        }
                    }
                }
            }
            ':' if chars.peek() == Some(&':') => {
                chars.next();
                while chars
                    .peek()
                    .is_some_and(|n| n.is_ascii_alphanumeric() || matches!(n, '_' | '[' | ']'))
                {
                    chars.next();
                }
            }
            '(' | ')' | '[' | ']' => {}
            c if c.is_whitespace() => {}
            c => out.push(c.to_ascii_lowercase()),
        }
    }
    out.replace("=anyarray", "in")
        .replace("<>allarray", "notin")
}
