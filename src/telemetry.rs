//! Logging and request ids, and the middleware that records each request's metrics.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage};
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::app::AppState;
use crate::settings::LogFormat;

/// The request-id header, accepted from clients and echoed on every response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Installs the global subscriber (`RUST_LOG` filters; default `info`). Safe to call twice.
/// Lines go to standard output; `pretty` ones are coloured only when that is a terminal and
/// `NO_COLOR` is unset, so a pipe or a log file gets no escape codes.
pub fn init(format: LogFormat) {
    let filter = || {
        EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn"))
    };
    let _ = match format {
        LogFormat::Pretty => tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_target(false)
            .with_ansi(colours(std::io::stdout().is_terminal()))
            .try_init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_ansi(false)
            .with_env_filter(filter())
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

/// The id of the request being served, as echoed in `X-Request-Id`.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Whether log lines to a writer that is (or is not) a terminal get colours: no-color.org
/// asks for none when `NO_COLOR` is set to anything but the empty string.
fn colours(terminal: bool) -> bool {
    terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A duration in milliseconds rounded to the microsecond, for log fields: a nanosecond
/// count's float (`0.047382999999999995`) is noise to a reader and to a log index.
pub fn millis(elapsed: Duration) -> f64 {
    let micros = (elapsed.as_nanos() + 500) / 1000;
    // Exact up to 2^53 µs (285 years); the division then gives at most three decimals.
    micros as f64 / 1000.0
}

fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Middleware: a span with the request id around the whole request (so every log line
/// carries it), the id echoed in `X-Request-Id`, one completion line, and metrics.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = request_id(&req);
    // Inner layers (the problem documents' `request_id`) read it from here.
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.path());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let started = Instant::now();
    let mut response = next.call(req).instrument(span.clone()).await?;
    let elapsed = started.elapsed();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    let status = response.status().as_u16();
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    let method = response.request().method().as_str().to_owned();
    if let Some(state) = state {
        state
            .metrics
            .observe(&method, &route, status, elapsed.as_secs_f64());
    }
    span.in_scope(|| {
        tracing::info!(status, latency_ms = millis(elapsed), route = %route, "request completed")
    });
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_are_rounded_to_the_microsecond() {
        assert_eq!(millis(Duration::from_nanos(47_383)).to_string(), "0.047");
        assert_eq!(millis(Duration::from_nanos(47_500)).to_string(), "0.048");
        assert_eq!(
            millis(Duration::from_nanos(1_234_567_890)).to_string(),
            "1234.568"
        );
        assert_eq!(millis(Duration::ZERO).to_string(), "0");
    }
}
