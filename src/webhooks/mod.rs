//! Webhook delivery: a runner in every `mutua serve` (unless jobs are off) and in `mutua
//! worker` claims due deliveries with a lease, POSTs each event to its endpoint, signed,
//! and records the attempt; failures are retried on a schedule ([`retry`]) and a delivery
//! out of retries pauses its webhook (`webhook.failing`). Slow or failing endpoints never
//! slow the API: deliveries run on the runner's own tasks, at most `concurrency` at once,
//! with short timeouts, reading at most 512 bytes of each answer, following no redirect.

pub mod address;
pub mod retry;
pub mod signing;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::db::{self, Pool};
use crate::error::ApiError;
use crate::models::effects::emit;
use crate::models::event::{Event, EventType};
use crate::models::webhook::{self, Attempt, Claimed, Outcome, Webhook};
use crate::models::{now, utc};
use crate::settings::WebhookSettings as DeliverySettings;

/// How much of an answer an attempt keeps.
const SNIPPET: usize = 512;
/// How long a runner's claim holds: longer than any attempt can take.
const LEASE: Duration = Duration::from_secs(120);

/// A runner of deliveries.
#[derive(Clone)]
pub struct Deliverer {
    pool: Pool,
    runner: String,
    client: reqwest::Client,
    settings: DeliverySettings,
    slots: Arc<Semaphore>,
}

impl Deliverer {
    /// A runner named `runner` (unique to this process).
    pub fn new(
        pool: Pool,
        runner: String,
        settings: DeliverySettings,
    ) -> Result<Deliverer, String> {
        // reqwest is built without a TLS backend of its own; rustls with ring serves it.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(address::PublicResolver::shared(settings.policy))
            .user_agent(concat!("Mutua-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot set up the webhook client: {e}"))?;
        let slots = Arc::new(Semaphore::new(settings.concurrency.max(1)));
        Ok(Deliverer {
            pool,
            runner,
            client,
            settings,
            slots,
        })
    }

    /// Claims as many due deliveries as there are free slots and starts them; returns how
    /// many it started (they finish on their own tasks).
    pub async fn tick(&self) -> Result<usize, ApiError> {
        let free = self.slots.available_permits();
        if free == 0 {
            return Ok(0);
        }
        let (runner, at) = (self.runner.clone(), now());
        let lease_until = at + chrono::Duration::from_std(LEASE).unwrap_or_default();
        let claimed = db::run(&self.pool, move |conn| {
            Ok(db::write_transaction(conn, |conn| {
                webhook::claim(conn, &runner, at, lease_until, free as i64)
            })?)
        })
        .await?;
        let started = claimed.len();
        for job in claimed {
            let Ok(permit) = self.slots.clone().try_acquire_owned() else {
                break;
            };
            let me = self.clone();
            actix_web::rt::spawn(async move {
                if let Err(e) = me.deliver(job).await {
                    tracing::warn!(error = %e, "could not record a webhook attempt");
                }
                drop(permit);
            });
        }
        Ok(started)
    }

    /// Runs [`Deliverer::tick`] until none is due, waiting for the started deliveries to
    /// finish (tests; the served runner just ticks).
    pub async fn drain(&self) -> Result<(), ApiError> {
        loop {
            let started = self.tick().await?;
            let all = self.settings.concurrency.max(1) as u32;
            // Every slot free again: every started delivery is recorded.
            let _all_done = self
                .slots
                .acquire_many(all)
                .await
                .map_err(|e| ApiError::Internal(format!("delivery slots closed: {e}")))?;
            if started == 0 {
                return Ok(());
            }
        }
    }

