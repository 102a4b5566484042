//! The flags of the commands that open the database or serve, grouped as `--help` shows
//! them (Database, Logging, Pool, Background, Server with its catalogue, limits and load
//! shedding); each command flattens the groups it uses, so it lists only its own flags.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;

use crate::db::Backend;
use crate::settings::{self, LogFormat, Quota, Settings};

/// The data folder when none is configured, the only one created when missing (a configured
/// one that does not exist is more likely a typo or an unmounted volume than a wish for a
/// fresh, empty database).
pub(super) const DEFAULT_DATA_DIR: &str = "./data";

/// Where the database and the generated secrets live: every command that opens the database.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Database")]
pub(super) struct Database {
    /// SQLite path (default: <data dir>/mutua.db) or postgres:// URL.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub(super) database_url: Option<String>,
    /// Folder for the SQLite file, generated secrets and keys; it must exist unless it is the
    /// default, which is created.
    #[arg(long, env = "MUTUA_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub(super) data_dir: PathBuf,
    /// Seconds to wait for a database connection.
    #[arg(long, env = "MUTUA_DB_TIMEOUT_SECS", default_value_t = 5)]
    pub(super) db_timeout_secs: u64,
}

impl Database {
    /// The data folder, refused when it is configured but does not exist.
    pub(super) fn data_dir(&self) -> Result<PathBuf, String> {
        let dir = &self.data_dir;
        if dir.is_dir() || (dir == Path::new(DEFAULT_DATA_DIR) && !dir.exists()) {
            Ok(dir.clone())
        } else if dir.exists() {
            Err(format!(
                "data directory {} is not a directory",
                dir.display()
            ))
        } else {
            Err(format!("data directory {} does not exist", dir.display()))
        }
    }

    /// The database URL and the data folder, both checked before anything is created.
    pub(super) fn resolve(&self) -> Result<(String, PathBuf), String> {
        let data_dir = self.data_dir()?;
        let url = self
            .database_url
            .clone()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| settings::default_database_url(&data_dir));
        Backend::from_url(&url)?;
        Ok((url, data_dir))
    }

    pub(super) fn timeout(&self) -> Duration {
        Duration::from_secs(self.db_timeout_secs.max(1))
    }
}

/// How log lines are written.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Logging")]
pub(super) struct Logging {
    /// Log line format (`RUST_LOG` filters the lines; `pretty` is coloured only on a
    /// terminal and without NO_COLOR).
    #[arg(long, env = "MUTUA_LOG_FORMAT", value_enum, default_value = "pretty")]
    pub(super) log_format: LogFormat,
}

impl Logging {
    pub(super) fn init(&self) {
        crate::telemetry::init(self.log_format);
    }
}

/// The connection pool and its protections, shared by `serve` and `worker`.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Database connections")]
pub(super) struct Pool {
    /// Maximum database connections.
    #[arg(long, env = "MUTUA_DB_POOL_SIZE", default_value_t = 8)]
    pub(super) db_pool_size: u32,
    /// Requests working on the database at once; the others wait their turn in arrival
    /// order (0: two per core; never more than the pooled connections).
    #[arg(long, env = "MUTUA_DB_CONCURRENCY", default_value_t = 0)]
    pub(super) db_concurrency: usize,
    /// Consecutive database connection failures after which requests get 503 at once.
    #[arg(long, env = "MUTUA_DB_BREAKER_THRESHOLD", default_value_t = 3)]
    pub(super) db_breaker_threshold: u32,
    /// Milliseconds requests then get 503 at once before one request probes the database.
    #[arg(long, env = "MUTUA_DB_BREAKER_OPEN_MS", default_value_t = 1000)]
    pub(super) db_breaker_open_ms: u64,
}

impl Pool {
    pub(super) fn apply(&self, s: &mut Settings) {
        s.db_pool_size = self.db_pool_size;
        s.capacity.db_in_flight = self.db_concurrency;
        s.capacity.breaker_threshold = self.db_breaker_threshold.max(1);
        s.capacity.breaker_open = Duration::from_millis(self.db_breaker_open_ms.max(1));
    }
}

