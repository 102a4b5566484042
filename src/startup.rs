//! Builds the application: state, pool, routes, middleware, and the HTTP server. Tests use
//! this too, binding port 0 and reading back the port.

use std::net::TcpListener;
use std::sync::Arc;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::error::{PathError, QueryPayloadError};
use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::app::AppState;
use crate::auth::hasher::Hasher;
use crate::auth::tokens::TokenSigner;
use crate::catalogue_cache::CatalogueCache;
use crate::db::{self, Pool};
use crate::error::ApiError;
use crate::http::bulkhead::{Bulkhead, Bulkheads};
use crate::http::{conditional, control_chars, problems, rate_limit};
use crate::metrics::Metrics;
use crate::models::api_key::KeyUsage;
use crate::routes::{self, openapi_document};
use crate::settings::{secret_bytes, Capacity, Settings};
use crate::telemetry;
use crate::transparency::signing::{self, LogSigner};

/// A built server, bound and ready to run.
pub struct Application {
    port: u16,
    server: Server,
    pool: Pool,
    key_usage: Arc<KeyUsage>,
    bulkheads: Bulkheads,
}

impl Application {
    /// Connects to the database, applies migrations and binds the listener.
    pub async fn build(settings: Settings) -> Result<Application, String> {
        let backend = settings.backend()?;
        let (size, timeout) = (settings.db_pool_size, settings.db_timeout);
        let capacity = settings.capacity.clone();
        let key = settings.log_signing_key.clone();
        let (origin, data_dir) = (settings.log_origin.clone(), settings.data_dir.clone());
        let (pool, log_signer) = web::block(move || -> Result<(Pool, LogSigner), String> {
            let (pool, applied) = db::open(&backend, size, timeout)?;
            let pool = pool.with_capacity(
                capacity.breaker_threshold,
                capacity.breaker_open,
                capacity.db_in_flight,
            );
            if !applied.is_empty() {
                tracing::info!(migrations = ?applied, "applied migrations");
            }
            let mut conn = pool
                .get()
                .map_err(|e| format!("cannot open database connection: {e}"))?;
            let indexed = crate::models::listing::derived::index_missing(&mut conn)
                .map_err(|e| format!("cannot build the search index: {e}"))?;
            if indexed > 0 {
                tracing::info!(listings = indexed, "wrote missing search documents");
            }
            crate::jobs::ensure_rows(&mut conn)
                .map_err(|e| format!("cannot register the periodic jobs: {e}"))?;
            let signer = signing::resolve(key.as_ref(), &origin, &data_dir, &mut conn)?;
            tracing::info!(verifier_key = signer.verifier_key(), "transparency log key");
            Ok((pool, signer))
        })
        .await
        .map_err(|e| format!("start-up task failed: {e}"))??;
        let listener = TcpListener::bind(&settings.bind)
            .map_err(|e| format!("cannot bind {}: {e}", settings.bind))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let key_usage = Arc::new(KeyUsage::default());
        let bulkheads = bulkheads(&settings.capacity);
        let server = serve(
            listener,
            pool.clone(),
            settings,
            key_usage.clone(),
            log_signer,
            bulkheads.clone(),
        )?;
        Ok(Application {
            port,
            server,
            pool,
            key_usage,
            bulkheads,
        })
    }

    /// The bound port (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The database pool the server uses.
    pub fn pool(&self) -> Pool {
        self.pool.clone()
    }

    /// The server's bulkheads: clones share their slots with the running server (tests
    /// hold a slot to see what a full bulkhead answers).
    pub fn bulkheads(&self) -> Bulkheads {
        self.bulkheads.clone()
    }

    /// Serves until SIGINT/SIGTERM, letting in-flight requests finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        // The last recorded API-key uses.
        let usage = self.key_usage;
        if let Err(e) = db::run(&self.pool, move |conn| Ok(usage.flush(conn)?)).await {
            tracing::warn!(error = %e, "could not record API key uses");
        }
        served
    }

    /// The server handle (to stop it from tests).
    pub fn server(self) -> Server {
        self.server
    }
}

fn route_table(api: &utoipa::openapi::OpenApi) -> Vec<(Vec<String>, Vec<Method>)> {
    api.paths
        .paths
        .iter()
        .map(|(path, item)| {
            let segments = path.split('/').map(str::to_owned).collect();
            let json = serde_json::to_value(item).unwrap_or_default();
            let methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
                .iter()
                .filter(|m| json.get(m.to_lowercase()).is_some())
                .filter_map(|m| Method::from_bytes(m.as_bytes()).ok())
                .collect();
            (segments, methods)
        })
        .collect()
}

/// Writes recorded API-key uses every [`KeyUsage::FLUSH_EVERY`] for as long as the
/// server's runtime lives.
fn spawn_key_usage_writer(pool: Pool, usage: Arc<KeyUsage>) {
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(KeyUsage::FLUSH_EVERY);
        loop {
            tick.tick().await;
            let usage = usage.clone();
            let written = db::run(&pool, move |conn| Ok(usage.flush(conn)?)).await;
            if let Err(e) = written {
                tracing::warn!(error = %e, "could not record API key uses");
            }
        }
    });
}

