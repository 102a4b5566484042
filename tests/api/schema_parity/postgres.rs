//! Schema facts from PostgreSQL's catalogue (`information_schema`, `pg_catalog`), public
//! schema only.

use diesel::sql_types::{Bool, Integer, Nullable, Text};
use diesel::{PgConnection, QueryableByName, RunQueryDsl};

use super::{normalise_expression, type_family, Facts};

/// Every relation of the public schema except diesel's bookkeeping.
const PUBLIC: &str = "n.nspname = 'public' AND t.relname <> '__diesel_schema_migrations'";

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    udt_name: String,
    #[diesel(sql_type = Bool)]
    nullable: bool,
    #[diesel(sql_type = Nullable<Text>)]
    column_default: Option<String>,
    #[diesel(sql_type = Nullable<Integer>)]
    pk_position: Option<i32>,
    #[diesel(sql_type = Bool)]
    generated: bool,
}

#[derive(QueryableByName)]
struct Index {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    index_name: String,
    #[diesel(sql_type = Text)]
    method: String,
    #[diesel(sql_type = Bool)]
    is_unique: bool,
    #[diesel(sql_type = Nullable<Text>)]
    predicate: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    constraint_type: Option<String>,
    #[diesel(sql_type = Text)]
    columns: String,
}

#[derive(QueryableByName)]
struct ForeignKey {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    columns: String,
    #[diesel(sql_type = Text)]
    target: String,
    #[diesel(sql_type = Text)]
    target_columns: String,
    #[diesel(sql_type = Text)]
    on_delete: String,
    #[diesel(sql_type = Text)]
    on_update: String,
}

#[derive(QueryableByName)]
struct Named {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    name: String,
}

/// Every fact about the migrated PostgreSQL schema.
pub fn facts(conn: &mut PgConnection) -> Facts {
    let mut facts = Facts::new();
    let tables: Vec<Named> = load(
        conn,
        "SELECT t.relname::text AS table_name, t.relname::text AS name FROM pg_class t \
         JOIN pg_namespace n ON n.oid = t.relnamespace WHERE t.relkind IN ('r', 'p') AND ",
    );
    for t in tables {
        facts.insert(format!("table {}", t.name), "table".into());
    }
    columns(conn, &mut facts);
    indexes(conn, &mut facts);
    foreign_keys(conn, &mut facts);
    let checks: Vec<Named> = load(
        conn,
        "SELECT t.relname::text AS table_name, pg_get_constraintdef(c.oid) AS name \
         FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace WHERE c.contype = 'c' AND ",
    );
    for c in checks {
        let expression = c.name.strip_prefix("CHECK ").unwrap_or(&c.name);
        facts.insert(
            format!(
                "table {} / check {}",
                c.table_name,
                normalise_expression(expression)
            ),
            "check".into(),
        );
    }
    let triggers: Vec<Named> = load(
        conn,
        "SELECT t.relname::text AS table_name, g.tgname::text AS name FROM pg_trigger g \
         JOIN pg_class t ON t.oid = g.tgrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE NOT g.tgisinternal AND ",
    );
    for g in triggers {
        facts.insert(
            format!("trigger {}", g.name),
            format!("trigger on {}", g.table_name),
        );
    }
    let views: Vec<Named> = load(
        conn,
        "SELECT t.relname::text AS table_name, t.relname::text AS name FROM pg_class t \
         JOIN pg_namespace n ON n.oid = t.relnamespace WHERE t.relkind IN ('v', 'm') AND ",
    );
    for v in views {
        facts.insert(format!("view {}", v.name), "view".into());
    }
    facts
}

/// Runs `select` (which ends in `AND `) restricted to the public schema.
fn load<T: QueryableByName<diesel::pg::Pg> + 'static>(
    conn: &mut PgConnection,
    select: &str,
) -> Vec<T> {
    diesel::sql_query(format!("{select}{PUBLIC}"))
        .load(conn)
        .unwrap_or_else(|e| panic!("catalogue query failed: {e}\n{select}"))
}

