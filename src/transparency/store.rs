//! The log in the database. Leaves live in `log_leaves`; every complete subtree's hash lives
//! in `log_hashes` at its stored-hash index (the layout of Go's `golang.org/x/mod/sumdb/tlog`,
//! which `tlog_tiles` ports), so an append writes O(log n) hashes and a root or a proof reads
//! O(log n), without ever rehashing leaves. Appends are serialised by the `log_state` row in
//! the database, never in process memory: several API processes may share one PostgreSQL.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;

use base64::prelude::*;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use tlog_tiles::{Hash, HashReader, HASH_SIZE};

use super::leaf::{Leaf, LogEvent};
use crate::db::schema::{log_hashes, log_leaves, log_state};
use crate::db::{self, DbConnection};
use crate::models::effects::Effect;

/// A stored leaf: its position, the event it records and its exact hashed text.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = log_leaves)]
pub struct StoredLeaf {
    /// Position in the log, from 0.
    pub leaf_index: i64,
    /// The agreement the event belongs to.
    pub agreement_id: String,
    /// What happened.
    pub event: LogEvent,
    /// When it was logged (UTC).
    pub logged_at: NaiveDateTime,
    /// The exact hashed text (RFC 8785 JSON).
    pub leaf_input: String,
    /// `base64(SHA-256(0x00 ‖ leaf_input))`.
    pub leaf_hash: String,
}

#[derive(Insertable)]
#[diesel(table_name = log_hashes)]
struct StoredHash {
    hash_index: i64,
    hash: Vec<u8>,
}

/// Rows per multi-row INSERT: well below SQLite's limit of bound parameters per statement.
const INSERT_CHUNK: usize = 500;

impl Effect for Leaf {
    /// Appends the leaf inside the caller's transaction.
    fn write(self, conn: &mut DbConnection) -> QueryResult<()> {
        append(conn, std::slice::from_ref(&self)).map(|_| ())
    }
}

/// Appends leaves in order and returns their indexes. Joins the caller's transaction (as a
/// savepoint) or opens a write transaction of its own, so the log is never left with a size
/// that its hashes do not back.
pub fn append(conn: &mut DbConnection, leaves: &[Leaf]) -> QueryResult<Range<u64>> {
    if leaves.is_empty() {
        let size = tree_size(conn)?;
        return Ok(size..size);
    }
    db::write_transaction(conn, |conn| {
        let inputs: Vec<String> = leaves.iter().map(Leaf::input).collect();
        let hashes: Vec<Hash> = inputs
            .iter()
            .map(|input| tlog_tiles::record_hash(input.as_bytes()))
            .collect();
        let positions = append_records(conn, &hashes)?;
        let mut rows = Vec::with_capacity(leaves.len());
        for ((n, leaf), (input, hash)) in positions
            .clone()
            .zip(leaves)
            .zip(inputs.into_iter().zip(&hashes))
        {
            rows.push(StoredLeaf {
                leaf_index: to_i64(n)?,
                agreement_id: leaf.agreement_id.clone(),
                event: leaf.event,
                logged_at: leaf.logged_at,
                leaf_input: input,
                leaf_hash: BASE64_STANDARD.encode(hash.0),
            });
        }
        // Multi-row inserts run on the concrete connection (`MultiConnection` cannot).
        for chunk in rows.chunks(INSERT_CHUNK) {
            crate::native!(&mut *conn, |c| diesel::insert_into(log_leaves::table)
                .values(chunk)
                .execute(c))?;
        }
        Ok(positions)
    })
}

