//! Raw SQL conditions with numbered parameters, for the few queries diesel's DSL cannot
//! express under `MultiConnection` (grouping a dynamically filtered query, boxed
//! subqueries). Values are always bound, never spliced into the text.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text, Timestamp};

use super::{DbConnection, MultiBackend};

/// A bound value.
#[derive(Debug, Clone)]
pub enum Param {
    Text(String),
    Bool(bool),
    Time(NaiveDateTime),
}

/// A WHERE clause with its parameters, numbered `$1…` in order of appearance (which both
/// PostgreSQL and SQLite bind positionally).
#[derive(Debug, Default)]
pub struct Conditions {
    pub clauses: Vec<String>,
    params: Vec<Param>,
}

impl Conditions {
    /// Adds a bound value and returns its placeholder.
    pub fn param(&mut self, value: Param) -> String {
        self.params.push(value);
        format!("${}", self.params.len())
    }

    /// Adds a clause whose `?` is one bound text value.
    pub fn text(&mut self, template: &str, value: &str) {
        let p = self.param(Param::Text(value.to_owned()));
        self.clauses.push(template.replace('?', &p));
    }

    /// The clauses joined with AND.
    pub fn sql(&self) -> String {
        self.clauses.join(" AND ")
    }

    /// Runs a statement built around these conditions with their values bound.
    pub fn run<T: QueryableByName<MultiBackend> + 'static>(
        &self,
        conn: &mut DbConnection,
        sql: String,
    ) -> QueryResult<Vec<T>> {
        let mut query = diesel::sql_query(sql).into_boxed::<MultiBackend>();
        for param in &self.params {
            query = match param.clone() {
                Param::Text(v) => query.bind::<Text, _>(v),
                Param::Bool(v) => query.bind::<Bool, _>(v),
                Param::Time(v) => query.bind::<Timestamp, _>(v),
            };
        }
        query.load(conn)
    }
}
