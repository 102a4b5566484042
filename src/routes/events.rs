//! An organisation's event feed: every change it cares about, oldest first.

use actix_web::{get, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::auth::{authorize_org, OrgNeed, Principal};
use crate::db;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::pagination::{self, encode_position, PageQuery};
use crate::models::event::{EventType, EventView, StoredEvent};

/// Routes of this module.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(org_events);
}

/// The feed's query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only these types, comma-separated (e.g. `proposal.received,proposal.countered`;
    /// absent or empty: every type).
    #[param(value_type = Option<Vec<EventType>>, style = Form, explode = false)]
    pub types: Option<String>,
    /// Items per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page; absent or empty for the first page.
    pub cursor: Option<String>,
}

/// One page of the feed. Unlike other lists, `next_cursor` is never `null`: on the last
/// page it is where the next events will appear, so a client polls with it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub items: Vec<EventView>,
    /// Pass as `cursor` for the events after this page (also after the last page).
    pub next_cursor: String,
    /// Whether more events follow already (fetch again at once rather than later).
    pub has_more: bool,
}

/// The types of a `types` parameter (400 naming the first unknown one).
fn parse_types(types: Option<&str>) -> Result<Vec<EventType>, ApiError> {
    let Some(types) = types else {
        return Ok(Vec::new());
    };
    types
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            EventType::from_text(t).ok_or_else(|| {
                let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
                ApiError::BadRequest(format!(
                    "unknown event type {t:?} in `types`; known types: {}",
                    known.join(", ")
                ))
            })
        })
        .collect()
}

/// The organisation's events, oldest first (members, or a key of the organisation, of any
/// scope). Paging with `next_cursor` sees every event exactly once and in commit order,
/// also while events are being written; the last page's `next_cursor` is where the next
/// events will appear, so a client polls with it.
#[utoipa::path(
    tag = "events",
    params(("org_id" = uuid::Uuid, Path, description = "The organisation"), EventQuery),
    responses(
        (status = 200, description = "One page, oldest first", body = EventPage),
        (status = 400, description = "Bad limit, cursor or event type", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a member of this organisation, or another organisation's key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/orgs/{org_id}/events")]
async fn org_events(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<uuid::Uuid>,
    query: crate::http::query::Query<EventQuery>,
) -> ApiResult<HttpResponse> {
    let org_id = path.into_inner().to_string();
    let query = query.into_inner();
    let types = parse_types(query.types.as_deref())?;
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .resolve_position()?;
    let after = match page.after {
        None => 0,
        Some((None, seq)) if seq >= 0 => seq,
        Some(_) => return Err(pagination::bad_cursor()),
    };
    let limit = page.limit;
    let mut rows = db::run(&state.pool, move |conn| {
        authorize_org(conn, &principal, &org_id, OrgNeed::Read)?;
        Ok(StoredEvent::feed(conn, &org_id, after, &types, limit + 1)?)
    })
    .await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    // The last event's position, or the request's own on an empty page, so a client keeps
    // polling from where it stands.
    let next_cursor = encode_position(None, rows.last().map_or(after, |e| e.seq));
    let items = rows
        .iter()
        .map(StoredEvent::view)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(EventPage {
        items,
        next_cursor,
        has_more,
    }))
}
