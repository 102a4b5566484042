//! Integration tests: the real application over HTTP, on SQLite and PostgreSQL.

pub mod helpers;

mod agreement_log;
mod agreements_rules;
mod api_keys;
mod auth;
mod capacity;
mod catalogue;
mod catalogue_cache;
mod catalogue_views;
mod cli;
mod conventions;
mod deals;
mod deals_concurrency;
mod events;
mod idempotency;
mod input_hygiene;
mod jobs;
mod listings;
mod login_lockout;
mod market;
mod matching;
mod members;
mod moderation;
mod negotiation;
mod orgs;
mod postings;
mod pressure;
mod proposals_rules;
mod rate_limits;
mod schema_parity;
mod search_bounds;
mod seeding;
mod smoke;
mod transparency;
mod transparency_verify;
mod webhooks;
