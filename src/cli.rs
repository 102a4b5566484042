//! The command line: `serve` (default), `worker`, `migrate`, `openapi`, `create-admin`,
//! `seed`, `verify`.

mod verify;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use secrecy::SecretString;

use crate::db::{self, Backend};
use crate::models::user::{AccountStatus, PlatformRole, User};
use crate::models::{new_id, now};
use crate::settings::{self, LogFormat, Quota, Settings};
use crate::startup::Application;

/// Mutua: partnership and knowledge-sharing marketplace API.
#[derive(Debug, Parser)]
#[command(name = "mutua", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: Config,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Run only the periodic jobs (expiry events, purges), e.g. beside servers started with
    /// `--jobs false`; any number of workers and servers may run them at once.
    Worker,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Fill the database with deterministic demo data and write one login per organisation.
    Seed {
        /// Organisations to create.
        #[arg(long, default_value_t = 100)]
        orgs: usize,
        /// Listings per organisation.
        #[arg(long, default_value_t = 10)]
        listings_per_org: usize,
        /// Random seed; the same seed gives the same data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where to write `org_id,email,password,api_key` per organisation.
        #[arg(long, default_value = "seed-logins.csv")]
        out: PathBuf,
        /// Also append this many synthetic transparency-log leaves: `agreement.accepted`
        /// events between seeded organisations with no agreement rows behind them, 10,000
        /// per transaction (for benchmarks of the log). With --orgs 0 they join an
        /// already seeded database.
        #[arg(long, default_value_t = 0)]
        log_leaves: usize,
        /// Also open this many exchange proposals between the seeded organisations (for the
        /// accept benchmark); `proposal_id,receiver_api_key` lines go to `--proposals-out`.
        #[arg(long, default_value_t = 0)]
        open_proposals: usize,
        /// Where to write the open proposals.
        #[arg(long, default_value = "seed-proposals.csv")]
        proposals_out: PathBuf,
    },
    /// Check the transparency log: checkpoint signatures, inclusion and consistency proofs,
    /// terms commitments, an agreement's entries (`mutua verify --help` for the modes).
    #[command(disable_help_flag = true)]
    Verify {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<OsString>,
    },
    /// Create a platform admin, or promote an existing account.
    CreateAdmin {
        #[arg(long)]
        email: String,
        #[arg(long, env = "MUTUA_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long, default_value = "Administrator")]
        display_name: String,
    },
}

