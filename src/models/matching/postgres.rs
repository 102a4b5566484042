//! Matching's candidate postings on PostgreSQL.

use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

use super::query::{Wanted, POSTINGS_PER_TAG};

/// PostgreSQL: every tag in one statement (a LATERAL index range per tag), so a match costs
/// one round trip instead of one per tag. The statement text is the same for every request
/// (the tags are one array parameter, absent filters are NULL), so diesel keeps it prepared
/// and PostgreSQL need not plan it again each time.
pub(super) fn postings_lateral(
    conn: &mut diesel::PgConnection,
    wanted: &Wanted,
) -> QueryResult<Vec<(String, String, u32)>> {
    let vocabulary = wanted.vocabulary;
    if wanted.tags.is_empty() {
        return Ok(Vec::new());
    }
    let query = LateralPostings {
        tags: wanted
            .tags
            .iter()
            .map(|&t| vocabulary.tags[t as usize].clone())
            .collect(),
        wanted,
    };
    let rows: Vec<(String, String, String)> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(listing_id, org_id, tag)| {
            let index = vocabulary.index(&tag)?;
            Some((listing_id, org_id, index))
        })
        .collect())
}

/// The statement of [`postings_lateral`].
struct LateralPostings<'a> {
    /// The wanted tags by name, bound as one array.
    tags: Vec<String>,
    wanted: &'a Wanted<'a>,
}

impl diesel::query_builder::QueryId for LateralPostings<'_> {
    type QueryId = ();
    // Cached by its (fixed) SQL text.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for LateralPostings<'_> {
    type SqlType = (Text, Text, Text);
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for LateralPostings<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, Nullable, Timestamp};
        out.push_sql("SELECT found.listing_id, found.org_id, found.tag FROM unnest(");
        out.push_bind_param::<Array<Text>, _>(&self.tags)?;
        out.push_sql(
            ") AS wanted (tag) CROSS JOIN LATERAL (SELECT p.listing_id, p.org_id, p.tag \
             FROM listing_tags AS p WHERE p.tag = wanted.tag AND p.status = 'published' \
             AND p.kind = ",
        );
        out.push_bind_param::<Text, _>(self.wanted.kind)?;
        out.push_sql(" AND p.org_id <> ");
        out.push_bind_param::<Text, _>(self.wanted.exclude_org)?;
        out.push_sql(" AND (p.expires_at IS NULL OR p.expires_at > ");
        out.push_bind_param::<Timestamp, _>(&self.wanted.now)?;
        out.push_sql(") AND p.org_id NOT IN (SELECT id FROM orgs WHERE status = 'suspended')");
        for (column, value) in [
            ("industry", &self.wanted.scope.industry),
            ("region", &self.wanted.scope.region),
            ("category", &self.wanted.scope.category),
        ] {
            out.push_sql(" AND (CAST(");
            out.push_bind_param::<Nullable<Text>, _>(value)?;
            out.push_sql(&format!(" AS TEXT) IS NULL OR p.{column} = "));
            out.push_bind_param::<Nullable<Text>, _>(value)?;
            out.push_sql(")");
        }
        out.push_sql(" AND (CAST(");
        out.push_bind_param::<Nullable<Bool>, _>(&self.wanted.scope.trial)?;
        out.push_sql(" AS BOOLEAN) IS NULL OR p.trial_available = ");
        out.push_bind_param::<Nullable<Bool>, _>(&self.wanted.scope.trial)?;
        out.push_sql(&format!(
            ") ORDER BY p.listing_id DESC LIMIT {POSTINGS_PER_TAG}) AS found"
        ));
        Ok(())
    }
}

impl RunQueryDsl<diesel::PgConnection> for LateralPostings<'_> {}