/// Appends records by their RFC 6962 leaf hashes: reserves their positions and stores the
/// hashes of every subtree they complete. Call inside a write transaction; [`append`] adds
/// the leaf rows.
pub(crate) fn append_records(conn: &mut DbConnection, records: &[Hash]) -> QueryResult<Range<u64>> {
    let first = reserve(conn, records.len() as u64)?;
    let mut new_hashes: Vec<StoredHash> = Vec::new();
    {
        // Hashes written earlier in this batch are not in the table yet.
        let mut pending: HashMap<u64, Hash> = HashMap::new();
        let reader = DbHashes::new(conn);
        for (offset, record) in records.iter().enumerate() {
            let n = first + offset as u64;
            let hashes = {
                let batch = BatchHashes {
                    db: &reader,
                    pending: &pending,
                };
                reader.finish(tlog_tiles::stored_hashes_for_record_hash(
                    n, *record, &batch,
                ))?
            };
            let start = tlog_tiles::stored_hash_index(0, n);
            for (i, hash) in hashes.into_iter().enumerate() {
                let index = start + i as u64;
                pending.insert(index, hash);
                new_hashes.push(StoredHash {
                    hash_index: to_i64(index)?,
                    hash: hash.0.to_vec(),
                });
            }
        }
    }
    for chunk in new_hashes.chunks(INSERT_CHUNK) {
        crate::native!(&mut *conn, |c| diesel::insert_into(log_hashes::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(first..first + records.len() as u64)
}

/// Takes `count` positions at the end of the log and returns the first. The UPDATE locks
/// the `log_state` row until the transaction ends (PostgreSQL: a row lock; SQLite: the
/// write lock, which `BEGIN IMMEDIATE` already holds), so concurrent appenders, in this
/// process or another, queue here and each then reads the hashes its predecessor committed.
fn reserve(conn: &mut DbConnection, count: u64) -> QueryResult<u64> {
    let size: i64 = diesel::update(log_state::table.find(1))
        .set(log_state::size.eq(log_state::size + to_i64(count)?))
        .returning(log_state::size)
        .get_result(conn)?;
    Ok(to_u64(size)? - count)
}

/// The number of leaves in the log.
pub fn tree_size(conn: &mut DbConnection) -> QueryResult<u64> {
    // On the concrete connection: every checkpoint and proof starts here.
    let size: i64 = crate::native!(conn, |c| log_state::table
        .find(1)
        .select(log_state::size)
        .get_result(c))?;
    to_u64(size)
}

/// The RFC 6962 root hash of the first `size` leaves (`size` at most the log's size).
pub fn tree_hash(conn: &mut DbConnection, size: u64) -> QueryResult<Hash> {
    let reader = DbHashes::new(conn);
    let result = tlog_tiles::tree_hash(size, &reader);
    reader.finish(result)
}

/// The RFC 9162 §2.1.3 inclusion proof (audit path) of leaf `leaf_index` in the tree of
/// `tree_size` leaves; needs `leaf_index < tree_size <= ` the log's size.
pub fn inclusion_proof(
    conn: &mut DbConnection,
    leaf_index: u64,
    tree_size: u64,
) -> QueryResult<Vec<Hash>> {
    let reader = DbHashes::new(conn);
    let result = tlog_tiles::prove_record(tree_size, leaf_index, &reader);
    reader.finish(result)
}

/// The RFC 9162 §2.1.4 consistency proof from the tree of `first` leaves to the tree of
/// `second`; needs `1 <= first <= second <=` the log's size.
pub fn consistency_proof(
    conn: &mut DbConnection,
    first: u64,
    second: u64,
) -> QueryResult<Vec<Hash>> {
    let reader = DbHashes::new(conn);
    let result = tlog_tiles::prove_tree(second, first, &reader);
    reader.finish(result)
}

/// Up to `limit` leaves from index `start` on, in log order.
pub fn entries(conn: &mut DbConnection, start: u64, limit: u64) -> QueryResult<Vec<StoredLeaf>> {
    log_leaves::table
        .filter(log_leaves::leaf_index.ge(to_i64(start)?))
        .order(log_leaves::leaf_index)
        .limit(to_i64(limit)?)
        .select(StoredLeaf::as_select())
        .load(conn)
}

/// The leaf at `index`, if the log has one there.
pub fn leaf(conn: &mut DbConnection, index: u64) -> QueryResult<Option<StoredLeaf>> {
    log_leaves::table
        .find(to_i64(index)?)
        .select(StoredLeaf::as_select())
        .first(conn)
        .optional()
}

/// The hash (base64) of the leaf at `index`, if the log has one there; reads only that
/// column, for inclusion proofs.
pub fn leaf_hash(conn: &mut DbConnection, index: u64) -> QueryResult<Option<String>> {
    let index = to_i64(index)?;
    crate::native!(conn, |c| log_leaves::table
        .find(index)
        .select(log_leaves::leaf_hash)
        .first(c)
        .optional())
}

/// The leaves of one agreement, in log order.
pub fn agreement_leaves(
    conn: &mut DbConnection,
    agreement_id: &str,
) -> QueryResult<Vec<StoredLeaf>> {
    log_leaves::table
        .filter(log_leaves::agreement_id.eq(agreement_id))
        .order(log_leaves::leaf_index)
        .select(StoredLeaf::as_select())
        .load(conn)
}

/// Reads stored hashes from `log_hashes` on one connection, one query per
/// [`HashReader::read_hashes`] call. `tlog_tiles`' reader trait takes `&self` and knows only
/// its own error type, so the connection sits in a `RefCell` and a database error is kept
/// here until [`DbHashes::finish`] hands it back.
pub struct DbHashes<'c> {
    conn: RefCell<&'c mut DbConnection>,
    failure: RefCell<Option<diesel::result::Error>>,
}

impl<'c> DbHashes<'c> {
    /// A reader over this connection.
    pub fn new(conn: &'c mut DbConnection) -> Self {
        DbHashes {
            conn: RefCell::new(conn),
            failure: RefCell::new(None),
        }
    }

    /// Turns the result of a `tlog_tiles` call made with this reader into a query result:
    /// the database error it met, if any, or a corrupt-log error for the library's own.
    pub fn finish<T>(&self, result: Result<T, tlog_tiles::Error>) -> QueryResult<T> {
        if let Some(e) = self.failure.borrow_mut().take() {
            return Err(e);
        }
        result.map_err(|e| corrupt(format!("tlog computation failed: {e}")))
    }

    fn load(&self, indexes: &[u64]) -> QueryResult<Vec<Hash>> {
        let wanted = indexes
            .iter()
            .map(|&i| to_i64(i))
            .collect::<QueryResult<Vec<i64>>>()?;
        let mut conn = self.conn.borrow_mut();
        let found: Vec<(i64, Vec<u8>)> = crate::native!(&mut **conn, |c| log_hashes::table
            .filter(log_hashes::hash_index.eq_any(&wanted))
            .select((log_hashes::hash_index, log_hashes::hash))
            .load(c))?;
        let found: HashMap<i64, Vec<u8>> = found.into_iter().collect();
        wanted
            .iter()
            .map(|index| {
                let bytes = found
                    .get(index)
                    .ok_or_else(|| corrupt(format!("stored hash {index} is missing")))?;
                let array: [u8; HASH_SIZE] = bytes.as_slice().try_into().map_err(|_| {
                    corrupt(format!("stored hash {index} has {} bytes", bytes.len()))
                })?;
                Ok(Hash(array))
            })
            .collect()
    }
}

impl HashReader for DbHashes<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        self.load(indexes).map_err(|e| {
            *self.failure.borrow_mut() = Some(e);
            tlog_tiles::Error::IndexesNotInTree
        })
    }
}

