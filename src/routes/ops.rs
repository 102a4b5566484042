//! Operational endpoints outside `/api/v1`: liveness, readiness, metrics.

use actix_web::{get, web, HttpResponse};
use diesel::r2d2::R2D2Connection;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::db;
use crate::error::{ApiError, ApiResult, Problem};

/// Routes of this module.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(healthz).service(readyz).service(metrics);
}

/// A health answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// Liveness: the process answers.
#[utoipa::path(tag = "ops", responses((status = 200, description = "Alive", body = Health)))]
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
    })
}

/// Readiness: the database answers a query.
///
/// While the database is known to be down (the circuit breaker is open) the answer is 503
/// at once, without waiting for a connection; after the breaker's window a readiness check
/// may itself be the probe that finds the database back.
#[utoipa::path(
    tag = "ops",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Database unreachable (answered at once while it is known to be down)", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    db::run(&state.pool, |conn| {
        conn.ping().map_err(|e| {
            tracing::warn!(error = %e, "readiness check: the database does not answer");
            ApiError::Unavailable("the database does not answer".into())
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(Health {
        status: "ok".into(),
    }))
}

/// Prometheus metrics: request counts and latency histograms by route and status.
#[utoipa::path(tag = "ops", responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
#[get("/metrics")]
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}
