//! `/auth`: register, login, refresh, logout.

use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::auth::{password, AuthUser};
use crate::db;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::client_address;
use crate::http::json::Json;
use crate::http::validate::Checks;
use crate::models::session::{self, Rotation};
use crate::models::user::{AccountStatus, PlatformRole, User, UserView};
use crate::models::{new_id, now, rate_limit};

/// Routes of this module.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(register)
        .service(login)
        .service(refresh)
        .service(logout);
}

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// An RFC 5321 address whose domain has a dot, at most 254 bytes once trimmed and
    /// lower-cased; compared case-insensitively, stored lower-cased.
    #[schema(example = "anna@kundenwerk.example")]
    pub email: String,
    /// 12–128 characters, taken as sent (not trimmed).
    #[schema(
        example = "correct horse battery staple",
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]{12,128}$"
    )]
    pub password: String,
    /// 1–100 characters (trimmed).
    #[schema(example = "Anna Berger", min_length = 1, max_length = 100)]
    pub display_name: String,
}

/// E-mail and password.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Any text: an unknown address answers like a wrong password (401).
    #[schema(pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*$")]
    pub email: String,
    /// Any text (401 when wrong).
    #[schema(pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*$")]
    pub password: String,
}

/// A refresh token to exchange.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    /// Any text (401 unless a live refresh token).
    #[schema(pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*$")]
    pub refresh_token: String,
}

/// A fresh pair of tokens.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    /// HS256 JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque, single-use; exchange it at `/auth/refresh` for a new pair.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

/// Creates an account.
#[utoipa::path(
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created", body = UserView),
        (status = 409, description = "E-mail already registered", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many registrations from this address", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Too many sign-ins and registrations are being checked at once (or the database is unreachable); `Retry-After` says when to retry", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
#[post("/auth/register")]
async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<RegisterRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let mut checks = Checks::new();
    let email = checks.email("email", &body.email);
    if let Some(message) = password::policy_violation(&body.password) {
        checks.fail("password", message);
    }
    let display_name = checks.text("display_name", &body.display_name, 1, 100);
    checks.finish()?;

    let address = client_address(&req);
    let limit = state.settings.rate_limits.register_per_address_per_hour;
    db::run(&state.pool, move |conn| {
        rate_limit::hit(conn, "register_address", &address, limit, 3600)
    })
    .await?;

    let pw = body.password;
    let password_hash = state.hasher.run(move || password::hash(&pw)).await??;
    let at = now();
    let user = User {
        id: new_id(),
        email,
        password_hash,
        display_name,
        platform_role: PlatformRole::User,
        status: AccountStatus::Active,
        created_at: at,
        updated_at: at,
    };
    // In a write transaction, so a commit whose answer is lost is resolved, not guessed.
    let user = db::run(&state.pool, move |conn| {
        match db::write_transaction(conn, |c| user.insert(c)) {
            Ok(()) => Ok(user),
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => Err(ApiError::Conflict(
                "an account with this e-mail address already exists".into(),
            )),
            Err(e) => Err(e.into()),
        }
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", "/api/v1/me"))
        .json(user.view()?))
}

const INVALID_LOGIN: &str = "invalid e-mail or password";

/// Signs in and returns an access and a refresh token.
///
/// Unknown e-mail and wrong password answer alike. After too many consecutive failures for
/// one e-mail address, or too many attempts from one client address, the answer is 429.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 401, description = "Invalid e-mail or password", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Account suspended", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Throttled", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Too many sign-ins and registrations are being checked at once (or the database is unreachable); `Retry-After` says when to retry", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
#[post("/auth/login")]
async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let email = crate::models::user::normalize_email(&body.email);
    let address = client_address(&req);
    let limits = state.settings.rate_limits.clone();
    let window = limits.login_failure_window.as_secs() as i64;
    let account_window = limits.login_account_window.as_secs() as i64;
    // Failures count per account and client address, so an attacker's guesses lock out
    // only the attacker's address, and per account with a far higher ceiling, so guessing
    // from many addresses still ends. Unknown addresses count the same (nothing reveals
    // whether an account exists).
    let pair = format!("{email}|{address}");
    let (subject, pair_subject) = (email.clone(), pair.clone());
    let user = db::run(&state.pool, move |conn| {
        rate_limit::hit(
            conn,
            "login_address",
            &address,
            limits.login_per_address_per_minute,
            60,
        )?;
        rate_limit::check(
            conn,
            "login_failures",
            &pair_subject,
            limits.login_failures,
            window,
        )?;
        rate_limit::check(
            conn,
            "login_account_failures",
            &subject,
            limits.login_account_failures,
            account_window,
        )?;
        Ok(User::find_by_email(conn, &subject)?)
    })
    .await?;

    let pw = body.password;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let verified = state
        .hasher
        .run(move || match stored {
            Some(hash) => password::verify(&pw, &hash),
            None => {
                password::verify_against_dummy(&pw);
                false
            }
        })
        .await?;

    let user = match user {
        Some(user) if verified => user,
        _ => {
            db::run(&state.pool, move |conn| {
                rate_limit::hit(conn, "login_failures", &pair, u32::MAX, window)?;
                rate_limit::hit(
                    conn,
                    "login_account_failures",
                    &email,
                    u32::MAX,
                    account_window,
                )
            })
            .await?;
            return Err(ApiError::Unauthorized(INVALID_LOGIN.into()));
        }
    };
    if user.status != AccountStatus::Active {
        return Err(ApiError::Forbidden("this account is suspended".into()));
    }
    let ttl = state.settings.refresh_token_ttl;
    let user_id = user.id.clone();
    let (session_id, refresh_token) = db::run(&state.pool, move |conn| {
        rate_limit::reset(conn, "login_failures", &pair)?;
        rate_limit::reset(conn, "login_account_failures", &email)?;
        Ok(session::start(conn, &user_id, ttl)?)
    })
    .await?;
    tokens(&state, &user.id, &session_id, refresh_token)
}

