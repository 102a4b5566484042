//! Where Argon2id runs: a few dedicated threads of lowered priority behind a bulkhead.
//!
//! Each hash takes 19 MiB and tens of milliseconds of a core. On the shared blocking pool a
//! storm of logins took every core from the reads (by id on PostgreSQL fell from ~15,800
//! to ~90 req/s beside 16 logging-in connections) and, since every blocking thread that
//! once hashed keeps its allocator arena, left the process at 2.5 GB. Here at most
//! `threads` hashes run at once, always on the same threads (memory: `threads` × 19 MiB),
//! and on Linux at nice 19, so the scheduler serves reads first and hashes with what
//! remains; sign-ins that cannot start within the bulkhead's wait get 503 with
//! `Retry-After` instead of queueing without end.

use std::sync::Arc;
use std::time::Duration;

use scheduled_thread_pool::ScheduledThreadPool;

use crate::error::ApiError;
use crate::http::bulkhead::Bulkhead;

/// The niceness of the hashing threads (0 normal, 19 lowest).
const NICENESS: i32 = 19;

/// Runs password hashes off the request path, a bounded number at a time.
#[derive(Clone)]
pub struct Hasher {
    /// `None`: no bound; hashes run on the shared blocking pool.
    threads: Option<Arc<ScheduledThreadPool>>,
    slots: Bulkhead,
}

impl Hasher {
    /// `threads` dedicated threads (`0`: no bound); a hash waits at most `wait` to start.
    pub fn new(threads: usize, wait: Duration) -> Hasher {
        Hasher {
            threads: (threads > 0).then(|| {
                Arc::new(
                    ScheduledThreadPool::builder()
                        .num_threads(threads)
                        .thread_name_pattern("mutua-hash-{}")
                        .build(),
                )
            }),
            slots: Bulkhead::new("sign-ins and registrations", threads, wait),
        }
    }

    /// Runs `hash` (a password hash or check) and returns its result.
    pub async fn run<T, F>(&self, hash: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let Some(threads) = &self.threads else {
            return actix_web::web::block(hash)
                .await
                .map_err(|e| ApiError::Internal(format!("hashing task failed: {e}")));
        };
        // One slot per thread, so a hash never queues inside the thread pool.
        let _slot = self.slots.enter().await?;
        let (done, result) = tokio::sync::oneshot::channel();
        threads.execute(move || {
            lower_priority();
            let _ = done.send(hash());
        });
        result
            .await
            .map_err(|_| ApiError::Internal("a hashing thread stopped".into()))
    }
}

/// Lowers the calling thread's priority, once per thread (on Linux `setpriority` with id 0
/// applies to the calling thread only). Without permission it stays as it is.
fn lower_priority() {
    thread_local! {
        static LOWERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    LOWERED.with(|lowered| {
        if !lowered.replace(true) {
            #[cfg(target_os = "linux")]
            // SAFETY: setpriority reads no memory of ours; id 0 is the calling thread.
            unsafe {
                libc::setpriority(libc::PRIO_PROCESS, 0, NICENESS);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use crate::auth::hasher::*;

    #[actix_web::test]
    async fn hashes_run_on_their_threads_and_a_full_hasher_refuses_in_time() {
        let hasher = Hasher::new(1, Duration::from_millis(50));
        let name = hasher
            .run(|| std::thread::current().name().map(str::to_owned))
            .await
            .expect("runs");
        assert_eq!(name.as_deref(), Some("mutua-hash-0"));
        let (release, held) = std::sync::mpsc::channel::<()>();
        let busy = hasher.clone();
        let first = actix_web::rt::spawn(async move {
            busy.run(move || {
                let _ = held.recv();
            })
            .await
        });
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        match hasher.run(|| ()).await {
            Err(ApiError::Unavailable(detail)) => assert!(detail.contains("sign-ins")),
            other => panic!("expected a 503, got {other:?}"),
        }
        release.send(()).expect("release");
        first.await.expect("joined").expect("the first hash ran");
        assert!(hasher.run(|| ()).await.is_ok(), "the thread is free again");
    }
}