/// Settings shared by every command; each flag also reads its environment variable.
#[derive(Debug, clap::Args)]
struct Config {
    /// SQLite path (default: <data dir>/mutua.db) or postgres:// URL.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    database_url: Option<String>,
    /// Address to listen on.
    #[arg(
        long,
        env = "MUTUA_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    bind: String,
    /// Folder for the SQLite file, generated secrets and keys.
    #[arg(long, env = "MUTUA_DATA_DIR", default_value = "./data", global = true)]
    data_dir: PathBuf,
    /// Access-token signing secret, at least 32 bytes (generated and kept in the data folder when unset).
    #[arg(long, env = "MUTUA_JWT_SECRET", global = true, hide_env_values = true)]
    jwt_secret: Option<String>,
    /// Log format.
    #[arg(
        long,
        env = "MUTUA_LOG_FORMAT",
        value_enum,
        default_value = "pretty",
        global = true
    )]
    log_format: LogFormat,
    /// Maximum database connections.
    #[arg(long, env = "MUTUA_DB_POOL_SIZE", default_value_t = 8, global = true)]
    db_pool_size: u32,
    /// Public catalogue searches cached in memory (0 turns the cache off).
    #[arg(
        long,
        env = "MUTUA_SEARCH_CACHE_SIZE",
        default_value_t = 2048,
        global = true
    )]
    search_cache_size: usize,
    /// Catalogue facet counts are exact up to this many matches; larger results are
    /// counted over their newest this many and flagged as estimates.
    #[arg(
        long,
        env = "MUTUA_SEARCH_FACET_SAMPLE",
        default_value_t = 200,
        value_parser = clap::value_parser!(i64).range(1..),
        global = true
    )]
    search_facet_sample: i64,
    /// Catalogue totals are exact up to this many matches and extrapolated beyond.
    #[arg(
        long,
        env = "MUTUA_SEARCH_EXACT_TOTAL",
        default_value_t = 200,
        value_parser = clap::value_parser!(i64).range(1..),
        global = true
    )]
    search_exact_total: i64,
    /// Seconds a request waits for a database connection.
    #[arg(
        long,
        env = "MUTUA_DB_TIMEOUT_SECS",
        default_value_t = 5,
        global = true
    )]
    db_timeout_secs: u64,
    /// Largest request body, in bytes.
    #[arg(long, env = "MUTUA_BODY_LIMIT", default_value_t = 65536, global = true)]
    body_limit: usize,
    /// Comma-separated origins allowed by CORS (`*` for any; empty: CORS off).
    #[arg(long, env = "MUTUA_CORS_ORIGINS", default_value = "", global = true)]
    cors_origins: String,
    /// Consecutive failed logins per e-mail and client address before 429 for that pair.
    #[arg(
        long,
        env = "MUTUA_LOGIN_MAX_FAILURES",
        default_value_t = 10,
        global = true
    )]
    login_max_failures: u32,
    /// Window of those failures, in seconds.
    #[arg(
        long,
        env = "MUTUA_LOGIN_FAILURE_WINDOW_SECS",
        default_value_t = 900,
        global = true
    )]
    login_failure_window_secs: u64,
    /// Consecutive failed logins per e-mail from all client addresses before the account is
    /// throttled everywhere.
    #[arg(
        long,
        env = "MUTUA_LOGIN_ACCOUNT_MAX_FAILURES",
        default_value_t = 100,
        global = true
    )]
    login_account_max_failures: u32,
    /// Window of those failures, in seconds.
    #[arg(
        long,
        env = "MUTUA_LOGIN_ACCOUNT_WINDOW_SECS",
        default_value_t = 86_400,
        global = true
    )]
    login_account_window_secs: u64,
    /// Login attempts per client address per minute.
    #[arg(
        long,
        env = "MUTUA_LOGIN_PER_MINUTE",
        default_value_t = 30,
        global = true
    )]
    login_per_minute: u32,
    /// Registrations per client address per hour.
    #[arg(
        long,
        env = "MUTUA_REGISTER_PER_HOUR",
        default_value_t = 20,
        global = true
    )]
    register_per_hour: u32,
    /// Writes (every method but GET/HEAD/OPTIONS under /api/v1) per user, API key or
    /// anonymous client address per window (0: no limit).
    #[arg(long, env = "MUTUA_WRITE_LIMIT", default_value_t = 300, global = true)]
    write_limit: u32,
    /// Window of the write limit, in seconds.
    #[arg(
        long,
        env = "MUTUA_WRITE_LIMIT_WINDOW_SECS",
        default_value_t = 60,
        global = true
    )]
    write_limit_window_secs: u64,
    /// Reports (`POST /reports`) per user per window (0: no limit).
    #[arg(long, env = "MUTUA_REPORT_LIMIT", default_value_t = 30, global = true)]
    report_limit: u32,
    /// Window of the report limit, in seconds.
    #[arg(
        long,
        env = "MUTUA_REPORT_LIMIT_WINDOW_SECS",
        default_value_t = 3600,
        global = true
    )]
    report_limit_window_secs: u64,
    /// Catalogue searches with `q` per caller per window (0: no limit).
    #[arg(long, env = "MUTUA_SEARCH_LIMIT", default_value_t = 600, global = true)]
    search_limit: u32,
    /// Window of the search limit, in seconds.
    #[arg(
        long,
        env = "MUTUA_SEARCH_LIMIT_WINDOW_SECS",
        default_value_t = 60,
        global = true
    )]
    search_limit_window_secs: u64,
    /// Match requests per caller per window (0: no limit).
    #[arg(
        long,
        env = "MUTUA_MATCHES_LIMIT",
        default_value_t = 120,
        global = true
    )]
    matches_limit: u32,
    /// Window of the matches limit, in seconds.
    #[arg(
        long,
        env = "MUTUA_MATCHES_LIMIT_WINDOW_SECS",
        default_value_t = 60,
        global = true
    )]
    matches_limit_window_secs: u64,
    /// Most hits of one caller's quota an instance takes from the database at once
    /// (1: every request is counted in the database).
    #[arg(
        long,
        env = "MUTUA_RATE_LIMIT_LEASE",
        default_value_t = 32,
        global = true
    )]
    rate_limit_lease: u32,
    /// HTTP worker threads (0: one per core).
    #[arg(long, env = "MUTUA_WORKERS", default_value_t = 0, global = true)]
    workers: usize,
    /// Live listings (draft, pending, published) per organisation.
    #[arg(
        long,
        env = "MUTUA_LISTING_QUOTA",
        default_value_t = 200,
        global = true
    )]
    listing_quota: u32,
    /// Listing submissions for review per organisation per day.
    #[arg(
        long,
        env = "MUTUA_SUBMISSIONS_PER_DAY",
        default_value_t = 50,
        global = true
    )]
    submissions_per_day: u32,
    /// Open proposals one organisation may have to another at a time.
    #[arg(
        long,
        env = "MUTUA_OPEN_PROPOSALS_PER_PARTNER",
        default_value_t = 3,
        global = true
    )]
    open_proposals_per_partner: u32,
    /// Declines within the decline window after which a proposer must wait (0: never).
    #[arg(
        long,
        env = "MUTUA_DECLINES_BEFORE_COOLDOWN",
        default_value_t = 2,
        global = true
    )]
    declines_before_cooldown: u32,
    /// Days in which those declines count.
    #[arg(
        long,
        env = "MUTUA_DECLINE_WINDOW_DAYS",
        default_value_t = 30,
        global = true
    )]
    decline_window_days: u32,
    /// Days a proposer then waits before proposing to that organisation again.
    #[arg(
        long,
        env = "MUTUA_DECLINE_COOLDOWN_DAYS",
        default_value_t = 30,
        global = true
    )]
    decline_cooldown_days: u32,
    /// The transparency log's origin: first line of every checkpoint and name of its signing key.
    #[arg(
        long,
        env = "MUTUA_LOG_ORIGIN",
        default_value = crate::transparency::signing::DEFAULT_ORIGIN,
        global = true
    )]
    log_origin: String,
    /// The log's signing key as a signed-note private key string named like the origin
    /// (generated and kept when unset: in the data folder on SQLite, in the database on PostgreSQL).
    #[arg(
        long,
        env = "MUTUA_LOG_SIGNING_KEY",
        global = true,
        hide_env_values = true
    )]
    log_signing_key: Option<String>,
    /// Whether `serve` also runs the periodic jobs (expiry events, purges); `false` when
    /// separate `mutua worker` processes run them.
    #[arg(
        long,
        env = "MUTUA_JOBS",
        default_value_t = true,
        action = clap::ArgAction::Set,
        global = true
    )]
    jobs: bool,
    /// Seconds between a job runner's looks for due jobs.
    #[arg(
        long,
        env = "MUTUA_JOBS_TICK_SECS",
        default_value_t = 5,
        value_parser = clap::value_parser!(u64).range(1..),
        global = true
    )]
    jobs_tick_secs: u64,
    /// Allow webhook URLs with plain `http` (local development only).
    #[arg(
        long,
        env = "MUTUA_WEBHOOK_ALLOW_HTTP",
        default_value_t = false,
        action = clap::ArgAction::Set,
        global = true
    )]
    webhook_allow_http: bool,
    /// Allow webhooks to loopback, private and other non-public addresses (local
    /// development and tests only: it opens the server to request forgery).
    #[arg(
        long,
        env = "MUTUA_WEBHOOK_ALLOW_PRIVATE",
        default_value_t = false,
        action = clap::ArgAction::Set,
        global = true
    )]
    webhook_allow_private: bool,
    /// Webhook deliveries in flight at once per process.
    #[arg(
        long,
        env = "MUTUA_WEBHOOK_CONCURRENCY",
        default_value_t = 8,
        value_parser = clap::value_parser!(u32).range(1..=256),
        global = true
    )]
    webhook_concurrency: u32,
    /// Seconds one webhook attempt may take, answer included.
    #[arg(
        long,
        env = "MUTUA_WEBHOOK_TIMEOUT_SECS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=60),
        global = true
    )]
    webhook_timeout_secs: u64,
    /// Requests working on the database at once; the others wait their turn in arrival
    /// order (0: two per core; never more than the pooled connections).
    #[arg(long, env = "MUTUA_DB_CONCURRENCY", default_value_t = 0, global = true)]
    db_concurrency: usize,
    /// Consecutive database connection failures after which requests get 503 at once.
    #[arg(
        long,
        env = "MUTUA_DB_BREAKER_THRESHOLD",
        default_value_t = 3,
        global = true
    )]
    db_breaker_threshold: u32,
    /// Milliseconds requests then get 503 at once before one request probes the database.
    #[arg(
        long,
        env = "MUTUA_DB_BREAKER_OPEN_MS",
        default_value_t = 1000,
        global = true
    )]
    db_breaker_open_ms: u64,
    /// Searches with words running at once (0: no bound; default: one per core).
    #[arg(long, env = "MUTUA_SEARCH_CONCURRENCY", default_value_t = settings::cores(), global = true)]
    search_concurrency: usize,
    /// Matches requests running at once (0: no bound; default: two per core).
    #[arg(long, env = "MUTUA_MATCHES_CONCURRENCY", default_value_t = 2 * settings::cores(), global = true)]
    matches_concurrency: usize,
    /// Milliseconds a search or matches request waits for a free slot before its 503.
    #[arg(
        long,
        env = "MUTUA_BULKHEAD_WAIT_MS",
        default_value_t = 200,
        global = true
    )]
    bulkhead_wait_ms: u64,
    /// Password hashes (login, registration) running at once (0: no bound; default: half the cores).
    #[arg(long, env = "MUTUA_HASHING_CONCURRENCY", default_value_t = (settings::cores() / 2).max(1), global = true)]
    hashing_concurrency: usize,
    /// Milliseconds a login or registration waits for its hash to start before its 503.
    #[arg(
        long,
        env = "MUTUA_HASHING_WAIT_MS",
        default_value_t = 2000,
        global = true
    )]
    hashing_wait_ms: u64,
    /// Seconds in-flight requests get to finish on shutdown.
    #[arg(
        long,
        env = "MUTUA_SHUTDOWN_TIMEOUT_SECS",
        default_value_t = 30,
        global = true
    )]
    shutdown_timeout_secs: u64,
}

