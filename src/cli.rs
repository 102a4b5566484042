//! The command line: `serve` (default), `worker`, `migrate`, `openapi`, `create-admin`,
//! `seed`, `verify`. Each command flattens only the flag groups it uses, so its `--help`
//! lists its own flags; every flag also reads its environment variable.

mod flags;
mod verify;

use std::ffi::OsString;
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};

use crate::db::{self, Backend};
use crate::models::user::{AccountStatus, PlatformRole, User};
use crate::models::{new_id, now};
use crate::startup::Application;
use flags::{Database, Logging, ServeArgs, WorkerArgs};

/// Mutua: partnership and knowledge-sharing marketplace API.
#[derive(Debug, Parser)]
#[command(name = "mutua", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    // `mutua --bind …` (no command) serves, as `cargo run` without arguments does; the
    // flags belong to no other command, so `mutua --bind … migrate` is refused.
    #[command(flatten)]
    serve: ServeArgs,
}

// One value per process, parsed at start-up: boxing the large variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve(ServeArgs),
    /// Run only the periodic jobs (expiry events, purges) and webhook deliveries, e.g. beside
    /// servers started with `--jobs false`; any number of workers and servers may run them at
    /// once.
    Worker(WorkerArgs),
    /// Apply pending database migrations and exit.
    Migrate {
        #[command(flatten)]
        database: Database,
        #[command(flatten)]
        logging: Logging,
    },
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
        #[command(flatten)]
        database: Database,
        #[command(flatten)]
        logging: Logging,
    },
    /// Check the transparency log: checkpoint signatures, inclusion and consistency proofs,
    /// terms commitments, an agreement's entries (`mutua verify --help` for the modes).
    #[command(disable_help_flag = true)]
    Verify {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<OsString>,
    },
    /// Create a platform admin, or promote an existing account (its password kept).
    ///
    /// A new account's password is read from MUTUA_ADMIN_PASSWORD, else as one line of
    /// standard input when that is not a terminal, else typed twice at a prompt that does not
    /// echo; it is never a flag, so it stays out of shell histories and process lists.
    CreateAdmin {
        /// E-mail address of the admin (case-insensitive; an existing account is promoted).
        #[arg(long)]
        email: String,
        /// Display name of a new account.
        #[arg(long, default_value = "Administrator")]
        display_name: String,
        #[command(flatten)]
        database: Database,
        #[command(flatten)]
        logging: Logging,
    },
}

/// The environment variable `create-admin` takes the new account's password from.
const ADMIN_PASSWORD_ENV: &str = "MUTUA_ADMIN_PASSWORD";

/// Parses the command line and runs the command; the error is a one-line reason.
pub fn run() -> Result<ExitCode, String> {
    let cli = Cli::parse();
    let done = match cli.command.unwrap_or(Command::Serve(cli.serve)) {
        // `verify` parses flags of its own (none of the server's) and has its own exit codes.
        Command::Verify { args } => return Ok(verify::run(args)),
        Command::Serve(args) => {
            args.logging.init();
            serve(&args)
        }
        Command::Worker(args) => {
            args.logging.init();
            worker(&args)
        }
        Command::Migrate { database, logging } => {
            logging.init();
            migrate(&database)
        }
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
            database,
            logging,
        } => {
            logging.init();
            seed_demo(
                &database,
                crate::seed::SeedPlan {
                    orgs,
                    listings_per_org,
                    seed,
                    log_leaves,
                },
                &out,
            )
            .and_then(|()| seed_proposals(&database, &out, open_proposals, &proposals_out))
        }
        Command::CreateAdmin {
            email,
            display_name,
            database,
            logging,
        } => {
            logging.init();
            create_admin(&database, &email, &display_name)
        }
    };
    done.map(|()| ExitCode::SUCCESS)
}

