//! Cursor pagination: `?limit=&cursor=` → `{"items": [...], "next_cursor": ...}`.
//! Cursors are opaque to clients; inside they carry the last id of the page (ids are
//! time-ordered UUIDv7, so pages stay stable while rows are inserted).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

/// Default page size.
pub const DEFAULT_LIMIT: i64 = 20;
/// Largest page size.
pub const MAX_LIMIT: i64 = 100;

/// The paging query parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page; absent or empty for the first page.
    pub cursor: Option<String>,
}

/// A checked page request.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: i64,
    /// The id after which this page starts.
    pub after: Option<String>,
}

impl PageRequest {
    /// How many rows to fetch: one more than the page, to know whether another follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }
}

impl PageQuery {
    /// The cursor, if one was given: an empty `cursor=` asks for the first page.
    pub fn given_cursor(&self) -> Option<&str> {
        self.cursor.as_deref().filter(|c| !c.is_empty())
    }

    /// Validates the limit and decodes the cursor (400 for either being bad).
    pub fn resolve(&self) -> Result<PageRequest, ApiError> {
        let limit = self.resolve_limit()?;
        let after = self.given_cursor().map(decode_cursor).transpose()?;
        Ok(PageRequest { limit, after })
    }

    /// Like [`PageQuery::resolve`], for lists whose cursor carries a sort key.
    pub fn resolve_keyed(&self) -> Result<KeyedPageRequest, ApiError> {
        let limit = self.resolve_limit()?;
        let after = self.given_cursor().map(decode).transpose()?;
        Ok(KeyedPageRequest { limit, after })
    }

    /// Like [`PageQuery::resolve`], for the catalogue, whose cursor is a position: an
    /// optional sort key and a sequence number.
    pub fn resolve_position(&self) -> Result<PositionPageRequest, ApiError> {
        let limit = self.resolve_limit()?;
        let after = self.given_cursor().map(decode_position).transpose()?;
        Ok(PositionPageRequest { limit, after })
    }

    fn resolve_limit(&self) -> Result<i64, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::BadRequest(format!(
                "limit must be between 1 and {MAX_LIMIT}, got {limit}"
            )));
        }
        Ok(limit)
    }
}

/// A decoded cursor: the last id of the previous page, optionally with its sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    Id(String),
    Keyed(i64, String),
}

/// A checked page request whose cursor may carry a sort key.
#[derive(Debug, Clone)]
pub struct KeyedPageRequest {
    pub limit: i64,
    pub after: Option<Cursor>,
}

/// The 400 for a cursor this API did not issue.
pub fn bad_cursor() -> ApiError {
    ApiError::BadRequest("cursor is not one this API issued".into())
}

fn decode(cursor: &str) -> Result<Cursor, ApiError> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad_cursor())?;
    let text = String::from_utf8(bytes).map_err(|_| bad_cursor())?;
    let valid_id = |id: &str| {
        uuid::Uuid::parse_str(id)
            .map(|_| id.to_owned())
            .map_err(|_| bad_cursor())
    };
    if let Some(id) = text.strip_prefix("id:") {
        return Ok(Cursor::Id(valid_id(id)?));
    }

    let rest = text.strip_prefix("k:").ok_or_else(bad_cursor)?;
    let (key, id) = rest.split_once(':').ok_or_else(bad_cursor)?;
    let key = key.parse().map_err(|_| bad_cursor())?;
    Ok(Cursor::Keyed(key, valid_id(id)?))
}

/// A checked page request whose cursor is a position (sort key if any, sequence number).
#[derive(Debug, Clone)]
pub struct PositionPageRequest {
    pub limit: i64,
    pub after: Option<(Option<i64>, i64)>,
}

fn decode_position(cursor: &str) -> Result<(Option<i64>, i64), ApiError> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad_cursor())?;
    let text = String::from_utf8(bytes).map_err(|_| bad_cursor())?;
    let position = text.strip_prefix("p:").ok_or_else(bad_cursor)?;
    let (key, seq) = position.split_once(':').ok_or_else(bad_cursor)?;
    let key = match key {
        "" => None,
        key => Some(key.parse().map_err(|_| bad_cursor())?),
    };
    Ok((key, seq.parse().map_err(|_| bad_cursor())?))
}

fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    match decode(cursor)? {
        Cursor::Id(id) => Ok(id),
        Cursor::Keyed(..) => Err(bad_cursor()),
    }
}

/// A cursor after this id.
pub fn encode_id(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("id:{id}"))
}

/// A cursor after this catalogue position (sort key, if any, and sequence number).
pub fn encode_position(key: Option<i64>, seq: i64) -> String {
    let key = key.map(|k| k.to_string()).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(format!("p:{key}:{seq}"))
}

/// A cursor after this (sort key, id).
pub fn encode_keyed(key: i64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("k:{key}:{id}"))
}

/// Cuts rows fetched with `limit + 1` down to one page: the extra row means another page
/// follows, and `cursor_of` turns the page's last row into its cursor.
pub fn cut<R>(
    mut rows: Vec<R>,
    limit: i64,
    cursor_of: impl Fn(&R) -> String,
) -> (Vec<R>, Option<String>) {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit.max(0) as usize);
    let next_cursor = if more {
        rows.last().map(cursor_of)
    } else {
        None
    };
    (rows, next_cursor)
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from `request.fetch()` rows, turning the extra row into a cursor.
    pub fn from_rows<R>(
        rows: Vec<R>,
        request: &PageRequest,
        id_of: impl Fn(&R) -> String,
        view: impl Fn(R) -> Result<T, ApiError>,
    ) -> Result<Page<T>, ApiError> {
        let (rows, next_cursor) = cut(rows, request.limit, |r| encode_id(&id_of(r)));
        let items = rows.into_iter().map(view).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, next_cursor })
    }
}
