//! Blocks: an organisation that no longer wants proposals from another says so, and the
//! other can no longer send it any (403).

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::user::parse_uuid;
use super::utc;
use crate::db::schema::org_blocks;
use crate::db::DbConnection;
use crate::error::ApiError;

/// A stored block: `org_id` receives no proposals from `blocked_org_id`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = org_blocks)]
pub struct Block {
    pub org_id: String,
    pub blocked_org_id: String,
    pub created_at: NaiveDateTime,
}

/// A block as its organisation sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BlockView {
    /// The blocking organisation.
    pub blocker: uuid::Uuid,
    /// The blocked organisation.
    pub org_id: uuid::Uuid,
    pub created_at: DateTime<Utc>,
}

impl Block {
    /// The view for the blocking organisation.
    pub fn view(&self) -> Result<BlockView, ApiError> {
        Ok(BlockView {
            blocker: parse_uuid(&self.org_id)?,
            org_id: parse_uuid(&self.blocked_org_id)?,
            created_at: utc(self.created_at),
        })
    }

    /// The block of `blocked` by `org`, if any.
    pub fn find(conn: &mut DbConnection, org: &str, blocked: &str) -> QueryResult<Option<Block>> {
        org_blocks::table
            .find((org, blocked))
            .select(Block::as_select())
            .first(conn)
            .optional()
    }

    /// Stores the block.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(org_blocks::table)
            .values(self)
            .execute(conn)
            .map(|_| ())
    }

    /// Lifts the block; false if there was none.
    pub fn delete(conn: &mut DbConnection, org: &str, blocked: &str) -> QueryResult<bool> {
        diesel::delete(org_blocks::table.find((org, blocked)))
            .execute(conn)
            .map(|n| n == 1)
    }

    /// One page of an organisation's blocks, in the blocked organisations' id order.
    pub fn list(
        conn: &mut DbConnection,
        org: &str,
        after: Option<&str>,
        limit: i64,
    ) -> QueryResult<Vec<Block>> {
        let mut query = org_blocks::table
            .filter(org_blocks::org_id.eq(org))
            .select(Block::as_select())
            .into_boxed();
        if let Some(id) = after {
            query = query.filter(org_blocks::blocked_org_id.gt(id.to_owned()));
        }
        query
            .order(org_blocks::blocked_org_id.asc())
            .limit(limit)
            .load(conn)
    }
}