/// The periodic jobs and webhook deliveries, run by `serve` (unless `--jobs false`) and by
/// `worker`.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Jobs and webhooks")]
pub(super) struct Background {
    /// Seconds between a job runner's looks for due jobs.
    #[arg(
        long,
        env = "MUTUA_JOBS_TICK_SECS",
        default_value_t = 5,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub(super) jobs_tick_secs: u64,
    /// Allow webhook URLs with plain `http` (local development only).
    #[arg(
        long,
        env = "MUTUA_WEBHOOK_ALLOW_HTTP",
        default_value_t = false,
        action = clap::ArgAction::Set
    )]
    pub(super) webhook_allow_http: bool,
    /// Allow webhooks to loopback, private and other non-public addresses (local
    /// development and tests only: it opens the server to request forgery).
    #[arg(
        long,
        env = "MUTUA_WEBHOOK_ALLOW_PRIVATE",
        default_value_t = false,
        action = clap::ArgAction::Set
    )]
    pub(super) webhook_allow_private: bool,
    /// Webhook deliveries in flight at once per process.
    #[arg(
        long,
        env = "MUTUA_WEBHOOK_CONCURRENCY",
        default_value_t = 8,
        value_parser = clap::value_parser!(u32).range(1..=256)
    )]
    pub(super) webhook_concurrency: u32,
    /// Seconds one webhook attempt may take, answer included.
    #[arg(
        long,
        env = "MUTUA_WEBHOOK_TIMEOUT_SECS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=60)
    )]
    pub(super) webhook_timeout_secs: u64,
}

impl Background {
    pub(super) fn apply(&self, s: &mut Settings) {
        s.jobs_tick = Duration::from_secs(self.jobs_tick_secs);
        s.webhooks.policy = settings::UrlPolicy {
            allow_http: self.webhook_allow_http,
            allow_private: self.webhook_allow_private,
        };
        s.webhooks.concurrency = self.webhook_concurrency as usize;
        s.webhooks.timeout = Duration::from_secs(self.webhook_timeout_secs);
        s.webhooks.connect_timeout = s.webhooks.timeout.min(Duration::from_secs(3));
    }
}

/// The HTTP server: address, secrets, limits, quotas and the transparency log.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Server")]
pub(super) struct Server {
    /// Address to listen on.
    #[arg(long, env = "MUTUA_BIND", default_value = "127.0.0.1:8080")]
    pub(super) bind: String,
    /// Access-token signing secret, at least 32 bytes (generated and kept in the data folder when unset).
    #[arg(long, env = "MUTUA_JWT_SECRET", hide_env_values = true)]
    pub(super) jwt_secret: Option<String>,
    /// Whether `serve` also runs the periodic jobs (expiry events, purges); `false` when
    /// separate `mutua worker` processes run them.
    #[arg(
        long,
        env = "MUTUA_JOBS",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub(super) jobs: bool,
    /// HTTP worker threads (0: one per core).
    #[arg(long, env = "MUTUA_WORKERS", default_value_t = 0)]
    pub(super) workers: usize,
    /// Seconds in-flight requests get to finish on shutdown.
    #[arg(long, env = "MUTUA_SHUTDOWN_TIMEOUT_SECS", default_value_t = 30)]
    pub(super) shutdown_timeout_secs: u64,
    /// Largest request body, in bytes.
    #[arg(long, env = "MUTUA_BODY_LIMIT", default_value_t = 65536)]
    pub(super) body_limit: usize,
    /// Comma-separated origins allowed by CORS (`*` for any; empty: CORS off).
    #[arg(long, env = "MUTUA_CORS_ORIGINS", default_value = "")]
    pub(super) cors_origins: String,
    /// The transparency log's origin: first line of every checkpoint and name of its signing key.
    #[arg(
        long,
        env = "MUTUA_LOG_ORIGIN",
        default_value = crate::transparency::signing::DEFAULT_ORIGIN
    )]
    pub(super) log_origin: String,
    /// The log's signing key as a signed-note private key string named like the origin
    /// (generated and kept when unset: in the data folder on SQLite, in the database on PostgreSQL).
    #[arg(long, env = "MUTUA_LOG_SIGNING_KEY", hide_env_values = true)]
    pub(super) log_signing_key: Option<String>,
    #[command(flatten)]
    pub(super) catalogue: Catalogue,
    #[command(flatten)]
    pub(super) limits: Limits,
    #[command(flatten)]
    pub(super) load: Load,
}

