//! Side effects of a domain change: the records a change writes beside itself — a
//! moderation-log entry, a transparency-log leaf (`crate::transparency::Leaf`, appended by
//! `transparency::store`); the organisation events of the outbox as proposals, agreements
//! and webhooks arrive. Each is a typed value with
//! constructors (e.g. [`crate::models::modlog::ModAction::org_status`]) and is written here,
//! by the same transaction as the change it describes, so a change and its effects are
//! stored together or not at all. Nothing outside a domain transaction emits.

use diesel::QueryResult;

use crate::db::DbConnection;

/// A record written beside a domain change.
pub trait Effect {
    /// Stores the record on the change's connection (inside its transaction).
    fn write(self, conn: &mut DbConnection) -> QueryResult<()>;
}

/// Writes a change's side effect; call inside the change's transaction.
pub fn emit(conn: &mut DbConnection, effect: impl Effect) -> QueryResult<()> {
    effect.write(conn)
}
