//! Schema facts from SQLite's catalogue: `sqlite_master` and the `pragma_*` table functions.

use diesel::sql_types::{Integer, Nullable, Text};
use diesel::{QueryableByName, RunQueryDsl, SqliteConnection};

use super::{normalise_expression, type_family, Facts};

#[derive(QueryableByName)]
struct Table {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Nullable<Text>)]
    sql: Option<String>,
}

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    declared: String,
    #[diesel(sql_type = Integer)]
    not_null: i32,
    #[diesel(sql_type = Nullable<Text>)]
    dflt_value: Option<String>,
    #[diesel(sql_type = Integer)]
    pk: i32,
    #[diesel(sql_type = Integer)]
    hidden: i32,
}

#[derive(QueryableByName)]
struct Index {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Integer)]
    is_unique: i32,
    #[diesel(sql_type = Text)]
    origin: String,
    #[diesel(sql_type = Integer)]
    partial: i32,
}

#[derive(QueryableByName)]
struct IndexColumn {
    #[diesel(sql_type = Nullable<Text>)]
    name: Option<String>,
    #[diesel(sql_type = Integer)]
    descending: i32,
}

#[derive(QueryableByName)]
struct ForeignKey {
    #[diesel(sql_type = Integer)]
    id: i32,
    #[diesel(sql_type = Text)]
    target: String,
    #[diesel(sql_type = Text)]
    source: String,
    #[diesel(sql_type = Nullable<Text>)]
    target_column: Option<String>,
    #[diesel(sql_type = Text)]
    on_update: String,
    #[diesel(sql_type = Text)]
    on_delete: String,
}

#[derive(QueryableByName)]
struct Object {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    tbl_name: String,
}

/// Every fact about the migrated SQLite schema.
pub fn facts(conn: &mut SqliteConnection) -> Facts {
    let mut facts = Facts::new();
    let tables: Vec<Table> = diesel::sql_query(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> '__diesel_schema_migrations' \
         ORDER BY name",
    )
    .load(conn)
    .expect("sqlite_master");
    for table in &tables {
        let t = &table.name;
        facts.insert(format!("table {t}"), "table".into());
        columns(conn, t, &mut facts);
        indexes(conn, t, &mut facts);
        foreign_keys(conn, t, &mut facts);
        for check in checks(table.sql.as_deref().unwrap_or("")) {
            facts.insert(
                format!("table {t} / check {}", normalise_expression(&check)),
                "check".into(),
            );
        }
    }
    let objects: Vec<Object> = diesel::sql_query(
        "SELECT type AS kind, name, tbl_name FROM sqlite_master \
         WHERE type IN ('view', 'trigger') ORDER BY name",
    )
    .load(conn)
    .expect("views and triggers");
    for o in objects {
        let value = match o.kind.as_str() {
            "trigger" => format!("trigger on {}", o.tbl_name),
            _ => "view".to_owned(),
        };
        facts.insert(format!("{} {}", o.kind, o.name), value);
    }
    facts
}

fn columns(conn: &mut SqliteConnection, table: &str, facts: &mut Facts) {
    // table_xinfo shows generated columns too; hidden = 1 are a virtual table's own columns.
    let columns: Vec<Column> = diesel::sql_query(
        "SELECT name, type AS declared, \"notnull\" AS not_null, dflt_value, pk, hidden \
         FROM pragma_table_xinfo(?) WHERE hidden <> 1",
    )
    .bind::<Text, _>(table)
    .load(conn)
    .expect("pragma_table_xinfo");
    for c in columns {
        let mut value = type_family(&c.declared);
        value.push_str(if c.not_null != 0 {
            " not null"
        } else {
            " null"
        });
        if c.pk > 0 {
            value.push_str(&format!(", primary key #{}", c.pk));
        }
        if let Some(default) = c.dflt_value {
            value.push_str(&format!(", default {}", normalise_expression(&default)));
        }
        if c.hidden > 1 {
            value.push_str(", generated");
        }
        facts.insert(format!("table {table} / column {}", c.name), value);
    }
}