/// Catalogue search: its cache and how far it counts exactly.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Catalogue search")]
pub(super) struct Catalogue {
    /// Public catalogue searches cached in memory (0 turns the cache off).
    #[arg(long, env = "MUTUA_SEARCH_CACHE_SIZE", default_value_t = 2048)]
    pub(super) search_cache_size: usize,
    /// Catalogue facet counts are exact up to this many matches; larger results are
    /// counted over their newest this many and flagged as estimates.
    #[arg(
        long,
        env = "MUTUA_SEARCH_FACET_SAMPLE",
        default_value_t = 200,
        value_parser = clap::value_parser!(i64).range(1..)
    )]
    pub(super) search_facet_sample: i64,
    /// Catalogue totals are exact up to this many matches and extrapolated beyond.
    #[arg(
        long,
        env = "MUTUA_SEARCH_EXACT_TOTAL",
        default_value_t = 200,
        value_parser = clap::value_parser!(i64).range(1..)
    )]
    pub(super) search_exact_total: i64,
}

/// Rate limits and quotas per caller and per organisation.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Rate limits and quotas")]
pub(super) struct Limits {
    /// Consecutive failed logins per e-mail and client address before 429 for that pair.
    #[arg(long, env = "MUTUA_LOGIN_MAX_FAILURES", default_value_t = 10)]
    pub(super) login_max_failures: u32,
    /// Window of those failures, in seconds.
    #[arg(long, env = "MUTUA_LOGIN_FAILURE_WINDOW_SECS", default_value_t = 900)]
    pub(super) login_failure_window_secs: u64,
    /// Consecutive failed logins per e-mail from all client addresses before the account is
    /// throttled everywhere.
    #[arg(long, env = "MUTUA_LOGIN_ACCOUNT_MAX_FAILURES", default_value_t = 100)]
    pub(super) login_account_max_failures: u32,
    /// Window of those failures, in seconds.
    #[arg(
        long,
        env = "MUTUA_LOGIN_ACCOUNT_WINDOW_SECS",
        default_value_t = 86_400
    )]
    pub(super) login_account_window_secs: u64,
    /// Login attempts per client address per minute.
    #[arg(long, env = "MUTUA_LOGIN_PER_MINUTE", default_value_t = 30)]
    pub(super) login_per_minute: u32,
    /// Registrations per client address per hour.
    #[arg(long, env = "MUTUA_REGISTER_PER_HOUR", default_value_t = 20)]
    pub(super) register_per_hour: u32,
    /// Writes (every method but GET/HEAD/OPTIONS under /api/v1) per user, API key or
    /// anonymous client address per window (0: no limit).
    #[arg(long, env = "MUTUA_WRITE_LIMIT", default_value_t = 300)]
    pub(super) write_limit: u32,
    /// Window of the write limit, in seconds.
    #[arg(long, env = "MUTUA_WRITE_LIMIT_WINDOW_SECS", default_value_t = 60)]
    pub(super) write_limit_window_secs: u64,
    /// Reports (`POST /reports`) per user per window (0: no limit).
    #[arg(long, env = "MUTUA_REPORT_LIMIT", default_value_t = 30)]
    pub(super) report_limit: u32,
    /// Window of the report limit, in seconds.
    #[arg(long, env = "MUTUA_REPORT_LIMIT_WINDOW_SECS", default_value_t = 3600)]
    pub(super) report_limit_window_secs: u64,
    /// Catalogue searches with `q` per caller per window (0: no limit).
    #[arg(long, env = "MUTUA_SEARCH_LIMIT", default_value_t = 600)]
    pub(super) search_limit: u32,
    /// Window of the search limit, in seconds.
    #[arg(long, env = "MUTUA_SEARCH_LIMIT_WINDOW_SECS", default_value_t = 60)]
    pub(super) search_limit_window_secs: u64,
    /// Match requests per caller per window (0: no limit).
    #[arg(long, env = "MUTUA_MATCHES_LIMIT", default_value_t = 120)]
    pub(super) matches_limit: u32,
    /// Window of the matches limit, in seconds.
    #[arg(long, env = "MUTUA_MATCHES_LIMIT_WINDOW_SECS", default_value_t = 60)]
    pub(super) matches_limit_window_secs: u64,
    /// Most hits of one caller's quota an instance takes from the database at once
    /// (1: every request is counted in the database).
    #[arg(long, env = "MUTUA_RATE_LIMIT_LEASE", default_value_t = 32)]
    pub(super) rate_limit_lease: u32,
    /// Live listings (draft, pending, published) per organisation.
    #[arg(long, env = "MUTUA_LISTING_QUOTA", default_value_t = 200)]
    pub(super) listing_quota: u32,
    /// Listing submissions for review per organisation per day.
    #[arg(long, env = "MUTUA_SUBMISSIONS_PER_DAY", default_value_t = 50)]
    pub(super) submissions_per_day: u32,
    /// Open proposals one organisation may have to another at a time.
    #[arg(long, env = "MUTUA_OPEN_PROPOSALS_PER_PARTNER", default_value_t = 3)]
    pub(super) open_proposals_per_partner: u32,
    /// Declines within the decline window after which a proposer must wait (0: never).
    #[arg(long, env = "MUTUA_DECLINES_BEFORE_COOLDOWN", default_value_t = 2)]
    pub(super) declines_before_cooldown: u32,
    /// Days in which those declines count.
    #[arg(long, env = "MUTUA_DECLINE_WINDOW_DAYS", default_value_t = 30)]
    pub(super) decline_window_days: u32,
    /// Days a proposer then waits before proposing to that organisation again.
    #[arg(long, env = "MUTUA_DECLINE_COOLDOWN_DAYS", default_value_t = 30)]
    pub(super) decline_cooldown_days: u32,
}