/// Hashes of the batch being appended first, then the table.
struct BatchHashes<'a, 'c> {
    db: &'a DbHashes<'c>,
    pending: &'a HashMap<u64, Hash>,
}

impl HashReader for BatchHashes<'_, '_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        let missing: Vec<u64> = indexes
            .iter()
            .copied()
            .filter(|i| !self.pending.contains_key(i))
            .collect();
        let loaded = if missing.is_empty() {
            Vec::new()
        } else {
            self.db.read_hashes(&missing)?
        };
        let loaded: HashMap<u64, Hash> = missing.into_iter().zip(loaded).collect();
        // `tlog_tiles` panics on a short answer; a missing hash must be an error instead.
        indexes
            .iter()
            .map(|i| self.pending.get(i).or_else(|| loaded.get(i)).copied())
            .collect::<Option<Vec<Hash>>>()
            .ok_or(tlog_tiles::Error::IndexesNotInTree)
    }
}

fn corrupt(message: String) -> diesel::result::Error {
    diesel::result::Error::DeserializationError(message.into())
}

fn to_i64(value: u64) -> QueryResult<i64> {
    i64::try_from(value).map_err(|_| corrupt(format!("log position {value} is out of range")))
}

fn to_u64(value: i64) -> QueryResult<u64> {
    u64::try_from(value).map_err(|_| corrupt(format!("stored log size {value} is negative")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::now;
    use diesel::SqliteConnection;
    use sha2::{Digest, Sha256};

    fn log_db() -> DbConnection {
        let mut conn = DbConnection::Sqlite(SqliteConnection::establish(":memory:").unwrap());
        db::migrate(&mut conn).unwrap();
        conn
    }

    fn leaf(i: usize) -> Leaf {
        Leaf {
            agreement_id: format!("agreement-{i}"),
            event: LogEvent::Accepted,
            logged_at: now(),
            from_org_id: "org-a".into(),
            to_org_id: "org-b".into(),
            kind: "exchange".into(),
            terms_commitment: "commitment".into(),
            terms: None,
        }
    }

    // RFC 6962 §2.1, written out independently of `tlog_tiles`.
    fn naive_root(leaves: &[Vec<u8>]) -> [u8; 32] {
        match leaves.len() {
            0 => Sha256::digest(b"").into(),
            1 => Sha256::new()
                .chain_update([0u8])
                .chain_update(&leaves[0])
                .finalize()
                .into(),
            n => {
                // The largest power of two smaller than n.
                let k = 1usize << (n - 1).ilog2();
                Sha256::new()
                    .chain_update([1u8])
                    .chain_update(naive_root(&leaves[..k]))
                    .chain_update(naive_root(&leaves[k..]))
                    .finalize()
                    .into()
            }
        }
    }

    #[test]
    fn appended_leaves_give_the_rfc_6962_root_at_every_size() {
        let mut conn = log_db();
        let mut inputs = Vec::new();
        for i in 0..64 {
            let l = leaf(i);
            inputs.push(l.input().into_bytes());
            db::write_transaction(&mut conn, |c| crate::models::effects::emit(c, l)).unwrap();
            let size = tree_size(&mut conn).unwrap();
            assert_eq!(size, i as u64 + 1);
            assert_eq!(tree_hash(&mut conn, size).unwrap().0, naive_root(&inputs));
        }
        for size in 0..=64 {
            assert_eq!(
                tree_hash(&mut conn, size).unwrap().0,
                naive_root(&inputs[..size as usize]),
                "size {size}"
            );
        }
        let stored = entries(&mut conn, 10, 3).unwrap();
        assert_eq!(
            stored.iter().map(|l| l.leaf_index).collect::<Vec<_>>(),
            [10, 11, 12]
        );
        assert_eq!(stored[0].leaf_input.as_bytes(), inputs[10]);
        assert_eq!(
            stored[0].leaf_hash,
            BASE64_STANDARD.encode(tlog_tiles::record_hash(&inputs[10]).0)
        );
    }

    #[test]
    fn a_batch_append_stores_what_single_appends_store() {
        let leaves: Vec<Leaf> = (0..37).map(leaf).collect();
        let mut one_by_one = log_db();
        for l in &leaves {
            append(&mut one_by_one, std::slice::from_ref(l)).unwrap();
        }
        let mut batched = log_db();
        assert_eq!(append(&mut batched, &leaves[..5]).unwrap(), 0..5);
        assert_eq!(append(&mut batched, &leaves[5..]).unwrap(), 5..37);
        let all = |conn: &mut DbConnection| -> Vec<(i64, Vec<u8>)> {
            log_hashes::table
                .order(log_hashes::hash_index)
                .select((log_hashes::hash_index, log_hashes::hash))
                .load(conn)
                .unwrap()
        };
        let hashes = all(&mut batched);
        assert_eq!(hashes, all(&mut one_by_one));
        assert_eq!(hashes.len() as u64, tlog_tiles::stored_hash_count(37));
        assert_eq!(entries(&mut batched, 0, 100).unwrap().len(), 37);
    }

    #[test]
    fn a_failed_transaction_leaves_no_trace() {
        let mut conn = log_db();
        append(&mut conn, &[leaf(0)]).unwrap();
        let result: QueryResult<()> = db::write_transaction(&mut conn, |c| {
            append(c, &[leaf(1), leaf(2)])?;
            Err(diesel::result::Error::RollbackTransaction)
        });
        assert!(result.is_err());
        assert_eq!(tree_size(&mut conn).unwrap(), 1);
        assert_eq!(entries(&mut conn, 0, 10).unwrap().len(), 1);
        assert_eq!(append(&mut conn, &[leaf(1)]).unwrap(), 1..2);
    }

    #[test]
    fn a_missing_hash_is_an_error_not_a_panic() {
        let mut conn = log_db();
        append(&mut conn, &[leaf(0), leaf(1), leaf(2)]).unwrap();
        // A size beyond the log needs hashes that were never written.
        assert!(tree_hash(&mut conn, 9).is_err());
        assert!(inclusion_proof(&mut conn, 1, 9).is_err());
        assert!(consistency_proof(&mut conn, 2, 9).is_err());
        assert!(inclusion_proof(&mut conn, 3, 3).is_err());
        assert!(consistency_proof(&mut conn, 0, 3).is_err());
    }
}