fn tokens(
    state: &AppState,
    user_id: &str,
    session_id: &str,
    refresh_token: String,
) -> ApiResult<HttpResponse> {
    let access_token = state.signer.issue(user_id, session_id)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(TokenResponse {
            access_token,
            refresh_token,
            token_type: "Bearer".into(),
            expires_in: state.signer.ttl_secs(),
        }))
}

/// Exchanges a refresh token for a new pair (the old one is spent).
///
/// Presenting a spent refresh token revokes its whole session (every token issued from the
/// same login), since the server cannot tell a replay by a thief from one by the owner.
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = TokenResponse),
        (status = 401, description = "Unknown, expired, revoked or already used refresh token", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/refresh")]
async fn refresh(
    state: web::Data<AppState>,
    body: Json<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let presented = body.into_inner().refresh_token;
    let ttl = state.settings.refresh_token_ttl;
    let rotation = db::run(&state.pool, move |conn| {
        Ok(diesel::Connection::transaction(conn, |conn| {
            session::rotate(conn, &presented, ttl)
        })?)
    })
    .await?;
    match rotation {
        Rotation::Rotated {
            user_id,
            session_id,
            refresh_token,
        } => tokens(&state, &user_id, &session_id, refresh_token),
        Rotation::Reused => Err(ApiError::Unauthorized(
            "this refresh token was already used; its session has been revoked".into(),
        )),
        Rotation::Invalid => Err(ApiError::Unauthorized(
            "invalid or expired refresh token".into(),
        )),
    }
}

/// Ends the caller's session: its refresh token and access tokens stop working at once.
#[utoipa::path(
    tag = "auth",
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/auth/logout")]
async fn logout(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    db::run(&state.pool, move |conn| {
        Ok(session::revoke(conn, &user.session_id)?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
