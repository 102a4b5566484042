//! Mutua: a REST API for a partnership and knowledge-sharing marketplace.
//!
//! `main.rs` only calls [`cli::run`]; everything a test needs (settings, the pool, the
//! application) is reachable from here.

pub mod app;
pub mod auth;
pub mod catalogue_cache;
pub mod cli;
pub mod db;
pub mod error;
pub mod http;
pub mod jobs;
pub mod matching;
pub mod metrics;
pub mod models;
pub mod moderation;
pub mod openapi;
pub mod quota;
pub mod routes;
pub mod search;
pub mod seed;
pub mod settings;
pub mod startup;
pub mod telemetry;
pub mod transparency;
pub mod webhooks;
