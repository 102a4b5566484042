-- Listings, their public tags, reports and the moderation log.

CREATE TABLE listings (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('offer', 'need')),
    category TEXT NOT NULL CHECK (category IN ('expertise', 'resource')),
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    tags TEXT NOT NULL,
    industry TEXT NOT NULL,
    region TEXT,
    trial_available BOOLEAN NOT NULL DEFAULT FALSE,
    expires_at TIMESTAMP,
    status TEXT NOT NULL CHECK (status IN ('draft', 'pending_review', 'published', 'rejected', 'archived', 'removed')),
    removed_from TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    moderation_reason TEXT,
    pending_title TEXT,
    pending_description TEXT,
    pending_tags TEXT,
    submitted_at TIMESTAMP,
    published_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    search_title TEXT NOT NULL DEFAULT '',
    search_tags TEXT NOT NULL DEFAULT '',
    search_body TEXT NOT NULL DEFAULT ''
);
CREATE INDEX listings_org_id ON listings (org_id, id);
CREATE INDEX listings_status ON listings (status, id);
CREATE INDEX listings_review ON listings (submitted_at, id) WHERE status = 'pending_review' OR pending_title IS NOT NULL;

-- The approved (public) tags of each listing, for tag filters and matching.
CREATE TABLE listing_tags (
    listing_id TEXT NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (listing_id, tag)
);
CREATE INDEX listing_tags_tag ON listing_tags (tag, listing_id);

CREATE TABLE reports (
    id TEXT PRIMARY KEY NOT NULL,
    reporter_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    target_type TEXT NOT NULL CHECK (target_type IN ('listing', 'org', 'user', 'agreement')),
    target_id TEXT NOT NULL,
    reason TEXT NOT NULL CHECK (reason IN ('spam', 'misleading', 'manipulation', 'inappropriate', 'other')),
    details TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    resolution TEXT CHECK (resolution IN ('dismiss', 'remove_listing', 'suspend_org', 'suspend_user')),
    resolution_note TEXT,
    resolved_by TEXT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP
);
CREATE UNIQUE INDEX reports_one_open ON reports (reporter_id, target_type, target_id) WHERE status = 'open';
CREATE INDEX reports_status ON reports (status, id);

-- Every moderator and admin action; `public` entries appear in GET /modlog (without actor).
CREATE TABLE modlog (
    id TEXT PRIMARY KEY NOT NULL,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    reason TEXT,
    actor_id TEXT NOT NULL REFERENCES users (id),
    public BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX modlog_public ON modlog (public, id);

-- Full-text index over the folded public text (see src/search.rs): diacritics removed,
-- case folded, ß written ss. Kept in step by the application.
CREATE VIRTUAL TABLE listings_fts USING fts5(
    listing_id UNINDEXED,
    title,
    tags,
    body,
    tokenize = 'unicode61 remove_diacritics 2'
);