fn serve(
    listener: TcpListener,
    pool: Pool,
    settings: Settings,
    key_usage: Arc<KeyUsage>,
    log_signer: LogSigner,
    bulkheads: Bulkheads,
) -> Result<Server, String> {
    let api = openapi_document();
    let state = web::Data::new(AppState {
        pool,
        signer: TokenSigner::new(
            secret_bytes(&settings.jwt_secret),
            settings.access_token_ttl.as_secs() as i64,
        ),
        metrics: Metrics::new().map_err(|e| format!("cannot register metrics: {e}"))?,
        route_table: route_table(&api),
        settings: settings.clone(),
        key_usage,
        catalogue_cache: Arc::new(CatalogueCache::new(settings.search_cache_size)),
        log_signer,
        leases: Default::default(),
        bulkheads,
        hasher: Hasher::new(
            settings.capacity.hashing_in_flight,
            settings.capacity.hashing_wait,
        ),
    });
    let api = Arc::new(api);
    spawn_key_usage_writer(state.pool.clone(), state.key_usage.clone());
    if settings.jobs {
        let runner = crate::jobs::runner_name();
        crate::jobs::spawn(
            state.pool.clone(),
            runner.clone(),
            crate::jobs::JobSettings::of(&settings),
            settings.jobs_tick,
        );
        let deliverer =
            crate::webhooks::Deliverer::new(state.pool.clone(), runner, settings.webhooks.clone())?;
        crate::webhooks::spawn(deliverer);
    }
    let cors_origins = settings.cors_origins.clone();
    let mut server = HttpServer::new(move || {
        let (app, _) = routes::mount(App::new().into_utoipa_app()).split_for_parts();
        app.app_data(state.clone())
            .app_data(web::QueryConfig::default().error_handler(query_error))
            .app_data(web::PathConfig::default().error_handler(path_error))
            .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", (*api).clone()))
            .route("/docs", web::get().to(docs_redirect))
            .default_service(web::to(fallback))
            .wrap(from_fn(rate_limit::enforce))
            .wrap(from_fn(control_chars::refuse_in_query))
            .wrap(from_fn(conditional::serve))
            .wrap(cors(&cors_origins))
            .wrap(from_fn(problems::complete))
            .wrap(from_fn(telemetry::observe))
    })
    .shutdown_timeout(settings.shutdown_timeout.as_secs())
    .listen(listener)
    .map_err(|e| format!("cannot listen: {e}"))?;
    if settings.workers > 0 {
        server = server.workers(settings.workers);
    }
    Ok(server.run())
}

fn bulkheads(capacity: &Capacity) -> Bulkheads {
    Bulkheads {
        search: Bulkhead::new(
            "searches",
            capacity.search_in_flight,
            capacity.bulkhead_wait,
        ),
        matches: Bulkhead::new(
            "matches requests",
            capacity.matches_in_flight,
            capacity.bulkhead_wait,
        ),
    }
}

fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(crate::http::problems::CORS_METHODS)
        .allowed_headers(crate::http::problems::CORS_REQUEST_HEADERS)
        .expose_headers([
            "etag",
            "location",
            "retry-after",
            "ratelimit",
            "ratelimit-policy",
            "x-request-id",
            "idempotent-replayed",
        ])
        .max_age(3600);
    for origin in origins {
        cors = if origin == "*" {
            cors.allow_any_origin()
        } else {
            cors.allowed_origin(origin)
        };
    }
    cors
}

async fn docs_redirect() -> HttpResponse {
    HttpResponse::MovedPermanently()
        .insert_header(("Location", "/docs/"))
        .finish()
}

/// Unmatched requests: 405 with `Allow` when the path exists for other methods, else 404.
async fn fallback(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let segments: Vec<&str> = req.path().split('/').collect();
    let allowed: Vec<&Method> = state
        .route_table
        .iter()
        .filter(|(template, _)| {
            template.len() == segments.len()
                && template
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()))
        })
        .flat_map(|(_, methods)| methods)
        .collect();
    if allowed.is_empty() {
        Err(ApiError::NotFound(format!(
            "no route for {} {}",
            req.method(),
            req.path()
        )))
    } else {
        let allow: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
        Err(ApiError::MethodNotAllowed {
            method: req.method().to_string(),
            allow: allow.join(", "),
        })
    }
}

fn query_error(err: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    let words = match &err {
        QueryPayloadError::Deserialize(e) => crate::http::wording::describe(&e.to_string()),
        _ => "cannot be read".to_owned(),
    };
    ApiError::BadRequest(format!("the query string {words}")).into()
}

/// Every path parameter of this API is a UUID: the 400 names the one that is not.
fn path_error(_: PathError, req: &HttpRequest) -> actix_web::Error {
    let bad = req
        .match_info()
        .iter()
        .find(|(_, value)| uuid::Uuid::parse_str(value).is_err());
    match bad {
        Some((name, value)) => ApiError::BadRequest(format!(
            "path parameter `{name}` must be a UUID, not {value:?}"
        )),
        None => ApiError::BadRequest("a path parameter has a value of the wrong form".into()),
    }
    .into()
}
