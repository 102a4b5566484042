-- Periodic jobs (housekeeping, telling expiries), one row each. Any number of processes run
-- them: a runner claims a due job by taking a lease (PostgreSQL: the row is picked with
-- FOR UPDATE SKIP LOCKED; SQLite: under the write lock), runs it, and sets its next due
-- time. A runner that dies leaves a lease that runs out, and the next runner takes over.
CREATE TABLE jobs (
    name TEXT PRIMARY KEY NOT NULL,
    due_at TIMESTAMP NOT NULL,
    claimed_by TEXT,
    lease_until TIMESTAMP,
    last_run_at TIMESTAMP,
    -- How many rows the last run handled (purged, or proposals told).
    last_count BIGINT
);

-- What the jobs look for, each one index range.
CREATE INDEX proposals_open_expiry ON proposals (status, expires_at);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
CREATE INDEX sessions_revoked ON sessions (revoked_at);
CREATE INDEX idempotency_records_age ON idempotency_records (created_at);
CREATE INDEX invitations_expiry ON invitations (expires_at);