fn indexes(conn: &mut SqliteConnection, table: &str, facts: &mut Facts) {
    let indexes: Vec<Index> = diesel::sql_query(
        "SELECT name, \"unique\" AS is_unique, origin, partial FROM pragma_index_list(?)",
    )
    .bind::<Text, _>(table)
    .load(conn)
    .expect("pragma_index_list");
    for index in indexes {
        let columns: Vec<IndexColumn> = diesel::sql_query(
            "SELECT name, \"desc\" AS descending FROM pragma_index_xinfo(?) \
             WHERE key = 1 ORDER BY seqno",
        )
        .bind::<Text, _>(&index.name)
        .load(conn)
        .expect("pragma_index_xinfo");
        let columns = columns
            .iter()
            .map(|c| {
                let name = c.name.as_deref().unwrap_or("<expression>");
                if c.descending != 0 {
                    format!("{name} desc")
                } else {
                    name.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        match index.origin.as_str() {
            // The primary key is a column fact; an INTEGER PRIMARY KEY has no index at all.
            "pk" => {}
            "u" => {
                facts.insert(
                    format!("table {table} / unique ({columns})"),
                    "unique constraint".into(),
                );
            }
            _ => {
                let mut value = format!("btree ({columns})");
                if index.is_unique != 0 {
                    value.push_str(" unique");
                }
                if index.partial != 0 {
                    let predicate = partial_predicate(conn, &index.name);
                    value.push_str(&format!(" where {}", normalise_expression(&predicate)));
                }
                facts.insert(format!("table {table} / index {}", index.name), value);
            }
        }
    }
}

/// The WHERE clause of a partial index, from its CREATE INDEX text.
fn partial_predicate(conn: &mut SqliteConnection, index: &str) -> String {
    let sql: Vec<Table> =
        diesel::sql_query("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name = ?")
            .bind::<Text, _>(index)
            .load(conn)
            .expect("index sql");
    let sql = sql.into_iter().find_map(|t| t.sql).unwrap_or_default();
    let at = sql
        .to_ascii_lowercase()
        .rfind(" where ")
        .unwrap_or_else(|| panic!("partial index {index} without WHERE: {sql}"));
    sql[at + " where ".len()..].to_owned()
}

fn foreign_keys(conn: &mut SqliteConnection, table: &str, facts: &mut Facts) {
    let rows: Vec<ForeignKey> = diesel::sql_query(
        "SELECT id, \"table\" AS target, \"from\" AS source, \"to\" AS target_column, \
         on_update, on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq",
    )
    .bind::<Text, _>(table)
    .load(conn)
    .expect("pragma_foreign_key_list");
    let mut ids: Vec<i32> = rows.iter().map(|r| r.id).collect();
    ids.dedup();
    for id in ids {
        let parts: Vec<&ForeignKey> = rows.iter().filter(|r| r.id == id).collect();
        let join =
            |f: fn(&ForeignKey) -> &str| parts.iter().map(|r| f(r)).collect::<Vec<_>>().join(", ");
        let first = parts[0];
        facts.insert(
            format!("table {table} / foreign key ({})", join(|r| &r.source)),
            format!(
                "references {} ({}) on delete {} on update {}",
                first.target,
                join(|r| r.target_column.as_deref().unwrap_or("<primary key>")),
                first.on_delete.to_ascii_lowercase(),
                first.on_update.to_ascii_lowercase()
            ),
        );
    }
}

/// The expressions of the CHECK constraints in a CREATE TABLE statement.
fn checks(sql: &str) -> Vec<String> {
    let bytes = sql.as_bytes();
    let lower = sql.to_ascii_lowercase();
    let mut found = Vec::new();
    let (mut i, mut quote) = (0, None::<u8>);
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None if lower[i..].starts_with("check")
                && (i == 0 || !is_word(bytes[i - 1]))
                && !bytes.get(i + 5).copied().is_some_and(is_word) =>
            {
                let open = i + 5 + lower[i + 5..].find('(').expect("CHECK (");
                let close = matching_paren(bytes, open);
                found.push(sql[open + 1..close].to_owned());
                i = close;
            }
            None => {}
        }
        i += 1;
    }
    found
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn matching_paren(bytes: &[u8], open: usize) -> usize {
    let (mut depth, mut quote) = (0usize, None::<u8>);
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None if b == b'(' => depth += 1,
            None if b == b')' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            None => {}
        }
    }
    panic!("unbalanced CHECK in {}", String::from_utf8_lossy(bytes))
}