/// Bulkheads: how many expensive requests run at once and how long the others wait.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Load")]
pub(super) struct Load {
    /// Searches with words running at once (0: no bound; default: one per core).
    #[arg(long, env = "MUTUA_SEARCH_CONCURRENCY", default_value_t = settings::cores())]
    pub(super) search_concurrency: usize,
    /// Matches requests running at once (0: no bound; default: two per core).
    #[arg(long, env = "MUTUA_MATCHES_CONCURRENCY", default_value_t = 2 * settings::cores())]
    pub(super) matches_concurrency: usize,
    /// Milliseconds a search or matches request waits for a free slot before its 503.
    #[arg(long, env = "MUTUA_BULKHEAD_WAIT_MS", default_value_t = 200)]
    pub(super) bulkhead_wait_ms: u64,
    /// Password hashes (login, registration) running at once (0: no bound; default: half the cores).
    #[arg(long, env = "MUTUA_HASHING_CONCURRENCY", default_value_t = (settings::cores() / 2).max(1))]
    pub(super) hashing_concurrency: usize,
    /// Milliseconds a login or registration waits for its hash to start before its 503.
    #[arg(long, env = "MUTUA_HASHING_WAIT_MS", default_value_t = 2000)]
    pub(super) hashing_wait_ms: u64,
}

impl Server {
    pub(super) fn apply(&self, s: &mut Settings) {
        s.bind = self.bind.clone();
        s.jobs = self.jobs;
        s.workers = self.workers;
        s.shutdown_timeout = Duration::from_secs(self.shutdown_timeout_secs);
        s.body_limit = self.body_limit;
        s.cors_origins = self
            .cors_origins
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_owned)
            .collect();
        s.log_origin = self.log_origin.clone();
        s.log_signing_key = self
            .log_signing_key
            .clone()
            .filter(|k| !k.trim().is_empty())
            .map(SecretString::from);
        let c = &self.catalogue;
        s.search_cache_size = c.search_cache_size;
        s.search_bounds = settings::SearchBounds {
            facet_sample: c.search_facet_sample,
            exact_total: c.search_exact_total.max(c.search_facet_sample),
        };
        self.limits.apply(s);
        let load = &self.load;
        s.capacity.search_in_flight = load.search_concurrency;
        s.capacity.matches_in_flight = load.matches_concurrency;
        s.capacity.bulkhead_wait = Duration::from_millis(load.bulkhead_wait_ms);
        s.capacity.hashing_in_flight = load.hashing_concurrency;
        s.capacity.hashing_wait = Duration::from_millis(load.hashing_wait_ms);
    }
}

