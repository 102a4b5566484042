//! The application state every handler and extractor can reach. It imports no route: only
//! the router (`routes`) knows the handlers, and only `startup` builds this state.

use std::sync::Arc;

use actix_web::http::Method;

use crate::auth::hasher::Hasher;
use crate::auth::tokens::TokenSigner;
use crate::catalogue_cache::CatalogueCache;
use crate::db::Pool;
use crate::http::bulkhead::Bulkheads;
use crate::metrics::Metrics;
use crate::models::api_key::KeyUsage;
use crate::quota::Leases;
use crate::settings::Settings;
use crate::transparency::signing::LogSigner;

/// What every handler can reach.
pub struct AppState {
    pub pool: Pool,
    pub settings: Settings,
    pub signer: TokenSigner,
    pub metrics: Metrics,
    /// Path templates and their methods, to tell 404 from 405 for unmatched requests.
    pub route_table: Vec<(Vec<String>, Vec<Method>)>,
    /// API-key uses waiting to be written.
    pub key_usage: Arc<KeyUsage>,
    /// Recent public catalogue searches.
    pub catalogue_cache: Arc<CatalogueCache>,
    /// Signs the transparency log's checkpoints (the same key on every instance).
    pub log_signer: LogSigner,
    /// This instance's leases on callers' rate-limit quotas.
    pub leases: Leases,
    /// Bounds on the expensive request classes (searches, matches).
    pub bulkheads: Bulkheads,
    /// Runs password hashes on their own threads, a bounded number at a time.
    pub hasher: Hasher,
}
