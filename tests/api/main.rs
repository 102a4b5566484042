//! Integration tests: the real application over HTTP, on SQLite and PostgreSQL.

pub mod helpers;

mod api_keys;
mod auth;
mod cli;
mod conventions;
mod members;
mod orgs;
mod smoke;