impl Config {
    fn database_url(&self) -> String {
        self.database_url
            .clone()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| settings::default_database_url(&self.data_dir))
    }

    fn settings(&self) -> Result<Settings, String> {
        // An unusable database URL is refused before anything (the secret file) is created.
        Backend::from_url(&self.database_url())?;
        let secret = settings::resolve_jwt_secret(self.jwt_secret.clone(), &self.data_dir)?;
        let mut s = Settings::new(self.database_url(), self.data_dir.clone(), secret);
        s.bind = self.bind.clone();
        s.db_pool_size = self.db_pool_size;
        s.search_cache_size = self.search_cache_size;
        s.search_bounds = settings::SearchBounds {
            facet_sample: self.search_facet_sample,
            exact_total: self.search_exact_total.max(self.search_facet_sample),
        };
        s.db_timeout = Duration::from_secs(self.db_timeout_secs.max(1));
        s.body_limit = self.body_limit;
        s.cors_origins = self
            .cors_origins
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_owned)
            .collect();
        s.rate_limits.login_failures = self.login_max_failures;
        s.rate_limits.login_failure_window = Duration::from_secs(self.login_failure_window_secs);
        s.rate_limits.login_account_failures = self.login_account_max_failures;
        s.rate_limits.login_account_window = Duration::from_secs(self.login_account_window_secs);
        s.rate_limits.login_per_address_per_minute = self.login_per_minute;
        s.rate_limits.register_per_address_per_hour = self.register_per_hour;
        s.rate_limits.writes = Quota::per(self.write_limit, self.write_limit_window_secs.max(1));
        s.rate_limits.reports = Quota::per(self.report_limit, self.report_limit_window_secs.max(1));
        s.rate_limits.searches =
            Quota::per(self.search_limit, self.search_limit_window_secs.max(1));
        s.rate_limits.matches =
            Quota::per(self.matches_limit, self.matches_limit_window_secs.max(1));
        s.rate_limits.lease = self.rate_limit_lease.max(1);
        s.workers = self.workers;
        s.listing_quota = self.listing_quota;
        s.submissions_per_day = self.submissions_per_day;
        s.proposal_limits = settings::ProposalLimits {
            open_per_partner: self.open_proposals_per_partner.max(1),
            declines_before_cooldown: self.declines_before_cooldown,
            decline_window: chrono::Duration::days(self.decline_window_days.into()),
            decline_cooldown: chrono::Duration::days(self.decline_cooldown_days.into()),
        };
        s.shutdown_timeout = Duration::from_secs(self.shutdown_timeout_secs);
        s.jobs = self.jobs;
        s.jobs_tick = Duration::from_secs(self.jobs_tick_secs);
        s.webhooks.policy = settings::UrlPolicy {
            allow_http: self.webhook_allow_http,
            allow_private: self.webhook_allow_private,
        };
        s.webhooks.concurrency = self.webhook_concurrency as usize;
        s.webhooks.timeout = Duration::from_secs(self.webhook_timeout_secs);
        s.webhooks.connect_timeout = s.webhooks.timeout.min(Duration::from_secs(3));
        s.capacity = settings::Capacity {
            db_in_flight: self.db_concurrency,
            breaker_threshold: self.db_breaker_threshold.max(1),
            breaker_open: Duration::from_millis(self.db_breaker_open_ms.max(1)),
            search_in_flight: self.search_concurrency,
            matches_in_flight: self.matches_concurrency,
            bulkhead_wait: Duration::from_millis(self.bulkhead_wait_ms),
            hashing_in_flight: self.hashing_concurrency,
            hashing_wait: Duration::from_millis(self.hashing_wait_ms),
        };
        crate::transparency::signing::check_origin(&self.log_origin)?;
        s.log_origin = self.log_origin.clone();
        s.log_signing_key = self
            .log_signing_key
            .clone()
            .filter(|k| !k.trim().is_empty())
            .map(SecretString::from);
        Ok(s)
    }
}

