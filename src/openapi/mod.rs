//! The OpenAPI document: info, tags and security schemes here; paths and schemas come from
//! the handlers' `#[utoipa::path]` annotations; [`exact`] makes it say what the server does
//! where the derives cannot.

pub mod exact;

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, RefOr, ResponseBuilder};
use utoipa::{OpenApi, PartialSchema, ToSchema};

use crate::error::{FieldError, Problem};
use crate::models::listing_search::SortOrder;
use crate::models::proposal::store::Direction;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Mutua API",
        description = "Partnership and knowledge-sharing marketplace: complementary partners, \
            mutual-benefit agreements and a transparent, verifiable agreement log.\n\n\
            Errors are RFC 9457 problem documents (`application/problem+json`); each `type` \
            resolves to a page describing the problem, `instance` and `request_id` name the \
            request. Lists use cursor pagination. `HEAD` works wherever `GET` does. A `GET` \
            that sends an `ETag` answers `If-None-Match` with `304 Not Modified`. \
            See docs/API-DESIGN.md for the conventions.",
        license(name = "MIT OR Apache-2.0")
    ),
    tags(
        (name = "auth", description = "Accounts, sessions and tokens"),
        (name = "orgs", description = "Organisations, members, invitations and API keys"),
        (name = "listings", description = "Offers and needs: the catalogue and its lifecycle"),
        (name = "matching", description = "Complementary partners and fitting listings"),
        (name = "moderation", description = "Review queue, decisions, suspensions and the public moderation log"),
        (name = "proposals", description = "Negotiating mutual-benefit exchanges: proposals and their immutable revisions"),
        (name = "agreements", description = "Agreements, their completion, endorsements, reciprocity balances and partner histories"),
        (name = "events", description = "An organisation's event feed: every change it cares about, in commit order"),
        (name = "reports", description = "Reports of abuse and their outcomes"),
        (name = "transparency", description = "The public, append-only agreement log: signed checkpoints, entries and RFC 9162 proofs"),
        (name = "admin", description = "Platform administration"),
        (name = "ops", description = "Health, readiness and metrics"),
    )
)]
struct BaseDoc;

/// The document before the routes are added.
pub fn base() -> Document {
    BaseDoc::openapi()
}

/// Adds what the routes do not carry: security schemes, the problem schemas, the schemas
/// of query-only enums, a `default` problem response on every operation, and the rate
/// limits (429 and the `RateLimit` fields) on every limited operation.
pub fn finish(doc: &mut Document) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            Http::builder()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT or API key")
                .description(Some(
                    "An access token from /api/v1/auth/login, or an organisation API key \
                     (`mutua_…`), both as `Authorization: Bearer <token>`.",
                ))
                .build(),
        ),
    );
    components
        .schemas
        .insert(Problem::name().into_owned(), Problem::schema());
    components
        .schemas
        .insert(FieldError::name().into_owned(), FieldError::schema());
    // utoipa's `IntoParams` refers to a query parameter's enum by name without collecting
    // its schema; the enums only query parameters use are registered here, so every `$ref`
    // resolves (the `openapi_document_is_valid` test finds any that does not).
    components
        .schemas
        .insert(SortOrder::name().into_owned(), SortOrder::schema());
    components
        .schemas
        .insert(Direction::name().into_owned(), Direction::schema());
    let default = ResponseBuilder::new()
        .description("Any other error, as an RFC 9457 problem document")
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                    "Problem",
                ))))
                .build(),
        )
        .build();
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            op.responses
                .responses
                .entry("default".into())
                .or_insert_with(|| default.clone().into());
        }
    }
    crate::http::rate_limit::describe(doc);
    // The last passes work on the document's JSON form: they read and rewrite it the way
    // a client generator reads it.
    // Built once, at start-up (and by `mutua openapi`): a document that does not read back
    // is a bug of these passes, so it stops the process rather than serving half a contract.
    let mut value = serde_json::to_value(&*doc).expect("the OpenAPI document serialises");
    exact::apply(&mut value);
    *doc = serde_json::from_value(value).expect("the finished OpenAPI document reads back");
}
