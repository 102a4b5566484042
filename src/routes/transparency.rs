//! The public transparency log: signed checkpoints, the verifier key, the entries and their
//! inclusion and consistency proofs (wire format in `docs/TRANSPARENCY.md`). No
//! authentication: anyone may audit the log.

use actix_web::{get, web, HttpResponse};
use serde::Deserialize;
use tlog_tiles::Hash;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::db;
use crate::error::{ApiError, ApiResult, Problem};
use crate::models::utc;
use crate::transparency::store;
use crate::transparency::wire::{ConsistencyProof, EntryPage, InclusionProof, LogEntry, PublicKey};

/// Entries per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: u64 = 20;
/// Most entries per page.
pub const MAX_LIMIT: u64 = 100;

/// Routes of this module.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(checkpoint)
        .service(public_key)
        .service(entries)
        .service(inclusion)
        .service(consistency);
}

/// The latest checkpoint: a C2SP tlog-checkpoint (origin, tree size, base64 root hash)
/// in a C2SP signed note, signed with the key `GET /transparency/public-key` names.
#[utoipa::path(
    tag = "transparency",
    security(()),
    responses(
        (status = 200, description = "The signed note", body = String, content_type = "text/plain; charset=utf-8",
         example = "mutua.local/transparency\n3\nNmQuc8JUCrEh46a/lUWwokmCzYMOsT080Z3jzmwCHsE=\n\n— mutua.local/transparency iEzEPFevQyxVCzdi6jtGqb2Z/yk3haq+NW5tnF3R6NyopjI9AMoBO0967i+5dnC0UJkmQ6RBUQIMRiQhxDfxoB2PJgA=\n"),
        (status = 503, description = "Database unreachable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/transparency/checkpoint")]
async fn checkpoint(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let (size, root) = db::run(&state.pool, |conn| {
        let size = store::tree_size(conn)?;
        Ok((size, store::tree_hash(conn, size)?))
    })
    .await?;
    let note = state
        .log_signer
        .sign_checkpoint(size, root)
        .map_err(ApiError::Internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(note))
}

/// The log's origin and verifier key (C2SP signed-note), to check checkpoint signatures.
#[utoipa::path(
    tag = "transparency",
    security(()),
    responses((status = 200, description = "The verifier key", body = PublicKey))
)]
#[get("/transparency/public-key")]
async fn public_key(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(PublicKey {
        origin: state.log_signer.origin().to_owned(),
        verifier_key: state.log_signer.verifier_key().to_owned(),
    })
}

/// Which entries to list. Numbers are decimal, without sign.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntriesQuery {
    /// Index of the first entry (default 0).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 9_223_372_036_854_775_807_i64, default = 0)]
    pub start: Option<String>,
    /// The `next_cursor` of the previous page; the same as `start` (give one of them):
    /// decimal digits, at most 2^63 - 1. Absent or empty for the first page.
    #[param(
        value_type = Option<String>,
        pattern = r"^(?:0*(?:[0-9]{1,18}|[1-8][0-9]{18}|9[0-1][0-9]{17}|92[0-1][0-9]{16}|922[0-2][0-9]{15}|9223[0-2][0-9]{14}|92233[0-6][0-9]{13}|922337[0-1][0-9]{12}|92233720[0-2][0-9]{10}|922337203[0-5][0-9]{9}|9223372036[0-7][0-9]{8}|92233720368[0-4][0-9]{7}|922337203685[0-3][0-9]{6}|9223372036854[0-6][0-9]{5}|92233720368547[0-6][0-9]{4}|922337203685477[0-4][0-9]{3}|9223372036854775[0-7][0-9]{2}|922337203685477580[0-6]|9223372036854775807))?$"
    )]
    pub cursor: Option<String>,
    /// Entries per page, 1–100.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<String>,
}