/// Parses the command line and runs the command; the error is a one-line reason.
pub fn run() -> Result<ExitCode, String> {
    let cli = Cli::parse();
    let command = match cli.command.unwrap_or(Command::Serve) {
        // `verify` parses flags of its own (none of the server's) and has its own exit codes.
        Command::Verify { args } => return Ok(verify::run(args)),
        command => command,
    };
    crate::telemetry::init(cli.config.log_format);
    let done = match command {
        Command::Serve => serve(&cli.config),
        Command::Migrate => migrate(&cli.config),
        Command::Worker => worker(&cli.config),
        Command::Openapi => {
            print!("{}", crate::routes::openapi_json());
            Ok(())
        }
        Command::Seed {
            orgs,
            listings_per_org,
            seed,
            out,
            log_leaves,
            open_proposals,
            proposals_out,
        } => seed_demo(
            &cli.config,
            crate::seed::SeedPlan {
                orgs,
                listings_per_org,
                seed,
                log_leaves,
            },
            &out,
        )
        .and_then(|()| seed_proposals(&cli.config, &out, open_proposals, &proposals_out)),
        Command::CreateAdmin {
            email,
            password,
            display_name,
        } => create_admin(&cli.config, &email, &password, &display_name),
        Command::Verify { .. } => Err("`verify` is handled above".into()),
    };
    done.map(|()| ExitCode::SUCCESS)
}

