-- The organisations' events (a transactional outbox): each written by the transaction of
-- the change it describes. `seq` is taken from `event_state` under that row's lock, held
-- until the writer commits, so sequence numbers are handed out in commit order and a
-- reader that pages by `seq` never sees a later number before an earlier one commits.
CREATE TABLE event_state (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    last_seq BIGINT NOT NULL
);
INSERT INTO event_state (id, last_seq) VALUES (1, 0);

CREATE TABLE events (
    seq BIGINT PRIMARY KEY NOT NULL,
    id TEXT NOT NULL UNIQUE,
    org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    -- The resource as the API shows it to this organisation, as JSON.
    data TEXT NOT NULL
);
-- An organisation's feed is one range of this index.
CREATE INDEX events_org ON events (org_id, seq);
