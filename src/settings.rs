//! Typed settings, read from `mutua serve` flags or their environment variables.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::db::url::Backend;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Throttling limits; every one is configurable so tests can set them tight.
#[derive(Debug, Clone)]
pub struct RateLimits {
    /// Consecutive failed logins of one e-mail address from one client address before that
    /// pair is throttled (an attacker's failures do not block the owner elsewhere).
    pub login_failures: u32,
    /// The window in which those failures count.
    pub login_failure_window: Duration,
    /// Consecutive failed logins of one e-mail address from all addresses together before
    /// the account is throttled everywhere (NIST SP 800-63B allows at most 100).
    pub login_account_failures: u32,
    /// The window in which those failures count.
    pub login_account_window: Duration,
    /// Login attempts per client address per minute.
    pub login_per_address_per_minute: u32,
    /// Registrations per client address per hour.
    pub register_per_address_per_hour: u32,
    /// Writes (every method but GET, HEAD, OPTIONS under `/api/v1`) per caller.
    pub writes: Quota,
    /// `POST /reports` per caller (counted in `writes` too).
    pub reports: Quota,
    /// Catalogue searches with `q` per caller.
    pub searches: Quota,
    /// Match requests (`/orgs/{id}/matches`, `/listings/{id}/matches`) per caller.
    pub matches: Quota,
    /// Most hits of a caller's quota one instance takes from the database at once (see
    /// `quota`); 1 counts every request in the database.
    pub lease: u32,
}

/// One limit: at most `count` requests per `window` for each caller (`count` 0: no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Requests allowed per window; 0 turns the limit off.
    pub count: u32,
    /// The fixed window, at least one second.
    pub window: Duration,
}

impl Quota {
    /// `count` requests per `secs` seconds.
    pub const fn per(count: u32, secs: u64) -> Quota {
        Quota {
            count,
            window: Duration::from_secs(secs),
        }
    }

    /// Whether the limit applies at all.
    pub fn is_on(&self) -> bool {
        self.count > 0
    }

    /// The window in whole seconds (at least one).
    pub fn window_secs(&self) -> i64 {
        self.window.as_secs().max(1) as i64
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            login_failures: 10,
            login_failure_window: Duration::from_secs(15 * 60),
            login_account_failures: 100,
            login_account_window: Duration::from_secs(24 * 3600),
            login_per_address_per_minute: 30,
            register_per_address_per_hour: 20,
            writes: Quota::per(300, 60),
            reports: Quota::per(30, 3600),
            searches: Quota::per(600, 60),
            matches: Quota::per(120, 60),
            lease: 32,
        }
    }
}

/// How far catalogue searches count exactly (`docs/API-DESIGN.md`, "Catalogue search").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SearchBounds {
    /// Facet counts are exact for results of at most this many listings; larger results
    /// are counted over their newest this many and scaled.
    pub facet_sample: i64,
    /// `total` is exact up to this many listings and extrapolated beyond.
    pub exact_total: i64,
}

impl Default for SearchBounds {
    fn default() -> Self {
        SearchBounds {
            facet_sample: 200,
            exact_total: 200,
        }
    }
}

/// The no-pressure limits on proposals between two organisations.
#[derive(Debug, Clone)]
pub struct ProposalLimits {
    /// Open proposals one organisation may have to another at a time.
    pub open_per_partner: u32,
    /// Declines (within `decline_window`) after which the proposer must wait.
    pub declines_before_cooldown: u32,
    /// The window in which those declines count.
    pub decline_window: chrono::Duration,
    /// How long the proposer then waits before proposing to that organisation again.
    pub decline_cooldown: chrono::Duration,
}

impl Default for ProposalLimits {
    fn default() -> Self {
        ProposalLimits {
            open_per_partner: 3,
            declines_before_cooldown: 2,
            decline_window: chrono::Duration::days(30),
            decline_cooldown: chrono::Duration::days(30),
        }
    }
}