fn columns(conn: &mut PgConnection, facts: &mut Facts) {
    let columns: Vec<Column> = load(
        conn,
        "SELECT c.table_name::text AS table_name, c.column_name::text AS column_name, \
         c.udt_name::text AS udt_name, c.is_nullable = 'YES' AS nullable, \
         c.column_default::text AS column_default, c.is_generated = 'ALWAYS' AS generated, \
         (SELECT k.ord::int4 FROM pg_index i, unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord) \
          WHERE i.indrelid = t.oid AND i.indisprimary AND k.attnum = a.attnum) AS pk_position \
         FROM information_schema.columns c \
         JOIN pg_namespace n ON n.nspname = c.table_schema \
         JOIN pg_class t ON t.relname = c.table_name AND t.relnamespace = n.oid \
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attname = c.column_name \
         WHERE ",
    );
    for c in columns {
        let mut value = type_family(&c.udt_name);
        value.push_str(if c.nullable { " null" } else { " not null" });
        if let Some(position) = c.pk_position {
            value.push_str(&format!(", primary key #{position}"));
        }
        if let Some(default) = c.column_default.filter(|_| !c.generated) {
            value.push_str(&format!(", default {}", normalise_expression(&default)));
        }
        if c.generated {
            value.push_str(", generated");
        }
        facts.insert(
            format!("table {} / column {}", c.table_name, c.column_name),
            value,
        );
    }
}

fn indexes(conn: &mut PgConnection, facts: &mut Facts) {
    let indexes: Vec<Index> = load(
        conn,
        "SELECT t.relname::text AS table_name, ic.relname::text AS index_name, \
         am.amname::text AS method, i.indisunique AS is_unique, \
         pg_get_expr(i.indpred, i.indrelid) AS predicate, con.contype::text AS constraint_type, \
         (SELECT string_agg(pg_get_indexdef(i.indexrelid, k, true) \
                 || CASE WHEN i.indoption[k - 1] & 1 = 1 THEN ' desc' ELSE '' END, ', ' ORDER BY k) \
          FROM generate_series(1, i.indnkeyatts::int4) k) AS columns \
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid \
         JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
         JOIN pg_am am ON am.oid = ic.relam \
         LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.contype IN ('p', 'u') \
         WHERE ",
    );
    for index in indexes {
        let (t, columns) = (&index.table_name, &index.columns);
        match index.constraint_type.as_deref() {
            // The primary key is a column fact.
            Some("p") => {}
            Some(_) => {
                facts.insert(
                    format!("table {t} / unique ({columns})"),
                    "unique constraint".into(),
                );
            }
            None => {
                let mut value = format!("{} ({columns})", index.method);
                if index.is_unique {
                    value.push_str(" unique");
                }
                if let Some(predicate) = &index.predicate {
                    value.push_str(&format!(" where {}", normalise_expression(predicate)));
                }
                facts.insert(format!("table {t} / index {}", index.index_name), value);
            }
        }
    }
}

fn foreign_keys(conn: &mut PgConnection, facts: &mut Facts) {
    let keys: Vec<ForeignKey> = load(
        conn,
        "SELECT t.relname::text AS table_name, r.relname::text AS target, \
         (SELECT string_agg(a.attname::text, ', ' ORDER BY k.ord) \
          FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord) \
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS columns, \
         (SELECT string_agg(a.attname::text, ', ' ORDER BY k.ord) \
          FROM unnest(c.confkey) WITH ORDINALITY k(attnum, ord) \
          JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum) AS target_columns, \
         c.confdeltype::text AS on_delete, c.confupdtype::text AS on_update \
         FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
         JOIN pg_class r ON r.oid = c.confrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE c.contype = 'f' AND ",
    );
    for k in keys {
        facts.insert(
            format!("table {} / foreign key ({})", k.table_name, k.columns),
            format!(
                "references {} ({}) on delete {} on update {}",
                k.target,
                k.target_columns,
                action(&k.on_delete),
                action(&k.on_update)
            ),
        );
    }
}

/// `pg_constraint.confdeltype` / `confupdtype` in SQLite's words.
fn action(code: &str) -> &'static str {
    match code {
        "a" => "no action",
        "r" => "restrict",
        "c" => "cascade",
        "n" => "set null",
        "d" => "set default",
        other => panic!("unknown foreign-key action {other:?}"),
    }
}
