//! Extractors that turn the `Authorization` header into a caller, so no handler parses
//! headers, and the per-organisation access check every org-scoped endpoint uses.

use std::future::Future;
use std::pin::Pin;

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpMessage, HttpRequest};

use super::tokens::sha256_hex;
use crate::app::AppState;
use crate::db::{self, DbConnection};
use crate::error::ApiError;
use crate::models::api_key::{ApiKey, KeyGrant, Scope, KEY_PREFIX};
use crate::models::membership::{self, OrgRole};
use crate::models::org::Org;
use crate::models::session;
use crate::models::user::{AccountStatus, PlatformRole};

/// A signed-in user, authenticated by an access token.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: String,
    pub session_id: String,
    pub email: String,
    pub platform_role: PlatformRole,
}

/// Whoever is calling: a user, or an organisation's API key.
#[derive(Debug, Clone)]
pub enum Principal {
    User(AuthUser),
    Key(KeyGrant),
}

impl Principal {
    /// A stable name for the caller, scoping idempotency records.
    pub fn scope(&self) -> String {
        match self {
            Principal::User(user) => format!("user:{}", user.id),
            Principal::Key(key) => format!("key:{}", key.key_id),
        }
    }
}

impl AuthUser {
    /// Whether the user holds at least this platform role.
    pub fn is_platform(&self, role: PlatformRole) -> bool {
        self.platform_role >= role
    }
}

fn bearer(req: &HttpRequest) -> Result<String, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("missing Authorization header".into()))?
        .to_str()
        .map_err(|_| ApiError::Unauthorized("malformed Authorization header".into()))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| ApiError::Unauthorized("expected `Authorization: Bearer <token>`".into()))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::Unauthorized(
            "expected `Authorization: Bearer <token>`".into(),
        ));
    }
    Ok(token.trim().to_owned())
}

fn session_ended() -> ApiError {
    ApiError::Unauthorized("the session has ended; sign in again".into())
}

/// The request's authenticated caller, kept in its extensions once found, so the
/// rate-limit middleware and the handler's extractors authenticate a request only once.
#[derive(Debug, Clone)]
struct Authenticated(Principal);

/// Authenticates the request's `Authorization` header (once per request: a success is
/// remembered; a failure is not, so every extractor reports it).
pub(crate) async fn authenticate(req: HttpRequest) -> Result<Principal, ApiError> {
    if let Some(Authenticated(known)) = req.extensions().get::<Authenticated>() {
        return Ok(known.clone());
    }
    let principal = authenticate_header(&req).await?;
    req.extensions_mut()
        .insert(Authenticated(principal.clone()));
    Ok(principal)
}

async fn authenticate_header(req: &HttpRequest) -> Result<Principal, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("application state missing".into()))?
        .clone();
    let token = bearer(req)?;
    if token.starts_with(KEY_PREFIX) {
        let hash = sha256_hex(&token);
        let grant = db::run(&state.pool, move |conn| ApiKey::authenticate(conn, &hash)).await?;
        if let Some(grant) = &grant {
            state.key_usage.record(grant, crate::models::now());
        }
        return grant
            .map(Principal::Key)
            .ok_or_else(|| ApiError::Unauthorized("unknown or revoked API key".into()));
    }
    let claims = state.signer.verify(&token)?;
    let session_id = claims.sid.clone();
    let found = db::run(&state.pool, move |conn| {
        Ok(session::state(conn, &session_id)?)
    })
    .await?;
    let found = match found {
        Some(s) if s.user_id == claims.sub => s,
        _ => return Err(session_ended()),
    };
    // Suspension also revokes the sessions; say why rather than just "signed out".
    if found.status != AccountStatus::Active {
        return Err(ApiError::Forbidden("this account is suspended".into()));
    }
    if found.revoked_at.is_some() {
        return Err(session_ended());
    }
    Ok(Principal::User(AuthUser {
        id: found.user_id,
        session_id: claims.sid,
        email: found.email,
        platform_role: found.platform_role,
    }))
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(authenticate(req.clone()))
    }
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match authenticate(req).await? {
                Principal::User(user) => Ok(user),
                Principal::Key(_) => Err(ApiError::Forbidden(
                    "this endpoint needs a user's access token, not an API key".into(),
                )),
            }
        })
    }
}

/// An optional caller, for public endpoints that show more to insiders. No
/// `Authorization` header means anonymous; a header that does not authenticate is 401
/// (a bad token is never silently treated as anonymous).
#[derive(Debug, Clone)]
pub struct MaybePrincipal(pub Option<Principal>);

impl FromRequest for MaybePrincipal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            if req.headers().get(header::AUTHORIZATION).is_none() {
                return Ok(MaybePrincipal(None));
            }
            authenticate(req).await.map(|p| MaybePrincipal(Some(p)))
        })
    }
}

/// A signed-in user with the platform role `moderator` or `admin` (403 otherwise).
#[derive(Debug, Clone)]
pub struct Moderator(pub AuthUser);

impl FromRequest for Moderator {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = AuthUser::from_request(req, payload);
        Box::pin(async move {
            let user = user.await?;
            if !user.is_platform(PlatformRole::Moderator) {
                return Err(ApiError::Forbidden(
                    "this needs the platform role moderator or admin".into(),
                ));
            }
            Ok(Moderator(user))
        })
    }
}

/// What an org-scoped endpoint needs from its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgNeed {
    /// Read the organisation's private data: any member, or a key with any scope.
    Read,
    /// Change the organisation's data: any member, or a `write` key.
    Write,
    /// Manage members, invitations and keys: an owner or admin (never a key).
    Manage,
}

/// The result of a successful access check.
#[derive(Debug, Clone)]
pub struct OrgAccess {
    pub org: Org,
    /// The calling user's role; `None` for an API key.
    pub role: Option<OrgRole>,
}

/// Checks that `principal` may act on organisation `org_id` as `need` requires.
/// A missing organisation is 404; a caller without rights is 403 (the profile is public,
/// so its existence is no secret).
pub fn authorize_org(
    conn: &mut DbConnection,
    principal: &Principal,
    org_id: &str,
    need: OrgNeed,
) -> Result<OrgAccess, ApiError> {
    let org = Org::find_existing(conn, org_id)?;
    let role = match principal {
        Principal::Key(key) => {
            if key.org_id != org.id {
                return Err(ApiError::Forbidden(
                    "this API key belongs to another organisation".into(),
                ));
            }
            match need {
                OrgNeed::Read => {}
                OrgNeed::Write if key.scopes.contains(&Scope::Write) => {}
                OrgNeed::Write => {
                    return Err(ApiError::Forbidden("this API key has no `write` scope".into()))
                }
                OrgNeed::Manage => {
                    return Err(ApiError::Forbidden(
                        "managing members, invitations and API keys needs an owner's or admin's access token".into(),
                    ))
                }
            }
            None
        }
        Principal::User(user) => {
            let role = membership::role_of(conn, &org.id, &user.id)?.ok_or_else(|| {
                ApiError::Forbidden("you are not a member of this organisation".into())
            })?;
            if need == OrgNeed::Manage && !role.at_least(OrgRole::Admin) {
                return Err(ApiError::Forbidden(
                    "this needs the owner or admin role".into(),
                ));
            }
            Some(role)
        }
    };
    if need != OrgNeed::Read && org.status != AccountStatus::Active {
        return Err(ApiError::Forbidden(
            "this organisation is suspended and cannot make changes".into(),
        ));
    }
    Ok(OrgAccess { org, role })
}