/// How the service protects itself under load and outage (see `docs/API-DESIGN.md`,
/// "Capacity").
#[derive(Debug, Clone)]
pub struct Capacity {
    /// Requests working on the database at once, the others waiting their turn in arrival
    /// order (0: two per core; never more than the pool's connections).
    pub db_in_flight: usize,
    /// Consecutive database connection failures after which requests are refused at once.
    pub breaker_threshold: u32,
    /// How long they are refused before one request probes the database again.
    pub breaker_open: Duration,
    /// Searches with words running at once (0: no bound).
    pub search_in_flight: usize,
    /// Matches requests running at once (0: no bound).
    pub matches_in_flight: usize,
    /// How long a search or matches request waits for a slot before its 503.
    pub bulkhead_wait: Duration,
    /// Password hashes (login, registration) running at once (0: no bound).
    pub hashing_in_flight: usize,
    /// How long a login or registration waits for its hash to start before its 503.
    pub hashing_wait: Duration,
}

/// The cores this process may use (at least 1).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Default for Capacity {
    fn default() -> Self {
        Capacity {
            db_in_flight: 0,
            breaker_threshold: 3,
            breaker_open: Duration::from_secs(1),
            search_in_flight: cores(),
            matches_in_flight: 2 * cores(),
            bulkhead_wait: Duration::from_millis(200),
            hashing_in_flight: (cores() / 2).max(1),
            hashing_wait: Duration::from_secs(2),
        }
    }
}

/// Everything the application needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The database (SQLite path or PostgreSQL URL).
    pub database_url: String,
    /// Address to bind; port 0 picks a free port.
    pub bind: String,
    /// Folder for the SQLite file and generated secrets.
    pub data_dir: PathBuf,
    /// HS256 signing secret for access tokens (at least 32 bytes).
    pub jwt_secret: SecretString,
    /// Maximum pooled database connections.
    pub db_pool_size: u32,
    /// Public catalogue searches kept in memory (0: no cache).
    pub search_cache_size: usize,
    /// How far searches count exactly.
    pub search_bounds: SearchBounds,
    /// How long a request waits for a pooled connection.
    pub db_timeout: Duration,
    /// Largest accepted request body in bytes.
    pub body_limit: usize,
    /// Origins allowed by CORS (`*` for any); empty disables CORS.
    pub cors_origins: Vec<String>,
    /// Access-token lifetime.
    pub access_token_ttl: Duration,
    /// Refresh-token lifetime.
    pub refresh_token_ttl: Duration,
    /// Invitation lifetime.
    pub invitation_ttl: Duration,
    /// Throttling limits.
    pub rate_limits: RateLimits,
    /// Grace period for in-flight requests on shutdown.
    pub shutdown_timeout: Duration,
    /// HTTP worker threads (0: one per core).
    pub workers: usize,
    /// Live listings (draft, pending, published) one organisation may have.
    pub listing_quota: u32,
    /// Listing submissions for review per organisation per day.
    pub submissions_per_day: u32,
    /// The no-pressure limits on proposals.
    pub proposal_limits: ProposalLimits,
    /// Circuit breaker and bulkheads.
    pub capacity: Capacity,
    /// The transparency log's origin: the first line of its checkpoints and the name of its
    /// signing key.
    pub log_origin: String,
    /// A configured log-signing key (signed-note private key string); when unset the key is
    /// generated once and kept (see `transparency::signing`).
    pub log_signing_key: Option<SecretString>,
    /// Whether `serve` also runs the periodic jobs and webhook deliveries (`mutua worker`
    /// runs only them).
    pub jobs: bool,
    /// Webhook deliveries.
    pub webhooks: WebhookSettings,
    /// How often a runner looks for due jobs.
    pub jobs_tick: Duration,
}

/// The transparency log's origin when none is configured.
pub const DEFAULT_LOG_ORIGIN: &str = "mutua.local/transparency";

/// Shortest accepted signing secret.
pub const MIN_SECRET_BYTES: usize = 32;