impl Limits {
    pub(super) fn apply(&self, s: &mut Settings) {
        let r = &mut s.rate_limits;
        r.login_failures = self.login_max_failures;
        r.login_failure_window = Duration::from_secs(self.login_failure_window_secs);
        r.login_account_failures = self.login_account_max_failures;
        r.login_account_window = Duration::from_secs(self.login_account_window_secs);
        r.login_per_address_per_minute = self.login_per_minute;
        r.register_per_address_per_hour = self.register_per_hour;
        r.writes = Quota::per(self.write_limit, self.write_limit_window_secs.max(1));
        r.reports = Quota::per(self.report_limit, self.report_limit_window_secs.max(1));
        r.searches = Quota::per(self.search_limit, self.search_limit_window_secs.max(1));
        r.matches = Quota::per(self.matches_limit, self.matches_limit_window_secs.max(1));
        r.lease = self.rate_limit_lease.max(1);
        s.listing_quota = self.listing_quota;
        s.submissions_per_day = self.submissions_per_day;
        s.proposal_limits = settings::ProposalLimits {
            open_per_partner: self.open_proposals_per_partner.max(1),
            declines_before_cooldown: self.declines_before_cooldown,
            decline_window: chrono::Duration::days(self.decline_window_days.into()),
            decline_cooldown: chrono::Duration::days(self.decline_cooldown_days.into()),
        };
    }
}

/// The flags of `serve` (and of `mutua` without a command).
#[derive(Debug, clap::Args)]
pub(super) struct ServeArgs {
    #[command(flatten)]
    pub(super) server: Server,
    #[command(flatten)]
    pub(super) database: Database,
    #[command(flatten)]
    pub(super) pool: Pool,
    #[command(flatten)]
    pub(super) background: Background,
    #[command(flatten)]
    pub(super) logging: Logging,
}

impl ServeArgs {
    pub(super) fn settings(&self) -> Result<Settings, String> {
        // Every refusal comes before anything (the secret file) is created.
        let (url, data_dir) = self.database.resolve()?;
        crate::transparency::signing::check_origin(&self.server.log_origin)?;
        let secret = settings::resolve_jwt_secret(self.server.jwt_secret.clone(), &data_dir)?;
        let mut s = Settings::new(url, data_dir, secret);
        s.db_timeout = self.database.timeout();
        self.pool.apply(&mut s);
        self.background.apply(&mut s);
        self.server.apply(&mut s);
        Ok(s)
    }
}

/// The flags of `worker`: no HTTP server, so no address, secret or request limits.
#[derive(Debug, clap::Args)]
pub(super) struct WorkerArgs {
    #[command(flatten)]
    pub(super) database: Database,
    #[command(flatten)]
    pub(super) pool: Pool,
    #[command(flatten)]
    pub(super) background: Background,
    #[command(flatten)]
    pub(super) logging: Logging,
}

impl WorkerArgs {
    pub(super) fn settings(&self) -> Result<Settings, String> {
        let (url, data_dir) = self.database.resolve()?;
        // A worker signs no access token: a throw-away secret fills the field, so a worker
        // neither needs MUTUA_JWT_SECRET nor writes a secret file.
        let unused = SecretString::from(crate::auth::tokens::random_token(48));
        let mut s = Settings::new(url, data_dir, unused);
        s.db_timeout = self.database.timeout();
        self.pool.apply(&mut s);
        self.background.apply(&mut s);
        Ok(s)
    }
}