    /// One attempt of a claimed delivery, and its record.
    async fn deliver(&self, job: Claimed) -> Result<(), ApiError> {
        let number = job.delivery.attempts + 1;
        let started = Instant::now();
        let attempted_at = now();
        let (status_code, error, snippet) = self.send(&job, attempted_at).await;
        let latency_ms = started.elapsed().as_millis() as i64;
        let delivered = status_code.is_some_and(|s| (200..300).contains(&s));
        let outcome = if delivered {
            Outcome::Delivered
        } else {
            match self.settings.schedule.next_jittered(
                number as u32,
                job.delivery.created_at,
                attempted_at,
            ) {
                Some(next) => Outcome::Retry(next),
                None => Outcome::Failed,
            }
        };
        let attempt = Attempt {
            delivery_id: job.delivery.id.clone(),
            number,
            attempted_at,
            status_code,
            error,
            latency_ms,
            response_snippet: snippet,
        };
        let (runner, webhook_id) = (self.runner.clone(), job.webhook.id.clone());
        db::run(&self.pool, move |conn| {
            db::write_transaction(conn, |conn| {
                let mine = webhook::record(conn, &runner, &attempt, &outcome)?;
                if mine && matches!(outcome, Outcome::Failed) {
                    pause(conn, &webhook_id, attempted_at)?;
                }
                Ok(())
            })
        })
        .await
    }

    /// Sends the event; the endpoint's status, or why there was none, and the start of
    /// its answer.
    async fn send(
        &self,
        job: &Claimed,
        at: chrono::NaiveDateTime,
    ) -> (Option<i32>, Option<String>, Option<String>) {
        let url = match address::check_url(&job.webhook.url, self.settings.policy) {
            Ok(url) => url,
            Err(why) => return (None, Some(format!("refused: the URL {why}")), None),
        };
        let body = match job
            .event
            .view()
            .and_then(|v| serde_json::to_vec(&v).map_err(|e| ApiError::Internal(e.to_string())))
        {
            Ok(body) => body,
            Err(e) => return (None, Some(format!("internal: {e}")), None),
        };
        let timestamp = utc(at).timestamp();
        let signature = signing::signature(&job.webhook.signing_secrets(at), timestamp, &body);
        let sent = self
            .client
            .post(url)
            .header("Content-Type", "application/json")
            .header("Mutua-Event-Id", &job.event.id)
            .header("Mutua-Signature", signature)
            .body(body)
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(e) => return (None, Some(describe(&e)), None),
        };
        let status = i32::from(response.status().as_u16());
        let mut kept: Vec<u8> = Vec::new();
        while kept.len() < SNIPPET {
            match response.chunk().await {
                Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
                _ => break,
            }
        }
        kept.truncate(SNIPPET);
        let snippet = (!kept.is_empty()).then(|| String::from_utf8_lossy(&kept).into_owned());
        (Some(status), None, snippet)
    }
}

/// Why a request got no answer, in our words (never the library's internals).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        let mut chain = String::new();
        let mut source = std::error::Error::source(e);
        while let Some(inner) = source {
            chain.push_str(&inner.to_string());
            source = inner.source();
        }
        if chain.contains("no public address") {
            "refused: the host resolves to no public address".into()
        } else {
            "could not connect".into()
        }
    } else if e.is_redirect() {
        "redirected (redirects are not followed)".into()
    } else {
        "the request failed".into()
    }
}

/// Pauses a webhook whose delivery ran out of retries and tells its organisation
/// (`webhook.failing`, the change's last write).
fn pause(
    conn: &mut crate::db::DbConnection,
    id: &str,
    at: chrono::NaiveDateTime,
) -> Result<(), ApiError> {
    if !Webhook::mark_failing(conn, id, at)? {
        return Ok(());
    }
    let Some(hook) = Webhook::find(conn, id)? else {
        return Ok(());
    };
    emit(
        conn,
        Event::new(&hook.org_id, EventType::WebhookFailing, &hook.view()?)?,
    )?;
    Ok(())
}

/// Runs a deliverer for as long as the runtime lives: while there is work it claims more
/// as soon as a slot frees up; when none is due it looks again every `tick`.
pub fn spawn(deliverer: Deliverer) {
    actix_web::rt::spawn(async move {
        loop {
            let started = match deliverer.tick().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "could not claim webhook deliveries");
                    0
                }
            };
            if started == 0 {
                actix_web::rt::time::sleep(deliverer.settings.tick).await;
            } else if let Ok(slot) = deliverer.slots.acquire().await {
                // A slot is free again: claim the next ones.
                drop(slot);
            }
        }
    });
}