/// The log's entries in order: each leaf's exact hashed text, its hash and what it records.
#[utoipa::path(
    tag = "transparency",
    security(()),
    params(EntriesQuery),
    responses(
        (status = 200, description = "One page of entries", body = EntryPage),
        (status = 400, description = "Bad start, cursor or limit", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/transparency/entries")]
async fn entries(
    state: web::Data<AppState>,
    query: crate::http::query::Query<EntriesQuery>,
) -> ApiResult<HttpResponse> {
    let start = match (
        number("start", query.start.as_deref())?,
        query
            .cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(cursor)
            .transpose()?,
    ) {
        (Some(start), Some(cursor)) if start != cursor => {
            return Err(ApiError::BadRequest(
                "give start or cursor, not both with different values".into(),
            ))
        }
        (Some(start), _) | (None, Some(start)) => start,
        (None, None) => 0,
    };
    let limit = number("limit", query.limit.as_deref())?.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}, got {limit}"
        )));
    }
    let rows = db::run(&state.pool, move |conn| {
        Ok(store::entries(conn, start, limit + 1)?)
    })
    .await?;
    let more = rows.len() as u64 > limit;
    let items: Vec<LogEntry> = rows
        .into_iter()
        .take(limit as usize)
        .map(|row| LogEntry {
            index: row.leaf_index.unsigned_abs(),
            leaf_input: row.leaf_input,
            leaf_hash: row.leaf_hash,
            agreement_id: row.agreement_id,
            event: row.event,
            logged_at: utc(row.logged_at),
        })
        .collect();
    let next_cursor = match items.last() {
        Some(last) if more => Some((last.index + 1).to_string()),
        _ => None,
    };
    Ok(HttpResponse::Ok().json(EntryPage { items, next_cursor }))
}

/// Which inclusion proof to give.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    /// The leaf's index (less than `tree_size`).
    #[param(value_type = u64, minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    pub leaf_index: Option<String>,
    /// The size of the tree to prove inclusion in, at most the log's size (default: the
    /// current size, as in the latest checkpoint).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 9_223_372_036_854_775_807_i64)]
    pub tree_size: Option<String>,
}

/// An RFC 9162 §2.1.3 inclusion proof (audit path) of one leaf in the tree of `tree_size`
/// leaves, to check against a checkpoint of that size.
#[utoipa::path(
    tag = "transparency",
    security(()),
    params(InclusionQuery),
    responses(
        (status = 200, description = "The proof", body = InclusionProof),
        (status = 400, description = "Missing or bad leaf_index, or a bad tree_size", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The log has not reached this tree_size (or, without tree_size, this leaf_index) yet", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "leaf_index is not below tree_size", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/transparency/proofs/inclusion")]
