-- Matching reads tag postings together with the columns it filters on, so one index range
-- answers "the newest live listings of kind K carrying tag T" without visiting `listings`.
-- The application rewrites a listing's rows whenever the listing changes (src/models/listing.rs).
ALTER TABLE listing_tags ADD COLUMN org_id TEXT NOT NULL DEFAULT '';
ALTER TABLE listing_tags ADD COLUMN kind TEXT NOT NULL DEFAULT '';
ALTER TABLE listing_tags ADD COLUMN status TEXT NOT NULL DEFAULT '';
ALTER TABLE listing_tags ADD COLUMN industry TEXT NOT NULL DEFAULT '';
ALTER TABLE listing_tags ADD COLUMN category TEXT NOT NULL DEFAULT '';
ALTER TABLE listing_tags ADD COLUMN region TEXT;
ALTER TABLE listing_tags ADD COLUMN trial_available BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE listing_tags ADD COLUMN expires_at TIMESTAMP;
UPDATE listing_tags AS t
SET org_id = l.org_id, kind = l.kind, status = l.status, industry = l.industry,
    category = l.category, region = l.region, trial_available = l.trial_available,
    expires_at = l.expires_at
FROM listings AS l
WHERE l.id = t.listing_id;
DROP INDEX listing_tags_tag;
CREATE INDEX listing_tags_match ON listing_tags
    (tag, kind, status, listing_id, org_id, industry, region, category, trial_available, expires_at);

-- Document frequencies for the matching weights: how many published listings carry each
-- tag. The row with the empty tag (never a valid tag) holds the number of published
-- listings. Kept in step in the same transaction as listing_tags.
CREATE TABLE tag_stats (
    tag TEXT PRIMARY KEY NOT NULL,
    published BIGINT NOT NULL
);
INSERT INTO tag_stats (tag, published)
SELECT tag, COUNT(*) FROM listing_tags WHERE status = 'published' GROUP BY tag;
INSERT INTO tag_stats (tag, published)
SELECT '', COUNT(*) FROM listings WHERE status = 'published';

-- Suspended organisations are found through a full index on status instead of the partial
-- index `orgs_suspended`: the SQLite build plans statements without looking at bound values
-- (see .cargo/config.toml), so it cannot tell that `status = $1` fits a partial index.
DROP INDEX orgs_suspended;
CREATE INDEX orgs_status ON orgs (status, id);

-- A counter bumped in the same transaction as every change that can alter the public
-- catalogue (listing writes, organisation suspensions). Each API instance compares it with
-- the version its cached search results were computed at, so a cached result is never
-- served once the catalogue has changed, whichever instance changed it.
CREATE TABLE catalogue_state (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO catalogue_state (id, version) VALUES (1, 1);