/// Opens `count` proposals between the organisations of the logins file `logins`.
fn seed_proposals(
    config: &Database,
    logins: &Path,
    count: usize,
    out: &Path,
) -> Result<(), String> {
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

fn serve(args: &ServeArgs) -> Result<(), String> {
    let settings = args.settings()?;
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
fn open(config: &Database) -> Result<(Backend, db::PooledConnection, Vec<String>), String> {
    let (url, _) = config.resolve()?;
    let backend = Backend::from_url(&url)?;
    let (pool, applied) = db::open(&backend, 1, config.timeout())?;
    let mut conn = pool
        .get()
        .map_err(|e| format!("cannot open database connection: {e}"))?;
    crate::models::listing::derived::index_missing(&mut conn)
        .map_err(|e| format!("cannot build the search index: {e}"))?;
    Ok((backend, conn, applied))
}

fn seed_demo(
    config: &Database,
    plan: crate::seed::SeedPlan,
    out: &std::path::Path,
) -> Result<(), String> {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    // A logins file that cannot be written is refused before the database is touched.
    let folder = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    if !folder.is_dir() {
        return Err(format!(
            "cannot write the logins file {}: the folder {} does not exist",
            out.display(),
            folder.display()
        ));
    }
    let (backend, mut conn, _) = open(config)?;
    let started = std::time::Instant::now();
    // Drawn on stderr only when it is a terminal; tests and pipes see nothing of it.
    let progress =
        ProgressBar::with_draw_target(Some(plan.orgs as u64), ProgressDrawTarget::stderr());
    // `{msg}` names the step: seeding, then the log leaves and the planner statistics.
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:10} [{bar:20}] {pos}/{len} organisations, {elapsed} (eta {eta})",
    ) {
        progress.set_style(style.progress_chars("=> "));
    }
    progress.set_message("seeding");
    // The clock keeps moving while one transaction or the final ANALYZE runs.
    progress.enable_steady_tick(Duration::from_millis(250));
    let seeded = crate::seed::run_with_progress(&mut conn, &plan, out, &progress);
    progress.finish_and_clear();
    let report = seeded?;
    let logins = std::path::absolute(out).unwrap_or_else(|_| out.to_path_buf());
    // One write, so a reader that stops after the first line does not break the rest.
    println!(
        "seeded {} organisations, {} listings ({} published), {} proposals, {} agreements \
         ({} completed), {} endorsements and {} log leaves in {:.1} s\ndatabase: {}\nlogins: {}",
        report.orgs,
        report.listings,
        report.published,
        report.proposals,
        report.agreements,
        report.completed,
        report.endorsements,
        report.agreement_leaves + report.log_leaves,
        started.elapsed().as_secs_f64(),
        backend.display_url(),
        logins.display(),
    );
    Ok(())
}

fn worker(args: &WorkerArgs) -> Result<(), String> {
    let settings = args.settings()?;
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

fn migrate(config: &Database) -> Result<(), String> {
    let (backend, _, applied) = open(config)?;
    if applied.is_empty() {
        println!("{}: up to date", backend.display_url());
    } else {
        println!("{}: applied {}", backend.display_url(), applied.join(", "));
    }
    Ok(())
}

/// Makes `email` a platform admin: promotes its account, or creates one with a password
/// read as [`admin_password`] says (only then is one asked for).
fn create_admin(config: &Database, email: &str, display_name: &str) -> Result<(), String> {
    let mut checks = crate::http::validate::Checks::new();
    let email = checks.email("email", email);
    let display_name = checks.text("display_name", display_name, 1, 100);
    refusal(checks)?;
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
            let password = admin_password(&email)?;
            let password = password.expose_secret();
            let mut checks = crate::http::validate::Checks::new();
            if let Some(problem) = crate::auth::password::policy_violation(password) {
                checks.fail("password", problem);
            }
            refusal(checks)?;
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

/// The failed checks as one line, `field message; field message`.
fn refusal(checks: crate::http::validate::Checks) -> Result<(), String> {
    match checks.finish() {
        Err(crate::error::ApiError::Validation(errors)) => Err(errors
            .iter()
            .map(|e| format!("{} {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ")),
        Err(other) => Err(other.to_string()),
        Ok(()) => Ok(()),
    }
}

/// A new admin's password: `MUTUA_ADMIN_PASSWORD`, else one line of standard input when that
/// is not a terminal (scripts, `printf '%s\n' "$P" |`), else typed twice at a prompt on the
/// terminal that does not echo.
fn admin_password(email: &str) -> Result<SecretString, String> {
    if let Some(value) = std::env::var_os(ADMIN_PASSWORD_ENV).filter(|v| !v.is_empty()) {
        return value
            .into_string()
            .map(SecretString::from)
            .map_err(|_| format!("{ADMIN_PASSWORD_ENV} is not valid UTF-8"));
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        let read = stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
        if read == 0 {
            return Err(format!(
                "no password: set {ADMIN_PASSWORD_ENV} or write it to standard input"
            ));
        }
        let end = line.trim_end_matches(['\n', '\r']).len();
        line.truncate(end);
        return Ok(SecretString::from(line));
    }
    let typed = rpassword::prompt_password(format!("Password for {email}: "))
        .map_err(|e| format!("cannot read the password: {e}"))?;
    let again = rpassword::prompt_password("The same password again: ")
        .map_err(|e| format!("cannot read the password: {e}"))?;
    if typed != again {
        return Err("the two passwords differ".into());
    }
    Ok(SecretString::from(typed))
}