/// Opens `count` proposals between the organisations of the logins file `logins`.
fn seed_proposals(config: &Config, logins: &Path, count: usize, out: &Path) -> Result<(), String> {
    if count == 0 {
        return Ok(());
    }
    let (_, mut conn, _) = open(config)?;
    let made = crate::seed::proposals::run(&mut conn, logins, count, out)?;
    println!(
        "opened {made} proposals; their ids and receivers' keys are in {}",
        out.display()
    );
    Ok(())
}

fn serve(config: &Config) -> Result<(), String> {
    let settings = config.settings()?;
    let database = settings.backend()?.display_url();
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings.clone()).await?;
        let host = settings.bind.rsplit_once(':').map(|(h, _)| h).unwrap_or("127.0.0.1");
        tracing::info!(%database, "Mutua listening on http://{host}:{} (docs at /docs/)", app.port());
        app.run_until_stopped().await.map_err(|e| format!("server failed: {e}"))?;
        tracing::info!("Mutua stopped");
        Ok(())
    })
}

/// A migrated connection to the configured database, for the one-shot commands, with the
/// migrations it applied.
fn open(config: &Config) -> Result<(Backend, db::PooledConnection, Vec<String>), String> {
    let backend = Backend::from_url(&config.database_url())?;
    let timeout = Duration::from_secs(config.db_timeout_secs.max(1));
    let (pool, applied) = db::open(&backend, 1, timeout)?;
    let mut conn = pool
        .get()
        .map_err(|e| format!("cannot open database connection: {e}"))?;
    crate::models::listing::derived::index_missing(&mut conn)
        .map_err(|e| format!("cannot build the search index: {e}"))?;
    Ok((backend, conn, applied))
}

