-- Proposals and their immutable revisions, agreements, endorsements, blocks between
-- organisations, and the transparency log (leaves, the Go checksum database's stored
-- hashes, the serialising log-state row and the signing key shared by every instance).

CREATE TABLE proposals (
    id TEXT PRIMARY KEY NOT NULL,
    from_org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    to_org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('exchange', 'trial')),
    confidential BOOLEAN NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'accepted', 'declined', 'withdrawn', 'expired')),
    latest_revision INTEGER NOT NULL,
    expires_at TIMESTAMP,
    agreement_id TEXT,
    closed_reason TEXT,
    closed_at TIMESTAMP,
    created_by TEXT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX proposals_from ON proposals (from_org_id, id);
CREATE INDEX proposals_to ON proposals (to_org_id, id);
CREATE INDEX proposals_pair ON proposals (from_org_id, to_org_id, status, closed_at);

-- The primary key makes two racing counter-offers to one revision store only one.
CREATE TABLE proposal_revisions (
    proposal_id TEXT NOT NULL REFERENCES proposals (id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    author_org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    author_user_id TEXT REFERENCES users (id),
    terms TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (proposal_id, number)
);

CREATE TABLE agreements (
    id TEXT PRIMARY KEY NOT NULL,
    proposal_id TEXT NOT NULL REFERENCES proposals (id) ON DELETE CASCADE,
    revision INTEGER NOT NULL,
    from_org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    to_org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('exchange', 'trial')),
    confidential BOOLEAN NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'completed', 'cancelled')),
    terms TEXT NOT NULL,
    terms_salt TEXT NOT NULL,
    terms_commitment TEXT NOT NULL,
    from_confirmed_at TIMESTAMP,
    to_confirmed_at TIMESTAMP,
    cancelled_by_org_id TEXT REFERENCES orgs (id) ON DELETE CASCADE,
    cancel_reason TEXT,
    created_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP,
    cancelled_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL
);
-- One agreement per proposal, whatever races.
CREATE UNIQUE INDEX agreements_proposal ON agreements (proposal_id);
CREATE INDEX agreements_from ON agreements (from_org_id, id);
CREATE INDEX agreements_to ON agreements (to_org_id, id);
CREATE INDEX agreements_registry ON agreements (confidential, status, id);

-- What flows which way in each agreement, one row per item (derived from the terms in the
-- accepting transaction), for reciprocity balances and partner histories.
CREATE TABLE agreement_items (
    agreement_id TEXT NOT NULL REFERENCES agreements (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    giver_org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    receiver_org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    category TEXT NOT NULL CHECK (category IN ('expertise', 'resource', 'referral', 'support', 'other')),
    PRIMARY KEY (agreement_id, position)
);
CREATE INDEX agreement_items_giver ON agreement_items (giver_org_id, agreement_id);
CREATE INDEX agreement_items_receiver ON agreement_items (receiver_org_id, agreement_id);

CREATE TABLE endorsements (
    id TEXT PRIMARY KEY NOT NULL,
    agreement_id TEXT NOT NULL REFERENCES agreements (id) ON DELETE CASCADE,
    author_org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    endorsed_org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    author_user_id TEXT REFERENCES users (id),
    text TEXT NOT NULL,
    removed_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX endorsements_one_per_party ON endorsements (agreement_id, author_org_id);
CREATE INDEX endorsements_endorsed ON endorsements (endorsed_org_id, id);

-- `org_id` no longer receives proposals from `blocked_org_id`.
CREATE TABLE org_blocks (
    org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    blocked_org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, blocked_org_id)
);

-- The one row every append locks and bumps, so appends are serialised in the database.
CREATE TABLE log_state (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    size BIGINT NOT NULL
);
INSERT INTO log_state (id, size) VALUES (1, 0);

-- Leaves: `leaf_input` is the exact hashed text (RFC 8785 JSON); no foreign key, the log
-- outlives what it describes.
CREATE TABLE log_leaves (
    leaf_index INTEGER PRIMARY KEY NOT NULL,
    agreement_id TEXT NOT NULL,
    event TEXT NOT NULL CHECK (event IN ('agreement.accepted', 'agreement.completed', 'agreement.cancelled')),
    logged_at TIMESTAMP NOT NULL,
    leaf_input TEXT NOT NULL,
    leaf_hash TEXT NOT NULL
);
CREATE INDEX log_leaves_agreement ON log_leaves (agreement_id, leaf_index);

-- Every complete subtree's hash by its stored-hash index (golang.org/x/mod/sumdb/tlog's
-- layout): an append writes O(log n) rows; a root or proof reads O(log n).
CREATE TABLE log_hashes (
    hash_index INTEGER PRIMARY KEY NOT NULL,
    hash BLOB NOT NULL
);

-- The log's Ed25519 signing key when it is kept in the database (PostgreSQL without a
-- configured key): generated once, so every instance signs with the same key.
CREATE TABLE log_signing_keys (
    origin TEXT PRIMARY KEY NOT NULL,
    signing_key TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- Stored leaves and hashes are never changed or removed.
CREATE TRIGGER log_leaves_no_update BEFORE UPDATE ON log_leaves
BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END;
CREATE TRIGGER log_leaves_no_delete BEFORE DELETE ON log_leaves
BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END;
CREATE TRIGGER log_hashes_no_update BEFORE UPDATE ON log_hashes
BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END;
CREATE TRIGGER log_hashes_no_delete BEFORE DELETE ON log_hashes
BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END;

-- Reports may now name proposals and endorsements, and a moderator may remove an
-- endorsement. SQLite cannot alter a CHECK constraint: the table is rebuilt (nothing
-- refers to it).
CREATE TABLE reports_new (
    id TEXT PRIMARY KEY NOT NULL,
    reporter_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    target_type TEXT NOT NULL CHECK (target_type IN ('listing', 'org', 'user', 'agreement', 'proposal', 'endorsement')),
    target_id TEXT NOT NULL,
    reason TEXT NOT NULL CHECK (reason IN ('spam', 'misleading', 'manipulation', 'inappropriate', 'other')),
    details TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    resolution TEXT CHECK (resolution IN ('dismiss', 'remove_listing', 'suspend_org', 'suspend_user', 'remove_endorsement')),
    resolution_note TEXT,
    resolved_by TEXT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP
);
INSERT INTO reports_new SELECT * FROM reports;
DROP TABLE reports;
ALTER TABLE reports_new RENAME TO reports;
CREATE UNIQUE INDEX reports_one_open ON reports (reporter_id, target_type, target_id) WHERE status = 'open';
CREATE INDEX reports_status ON reports (status, id);
CREATE INDEX reports_target ON reports (target_type, target_id);
