//! Bulkheads: a bound on how many requests of one expensive class (searches, matches,
//! password hashes: `auth::hasher`) run at once, so a flood of them cannot take every thread, connection
//! and core from the cheap requests beside them. Beyond the bound a request waits, in
//! arrival order, for at most a short while and is then refused with 503 and
//! `Retry-After` — a prompt "come back" rather than a queue that only grows.
//!
//! Each bulkhead is a FIFO-fair semaphore; a handler holds its [`Slot`] for as long as the
//! expensive work runs (the slot is freed when dropped, also when the client goes away).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// One class of expensive requests and its bound.
#[derive(Debug, Clone)]
pub struct Bulkhead {
    /// What the class is, in the API's words ("searches").
    what: &'static str,
    /// `None`: unbounded.
    slots: Option<Arc<Semaphore>>,
    wait: Duration,
}

/// A place in a bulkhead, held while the work runs.
#[derive(Debug)]
#[must_use = "the slot is given back when dropped"]
pub struct Slot(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

impl Bulkhead {
    /// At most `limit` requests of the class at once (`0`: no bound); others wait at most
    /// `wait` for a slot.
    pub fn new(what: &'static str, limit: usize, wait: Duration) -> Bulkhead {
        Bulkhead {
            what,
            slots: (limit > 0).then(|| Arc::new(Semaphore::new(limit))),
            wait,
        }
    }

    /// A slot, once one is free; 503 if none frees up in time.
    pub async fn enter(&self) -> Result<Slot, ApiError> {
        let Some(slots) = &self.slots else {
            return Ok(Slot(None));
        };
        let waiting = slots.clone().acquire_owned();
        match actix_web::rt::time::timeout(self.wait, waiting).await {
            Ok(Ok(permit)) => Ok(Slot(Some(permit))),
            Ok(Err(_)) => Err(ApiError::Internal(format!(
                "the {} bulkhead is closed",
                self.what
            ))),
            Err(_) => Err(ApiError::Unavailable(format!(
                "too many {} are running at once; retry shortly",
                self.what
            ))),
        }
    }
}

/// The bulkheads of the application, one per expensive class.
#[derive(Debug, Clone)]
pub struct Bulkheads {
    /// Catalogue searches with words (`GET /listings?q=…`) the result cache cannot answer.
    pub search: Bulkhead,
    /// Both matches endpoints.
    pub matches: Bulkhead,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn a_full_bulkhead_refuses_after_its_wait_and_frees_slots_in_order() {
        let bulkhead = Bulkhead::new("searches", 1, Duration::from_millis(50));
        let held = bulkhead.enter().await.expect("a free slot");
        match bulkhead.enter().await {
            Err(ApiError::Unavailable(detail)) => assert!(detail.contains("searches")),
            other => panic!("expected a 503, got {other:?}"),
        }
        drop(held);
        let again = bulkhead.enter().await;
        assert!(again.is_ok(), "a freed slot is taken again");
    }

    #[actix_web::test]
    async fn waiters_are_served_in_arrival_order() {
        let bulkhead = Bulkhead::new("matches", 1, Duration::from_secs(5));
        let held = bulkhead.enter().await.expect("a free slot");
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for n in 0..5 {
            let (bulkhead, order) = (bulkhead.clone(), order.clone());
            waiters.push(actix_web::rt::spawn(async move {
                let _slot = bulkhead.enter().await.expect("a slot in time");
                order.lock().expect("order").push(n);
                actix_web::rt::time::sleep(Duration::from_millis(5)).await;
            }));
            // Each waiter queues before the next one starts.
            actix_web::rt::time::sleep(Duration::from_millis(5)).await;
        }
        drop(held);
        for waiter in waiters {
            waiter.await.expect("waiter");
        }
        assert_eq!(*order.lock().expect("order"), vec![0, 1, 2, 3, 4]);
    }

    #[actix_web::test]
    async fn no_bound_never_waits() {
        let bulkhead = Bulkhead::new("searches", 0, Duration::ZERO);
        let mut slots = Vec::new();
        for _ in 0..100 {
            slots.push(bulkhead.enter().await.expect("no bound"));
        }
        assert_eq!(slots.len(), 100);
    }
}