fn seed_demo(
    config: &Config,
    plan: crate::seed::SeedPlan,
    out: &std::path::Path,
) -> Result<(), String> {
    let (_, mut conn, _) = open(config)?;
    let started = std::time::Instant::now();
    let report = crate::seed::run(&mut conn, &plan, out)?;
    println!(
        "seeded {} organisations, {} listings ({} published) and {} log leaves in {:.1} s; logins in {}",
        report.orgs,
        report.listings,
        report.published,
        report.log_leaves,
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}

fn worker(config: &Config) -> Result<(), String> {
    let settings = config.settings()?;
    let backend = settings.backend()?;
    actix_web::rt::System::new().block_on(async move {
        let capacity = settings.capacity.clone();
        let (size, timeout) = (settings.db_pool_size.min(2), settings.db_timeout);
        let pool = actix_web::web::block(move || -> Result<db::Pool, String> {
            let (pool, _) = db::open(&backend, size, timeout)?;
            let pool = pool.with_capacity(
                capacity.breaker_threshold,
                capacity.breaker_open,
                capacity.db_in_flight,
            );
            let mut conn = pool
                .get()
                .map_err(|e| format!("cannot open database connection: {e}"))?;
            crate::jobs::ensure_rows(&mut conn)
                .map_err(|e| format!("cannot register the periodic jobs: {e}"))?;
            Ok(pool)
        })
        .await
        .map_err(|e| format!("start-up task failed: {e}"))??;
        let runner = crate::jobs::runner_name();
        tracing::info!(%runner, database = %settings.backend()?.display_url(), "Mutua worker running the periodic jobs");
        crate::jobs::spawn(
            pool.clone(),
            runner.clone(),
            crate::jobs::JobSettings::of(&settings),
            settings.jobs_tick,
        );
        crate::webhooks::spawn(crate::webhooks::Deliverer::new(
            pool,
            runner,
            settings.webhooks.clone(),
        )?);
        actix_web::rt::signal::ctrl_c()
            .await
            .map_err(|e| format!("cannot wait for Ctrl-C: {e}"))?;
        tracing::info!("Mutua worker stopped");
        Ok(())
    })
}

fn migrate(config: &Config) -> Result<(), String> {
    let (backend, _, applied) = open(config)?;
    if applied.is_empty() {
        println!("{}: up to date", backend.display_url());
    } else {
        println!("{}: applied {}", backend.display_url(), applied.join(", "));
    }
    Ok(())
}

fn create_admin(
    config: &Config,
    email: &str,
    password: &str,
    display_name: &str,
) -> Result<(), String> {
    let mut checks = crate::http::validate::Checks::new();
    let email = checks.email("email", email);
    if let Some(problem) = crate::auth::password::policy_violation(password) {
        checks.fail("password", problem);
    }
    let display_name = checks.text("display_name", display_name, 1, 100);
    if let Err(crate::error::ApiError::Validation(errors)) = checks.finish() {
        let reasons: Vec<String> = errors
            .iter()
            .map(|e| format!("{} {}", e.field, e.message))
            .collect();
        return Err(reasons.join("; "));
    }
    let (_, mut conn, _) = open(config)?;
    let conn = &mut *conn;
    let existing = User::find_by_email(conn, &email).map_err(|e| e.to_string())?;
    match existing {
        Some(user) => {
            User::set_role(conn, &user.id, PlatformRole::Admin, now())
                .map_err(|e| e.to_string())?;
            println!(
                "promoted {email} ({}) to admin; password unchanged",
                user.id
            );
        }
        None => {
            let hash = crate::auth::password::hash(password).map_err(|e| e.to_string())?;
            let at = now();
            let user = User {
                id: new_id(),
                email: email.clone(),
                password_hash: hash,
                display_name,
                platform_role: PlatformRole::Admin,
                status: AccountStatus::Active,
                created_at: at,
                updated_at: at,
            };
            user.insert(conn).map_err(|e| e.to_string())?;
            println!("created admin {email} ({})", user.id);
        }
    }
    Ok(())
}
