//! Integration tests: the real application over HTTP, on SQLite and PostgreSQL.

pub mod helpers;

mod smoke;