async fn inclusion(
    state: web::Data<AppState>,
    query: crate::http::query::Query<InclusionQuery>,
) -> ApiResult<HttpResponse> {
    let leaf_index = required("leaf_index", query.leaf_index.as_deref())?;
    let asked_size = positive("tree_size", query.tree_size.as_deref())?;
    // A leaf outside the tree the request itself names can never be proved: 422. A tree or
    // leaf the log has not reached yet may exist later: 404 (docs/API-DESIGN.md).
    if let Some(tree_size) = asked_size.filter(|size| leaf_index >= *size) {
        return Err(ApiError::Unprocessable(format!(
            "leaf_index {leaf_index} is not in a tree of {tree_size} leaves (leaf indexes run \
             from 0 to tree_size - 1)"
        )));
    }
    let proof = db::run(&state.pool, move |conn| {
        let log_size = store::tree_size(conn)?;
        let tree_size = within_log(asked_size, "tree_size", log_size)?;
        if leaf_index >= tree_size {
            return Err(ApiError::NotFound(format!(
                "leaf_index {leaf_index} is beyond the log, which has {log_size} leaves (leaf \
                 indexes run from 0 to the log's size - 1)"
            )));
        }
        let hashes = store::inclusion_proof(conn, leaf_index, tree_size)?;
        let leaf_hash = store::leaf_hash(conn, leaf_index)?.ok_or_else(|| {
            ApiError::Internal(format!("leaf {leaf_index} is counted but not stored"))
        })?;
        Ok(InclusionProof {
            leaf_index,
            tree_size,
            leaf_hash,
            hashes: base64_all(&hashes),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(proof))
}

/// Which consistency proof to give.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// The older tree's size, at least 1.
    #[param(value_type = u64, minimum = 1, maximum = 9_223_372_036_854_775_807_i64)]
    pub first: Option<String>,
    /// The newer tree's size, from `first` to the log's size (default: the current size).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 9_223_372_036_854_775_807_i64)]
    pub second: Option<String>,
}

/// An RFC 9162 §2.1.4 consistency proof that the tree of `first` leaves is a prefix of the
/// tree of `second`: nothing logged before was changed or removed.
#[utoipa::path(
    tag = "transparency",
    security(()),
    params(ConsistencyQuery),
    responses(
        (status = 200, description = "The proof", body = ConsistencyProof),
        (status = 400, description = "Missing or bad first or second", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The log has not reached this second (or, without second, this first) yet", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "first is larger than second", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/transparency/proofs/consistency")]
async fn consistency(
    state: web::Data<AppState>,
    query: crate::http::query::Query<ConsistencyQuery>,
) -> ApiResult<HttpResponse> {
    let first = required("first", query.first.as_deref())?;
    if first == 0 {
        return Err(ApiError::BadRequest(
            "first must be at least 1: every tree is consistent with the empty one".into(),
        ));
    }
    let asked_second = positive("second", query.second.as_deref())?;
    // As for inclusion: sizes in the wrong order never make a proof (422); a tree the log
    // has not reached yet may exist later (404).
    if let Some(second) = asked_second.filter(|second| first > *second) {
        return Err(ApiError::Unprocessable(format!(
            "first ({first}) must not be larger than second ({second})"
        )));
    }
    let proof = db::run(&state.pool, move |conn| {
        let log_size = store::tree_size(conn)?;
        let second = within_log(asked_second, "second", log_size)?;
        if first > second {
            return Err(ApiError::NotFound(format!(
                "first {first} is beyond the log, which has {log_size} leaves"
            )));
        }
        let hashes = store::consistency_proof(conn, first, second)?;
        Ok(ConsistencyProof {
            first,
            second,
            hashes: base64_all(&hashes),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(proof))
}

/// A tree size asked for, or the log's size; a tree the log has not reached yet is not
/// found (it may be later).
fn within_log(asked: Option<u64>, name: &str, log_size: u64) -> ApiResult<u64> {
    match asked {
        Some(size) if size > log_size => Err(ApiError::NotFound(format!(
            "{name} {size} is beyond the log, which has {log_size} leaves"
        ))),
        Some(size) => Ok(size),
        None => Ok(log_size),
    }
}

/// Largest index or size a parameter may name (the database stores them as BIGINT).
const MAX_NUMBER: u64 = i64::MAX as u64;

/// A non-negative decimal query parameter, if given.
fn number(name: &str, text: Option<&str>) -> ApiResult<Option<u64>> {
    let Some(text) = text else { return Ok(None) };
    let value = (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse::<u64>().ok())
        .flatten()
        .filter(|v| *v <= MAX_NUMBER);
    value.map(Some).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "{name} must be a whole number from 0 to {MAX_NUMBER}, written in decimal digits"
        ))
    })
}

/// A tree size, if given: at least 1, as the schema says (the empty tree has nothing to
/// prove).
fn positive(name: &str, text: Option<&str>) -> ApiResult<Option<u64>> {
    match number(name, text)? {
        Some(0) => Err(ApiError::BadRequest(format!("{name} must be at least 1"))),
        size => Ok(size),
    }
}

fn required(name: &str, text: Option<&str>) -> ApiResult<u64> {
    number(name, text)?.ok_or_else(|| ApiError::BadRequest(format!("{name} is required")))
}

fn cursor(text: &str) -> ApiResult<u64> {
    number("cursor", Some(text))
        .ok()
        .flatten()
        .ok_or_else(|| ApiError::BadRequest("cursor is not one this API issued".into()))
}

fn base64_all(hashes: &[Hash]) -> Vec<String> {
    // `Hash`'s Display is its standard base64.
    hashes.iter().map(Hash::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_plain_decimal_within_bigint() {
        assert_eq!(number("n", None).unwrap(), None);
        assert_eq!(number("n", Some("0")).unwrap(), Some(0));
        assert_eq!(number("n", Some("0042")).unwrap(), Some(42));
        assert_eq!(
            number("n", Some("9223372036854775807")).unwrap(),
            Some(MAX_NUMBER)
        );
        for bad in [
            "",
            "-1",
            "+1",
            "1.5",
            "1e3",
            " 1",
            "abc",
            "9223372036854775808",
            "99999999999999999999999",
        ] {
            let e = number("n", Some(bad)).unwrap_err();
            assert!(
                e.to_string().starts_with("n must be a whole number"),
                "{bad}: {e}"
            );
        }
    }
}