impl Settings {
    /// Settings with the documented defaults for a given database and secret.
    pub fn new(database_url: String, data_dir: PathBuf, jwt_secret: SecretString) -> Self {
        Settings {
            database_url,
            bind: "127.0.0.1:8080".into(),
            data_dir,
            jwt_secret,
            db_pool_size: 8,
            search_cache_size: 2048,
            search_bounds: SearchBounds::default(),
            db_timeout: Duration::from_secs(5),
            body_limit: 64 * 1024,
            cors_origins: Vec::new(),
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            invitation_ttl: Duration::from_secs(7 * 24 * 3600),
            rate_limits: RateLimits::default(),
            shutdown_timeout: Duration::from_secs(30),
            workers: 0,
            listing_quota: 200,
            submissions_per_day: 50,
            proposal_limits: ProposalLimits::default(),
            capacity: Capacity::default(),
            log_origin: DEFAULT_LOG_ORIGIN.into(),
            log_signing_key: None,
            jobs: true,
            jobs_tick: Duration::from_secs(5),
            webhooks: WebhookSettings::default(),
        }
    }

    /// The backend the database URL selects, or why it selects none.
    pub fn backend(&self) -> Result<Backend, String> {
        Backend::from_url(&self.database_url)
    }
}

/// The default SQLite database inside the data folder.
pub fn default_database_url(data_dir: &Path) -> String {
    data_dir.join("mutua.db").to_string_lossy().into_owned()
}

/// Checks a configured secret, or loads (creating on first start) the generated one kept
/// in the data folder with owner-only permissions.
pub fn resolve_jwt_secret(
    configured: Option<String>,
    data_dir: &Path,
) -> Result<SecretString, String> {
    if let Some(secret) = configured {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "MUTUA_JWT_SECRET is too weak: it has {} bytes, at least {MIN_SECRET_BYTES} are required",
                secret.len()
            ));
        }
        return Ok(SecretString::from(secret));
    }
    let path = data_dir.join("jwt-secret");
    if path.exists() {
        let secret = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let secret = secret.trim().to_owned();
        if secret.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "{} holds a secret shorter than {MIN_SECRET_BYTES} bytes",
                path.display()
            ));
        }
        return Ok(SecretString::from(secret));
    }
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    let secret = crate::auth::tokens::random_token(48);
    write_private(&path, &secret).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(SecretString::from(secret))
}

/// Creates a file only its owner may read or write; fails if it exists.
#[cfg(unix)]
pub(crate) fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

/// Creates a file (no owner-only mode off Unix); fails if it exists.
#[cfg(not(unix))]
pub(crate) fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

/// The secret's bytes, for the token signer.
pub fn secret_bytes(secret: &SecretString) -> &[u8] {
    secret.expose_secret().as_bytes()
}

/// Webhook deliveries (`crate::webhooks`).
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Which endpoints are allowed beyond public `https` ones.
    pub policy: UrlPolicy,
    /// Deliveries in flight at once per runner.
    pub concurrency: usize,
    pub connect_timeout: Duration,
    /// The whole attempt, answer included.
    pub timeout: Duration,
    pub schedule: RetrySchedule,
    /// How often a runner looks for due deliveries.
    pub tick: Duration,
    /// How long a signing secret replaced by a rotation still signs.
    pub rotation_grace: Duration,
    /// How long finished deliveries and their attempts are kept.
    pub retention: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            policy: UrlPolicy::default(),
            concurrency: 8,
            connect_timeout: Duration::from_secs(3),
            timeout: Duration::from_secs(10),
            schedule: RetrySchedule::default(),
            tick: Duration::from_secs(1),
            rotation_grace: Duration::from_secs(24 * 3600),
            retention: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// Where webhooks may point beyond public `https` endpoints (`webhooks::address`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UrlPolicy {
    /// Plain `http` URLs.
    pub allow_http: bool,
    /// Loopback, private and other non-public addresses (tests, local development).
    pub allow_private: bool,
}

/// When failed webhook deliveries are tried again (`webhooks::retry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySchedule {
    /// The delay before the first retry (then doubling).
    pub first: Duration,
    /// A delivery older than this is not tried again.
    pub give_up_after: Duration,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        RetrySchedule {
            first: Duration::from_secs(30),
            give_up_after: Duration::from_secs(24 * 3600),
        }
    }
}
