-- Webhooks: an organisation's endpoints that receive its events as signed POSTs.
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    -- Comma-separated event types; empty: every type.
    event_types TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    -- Set when a delivery ran out of retries; the endpoint is then paused (enabled false)
    -- until it is enabled again.
    failing_since TIMESTAMP,
    -- The signing secret (needed in clear to sign), and the one it replaced, still signed
    -- with until `previous_secret_until`.
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_until TIMESTAMP,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX webhooks_org ON webhooks (org_id, id);

-- One event to one endpoint, written with the event (same transaction). A runner claims
-- due ones with a lease (PostgreSQL: FOR UPDATE SKIP LOCKED), so several processes never
-- send one attempt twice and a crashed runner's claims are taken over.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_seq BIGINT NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    -- pending | delivered | failed
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_by TEXT,
    lease_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_age ON webhook_deliveries (created_at);

-- Every attempt of a delivery: what the endpoint answered (or why nothing came back).
CREATE TABLE webhook_attempts (
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    attempted_at TIMESTAMP NOT NULL,
    status_code INTEGER,
    error TEXT,
    latency_ms BIGINT NOT NULL,
    -- The start of the response body (at most 512 bytes, as text).
    response_snippet TEXT,
    PRIMARY KEY (delivery_id, number)
);
